// Quantized weights: reference quantize / dequantize for the ggml block formats (tensor/quant.h)
// and fast dot products of a quantized weight row with an fp32 activation row.
//
// How the dot products work (as llama.cpp does): the activation row is quantized once to int8
// blocks (QuantizeActivation), then each weight row is dotted with it in integer arithmetic, one
// fp32 multiply per block. The int8 rounding of the activation is the only approximation beyond
// the weight format itself (relative error about 1/254 per activation value); F32/F16/BF16 weights
// keep the activation in fp32. The SIMD level (scalar, AVX2, AVX-512 VNNI) is chosen at run time
// from the CPU, and can be forced (tests check every level against the scalar reference).
//
// The code: quant_dot_ref.cc (reference formats + scalar kernels), quant_dot_avx2.cc and
// quant_dot_avx512.cc (the same kernels in SIMD, sharing quant_dot_x86.h: row kernels for
// QuantDot and tiles of one weight row x 8 input rows for prefill), quant_dot.cc (dispatch and
// QuantLinear).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "tensor/quant.h"

namespace gorae {

// n must be a multiple of the type's block size (GetGgmlTypeInfo(t).block_elems) and t must be
// computable. dst holds GgmlRowBytes(t, n) bytes.
void QuantizeRow(GgmlType t, const float* src, void* dst, int64_t n);
void DequantizeRow(GgmlType t, const void* src, float* dst, int64_t n);
// Whole matrix (rows, cols) -> rows * GgmlRowBytes(t, cols) bytes; threads over rows.
std::vector<uint8_t> QuantizeMatrix(GgmlType t, const float* src, int64_t rows, int64_t cols);

// The activation format each weight type is dotted with.
enum class ActFormat {
  kF32,   // the fp32 row itself (F32, F16, BF16 weights)
  kQ8,    // blocks of 32: BlockQ8Act (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 weights)
  kQ8K,   // super-blocks of 256: BlockQ8_K (K-quant weights)
};
ActFormat ActFormatFor(GgmlType t);

// Bytes of one activation row of n values in the format weight type t needs; 0 for kF32 (the
// kernels read the caller's fp32 row itself).
size_t ActivationRowBytes(GgmlType t, int64_t n);
// Writes that row (ActivationRowBytes(t, n) bytes) to dst; t's format must not be kF32.
void QuantizeActivationRow(GgmlType t, const float* x, int64_t n, void* dst);

// The 32-block activation: fp32 scale and the sum of the ints (for the offset terms of Q4_1/Q5_1).
struct BlockQ8Act {
  float d;
  int32_t sum;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8Act) == 40);

// Activation row x (n values) in the format weight type t needs; reused for every weight row.
class QuantActivation {
 public:
  void Quantize(GgmlType t, const float* x, int64_t n);
  const void* data() const { return fmt_ == ActFormat::kF32 ? static_cast<const void*>(f32_) : buf_.data(); }
  // The activation as the kernels see it, decoded to fp32 (for reference computations in tests).
  std::vector<float> Dequantized() const;

 private:
  ActFormat fmt_ = ActFormat::kF32;
  int64_t n_ = 0;
  const float* f32_ = nullptr;   // kF32: the caller's row, not copied (must outlive this)
  std::vector<uint8_t> buf_;     // kQ8 / kQ8K blocks
};

enum class QuantSimd { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
const char* QuantSimdName(QuantSimd s);
// Best level this CPU supports (AVX2 needs avx2+fma+f16c; AVX512 needs avx512f/bw/vl/vnni).
QuantSimd DetectQuantSimd();
// Forces a level for all later calls (tests, benchmarks); error if the CPU lacks it. Not
// thread-safe against kernels running at the same time.
Status SetQuantSimd(QuantSimd s);
QuantSimd GetQuantSimd();
// True if level s has its own kernel for type t (otherwise that type runs the scalar kernel).
bool HasSimdKernel(QuantSimd s, GgmlType t);

// Weight layouts (QuantLayout, tensor/quant.h). The layout QuantLinear reads type t fastest in at
// the current level: kLaneInterleaved for Q4_K/Q5_K/Q6_K at AVX-512 VNNI (its lane-scaled tiles then
// skip the per-block lane shuffle of kGgml), else kGgml. A model loaded for inference repacks its
// matrices to it once; a matrix in kLaneInterleaved must then be used at that level only
// (QuantLinear checks).
QuantLayout FastestLayout(GgmlType t);
// Converts a (rows, cols) matrix of type t from kGgml to kLaneInterleaved, or back (the value
// permutation is its own inverse); src and dst each rows * GgmlRowBytes(t, cols) bytes, dst may
// equal src. Threads over rows. Needs a CPU with AVX-512 VNNI and a type with that layout.
void RepackLaneInterleaved(GgmlType t, const void* src, void* dst, int64_t rows, int64_t cols);

// Dot product of one weight row (n values of type t) with an activation prepared by
// QuantActivation::Quantize(t, ...), at the current SIMD level.
float QuantDot(GgmlType t, const void* w_row, const QuantActivation& act, int64_t n);

// out (T, w.rows) = in (T, w.cols) @ w^T. Each input row is quantized once; OpenMP threads over
// slices of weight rows, and each weight row is read once for all T input rows. For T > 1 the
// level's tiled kernel (where it has one for w.type) unpacks each weight block once per tile of
// input rows instead of once per (row, input) pair. Results equal QuantDot's integer sums; the
// fp32 order of additions may differ (so not always bit-identical to QuantDot, even for T = 1).
// w may be in either layout; kLaneInterleaved only at a level that reads it (FastestLayout).
void QuantLinear(float* out, const float* in, int64_t T, const QuantMatrix& w);

// Products that read the same input (q/k/v, gate/up): outs[i] (T, ws[i].rows) = in (T, cols) @
// ws[i]^T, every ws[i] with the same cols (at most 8 matrices). Each output equals what QuantLinear
// gives for that matrix alone, but the input is quantized once per activation layout the matrices'
// kernels read (not once per matrix), and the slices of all the matrices share one OpenMP region
// and one dynamic loop: in decode, where each product takes tens of microseconds, the per-region
// start, barrier and the last slice's wait are paid once instead of once per matrix.
void QuantLinearMany(std::span<float* const> outs, const float* in, int64_t T, std::span<const QuantMatrix> ws);

}  // namespace gorae
