#include "server/batch_engine.h"

#include <algorithm>

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

void Job::Append(size_t i, int token) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_[i].tokens.push_back(token);
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
  size_t prefilled = 0;      // prompt tokens already in the cache
  int generated = 0;
  int next = -1;             // last sampled token, fed at the next step
  std::vector<float> logits;  // (vocab)
};

BatchEngine::BatchEngine(const Model& model, EngineOptions options) : model_(model), options_(options) {
  GORAE_CHECK(options_.parallel >= 1 && options_.max_queued >= 0 && options_.context >= 2 &&
              options_.prefill_chunk >= 1);
  for (int i = 0; i < options_.parallel; ++i) caches_.push_back(model_.NewCache(options_.mla));
  cache_in_use_.assign(caches_.size(), false);
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
    if (s.max_tokens < 1) {
      a.error = InvalidArgument("max_tokens: must be at least 1, got {}", s.max_tokens);
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
        const auto free = std::find(cache_in_use_.begin(), cache_in_use_.end(), false);
        GORAE_CHECK(free != cache_in_use_.end());
        seq->slot = static_cast<int>(free - cache_in_use_.begin());
        cache_in_use_[seq->slot] = true;
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
  std::vector<int> one_token(active_.size());
  int64_t budget = options_.prefill_chunk;
  for (size_t k = 0; k < active_.size(); ++k) {
    Sequence& s = *active_[k];
    KVCache& cache = caches_[s.slot];
    Model::SequenceStep st;
    st.cache = &cache;
    if (s.prefilled < s.spec.prompt.size()) {
      if (budget <= 0) continue;
      if (s.prefilled == 0) {
        cache.Clear();
        cache.Reserve(static_cast<int64_t>(s.spec.prompt.size()) + s.spec.max_tokens);
        s.sampler = std::make_unique<Sampler>(s.spec.sampler);
        s.history = s.spec.prompt;
        s.logits.assign(static_cast<size_t>(vocab), 0.0f);
      }
      const int64_t n = std::min<int64_t>(budget, static_cast<int64_t>(s.spec.prompt.size() - s.prefilled));
      st.tokens = std::span<const int>(s.spec.prompt.data() + s.prefilled, static_cast<size_t>(n));
      budget -= n;
    } else {
      one_token[k] = s.next;
      st.tokens = std::span<const int>(&one_token[k], 1);
    }
    st.logits = s.logits.data();
    steps.push_back(st);
    stepped.push_back(&s);
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
      s->job->Fail(status);
      s->job->Cancel();
      touched.push_back(s->job);
      Release(*s);
    }
  } else {
    uint64_t sampled = 0;
    for (size_t k = 0; k < stepped.size(); ++k) {
      Sequence& s = *stepped[k];
      if (s.prefilled < s.spec.prompt.size()) {
        s.prefilled += steps[k].tokens.size();
        if (s.prefilled < s.spec.prompt.size()) continue;  // more prompt to go
      }
      MaskPastVocabLimit(s.logits, options_.vocab_limit);
      const int token = s.sampler->Sample(s.logits, s.history);
      ++sampled;
      s.history.push_back(token);
      s.next = token;
      ++s.generated;
      s.job->Append(s.index, token);
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
