// Run-time choice of the SIMD level, QuantDot and QuantLinear.
#include "kernels/cpu/quant_dot.h"

#include <algorithm>
#include <atomic>

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
  std::vector<QuantActivation> acts(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) acts[t].Quantize(w.type, in + t * w.cols, w.cols);
  std::vector<const void*> act_data(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) act_data[t] = acts[t].data();
  // Rows in chunks so each thread streams a contiguous slice of the weights; for T > 1 every
  // input row is dotted with a weight row while it is still in cache.
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* row = w.row(r);
    for (int64_t t = 0; t < T; ++t) out[t * w.rows + r] = dot(row, act_data[t], w.cols);
  }
}

}  // namespace gorae
