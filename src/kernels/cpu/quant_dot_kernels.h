// Internal to the quant_dot_*.cc files: the dot-kernel table each SIMD level fills in.
#pragma once

#include <cstdint>

#include "tensor/quant.h"

namespace gorae::quant_internal {

// Dot of one weight row (n values of its type) with the matching activation (ActFormatFor).
using DotFn = float (*)(const void* w_row, const void* act, int64_t n);

// nullptr where the level has no kernel for t (the caller falls back to the scalar one).
DotFn ScalarDotKernel(GgmlType t);
DotFn Avx2DotKernel(GgmlType t);
DotFn Avx512DotKernel(GgmlType t);

// Many rows times many activations (prefill): out[t * ldo + r] = dot(row r, activation t) for
// r < rows, t < tokens, where row r starts at w + r * w_stride and activation t (the format
// ActFormatFor gives, n values) at act + t * act_stride. The kernel unpacks each weight block once
// for a tile of activations instead of once per (row, activation) pair as DotFn callers do.
using GemmFn = void (*)(const uint8_t* w, size_t w_stride, int64_t rows, const uint8_t* act,
                        size_t act_stride, int64_t tokens, int64_t n, float* out, int64_t ldo);

// Quantizes one activation row of n values into the format and layout a GemmFn reads.
using ActQuantFn = void (*)(const float* x, int64_t n, uint8_t* dst);

struct Gemm {
  GemmFn fn = nullptr;          // nullptr: no tiled kernel (QuantLinear then loops over the DotFn)
  ActQuantFn quant = nullptr;   // nullptr: QuantizeActivationRow (the reference quantizer)
  bool single = false;          // also faster than the DotFn for one activation (decode)
};
// The tiled kernel for weights of type t stored in `layout`; {} where the level has none (for
// QuantLayout::kLaneInterleaved: every level but AVX-512 VNNI, which alone can read it).
Gemm Avx2GemmKernel(GgmlType t, QuantLayout layout);
Gemm Avx512GemmKernel(GgmlType t, QuantLayout layout);

// Converts `blocks` super-blocks of a type between QuantLayout::kGgml and kLaneInterleaved (either
// way: the permutation is its own inverse); dst may equal src.
using RepackFn = void (*)(const uint8_t* src, uint8_t* dst, int64_t blocks);
// nullptr for types with no kLaneInterleaved layout.
RepackFn Avx512RepackKernel(GgmlType t);

}  // namespace gorae::quant_internal
