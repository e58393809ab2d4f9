// Rotary position embedding: MLA's decoupled rope part (DeepSeek, YaRN scaling) and the whole
// head of Llama / Qwen2 (llama3 scaling).
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace gorae {

struct RopeTable {
  int64_t dim = 0;              // qk_rope_head_dim (DeepSeek) or head_dim (Llama, Qwen2)
  std::vector<double> inv_freq; // (dim / 2), YaRN-blended when rope_scaling is yarn
  double mscale = 1.0;          // cos/sin factor: mscale(f, mscale) / mscale(f, mscale_all_dim), YaRN
};

RopeTable MakeRopeTable(const ModelConfig& c);

// cos and sin of every (position, frequency) pair for T consecutive positions from `start`:
// out_cos/out_sin (T, dim / 2), both already multiplied by the table's mscale.
void RopeAngles(const RopeTable& rope, int64_t start, int64_t T, float* out_cos, float* out_sin);

// Rotates x (dim) in place: pairs (x[2i], x[2i+1]) by angle i. This is the checkpoint's
// interleaved layout; HF's modeling_deepseek de-interleaves q and k identically before its
// rotate_half, so dot products (all that attention sees) are the same.
void ApplyRope(float* x, const float* cos, const float* sin, int64_t dim);

}  // namespace gorae

namespace gorae {

// Rotates x (dim) in place in the Hugging Face Llama/Qwen2 layout: pairs (x[i], x[i + dim/2]).
void ApplyRopeHalf(float* x, const float* cos, const float* sin, int64_t dim);

}  // namespace gorae
