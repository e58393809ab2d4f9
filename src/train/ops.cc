#include "train/ops.h"

#include <cblas.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace gorae::train {

void LinearForward(float* out, const float* in, const float* w, int64_t N, int64_t O, int64_t I) {
  if (N == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(N), static_cast<int>(O), static_cast<int>(I),
              1.0f, in, static_cast<int>(I), w, static_cast<int>(I), 0.0f, out, static_cast<int>(O));
}

void GemmTN(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m, int64_t n,
            int64_t k, float alpha, float beta) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

void LinearBackward(float* d_in, float* d_w, const float* d_out, const float* in, const float* w, int64_t N,
                    int64_t O, int64_t I, bool accumulate_d_in) {
  if (N == 0) {
    if (d_in != nullptr && !accumulate_d_in) return;  // nothing to write: zero rows
    return;
  }
  if (d_in != nullptr) {
    // (N, O) @ (O, I)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(N), static_cast<int>(I),
                static_cast<int>(O), 1.0f, d_out, static_cast<int>(O), w, static_cast<int>(I),
                accumulate_d_in ? 1.0f : 0.0f, d_in, static_cast<int>(I));
  }
  // (O, N) @ (N, I), accumulated into d_w
  GemmTN(d_w, I, d_out, O, in, I, O, I, N, 1.0f, 1.0f);
}

void RmsNormForward(float* y, float* rstd, const float* x, const float* w, int64_t N, int64_t D, float eps) {
#pragma omp parallel for schedule(static) if (N > 1)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    float* yr = y + n * D;
    double ss = 0.0;
    for (int64_t i = 0; i < D; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(D) + eps));
    rstd[n] = r;
    for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] * r * w[i];
  }
}

void RmsNormBackward(float* d_x, float* d_w, const float* d_y, const float* x, const float* w, const float* rstd,
                     int64_t N, int64_t D, bool accumulate_d_x) {
  // y_i = x_i r w_i with r = (mean(x^2) + eps)^-1/2:  dx_i = r g_i - r^3 x_i (g . x) / D, g = dy * w.
#pragma omp parallel for schedule(static) if (N > 1)
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * D;
    const float* dy = d_y + n * D;
    float* dx = d_x + n * D;
    const float r = rstd[n];
    double dot = 0.0;
    for (int64_t i = 0; i < D; ++i) dot += static_cast<double>(dy[i]) * w[i] * xr[i];
    const float k = static_cast<float>(dot) * r * r * r / static_cast<float>(D);
    if (accumulate_d_x) {
      for (int64_t i = 0; i < D; ++i) dx[i] += r * dy[i] * w[i] - k * xr[i];
    } else {
      for (int64_t i = 0; i < D; ++i) dx[i] = r * dy[i] * w[i] - k * xr[i];
    }
  }
  // The weight gradient reduces over rows: columns in parallel keep it race-free and ordered.
#pragma omp parallel for schedule(static) if (D >= 64)
  for (int64_t i = 0; i < D; ++i) {
    double s = 0.0;
    for (int64_t n = 0; n < N; ++n) s += static_cast<double>(d_y[n * D + i]) * x[n * D + i] * rstd[n];
    d_w[i] += static_cast<float>(s);
  }
}

void SwiGluForward(float* a, const float* g, const float* u, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) a[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void SwiGluBackward(float* d_g, float* d_u, const float* d_a, const float* g, const float* u, int64_t n) {
  // silu(g) = g s, s = sigmoid(g);  silu'(g) = s (1 + g (1 - s)).
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-g[i]));
    const float silu = g[i] * s;
    const float da = d_a[i];
    d_u[i] = da * silu;
    d_g[i] = da * u[i] * s * (1.0f + g[i] * (1.0f - s));
  }
}

void RopeRows(float* x, int64_t rows, int64_t stride, int64_t offset, int64_t dim, int64_t T, const float* cos,
              const float* sin, bool transpose) {
  const int64_t half = dim / 2;
  const float sign = transpose ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x + r * stride + offset;
    const float* c = cos + (r % T) * half;
    const float* s = sin + (r % T) * half;
    for (int64_t i = 0; i < half; ++i) {
      const float a = v[2 * i], b = v[2 * i + 1];
      const float si = sign * s[i];
      v[2 * i] = a * c[i] - b * si;
      v[2 * i + 1] = a * si + b * c[i];
    }
  }
}

double CrossEntropy(float* logits, const int* targets, const float* weight, int64_t N, int64_t V, float scale,
                    bool grad) {
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total)
  for (int64_t n = 0; n < N; ++n) {
    float* row = logits + n * V;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t v = 0; v < V; ++v) mx = std::max(mx, row[v]);
    double sum = 0.0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - mx));
    const double lse = std::log(sum) + mx;
    const float wn = weight[n];
    if (wn != 0.0f) total += wn * (lse - row[targets[n]]);
    if (grad) {
      const float k = scale * wn;
      for (int64_t v = 0; v < V; ++v) row[v] = k * static_cast<float>(std::exp(row[v] - lse));
      row[targets[n]] -= k;
    }
  }
  return total;
}

void Accumulate(float* out, const float* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += in[i];
}

}  // namespace gorae::train
