// Run-time choice of the SIMD level, QuantDot and QuantLinear.
#include "kernels/cpu/quant_dot.h"

#include <algorithm>
#include <atomic>

#include <omp.h>

#include "core/check.h"
#include "kernels/cpu/quant_dot_kernels.h"

namespace gorae {

namespace {

bool CpuHas(QuantSimd s) {
#if defined(__x86_64__)
  switch (s) {
    case QuantSimd::kScalar: return true;
    case QuantSimd::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case QuantSimd::kAvx512:
      return CpuHas(QuantSimd::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return s == QuantSimd::kScalar;
#endif
}

std::atomic<int>& CurrentLevel() {
  static std::atomic<int> level{static_cast<int>(DetectQuantSimd())};
  return level;
}

quant_internal::DotFn LevelKernel(QuantSimd s, GgmlType t) {
  switch (s) {
    case QuantSimd::kAvx512: return quant_internal::Avx512DotKernel(t);
    case QuantSimd::kAvx2: return quant_internal::Avx2DotKernel(t);
    case QuantSimd::kScalar: return quant_internal::ScalarDotKernel(t);
  }
  return nullptr;
}

// The kernel for t at the current level, else the scalar one.
quant_internal::DotFn Kernel(GgmlType t) {
  quant_internal::DotFn f = LevelKernel(GetQuantSimd(), t);
  if (f == nullptr) f = quant_internal::ScalarDotKernel(t);
  GORAE_CHECK(f != nullptr, "no dot kernel for {}", GgmlTypeName(t));
  return f;
}

// The tiled kernel for t at the current level; fn is nullptr where there is none (then
// QuantLinear loops over Kernel(t)).
quant_internal::Gemm GemmKernel(GgmlType t) {
  switch (GetQuantSimd()) {
    case QuantSimd::kAvx512: return quant_internal::Avx512GemmKernel(t);
    case QuantSimd::kAvx2: return quant_internal::Avx2GemmKernel(t);
    case QuantSimd::kScalar: return {};
  }
  return {};
}

// Weight bytes per slice of rows that one thread takes at a time in a prefill product: the slice
// stays in L2 (1 MiB per core here, shared with the activation tile) while every tile of input
// rows passes over it, so the weights stream from memory once per product.
constexpr size_t kSliceBytes = 128 * 1024;

}  // namespace

const char* QuantSimdName(QuantSimd s) {
  switch (s) {
    case QuantSimd::kScalar: return "scalar";
    case QuantSimd::kAvx2: return "avx2";
    case QuantSimd::kAvx512: return "avx512vnni";
  }
  return "?";
}

QuantSimd DetectQuantSimd() {
  for (QuantSimd s : {QuantSimd::kAvx512, QuantSimd::kAvx2}) {
    if (CpuHas(s)) return s;
  }
  return QuantSimd::kScalar;
}

Status SetQuantSimd(QuantSimd s) {
  if (!CpuHas(s)) return Unsupported("this CPU cannot run the {} quantized kernels", QuantSimdName(s));
  CurrentLevel().store(static_cast<int>(s));
  return Status::Ok();
}

QuantSimd GetQuantSimd() { return static_cast<QuantSimd>(CurrentLevel().load(std::memory_order_relaxed)); }

bool HasSimdKernel(QuantSimd s, GgmlType t) { return LevelKernel(s, t) != nullptr; }

float QuantDot(GgmlType t, const void* w_row, const QuantActivation& act, int64_t n) {
  return Kernel(t)(w_row, act.data(), n);
}

std::vector<uint8_t> QuantizeMatrix(GgmlType t, const float* src, int64_t rows, int64_t cols) {
  const size_t row_bytes = GgmlRowBytes(t, cols);
  std::vector<uint8_t> out(row_bytes * static_cast<size_t>(rows));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) QuantizeRow(t, src + r * cols, out.data() + r * row_bytes, cols);
  return out;
}

void QuantLinear(float* out, const float* in, int64_t T, const QuantMatrix& w) {
  if (T <= 0 || w.rows == 0) return;
  const GgmlTypeInfo info = GetGgmlTypeInfo(w.type);
  GORAE_CHECK(info.computable && w.cols % info.block_elems == 0, "QuantLinear on {} with {} columns",
              GgmlTypeName(w.type), w.cols);
  const quant_internal::DotFn dot = Kernel(w.type);
  const quant_internal::Gemm gemm = GemmKernel(w.type);
  if (T == 1 && !gemm.single) {  // decode: one activation, the row kernel streams the weights
    QuantActivation act;
    act.Quantize(w.type, in, w.cols);
    const void* a = act.data();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < w.rows; ++r) out[r] = dot(w.row(r), a, w.cols);
    return;
  }
  const bool f32_act = ActFormatFor(w.type) == ActFormat::kF32;
  const size_t act_bytes = f32_act ? static_cast<size_t>(w.cols) * sizeof(float) : ActivationRowBytes(w.type, w.cols);
  // One buffer per calling thread, kept between calls: a prefill calls this 7 times per layer
  // with up to a few MB of activations, and fresh allocations would fault their pages in each time.
  thread_local std::vector<uint8_t> act_buf;
  if (!f32_act && act_buf.size() < act_bytes * static_cast<size_t>(T)) act_buf.resize(act_bytes * static_cast<size_t>(T));
  const uint8_t* act = f32_act ? reinterpret_cast<const uint8_t*>(in) : act_buf.data();
  uint8_t* act_out = act_buf.data();
  const size_t row_bytes = w.row_bytes();
  // Slices: at most kSliceBytes of weights, and at least 4 per thread so a thread slowed by other
  // work on the machine does not hold up the others (dynamic schedule).
  const int64_t threads = omp_get_max_threads();
  int64_t slice_rows = std::max<int64_t>(1, static_cast<int64_t>(kSliceBytes / row_bytes));
  slice_rows = std::min(slice_rows, std::max<int64_t>(1, (w.rows + 4 * threads - 1) / (4 * threads)));
  const int64_t slices = (w.rows + slice_rows - 1) / slice_rows;
  // One parallel region: the input rows are quantized by all threads, then the slices.
#pragma omp parallel
  {
    if (!f32_act) {
#pragma omp for schedule(static)
      for (int64_t t = 0; t < T; ++t) {
        uint8_t* a = act_out + t * act_bytes;
        if (gemm.fn != nullptr && gemm.quant != nullptr) {
          gemm.quant(in + t * w.cols, w.cols, a);
        } else {
          QuantizeActivationRow(w.type, in + t * w.cols, w.cols, a);
        }
      }
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t s = 0; s < slices; ++s) {
      const int64_t r0 = s * slice_rows;
      const int64_t nr = std::min(slice_rows, w.rows - r0);
      if (gemm.fn != nullptr) {
        gemm.fn(w.row(r0), row_bytes, nr, act, act_bytes, T, w.cols, out + r0, w.rows);
      } else {
        for (int64_t r = r0; r < r0 + nr; ++r) {
          const uint8_t* row = w.row(r);
          for (int64_t t = 0; t < T; ++t) out[t * w.rows + r] = dot(row, act + t * act_bytes, w.cols);
        }
      }
    }
  }
}

}  // namespace gorae
