// The fp32 parameters (master weights) and gradients of a model being trained.
//
// There is no second table of tensor names: the parameters are allocated by walking the
// inference engine's one table (model/weights.h VisitWeights) with a visitor that gives every
// Matrix slot an owned F32 buffer. Multi-token prediction (MTP) modules are stored the way the
// DeepSeek-V3 release stores them, as extra decoder layers `model.layers.{L + k}.*` (L =
// num_hidden_layers, k = 0..D-1): walking the table for a config with L + D layers yields the
// transformer block of each MTP module under exactly those names; the MTP-only tensors
// (enorm, hnorm, eh_proj, shared_head.norm) are added here. The embedding and output head are
// shared with the main model; checkpoints also write them under the MTP layer's names
// (embed_tokens, shared_head.head) as the V3 release does.
//
// A second ModelWeights, `grads`, mirrors `params` slot for slot, so the forward reads
// params.layers[l].attn.q_a_proj and the backward accumulates into grads.layers[l].attn.q_a_proj.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/expert_parallel.h"
#include "model/transformer.h"
#include "model/weights.h"

namespace gorae::train {

// The MTP-only tensors of module k (its block is params.layers[L + k]).
struct MtpWeights {
  std::vector<float> enorm;       // (hidden) RMSNorm of the next token's embedding
  std::vector<float> hnorm;       // (hidden) RMSNorm of the previous depth's hidden state
  Matrix eh_proj;                 // (hidden, 2 * hidden) over [enorm(emb) | hnorm(h)]
  std::vector<float> head_norm;   // (hidden) shared_head.norm, before the shared output head
};

// One named tensor: parameter and gradient storage of n floats.
struct ParamTensor {
  std::string name;
  std::vector<int64_t> shape;
  float* param = nullptr;
  float* grad = nullptr;
  int64_t n = 0;
  bool decay = false;      // AdamW weight decay: matrices yes, norm weights and biases no
  bool trainable = true;   // false for e_score_correction_bias (moved by the balancing rule)
};

class TrainModel {
 public:
  // Allocates zeroed parameters for `config` with `mtp_depth` MTP modules.
  static Result<std::unique_ptr<TrainModel>> Create(const ModelConfig& config, int64_t mtp_depth);

  // Random initialisation (deterministic in seed): matrices uniform with std 1/sqrt(in) (output
  // projections o_proj/down_proj also / sqrt(2 * blocks)), embedding std 1, norms 1, biases 0.
  void InitRandom(uint64_t seed);

  // Copies every parameter from a checkpoint (any stored dtype is decoded to fp32). Tensors are
  // found by the same names; MTP tensors must be present when mtp_depth > 0.
  Status LoadFrom(const Checkpoint& ckpt);

  // The tensors to write to model.safetensors (F32), MTP duplicates of embedding and head
  // included. Pointers stay valid while the model lives.
  std::vector<TensorToWrite> TensorsToSave() const;

  // An inference Model over the current parameters (main layers only; MTP left out as the
  // inference engine does). Cheap: matrices are shared, norm vectors and kv_b are copied, so
  // make a new one after parameters change.
  Result<std::unique_ptr<Model>> InferenceModel() const;

  void ZeroGrad();

  // Expert-parallel training (data_parallel.h): the routed experts this rank computes. Set once,
  // before the first step; the other experts' parameters are kept but never read.
  void set_expert_shard(const ExpertShard& s) { expert_shard_ = s; }
  const ExpertShard& expert_shard() const { return expert_shard_; }

  const ModelConfig& config() const { return config_; }
  int64_t mtp_depth() const { return mtp_depth_; }
  ModelWeights& params() { return params_; }
  const ModelWeights& params() const { return params_; }
  ModelWeights& grads() { return grads_; }
  std::vector<MtpWeights>& mtp_params() { return mtp_params_; }
  const std::vector<MtpWeights>& mtp_params() const { return mtp_params_; }
  std::vector<MtpWeights>& mtp_grads() { return mtp_grads_; }
  std::vector<ParamTensor>& tensors() { return tensors_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  // Number of scalar parameters (trainable or not), each counted once.
  int64_t NumParams() const;

 private:
  TrainModel() = default;
  ModelConfig config_;
  int64_t mtp_depth_ = 0;
  std::vector<float> param_data_, grad_data_;  // all matrices, contiguous
  ModelWeights params_, grads_;                // params_.layers has L + mtp_depth entries
  std::vector<MtpWeights> mtp_params_, mtp_grads_;
  std::vector<ParamTensor> tensors_;
  ExpertShard expert_shard_;
};

}  // namespace gorae::train
