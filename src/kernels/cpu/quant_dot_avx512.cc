// AVX-512 VNNI dot kernels: the same kernels as AVX2 on 256-bit registers (AVX512VL), with
// vpdpbusd doing u8 x s8 -> int32 in one instruction instead of maddubs + madd where no scale
// multiply follows (Q8_0, Q4_0). 256-bit
// registers keep one 32-value block per register and avoid the clock penalties some CPUs take
// on 512-bit code; Zen 4 splits 512-bit operations in two anyway.
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
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")

namespace gorae::quant_internal {
namespace {

inline __m256i DotU8S8(__m256i u, __m256i s) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}
// With a scale to apply, maddubs + madd (the scale multiply rides on madd) measured faster than
// vpdpbusd + vpmulld on Zen 4 (Q5_K: 1.7 vs 2.4 ms for a 4096x4096 product, docs/gguf.md).
inline __m256i ScaledDotU8S8(__m256i u, __m256i s, int sa, int sb) {
  const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(sb)),
                                          _mm_set1_epi16(static_cast<int16_t>(sa)));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scales);
}

// acc + the ScaledDotU8S8 sums with the scales given as 16 int16 lanes: vpdpwssd does the scale
// multiply and the accumulation in one instruction.
inline __m256i ScaledDotAcc(__m256i acc, __m256i u, __m256i s, __m256i scales16) {
  return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, s), scales16);
}

// acc + DotU8S8(u, s), in one vpdpbusd.
inline __m256i DotU8S8Acc(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
// One instruction per 32 byte pairs makes the K-quant tiles that keep sub-blocks in separate
// lanes (scales applied once per super-block in fp32) faster than maddubs + vpdpwssd.
constexpr bool kLaneScaledKTiles = true;

}  // namespace
}  // namespace gorae::quant_internal

#include "kernels/cpu/quant_dot_x86.h"

namespace gorae::quant_internal {
DotFn Avx512DotKernel(GgmlType t) { return SimdDotKernel(t); }
Gemm Avx512GemmKernel(GgmlType t, QuantLayout layout) { return SimdGemmKernel(t, layout); }
RepackFn Avx512RepackKernel(GgmlType t) { return SimdRepackKernel(t); }
}  // namespace gorae::quant_internal

#pragma GCC pop_options

#else

namespace gorae::quant_internal {
DotFn Avx512DotKernel(GgmlType) { return nullptr; }
Gemm Avx512GemmKernel(GgmlType, QuantLayout) { return {}; }
RepackFn Avx512RepackKernel(GgmlType) { return nullptr; }
}  // namespace gorae::quant_internal

#endif
