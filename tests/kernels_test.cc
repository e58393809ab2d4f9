// CPU kernels against float64 loops: Linear for every dtype and both paths, RMSNorm, attention.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "tensor/matrix.h"

namespace gorae {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

struct StoredMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  Matrix m;
};

StoredMatrix Store(const std::vector<float>& w, int64_t rows, int64_t cols, DType t) {
  StoredMatrix s;
  s.bytes.resize(w.size() * DTypeSize(t));
  if (t == DType::kF8E4M3) {
    const int64_t sr = (rows + 127) / 128, sc = (cols + 127) / 128;
    s.scales.assign(sr * sc, 0.0f);
    for (int64_t i = 0; i < sr * sc; ++i) s.scales[i] = 0.001f * (1 + i);  // distinct per block
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = r * cols + c;
      switch (t) {
        case DType::kF32: std::memcpy(&s.bytes[i * 4], &w[i], 4); break;
        case DType::kBF16: { uint16_t h = F32ToBF16(w[i]); std::memcpy(&s.bytes[i * 2], &h, 2); break; }
        case DType::kF16: { uint16_t h = F32ToF16(w[i]); std::memcpy(&s.bytes[i * 2], &h, 2); break; }
        case DType::kF8E4M3:
          s.bytes[i] = F32ToF8E4M3(w[i] / s.scales[(r / 128) * ((cols + 127) / 128) + c / 128]);
          break;
      }
    }
  }
  s.m = Matrix{t, rows, cols, s.bytes.data(), s.scales.empty() ? nullptr : s.scales.data()};
  return s;
}

class LinearTest : public ::testing::TestWithParam<std::tuple<DType, int64_t>> {};

TEST_P(LinearTest, MatchesDequantizedFloat64Product) {
  const auto [dtype, T] = GetParam();
  const int64_t rows = 300, cols = 270;  // partial fp8 blocks; not multiples of the 256 chunk
  const StoredMatrix s = Store(Random(rows * cols, 1, 0.1f), rows, cols, dtype);
  std::vector<float> w(rows * cols);
  DequantizeRows(s.m, 0, rows, w.data());
  const auto x = Random(T * cols, 2);
  std::vector<float> y(T * rows);
  Linear(y.data(), x.data(), T, s.m);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double ref = 0;
      for (int64_t c = 0; c < cols; ++c) ref += static_cast<double>(x[t * cols + c]) * w[r * cols + c];
      ASSERT_NEAR(y[t * rows + r], ref, 1e-4) << "t " << t << " r " << r;
    }
  }
}

// T = 1 and 3 take the fused dequantize-dot path, 9 the panel + sgemm path.
INSTANTIATE_TEST_SUITE_P(AllDtypes, LinearTest,
                         ::testing::Combine(::testing::Values(DType::kF32, DType::kBF16, DType::kF16, DType::kF8E4M3),
                                            ::testing::Values(int64_t{1}, int64_t{3}, int64_t{9})),
                         [](const auto& info) {
                           return std::string(DTypeName(std::get<0>(info.param))) + "_T" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(RmsNorm, MatchesFloat64) {
  const int64_t T = 3, D = 37;
  const auto x = Random(T * D, 3, 5.0f), w = Random(D, 4);
  std::vector<float> y(T * D);
  RmsNorm(y.data(), x.data(), w.data(), T, D, 1e-6f);
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < D; ++i) ss += double(x[t * D + i]) * x[t * D + i];
    const double inv = 1.0 / std::sqrt(ss / D + 1e-6);
    for (int64_t i = 0; i < D; ++i) EXPECT_NEAR(y[t * D + i], x[t * D + i] * inv * w[i], 1e-5);
  }
}

TEST(Attention, MatchesFloat64Softmax) {
  const int64_t n = 13, dk = 20, dv = 9, stride = 40;
  const auto q = Random(dk, 5), k = Random(n * stride, 6), v = Random(n * stride, 7);
  std::vector<float> out(dv), scratch(n);
  AttendOne(out.data(), q.data(), k.data(), stride, v.data() + 3, stride, dk, dv, n, 0.7f, scratch.data());
  std::vector<double> p(n);
  double mx = -1e30, sum = 0;
  for (int64_t s = 0; s < n; ++s) {
    double d = 0;
    for (int64_t i = 0; i < dk; ++i) d += double(q[i]) * k[s * stride + i];
    p[s] = 0.7 * d;
    mx = std::max(mx, p[s]);
  }
  for (auto& x : p) sum += (x = std::exp(x - mx));
  for (int64_t i = 0; i < dv; ++i) {
    double ref = 0;
    for (int64_t s = 0; s < n; ++s) ref += p[s] / sum * v[s * stride + 3 + i];
    EXPECT_NEAR(out[i], ref, 1e-6);
  }
}

TEST(SiluMul, MatchesFormula) {
  const std::vector<float> g = {-3, -0.5, 0, 0.5, 4}, u = {1, 2, 3, 4, 5};
  std::vector<float> out(5);
  SiluMul(out.data(), g.data(), u.data(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(out[i], g[i] / (1 + std::exp(-double(g[i]))) * u[i], 1e-6);
}

}  // namespace
}  // namespace gorae
