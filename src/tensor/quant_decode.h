// Reference dequantizers of the ggml block formats (layouts in tensor/quant.h), in the tensor layer
// so that Matrix (tensor/matrix.h) can decode quantized weights without depending on kernels/.
// kernels/cpu/quant_dot.h's DequantizeRow is this function; the dot kernels share the accessors.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/quant.h"

namespace gorae {

// Decodes n values (a multiple of t's block size; t computable) of type t from src to y.
void DequantizeGgmlRow(GgmlType t, const void* src, float* y, int64_t n);

// Element accessors of the packed layouts (see tensor/quant.h).
inline int Nibble(const uint8_t* qs, int i) { return i < 16 ? qs[i] & 15 : qs[i - 16] >> 4; }  // 32-blocks
inline int HighBit(const uint8_t* qh, int i) {  // Q5_0/Q5_1: bit i of the little-endian u32
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return (h >> i) & 1;
}
inline int K4Nibble(const uint8_t* qs, int i) {  // Q4_K/Q5_K: chunk i/64, low or high half
  const uint8_t b = qs[32 * (i / 64) + i % 32];
  return (i % 64) < 32 ? b & 15 : b >> 4;
}
inline int Q6KValue(const BlockQ6_K& b, int i) {  // q - 32
  const int h = i / 128, k = (i % 128) / 32, l = i % 32;
  const int lo = (b.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 15;
  const int hi = (b.qh[32 * h + l] >> (2 * k)) & 3;
  return (lo | (hi << 4)) - 32;
}

}  // namespace gorae
