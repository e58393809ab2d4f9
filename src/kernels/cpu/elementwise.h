// Row-wise and elementwise ops of the forward pass (fp32).
#pragma once

#include <cstdint>

namespace gorae {

// out (T, D) = in (T, D) / rms(in row) * weight (D). out may alias in.
void RmsNorm(float* out, const float* in, const float* weight, int64_t T, int64_t D, float eps);

// out (n) = silu(gate) * up. out may alias gate.
void SiluMul(float* out, const float* gate, const float* up, int64_t n);

// In-place softmax over x (n); entries equal to -inf get probability 0.
void SoftmaxInPlace(float* x, int64_t n);

// out (n) += scale * in (n)
void AddScaled(float* out, const float* in, float scale, int64_t n);

}  // namespace gorae
