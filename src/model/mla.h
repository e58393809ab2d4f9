// Multi-head latent attention (DeepSeek-V2/V3), forward.
#pragma once

#include <cstdint>
#include <span>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace gorae {

// Rows [row0, row0 + n) of a batch are new tokens of the sequence whose cache is `cache`, at
// positions cache->size() .. cache->size() + n - 1. All caches of one batch share a mode.
struct SequenceRows {
  KVCache* cache;
  int64_t row0;
  int64_t n;
};

// out (N, hidden) = MLA(x) for the N rows of x (N, hidden, normed input) that belong to one or
// more sequences; each row attends causally to its own sequence's cached tokens and earlier new
// rows. cos/sin (N, qk_rope_head_dim / 2) are the rope angles of each row's position. Writes the
// new keys into each cache's rows of `layer` (the caller advances caches after the last layer).
// The caches' mode picks naive or absorbed attention; both compute the same function.
void MlaForward(float* out, const float* x, int64_t N, int64_t layer, const AttentionWeights& w,
                const ModelConfig& c, const float* cos, const float* sin, std::span<const SequenceRows> seqs);

}  // namespace gorae
