#include "server/batch_engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "core/check.h"
#include "core/threads.h"
#include "infer/generate.h"

namespace gorae::server {

// ---- Job ----

Job::Job(size_t sequences) : progress_(sequences), cancelled_(new std::atomic<bool>[sequences]) {
  for (size_t i = 0; i < sequences; ++i) cancelled_[i].store(false);
}

uint64_t Job::WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return version_ != seen; });
  return version_;
}

Job::Progress Job::Read(size_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return progress_[i];
}

Job::Progress Job::Read(size_t i, size_t logprobs_from, bool with_prompt_logprobs) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Progress& p = progress_[i];
  Progress out;
  out.tokens = p.tokens;
  out.done = p.done;
  out.finish = p.finish;
  out.cached_prompt_tokens = p.cached_prompt_tokens;
  out.prefilled = p.prefilled;
  if (logprobs_from < p.logprobs.size()) out.logprobs.assign(p.logprobs.begin() + logprobs_from, p.logprobs.end());
  if (with_prompt_logprobs) out.prompt_logprobs = p.prompt_logprobs;
  return out;
}

Status Job::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

bool Job::AllDone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::all_of(progress_.begin(), progress_.end(), [](const Progress& p) { return p.done; });
}

void Job::Cancel() {
  for (size_t i = 0; i < progress_.size(); ++i) cancelled_[i].store(true);
}

void Job::Append(size_t i, int token, TokenLogprob* logprob) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_[i].tokens.push_back(token);
  if (logprob) progress_[i].logprobs.push_back(std::move(*logprob));
}

void Job::Prefilled(size_t i, int cached, std::vector<TokenLogprob> prompt_logprobs) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_[i].cached_prompt_tokens = cached;
  progress_[i].prompt_logprobs = std::move(prompt_logprobs);
  progress_[i].prefilled = true;
}

void Job::Finish(size_t i, FinishReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (progress_[i].done) return;
  progress_[i].done = true;
  progress_[i].finish = reason;
}

void Job::Fail(const Status& s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = s;
  for (auto& p : progress_) p.done = true;
}

void Job::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
  }
  cv_.notify_all();
}

// ---- engine ----

struct BatchEngine::Sequence {
  std::shared_ptr<Job> job;
  size_t index = 0;  // within the job
  SequenceSpec spec;
  std::unique_ptr<Sampler> sampler;
  std::vector<int> history;  // prompt + generated, for the repetition penalty
  int slot = -1;             // index into caches_
  bool started = false;      // prefill begun (StartPrefill ran)
  size_t prefilled = 0;      // prompt tokens already in the cache
  int64_t cached = 0;        // of those, reused from the prompt cache
  int generated = 0;
  int next = -1;             // last sampled token, fed at the next step
  std::vector<float> logits;  // (rows, vocab): the last step's logits; rows > 1 only for echo chunks
  std::vector<TokenLogprob> prompt_logprobs;  // echo: gathered over the prefill chunks
  std::optional<GrammarMatcher> matcher;      // where the text is in spec.constraint's grammar
};

namespace {

constexpr int kCheapRedraws = 8;  // single-token checks before a grammar's whole mask is computed

int64_t CommonPrefix(const std::vector<int>& a, const std::vector<int>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

}  // namespace

BatchEngine::BatchEngine(const Model& model, EngineOptions options) : model_(model), options_(options) {
  GORAE_CHECK(options_.parallel >= 1 && options_.max_queued >= 0 && options_.context >= 2 &&
              options_.prefill_chunk >= 1);
  for (int i = 0; i < options_.parallel; ++i) caches_.push_back(model_.NewCache(options_.mla));
  cache_in_use_.assign(caches_.size(), false);
  slot_tokens_.resize(caches_.size());
  slot_last_used_.assign(caches_.size(), 0);
  thread_ = std::thread([this] { Loop(); });
}

BatchEngine::~BatchEngine() { Shutdown(); }

Admission BatchEngine::Submit(std::vector<SequenceSpec> sequences) {
  Admission a;
  if (sequences.empty()) {
    a.error = InvalidArgument("no sequences to generate");
    return a;
  }
  const int64_t vocab = model_.config().vocab_size;
  for (const auto& s : sequences) {
    if (s.prompt.empty()) {
      a.error = InvalidArgument("prompt: the prompt has no tokens");
      return a;
    }
    for (int id : s.prompt) {
      if (id < 0 || id >= vocab) {
        a.error = InvalidArgument("prompt: token id {} is outside the model's vocabulary [0, {})", id, vocab);
        return a;
      }
    }
    if (s.max_tokens < (s.prompt_logprobs >= 0 ? 0 : 1)) {
      a.error = InvalidArgument("max_tokens: must be at least {}, got {}", s.prompt_logprobs >= 0 ? 0 : 1, s.max_tokens);
      return a;
    }
    if (s.logprobs > kMaxTopLogprobs || s.prompt_logprobs > kMaxTopLogprobs) {
      a.error = InvalidArgument("top_logprobs: at most {} alternatives, got {}", kMaxTopLogprobs,
                                std::max(s.logprobs, s.prompt_logprobs));
      return a;
    }
    const int64_t total = static_cast<int64_t>(s.prompt.size()) + s.max_tokens;
    if (total > options_.context) {
      a.error = InvalidArgument(
          "max_tokens: the prompt ({} tokens) plus max_tokens ({}) is {} tokens, more than the context of {}",
          s.prompt.size(), s.max_tokens, total, options_.context);
      return a;
    }
    Status valid = ValidateSamplerConfig(s.sampler);
    if (!valid.ok()) {
      a.error = valid;
      return a;
    }
  }

  auto job = std::make_shared<Job>(sequences.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_ || shutdown_ ||
        queue_.size() + sequences.size() > static_cast<size_t>(options_.max_queued) + (options_.parallel - active_count_)) {
      a.overloaded = true;
      return a;
    }
    for (size_t i = 0; i < sequences.size(); ++i) {
      auto seq = std::make_unique<Sequence>();
      seq->job = job;
      seq->index = i;
      seq->spec = std::move(sequences[i]);
      queue_.push_back(std::move(seq));
    }
    stats_.queued = static_cast<int>(queue_.size());
  }
  cv_.notify_one();
  a.job = std::move(job);
  return a;
}

EngineStats BatchEngine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = stats_;
  s.active = active_count_;
  s.queued = static_cast<int>(queue_.size());
  s.accepting = accepting_;
  return s;
}

void BatchEngine::StopAccepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
}

bool BatchEngine::WaitIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && active_count_ == 0; });
}

void BatchEngine::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return;
    shutdown_ = true;
    accepting_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whatever never ran is failed so that no caller waits forever.
  const Status stopping(StatusCode::kInternal, "the server is shutting down");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : queue_) {
    s->job->Fail(stopping);
    s->job->Notify();
  }
  queue_.clear();
}

void BatchEngine::Release(Sequence& s) {
  if (s.slot >= 0) cache_in_use_[s.slot] = false;
  s.slot = -1;
}

void BatchEngine::RecordCacheUse() {
  stats_.kv_tokens = 0;
  for (const auto& s : active_) stats_.kv_tokens += caches_[s->slot].size();
  stats_.kv_capacity_tokens = stats_.kv_bytes = 0;
  for (const KVCache& c : caches_) {
    stats_.kv_capacity_tokens += c.capacity();
    stats_.kv_bytes += c.bytes();
  }
}

void BatchEngine::Loop() {
  // OpenMP's thread count is per thread: without this the engine thread would use every core
  // whatever --threads said on the main thread.
  SetNumThreads(NumThreads());
  const Status stopping(StatusCode::kInternal, "the server is shutting down");
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return shutdown_ || !queue_.empty() || !active_.empty(); });
      if (shutdown_) break;
      // Admit waiting sequences into free slots, oldest first.
      while (static_cast<int>(active_.size()) < options_.parallel && !queue_.empty()) {
        auto seq = std::move(queue_.front());
        queue_.pop_front();
        if (seq->job->cancelled(seq->index)) {  // given up while waiting (client gone)
          seq->job->Finish(seq->index, FinishReason::kStop);
          seq->job->Notify();
          continue;
        }
        seq->slot = PickSlot(*seq);
        cache_in_use_[seq->slot] = true;
        slot_last_used_[seq->slot] = ++use_clock_;
        active_.push_back(std::move(seq));
      }
      active_count_ = static_cast<int>(active_.size());
    }
    try {
      Step();
    } catch (const std::exception& e) {
      // A failed step (std::bad_alloc for a KV cache that does not fit, say) ends the sequences
      // it was running, each with an error naming the cause, and the server goes on serving the
      // queue: an uncaught exception on this thread would terminate the whole process.
      const Status failed(StatusCode::kInternal, fmt::format("the batch step failed: {}", e.what()));
      for (auto& s : active_) {
        // What the step left in the cache is unknown: nothing of it is reused.
        caches_[s->slot].Clear();
        slot_tokens_[s->slot].clear();
        Release(*s);
        s->job->Fail(failed);
        s->job->Notify();
      }
      active_.clear();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_count_ = static_cast<int>(active_.size());
      RecordCacheUse();
    }
    idle_cv_.notify_all();
  }
  for (auto& s : active_) {
    s->job->Fail(stopping);
    s->job->Notify();
  }
  active_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  active_count_ = 0;
}

int BatchEngine::PickSlot(const Sequence& s) const {
  const bool reuse = options_.prompt_cache && s.spec.reuse_prefix;
  int best = -1;
  int64_t best_len = -1;
  for (size_t c = 0; c < caches_.size(); ++c) {
    if (cache_in_use_[c]) continue;
    const int64_t len = reuse ? CommonPrefix(slot_tokens_[c], s.spec.prompt) : 0;
    if (len > best_len || (len == best_len && slot_last_used_[c] < slot_last_used_[static_cast<size_t>(best)])) {
      best = static_cast<int>(c);
      best_len = len;
    }
  }
  GORAE_CHECK(best >= 0);
  return best;
}

int64_t BatchEngine::StartPrefill(Sequence& s, size_t position_in_active) {
  const std::vector<int>& prompt = s.spec.prompt;
  const size_t slot = static_cast<size_t>(s.slot);
  // Echo needs the logits of every prompt position, so it prefills everything.
  const bool reuse = options_.prompt_cache && s.spec.reuse_prefix && s.spec.prompt_logprobs < 0;
  // The last prompt token is always fed again: its logits choose the first new token.
  const int64_t limit = static_cast<int64_t>(prompt.size()) - 1;
  int64_t own = 0, best = 0;
  int from = -1;
  if (reuse) {
    own = best = std::min(CommonPrefix(slot_tokens_[slot], prompt), limit);
    // Expert-parallel ranks mirror each cache by replaying rank 0's steps; a copy between
    // caches would not reach them, so there only a slot's own prefix is reused.
    if (!model_.expert_shard().active()) {
      for (size_t c = 0; c < caches_.size(); ++c) {
        const int64_t len = c == slot ? 0 : std::min(CommonPrefix(slot_tokens_[c], prompt), limit);
        if (len > best) best = len, from = static_cast<int>(c);
      }
      for (size_t k = 0; k < position_in_active; ++k) {
        const Sequence& o = *active_[k];
        if (o.prefilled < o.spec.prompt.size() && std::min(CommonPrefix(o.spec.prompt, prompt), limit) > best) return -1;
      }
    }
  }
  KVCache& cache = caches_[slot];
  if (from >= 0) {
    cache.CopyPrefixFrom(caches_[static_cast<size_t>(from)], best);
    slot_tokens_[slot].assign(slot_tokens_[static_cast<size_t>(from)].begin(),
                              slot_tokens_[static_cast<size_t>(from)].begin() + best);
  } else {
    cache.Truncate(own);
    slot_tokens_[slot].resize(static_cast<size_t>(own));
  }
  cache.Reserve(static_cast<int64_t>(prompt.size()) + s.spec.max_tokens);
  s.sampler = std::make_unique<Sampler>(s.spec.sampler);
  if (s.spec.constraint) s.matcher.emplace(s.spec.constraint->NewMatcher());
  s.history = prompt;
  s.started = true;
  s.prefilled = static_cast<size_t>(best);
  s.cached = best;
  return best;
}

void BatchEngine::RecordPromptLogprobs(Sequence& s, size_t chunk_begin, size_t chunk_size) {
  const size_t vocab = static_cast<size_t>(model_.config().vocab_size);
  for (size_t r = 0; r < chunk_size; ++r) {
    const size_t predicted = chunk_begin + r + 1;  // row r predicts the token after it
    if (predicted >= s.spec.prompt.size()) break;
    const std::span<const float> row(s.logits.data() + r * vocab, vocab);
    s.prompt_logprobs.push_back(
        LogprobOf(row, s.spec.prompt[predicted], s.spec.prompt_logprobs, options_.vocab_limit));
  }
}

void BatchEngine::Step() {
  const int64_t vocab = model_.config().vocab_size;
  // Drop cancelled sequences first: their slots go to the queue at the next admission.
  std::vector<std::shared_ptr<Job>> touched;
  for (auto& s : active_) {
    if (s->job->cancelled(s->index)) {
      s->job->Finish(s->index, FinishReason::kStop);
      touched.push_back(s->job);
      Release(*s);
    }
  }
  std::erase_if(active_, [](const auto& s) { return s->slot < 0; });

  // Gather this step: every decoding sequence gives one token; prefilling ones share a budget
  // of prompt tokens, so a long new prompt delays the others' next token by one chunk at most.
  std::vector<Model::SequenceStep> steps;
  std::vector<Sequence*> stepped;
  std::vector<size_t> chunk_begin;  // per step: the prompt position its tokens start at
  std::vector<int> one_token(active_.size());
  int64_t budget = options_.prefill_chunk;
  uint64_t started_prompt = 0, started_cached = 0;
  for (size_t k = 0; k < active_.size(); ++k) {
    Sequence& s = *active_[k];
    Model::SequenceStep st;
    st.cache = &caches_[s.slot];
    size_t rows = 1;
    if (!s.started || s.prefilled < s.spec.prompt.size()) {
      if (budget <= 0) continue;
      if (!s.started) {
        const int64_t reused = StartPrefill(s, k);
        if (reused < 0) continue;  // waits to copy an earlier sequence's prefill
        started_prompt += s.spec.prompt.size();
        started_cached += static_cast<uint64_t>(reused);
      }
      const int64_t n = std::min<int64_t>(budget, static_cast<int64_t>(s.spec.prompt.size() - s.prefilled));
      st.tokens = std::span<const int>(s.spec.prompt.data() + s.prefilled, static_cast<size_t>(n));
      st.all_positions = s.spec.prompt_logprobs >= 0;
      if (st.all_positions) rows = static_cast<size_t>(n);
      budget -= n;
    } else {
      one_token[k] = s.next;
      st.tokens = std::span<const int>(&one_token[k], 1);
    }
    s.logits.resize(rows * static_cast<size_t>(vocab));
    st.logits = s.logits.data();
    steps.push_back(st);
    stepped.push_back(&s);
    chunk_begin.push_back(s.prefilled);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.prompt_tokens += started_prompt;
    stats_.cached_prompt_tokens += started_cached;
  }
  if (steps.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_count_ = static_cast<int>(active_.size());
    }
    for (auto& j : touched) j->Notify();
    return;
  }

  const Status status = model_.ForwardBatch(steps);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.steps;
    stats_.stepped_sequences += steps.size();
    stats_.peak_batch = std::max(stats_.peak_batch, static_cast<int>(steps.size()));
  }
  if (!status.ok()) {
    // Inputs were checked at Submit, so this is an engine fault: fail these jobs, keep serving.
    for (Sequence* s : stepped) {
      caches_[s->slot].Clear();
      slot_tokens_[s->slot].clear();
      s->job->Fail(status);
      s->job->Cancel();
      touched.push_back(s->job);
      Release(*s);
    }
  } else {
    uint64_t sampled = 0;
    for (size_t k = 0; k < stepped.size(); ++k) {
      Sequence& s = *stepped[k];
      std::vector<int>& held = slot_tokens_[s.slot];
      held.insert(held.end(), steps[k].tokens.begin(), steps[k].tokens.end());
      const bool prefilling = s.prefilled < s.spec.prompt.size();
      if (prefilling) {
        if (s.spec.prompt_logprobs >= 0) RecordPromptLogprobs(s, chunk_begin[k], steps[k].tokens.size());
        s.prefilled += steps[k].tokens.size();
        if (s.prefilled < s.spec.prompt.size()) continue;  // more prompt to go
        s.job->Prefilled(s.index, static_cast<int>(s.cached), std::move(s.prompt_logprobs));
        touched.push_back(s.job);
        if (s.spec.max_tokens == 0) {  // echo only: the prompt's logprobs were all that was asked
          s.job->Finish(s.index, FinishReason::kLength);
          Release(s);
          continue;
        }
      }
      // The logits of the last position fed choose the next token.
      const std::span<float> last(s.logits.data() + s.logits.size() - static_cast<size_t>(vocab),
                                  static_cast<size_t>(vocab));
      const double log_norm = s.spec.logprobs >= 0 ? LogSumExp(last) : 0.0;  // before the mask: the model's own
      MaskPastVocabLimit(last, options_.vocab_limit);
      int token = s.sampler->Sample(last, s.history);
      // A draw that breaks the grammar is removed and drawn again, a few times (cheap: one
      // token checked per draw); then the whole mask is computed. Either way the result is a
      // draw from the model's distribution restricted to the allowed tokens (exactly so with
      // plain temperature or greedy; top-k/p truncate before the restriction).
      for (int redraws = 0; s.matcher && redraws < kCheapRedraws && !s.spec.constraint->Allows(*s.matcher, token);
           ++redraws) {
        last[static_cast<size_t>(token)] = -std::numeric_limits<float>::infinity();
        token = s.sampler->Sample(last, s.history);
      }
      if (s.matcher && !s.spec.constraint->Allows(*s.matcher, token)) {
        const auto allowed = s.spec.constraint->Mask(*s.matcher);
        bool any = false;
        for (size_t v = 0; v < last.size(); ++v) {
          if (v >= allowed->size() || !(*allowed)[v]) {
            last[v] = -std::numeric_limits<float>::infinity();
          } else {
            any = any || std::isfinite(last[v]);
          }
        }
        if (!any) {
          // Nothing can continue the grammar and it cannot end: not reachable with an exact
          // matcher, so it is said out loud rather than passed off as a finished answer.
          std::fprintf(stderr, "gorae: warning: the output grammar allows no token after %d tokens; the answer ends "
                               "incomplete\n", s.generated);
          s.job->Finish(s.index, FinishReason::kLength);  // "length": incomplete, not a finished answer
          touched.push_back(s.job);
          Release(s);
          continue;
        }
        token = s.sampler->Sample(last, s.history);
      }
      if (s.matcher) s.spec.constraint->Advance(*s.matcher, token);
      ++sampled;
      s.history.push_back(token);
      s.next = token;
      ++s.generated;
      TokenLogprob lp;
      if (s.spec.logprobs >= 0) lp = LogprobOf(last, log_norm, token, s.spec.logprobs, options_.vocab_limit);
      s.job->Append(s.index, token, s.spec.logprobs >= 0 ? &lp : nullptr);
      touched.push_back(s.job);
      const bool stop = std::find(s.spec.stop_ids.begin(), s.spec.stop_ids.end(), token) != s.spec.stop_ids.end();
      if (stop || s.generated >= s.spec.max_tokens) {
        s.job->Finish(s.index, stop ? FinishReason::kStop : FinishReason::kLength);
        Release(s);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.generated += sampled;
  }
  std::erase_if(active_, [](const auto& s) { return s->slot < 0; });
  {
    // Before anyone hears that a sequence ended, its slot must count as free: a caller that
    // submits right after its job finished must not be refused for a slot already released.
    std::lock_guard<std::mutex> lock(mu_);
    active_count_ = static_cast<int>(active_.size());
    RecordCacheUse();
  }

  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (auto& j : touched) j->Notify();
}

}  // namespace gorae::server
