// DeepSeekMoE: router (gate) and routed + shared experts, forward.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/expert_parallel.h"
#include "model/weights.h"

namespace gorae {

// One token's routing decision: num_experts_per_tok expert ids and their output weights.
struct Route {
  std::vector<int> experts;
  std::vector<float> weights;
};

// Routes one token from its router logits (n_routed_experts):
//   scores = softmax(logits) or sigmoid(logits)
//   choice = scores (+ e_score_correction_bias for noaux_tc: the bias only chooses)
//   group_limited_greedy / noaux_tc: keep the topk_group best of n_group groups (group score =
//     max choice score, or the sum of the top two for noaux_tc); others are excluded
//   node-limited (moe_nodes > 0): keep the moe_node_limit best nodes by the sum of their top
//     K / moe_node_limit choice scores (DeepSeek-V3 sec. 2.1.2); others are excluded
//   experts = top-k of choice among kept groups and nodes (ties: lower id)
//   weights = the unbiased scores of those experts, renormalised if norm_topk_prob, then scaled
//     by routed_scaling_factor (see ModelConfig::ScaleAfterNorm for V2's variant).
Route RouteToken(const float* logits, const ModelConfig& c, const std::vector<float>& score_bias);

// out (T, hidden) = SwiGLU MLP(x): down(silu(gate(x)) * up(x)).
void MlpForward(float* out, const float* x, int64_t T, const MlpWeights& w);

// out (T, hidden) = routed experts weighted by the router + shared experts, for x (T, hidden).
// Tokens are grouped by expert so each expert runs one batched product. With an active shard,
// this rank adds only its experts (and rank 0 the shared ones), then the ranks' parts are summed.
void MoeForward(float* out, const float* x, int64_t T, const MoeWeights& w, const ModelConfig& c,
                const ExpertShard& shard = {});

}  // namespace gorae
