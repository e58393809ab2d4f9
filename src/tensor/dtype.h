// Element types of stored weights and their conversion to fp32.
//
// Arithmetic in gorae is fp32; weights may be stored as F32, BF16, F16 or F8_E4M3 (the real
// DeepSeek-V3 release: fp8 e4m3fn with one fp32 scale per 128x128 block, `weight_scale_inv`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace gorae {

enum class DType { kF32, kBF16, kF16, kF8E4M3 };

// Safetensors spelling ("F32", "BF16", "F16", "F8_E4M3"); false if not one of ours.
bool ParseDType(std::string_view name, DType* out);
const char* DTypeName(DType t);
size_t DTypeSize(DType t);

inline float BF16ToF32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; NaN stays NaN.
inline uint16_t F32ToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);

// fp8 e4m3fn (as torch.float8_e4m3fn): bias 7, no infinities, 0x7f/0xff are NaN, max 448.
float F8E4M3ToF32(uint8_t v);
// Nearest fp8 e4m3fn value (ties to even); |f| > 448 saturates to +-448, NaN to 0x7f.
uint8_t F32ToF8E4M3(float f);

// Converts n stored elements of type t to fp32.
void ConvertToF32(DType t, const void* src, float* dst, size_t n);

}  // namespace gorae
