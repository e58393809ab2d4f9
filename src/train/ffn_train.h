// The feed-forward half of a block for training: SwiGLU MLP (dense layers, routed and shared
// experts) and DeepSeekMoE (router + experts), forward with saved activations and backward.
//
// MoE: the router picks experts exactly as inference does (model/moe.h RouteToken: biased
// choice, group limits, top-k); the output is
//   y[t] = shared(x[t]) + sum_i w[t,i] * expert_{e[t,i]}(x[t]),
// with w the unbiased scores of the chosen experts (renormalised, scaled). Gradients reach the
// router through w; the choice itself is discrete and e_score_correction_bias gets no gradient
// (DeepSeek-V3 moves it by +-gamma from the expert load instead: see balance.h).
//
// Sequence-wise balance loss (DeepSeek-V3 eq. 17-20), per sequence of T tokens:
//   f_i = E / (K T) * #{t : i chosen for t},  P_i = 1/T sum_t s'_{t,i},  s' = s / sum_j s_j
//   L_bal = alpha * sum_i f_i P_i, averaged over the B sequences of the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/expert_parallel.h"
#include "model/weights.h"

namespace gorae::train {

struct MlpActs {
  std::vector<float> g, u, a;  // (N, inter) each: gate, up, silu(gate) * up
};

// out (N, hidden) = down(silu(gate(x)) * up(x)).
void MlpTrainForward(float* out, MlpActs& acts, const float* x, const MlpWeights& w, int64_t N);
// d_x (N, hidden) = (or += when accumulate) gradient wrt x; g's matrices += weight gradients.
void MlpTrainBackward(float* d_x, MlpWeights& g, const float* d_out, const MlpActs& acts, const float* x,
                      const MlpWeights& w, int64_t N, bool accumulate_d_x);

// Router statistics of one MoE layer, summed over the micro-batches of a step.
struct MoeStats {
  std::vector<int64_t> load;  // (E) token assignments per expert
  int64_t tokens = 0;         // tokens routed
  int64_t assignments = 0;    // sum of load: tokens * K when nothing is dropped
  double entropy_sum = 0.0;   // sum over tokens of the entropy of s' (nats)
  double balance_loss = 0.0;  // sum over micro-batches of alpha * mean_b sum_i f_i P_i
  void Reset(int64_t E);
  void Add(const MoeStats& o);
};

struct MoeActs {
  std::vector<float> scores;                    // (N, E) router scores (softmax or sigmoid)
  std::vector<int> experts;                     // (N, K) chosen experts
  std::vector<float> weights;                   // (N, K) their output weights
  std::vector<std::vector<int64_t>> slots;      // per expert: the (token * K + slot) routed to it
  std::vector<std::vector<float>> xin, yout;    // per expert (n_e, hidden): gathered input, output
  std::vector<MlpActs> expert_acts;             // per expert
  MlpActs shared;
  std::vector<float> f;                         // (B, E) balance-loss load factors
  // Expert parallelism (expert_exchange.h): per expert this rank holds, the rows of the group's
  // ranks it received (sources in rank order) and how many came from each.
  std::vector<std::vector<float>> ep_xin;
  std::vector<std::vector<int64_t>> ep_counts;
};

// out (B*T, hidden) = MoE(x). Adds alpha * mean_b L_bal to *balance_loss and fills stats.
// With an active expert shard, this rank runs only its experts, on the rows of every rank of its
// expert-parallel group (dispatch and combine through expert_exchange.h).
void MoeTrainForward(float* out, MoeActs& acts, MoeStats& stats, double* balance_loss, const float* x,
                     const MoeWeights& w, const ModelConfig& c, int64_t B, int64_t T, double alpha,
                     const ExpertShard& ep = {});
// d_x (B*T, hidden) = gradient wrt x (overwritten); weight gradients accumulate into g. The
// balance loss enters with weight alpha * loss_scale (loss_scale: the micro-batch's share).
void MoeTrainBackward(float* d_x, MoeWeights& g, const float* d_out, const MoeActs& acts, const float* x,
                      const MoeWeights& w, const ModelConfig& c, int64_t B, int64_t T, double alpha,
                      double loss_scale, const ExpertShard& ep = {});

}  // namespace gorae::train
