// The GRPO objective (DeepSeekMath sec. 4.1, DeepSeek-R1), per token and aggregated.
//
// For completion i of a group and its token t, with the current policy's log-probability
// logp = log softmax(logits / temperature)[token], the sampling policy's old_logp and the frozen
// reference's ref_logp:
//
//   ratio     = exp(logp - old_logp)
//   pg        = -min(ratio * A_i, clip(ratio, 1 - eps_low, 1 + eps_high) * A_i)
//   kl (k3)   = exp(ref_logp - logp) - (ref_logp - logp) - 1         (>= 0, unbiased for KL)
//   per_token = pg + beta * kl
//
// and the loss aggregates per_token over the batch's completion tokens (mask 1):
//   grpo:    mean over sequences of each sequence's mean over its tokens     (DeepSeekMath)
//   dr_grpo: sum over tokens / (sequences * max_completion_length)           (Dr. GRPO)
//   dapo:    sum over tokens / number of tokens                               (DAPO, token level)
// The normalisers are those of the whole step's batch, so splitting it into micro-batches and
// accumulating gradients gives the full-batch gradient exactly.
//
// Advantages from rewards, per group of G completions of one prompt:
//   group: A = (r - mean_group) / (std_group + 1e-4)    (std with Bessel's correction, as TRL)
//   batch: A = (r - mean_group) / (std_batch + 1e-4)
//   none:  A = r - mean_group                            (Dr. GRPO)
//
// The gradient wrt logp: d pg / d logp = -A * ratio when the unclipped term is the minimum
// (clipping active means A > 0 and ratio > 1 + eps_high, or A < 0 and ratio < 1 - eps_low, and
// then the gradient is 0); d kl / d logp = 1 - exp(ref_logp - logp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace gorae::rl {

enum class LossAggregation { kGrpo, kDrGrpo, kDapo };
Result<LossAggregation> ParseLossAggregation(const std::string& name);  // grpo | dr_grpo | dapo
const char* LossAggregationName(LossAggregation a);

enum class RewardScaling { kGroup, kBatch, kNone };
Result<RewardScaling> ParseRewardScaling(const std::string& name);  // group | batch | none
const char* RewardScalingName(RewardScaling s);

struct GrpoLossConfig {
  double eps_low = 0.2;
  double eps_high = 0.2;   // DAPO's clip-higher uses e.g. 0.28
  double beta = 0.04;      // KL coefficient (0: no reference model)
  LossAggregation aggregation = LossAggregation::kGrpo;
  int64_t max_completion_length = 0;  // dr_grpo's constant normaliser
};

// Advantages (rewards.size() = groups * group_size, group-major).
std::vector<double> ComputeAdvantages(std::span<const double> rewards, int64_t group_size, RewardScaling scaling);

struct TokenTerms {
  double loss = 0.0;     // per_token
  double d_logp = 0.0;   // d per_token / d logp
  double kl = 0.0;
  bool clipped = false;  // the clipped term is the minimum (no policy gradient from this token)
};
TokenTerms GrpoTokenTerms(double logp, double old_logp, double ref_logp, double advantage, const GrpoLossConfig& c);

// The aggregation weight of each token of a sequence with `tokens` completion tokens, in a batch
// of `sequences` sequences holding `total_tokens` completion tokens: loss = sum w * per_token.
double TokenWeight(LossAggregation a, int64_t tokens, int64_t sequences, int64_t total_tokens,
                   int64_t max_completion_length);

// log softmax(logits / temperature)[target] and the entropy of that distribution, in double.
struct TokenLogProb {
  double logp = 0.0;
  double entropy = 0.0;
};
TokenLogProb LogProbAndEntropy(std::span<const float> logits, int target, double temperature);

}  // namespace gorae::rl
