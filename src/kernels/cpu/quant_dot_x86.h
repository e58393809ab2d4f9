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

// ---- K-quants with the Q8_K activation ----

inline __m256i Load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

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
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  float acc_off = 0.0f;
  for (int64_t k = 0; k < n / kQKK; ++k) {
    const int8_t* sc = b[k].scales;
    int off = 0;
    for (int j = 0; j < 16; ++j) off += sc[j] * y[k].bsums[j];
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = Load256(b[k].ql + 64 * h);
      const __m256i ql1 = Load256(b[k].ql + 64 * h + 32);
      const __m256i qh = Load256(b[k].qh + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45)),
          _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45)),
      };
      for (int kk = 0; kk < 4; ++kk) {
        const int j = 8 * h + 2 * kk;  // scale index of the first 16 values
        sumi = _mm256_add_epi32(
            sumi, ScaledDotU8S8(q[kk], Load256(y[k].qs + 128 * h + 32 * kk), sc[j], sc[j + 1]));
      }
    }
    const float d = Half(b[k].d) * y[k].d;
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d), acc);
    acc_off += d * 32 * off;
  }
  return HorizontalSum(acc) - acc_off;
}

DotFn SimdDotKernel(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: return SimdDotF32;
    case GgmlType::kF16: return SimdDotF16;
    case GgmlType::kBF16: return SimdDotBF16;
    case GgmlType::kQ8_0: return SimdDotQ8_0;
    case GgmlType::kQ4_0: return SimdDotQ4_0;
    case GgmlType::kQ4_K: return SimdDotQ4KLike<false>;
    case GgmlType::kQ5_K: return SimdDotQ4KLike<true>;
    case GgmlType::kQ6_K: return SimdDotQ6K;
    default: return nullptr;
  }
}

}  // namespace
}  // namespace gorae::quant_internal
