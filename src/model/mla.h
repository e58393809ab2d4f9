// Multi-head latent attention (DeepSeek-V2/V3), forward.
#pragma once

#include <cstdint>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace gorae {

// out (T, hidden) = MLA(x) for T new tokens at positions cache.size() .. cache.size() + T - 1,
// attending causally to every cached token and to each other. x (T, hidden) is the normed
// input; cos/sin (T, qk_rope_head_dim / 2) are the rope angles of those positions. Writes the new
// tokens' keys into cache rows of `layer` (the caller advances the cache after the last layer).
// The cache's mode picks naive or absorbed attention; both compute the same function.
void MlaForward(float* out, const float* x, int64_t T, int64_t layer, const AttentionWeights& w,
                const ModelConfig& c, const float* cos, const float* sin, KVCache& cache);

}  // namespace gorae
