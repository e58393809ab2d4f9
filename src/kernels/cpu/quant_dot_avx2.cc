// AVX2 dot kernels (avx2 + fma + f16c), compiled for that ISA whatever the build flags, and
// used only when the CPU reports it (quant_dot.cc). Integer dots: maddubs (u8 x s8 -> pairs
// of int16) then madd with the scales (pairs of int16 -> int32).
#include "kernels/cpu/quant_dot_kernels.h"

#if defined(__x86_64__)

// Every header before the target switch: their inline functions must stay compiled for the
// baseline ISA (the linker keeps one copy of each, shared with the portable code).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant_dot.h"
#include "tensor/quant.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace gorae::quant_internal {
namespace {

inline __m256i DotU8S8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
inline __m256i ScaledDotU8S8(__m256i u, __m256i s, int sa, int sb) {
  const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(sb)),
                                          _mm_set1_epi16(static_cast<int16_t>(sa)));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales);
}

// acc + the ScaledDotU8S8 sums with the scales given as 16 int16 lanes (lane i scales the byte pair
// 2i, 2i+1).
inline __m256i ScaledDotAcc(__m256i acc, __m256i u, __m256i s, __m256i scales16) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales16));
}

// acc + DotU8S8(u, s).
inline __m256i DotU8S8Acc(__m256i acc, __m256i u, __m256i s) { return _mm256_add_epi32(acc, DotU8S8(u, s)); }
// Without vpdpbusd a byte dot is maddubs + madd either way, so the tiles that apply the scale in
// the madd need no lane shuffling and are kept.
constexpr bool kLaneScaledKTiles = false;

}  // namespace
}  // namespace gorae::quant_internal

#include "kernels/cpu/quant_dot_x86.h"

namespace gorae::quant_internal {
DotFn Avx2DotKernel(GgmlType t) { return SimdDotKernel(t); }
Gemm Avx2GemmKernel(GgmlType t, QuantLayout layout) { return SimdGemmKernel(t, layout); }
}  // namespace gorae::quant_internal

#pragma GCC pop_options

#else

namespace gorae::quant_internal {
DotFn Avx2DotKernel(GgmlType) { return nullptr; }
Gemm Avx2GemmKernel(GgmlType, QuantLayout) { return {}; }
}  // namespace gorae::quant_internal

#endif
