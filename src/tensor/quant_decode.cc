#include "tensor/quant_decode.h"

#include "core/check.h"
#include "tensor/dtype.h"

namespace gorae {

void DequantizeGgmlRow(GgmlType t, const void* src, float* y, int64_t n) {
  const GgmlTypeInfo info = GetGgmlTypeInfo(t);
  GORAE_CHECK(info.computable && n % info.block_elems == 0, "{} row of {}", GgmlTypeName(t), n);
  const int64_t nb = n / info.block_elems;
  switch (t) {
    case GgmlType::kF32: std::memcpy(y, src, n * 4); return;
    case GgmlType::kF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = HalfToFloat(s[i]);
      return;
    }
    case GgmlType::kBF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = BF16ToF32(s[i]);
      return;
    }
    case GgmlType::kQ8_0: {
      const auto* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t k = 0; k < nb; ++k, y += kQK) {
        const float d = HalfToFloat(b[k].d);
        for (int i = 0; i < kQK; ++i) y[i] = d * b[k].qs[i];
      }
      return;
    }
    case GgmlType::kQ4_0: {
      const auto* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t k = 0; k < nb; ++k, y += kQK) {
        const float d = HalfToFloat(b[k].d);
        for (int i = 0; i < kQK; ++i) y[i] = d * (Nibble(b[k].qs, i) - 8);
      }
      return;
    }
    case GgmlType::kQ4_1: {
      const auto* b = static_cast<const BlockQ4_1*>(src);
      for (int64_t k = 0; k < nb; ++k, y += kQK) {
        const float d = HalfToFloat(b[k].d), m = HalfToFloat(b[k].m);
        for (int i = 0; i < kQK; ++i) y[i] = d * Nibble(b[k].qs, i) + m;
      }
      return;
    }
    case GgmlType::kQ5_0: {
      const auto* b = static_cast<const BlockQ5_0*>(src);
      for (int64_t k = 0; k < nb; ++k, y += kQK) {
        const float d = HalfToFloat(b[k].d);
        for (int i = 0; i < kQK; ++i) y[i] = d * ((Nibble(b[k].qs, i) | (HighBit(b[k].qh, i) << 4)) - 16);
      }
      return;
    }
    case GgmlType::kQ5_1: {
      const auto* b = static_cast<const BlockQ5_1*>(src);
      for (int64_t k = 0; k < nb; ++k, y += kQK) {
        const float d = HalfToFloat(b[k].d), m = HalfToFloat(b[k].m);
        for (int i = 0; i < kQK; ++i) y[i] = d * (Nibble(b[k].qs, i) | (HighBit(b[k].qh, i) << 4)) + m;
      }
      return;
    }
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K: {
      const bool five = t == GgmlType::kQ5_K;
      for (int64_t k = 0; k < nb; ++k, y += kQKK) {
        const uint8_t* blk = static_cast<const uint8_t*>(src) + k * info.block_bytes;
        uint16_t dh, dminh;
        std::memcpy(&dh, blk, 2);
        std::memcpy(&dminh, blk + 2, 2);
        const uint8_t* scales = blk + 4;
        const uint8_t* qh = five ? blk + 16 : nullptr;
        const uint8_t* qs = blk + (five ? 48 : 16);
        const float d = HalfToFloat(dh), dmin = HalfToFloat(dminh);
        for (int j = 0; j < 8; ++j) {
          uint8_t sc, m;
          UnpackScaleMinK4(scales, j, &sc, &m);
          for (int i = 32 * j; i < 32 * j + 32; ++i) {
            int q = K4Nibble(qs, i);
            if (five) q |= ((qh[i % 32] >> (i / 32)) & 1) << 4;
            y[i] = d * sc * q - dmin * m;
          }
        }
      }
      return;
    }
    case GgmlType::kQ6_K: {
      const auto* b = static_cast<const BlockQ6_K*>(src);
      for (int64_t k = 0; k < nb; ++k, y += kQKK) {
        const float d = HalfToFloat(b[k].d);
        for (int i = 0; i < kQKK; ++i) y[i] = d * b[k].scales[i / 16] * Q6KValue(b[k], i);
      }
      return;
    }
    case GgmlType::kQ8_K: {
      const auto* b = static_cast<const BlockQ8_K*>(src);
      for (int64_t k = 0; k < nb; ++k, y += kQKK)
        for (int i = 0; i < kQKK; ++i) y[i] = b[k].d * b[k].qs[i];
      return;
    }
    default: break;
  }
  GORAE_CHECK(false, "no dequantizer for {}", GgmlTypeName(t));
}

}  // namespace gorae
