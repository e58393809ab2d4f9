#include "tensor/dtype.h"

#include <cmath>

namespace gorae {

bool ParseDType(std::string_view name, DType* out) {
  if (name == "F32") *out = DType::kF32;
  else if (name == "BF16") *out = DType::kBF16;
  else if (name == "F16") *out = DType::kF16;
  else if (name == "F8_E4M3") *out = DType::kF8E4M3;
  else return false;
  return true;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kBF16: return "BF16";
    case DType::kF16: return "F16";
    case DType::kF8E4M3: return "F8_E4M3";
  }
  return "?";
}

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kBF16: case DType::kF16: return 2;
    case DType::kF8E4M3: return 1;
  }
  return 0;
}

float F16ToF32(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float mag;
  if (exp == 0) mag = std::ldexp(static_cast<float>(mant), -24);           // subnormal / zero
  else if (exp == 31) mag = mant ? NAN : INFINITY;
  else mag = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  return sign ? -mag : mag;
}

uint16_t F32ToF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const float a = std::fabs(f);
  if (std::isnan(f)) return sign | 0x7e00u;
  if (a >= 65520.0f) return sign | 0x7c00u;  // rounds to infinity
  if (a < 6.103515625e-05f) {                // subnormal: units of 2^-24, round to nearest even
    const float q = std::nearbyint(a * 16777216.0f);
    return sign | static_cast<uint16_t>(q);
  }
  int e;
  const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  uint32_t mant = static_cast<uint32_t>(std::nearbyint(std::ldexp(m, 11)));  // 11 bits incl. implicit
  if (mant == 2048) { mant = 1024; ++e; }
  const uint32_t exp = static_cast<uint32_t>(e - 1 + 15);
  if (exp >= 31) return sign | 0x7c00u;
  return sign | static_cast<uint16_t>((exp << 10) | (mant & 0x3ffu));
}

float F8E4M3ToF32(uint8_t v) {
  const uint32_t sign = v >> 7, exp = (v >> 3) & 0xfu, mant = v & 0x7u;
  float mag;
  if (exp == 0xf && mant == 0x7) mag = NAN;
  else if (exp == 0) mag = std::ldexp(static_cast<float>(mant), -9);  // subnormal: mant/8 * 2^-6
  else mag = std::ldexp(static_cast<float>(mant | 0x8u), static_cast<int>(exp) - 10);
  return sign ? -mag : mag;
}

uint8_t F32ToF8E4M3(float f) {
  if (std::isnan(f)) return 0x7f;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7e;  // 448 = largest finite e4m3fn
  // Search the 127 non-negative finite codes; they are monotonic in value. Binary search for
  // the first code >= a, then pick the nearer neighbour (ties to the even code).
  int lo = 0, hi = 0x7e;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (F8E4M3ToF32(static_cast<uint8_t>(mid)) < a) lo = mid + 1;
    else hi = mid;
  }
  int code = lo;
  if (code > 0) {
    const float up = F8E4M3ToF32(static_cast<uint8_t>(code)), down = F8E4M3ToF32(static_cast<uint8_t>(code - 1));
    if (a - down < up - a || (a - down == up - a && (code - 1) % 2 == 0)) code -= 1;
  }
  return sign | static_cast<uint8_t>(code);
}

void ConvertToF32(DType t, const void* src, float* dst, size_t n) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::kBF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = BF16ToF32(s[i]);
      return;
    }
    case DType::kF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = F16ToF32(s[i]);
      return;
    }
    case DType::kF8E4M3: {
      // A 256-entry table: every fp8 value decoded once.
      static const auto table = [] {
        struct T { float v[256]; } t;
        for (int i = 0; i < 256; ++i) t.v[i] = F8E4M3ToF32(static_cast<uint8_t>(i));
        return t;
      }();
      const auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = table.v[s[i]];
      return;
    }
  }
}

}  // namespace gorae
