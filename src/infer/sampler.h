// Token sampling from logits: greedy, temperature, top-k, top-p, min-p, repetition penalty,
// seeded. Separate from the engine so that generate, serve and GRPO rollouts share it.
#pragma once

#include <cstdint>
#include <random>
#include <span>

#include "core/status.h"

namespace gorae {

struct SamplerConfig {
  float temperature = 1.0f;         // 0: greedy (argmax; ties go to the lowest id)
  int top_k = 0;                    // 0: no limit
  float top_p = 1.0f;               // nucleus mass in (0, 1]; 1: no limit
  float min_p = 0.0f;               // drop tokens with p < min_p * p_max; 0: off
  float repetition_penalty = 1.0f;  // CTRL-style: logit / rp if > 0 else logit * rp, for seen ids
  uint64_t seed = 0;
};

// Checks ranges (temperature >= 0, top_p in (0,1], min_p in [0,1], top_k >= 0, penalty > 0);
// the message names the option.
Status ValidateSamplerConfig(const SamplerConfig& c);

class Sampler {
 public:
  explicit Sampler(const SamplerConfig& config);

  // Picks the next token from logits (vocab). `history` holds the ids seen so far (prompt and
  // generated), used only by the repetition penalty. Deterministic for a given seed and call
  // sequence.
  int Sample(std::span<const float> logits, std::span<const int> history);

  const SamplerConfig& config() const { return config_; }

 private:
  SamplerConfig config_;
  std::mt19937_64 rng_;
};

}  // namespace gorae
