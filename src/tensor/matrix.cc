#include "tensor/matrix.h"

#include "core/check.h"
#include "tensor/quant_decode.h"

namespace gorae {

void DequantizeRows(const Matrix& m, int64_t row_begin, int64_t row_end, float* dst) {
  const auto* base = static_cast<const uint8_t*>(m.data);
  if (m.is_quantized()) {
    GORAE_CHECK(m.quant_layout == QuantLayout::kGgml, "DequantizeRows: {} matrix in a kernel-only layout",
                GgmlTypeName(m.quant));
    for (int64_t r = row_begin; r < row_end; ++r) {
      DequantizeGgmlRow(m.quant, base + static_cast<size_t>(r) * m.row_bytes(), dst + (r - row_begin) * m.cols, m.cols);
    }
    return;
  }
  const size_t elem = DTypeSize(m.dtype);
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* out = dst + (r - row_begin) * m.cols;
    ConvertToF32(m.dtype, base + static_cast<size_t>(r) * m.cols * elem, out, m.cols);
    if (m.dtype == DType::kF8E4M3) {
      const float* scales = m.scale_inv + (r / kFp8Block) * m.scale_cols();
      for (int64_t c = 0; c < m.cols; ++c) out[c] *= scales[c / kFp8Block];
    }
  }
}

}  // namespace gorae
