// Matrix products. Every linear layer of the model goes through Linear().
#pragma once

#include <cstdint>
#include <span>

#include "tensor/matrix.h"

namespace gorae {

// out (T, w.rows) = in (T, w.cols) @ w^T, for any stored dtype of w.
//
// fp32 weights go straight to BLAS sgemm. Other dtypes: for a few rows (decode) a fused
// dequantize-and-dot kernel reads each weight once, which is what bounds decode speed; for many
// rows (prefill) the weight is decoded to fp32 in panels and each panel goes to sgemm.
void Linear(float* out, const float* in, int64_t T, const Matrix& w);

// outs[i] (T, ws[i]->rows) = in (T, cols) @ ws[i]^T for matrices that read the same input (q/k/v,
// gate/up). When all of them are block-quantized they go to QuantLinearMany (the input quantized
// once, one OpenMP region); otherwise each goes through Linear. Either way every output equals
// Linear's for that matrix alone.
void LinearMany(std::span<float* const> outs, const float* in, int64_t T, std::span<const Matrix* const> ws);

// C (M, N) = alpha * A (M, K) @ op(B) + beta * C, row major; op(B) = B^T when b_transposed
// (B stored (N, K)), else B (K, N). Thin wrapper over cblas_sgemm.
void Sgemm(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k,
           bool b_transposed, float alpha = 1.0f, float beta = 0.0f);

// Sgemm with explicit leading dimensions, for operating on column slices (one head of many).
void SgemmStrided(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
                  int64_t m, int64_t n, int64_t k, bool b_transposed, float alpha = 1.0f,
                  float beta = 0.0f);

}  // namespace gorae
