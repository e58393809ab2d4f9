#include "rl/rollout.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>

#include "infer/generate.h"
#include "rl/grpo_loss.h"

namespace gorae::rl {

namespace {

// One decoding slot: a sequence being generated, its cache and sampler.
struct Slot {
  int64_t seq = -1;  // index into the output, -1 when free
  std::unique_ptr<KVCache> cache;
  std::unique_ptr<Sampler> sampler;
  std::vector<int> history;  // prompt + completion, for the repetition penalty
  std::vector<int> feed;     // tokens to run next: the prompt, then the last sampled token
  std::vector<float> logits;
};

bool AllFinite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<Rollout>> RunRollouts(const Model& model, const std::vector<std::vector<int>>& prompts,
                                         int64_t group, const RolloutOptions& options,
                                         const RolloutProgress& progress) {
  if (group < 1) return InvalidArgument("group size must be at least 1, got {}", group);
  if (options.max_new_tokens < 1) return InvalidArgument("max new tokens must be positive");
  GORAE_RETURN_IF_ERROR(ValidateSamplerConfig(options.sampler));
  const int64_t V = model.config().vocab_size;
  for (size_t p = 0; p < prompts.size(); ++p) {
    if (prompts[p].empty()) return InvalidArgument("prompt {} has no tokens", p);
    for (int t : prompts[p]) {
      if (t < 0 || t >= V) return InvalidArgument("prompt {}: token id {} is outside the vocabulary [0, {})", p, t, V);
    }
  }
  const int64_t total = static_cast<int64_t>(prompts.size()) * group;
  std::vector<Rollout> out(static_cast<size_t>(total));
  std::deque<int64_t> pending;
  for (int64_t k = 0; k < total; ++k) {
    out[k].prompt_index = k / group;
    pending.push_back(k);
  }
  std::vector<Slot> slots(static_cast<size_t>(std::max<int64_t>(1, std::min(options.max_batch, total))));
  int64_t done = 0, tokens = 0;

  auto finish = [&](Slot& s, FinishReason reason, std::string error) {
    Rollout& r = out[s.seq];
    r.finish = reason;
    if (!error.empty()) {
      r.error = std::move(error);
      std::fill(r.mask.begin(), r.mask.end(), uint8_t{0});
    }
    s.seq = -1;
    ++done;
  };

  while (done < total) {
    // Fill free slots with waiting sequences: their first step is the prompt's prefill.
    for (Slot& s : slots) {
      if (s.seq >= 0 || pending.empty()) continue;
      s.seq = pending.front();
      pending.pop_front();
      if (!s.cache) s.cache = std::make_unique<KVCache>(model.NewCache(MlaMode::kNaive));
      s.cache->Clear();
      SamplerConfig sc = options.sampler;
      sc.seed = options.sampler.seed + static_cast<uint64_t>(s.seq);
      s.sampler = std::make_unique<Sampler>(sc);
      const std::vector<int>& prompt = prompts[static_cast<size_t>(out[s.seq].prompt_index)];
      s.history = prompt;
      s.feed = prompt;
      s.logits.resize(static_cast<size_t>(V));
    }
    std::vector<Model::SequenceStep> steps;
    std::vector<Slot*> running;
    for (Slot& s : slots) {
      if (s.seq < 0) continue;
      steps.push_back({s.feed, s.cache.get(), s.logits.data(), false});
      running.push_back(&s);
    }
    if (running.empty()) break;
    const Status st = model.ForwardBatch(steps);
    if (!st.ok()) {
      // Which sequence caused it is not known: end every running one, keep the finished.
      for (Slot* s : running) finish(*s, FinishReason::kLength, st.message());
      continue;
    }
    for (Slot* s : running) {
      Rollout& r = out[s->seq];
      if (!AllFinite(s->logits.data(), V)) {
        finish(*s, FinishReason::kLength, "non-finite logits");
        continue;
      }
      MaskPastVocabLimit(s->logits, options.vocab_limit);
      const int next = s->sampler->Sample(s->logits, s->history);
      r.tokens.push_back(next);
      r.logprobs.push_back(static_cast<float>(LogProbAndEntropy(s->logits, next, options.logprob_temperature).logp));
      r.mask.push_back(1);
      s->history.push_back(next);
      ++tokens;
      if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) {
        finish(*s, FinishReason::kStop, "");
      } else if (static_cast<int>(r.tokens.size()) >= options.max_new_tokens) {
        finish(*s, FinishReason::kLength, "");
      } else {
        s->feed.assign(1, next);
      }
    }
    if (progress) progress(done, total, tokens);
  }
  return out;
}

}  // namespace gorae::rl
