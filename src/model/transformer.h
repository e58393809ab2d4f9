// A DeepSeek-V2/V3 model: config + weights bound to a memory-mapped checkpoint, and its forward.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/expert_parallel.h"
#include "model/gguf_model.h"
#include "model/kv_cache.h"
#include "model/rope.h"
#include "model/weights.h"

namespace gorae {

class Model {
 public:
  // Loads config.json and the safetensors weights of a Hugging Face model directory, or, for a
  // path ending in ".gguf", a llama.cpp GGUF file (model/gguf_model.h; quantized weights in place).
  static Result<std::unique_ptr<Model>> Load(const std::string& model_dir);
  // As Load, holding only this rank's routed experts (model/expert_parallel.h; ep <= 1: all).
  // Safetensors directories only: a GGUF file's experts are repacked at load, all of them.
  static Result<std::unique_ptr<Model>> Load(const std::string& model_dir, int expert_parallel);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // A model over weights the caller owns (e.g. the fp32 parameters of a training run): the
  // matrices and vectors in `weights` must stay valid while the model is used. kv_b_f32 is
  // filled here from kv_b_proj.
  static Result<std::unique_ptr<Model>> FromWeights(const ModelConfig& config, ModelWeights weights);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  // The checkpoint the weights were loaded from; nullptr for FromWeights and GGUF models.
  const Checkpoint* checkpoint() const { return ckpt_.get(); }
  // The GGUF file the weights were loaded from; nullptr otherwise.
  const GgufFile* gguf() const { return gguf_ ? gguf_->file.get() : nullptr; }

  // Runs `tokens` at positions cache.size() .. cache.size() + T - 1 (one batched pass whatever
  // T is: the prompt's prefill, or one decode step), appends them to the cache, and writes
  // logits: (T, vocab) if all_positions, else only the last position's (vocab).
  // Token ids outside [0, vocab) are an InvalidArgument error (nothing is cached then).
  Status Forward(std::span<const int> tokens, KVCache& cache, float* logits, bool all_positions) const;

  // One step of several sequences at once (continuous batching): every weight is read once for
  // all of them, each sequence attends only to its own cache. Equivalent to calling Forward on
  // each entry. Caches must be distinct and of the same MLA mode.
  struct SequenceStep {
    std::span<const int> tokens;  // this sequence's new tokens (at least one)
    KVCache* cache;
    float* logits;                // (tokens, vocab) if all_positions, else (vocab)
    bool all_positions = false;
  };
  Status ForwardBatch(std::span<const SequenceStep> steps) const;

  KVCache NewCache(MlaMode mode) const { return KVCache(config_, mode); }

  const ExpertShard& expert_shard() const { return shard_; }
  // An expert-parallel rank other than 0 runs here, in step with rank 0's Forward/ForwardBatch
  // calls (each is broadcast to it first), until rank 0's model is destroyed. True: this rank is
  // such a follower and has now been released; false: nothing to follow (rank 0, or no EP).
  Result<bool> FollowLeader() const;

 private:
  Model() = default;
  // The layers (and, with head, the final norm and output head) of ForwardBatch, after validation.
  Status RunBatch(std::span<const SequenceStep> steps, bool head) const;
  void BroadcastStep(std::span<const SequenceStep> steps) const;
  ModelConfig config_;
  std::unique_ptr<Checkpoint> ckpt_;
  std::unique_ptr<GgufModel> gguf_;  // owns the mapping and re-ordered rows the weights point into
  ModelWeights weights_;
  RopeTable rope_;
  ExpertShard shard_;
};

}  // namespace gorae
