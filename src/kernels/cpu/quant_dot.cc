// Run-time choice of the SIMD level, QuantDot and QuantLinear.
#include "kernels/cpu/quant_dot.h"

#include <algorithm>
#include <atomic>
#include <span>

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

// The tiled kernel for t in `layout` at the current level; fn is nullptr where there is none (then
// QuantLinear loops over Kernel(t), which reads kGgml only).
quant_internal::Gemm GemmKernel(GgmlType t, QuantLayout layout) {
  switch (GetQuantSimd()) {
    case QuantSimd::kAvx512: return quant_internal::Avx512GemmKernel(t, layout);
    case QuantSimd::kAvx2: return quant_internal::Avx2GemmKernel(t, layout);
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

QuantLayout FastestLayout(GgmlType t) {
  const bool lane = GemmKernel(t, QuantLayout::kLaneInterleaved).fn != nullptr;
  return lane ? QuantLayout::kLaneInterleaved : QuantLayout::kGgml;
}

void RepackLaneInterleaved(GgmlType t, const void* src, void* dst, int64_t rows, int64_t cols) {
  // The conversion itself only needs AVX2 (InterleaveLanes); it lives with the one level that reads
  // the result.
  const quant_internal::RepackFn repack = CpuHas(QuantSimd::kAvx512) ? quant_internal::Avx512RepackKernel(t) : nullptr;
  GORAE_CHECK(repack != nullptr && cols % kQKK == 0, "RepackLaneInterleaved: {} with {} columns on a CPU {} AVX-512 VNNI",
              GgmlTypeName(t), cols, CpuHas(QuantSimd::kAvx512) ? "with" : "without");
  const size_t row_bytes = GgmlRowBytes(t, cols);
  const auto* from = static_cast<const uint8_t*>(src);
  auto* to = static_cast<uint8_t*>(dst);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) repack(from + r * row_bytes, to + r * row_bytes, cols / kQKK);
}

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

namespace {

// One matrix of a QuantLinearMany call: its kernels, the activation layout it reads and how its
// rows are cut into slices.
struct LinearJob {
  QuantMatrix w;
  float* out = nullptr;
  quant_internal::DotFn dot = nullptr;
  quant_internal::GemmFn gemm = nullptr;  // nullptr: loop over dot
  int layout = 0;                         // index into the call's activation layouts
  int64_t slice_rows = 0;
  int64_t first_slice = 0;                // index of its first slice in the shared loop
};

// An activation layout: the matrices whose kernels read the same bytes share one quantized copy
// of the input (q, k and v of a Q4_K_M file are Q4_K and Q6_K, both reading lane-interleaved Q8_K).
struct ActLayout {
  ActFormat format = ActFormat::kF32;
  quant_internal::ActQuantFn quant = nullptr;  // nullptr: QuantizeActivationRow(type, ...)
  GgmlType type = GgmlType::kF32;              // a type that reads this layout (for the reference quantizer)
  size_t row_bytes = 0;                        // one input row in this layout (the fp32 row for kF32)
  size_t offset = 0;                           // where its T rows start in the call's buffer
};

// The longest call is q/k/v (3 matrices); gate/up is 2.
constexpr size_t kMaxJobs = 8;

}  // namespace

void QuantLinear(float* out, const float* in, int64_t T, const QuantMatrix& w) {
  QuantLinearMany(std::span<float* const>(&out, 1), in, T, std::span<const QuantMatrix>(&w, 1));
}

void QuantLinearMany(std::span<float* const> outs, const float* in, int64_t T, std::span<const QuantMatrix> ws) {
  GORAE_CHECK(outs.size() == ws.size() && ws.size() <= kMaxJobs, "QuantLinearMany: {} outputs for {} matrices",
              outs.size(), ws.size());
  if (T <= 0 || ws.empty()) return;
  const int64_t cols = ws[0].cols;
  LinearJob jobs[kMaxJobs];
  ActLayout layouts[kMaxJobs];
  int n_jobs = 0, n_layouts = 0;
  int64_t total_rows = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    const QuantMatrix& w = ws[i];
    const GgmlTypeInfo info = GetGgmlTypeInfo(w.type);
    GORAE_CHECK(info.computable && w.cols % info.block_elems == 0, "QuantLinear on {} with {} columns",
                GgmlTypeName(w.type), w.cols);
    GORAE_CHECK(w.cols == cols, "QuantLinearMany: matrices of {} and {} columns share one input", cols, w.cols);
    if (w.rows == 0) continue;
    LinearJob& j = jobs[n_jobs++];
    j.w = w;
    j.out = outs[i];
    const quant_internal::Gemm gemm = GemmKernel(w.type, w.layout);
    const bool ggml = w.layout == QuantLayout::kGgml;
    // A repacked matrix is readable by one level's tiles only (the row kernels read kGgml).
    GORAE_CHECK(ggml || gemm.fn != nullptr, "QuantLinear: {} matrix in the lane-interleaved layout at level {}, which cannot read it",
                GgmlTypeName(w.type), QuantSimdName(GetQuantSimd()));
    j.dot = ggml ? Kernel(w.type) : nullptr;
    // With one input row the tile only pays where it is also the faster row kernel (gemm.single).
    const bool use_gemm = gemm.fn != nullptr && (T > 1 || gemm.single || !ggml);
    j.gemm = use_gemm ? gemm.fn : nullptr;
    ActLayout want;
    want.format = ActFormatFor(w.type);
    want.quant = use_gemm ? gemm.quant : nullptr;
    want.type = w.type;
    want.row_bytes = want.format == ActFormat::kF32 ? static_cast<size_t>(cols) * sizeof(float)
                                                   : ActivationRowBytes(w.type, cols);
    int l = 0;
    while (l < n_layouts && !(layouts[l].format == want.format && layouts[l].quant == want.quant)) ++l;
    if (l == n_layouts) layouts[n_layouts++] = want;
    j.layout = l;
    total_rows += w.rows;
  }
  if (n_jobs == 0) return;

  // One buffer per calling thread, kept between calls: a prefill calls this per layer with up to a
  // few MB of activations, and fresh allocations would fault their pages in each time; a decode
  // would allocate per matrix per token.
  thread_local std::vector<uint8_t> act_buf;
  size_t bytes = 0;
  for (int l = 0; l < n_layouts; ++l) {
    layouts[l].offset = bytes;
    if (layouts[l].format != ActFormat::kF32) bytes += layouts[l].row_bytes * static_cast<size_t>(T);
  }
  if (act_buf.size() < bytes) act_buf.resize(bytes);
  uint8_t* buf = act_buf.data();

  // Slices: at most kSliceBytes of weights, and at least 4 per thread over all the matrices so a
  // thread slowed by other work on the machine does not hold up the others (dynamic schedule).
  const int64_t threads = omp_get_max_threads();
  const int64_t fair_rows = std::max<int64_t>(1, (total_rows + 4 * threads - 1) / (4 * threads));
  int64_t slices = 0;
  for (int i = 0; i < n_jobs; ++i) {
    LinearJob& j = jobs[i];
    j.slice_rows = std::min(std::max<int64_t>(1, static_cast<int64_t>(kSliceBytes / j.w.row_bytes())), fair_rows);
    j.first_slice = slices;
    slices += (j.w.rows + j.slice_rows - 1) / j.slice_rows;
  }
  const int64_t quant_rows = n_layouts * T;
  auto quantize = [&](int64_t q) {  // input row q % T in layout q / T
    const ActLayout& l = layouts[q / T];
    const int64_t t = q % T;
    if (l.format == ActFormat::kF32) return;
    uint8_t* a = buf + l.offset + static_cast<size_t>(t) * l.row_bytes;
    if (l.quant != nullptr) {
      l.quant(in + t * cols, cols, a);
    } else {
      QuantizeActivationRow(l.type, in + t * cols, cols, a);
    }
  };
  // Decode: a row or two take a microsecond or so, less than the barrier that would follow them
  // inside the region (and a barrier is where a thread preempted by other work makes the rest wait).
  const bool serial_quant = T == 1;
  if (serial_quant) {
    for (int64_t q = 0; q < quant_rows; ++q) quantize(q);
  }

  // One parallel region for all the matrices: the input rows are quantized (once per layout) by
  // all threads, then every matrix's slices go through one dynamic loop.
#pragma omp parallel
  {
    if (!serial_quant) {
#pragma omp for schedule(static)
      for (int64_t q = 0; q < quant_rows; ++q) quantize(q);
    }
    // nowait: the end of the region is the one barrier the slices need.
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t s = 0; s < slices; ++s) {
      int i = 0;
      while (i + 1 < n_jobs && jobs[i + 1].first_slice <= s) ++i;
      const LinearJob& j = jobs[i];
      const ActLayout& l = layouts[j.layout];
      const uint8_t* act = l.format == ActFormat::kF32 ? reinterpret_cast<const uint8_t*>(in) : buf + l.offset;
      const int64_t r0 = (s - j.first_slice) * j.slice_rows;
      const int64_t nr = std::min(j.slice_rows, j.w.rows - r0);
      const size_t row_bytes = j.w.row_bytes();
      if (j.gemm != nullptr) {
        j.gemm(j.w.row(r0), row_bytes, nr, act, l.row_bytes, T, cols, j.out + r0, j.w.rows);
      } else {
        for (int64_t r = r0; r < r0 + nr; ++r) {
          const uint8_t* row = j.w.row(r);
          for (int64_t t = 0; t < T; ++t) j.out[t * j.w.rows + r] = j.dot(row, act + t * l.row_bytes, cols);
        }
      }
    }
  }
}

}  // namespace gorae
