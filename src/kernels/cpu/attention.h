// Softmax attention of one query against n cached keys, for any key/value layout.
#pragma once

#include <cstdint>

namespace gorae {

// out (dv) = sum_s softmax_s(scale * q . k_s) * v_s, for s in [0, n).
// q (dk); key s at k + s * k_stride (dk values), value s at v + s * v_stride (dv values).
// scratch holds n floats. Naive MLA passes per-head K/V rows; absorbed MLA passes the shared
// latent rows as both keys and values.
void AttendOne(float* out, const float* q, const float* k, int64_t k_stride, const float* v,
               int64_t v_stride, int64_t dk, int64_t dv, int64_t n, float scale, float* scratch);

}  // namespace gorae
