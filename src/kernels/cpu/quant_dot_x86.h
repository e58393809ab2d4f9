// The x86 SIMD dot kernels, written once and compiled twice: quant_dot_avx2.cc and
// quant_dot_avx512.cc each switch on their target ISA (#pragma GCC target), define the two
// int8 primitives below, and include this file. Everything here is in an anonymous namespace,
// so each translation unit keeps its own copy compiled for its own ISA (a shared inline function
// would be merged by the linker and could run AVX-512 code on an AVX2-only CPU).
//
// Primitives the including file defines (u: 32 unsigned bytes, s: 32 signed bytes):
//   __m256i DotU8S8(__m256i u, __m256i s)
//       8 int32 lanes, lane i = sum of u*s over bytes 4i..4i+3
//   __m256i ScaledDotU8S8(__m256i u, __m256i s, int sa, int sb)
//       8 int32 lanes holding the same sums times sa (bytes 0-15) or sb (bytes 16-31)
//   __m256i ScaledDotAcc(__m256i acc, __m256i u, __m256i s, __m256i scales16)
//       acc + the pair sums of u*s times int16 lane i of scales16 (bytes 2i, 2i+1), summed in pairs
//   __m256i DotU8S8Acc(__m256i acc, __m256i u, __m256i s)
//       acc + DotU8S8(u, s)
// and constexpr bool kLaneScaledKTiles: which K-quant tiles the level uses (see below).
// u * s must stay below 2^15 per byte pair (AVX2's maddubs saturates at int16): weights are at most
// 6 bits unsigned, or 7 bits in absolute value with the sign moved onto the activation.
//
// Each kernel mirrors the scalar one in quant_dot_ref.cc (same integer sums, one fp32 multiply per
// block); only the order of fp32 additions differs.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant_dot.h"
#include "tensor/quant.h"

namespace gorae::quant_internal {
namespace {

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float Half(uint16_t h) { return _cvtsh_ss(h); }

// Signed weights: move the sign onto the activation so the weight side is unsigned.
inline __m256i DotS8S8(__m256i w, __m256i x) {
  return DotU8S8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

// ---- fp32 activation: F32, F16, BF16 weights ----

// Sum of w[i] * y[i] over n (a multiple of 8) values; load8(i) gives w[i..i+7] as fp32.
template <typename Load8>
inline float DotFloat(const float* y, int64_t n, Load8 load8) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(load8(i), _mm256_loadu_ps(y + i), a0);
    a1 = _mm256_fmadd_ps(load8(i + 8), _mm256_loadu_ps(y + i + 8), a1);
  }
  if (i < n) a0 = _mm256_fmadd_ps(load8(i), _mm256_loadu_ps(y + i), a0);
  return HorizontalSum(_mm256_add_ps(a0, a1));
}

inline float Bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float SimdDotF32(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t n8 = n & ~int64_t{7};
  float s = DotFloat(y, n8, [x](int64_t i) { return _mm256_loadu_ps(x + i); });
  for (int64_t i = n8; i < n; ++i) s += x[i] * y[i];  // tail without reading past the row
  return s;
}

float SimdDotF16(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t n8 = n & ~int64_t{7};
  float s = DotFloat(y, n8, [x](int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
  });
  for (int64_t i = n8; i < n; ++i) s += Half(x[i]) * y[i];
  return s;
}

float SimdDotBF16(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const float*>(a);
  const int64_t n8 = n & ~int64_t{7};
  float s = DotFloat(y, n8, [x](int64_t i) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  });
  for (int64_t i = n8; i < n; ++i) s += Bf16(x[i]) * y[i];
  return s;
}

// ---- 32-blocks with the Q8 activation ----

float SimdDotQ8_0(const void* w, const void* a, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8Act*>(a);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const int64_t nb = n / kQK;
  int64_t k = 0;
  for (; k + 2 <= nb; k += 2) {  // two blocks per step: independent chains for the FMAs
    const __m256i p0 = DotS8S8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs)),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k].qs)));
    const __m256i p1 = DotS8S8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k + 1].qs)),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k + 1].qs)));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(Half(b[k].d) * y[k].d), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(Half(b[k + 1].d) * y[k + 1].d), acc1);
  }
  for (; k < nb; ++k) {
    const __m256i p = DotS8S8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs)),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k].qs)));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(Half(b[k].d) * y[k].d), acc0);
  }
  return HorizontalSum(_mm256_add_ps(acc0, acc1));
}

// 16 packed bytes -> 32 nibbles in value order (low nibbles are values 0-15, high 16-31).
inline __m256i UnpackNibbles16(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

float SimdDotQ4_0(const void* w, const void* a, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8Act*>(a);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const __m256i eight = _mm256_set1_epi8(8);
  const int64_t nb = n / kQK;
  int64_t k = 0;
  for (; k + 2 <= nb; k += 2) {
    const __m256i q0 = _mm256_sub_epi8(UnpackNibbles16(b[k].qs), eight);
    const __m256i q1 = _mm256_sub_epi8(UnpackNibbles16(b[k + 1].qs), eight);
    const __m256i p0 = DotS8S8(q0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k].qs)));
    const __m256i p1 = DotS8S8(q1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k + 1].qs)));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(Half(b[k].d) * y[k].d), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(Half(b[k + 1].d) * y[k + 1].d), acc1);
  }
  for (; k < nb; ++k) {
    const __m256i q = _mm256_sub_epi8(UnpackNibbles16(b[k].qs), eight);
    const __m256i p = DotS8S8(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k].qs)));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(Half(b[k].d) * y[k].d), acc0);
  }
  return HorizontalSum(_mm256_add_ps(acc0, acc1));
}

// 32 bits -> 32 bytes, byte i = 0xFF where bit i is set.
inline __m256i ExpandBits32(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  // Byte i takes byte i/8 of the word (shuffle works per 128-bit half; the word is in both), then
  // tests its bit i%8.
  const __m256i pick = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), pick);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
  return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

// The 32 signed values of each 32-block type, in value order.
inline __m256i BlockValues(const BlockQ8_0& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
inline __m256i BlockValues(const BlockQ4_0& b) { return _mm256_sub_epi8(UnpackNibbles16(b.qs), _mm256_set1_epi8(8)); }
inline __m256i BlockValues(const BlockQ5_0& b) {  // (nibble | high bit << 4) - 16, in -16..15
  const __m256i high = _mm256_and_si256(ExpandBits32(b.qh), _mm256_set1_epi8(0x10));
  return _mm256_sub_epi8(_mm256_or_si256(UnpackNibbles16(b.qs), high), _mm256_set1_epi8(16));
}

float SimdDotQ5_0(const void* w, const void* a, int64_t n) {
  const auto* b = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8Act*>(a);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const int64_t nb = n / kQK;
  int64_t k = 0;
  for (; k + 2 <= nb; k += 2) {
    const __m256i p0 = DotS8S8(BlockValues(b[k]), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k].qs)));
    const __m256i p1 = DotS8S8(BlockValues(b[k + 1]), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k + 1].qs)));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(Half(b[k].d) * y[k].d), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(Half(b[k + 1].d) * y[k + 1].d), acc1);
  }
  for (; k < nb; ++k) {
    const __m256i p = DotS8S8(BlockValues(b[k]), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[k].qs)));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(Half(b[k].d) * y[k].d), acc0);
  }
  return HorizontalSum(_mm256_add_ps(acc0, acc1));
}

// ---- K-quants with the Q8_K activation ----

inline __m256i Load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The 256 six-bit values of a Q6_K block (0..63, the -32 offset not applied), 32 per register:
// q[i] holds values 32i..32i+31 (low 4 bits from ql, high 2 from qh).
inline void UnpackQ6KValues(const BlockQ6_K& b, __m256i q[8]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = Load256(b.ql + 64 * h);
    const __m256i ql1 = Load256(b.ql + 64 * h + 32);
    const __m256i qh = Load256(b.qh + 32 * h);
    q[4 * h] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
    q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
    q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
    q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
  }
}

inline void Store256(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// The values of a K-quant super-block as 8 registers and back. Unpack gives register j = values
// 32j..32j+31 of a block in QuantLayout::kGgml (for Q4_K/Q5_K: sub-block j), without offsets or
// scales; Pack writes 8 such registers into the value bytes of a block (nothing else) so that
// Unpack gives them back. The repacking at load (RepackBlocks) is Unpack, InterleaveLanes, Pack.
template <bool kFive>
struct Q4KLikeValues {
  static constexpr size_t kBlockBytes = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  static constexpr size_t kQs = kFive ? 48 : 16;  // offset of qs; Q5_K's qh is at 16

  // Chunk c of qs: values 64c.. in the low nibbles, 64c+32.. in the high; Q5_K's fifth bit of value
  // 64c+l is bit 2c of qh[l], of 64c+32+l bit 2c+1.
  static void Unpack(const uint8_t* blk, __m256i q[8]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFive) hbits = Load256(blk + 16);
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = Load256(blk + kQs + 32 * c);
      q[2 * c] = _mm256_and_si256(raw, low4);
      q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
      if constexpr (kFive) {
        q[2 * c] = _mm256_or_si256(q[2 * c], _mm256_slli_epi16(_mm256_and_si256(hbits, one), 4));
        q[2 * c + 1] = _mm256_or_si256(q[2 * c + 1],
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 1), one), 4));
        hbits = _mm256_srli_epi16(hbits, 2);
      }
    }
  }

  // The 16-bit shifts move bits across the two bytes of a word; every shifted term is masked to
  // bits that came from its own byte.
  static void Pack(const __m256i q[8], uint8_t* blk) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i high4 = _mm256_set1_epi8(static_cast<char>(0xF0));
    const __m256i one = _mm256_set1_epi8(1);
    __m256i hbits = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      Store256(blk + kQs + 32 * c, _mm256_or_si256(_mm256_and_si256(q[2 * c], low4),
                                                   _mm256_and_si256(_mm256_slli_epi16(q[2 * c + 1], 4), high4)));
      if constexpr (kFive) {
        for (int j = 2 * c; j < 2 * c + 2; ++j) {  // bit 4 of register j -> bit j of qh
          const __m256i bit = _mm256_and_si256(_mm256_srli_epi16(q[j], 4), one);
          hbits = _mm256_or_si256(hbits, _mm256_slli_epi16(bit, j));
        }
      }
    }
    if constexpr (kFive) Store256(blk + 16, hbits);
  }
};

struct Q6KValues {
  static constexpr size_t kBlockBytes = sizeof(BlockQ6_K);

  static void Unpack(const uint8_t* blk, __m256i q[8]) { UnpackQ6KValues(*reinterpret_cast<const BlockQ6_K*>(blk), q); }

  // The inverse of UnpackQ6KValues (see there for which bits go where); masks as in Q4KLikeValues.
  static void Pack(const __m256i q[8], uint8_t* blk) {
    auto& b = *reinterpret_cast<BlockQ6_K*>(blk);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i high4 = _mm256_set1_epi8(static_cast<char>(0xF0));
    const auto bits = [](__m256i v, int mask) { return _mm256_and_si256(v, _mm256_set1_epi8(static_cast<char>(mask))); };
    for (int h = 0; h < 2; ++h) {
      const __m256i* r = q + 4 * h;
      Store256(b.ql + 64 * h, _mm256_or_si256(_mm256_and_si256(r[0], low4), _mm256_and_si256(_mm256_slli_epi16(r[2], 4), high4)));
      Store256(b.ql + 64 * h + 32,
               _mm256_or_si256(_mm256_and_si256(r[1], low4), _mm256_and_si256(_mm256_slli_epi16(r[3], 4), high4)));
      const __m256i qh = _mm256_or_si256(
          _mm256_or_si256(bits(_mm256_srli_epi16(r[0], 4), 0x03), bits(_mm256_srli_epi16(r[1], 2), 0x0C)),
          _mm256_or_si256(bits(r[2], 0x30), bits(_mm256_slli_epi16(r[3], 2), 0xC0)));
      Store256(b.qh + 32 * h, qh);
    }
  }
};

// Q4_K and Q5_K: sum_j sc_j * dot_j(q, y) in int32 lanes, the mins from the activation's bsums.
template <bool kFive>
float SimdDotQ4KLike(const void* w, const void* a, int64_t n) {
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const size_t block_bytes = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  float acc_min = 0.0f;
  for (int64_t k = 0; k < n / kQKK; ++k) {
    const uint8_t* blk = static_cast<const uint8_t*>(w) + k * block_bytes;
    uint16_t dh, dminh;
    std::memcpy(&dh, blk, 2);
    std::memcpy(&dminh, blk + 2, 2);
    const uint8_t* scales = blk + 4;
    const uint8_t* qs = blk + (kFive ? 48 : 16);
    uint8_t sc[8], m[8];
    int summ = 0;
    for (int j = 0; j < 8; ++j) {
      UnpackScaleMinK4(scales, j, &sc[j], &m[j]);
      summ += m[j] * (y[k].bsums[2 * j] + y[k].bsums[2 * j + 1]);
    }
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFive) hbits = Load256(blk + 16);
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = Load256(qs + 32 * c);
      __m256i lo = _mm256_and_si256(q, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (kFive) {  // fifth bit of value 64c+l is bit 2c of qh[l], of 64c+32+l bit 2c+1
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hbits, one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 1), one), 4));
        hbits = _mm256_srli_epi16(hbits, 2);
      }
      const __m256i p_lo = ScaledDotU8S8(lo, Load256(y[k].qs + 64 * c), sc[2 * c], sc[2 * c]);
      const __m256i p_hi = ScaledDotU8S8(hi, Load256(y[k].qs + 64 * c + 32), sc[2 * c + 1], sc[2 * c + 1]);
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p_lo, p_hi));
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(Half(dh) * y[k].d), acc);
    acc_min += Half(dminh) * y[k].d * summ;
  }
  return HorizontalSum(acc) - acc_min;
}

// Q6_K: values q in 0..63 dotted unsigned; the -32 offset comes back through the bsums.
float SimdDotQ6K(const void* w, const void* a, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  float acc_off = 0.0f;
  for (int64_t k = 0; k < n / kQKK; ++k) {
    const int8_t* sc = b[k].scales;
    int off = 0;
    for (int j = 0; j < 16; ++j) off += sc[j] * y[k].bsums[j];
    __m256i sumi = _mm256_setzero_si256();
    __m256i q[8];
    UnpackQ6KValues(b[k], q);
    for (int h = 0; h < 2; ++h) {
      for (int kk = 0; kk < 4; ++kk) {
        const int j = 8 * h + 2 * kk;  // scale index of the first 16 values
        sumi = _mm256_add_epi32(
            sumi, ScaledDotU8S8(q[4 * h + kk], Load256(y[k].qs + 128 * h + 32 * kk), sc[j], sc[j + 1]));
      }
    }
    const float d = Half(b[k].d) * y[k].d;
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d), acc);
    acc_off += d * 32 * off;
  }
  return HorizontalSum(acc) - acc_off;
}

// ---- Tiles for many activations (prefill): one weight row against C activation rows ----
//
// The row kernels above unpack a weight block (nibbles, high bits, 6-bit scales and mins) for
// every (row, activation) pair; in a prefill of T tokens that unpacking is repeated T times per
// weight block and costs more than the integer dot itself. A tile unpacks each block once into
// registers (spilled to L1 where the ISA has too few) and dots it with C activations, so the
// per-pair work is the multiply-adds and a few fp32 operations. The mins (Q4_K/Q5_K) and the -32
// offset (Q6_K) come from the activation's bsums in SIMD (one madd per pair) instead of a scalar
// loop. Each output is the same integer sums as the row kernel, with the fp32 additions in
// another order.

// Q4_K and Q5_K.
template <bool kFive, int C>
void TileQ4KLike(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
  const size_t block_bytes = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  __m256 acc[C];
  for (int t = 0; t < C; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n / kQKK; ++k) {
    const uint8_t* blk = w + k * block_bytes;
    uint16_t dh, dminh;
    std::memcpy(&dh, blk, 2);
    std::memcpy(&dminh, blk + 2, 2);
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; ++j) UnpackScaleMinK4(blk + 4, j, &sc[j], &m[j]);
    __m256i scale[8];
    for (int j = 0; j < 8; ++j) scale[j] = _mm256_set1_epi16(sc[j]);
    // bsums[i] sums values 16i..16i+15, so sub-block j's min pairs with bsums 2j and 2j+1.
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_set_epi8(
        static_cast<char>(m[7]), static_cast<char>(m[7]), static_cast<char>(m[6]), static_cast<char>(m[6]),
        static_cast<char>(m[5]), static_cast<char>(m[5]), static_cast<char>(m[4]), static_cast<char>(m[4]),
        static_cast<char>(m[3]), static_cast<char>(m[3]), static_cast<char>(m[2]), static_cast<char>(m[2]),
        static_cast<char>(m[1]), static_cast<char>(m[1]), static_cast<char>(m[0]), static_cast<char>(m[0])));
    __m256i q[8];  // q[j]: sub-block j (values 32j..32j+31)
    Q4KLikeValues<kFive>::Unpack(blk, q);
    const __m256 d = _mm256_set1_ps(Half(dh)), dmin = _mm256_set1_ps(Half(dminh));
    for (int t = 0; t < C; ++t) {
      const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride) + k;
      __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();  // two chains
      for (int j = 0; j < 8; j += 2) {
        s0 = ScaledDotAcc(s0, q[j], Load256(y->qs + 32 * j), scale[j]);
        s1 = ScaledDotAcc(s1, q[j + 1], Load256(y->qs + 32 * j + 32), scale[j + 1]);
      }
      const __m256i summ = _mm256_madd_epi16(Load256(y->bsums), mins);
      const __m256 dy = _mm256_set1_ps(y->d);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_mul_ps(d, dy), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_mul_ps(dmin, dy), acc[t]);
    }
  }
  for (int t = 0; t < C; ++t) out[t * ldo] = HorizontalSum(acc[t]);
}

template <bool kFive>
struct Q4KLikeTile {
  template <int C>
  static void Run(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
    TileQ4KLike<kFive, C>(w, act, act_stride, n, out, ldo);
  }
};

// Q6_K: values 0..63 dotted unsigned, the -32 offset (32 * sum_j sc_j * bsums_j) subtracted in
// the int32 lanes, as both share the scale d * dy.
template <int C>
void TileQ6K(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
  __m256 acc[C];
  for (int t = 0; t < C; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n / kQKK; ++k) {
    const auto& b = reinterpret_cast<const BlockQ6_K*>(w)[k];
    __m256i q[8], scale[8];  // q[i]: values 32i..32i+31, scaled by sc[2i] (first 16) and sc[2i+1]
    UnpackQ6KValues(b, q);
    for (int i = 0; i < 8; ++i) {
      scale[i] = _mm256_set_m128i(_mm_set1_epi16(b.scales[2 * i + 1]), _mm_set1_epi16(b.scales[2 * i]));
    }
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    const __m256 d = _mm256_set1_ps(Half(b.d));
    for (int t = 0; t < C; ++t) {
      const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride) + k;
      __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
      for (int i = 0; i < 8; i += 2) {
        s0 = ScaledDotAcc(s0, q[i], Load256(y->qs + 32 * i), scale[i]);
        s1 = ScaledDotAcc(s1, q[i + 1], Load256(y->qs + 32 * i + 32), scale[i + 1]);
      }
      const __m256i off = _mm256_madd_epi16(Load256(y->bsums), sc16);
      const __m256i sumi = _mm256_sub_epi32(_mm256_add_epi32(s0, s1), _mm256_slli_epi32(off, 5));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_mul_ps(d, _mm256_set1_ps(y->d)), acc[t]);
    }
  }
  for (int t = 0; t < C; ++t) out[t * ldo] = HorizontalSum(acc[t]);
}

struct Q6KTile {
  template <int C>
  static void Run(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
    TileQ6K<C>(w, act, act_stride, n, out, ldo);
  }
};

// The 12 packed bytes of Q4_K/Q5_K scales and mins (layout in UnpackScaleMinK4) to four words,
// byte j of sc_lo = scale j, of sc_hi = scale 4 + j, the same for the mins: word masks instead of
// eight UnpackScaleMinK4 calls.
inline void UnpackScalesMinsK4Words(const uint8_t* s, uint32_t* sc_lo, uint32_t* sc_hi, uint32_t* m_lo,
                                    uint32_t* m_hi) {
  uint32_t u[3];
  std::memcpy(u, s, 12);
  *sc_lo = u[0] & 0x3F3F3F3Fu;
  *m_lo = u[1] & 0x3F3F3F3Fu;
  *sc_hi = (u[2] & 0x0F0F0F0Fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  *m_hi = ((u[2] >> 4) & 0x0F0F0F0Fu) | (((u[1] >> 6) & 0x03030303u) << 4);
}

// K-quant tiles with the sub-blocks in separate int32 lanes (the AVX-512 VNNI choice). A byte dot
// DotU8S8Acc (one vpdpbusd) sums 4 byte pairs into a lane; if every lane of a register holds
// bytes of one sub-block, the whole super-block accumulates with no per-sub-block scale multiply,
// and the scales apply once per super-block to the int32 lanes, in fp32. InterleaveLanes puts the
// 8 registers of a super-block (register j: values 32j..32j+31) into that form; the activation
// goes through the same InterleaveLanes when it is quantized (SimdQuantizeQ8K<true>), so the pairs match.
// Weights in QuantLayout::kLaneInterleaved had their InterleaveLanes done once, at load
// (RepackBlocks), so their plain unpack is already in that form.
//
// Lane l of out[4g + i] is lane 4 * (l / 4) + i of in[4g + l % 4]: in out[0..3], lanes l and
// l + 4 hold bytes of register l % 4, in out[4..7] of register 4 + l % 4. 16 in-lane unpacks.
inline void InterleaveLanes(const __m256i in[8], __m256i out[8]) {
  for (int g = 0; g < 2; ++g) {
    const __m256i* r = in + 4 * g;
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    out[4 * g] = _mm256_unpacklo_epi64(t0, t2);
    out[4 * g + 1] = _mm256_unpackhi_epi64(t0, t2);
    out[4 * g + 2] = _mm256_unpacklo_epi64(t1, t3);
    out[4 * g + 3] = _mm256_unpackhi_epi64(t1, t3);
  }
}

// The Q8_K activation in SIMD, byte for byte the reference QuantizeQ8K (the same fp32 multiply
// by 1/d, rounded to nearest even by cvtps; |x / d| <= 127 so nothing saturates), with the 256
// values of each super-block in plain order or through InterleaveLanes (kInterleave: the layout
// the lane-scaled tiles read; d and the bsums do not depend on the order).
template <bool kInterleave>
void SimdQuantizeQ8K(const float* x, int64_t n, uint8_t* dst) {
  auto* y = reinterpret_cast<BlockQ8_K*>(dst);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // undoes the packs' lane interleave
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t k = 0; k < n / kQKK; ++k, x += kQKK) {
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < kQKK; i += 8) amax = _mm256_max_ps(amax, _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float d = _mm_cvtss_f32(m4) / 127;
    const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    y[k].d = d;
    __m256i q[8];
    for (int j = 0; j < 8; ++j) {
      const float* xj = x + 32 * j;
      const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xj), id));
      const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xj + 8), id));
      const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xj + 16), id));
      const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xj + 24), id));
      const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
      q[j] = _mm256_permutevar8x32_epi32(b, order);
      // bsums: sad sums 8 bytes per 64-bit lane; the bytes are biased by 128 to make them unsigned.
      const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(q[j], flip), _mm256_setzero_si256());
      const __m128i s01 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm_srli_si128(_mm256_castsi256_si128(s), 8));
      const __m128i hi = _mm256_extracti128_si256(s, 1);
      const __m128i s23 = _mm_add_epi64(hi, _mm_srli_si128(hi, 8));
      y[k].bsums[2 * j] = static_cast<int16_t>(_mm_cvtsi128_si32(s01) - 16 * 128);
      y[k].bsums[2 * j + 1] = static_cast<int16_t>(_mm_cvtsi128_si32(s23) - 16 * 128);
    }
    if constexpr (kInterleave) {
      __m256i out[8];
      InterleaveLanes(q, out);
      for (int j = 0; j < 8; ++j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[k].qs + 32 * j), out[j]);
    } else {
      for (int j = 0; j < 8; ++j) _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[k].qs + 32 * j), q[j]);
    }
  }
}

// The values of a super-block in lane order: in kGgml through InterleaveLanes, in kLaneInterleaved
// as they unpack.
template <typename Values, QuantLayout kLayout>
inline void UnpackLanes(const uint8_t* blk, __m256i out[8]) {
  if constexpr (kLayout == QuantLayout::kLaneInterleaved) {
    Values::Unpack(blk, out);
  } else {
    __m256i q[8];
    Values::Unpack(blk, q);
    InterleaveLanes(q, out);
  }
}

// QuantLayout::kGgml <-> kLaneInterleaved for `blocks` super-blocks: each block's values unpacked,
// put through InterleaveLanes and packed back; d, dmin and the scales copied. InterleaveLanes is its
// own inverse (a 4 x 4 transpose of int32 lanes in each 128-bit half), so the same call converts
// back. dst may equal src (a block is in registers before it is written).
template <typename Values>
void RepackBlocks(const uint8_t* src, uint8_t* dst, int64_t blocks) {
  for (int64_t k = 0; k < blocks; ++k) {
    const uint8_t* from = src + k * Values::kBlockBytes;
    uint8_t* to = dst + k * Values::kBlockBytes;
    __m256i q[8], lanes[8];
    Values::Unpack(from, q);
    InterleaveLanes(q, lanes);
    if (to != from) std::memcpy(to, from, Values::kBlockBytes);
    Values::Pack(lanes, to);
  }
}

// One super-block of weights ready for the lane-scaled tile: the values, interleaved; the fp32
// scale of each lane of the first and second accumulator (d times the sub-block scale); and the
// offset term, sum_i off16[i] * bsums[i] times off_scale, that the tile subtracts.
struct LaneScaledBlock {
  __m256i q[8];
  __m256 scale_a, scale_b;
  __m256i off16;
  __m256 off_scale;
};

// Q4_K / Q5_K: register j is sub-block j, so accumulator a's lanes are sub-blocks 0-3 (twice),
// b's 4-7; the offset is the mins: dmin * sum_j m_j * (bsums[2j] + bsums[2j+1]).
template <bool kFive, QuantLayout kLayout>
inline void UnpackLaneScaledQ4KLike(const uint8_t* blk, LaneScaledBlock* out) {
  uint16_t dh, dminh;
  std::memcpy(&dh, blk, 2);
  std::memcpy(&dminh, blk + 2, 2);
  uint32_t sc_lo, sc_hi, m_lo, m_hi;  // bytes j of the 8 scales and 8 mins, 4 to a word
  UnpackScalesMinsK4Words(blk + 4, &sc_lo, &sc_hi, &m_lo, &m_hi);
  const __m256 d = _mm256_set1_ps(Half(dh));
  // Lanes l and l + 4 of accumulator a are sub-block l % 4: the four scales twice.
  out->scale_a = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_set1_epi32(static_cast<int>(sc_lo)))));
  out->scale_b = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_set1_epi32(static_cast<int>(sc_hi)))));
  const __m128i m8 = _mm_setr_epi32(static_cast<int>(m_lo), static_cast<int>(m_hi), 0, 0);
  out->off16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m_j for bsums 2j and 2j+1
  out->off_scale = _mm256_set1_ps(Half(dminh));
  UnpackLanes<Q4KLikeValues<kFive>, kLayout>(blk, out->q);
}

// Q6_K: register i holds sub-blocks 2i (bytes 0-15, lanes 0-3) and 2i+1, so accumulator a's lanes
// are sub-blocks 0,2,4,6,1,3,5,7 and b's 8,10,..,15; the offset is the -32: 32 d sum_j sc_j bsums_j.
template <QuantLayout kLayout>
inline void UnpackLaneScaledQ6K(const uint8_t* blk, LaneScaledBlock* out) {
  const auto& b = *reinterpret_cast<const BlockQ6_K*>(blk);
  UnpackLanes<Q6KValues, kLayout>(blk, out->q);
  const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
  const __m128i order = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
  const __m128i sc_lanes = _mm_shuffle_epi8(sc, order);
  const __m256 d = _mm256_set1_ps(Half(b.d));
  out->scale_a = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc_lanes)));
  out->scale_b = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc_lanes, 8))));
  out->off16 = _mm256_cvtepi8_epi16(sc);
  out->off_scale = _mm256_mul_ps(_mm256_set1_ps(32.0f), d);
}

template <void (*Unpack)(const uint8_t*, LaneScaledBlock*), size_t kBlockBytes, int C>
void TileLaneScaled(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
  __m256 acc[C];
  for (int t = 0; t < C; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n / kQKK; ++k) {
    LaneScaledBlock blk;
    Unpack(w + k * kBlockBytes, &blk);
    for (int t = 0; t < C; ++t) {
      const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(act + t * act_stride) + k;
      __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
      for (int i = 0; i < 4; ++i) {
        a = DotU8S8Acc(a, blk.q[i], Load256(y->qs + 32 * i));
        b = DotU8S8Acc(b, blk.q[4 + i], Load256(y->qs + 32 * (4 + i)));
      }
      const __m256 s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(b), blk.scale_b, _mm256_mul_ps(_mm256_cvtepi32_ps(a), blk.scale_a));
      const __m256 off = _mm256_cvtepi32_ps(_mm256_madd_epi16(Load256(y->bsums), blk.off16));
      acc[t] = _mm256_fmadd_ps(_mm256_fnmadd_ps(off, blk.off_scale, s), _mm256_set1_ps(y->d), acc[t]);
    }
  }
  for (int t = 0; t < C; ++t) out[t * ldo] = HorizontalSum(acc[t]);
}

template <void (*Unpack)(const uint8_t*, LaneScaledBlock*), size_t kBlockBytes>
struct LaneScaledTile {
  template <int C>
  static void Run(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
    TileLaneScaled<Unpack, kBlockBytes, C>(w, act, act_stride, n, out, ldo);
  }
};

// Symmetric 32-blocks (Q8_0, Q4_0, Q5_0): the weight's absolute values are taken once per block,
// its sign moves onto each activation.
template <typename Block, int C>
void TileQ32(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
  __m256 acc[C];
  for (int t = 0; t < C; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t k = 0; k < n / kQK; ++k) {
    const Block& b = reinterpret_cast<const Block*>(w)[k];
    const __m256i q = BlockValues(b);
    const __m256i abs_q = _mm256_sign_epi8(q, q);
    const __m256 d = _mm256_set1_ps(Half(b.d));
    for (int t = 0; t < C; ++t) {
      const BlockQ8Act* y = reinterpret_cast<const BlockQ8Act*>(act + t * act_stride) + k;
      const __m256i p = DotU8S8(abs_q, _mm256_sign_epi8(Load256(y->qs), q));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(d, _mm256_set1_ps(y->d)), acc[t]);
    }
  }
  for (int t = 0; t < C; ++t) out[t * ldo] = HorizontalSum(acc[t]);
}

template <typename Block>
struct Q32Tile {
  template <int C>
  static void Run(const uint8_t* w, const uint8_t* act, size_t act_stride, int64_t n, float* out, int64_t ldo) {
    TileQ32<Block, C>(w, act, act_stride, n, out, ldo);
  }
};

// Activations per tile: 8 amortizes a block's unpacking (and, on VNNI, its lane interleave) over
// enough dot products that it is a small share, while 8 fp32 accumulators still fit in registers
// beside the unpacked block on AVX-512VL. Not tuned beyond that.
constexpr int kTileTokens = 8;
// The lane-scaled tiles are also the faster decode kernel (C = 1): their scale decoding and
// vpdpbusd beat the row kernels' per-sub-block scale multiply even with nothing to amortize
// (bench/quant, 8960 x 1536, one input: Q4_K 410 -> 313 us, Q6_K 490 -> 306 us on Zen 4).

// Rows [0, rows) of one tile of C activations. Within a tile the rows go in order, so the tile's
// activation blocks stay in cache for all the rows the caller passes (a slice sized for L2).
template <typename Tile, int C>
void TileRows(const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* act, size_t act_stride,
              int64_t n, float* out, int64_t ldo) {
  for (int64_t r = 0; r < rows; ++r) Tile::template Run<C>(w + r * w_stride, act, act_stride, n, out + r, ldo);
}

// The last tile, of `rest` < kTileTokens activations: the instance for C = rest.
template <typename Tile, int C>
void LastTileRows(int64_t rest, const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* act,
                  size_t act_stride, int64_t n, float* out, int64_t ldo) {
  if constexpr (C > 0) {
    if (rest == C) return TileRows<Tile, C>(w, w_stride, rows, act, act_stride, n, out, ldo);
    LastTileRows<Tile, C - 1>(rest, w, w_stride, rows, act, act_stride, n, out, ldo);
  }
}

// The GemmFn over a tile kind: full tiles of kTileTokens activations, then one narrower tile.
template <typename Tile>
void GemmTiles(const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* act, size_t act_stride,
               int64_t tokens, int64_t n, float* out, int64_t ldo) {
  int64_t t0 = 0;
  for (; t0 + kTileTokens <= tokens; t0 += kTileTokens) {
    TileRows<Tile, kTileTokens>(w, w_stride, rows, act + t0 * act_stride, act_stride, n, out + t0 * ldo, ldo);
  }
  LastTileRows<Tile, kTileTokens - 1>(tokens - t0, w, w_stride, rows, act + t0 * act_stride, act_stride, n,
                                      out + t0 * ldo, ldo);
}

// The lane-scaled tiles over K-quant weights in `kLayout`.
template <QuantLayout kLayout>
Gemm LaneScaledGemm(GgmlType t) {
  switch (t) {
    case GgmlType::kQ4_K:
      return {GemmTiles<LaneScaledTile<UnpackLaneScaledQ4KLike<false, kLayout>, sizeof(BlockQ4_K)>>,
              SimdQuantizeQ8K<true>, true};
    case GgmlType::kQ5_K:
      return {GemmTiles<LaneScaledTile<UnpackLaneScaledQ4KLike<true, kLayout>, sizeof(BlockQ5_K)>>,
              SimdQuantizeQ8K<true>, true};
    case GgmlType::kQ6_K:
      return {GemmTiles<LaneScaledTile<UnpackLaneScaledQ6K<kLayout>, sizeof(BlockQ6_K)>>, SimdQuantizeQ8K<true>, true};
    default: return {};
  }
}

Gemm SimdGemmKernel(GgmlType t, QuantLayout layout) {
  if (layout == QuantLayout::kLaneInterleaved) {
    if constexpr (kLaneScaledKTiles) return LaneScaledGemm<QuantLayout::kLaneInterleaved>(t);
    return {};  // this level cannot read it
  }
  switch (t) {
    case GgmlType::kQ8_0: return {GemmTiles<Q32Tile<BlockQ8_0>>, nullptr};
    case GgmlType::kQ4_0: return {GemmTiles<Q32Tile<BlockQ4_0>>, nullptr};
    case GgmlType::kQ5_0: return {GemmTiles<Q32Tile<BlockQ5_0>>, nullptr};
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      if constexpr (kLaneScaledKTiles) return LaneScaledGemm<QuantLayout::kGgml>(t);
      if (t == GgmlType::kQ4_K) return {GemmTiles<Q4KLikeTile<false>>, SimdQuantizeQ8K<false>};
      if (t == GgmlType::kQ5_K) return {GemmTiles<Q4KLikeTile<true>>, SimdQuantizeQ8K<false>};
      return {GemmTiles<Q6KTile>, SimdQuantizeQ8K<false>};
    default: return {};
  }
}

// The kGgml <-> kLaneInterleaved conversion for t where this level's tiles read kLaneInterleaved.
inline RepackFn SimdRepackKernel(GgmlType t) {  // inline: only the AVX-512 file uses it
  if constexpr (!kLaneScaledKTiles) return nullptr;
  switch (t) {
    case GgmlType::kQ4_K: return RepackBlocks<Q4KLikeValues<false>>;
    case GgmlType::kQ5_K: return RepackBlocks<Q4KLikeValues<true>>;
    case GgmlType::kQ6_K: return RepackBlocks<Q6KValues>;
    default: return nullptr;
  }
}

DotFn SimdDotKernel(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: return SimdDotF32;
    case GgmlType::kF16: return SimdDotF16;
    case GgmlType::kBF16: return SimdDotBF16;
    case GgmlType::kQ8_0: return SimdDotQ8_0;
    case GgmlType::kQ4_0: return SimdDotQ4_0;
    case GgmlType::kQ5_0: return SimdDotQ5_0;
    case GgmlType::kQ4_K: return SimdDotQ4KLike<false>;
    case GgmlType::kQ5_K: return SimdDotQ4KLike<true>;
    case GgmlType::kQ6_K: return SimdDotQ6K;
    default: return nullptr;
  }
}

}  // namespace
}  // namespace gorae::quant_internal
