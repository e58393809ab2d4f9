// Quantized weight formats: the ggml block layouts, bit for bit, so GGUF files written by
// llama.cpp load and compute unchanged.
//
// A quantized row of n values is n / block_elems blocks stored back to back; each block holds
// its own scale(s) and packed integers. All multi-byte fields are little-endian; "half" is an
// IEEE fp16 bit pattern. Value of element i of a block (q = the stored integer):
//
//   Q8_0  {half d; int8 qs[32]}                                   x = d * qs[i]
//   Q4_0  {half d; u8 qs[16]}      q = nibble, i<16 low, else high  x = d * (q - 8)
//   Q4_1  {half d, m; u8 qs[16]}   as Q4_0                          x = d * q + m
//   Q5_0  {half d; u8 qh[4]; u8 qs[16]}  q = nibble | bit i of qh << 4   x = d * (q - 16)
//   Q5_1  {half d, m; u8 qh[4]; u8 qs[16]}                         x = d * q + m
//   K-quants: super-blocks of 256 values.
//   Q4_K  {half d, dmin; u8 scales[12]; u8 qs[128]}  eight sub-blocks of 32 with 6-bit scale sc and
//         6-bit min m (packed, see UnpackScaleMinK4); qs in four 32-byte chunks, chunk c holds
//         values 64c..64c+31 in low nibbles and 64c+32..64c+63 in high nibbles.
//                                                  x = d * sc[i/32] * q - dmin * m[i/32]
//   Q5_K  {half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}  as Q4_K, plus the fifth bit of
//         value i is bit (i/32) of qh[i%32].
//   Q6_K  {u8 ql[128]; u8 qh[64]; int8 scales[16]; half d}  two halves of 128; in half h, value
//         h*128 + 32k + l takes its low 4 bits from ql[64h + 32(k%2) + l] (low nibble for k<2,
//         high for k>=2) and its top 2 bits from qh[32h + l] >> 2k.  x = d * scales[i/16] * (q - 32)
//   Q8_K  {float d; int8 qs[256]; int16 bsums[16]}  x = d * qs[i]; bsums[j] = sum of qs[16j..16j+15]
//         (the activation format llama.cpp pairs with K-quants; also a valid file type)
//
// This header is the format table only (header-only: the io layer validates sizes with it);
// quantize, dequantize and dot products live in kernels/cpu/quant_dot.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace gorae {

// ggml's type ids, as stored in GGUF tensor infos. Gaps are ids ggml has retired.
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21,
  kIQ2_S = 22, kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29,
  kBF16 = 30, kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39,
};

struct GgmlTypeInfo {
  const char* name = nullptr;  // nullptr: not a type id gorae knows
  int64_t block_elems = 0;     // values per block
  size_t block_bytes = 0;      // bytes per block
  bool computable = false;     // gorae can dequantize it and take dot products with it
};

// Sizes of every type a GGUF file may hold (checked against gguf-py's GGML_QUANT_SIZES), so a file
// with types gorae cannot compute with still opens and says which tensor it cannot use.
inline GgmlTypeInfo GetGgmlTypeInfo(uint32_t id) {
  switch (static_cast<GgmlType>(id)) {
    case GgmlType::kF32: return {"F32", 1, 4, true};
    case GgmlType::kF16: return {"F16", 1, 2, true};
    case GgmlType::kBF16: return {"BF16", 1, 2, true};
    case GgmlType::kQ4_0: return {"Q4_0", 32, 18, true};
    case GgmlType::kQ4_1: return {"Q4_1", 32, 20, true};
    case GgmlType::kQ5_0: return {"Q5_0", 32, 22, true};
    case GgmlType::kQ5_1: return {"Q5_1", 32, 24, true};
    case GgmlType::kQ8_0: return {"Q8_0", 32, 34, true};
    case GgmlType::kQ8_1: return {"Q8_1", 32, 36, false};  // ggml's {half d, s; int8 qs[32]}
    case GgmlType::kQ2_K: return {"Q2_K", 256, 84, false};
    case GgmlType::kQ3_K: return {"Q3_K", 256, 110, false};
    case GgmlType::kQ4_K: return {"Q4_K", 256, 144, true};
    case GgmlType::kQ5_K: return {"Q5_K", 256, 176, true};
    case GgmlType::kQ6_K: return {"Q6_K", 256, 210, true};
    case GgmlType::kQ8_K: return {"Q8_K", 256, 292, true};
    case GgmlType::kIQ2_XXS: return {"IQ2_XXS", 256, 66, false};
    case GgmlType::kIQ2_XS: return {"IQ2_XS", 256, 74, false};
    case GgmlType::kIQ3_XXS: return {"IQ3_XXS", 256, 98, false};
    case GgmlType::kIQ1_S: return {"IQ1_S", 256, 50, false};
    case GgmlType::kIQ4_NL: return {"IQ4_NL", 32, 18, false};
    case GgmlType::kIQ3_S: return {"IQ3_S", 256, 110, false};
    case GgmlType::kIQ2_S: return {"IQ2_S", 256, 82, false};
    case GgmlType::kIQ4_XS: return {"IQ4_XS", 256, 136, false};
    case GgmlType::kI8: return {"I8", 1, 1, false};
    case GgmlType::kI16: return {"I16", 1, 2, false};
    case GgmlType::kI32: return {"I32", 1, 4, false};
    case GgmlType::kI64: return {"I64", 1, 8, false};
    case GgmlType::kF64: return {"F64", 1, 8, false};
    case GgmlType::kIQ1_M: return {"IQ1_M", 256, 56, false};
    case GgmlType::kTQ1_0: return {"TQ1_0", 256, 54, false};
    case GgmlType::kTQ2_0: return {"TQ2_0", 256, 66, false};
    case GgmlType::kMXFP4: return {"MXFP4", 32, 17, false};
  }
  return {};
}
inline GgmlTypeInfo GetGgmlTypeInfo(GgmlType t) { return GetGgmlTypeInfo(static_cast<uint32_t>(t)); }
inline const char* GgmlTypeName(GgmlType t) {
  const char* n = GetGgmlTypeInfo(t).name;
  return n ? n : "unknown";
}

// Bytes of one row of n values (n must be a multiple of the block size).
inline size_t GgmlRowBytes(GgmlType t, int64_t n) {
  const GgmlTypeInfo info = GetGgmlTypeInfo(t);
  return static_cast<size_t>(n / info.block_elems) * info.block_bytes;
}

inline constexpr int kQK = 32;    // values per block of the 32-blocks
inline constexpr int kQKK = 256;  // values per K-quant super-block

struct BlockQ8_0 { uint16_t d; int8_t qs[kQK]; };
struct BlockQ4_0 { uint16_t d; uint8_t qs[kQK / 2]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[kQK / 2]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[kQKK / 2]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[kQKK / 8]; uint8_t qs[kQKK / 2]; };
struct BlockQ6_K { uint8_t ql[kQKK / 2]; uint8_t qh[kQKK / 4]; int8_t scales[kQKK / 16]; uint16_t d; };
struct BlockQ8_K { float d; int8_t qs[kQKK]; int16_t bsums[kQKK / 16]; };

static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Q4_K/Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes: bytes 0-3 hold the low 6
// bits of scales 0-3 (top 2 bits: high bits of scale 4-7), bytes 4-7 the same for mins, bytes
// 8-11 the low 4 bits of scale 4-7 (low nibble) and min 4-7 (high nibble).
inline void UnpackScaleMinK4(const uint8_t* s, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// fp16 -> fp32 by bit manipulation (exact, including subnormals, inf and NaN): used once per
// block in the kernels, where dtype.h's libm-based F16ToF32 would cost more than the block.
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  uint32_t bits;
  if (em >= 0x7c00u) {
    bits = sign | 0x7f800000u | (static_cast<uint32_t>(em & 0x3ffu) << 13);  // inf / NaN
  } else if (em >= 0x0400u) {
    bits = sign | ((em << 13) + (112u << 23));  // normal: rebias exponent 15 -> 127
  } else {
    // Subnormal or zero: em * 2^-24, exact in fp32.
    float f = static_cast<float>(em) * 5.9604644775390625e-08f;
    uint32_t mag;
    std::memcpy(&mag, &f, 4);
    bits = sign | mag;
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

// How the values sit inside each block of a quantized matrix.
//   kGgml             the layouts above, bit for bit: what files hold and what every decoder reads.
//   kLaneInterleaved  Q4_K, Q5_K, Q6_K only: the same bytes per super-block, d/dmin/scales where
//                     ggml has them, but the 256 values permuted inside the super-block so that
//                     the plain unpack of the value bytes gives the registers the AVX-512 VNNI
//                     lane-scaled kernels read (each int32 lane one sub-block; see InterleaveLanes
//                     in kernels/cpu/quant_dot_x86.h). Made once at model load
//                     (RepackLaneInterleaved); only QuantLinear at that SIMD level reads it.
enum class QuantLayout : uint8_t { kGgml, kLaneInterleaved };

// A weight matrix in a ggml type: (rows = out_features, cols = in_features), each row
// GgmlRowBytes(type, cols) bytes, rows back to back (a GGUF tensor with ne = [cols, rows]).
// Not owned; usually points into a memory-mapped file. Kept beside Matrix (matrix.h) with the
// same (rows, cols, data) fields so the two can become one type once Matrix grows these dtypes.
struct QuantMatrix {
  GgmlType type = GgmlType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  QuantLayout layout = QuantLayout::kGgml;

  size_t row_bytes() const { return GgmlRowBytes(type, cols); }
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * row_bytes();
  }
};

}  // namespace gorae
