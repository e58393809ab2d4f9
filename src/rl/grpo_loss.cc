#include "rl/grpo_loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gorae::rl {

Result<LossAggregation> ParseLossAggregation(const std::string& name) {
  if (name == "grpo") return LossAggregation::kGrpo;
  if (name == "dr_grpo") return LossAggregation::kDrGrpo;
  if (name == "dapo") return LossAggregation::kDapo;
  return InvalidArgument("unknown loss '{}' (grpo, dr_grpo, dapo)", name);
}

const char* LossAggregationName(LossAggregation a) {
  switch (a) {
    case LossAggregation::kGrpo: return "grpo";
    case LossAggregation::kDrGrpo: return "dr_grpo";
    case LossAggregation::kDapo: return "dapo";
  }
  return "?";
}

Result<RewardScaling> ParseRewardScaling(const std::string& name) {
  if (name == "group") return RewardScaling::kGroup;
  if (name == "batch") return RewardScaling::kBatch;
  if (name == "none") return RewardScaling::kNone;
  return InvalidArgument("unknown --scale-rewards '{}' (group, batch, none)", name);
}

const char* RewardScalingName(RewardScaling s) {
  switch (s) {
    case RewardScaling::kGroup: return "group";
    case RewardScaling::kBatch: return "batch";
    case RewardScaling::kNone: return "none";
  }
  return "?";
}

namespace {

// Sample standard deviation (Bessel's correction, torch.std's default); 0 for fewer than 2 values.
double SampleStd(std::span<const double> x) {
  if (x.size() < 2) return 0.0;
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  double ss = 0.0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return std::sqrt(ss / static_cast<double>(x.size() - 1));
}

}  // namespace

std::vector<double> ComputeAdvantages(std::span<const double> rewards, int64_t group_size, RewardScaling scaling) {
  const size_t G = static_cast<size_t>(group_size);
  std::vector<double> adv(rewards.size());
  const double batch_std = SampleStd(rewards);
  for (size_t g0 = 0; g0 < rewards.size(); g0 += G) {
    const auto group = rewards.subspan(g0, std::min(G, rewards.size() - g0));
    double mean = 0.0;
    for (double r : group) mean += r;
    mean /= static_cast<double>(group.size());
    const double std = scaling == RewardScaling::kGroup ? SampleStd(group) : batch_std;
    for (size_t i = 0; i < group.size(); ++i) {
      adv[g0 + i] = group[i] - mean;
      if (scaling != RewardScaling::kNone) adv[g0 + i] /= std + 1e-4;
    }
  }
  return adv;
}

TokenTerms GrpoTokenTerms(double logp, double old_logp, double ref_logp, double advantage, const GrpoLossConfig& c) {
  TokenTerms t;
  const double ratio = std::exp(logp - old_logp);
  const double clipped_ratio = std::clamp(ratio, 1.0 - c.eps_low, 1.0 + c.eps_high);
  const double unclipped = ratio * advantage, clipped = clipped_ratio * advantage;
  // The clipped term wins the min only when it is strictly smaller, i.e. when the ratio left
  // the trust region in the direction the advantage rewards.
  t.clipped = clipped < unclipped;
  t.loss = -std::min(unclipped, clipped);
  t.d_logp = t.clipped ? 0.0 : -advantage * ratio;
  if (c.beta != 0.0) {
    const double d = ref_logp - logp;
    t.kl = std::exp(d) - d - 1.0;
    t.loss += c.beta * t.kl;
    t.d_logp += c.beta * (1.0 - std::exp(d));
  }
  return t;
}

double TokenWeight(LossAggregation a, int64_t tokens, int64_t sequences, int64_t total_tokens,
                   int64_t max_completion_length) {
  switch (a) {
    case LossAggregation::kGrpo:
      return tokens > 0 && sequences > 0 ? 1.0 / (static_cast<double>(tokens) * static_cast<double>(sequences)) : 0.0;
    case LossAggregation::kDrGrpo:
      return sequences > 0 && max_completion_length > 0
                 ? 1.0 / (static_cast<double>(sequences) * static_cast<double>(max_completion_length))
                 : 0.0;
    case LossAggregation::kDapo:
      return total_tokens > 0 ? 1.0 / static_cast<double>(total_tokens) : 0.0;
  }
  return 0.0;
}

TokenLogProb LogProbAndEntropy(std::span<const float> logits, int target, double temperature) {
  const double inv_t = temperature > 0 ? 1.0 / temperature : 1.0;
  double mx = -std::numeric_limits<double>::infinity();
  for (float z : logits) mx = std::max(mx, z * inv_t);
  double sum = 0.0, weighted = 0.0;
  for (float z : logits) {
    const double s = z * inv_t - mx;
    const double e = std::exp(s);
    sum += e;
    weighted += e * s;
  }
  const double log_sum = std::log(sum);
  TokenLogProb r;
  r.logp = logits[static_cast<size_t>(target)] * inv_t - mx - log_sum;
  r.entropy = log_sum - weighted / sum;  // -sum p log p with log p = s - log_sum
  return r;
}

}  // namespace gorae::rl
