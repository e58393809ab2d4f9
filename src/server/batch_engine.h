// Continuous batching over one shared Model: every engine step gathers all active sequences
// (a prefill chunk for new ones, one token for decoding ones) into a single
// Model::ForwardBatch, so the weights are read once per step for everyone, and a sequence joins
// or leaves the batch between any two steps.
//
// Prompt cache: each slot remembers the ids its KV cache holds after its sequence ends. A new
// sequence takes the free slot that shares the longest prefix with its prompt (else the least
// recently used one), or copies a longer shared prefix from any other slot, running or not, and
// prefills only the rest. The n choices of one request prefill their prompt once: the later
// ones wait for the first one's prefill and copy it. The memory is the slots' caches, nothing
// more; the output is the same with and without it (the K/V of a token depend only on the
// tokens before it).
//
// The engine sees token ids only (text is the server's business). Callers Submit a Job of one
// or more sequences (n choices, or several prompts) and read each sequence's tokens as they
// come; a Job can be cancelled per sequence (a stop string matched) or whole (client gone),
// which frees its slots before the next step.
//
// Thread safety: Submit, Stats, StopAccepting and Shutdown may be called from any thread; a
// Job's methods too. The model runs only on the engine's own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"
#include "infer/generate.h"
#include "infer/grammar.h"
#include "infer/logprobs.h"
#include "infer/sampler.h"
#include "model/kv_cache.h"
#include "model/transformer.h"

namespace gorae::server {

// One sequence to generate.
struct SequenceSpec {
  std::vector<int> prompt;     // at least one id, all in [0, vocab)
  SamplerConfig sampler;       // must pass ValidateSamplerConfig
  int max_tokens = 16;         // new tokens at most (>= 1; 0 allowed with prompt_logprobs)
  std::vector<int> stop_ids;   // generation ends after emitting one of these
  int logprobs = -1;           // >= 0: each sampled token's logprob with this many alternatives
  int prompt_logprobs = -1;    // >= 0: the same for the prompt's tokens (echo); prefills it all
  bool reuse_prefix = true;    // may start from a cached prefix (the engine's prompt_cache too)
  // When set, every sampled token keeps the text inside this grammar (structured outputs):
  // a draw that would break it is redrawn among the tokens the grammar allows.
  std::shared_ptr<const GrammarConstraint> constraint;
};

// The shared state of one submitted request: tokens per sequence, appended by the engine.
class Job {
 public:
  explicit Job(size_t sequences);

  struct Progress {
    std::vector<int> tokens;  // generated so far (a stop id included)
    bool done = false;
    FinishReason finish = FinishReason::kLength;
    std::vector<TokenLogprob> logprobs;         // one per token, when the spec asked
    std::vector<TokenLogprob> prompt_logprobs;  // prompt tokens 1.. (token 0 has none), when asked
    int cached_prompt_tokens = 0;               // prompt tokens taken from the prompt cache
    bool prefilled = false;                     // the prompt is in (prompt_logprobs and cached set)
  };

  // Blocks until the job changed after `seen` (a value returned earlier; start with 0) or
  // `timeout` passed; returns the current version.
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;
  // A copy of sequence i's progress.
  Progress Read(size_t i) const;
  // The same with logprobs only from token `logprobs_from` on (logprobs[0] is that token's), and
  // prompt_logprobs only if asked: what a reader polling for news needs, without copying the rest.
  Progress Read(size_t i, size_t logprobs_from, bool with_prompt_logprobs) const;
  // Non-ok if the engine failed (model error, shutdown); then every sequence is done.
  Status error() const;
  size_t size() const { return progress_.size(); }
  bool AllDone() const;

  // Stops sequence i (its slot is freed before the next step); Cancel() stops all.
  void Cancel(size_t i) { cancelled_[i].store(true); }
  void Cancel();
  bool cancelled(size_t i) const { return cancelled_[i].load(); }

 private:
  friend class BatchEngine;
  void Append(size_t i, int token, TokenLogprob* logprob);
  void Prefilled(size_t i, int cached, std::vector<TokenLogprob> prompt_logprobs);
  void Finish(size_t i, FinishReason reason);
  void Fail(const Status& s);
  void Notify();

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  uint64_t version_ = 0;
  std::vector<Progress> progress_;
  std::unique_ptr<std::atomic<bool>[]> cancelled_;
  Status error_;
};

struct EngineOptions {
  int parallel = 8;          // sequences decoded together at most (KV caches kept)
  int max_queued = 64;       // sequences waiting for a slot at most; beyond: overloaded
  int64_t context = 4096;    // prompt + max_tokens per sequence at most
  int prefill_chunk = 256;   // prompt tokens per step, over all sequences (bounds decode stalls)
  MlaMode mla = MlaMode::kAbsorbed;
  int64_t vocab_limit = 0;   // ids at or past this are never sampled (the tokenizer's size; 0: none)
  bool prompt_cache = true;  // reuse cached prompt prefixes (see above)
};

// Submit's answer: a job, or why there is none.
struct Admission {
  std::shared_ptr<Job> job;  // set when accepted
  Status error;              // InvalidArgument: the request cannot run (names the field)
  bool overloaded = false;   // queue full or shutting down: retry later (HTTP 503)
};

struct EngineStats {
  int active = 0;            // sequences holding a slot
  int queued = 0;            // sequences waiting for one
  int peak_batch = 0;        // most sequences in one step so far
  uint64_t steps = 0;
  uint64_t stepped_sequences = 0;  // sequences over all steps (/ steps: the mean batch size)
  uint64_t generated = 0;    // tokens sampled
  uint64_t prompt_tokens = 0;         // prompt tokens of the sequences started
  uint64_t cached_prompt_tokens = 0;  // of those, taken from the prompt cache instead of prefilled
  int64_t kv_tokens = 0;     // tokens cached by the sequences holding a slot (after the last step)
  int64_t kv_capacity_tokens = 0;  // tokens the allocated caches of all slots hold
  int64_t kv_bytes = 0;      // bytes allocated for the caches of all slots
  bool accepting = true;
};

class BatchEngine {
 public:
  // `model` must outlive the engine. Starts the engine thread.
  BatchEngine(const Model& model, EngineOptions options);
  ~BatchEngine();
  BatchEngine(const BatchEngine&) = delete;
  BatchEngine& operator=(const BatchEngine&) = delete;

  // Queues the sequences (all or none). Checks each against the vocabulary and the context.
  Admission Submit(std::vector<SequenceSpec> sequences);
  EngineStats Stats() const;
  const EngineOptions& options() const { return options_; }

  // New submissions are refused from now on (draining); running ones continue.
  void StopAccepting();
  // Waits until nothing is active or queued, or `timeout` passes; true if idle.
  bool WaitIdle(std::chrono::milliseconds timeout) const;
  // Fails whatever is left and joins the engine thread. Idempotent.
  void Shutdown();

 private:
  struct Sequence;
  void Loop();
  // One ForwardBatch over the active sequences, then sampling; false if nothing ran.
  void Step();
  void Release(Sequence& s);
  // The free slot for `s`: the longest cached prefix of its prompt, else the least recently used.
  int PickSlot(const Sequence& s) const;
  // At the start of s's prefill: reuses the longest cached prefix of its prompt (its own slot's
  // or copied from another); returns the tokens reused. Or -1: wait, since an earlier sequence
  // is still prefilling a longer shared prefix (n > 1) that can be copied once it is done.
  int64_t StartPrefill(Sequence& s, size_t position_in_active);
  // Logprobs of the prompt tokens a finished prefill chunk predicted (echo).
  void RecordPromptLogprobs(Sequence& s, size_t chunk_begin, size_t chunk_size);
  // Copies the caches' use into stats_ (engine thread, mu_ held).
  void RecordCacheUse();

  const Model& model_;
  const EngineOptions options_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;       // wakes the engine: new work or shutdown
  mutable std::condition_variable idle_cv_;  // wakes WaitIdle
  std::deque<std::unique_ptr<Sequence>> queue_;
  int active_count_ = 0;  // mirrors active_.size() for Stats (active_ is engine-thread only)
  bool accepting_ = true;
  bool shutdown_ = false;
  EngineStats stats_;

  // Engine thread only.
  std::vector<std::unique_ptr<Sequence>> active_;
  std::vector<KVCache> caches_;      // one per slot, reused (Clear keeps the memory)
  std::vector<bool> cache_in_use_;
  std::vector<std::vector<int>> slot_tokens_;  // the ids whose K/V each slot's cache holds
  std::vector<uint64_t> slot_last_used_;       // use_clock_ when each slot was last given out
  uint64_t use_clock_ = 0;

  std::thread thread_;
};

}  // namespace gorae::server
