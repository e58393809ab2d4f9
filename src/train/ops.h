// Forward/backward pairs of the small ops every module is built from (fp32, CPU).
//
// Conventions (llm.c style): outputs first, then inputs, then sizes. Parameter gradients
// ACCUMULATE (+=) so that micro-batches and shared weights (tied head, MTP) just add up;
// activation gradients OVERWRITE (=) unless a function says otherwise. N is the number of
// token rows (batch * sequence length).
#pragma once

#include <cstdint>

namespace gorae::train {

// out (N, O) = in (N, I) @ w^T,  w (O, I) as stored in the checkpoint.
void LinearForward(float* out, const float* in, const float* w, int64_t N, int64_t O, int64_t I);
// d_in (N, I) = d_out @ w  (or += when accumulate_d_in);  d_w (O, I) += d_out^T @ in.
// d_in may be nullptr (input needs no gradient).
void LinearBackward(float* d_in, float* d_w, const float* d_out, const float* in, const float* w, int64_t N,
                    int64_t O, int64_t I, bool accumulate_d_in = false);

// C (M, N) = alpha * A^T @ B + beta * C for A stored (K, M) with leading dimension lda, B (K, N)
// with ldb. The product the backward passes need for weight gradients (cblas with A transposed).
void GemmTN(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
            int64_t n, int64_t k, float alpha, float beta);

// y (N, D) = x / rms(x) * w;  rstd (N) saved = 1 / sqrt(mean(x^2) + eps). Same arithmetic as the
// inference kernel (double sum of squares), so the training forward equals Model::Forward.
void RmsNormForward(float* y, float* rstd, const float* x, const float* w, int64_t N, int64_t D, float eps);
// d_x (N, D) = (or += when accumulate) dRMSNorm/dx^T d_y;  d_w (D) += sum_n d_y * x * rstd.
void RmsNormBackward(float* d_x, float* d_w, const float* d_y, const float* x, const float* w, const float* rstd,
                     int64_t N, int64_t D, bool accumulate_d_x = false);

// a (n) = silu(g) * u  (SwiGLU).
void SwiGluForward(float* a, const float* g, const float* u, int64_t n);
// d_g, d_u (n) = gradients of a = silu(g) * u.
void SwiGluBackward(float* d_g, float* d_u, const float* d_a, const float* g, const float* u, int64_t n);

// Rotates the rope part of rows in place, pairs (x[2i], x[2i+1]) by the angle of their position:
// x (rows, stride) with `dim` rope values at column `offset` of each row; rows are sequences of
// T positions, so row r is at position r % T of cos/sin (T, dim / 2). transpose=true applies the
// transposed rotation: the backward of the forward one (cos/sin carry YaRN's mscale, so it is
// not the inverse).
void RopeRows(float* x, int64_t rows, int64_t stride, int64_t offset, int64_t dim, int64_t T, const float* cos,
              const float* sin, bool transpose);

// Cross-entropy of logits (N, V) against targets (N) with a loss weight per row (0 = masked):
// returns sum_n weight[n] * (logsumexp(logits[n]) - logits[n][target[n]]). Overwrites logits
// with d(returned sum * scale)/d logits = scale * weight * (softmax - onehot) when `grad`.
double CrossEntropy(float* logits, const int* targets, const float* weight, int64_t N, int64_t V, float scale,
                    bool grad);

// out (n) += in (n)
void Accumulate(float* out, const float* in, int64_t n);

}  // namespace gorae::train
