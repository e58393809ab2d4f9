// The DeepSeekMoE router on hand-built scores: what each gate variant must choose and weigh.
#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "model/moe.h"

namespace gorae {
namespace {

ModelConfig RouterConfig(TopkMethod method, ScoringFunc scoring, int64_t k) {
  ModelConfig c;
  c.model_type = "deepseek_v3";
  c.n_routed_experts = 8;
  c.num_experts_per_tok = k;
  c.n_group = 4;
  c.topk_group = 2;
  c.topk_method = method;
  c.scoring_func = scoring;
  return c;
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

TEST(Router, GreedySoftmaxPicksTopScores) {
  ModelConfig c = RouterConfig(TopkMethod::kGreedy, ScoringFunc::kSoftmax, 2);
  c.routed_scaling_factor = 3.0;  // V3 semantics: scaled even without renormalisation
  const std::vector<float> logits = {0, 1, 5, 0, 4, 0, 0, 2};
  const Route r = RouteToken(logits.data(), c, {});
  ASSERT_EQ(r.experts, (std::vector<int>{2, 4}));
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_NEAR(r.weights[0], 3.0 * std::exp(5.0) / z, 1e-6);
  EXPECT_NEAR(r.weights[1], 3.0 * std::exp(4.0) / z, 1e-6);
}

TEST(Router, GroupLimitedGreedyExcludesWeakGroups) {
  ModelConfig c = RouterConfig(TopkMethod::kGroupLimitedGreedy, ScoringFunc::kSoftmax, 2);
  // groups {0,1} {2,3} {4,5} {6,7}; group maxima 5, 4.5, 4.8, 1: keep groups 0 and 2.
  const std::vector<float> logits = {5, 4.9, 4.5, 4.4, 4.8, 0, 1, 0};
  const Route r = RouteToken(logits.data(), c, {});
  EXPECT_EQ(r.experts, (std::vector<int>{0, 1}));
  c.topk_group = 1;
  c.num_experts_per_tok = 2;
  const Route r1 = RouteToken(logits.data(), c, {});
  EXPECT_EQ(r1.experts, (std::vector<int>{0, 1}));
}

TEST(Router, NoauxTcBiasChoosesButDoesNotWeigh) {
  ModelConfig c = RouterConfig(TopkMethod::kNoauxTc, ScoringFunc::kSigmoid, 2);
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  c.topk_group = 4;  // no group limit: isolate the bias
  const std::vector<float> logits = {3, 2, 1, 0, -1, -2, -3, -4};
  std::vector<float> bias(8, 0.0f);
  bias[6] = 2.0f;  // lifts expert 6 above expert 1 for choosing only
  const Route r = RouteToken(logits.data(), c, bias);
  ASSERT_EQ(r.experts, (std::vector<int>{6, 0}));
  const float s0 = Sigmoid(3), s6 = Sigmoid(-3);
  EXPECT_NEAR(r.weights[0], 2.5f * s6 / (s0 + s6), 1e-6);
  EXPECT_NEAR(r.weights[1], 2.5f * s0 / (s0 + s6), 1e-6);
}

TEST(Router, NoauxTcRanksGroupsByTopTwoSum) {
  ModelConfig c = RouterConfig(TopkMethod::kNoauxTc, ScoringFunc::kSigmoid, 2);
  c.topk_group = 1;
  // Group 0 has the single best expert but group 1 the best pair: group 1 wins.
  const std::vector<float> logits = {4, -4, 2, 2, -5, -5, -5, -5};
  const Route r = RouteToken(logits.data(), c, std::vector<float>(8, 0.0f));
  EXPECT_EQ(r.experts, (std::vector<int>{2, 3}));
}

TEST(Router, V2ScalesOnlyWithoutRenormalisation) {
  ModelConfig c = RouterConfig(TopkMethod::kGreedy, ScoringFunc::kSoftmax, 2);
  c.model_type = "deepseek_v2";
  c.routed_scaling_factor = 16.0;
  c.norm_topk_prob = true;
  const std::vector<float> logits = {1, 2, 0, 0, 0, 0, 0, 0};
  const Route r = RouteToken(logits.data(), c, {});
  EXPECT_NEAR(r.weights[0] + r.weights[1], 1.0, 1e-6);  // renormalised, not scaled
  c.norm_topk_prob = false;
  const Route s = RouteToken(logits.data(), c, {});
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_NEAR(s.weights[0], 16.0 * std::exp(2.0) / z, 1e-5);
}


// A pseudo-random logit in [-4, 4) (a linear congruential step of seed).
float NextLogit(uint32_t& seed) {
  seed = seed * 1664525u + 1013904223u;
  return static_cast<float>(seed >> 8) / 16777216.0f * 8 - 4;
}

// Node-limited routing (V3 sec. 2.1.2): 16 experts on 4 nodes, top-4 over at most 2 nodes chosen by
// the sum of each node's top 4 / 2 = 2 scores, checked against a brute-force reading of the rule.
TEST(Router, NodeLimitedRoutingKeepsTheBestNodesByTheirTopKOverMScores) {
  ModelConfig c;
  c.model_type = "deepseek_v3";
  c.n_routed_experts = 16;
  c.num_experts_per_tok = 4;
  c.topk_method = TopkMethod::kNoauxTc;
  c.scoring_func = ScoringFunc::kSigmoid;
  c.n_group = 1;
  c.topk_group = 1;
  c.moe_nodes = 4;
  c.moe_node_limit = 2;
  // Node 0 has the single best expert but a weak second; nodes 1 and 3 have two good ones each.
  const std::vector<float> logits = {5.0f, -3.0f, -3.0f, -3.0f,  2.0f, 2.0f, -3.0f, -3.0f,
                                     1.0f, -3.0f, -3.0f, -3.0f,  2.5f, 1.8f, -3.0f, -3.0f};
  const std::vector<float> bias(16, 0.0f);
  const Route r = RouteToken(logits.data(), c, bias);
  // Sums of top 2 sigmoids: node 0: s(5) + s(-3) = 1.04, node 1: 2 s(2) = 1.76, node 2: s(1) + s(-3) = 0.78,
  // node 3: s(2.5) + s(1.8) = 1.78: nodes 3 and 1, though expert 0 alone scores highest.
  EXPECT_EQ(r.experts, (std::vector<int>{12, 4, 5, 13}));
  // Without the limit the best expert of all is taken.
  c.moe_nodes = 0;
  EXPECT_EQ(RouteToken(logits.data(), c, bias).experts[0], 0);
  // Random tokens: at most M nodes, and the nodes are those a brute-force ranking picks.
  c.moe_nodes = 4;
  uint32_t seed = 7;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> lg(16);
    for (float& x : lg) x = NextLogit(seed);
    const Route t = RouteToken(lg.data(), c, bias);
    std::vector<std::pair<float, int>> nodes;
    for (int n = 0; n < 4; ++n) {
      std::vector<float> s;
      for (int e = 4 * n; e < 4 * n + 4; ++e) s.push_back(Sigmoid(lg[e]));
      std::sort(s.rbegin(), s.rend());
      nodes.push_back({-(s[0] + s[1]), n});
    }
    std::sort(nodes.begin(), nodes.end());
    for (int e : t.experts) {
      const int n = e / 4;
      EXPECT_TRUE(n == nodes[0].second || n == nodes[1].second) << "trial " << trial << " expert " << e;
    }
  }
}

// With moe_nodes = n_group and K / M = 2, node-limited routing is V3's group-limited noaux_tc rule.
TEST(Router, NodeLimitedEqualsV3GroupLimitedWhenTheyCoincide) {
  ModelConfig g;
  g.model_type = "deepseek_v3";
  g.n_routed_experts = 16;
  g.num_experts_per_tok = 4;
  g.topk_method = TopkMethod::kNoauxTc;
  g.scoring_func = ScoringFunc::kSigmoid;
  g.n_group = 4;
  g.topk_group = 2;
  ModelConfig n = g;
  n.n_group = 1;
  n.topk_group = 1;
  n.moe_nodes = 4;
  n.moe_node_limit = 2;
  uint32_t seed = 11;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> lg(16), bias(16);
    for (float& x : lg) x = NextLogit(seed);
    for (float& b : bias) b = NextLogit(seed) / 10;
    EXPECT_EQ(RouteToken(lg.data(), g, bias).experts, RouteToken(lg.data(), n, bias).experts) << trial;
  }
}

}  // namespace
}  // namespace gorae
