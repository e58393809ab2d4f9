// Rollouts: G sampled completions of each prompt, all sequences decoded together through the
// KV-cached engine (Model::ForwardBatch), so every weight is read once per step for the whole
// batch. Shared by GRPO (sampling) and evaluation (greedy and pass@k sampling).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "infer/generate.h"
#include "infer/sampler.h"
#include "model/transformer.h"

namespace gorae::rl {

struct RolloutOptions {
  int max_new_tokens = 256;
  SamplerConfig sampler;        // temperature 0: greedy; seed: base seed (sequence k uses seed + k)
  std::vector<int> stop_ids;    // end of turn: the completion ends after emitting one of these
  int64_t max_batch = 64;       // sequences decoded together at most
  double logprob_temperature = 1.0;  // logprobs are of softmax(logits / this)
  // Ids from this one on are never sampled (0: none excluded): a model's vocabulary is often
  // padded past its tokenizer's (to a multiple of 64), and those ids have no text.
  int64_t vocab_limit = 0;
};

struct Rollout {
  int64_t prompt_index = 0;     // which prompt it completes
  std::vector<int> tokens;      // the completion (the stop token included)
  std::vector<float> logprobs;  // per completion token, under the sampling-time policy
  std::vector<uint8_t> mask;    // 1 for tokens that count in the loss (0 after a failure)
  FinishReason finish = FinishReason::kLength;
  std::string error;            // non-empty when this sequence failed (its tokens are masked out)
};

// Called after every decode step with (sequences finished, total sequences, tokens so far).
using RolloutProgress = std::function<void(int64_t done, int64_t total, int64_t tokens)>;

// Completions (prompts.size() * group, prompt-major: prompt p's group is [p*group, (p+1)*group)).
// A sequence whose logits turn non-finite, or whose step fails, ends with `error` set and its
// mask zeroed; the others go on. Errors that concern the whole call (an empty prompt, group < 1)
// are returned as a Status.
Result<std::vector<Rollout>> RunRollouts(const Model& model, const std::vector<std::vector<int>>& prompts,
                                         int64_t group, const RolloutOptions& options,
                                         const RolloutProgress& progress = {});

}  // namespace gorae::rl
