// Auxiliary-loss-free load balancing (DeepSeek-V3 sec. 2.1.2) and router metrics.
//
// After each optimizer step, every MoE block's e_score_correction_bias moves by gamma toward
// balance: b_i -= gamma for an overloaded expert (load above the mean), b_i += gamma for an
// underloaded one. The bias only steers the top-k choice (model/moe.h), never the weights, so
// balancing does not distort the gradient the way an auxiliary loss does.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/ffn_train.h"
#include "train/train_model.h"

namespace gorae::train {

// Applies the bias rule to each MoE block (blocks[i] indexes params().layers; stats[i] its load
// over the step). Only noaux_tc routing has a bias; for other methods this does nothing.
void UpdateRouterBias(TrainModel& model, const std::vector<int64_t>& blocks, const std::vector<MoeStats>& stats,
                      double gamma);

// Per-block metrics: load fractions, max load / mean load, router entropy (nats, of the
// normalised scores), tokens dropped (assignments short of tokens * top-k: 0 for gorae's
// dropless MoE, measured not assumed), balance loss.
nlohmann::json MoeMetrics(const std::vector<int64_t>& blocks, const std::vector<MoeStats>& stats, int64_t top_k);

}  // namespace gorae::train
