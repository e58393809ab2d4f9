#include "kernels/cpu/matmul.h"

#include "kernels/cpu/quant_dot.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

namespace gorae {

namespace {

// Up to this many input rows, the fused dequantize-dot path beats panel decoding + sgemm.
constexpr int64_t kFusedMaxRows = 4;
// Rows of the weight decoded per panel on the sgemm path: bounds scratch memory.
constexpr int64_t kPanelRows = 1024;

// Dot products of T input rows with one stored weight row of dtype D, decoded on the fly.
template <DType D>
inline void DotRow(float* out, int64_t out_stride, const float* in, int64_t T, const Matrix& w,
                   int64_t r) {
  const int64_t K = w.cols;
  float acc[kFusedMaxRows] = {};
  float decoded[256];
  const auto* row = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * K * DTypeSize(D);
  const float* scales =
      D == DType::kF8E4M3 ? w.scale_inv + (r / kFp8Block) * w.scale_cols() : nullptr;
  for (int64_t c0 = 0; c0 < K; c0 += 256) {
    const int64_t n = std::min<int64_t>(256, K - c0);
    ConvertToF32(D, row + c0 * DTypeSize(D), decoded, n);
    if constexpr (D == DType::kF8E4M3) {
      // 256 columns span two scale blocks at most (c0 is a multiple of 128).
      for (int64_t c = 0; c < n; ++c) decoded[c] *= scales[(c0 + c) / kFp8Block];
    }
    for (int64_t t = 0; t < T; ++t) {
      const float* x = in + t * K + c0;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < n; ++c) s += decoded[c] * x[c];
      acc[t] += s;
    }
  }
  for (int64_t t = 0; t < T; ++t) out[t * out_stride + r] = acc[t];
}

template <DType D>
void FusedLinear(float* out, const float* in, int64_t T, const Matrix& w) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.rows; ++r) DotRow<D>(out, w.rows, in, T, w, r);
}

void PanelLinear(float* out, const float* in, int64_t T, const Matrix& w) {
  const int64_t panel = std::min(kPanelRows, w.rows);
  std::vector<float> scratch(static_cast<size_t>(panel * w.cols));
  for (int64_t r0 = 0; r0 < w.rows; r0 += panel) {
    const int64_t n = std::min(panel, w.rows - r0);
#pragma omp parallel for schedule(static)
    for (int64_t r = r0; r < r0 + n; ++r) DequantizeRows(w, r, r + 1, scratch.data() + (r - r0) * w.cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), static_cast<int>(n),
                static_cast<int>(w.cols), 1.0f, in, static_cast<int>(w.cols), scratch.data(),
                static_cast<int>(w.cols), 0.0f, out + r0, static_cast<int>(w.rows));
  }
}

}  // namespace

void SgemmStrided(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
                  int64_t m, int64_t n, int64_t k, bool b_transposed, float alpha, float beta) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

void Sgemm(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k,
           bool b_transposed, float alpha, float beta) {
  SgemmStrided(c, n, a, k, b, b_transposed ? k : n, m, n, k, b_transposed, alpha, beta);
}

void Linear(float* out, const float* in, int64_t T, const Matrix& w) {
  if (T <= 0 || w.rows == 0) return;
  if (w.is_quantized()) {
    // Integer dot products on the blocks in place; each weight row is read once for all T rows.
    QuantLinear(out, in, T, w.AsQuant());
    return;
  }
  if (w.dtype == DType::kF32) {
    Sgemm(out, in, static_cast<const float*>(w.data), T, w.rows, w.cols, /*b_transposed=*/true);
    return;
  }
  if (T > kFusedMaxRows) {
    PanelLinear(out, in, T, w);
    return;
  }
  switch (w.dtype) {
    case DType::kBF16: FusedLinear<DType::kBF16>(out, in, T, w); return;
    case DType::kF16: FusedLinear<DType::kF16>(out, in, T, w); return;
    case DType::kF8E4M3: FusedLinear<DType::kF8E4M3>(out, in, T, w); return;
    case DType::kF32: return;  // handled above
  }
}

void LinearMany(std::span<float* const> outs, const float* in, int64_t T, std::span<const Matrix* const> ws) {
  constexpr size_t kMax = 8;
  bool all_quantized = ws.size() <= kMax;
  for (const Matrix* w : ws) all_quantized = all_quantized && w->is_quantized();
  if (!all_quantized) {
    for (size_t i = 0; i < ws.size(); ++i) Linear(outs[i], in, T, *ws[i]);
    return;
  }
  QuantMatrix q[kMax];
  for (size_t i = 0; i < ws.size(); ++i) q[i] = ws[i]->AsQuant();
  QuantLinearMany(outs, in, T, std::span<const QuantMatrix>(q, ws.size()));
}

}  // namespace gorae
