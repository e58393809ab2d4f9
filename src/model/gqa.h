// Grouped-query attention (Llama, Qwen2), forward: the attention of the R1-Distill students.
#pragma once

#include <cstdint>
#include <span>

#include "model/config.h"
#include "model/mla.h"  // SequenceRows
#include "model/weights.h"

namespace gorae {

// out (N, hidden) = attention(x) for the N rows of x (N, hidden, normed input) of one or more
// sequences, as MlaForward: each row attends causally to its own sequence's cache. cos/sin
// (N, head_dim / 2) are the rope angles of each row's position. Query head h reads K/V head
// h / (heads / kv_heads).
void GqaForward(float* out, const float* x, int64_t N, int64_t layer, const AttentionWeights& w,
                const ModelConfig& c, const float* cos, const float* sin, std::span<const SequenceRows> seqs);

}  // namespace gorae
