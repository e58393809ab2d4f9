// A weight matrix as stored in a checkpoint: (rows = out_features, cols = in_features), row
// major, in its stored dtype, usually pointing into a memory-mapped file (not owned).
// Either an element dtype (safetensors; GGUF F32/F16/BF16) or a ggml block-quantized type
// (GGUF Q8_0, Q4_K, ...: rows of GgmlRowBytes(quant, cols) bytes, used in place by the quant
// kernels).
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/quant.h"

namespace gorae {

// fp8 weights carry one fp32 scale per kFp8Block x kFp8Block block (DeepSeek-V3's
// `weight_scale_inv`): real value = stored fp8 value * scale_inv[row / 128][col / 128].
inline constexpr int kFp8Block = 128;

struct Matrix {
  DType dtype = DType::kF32;
  int64_t rows = 0;                   // out_features
  int64_t cols = 0;                   // in_features
  const void* data = nullptr;         // (rows, cols) in dtype
  const float* scale_inv = nullptr;   // (ceil(rows/128), ceil(cols/128)), only for kF8E4M3
  // A block-quantized ggml type, or kF32 for "not block-quantized: dtype describes data" (GGUF
  // F32/F16/BF16 tensors use dtype, so they keep the element-dtype paths).
  GgmlType quant = GgmlType::kF32;
  // kLaneInterleaved: data is a load-time copy only QuantLinear can read (tensor/quant.h);
  // DequantizeRows refuses it.
  QuantLayout quant_layout = QuantLayout::kGgml;

  bool empty() const { return data == nullptr; }
  bool is_quantized() const { return quant != GgmlType::kF32; }
  QuantMatrix AsQuant() const { return {quant, rows, cols, data, quant_layout}; }  // only when is_quantized()
  // Bytes of one stored row (fp8 scales not counted).
  size_t row_bytes() const {
    return is_quantized() ? GgmlRowBytes(quant, cols) : static_cast<size_t>(cols) * DTypeSize(dtype);
  }
  int64_t scale_cols() const { return (cols + kFp8Block - 1) / kFp8Block; }
};

// Decodes rows [row_begin, row_end) of m to fp32 into dst ((row_end - row_begin), cols).
void DequantizeRows(const Matrix& m, int64_t row_begin, int64_t row_end, float* dst);

}  // namespace gorae
