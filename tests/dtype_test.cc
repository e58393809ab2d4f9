// Storage dtypes: decoding against independent formulas, encoding round trips, block scales.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "tensor/dtype.h"
#include "tensor/matrix.h"

namespace gorae {
namespace {

TEST(DType, ParsesSafetensorsNames) {
  DType t;
  EXPECT_TRUE(ParseDType("F8_E4M3", &t));
  EXPECT_EQ(t, DType::kF8E4M3);
  EXPECT_TRUE(ParseDType("BF16", &t));
  EXPECT_EQ(t, DType::kBF16);
  EXPECT_FALSE(ParseDType("I64", &t));
}

TEST(DType, Fp8DecodesKnownValues) {
  EXPECT_EQ(F8E4M3ToF32(0x00), 0.0f);
  EXPECT_EQ(F8E4M3ToF32(0x38), 1.0f);          // exponent 7 = bias
  EXPECT_EQ(F8E4M3ToF32(0x7e), 448.0f);        // largest finite
  EXPECT_EQ(F8E4M3ToF32(0xfe), -448.0f);
  EXPECT_EQ(F8E4M3ToF32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(F8E4M3ToF32(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_TRUE(std::isnan(F8E4M3ToF32(0x7f)));
  EXPECT_TRUE(std::isnan(F8E4M3ToF32(0xff)));
}

TEST(DType, Fp8EncodeRoundTripsEveryCode) {
  for (int code = 0; code < 256; ++code) {
    const float v = F8E4M3ToF32(static_cast<uint8_t>(code));
    if (std::isnan(v)) continue;
    const uint8_t back = F32ToF8E4M3(v);
    // +0 and -0 are both zero
    EXPECT_EQ(F8E4M3ToF32(back), v) << "code " << code;
  }
  EXPECT_EQ(F32ToF8E4M3(1000.0f), 0x7e);  // saturates
  EXPECT_EQ(F8E4M3ToF32(F32ToF8E4M3(1.0625f)), 1.0f);   // halfway between 1 and 1.125: to even
  EXPECT_EQ(F8E4M3ToF32(F32ToF8E4M3(1.07f)), 1.125f);
}

TEST(DType, F16RoundTripsEveryFiniteCode) {
  for (uint32_t code = 0; code < 65536; ++code) {
    const float v = F16ToF32(static_cast<uint16_t>(code));
    if (std::isnan(v)) continue;
    EXPECT_EQ(F16ToF32(F32ToF16(v)), v) << "code " << code;
  }
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(F16ToF32(F32ToF16(1e6f))));
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(BF16ToF32(F32ToBF16(1.0f)), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
  EXPECT_EQ(BF16ToF32(F32ToBF16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(BF16ToF32(F32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(BF16ToF32(F32ToBF16(NAN))));
}

TEST(Matrix, Fp8BlockScalesApplyPerBlock) {
  // 130 x 260: 2 x 3 blocks, with partial edge blocks in both directions.
  const int64_t rows = 130, cols = 260;
  std::vector<uint8_t> data(rows * cols, 0x38);  // every stored value 1.0
  std::vector<float> scales = {1, 2, 3, 4, 5, 6};
  Matrix m{DType::kF8E4M3, rows, cols, data.data(), scales.data()};
  std::vector<float> out(rows * cols);
  DequantizeRows(m, 0, rows, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[127], 1.0f);
  EXPECT_EQ(out[128], 2.0f);
  EXPECT_EQ(out[259], 3.0f);
  EXPECT_EQ(out[128 * cols + 0], 4.0f);
  EXPECT_EQ(out[129 * cols + 200], 5.0f);  // row block 1, col block 1
  EXPECT_EQ(out[129 * cols + 259], 6.0f);  // row block 1, col block 2 (partial)
}

}  // namespace
}  // namespace gorae
