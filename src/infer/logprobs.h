// Log-probabilities of tokens under the model: log-softmax of the raw logits (before
// temperature, top-k/p or penalties), so they equal what `gorae logits` prints, put through a
// log-softmax. This is what OpenAI's `logprobs` and the echo of prompt tokens report, and what
// evaluation harnesses sum for a continuation's log-likelihood.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace gorae {

struct TokenLogprob {
  int id = -1;
  float logprob = 0.0f;
  std::vector<std::pair<int, float>> top;  // the most likely ids and their logprobs, best first
};

inline constexpr int kMaxTopLogprobs = 20;

// log(sum(exp(logits))), in double: a 129k-entry sum in float loses small logprobs' digits.
double LogSumExp(std::span<const float> logits);

// The logprob of `id` and of the `top_n` most likely ids under `logits` (vocab), whose
// LogSumExp is `log_norm`. Ids at or past `id_limit` (> 0) are left out of `top` (a vocabulary
// padded past the tokenizer's has no text for them) but stay in the normalisation, the model's
// own distribution: so the logits may have been masked past id_limit after log_norm was taken.
TokenLogprob LogprobOf(std::span<const float> logits, double log_norm, int id, int top_n, int64_t id_limit = 0);
inline TokenLogprob LogprobOf(std::span<const float> logits, int id, int top_n, int64_t id_limit = 0) {
  return LogprobOf(logits, LogSumExp(logits), id, top_n, id_limit);
}

}  // namespace gorae
