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

}  // namespace gorae::quant_internal
