#include "kernels/cpu/elementwise.h"

#include <cmath>
#include <limits>

namespace gorae {

void RmsNorm(float* out, const float* in, const float* weight, int64_t T, int64_t D, float eps) {
#pragma omp parallel for schedule(static) if (T > 1)
  for (int64_t t = 0; t < T; ++t) {
    const float* x = in + t * D;
    float* y = out + t * D;
    double ss = 0.0;  // double: the sum of squares of a few thousand values loses bits in fp32
    for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(D) + eps));
    for (int64_t i = 0; i < D; ++i) y[i] = x[i] * inv * weight[i];
  }
}

void SiluMul(float* out, const float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void SoftmaxInPlace(float* x, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void AddScaled(float* out, const float* in, float scale, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += scale * in[i];
}

}  // namespace gorae
