// Quantized formats and kernels: hand-built blocks pin each layout, quantize/dequantize round
// trips stay within each type's error bound, and every SIMD dot kernel this CPU can run equals the
// reference (dequantize the weight and the quantized activation, dot in float64).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/quant_dot.h"
#include "kernels/cpu/quant_dot_kernels.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace gorae {
namespace {

const GgmlType kComputable[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,
                                GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                                GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kQ8_K};

std::vector<float> RandomRow(int64_t n, uint32_t seed, float offset = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  // Vary the magnitude per 32 values, as real weight rows do, so scales differ between blocks.
  for (int64_t i = 0; i < n; ++i) x[i] = offset + normal(rng) * (0.2f + (i / 32 % 7) * 0.3f);
  return x;
}

std::vector<QuantSimd> AvailableLevels() {
  std::vector<QuantSimd> levels = {QuantSimd::kScalar};
  for (QuantSimd s : {QuantSimd::kAvx2, QuantSimd::kAvx512}) {
    const QuantSimd saved = GetQuantSimd();
    if (SetQuantSimd(s).ok()) levels.push_back(s);
    EXPECT_TRUE(SetQuantSimd(saved).ok());
  }
  return levels;
}

// Restores the detected level when a test that forces one ends.
struct SimdGuard {
  ~SimdGuard() { EXPECT_TRUE(SetQuantSimd(DetectQuantSimd()).ok()); }
};

TEST(HalfToFloat, MatchesDtypeConversionOnAllBitPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = HalfToFloat(static_cast<uint16_t>(h)), b = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(a)) << h;
    } else {
      EXPECT_EQ(a, b) << h;
    }
  }
}

TEST(TypeTable, SizesMatchGgml) {
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ8_0, 64), 68u);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ4_K, 512), 288u);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ6_K, 256), 210u);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kBF16, 3), 6u);
  EXPECT_EQ(GetGgmlTypeInfo(4u).name, nullptr);   // retired id
  EXPECT_EQ(GetGgmlTypeInfo(99u).name, nullptr);  // never assigned
  EXPECT_FALSE(GetGgmlTypeInfo(GgmlType::kIQ2_XXS).computable);
}

// ---- hand-built blocks: the layout, value by value ----

TEST(Layout, Q8_0ScaleHalfKnownInts) {
  BlockQ8_0 b;
  b.d = F32ToF16(0.5f);
  for (int i = 0; i < 32; ++i) b.qs[i] = static_cast<int8_t>(i - 16);
  float y[32];
  DequantizeRow(GgmlType::kQ8_0, &b, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], 0.5f * (i - 16)) << i;
  // And the bytes: fp16 0.5 is 0x3800, little-endian first.
  uint8_t raw[34];
  std::memcpy(raw, &b, 34);
  EXPECT_EQ(raw[0], 0x00);
  EXPECT_EQ(raw[1], 0x38);
  EXPECT_EQ(static_cast<int8_t>(raw[2]), -16);
}

TEST(Layout, Q4_0LowNibblesFirstHalf) {
  BlockQ4_0 b;
  b.d = F32ToF16(2.0f);
  for (int i = 0; i < 16; ++i) b.qs[i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  float y[32];
  DequantizeRow(GgmlType::kQ4_0, &b, y, 32);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(y[i], 2.0f * (i - 8)) << i;
    EXPECT_EQ(y[i + 16], 2.0f * (15 - i - 8)) << i;
  }
}

TEST(Layout, Q5_0HighBitsFromQh) {
  BlockQ5_0 b;
  b.d = F32ToF16(1.0f);
  std::memset(b.qs, 0, 16);
  const uint32_t qh = 0x80000001u;  // values 0 and 31 get bit 4
  std::memcpy(b.qh, &qh, 4);
  float y[32];
  DequantizeRow(GgmlType::kQ5_0, &b, y, 32);
  EXPECT_EQ(y[0], 0.0f);     // 16 - 16
  EXPECT_EQ(y[1], -16.0f);   // 0 - 16
  EXPECT_EQ(y[31], 0.0f);
}

TEST(Layout, Q4_KScalesMinsAndChunks) {
  BlockQ4_K b;
  std::memset(&b, 0, sizeof(b));
  b.d = F32ToF16(1.0f);
  b.dmin = F32ToF16(0.25f);
  // Sub-block j: scale j+1, min 2j+1 (6-bit values, packed as in UnpackScaleMinK4). Sub-block 5
  // gets scale 40 and min 50 so the high bits of the packed scales are used too.
  uint8_t sc[8] = {1, 2, 3, 4, 5, 40, 7, 8}, mn[8] = {1, 3, 5, 7, 9, 50, 13, 15};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    UnpackScaleMinK4(b.scales, j, &s, &m);
    EXPECT_EQ(s, sc[j]);
    EXPECT_EQ(m, mn[j]);
  }
  b.qs[0] = 0x3A;       // value 0 = 10 (low nibble), value 32 = 3 (high nibble)
  b.qs[32 + 5] = 0xF1;  // value 64+5 = 1, value 96+5 = 15
  float y[256];
  DequantizeRow(GgmlType::kQ4_K, &b, y, 256);
  EXPECT_EQ(y[0], 1.0f * 10 - 0.25f * 1);
  EXPECT_EQ(y[32], 2.0f * 3 - 0.25f * 3);
  EXPECT_EQ(y[69], 3.0f * 1 - 0.25f * 5);
  EXPECT_EQ(y[101], 4.0f * 15 - 0.25f * 7);
  EXPECT_EQ(y[160], 40.0f * 0 - 0.25f * 50);
}

TEST(Layout, Q6_KHalvesAndHighBits) {
  BlockQ6_K b;
  std::memset(&b, 0, sizeof(b));
  b.d = F32ToF16(0.5f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
  b.ql[64 + 32 + 3] = 0x5C;  // half 1, k=1 low nibble 12 (value 128+32+3); k=3 high nibble 5 (128+96+3)
  b.qh[32 + 3] = 0b11'00'10'01;  // half 1, l=3: k=0 -> 1, k=1 -> 2, k=2 -> 0, k=3 -> 3
  float y[256];
  DequantizeRow(GgmlType::kQ6_K, &b, y, 256);
  EXPECT_EQ(y[128 + 3], 0.5f * ((128 + 3) / 16 - 8) * ((0 | 1 << 4) - 32));
  EXPECT_EQ(y[128 + 32 + 3], 0.5f * ((160 + 3) / 16 - 8) * ((12 | 2 << 4) - 32));
  EXPECT_EQ(y[128 + 64 + 3], 0.5f * ((192 + 3) / 16 - 8) * (0 - 32));
  EXPECT_EQ(y[128 + 96 + 3], 0.5f * ((224 + 3) / 16 - 8) * ((5 | 3 << 4) - 32));
  EXPECT_EQ(y[0], 0.5f * -8 * -32);
}

TEST(Layout, Q8_0QuantizeKnownValues) {
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = (i - 16) * 0.5f;  // amax 8 -> d = 8/127
  x[31] = -8.0f;
  BlockQ8_0 b;
  QuantizeRow(GgmlType::kQ8_0, x, &b, 32);
  EXPECT_EQ(b.d, F32ToF16(8.0f / 127));
  EXPECT_EQ(b.qs[31], -127);
  EXPECT_EQ(b.qs[16], 0);
  EXPECT_EQ(b.qs[0], -127);
  EXPECT_EQ(b.qs[17], static_cast<int8_t>(std::nearbyint(0.5f * 127 / 8)));
}

// ---- round trips ----

// Largest allowed |x - dequantize(quantize(x))| for value i of row x, from its block's data.
double ErrorBound(GgmlType t, const std::vector<float>& x, int64_t i) {
  const int64_t blk = GetGgmlTypeInfo(t).block_elems;
  const int64_t b0 = i / blk * blk;
  double amax = 0, lo = 0, hi = 0;
  for (int64_t j = b0; j < b0 + blk; ++j) {
    amax = std::max(amax, std::fabs(static_cast<double>(x[j])));
    lo = std::min(lo, static_cast<double>(x[j]));
    hi = std::max(hi, static_cast<double>(x[j]));
  }
  const double fp16 = 1.0 / 1024;  // relative error of an fp16 scale
  switch (t) {
    case GgmlType::kF32: return 0;
    case GgmlType::kF16: return std::fabs(x[i]) / 2048 + 6e-8;
    case GgmlType::kBF16: return std::fabs(x[i]) / 256;
    case GgmlType::kQ8_0: return amax * (0.5 / 127 + fp16);
    case GgmlType::kQ8_K: return amax * (0.5 / 127 + 1e-6);
    case GgmlType::kQ4_0: return amax * (1.0 / 8 + fp16);   // the side opposite the max clips
    case GgmlType::kQ5_0: return amax * (1.0 / 16 + fp16);
    case GgmlType::kQ4_1: return (hi - lo) * (0.5 / 15 + fp16) + amax * fp16;
    case GgmlType::kQ5_1: return (hi - lo) * (0.5 / 31 + fp16) + amax * fp16;
    // Sub-block steps are at most the super-block's (range + range/63) / levels, plus one d.
    case GgmlType::kQ4_K: return (hi - lo) * (1 + 2.0 / 63) * (0.5 / 15) * (1 + fp16);
    case GgmlType::kQ5_K: return (hi - lo) * (1 + 2.0 / 63) * (0.5 / 31) * (1 + fp16);
    case GgmlType::kQ6_K: return amax * (1 + 1.0 / 127) * (0.5 / 31) * (1 + fp16);
    default: return 0;
  }
}

TEST(RoundTrip, EveryTypeWithinItsBound) {
  const int64_t n = 1024;
  for (GgmlType t : kComputable) {
    for (float offset : {0.0f, 0.7f}) {  // offset: blocks that are mostly of one sign
      const std::vector<float> x = RandomRow(n, 7 + static_cast<uint32_t>(t), offset);
      std::vector<uint8_t> q(GgmlRowBytes(t, n));
      QuantizeRow(t, x.data(), q.data(), n);
      std::vector<float> y(n);
      DequantizeRow(t, q.data(), y.data(), n);
      double worst = 0, sq = 0, sx = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double err = std::fabs(static_cast<double>(x[i]) - y[i]);
        ASSERT_LE(err, ErrorBound(t, x, i) * 1.0001 + 1e-7)
            << GgmlTypeName(t) << " value " << i << ": " << x[i] << " -> " << y[i];
        worst = std::max(worst, err);
        sq += err * err;
        sx += static_cast<double>(x[i]) * x[i];
      }
      // More bits, smaller error: a bound on the relative RMS error that a broken packer
      // (e.g. nibbles swapped between sub-blocks) cannot meet.
      const double rel = std::sqrt(sq / sx);
      const double max_rel = t == GgmlType::kQ4_0 || t == GgmlType::kQ4_1 || t == GgmlType::kQ4_K ? 0.12
                             : t == GgmlType::kQ5_0 || t == GgmlType::kQ5_1 || t == GgmlType::kQ5_K ? 0.06
                             : t == GgmlType::kQ6_K ? 0.03 : 0.01;
      EXPECT_LT(rel, max_rel) << GgmlTypeName(t);
    }
  }
}

TEST(RoundTrip, ZeroBlocksStayZero) {
  std::vector<float> x(256, 0.0f);
  for (GgmlType t : kComputable) {
    std::vector<uint8_t> q(GgmlRowBytes(t, 256));
    QuantizeRow(t, x.data(), q.data(), 256);
    std::vector<float> y(256, 1.0f);
    DequantizeRow(t, q.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << GgmlTypeName(t);
  }
}

TEST(Activation, QuantizationWithinHalfStep) {
  const std::vector<float> x = RandomRow(512, 3);
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kF16}) {
    QuantActivation act;
    act.Quantize(t, x.data(), 512);
    const std::vector<float> y = act.Dequantized();
    const int64_t blk = ActFormatFor(t) == ActFormat::kQ8K ? 256 : 32;
    for (int64_t i = 0; i < 512; ++i) {
      float amax = 0;
      for (int64_t j = i / blk * blk; j < i / blk * blk + blk; ++j) amax = std::max(amax, std::fabs(x[j]));
      const float bound = ActFormatFor(t) == ActFormat::kF32 ? 0.0f : amax / 127 * 0.5001f;
      ASSERT_LE(std::fabs(x[i] - y[i]), bound) << GgmlTypeName(t) << " " << i;
    }
  }
}

// ---- dot kernels ----

// Random bytes for `blocks` blocks of t with sane fp16 scales where each format keeps them
// (random bits could be inf/NaN); every other field is any bit pattern.
std::vector<uint8_t> RandomBlocks(GgmlType t, int64_t blocks, std::mt19937& rng) {
  const GgmlTypeInfo info = GetGgmlTypeInfo(t);
  std::vector<uint8_t> w(static_cast<size_t>(blocks) * info.block_bytes);
  for (auto& byte : w) byte = static_cast<uint8_t>(rng());
  for (int64_t k = 0; k < blocks; ++k) {
    uint8_t* blk = w.data() + k * info.block_bytes;
    const uint16_t d = F32ToF16(0.01f * (k % 7 + 1)), m = F32ToF16(-0.003f * (k % 5 + 2));
    if (t == GgmlType::kQ6_K) {
      std::memcpy(blk + 208, &d, 2);
    } else {
      std::memcpy(blk, &d, 2);
      if (t == GgmlType::kQ4_1 || t == GgmlType::kQ5_1 || t == GgmlType::kQ4_K || t == GgmlType::kQ5_K) {
        const uint16_t dm = t == GgmlType::kQ4_K || t == GgmlType::kQ5_K ? F32ToF16(0.004f) : m;
        std::memcpy(blk + 2, &dm, 2);
      }
    }
  }
  return w;
}


// float64 dot of the dequantized weight with the activation as the kernels see it.
double ReferenceDot(GgmlType t, const std::vector<uint8_t>& w, const QuantActivation& act, int64_t n) {
  std::vector<float> wd(n);
  DequantizeRow(t, w.data(), wd.data(), n);
  const std::vector<float> a = act.Dequantized();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(wd[i]) * a[i];
  return s;
}
double AbsDot(GgmlType t, const std::vector<uint8_t>& w, const QuantActivation& act, int64_t n) {
  std::vector<float> wd(n);
  DequantizeRow(t, w.data(), wd.data(), n);
  const std::vector<float> a = act.Dequantized();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(wd[i]) * a[i]);
  return s;
}

TEST(Dot, EveryLevelEqualsReferenceOnRandomRows) {
  SimdGuard guard;
  const std::vector<QuantSimd> levels = AvailableLevels();
  for (GgmlType t : kComputable) {
    const int64_t blk = GetGgmlTypeInfo(t).block_elems;
    // Lengths: one block, an odd number of blocks (the 2-block unrolled loops' tail), and a
    // length that is not a multiple of 8 for the 1-element types (SIMD tails).
    for (int64_t n : {blk == 1 ? int64_t{37} : blk, blk * 3, blk == 1 ? int64_t{1000} : blk * 8}) {
      for (uint32_t seed = 0; seed < 4; ++seed) {
        const std::vector<float> wf = RandomRow(n, 100 + seed, seed % 2 ? 0.3f : 0.0f);
        const std::vector<float> x = RandomRow(n, 200 + seed);
        std::vector<uint8_t> w(GgmlRowBytes(t, n));
        QuantizeRow(t, wf.data(), w.data(), n);
        QuantActivation act;
        act.Quantize(t, x.data(), n);
        const double ref = ReferenceDot(t, w, act, n);
        const double tol = 1e-5 * AbsDot(t, w, act, n) + 1e-6;
        for (QuantSimd s : levels) {
          ASSERT_TRUE(SetQuantSimd(s).ok());
          const float got = QuantDot(t, w.data(), act, n);
          EXPECT_NEAR(got, ref, tol) << GgmlTypeName(t) << " n=" << n << " level " << QuantSimdName(s);
        }
      }
    }
  }
}

// Random bytes are valid blocks for the integer fields: this reaches bit patterns (large 6-bit
// scales and mins, negative Q6_K scales, all high bits set) that our quantizer never writes.
TEST(Dot, EveryLevelEqualsReferenceOnRandomBytes) {
  SimdGuard guard;
  const std::vector<QuantSimd> levels = AvailableLevels();
  std::mt19937 rng(42);
  for (GgmlType t : kComputable) {
    if (t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16 || t == GgmlType::kQ8_K) continue;
    const GgmlTypeInfo info = GetGgmlTypeInfo(t);
    const int64_t n = info.block_elems * 5;
    const std::vector<uint8_t> w = RandomBlocks(t, 5, rng);
    const std::vector<float> x = RandomRow(n, 9);
    QuantActivation act;
    act.Quantize(t, x.data(), n);
    const double ref = ReferenceDot(t, w, act, n);
    const double tol = 1e-5 * AbsDot(t, w, act, n) + 1e-6;
    for (QuantSimd s : levels) {
      ASSERT_TRUE(SetQuantSimd(s).ok());
      EXPECT_NEAR(QuantDot(t, w.data(), act, n), ref, tol) << GgmlTypeName(t) << " " << QuantSimdName(s);
    }
  }
}

TEST(Dot, CloseToExactFloatDot) {
  // End to end against the unquantized activation: only the int8 activation rounding differs.
  const int64_t n = 2048;
  for (GgmlType t : kComputable) {
    const std::vector<float> wf = RandomRow(n, 5), x = RandomRow(n, 6);
    std::vector<uint8_t> w(GgmlRowBytes(t, n));
    QuantizeRow(t, wf.data(), w.data(), n);
    std::vector<float> wd(n);
    DequantizeRow(t, w.data(), wd.data(), n);
    double exact = 0, abs_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(wd[i]) * x[i];
      abs_sum += std::fabs(static_cast<double>(wd[i]) * x[i]);
    }
    QuantActivation act;
    act.Quantize(t, x.data(), n);
    // Each activation moves by at most half a step, 1/254 of its block's max: a few 1e-3 of the
    // absolute sum in the worst case, far less on average.
    EXPECT_NEAR(QuantDot(t, w.data(), act, n), exact, 5e-3 * abs_sum) << GgmlTypeName(t);
  }
}

// QuantLinear at every level against the float64 reference of each (row, input) pair. T = 1 is
// the row kernel (or, for the VNNI K-quants, a one-input tile); T > 1 goes through the tiled
// kernels (8 inputs per tile), so T covers one partial tile, exact tiles, and full tiles plus each
// kind of remainder.
void CheckQuantLinear(const QuantMatrix& m, const std::vector<float>& in, int64_t T, const char* what) {
  const GgmlType t = m.type;
  const int64_t rows = m.rows, cols = m.cols;
  std::vector<QuantActivation> acts(static_cast<size_t>(T));
  for (int64_t ti = 0; ti < T; ++ti) acts[ti].Quantize(t, in.data() + ti * cols, cols);
  std::vector<double> ref(static_cast<size_t>(T * rows)), tol(static_cast<size_t>(T * rows));
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<uint8_t> row(m.row(r), m.row(r) + m.row_bytes());
    for (int64_t ti = 0; ti < T; ++ti) {
      ref[ti * rows + r] = ReferenceDot(t, row, acts[ti], cols);
      tol[ti * rows + r] = 1e-5 * AbsDot(t, row, acts[ti], cols) + 1e-6;
    }
  }
  for (QuantSimd s : AvailableLevels()) {
    ASSERT_TRUE(SetQuantSimd(s).ok());
    std::vector<float> out(static_cast<size_t>(T * rows), -1.0f);
    QuantLinear(out.data(), in.data(), T, m);
    for (int64_t ti = 0; ti < T; ++ti) {
      for (int64_t r = 0; r < rows; ++r) {
        const float got = out[ti * rows + r];
        ASSERT_NEAR(got, ref[ti * rows + r], tol[ti * rows + r])
            << what << " " << GgmlTypeName(t) << " level " << QuantSimdName(s) << " T=" << T << " t=" << ti
            << " r=" << r;
      }
    }
  }
}

const int64_t kTokenCounts[] = {1, 2, 3, 7, 8, 9, 16, 21};

TEST(QuantLinear, EveryLevelEqualsReferenceForManyInputs) {
  SimdGuard guard;
  const int64_t rows = 37;
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ4_1, GgmlType::kQ4_K,
                     GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kBF16}) {
    // One super-block and three (odd counts of blocks for the 32-block types too).
    for (int64_t cols : {int64_t{256}, int64_t{768}}) {
      const std::vector<float> wf = RandomRow(rows * cols, 11, 0.1f);
      const std::vector<uint8_t> wq = QuantizeMatrix(t, wf.data(), rows, cols);
      const QuantMatrix m{t, rows, cols, wq.data()};
      for (int64_t T : kTokenCounts) CheckQuantLinear(m, RandomRow(T * cols, 12 + T), T, "quantized");
    }
  }
}

TEST(QuantLinear, EveryLevelEqualsReferenceOnRandomBytes) {
  SimdGuard guard;
  std::mt19937 rng(7);
  const int64_t rows = 13;
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ4_K, GgmlType::kQ5_K,
                     GgmlType::kQ6_K}) {
    const int64_t cols = 3 * 256;
    const int64_t blocks = rows * cols / GetGgmlTypeInfo(t).block_elems;
    const std::vector<uint8_t> wq = RandomBlocks(t, blocks, rng);
    const QuantMatrix m{t, rows, cols, wq.data()};
    for (int64_t T : kTokenCounts) CheckQuantLinear(m, RandomRow(T * cols, 30 + T), T, "random bytes");
  }
}

// The tiled kernels' own activation quantizers write the reference Q8_K bytes: the same d and
// bsums, and the same values either in plain order or in the lane order of InterleaveLanes (lane l
// of register 4g + i holds lane 4 * (l / 4) + i of register 4g + l % 4; a lane is 4 bytes).
TEST(QuantLinear, TiledActivationQuantizersMatchReference) {
  const int64_t n = 3 * kQKK;
  std::vector<float> x = RandomRow(n, 21);
  x[5] = 0.0f;
  std::fill(x.begin() + kQKK, x.begin() + 2 * kQKK, 0.0f);  // an all-zero super-block (d = 0)
  std::vector<uint8_t> ref(ActivationRowBytes(GgmlType::kQ4_K, n));
  QuantizeActivationRow(GgmlType::kQ4_K, x.data(), n, ref.data());
  for (QuantSimd s : AvailableLevels()) {
    for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
      quant_internal::Gemm g;
      if (s == QuantSimd::kAvx2) g = quant_internal::Avx2GemmKernel(t, QuantLayout::kGgml);
      if (s == QuantSimd::kAvx512) g = quant_internal::Avx512GemmKernel(t, QuantLayout::kGgml);
      if (g.quant == nullptr) continue;
      std::vector<uint8_t> got(ref.size());
      g.quant(x.data(), n, got.data());
      const auto* a = reinterpret_cast<const BlockQ8_K*>(got.data());
      const auto* b = reinterpret_cast<const BlockQ8_K*>(ref.data());
      for (int64_t k = 0; k < n / kQKK; ++k) {
        ASSERT_EQ(a[k].d, b[k].d) << QuantSimdName(s);
        for (int j = 0; j < 16; ++j) ASSERT_EQ(a[k].bsums[j], b[k].bsums[j]) << QuantSimdName(s) << " " << j;
        const bool plain = std::memcmp(a[k].qs, b[k].qs, kQKK) == 0;
        bool interleaved = true;
        for (int reg = 0; reg < 8; ++reg) {
          for (int l = 0; l < 8; ++l) {
            const int g4 = reg / 4, i = reg % 4;
            const int src_reg = 4 * g4 + l % 4, src_lane = 4 * (l / 4) + i;
            interleaved &= std::memcmp(a[k].qs + 32 * reg + 4 * l, b[k].qs + 32 * src_reg + 4 * src_lane, 4) == 0;
          }
        }
        ASSERT_TRUE(plain || interleaved) << QuantSimdName(s) << " " << GgmlTypeName(t) << " block " << k;
      }
    }
  }
}

// Rows beyond one slice (QuantLinear splits rows into slices that threads take): a wide product
// whose row count is not a multiple of anything, checked at the best level only.
TEST(QuantLinear, ManySlicesOfRows) {
  const int64_t rows = 1031, cols = 512, T = 11;
  const std::vector<float> wf = RandomRow(rows * cols, 3);
  const std::vector<uint8_t> wq = QuantizeMatrix(GgmlType::kQ4_K, wf.data(), rows, cols);
  const QuantMatrix m{GgmlType::kQ4_K, rows, cols, wq.data()};
  const std::vector<float> in = RandomRow(T * cols, 4);
  std::vector<float> out(static_cast<size_t>(T * rows));
  QuantLinear(out.data(), in.data(), T, m);
  for (int64_t ti = 0; ti < T; ++ti) {
    QuantActivation act;
    act.Quantize(GgmlType::kQ4_K, in.data() + ti * cols, cols);
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<uint8_t> row(m.row(r), m.row(r) + m.row_bytes());
      ASSERT_NEAR(out[ti * rows + r], ReferenceDot(GgmlType::kQ4_K, row, act, cols),
                  1e-5 * AbsDot(GgmlType::kQ4_K, row, act, cols) + 1e-6)
          << "t=" << ti << " r=" << r;
    }
  }
}


bool CpuHasLaneLevel() { return DetectQuantSimd() == QuantSimd::kAvx512; }

// ---- QuantLayout::kLaneInterleaved (weights repacked at load for the AVX-512 VNNI tiles) ----

const GgmlType kLaneInterleavedTypes[] = {GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

// True (and the level set to AVX-512 VNNI) where this CPU has the level that reads the layout.
bool UseLaneInterleavedLevel() { return SetQuantSimd(QuantSimd::kAvx512).ok(); }

// The bytes a repack must leave alone: d, dmin and the scales (Q4_K/Q5_K: bytes 0-15; Q6_K: the
// 16 scales and d after ql and qh, bytes 192-209).
bool ScalesEqual(GgmlType t, const uint8_t* a, const uint8_t* b) {
  return t == GgmlType::kQ6_K ? std::memcmp(a + 192, b + 192, 18) == 0 : std::memcmp(a, b, 16) == 0;
}

// Repacking permutes the values inside each super-block and nothing else; repacking again gives the
// file's bytes back (random bytes reach every bit of the value fields, e.g. all of Q5_K's qh).
TEST(LaneInterleaved, RepackTwiceIsIdentityAndKeepsScales) {
  if (!CpuHasLaneLevel()) GTEST_SKIP() << "no AVX-512 VNNI";
  std::mt19937 rng(5);
  for (GgmlType t : kLaneInterleavedTypes) {
    const int64_t rows = 7, cols = 3 * kQKK;
    const size_t block_bytes = GetGgmlTypeInfo(t).block_bytes;
    const std::vector<uint8_t> w = RandomBlocks(t, rows * 3, rng);
    std::vector<uint8_t> packed(w.size()), back(w.size());
    RepackLaneInterleaved(t, w.data(), packed.data(), rows, cols);
    EXPECT_NE(packed, w) << GgmlTypeName(t);
    for (size_t k = 0; k < w.size() / block_bytes; ++k) {
      ASSERT_TRUE(ScalesEqual(t, w.data() + k * block_bytes, packed.data() + k * block_bytes)) << GgmlTypeName(t) << k;
    }
    RepackLaneInterleaved(t, packed.data(), back.data(), rows, cols);
    EXPECT_EQ(back, w) << GgmlTypeName(t);
    RepackLaneInterleaved(t, packed.data(), packed.data(), rows, cols);  // in place
    EXPECT_EQ(packed, w) << GgmlTypeName(t);
  }
}

// QuantLinear on the repacked matrix: the same integer sums as on the file's layout (so equal up to
// fp32 reassociation; in fact the same kernel order, so equal) and the float64 reference of the
// original rows. Rows not a multiple of anything, T = 1 (decode), partial and full tiles of 8.
TEST(LaneInterleaved, QuantLinearEqualsGgmlLayoutAndReference) {
  SimdGuard guard;
  if (!UseLaneInterleavedLevel()) GTEST_SKIP() << "no AVX-512 VNNI";
  for (GgmlType t : kLaneInterleavedTypes) {
    EXPECT_EQ(FastestLayout(t), QuantLayout::kLaneInterleaved) << GgmlTypeName(t);
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 256}, {37, 768}, {301, 1536}}) {
      const std::vector<float> wf = RandomRow(rows * cols, 40 + rows, 0.1f);
      const std::vector<uint8_t> wq = QuantizeMatrix(t, wf.data(), rows, cols);
      std::vector<uint8_t> packed(wq.size());
      RepackLaneInterleaved(t, wq.data(), packed.data(), rows, cols);
      const QuantMatrix plain{t, rows, cols, wq.data()};
      const QuantMatrix lanes{t, rows, cols, packed.data(), QuantLayout::kLaneInterleaved};
      for (int64_t T : {1, 3, 8, 13}) {
        const std::vector<float> in = RandomRow(T * cols, 50 + T);
        std::vector<float> want(static_cast<size_t>(T * rows)), got(want.size());
        QuantLinear(want.data(), in.data(), T, plain);
        QuantLinear(got.data(), in.data(), T, lanes);
        for (int64_t ti = 0; ti < T; ++ti) {
          QuantActivation act;
          act.Quantize(t, in.data() + ti * cols, cols);
          for (int64_t r = 0; r < rows; ++r) {
            const std::vector<uint8_t> row(plain.row(r), plain.row(r) + plain.row_bytes());
            const double abs = AbsDot(t, row, act, cols);
            const size_t i = static_cast<size_t>(ti * rows + r);
            ASSERT_NEAR(got[i], want[i], 1e-6 * abs + 1e-7) << GgmlTypeName(t) << " T=" << T << " t=" << ti << " r=" << r;
            ASSERT_NEAR(got[i], ReferenceDot(t, row, act, cols), 1e-5 * abs + 1e-6)
                << GgmlTypeName(t) << " T=" << T << " t=" << ti << " r=" << r;
          }
        }
      }
    }
  }
}

// The layout is for one level only: the others say kGgml is their fastest, and QuantLinear stops
// rather than read repacked bytes as ggml blocks.
TEST(LaneInterleavedDeathTest, OtherLevelsRefuseIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // earlier tests started OpenMP threads
  SimdGuard guard;
  if (!CpuHasLaneLevel()) GTEST_SKIP() << "no AVX-512 VNNI";
  const int64_t rows = 4, cols = 256;
  const std::vector<float> wf = RandomRow(rows * cols, 60);
  std::vector<uint8_t> wq = QuantizeMatrix(GgmlType::kQ4_K, wf.data(), rows, cols);
  RepackLaneInterleaved(GgmlType::kQ4_K, wq.data(), wq.data(), rows, cols);
  const QuantMatrix lanes{GgmlType::kQ4_K, rows, cols, wq.data(), QuantLayout::kLaneInterleaved};
  const std::vector<float> in = RandomRow(cols, 61);
  std::vector<float> out(static_cast<size_t>(rows));
  for (QuantSimd s : AvailableLevels()) {
    if (s == QuantSimd::kAvx512) continue;
    ASSERT_TRUE(SetQuantSimd(s).ok());
    EXPECT_EQ(FastestLayout(GgmlType::kQ4_K), QuantLayout::kGgml) << QuantSimdName(s);
    EXPECT_DEATH(QuantLinear(out.data(), in.data(), 1, lanes), "lane-interleaved") << QuantSimdName(s);
  }
}

}  // namespace
}  // namespace gorae
