// Reference (portable scalar) code for the ggml block formats: quantize, dequantize, the
// activation formats, and the scalar dot kernels that the SIMD levels are tested against.
//
// Quantizers are "reference quality": one pass, no search for the best scales as llama.cpp's
// importance-weighted quantizers do, but every value within half a quantization step of its
// sub-block (scales are rounded up, so nothing clips). Dequantizers follow the layouts in
// tensor/quant.h exactly; the golden test checks them against gguf-py's numpy reference.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/check.h"
#include "kernels/cpu/quant_dot.h"
#include "kernels/cpu/quant_dot_kernels.h"
#include "tensor/quant_decode.h"
#include "tensor/dtype.h"

namespace gorae {

namespace {

// Smallest fp16 >= f (f >= 0): scales rounded up so that the largest value still fits.
uint16_t HalfRoundUp(float f) {
  uint16_t h = F32ToF16(f);
  if (HalfToFloat(h) < f) ++h;  // positive: the next bit pattern is the next larger value
  return h;
}

float AbsMax(const float* x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

// ---- 32-blocks ----

// Symmetric blocks (Q4_0: 16 levels, Q5_0: 32 levels): d = -(value of largest magnitude) / half
// so that value maps to the lowest level exactly, as ggml does.
template <int kLevels>
void QuantizeSymmetric(const float* x, float* d_out, uint8_t* q) {
  float amax = 0.0f, vmax = 0.0f;
  for (int i = 0; i < kQK; ++i) {
    if (std::fabs(x[i]) > amax) { amax = std::fabs(x[i]); vmax = x[i]; }
  }
  // As ggml's reference: values are rounded with the unrounded scale (so files match its bytes).
  const float d = vmax / -(kLevels / 2);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kQK; ++i) {
    const int v = static_cast<int>(x[i] * id + (kLevels / 2 + 0.5f));  // >= 0: truncation rounds
    q[i] = static_cast<uint8_t>(std::clamp(v, 0, kLevels - 1));
  }
  *d_out = d;
}

// Asymmetric blocks (Q4_1, Q5_1): x = d * q + m with m = block min.
template <int kLevels>
void QuantizeMinMax(const float* x, uint16_t* d_out, uint16_t* m_out, uint8_t* q) {
  float mn = x[0], mx = x[0];
  for (int i = 1; i < kQK; ++i) { mn = std::min(mn, x[i]); mx = std::max(mx, x[i]); }
  const uint16_t mh = F32ToF16(mn);
  const float m = HalfToFloat(mh);
  const uint16_t dh = HalfRoundUp((mx - m) / (kLevels - 1));
  const float d = HalfToFloat(dh);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kQK; ++i) {
    const int v = static_cast<int>(std::nearbyint((x[i] - m) * id));
    q[i] = static_cast<uint8_t>(std::clamp(v, 0, kLevels - 1));
  }
  *d_out = dh;
  *m_out = mh;
}

void PackNibbles(const uint8_t* q, uint8_t* qs) {  // value i<16 low nibble, i+16 high
  for (int i = 0; i < kQK / 2; ++i) qs[i] = static_cast<uint8_t>((q[i] & 15) | ((q[i + 16] & 15) << 4));
}
void PackHighBits(const uint8_t* q, uint8_t* qh) {  // bit i of the little-endian u32 = bit 4 of q[i]
  uint32_t h = 0;
  for (int i = 0; i < kQK; ++i) h |= static_cast<uint32_t>((q[i] >> 4) & 1) << i;
  std::memcpy(qh, &h, 4);
}

// ---- K-quants ----

// Q4_K / Q5_K: eight sub-blocks of 32, x = d*sc*q - dmin*m. The min offset dmin*m is rounded up
// to cover the sub-block minimum, then the scale rounded up to cover the rest of the range.
template <int kLevels>
void QuantizeK4Like(const float* x, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales,
                    uint8_t* q) {
  float lo[8], hi[8];
  float max_neg = 0.0f;
  for (int j = 0; j < 8; ++j) {
    lo[j] = 0.0f;
    hi[j] = 0.0f;
    for (int i = 0; i < 32; ++i) { lo[j] = std::min(lo[j], x[32 * j + i]); hi[j] = std::max(hi[j], x[32 * j + i]); }
    max_neg = std::max(max_neg, -lo[j]);
  }
  const uint16_t dminh = HalfRoundUp(max_neg / 63);
  const float dmin = HalfToFloat(dminh);
  uint8_t sc[8], m[8];
  float offset[8], scale[8], max_scale = 0.0f;
  for (int j = 0; j < 8; ++j) {
    m[j] = dmin > 0.0f ? static_cast<uint8_t>(std::min(63.0f, std::ceil(-lo[j] / dmin))) : 0;
    offset[j] = dmin * m[j];
    scale[j] = (hi[j] + offset[j]) / (kLevels - 1);
    max_scale = std::max(max_scale, scale[j]);
  }
  const uint16_t dh = HalfRoundUp(max_scale / 63);
  const float d = HalfToFloat(dh);
  for (int j = 0; j < 8; ++j) {
    sc[j] = d > 0.0f ? static_cast<uint8_t>(std::min(63.0f, std::ceil(scale[j] / d))) : 0;
    const float step = d * sc[j];
    const float inv = step > 0.0f ? 1.0f / step : 0.0f;
    for (int i = 0; i < 32; ++i) {
      const int v = static_cast<int>(std::nearbyint((x[32 * j + i] + offset[j]) * inv));
      q[32 * j + i] = static_cast<uint8_t>(std::clamp(v, 0, kLevels - 1));
    }
  }
  // Pack the 6-bit scales and mins (layout in UnpackScaleMinK4).
  std::memset(scales, 0, 12);
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
  *d_out = dh;
  *dmin_out = dminh;
}

void PackK4Nibbles(const uint8_t* q, uint8_t* qs) {  // chunk c: 64c+l low, 64c+32+l high
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      qs[32 * c + l] = static_cast<uint8_t>((q[64 * c + l] & 15) | ((q[64 * c + 32 + l] & 15) << 4));
}

void QuantizeQ6K(const float* x, BlockQ6_K* b) {
  float scale[16], max_scale = 0.0f;
  for (int j = 0; j < 16; ++j) {
    scale[j] = AbsMax(x + 16 * j, 16) / 31;  // q - 32 in [-31, 31]: no clipping
    max_scale = std::max(max_scale, scale[j]);
  }
  const uint16_t dh = HalfRoundUp(max_scale / 127);
  const float d = HalfToFloat(dh);
  std::memset(b, 0, sizeof(*b));
  b->d = dh;
  for (int j = 0; j < 16; ++j) {
    const int sc = d > 0.0f ? static_cast<int>(std::min(127.0f, std::ceil(scale[j] / d))) : 0;
    b->scales[j] = static_cast<int8_t>(sc);
    const float step = d * sc;
    const float inv = step > 0.0f ? 1.0f / step : 0.0f;
    for (int i = 16 * j; i < 16 * j + 16; ++i) {
      const int q = std::clamp(static_cast<int>(std::nearbyint(x[i] * inv)), -32, 31) + 32;
      const int h = i / 128, k = (i % 128) / 32, l = i % 32;
      b->ql[64 * h + 32 * (k % 2) + l] |= static_cast<uint8_t>((q & 15) << (4 * (k / 2)));
      b->qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
    }
  }
}

void QuantizeQ8K(const float* x, BlockQ8_K* b) {
  const float amax = AbsMax(x, kQKK);
  const float d = amax / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b->d = d;
  for (int j = 0; j < 16; ++j) {
    int sum = 0;
    for (int i = 16 * j; i < 16 * j + 16; ++i) {
      b->qs[i] = static_cast<int8_t>(std::clamp(static_cast<int>(std::nearbyint(x[i] * id)), -127, 127));
      sum += b->qs[i];
    }
    b->bsums[j] = static_cast<int16_t>(sum);
  }
}

void QuantizeQ8Act(const float* x, BlockQ8Act* b) {
  const float amax = AbsMax(x, kQK);
  const float d = amax / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b->d = d;
  b->sum = 0;
  for (int i = 0; i < kQK; ++i) {
    b->qs[i] = static_cast<int8_t>(std::clamp(static_cast<int>(std::nearbyint(x[i] * id)), -127, 127));
    b->sum += b->qs[i];
  }
}

}  // namespace

void QuantizeRow(GgmlType t, const float* x, void* dst, int64_t n) {
  const GgmlTypeInfo info = GetGgmlTypeInfo(t);
  GORAE_CHECK(info.computable && n % info.block_elems == 0, "{} row of {}", GgmlTypeName(t), n);
  const int64_t nb = n / info.block_elems;
  uint8_t q[kQKK];
  switch (t) {
    case GgmlType::kF32: std::memcpy(dst, x, n * 4); return;
    case GgmlType::kF16: {
      auto* o = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) o[i] = F32ToF16(x[i]);
      return;
    }
    case GgmlType::kBF16: {
      auto* o = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) o[i] = F32ToBF16(x[i]);
      return;
    }
    case GgmlType::kQ8_0: {
      auto* b = static_cast<BlockQ8_0*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQK) {
        const float d = AbsMax(x, kQK) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[k].d = F32ToF16(d);
        for (int i = 0; i < kQK; ++i) b[k].qs[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
      }
      return;
    }
    case GgmlType::kQ4_0: {
      auto* b = static_cast<BlockQ4_0*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQK) {
        float d;
        QuantizeSymmetric<16>(x, &d, q);
        b[k].d = F32ToF16(d);
        PackNibbles(q, b[k].qs);
      }
      return;
    }
    case GgmlType::kQ5_0: {
      auto* b = static_cast<BlockQ5_0*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQK) {
        float d;
        QuantizeSymmetric<32>(x, &d, q);
        b[k].d = F32ToF16(d);
        PackNibbles(q, b[k].qs);
        PackHighBits(q, b[k].qh);
      }
      return;
    }
    case GgmlType::kQ4_1: {
      auto* b = static_cast<BlockQ4_1*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQK) {
        QuantizeMinMax<16>(x, &b[k].d, &b[k].m, q);
        PackNibbles(q, b[k].qs);
      }
      return;
    }
    case GgmlType::kQ5_1: {
      auto* b = static_cast<BlockQ5_1*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQK) {
        QuantizeMinMax<32>(x, &b[k].d, &b[k].m, q);
        PackNibbles(q, b[k].qs);
        PackHighBits(q, b[k].qh);
      }
      return;
    }
    case GgmlType::kQ4_K: {
      auto* b = static_cast<BlockQ4_K*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQKK) {
        QuantizeK4Like<16>(x, &b[k].d, &b[k].dmin, b[k].scales, q);
        PackK4Nibbles(q, b[k].qs);
      }
      return;
    }
    case GgmlType::kQ5_K: {
      auto* b = static_cast<BlockQ5_K*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQKK) {
        QuantizeK4Like<32>(x, &b[k].d, &b[k].dmin, b[k].scales, q);
        PackK4Nibbles(q, b[k].qs);
        std::memset(b[k].qh, 0, sizeof(b[k].qh));
        for (int i = 0; i < kQKK; ++i) b[k].qh[i % 32] |= static_cast<uint8_t>(((q[i] >> 4) & 1) << (i / 32));
      }
      return;
    }
    case GgmlType::kQ6_K: {
      auto* b = static_cast<BlockQ6_K*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQKK) QuantizeQ6K(x, &b[k]);
      return;
    }
    case GgmlType::kQ8_K: {
      auto* b = static_cast<BlockQ8_K*>(dst);
      for (int64_t k = 0; k < nb; ++k, x += kQKK) QuantizeQ8K(x, &b[k]);
      return;
    }
    default: break;
  }
  GORAE_CHECK(false, "no quantizer for {}", GgmlTypeName(t));
}

void DequantizeRow(GgmlType t, const void* src, float* y, int64_t n) { DequantizeGgmlRow(t, src, y, n); }

ActFormat ActFormatFor(GgmlType t) {
  switch (t) {
    case GgmlType::kQ8_0: case GgmlType::kQ4_0: case GgmlType::kQ4_1: case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
      return ActFormat::kQ8;
    case GgmlType::kQ4_K: case GgmlType::kQ5_K: case GgmlType::kQ6_K: case GgmlType::kQ8_K:
      return ActFormat::kQ8K;
    default:
      return ActFormat::kF32;
  }
}

size_t ActivationRowBytes(GgmlType t, int64_t n) {
  switch (ActFormatFor(t)) {
    case ActFormat::kQ8: return static_cast<size_t>(n / kQK) * sizeof(BlockQ8Act);
    case ActFormat::kQ8K: return static_cast<size_t>(n / kQKK) * sizeof(BlockQ8_K);
    case ActFormat::kF32: return 0;
  }
  return 0;
}

void QuantizeActivationRow(GgmlType t, const float* x, int64_t n, void* dst) {
  const ActFormat fmt = ActFormatFor(t);
  if (fmt == ActFormat::kQ8) {
    GORAE_CHECK(n % kQK == 0, "activation of {} for {}", n, GgmlTypeName(t));
    auto* b = static_cast<BlockQ8Act*>(dst);
    for (int64_t k = 0; k < n / kQK; ++k) QuantizeQ8Act(x + k * kQK, &b[k]);
  } else {
    GORAE_CHECK(fmt == ActFormat::kQ8K && n % kQKK == 0, "activation of {} for {}", n, GgmlTypeName(t));
    QuantizeRow(GgmlType::kQ8_K, x, dst, n);
  }
}

void QuantActivation::Quantize(GgmlType t, const float* x, int64_t n) {
  fmt_ = ActFormatFor(t);
  n_ = n;
  f32_ = x;
  if (fmt_ == ActFormat::kF32) return;
  buf_.resize(ActivationRowBytes(t, n));
  QuantizeActivationRow(t, x, n, buf_.data());
}

std::vector<float> QuantActivation::Dequantized() const {
  std::vector<float> y(static_cast<size_t>(n_));
  if (fmt_ == ActFormat::kF32) {
    std::copy(f32_, f32_ + n_, y.begin());
  } else if (fmt_ == ActFormat::kQ8) {
    const auto* b = reinterpret_cast<const BlockQ8Act*>(buf_.data());
    for (int64_t i = 0; i < n_; ++i) y[i] = b[i / kQK].d * b[i / kQK].qs[i % kQK];
  } else {
    DequantizeRow(GgmlType::kQ8_K, buf_.data(), y.data(), n_);
  }
  return y;
}

// ---- scalar dot kernels: the integer arithmetic the SIMD kernels reproduce ----

namespace {

float DotF32(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}
float DotF16(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += HalfToFloat(x[i]) * y[i];
  return s;
}
float DotBF16(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += BF16ToF32(x[i]) * y[i];
  return s;
}

// 32-block types: Unpack gives the stored integers q, and blocks with a min add m*dy*sum(qy)
// (x = d*q + m), so dot = d*dy*sum(q*qy) [+ m*dy*sum(qy)].
template <typename Block, void (*Unpack)(const Block&, int* q), bool kHasMin>
float DotQ32(const void* w, const void* a, int64_t n) {
  const auto* b = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8Act*>(a);
  float s = 0.0f;
  for (int64_t k = 0; k < n / kQK; ++k) {
    int q[kQK];
    Unpack(b[k], q);
    int sumi = 0;
    for (int i = 0; i < kQK; ++i) sumi += q[i] * y[k].qs[i];
    s += HalfToFloat(b[k].d) * y[k].d * sumi;
    if constexpr (kHasMin) s += HalfToFloat(b[k].m) * y[k].d * y[k].sum;
  }
  return s;
}
void UnpackQ8_0(const BlockQ8_0& b, int* q) {
  for (int i = 0; i < kQK; ++i) q[i] = b.qs[i];
}
template <typename Block, int kOffset, bool kHighBit>
void UnpackNibbleBlock(const Block& b, int* q) {
  uint32_t qh = 0;
  if constexpr (kHighBit) std::memcpy(&qh, b.qh, 4);
  for (int i = 0; i < kQK / 2; ++i) {
    q[i] = (b.qs[i] & 15) - kOffset;
    q[i + 16] = (b.qs[i] >> 4) - kOffset;
    if constexpr (kHighBit) {
      q[i] += static_cast<int>((qh >> i) & 1) << 4;
      q[i + 16] += static_cast<int>((qh >> (i + 16)) & 1) << 4;
    }
  }
}
template <bool kFive>
float DotQ4KLike(const void* w, const void* a, int64_t n) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const auto* b = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float s = 0.0f;
  for (int64_t k = 0; k < n / kQKK; ++k) {
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      UnpackScaleMinK4(b[k].scales, j, &sc, &m);
      int dot = 0;
      for (int i = 32 * j; i < 32 * j + 32; ++i) {
        int q = K4Nibble(b[k].qs, i);
        if constexpr (kFive) q |= ((b[k].qh[i % 32] >> (i / 32)) & 1) << 4;
        dot += q * y[k].qs[i];
      }
      sumi += sc * dot;
      summ += m * (y[k].bsums[2 * j] + y[k].bsums[2 * j + 1]);
    }
    s += y[k].d * (HalfToFloat(b[k].d) * sumi - HalfToFloat(b[k].dmin) * summ);
  }
  return s;
}

float DotQ6K(const void* w, const void* a, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float s = 0.0f;
  for (int64_t k = 0; k < n / kQKK; ++k) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int dot = 0;
      for (int i = 16 * j; i < 16 * j + 16; ++i) dot += Q6KValue(b[k], i) * y[k].qs[i];
      sumi += b[k].scales[j] * dot;
    }
    s += HalfToFloat(b[k].d) * y[k].d * sumi;
  }
  return s;
}

float DotQ8K(const void* w, const void* a, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float s = 0.0f;
  for (int64_t k = 0; k < n / kQKK; ++k) {
    int sumi = 0;
    for (int i = 0; i < kQKK; ++i) sumi += b[k].qs[i] * y[k].qs[i];
    s += b[k].d * y[k].d * sumi;
  }
  return s;
}

}  // namespace

namespace quant_internal {

DotFn ScalarDotKernel(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: return DotF32;
    case GgmlType::kF16: return DotF16;
    case GgmlType::kBF16: return DotBF16;
    case GgmlType::kQ8_0: return DotQ32<BlockQ8_0, UnpackQ8_0, false>;
    case GgmlType::kQ4_0: return DotQ32<BlockQ4_0, UnpackNibbleBlock<BlockQ4_0, 8, false>, false>;
    case GgmlType::kQ4_1: return DotQ32<BlockQ4_1, UnpackNibbleBlock<BlockQ4_1, 0, false>, true>;
    case GgmlType::kQ5_0: return DotQ32<BlockQ5_0, UnpackNibbleBlock<BlockQ5_0, 16, true>, false>;
    case GgmlType::kQ5_1: return DotQ32<BlockQ5_1, UnpackNibbleBlock<BlockQ5_1, 0, true>, true>;
    case GgmlType::kQ4_K: return DotQ4KLike<false>;
    case GgmlType::kQ5_K: return DotQ4KLike<true>;
    case GgmlType::kQ6_K: return DotQ6K;
    case GgmlType::kQ8_K: return DotQ8K;
    default: return nullptr;
  }
}

}  // namespace quant_internal

}  // namespace gorae
