#include "kernels/cpu/attention.h"

#include <cmath>
#include <cstring>

#include "kernels/cpu/elementwise.h"

namespace gorae {

void AttendOne(float* out, const float* q, const float* k, int64_t k_stride, const float* v,
               int64_t v_stride, int64_t dk, int64_t dv, int64_t n, float scale, float* scratch) {
  for (int64_t s = 0; s < n; ++s) {
    const float* ks = k + s * k_stride;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < dk; ++i) dot += q[i] * ks[i];
    scratch[s] = dot * scale;
  }
  SoftmaxInPlace(scratch, n);
  std::memset(out, 0, static_cast<size_t>(dv) * sizeof(float));
  for (int64_t s = 0; s < n; ++s) {
    const float p = scratch[s];
    const float* vs = v + s * v_stride;
#pragma omp simd
    for (int64_t i = 0; i < dv; ++i) out[i] += p * vs[i];
  }
}

}  // namespace gorae
