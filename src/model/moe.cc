#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"

namespace gorae {

namespace {

// Indices of the k largest values (ties: lower index first), in decreasing order.
std::vector<int> TopK(const std::vector<float>& v, int64_t k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  });
  idx.resize(static_cast<size_t>(k));
  return idx;
}

}  // namespace

Route RouteToken(const float* logits, const ModelConfig& c, const std::vector<float>& score_bias) {
  const int64_t E = c.n_routed_experts;
  std::vector<float> scores(logits, logits + E);
  if (c.scoring_func == ScoringFunc::kSoftmax) {
    SoftmaxInPlace(scores.data(), E);
  } else {
    for (auto& s : scores) s = 1.0f / (1.0f + std::exp(-s));
  }
  std::vector<float> choice = scores;
  if (c.topk_method == TopkMethod::kNoauxTc) {
    for (int64_t e = 0; e < E; ++e) choice[e] += score_bias[e];
  }
  if (c.topk_method != TopkMethod::kGreedy && c.topk_group < c.n_group) {
    const int64_t per_group = E / c.n_group;
    std::vector<float> group_score(static_cast<size_t>(c.n_group));
    for (int64_t g = 0; g < c.n_group; ++g) {
      std::vector<float> members(choice.begin() + g * per_group, choice.begin() + (g + 1) * per_group);
      if (c.topk_method == TopkMethod::kNoauxTc) {
        std::partial_sort(members.begin(), members.begin() + 2, members.end(), std::greater<float>());
        group_score[g] = members[0] + members[1];
      } else {
        group_score[g] = *std::max_element(members.begin(), members.end());
      }
    }
    std::vector<char> keep(static_cast<size_t>(c.n_group), 0);
    for (int g : TopK(group_score, c.topk_group)) keep[g] = 1;
    for (int64_t e = 0; e < E; ++e) {
      if (!keep[e / per_group]) choice[e] = -std::numeric_limits<float>::infinity();
    }
  }
  if (c.moe_nodes > 0 && c.moe_node_limit < c.moe_nodes) {
    // Node-limited routing: nodes ranked by the sum of their top K / M selection scores.
    const int64_t per_node = E / c.moe_nodes, take = c.num_experts_per_tok / c.moe_node_limit;
    std::vector<float> node_score(static_cast<size_t>(c.moe_nodes));
    for (int64_t n = 0; n < c.moe_nodes; ++n) {
      std::vector<float> members(choice.begin() + n * per_node, choice.begin() + (n + 1) * per_node);
      std::partial_sort(members.begin(), members.begin() + take, members.end(), std::greater<float>());
      node_score[n] = std::accumulate(members.begin(), members.begin() + take, 0.0f);
    }
    std::vector<char> keep(static_cast<size_t>(c.moe_nodes), 0);
    for (int n : TopK(node_score, c.moe_node_limit)) keep[n] = 1;
    for (int64_t e = 0; e < E; ++e) {
      if (!keep[e / per_node]) choice[e] = -std::numeric_limits<float>::infinity();
    }
  }
  Route r;
  r.experts = TopK(choice, c.num_experts_per_tok);
  for (int e : r.experts) r.weights.push_back(scores[e]);
  const bool normalise = c.num_experts_per_tok > 1 && c.norm_topk_prob;
  if (normalise) {
    const float sum = std::accumulate(r.weights.begin(), r.weights.end(), 0.0f) + 1e-20f;
    for (auto& w : r.weights) w /= sum;
  }
  if (!normalise || c.ScaleAfterNorm()) {
    for (auto& w : r.weights) w *= static_cast<float>(c.routed_scaling_factor);
  }
  return r;
}

void MlpForward(float* out, const float* x, int64_t T, const MlpWeights& w) {
  const int64_t inter = w.gate_proj.rows;
  // Kept per thread between calls: a decode runs this once per layer per token with the same sizes.
  thread_local std::vector<float> gate, up;  // (T, inter)
  gate.resize(static_cast<size_t>(T * inter));
  up.resize(static_cast<size_t>(T * inter));
  // gate and up read the same input: one quantized copy of it and one parallel region (LinearMany).
  float* const outs[] = {gate.data(), up.data()};
  const Matrix* const ws[] = {&w.gate_proj, &w.up_proj};
  LinearMany(outs, x, T, ws);
  SiluMul(gate.data(), gate.data(), up.data(), T * inter);
  Linear(out, gate.data(), T, w.down_proj);
}

void MoeForward(float* out, const float* x, int64_t T, const MoeWeights& w, const ModelConfig& c,
                const ExpertShard& shard) {
  const int64_t D = c.hidden_size, E = c.n_routed_experts;
  std::vector<float> logits(static_cast<size_t>(T * E));  // (T, E)
  Linear(logits.data(), x, T, w.gate);

  // Group (token, weight) pairs by expert.
  std::vector<std::vector<std::pair<int64_t, float>>> assigned(static_cast<size_t>(E));
  for (int64_t t = 0; t < T; ++t) {
    const Route r = RouteToken(logits.data() + t * E, c, w.score_bias);
    for (size_t i = 0; i < r.experts.size(); ++i) assigned[r.experts[i]].emplace_back(t, r.weights[i]);
  }

  const bool shared_here = !shard.active() || shard.comm->rank() == 0;
  if (c.n_shared_experts > 0 && shared_here) {
    MlpForward(out, x, T, w.shared);
  } else {
    std::memset(out, 0, static_cast<size_t>(T * D) * sizeof(float));
  }
  std::vector<float> in, y;
  for (int64_t e = 0; e < E; ++e) {
    const auto& tokens = assigned[e];
    if (tokens.empty() || !shard.holds(e)) continue;
    const int64_t n = static_cast<int64_t>(tokens.size());
    in.resize(static_cast<size_t>(n * D));
    y.resize(static_cast<size_t>(n * D));
    for (int64_t i = 0; i < n; ++i) std::memcpy(&in[i * D], x + tokens[i].first * D, D * sizeof(float));
    MlpForward(y.data(), in.data(), n, w.experts[e]);
    for (int64_t i = 0; i < n; ++i) AddScaled(out + tokens[i].first * D, &y[i * D], tokens[i].second, D);
  }
  if (shard.active()) shard.comm->AllReduceSum(out, T * D, dist::DType::kF32);
}

}  // namespace gorae
