// Autoregressive generation over the KV-cached engine: prefill the prompt in one pass, then
// one token at a time. Shared by `gorae generate`, the server and GRPO rollouts.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "core/status.h"
#include "infer/sampler.h"
#include "model/transformer.h"

namespace gorae {

struct GenerateOptions {
  int max_new_tokens = 32;
  std::vector<int> stop_ids;  // generation ends after emitting one of these
  // Ids at or past this are never sampled (0: no limit). Models pad vocab_size past their
  // tokenizer's ids (to a multiple of 64, say); a padded id has a logit but no text.
  int64_t vocab_limit = 0;
};

// Sets logits[limit..] to -infinity when 0 < limit < logits.size(): the ids a sampler must not pick.
void MaskPastVocabLimit(std::span<float> logits, int64_t limit);

enum class FinishReason { kStop, kLength };

struct Generation {
  std::vector<int> tokens;  // the new tokens (a stop token included)
  FinishReason finish = FinishReason::kLength;
};

// Called with each new token as it is chosen; return false to stop early.
using TokenCallback = std::function<bool(int token)>;

// Generates after `prompt`, continuing from whatever `cache` already holds (empty for a new
// sequence). The prompt must not be empty.
Result<Generation> Generate(const Model& model, KVCache& cache, std::span<const int> prompt, Sampler& sampler,
                            const GenerateOptions& options, const TokenCallback& on_token = {});

// Parses "1 2 3" (spaces, commas or newlines between ids) into token ids.
Result<std::vector<int>> ParseTokenList(const std::string& text);

}  // namespace gorae
