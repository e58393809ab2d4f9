// The weights of a DeepSeek-V2/V3 model, bound to a checkpoint's tensors with declared shapes.
//
// Matrices stay in their stored dtype inside the memory-mapped files (see tensor/matrix.h);
// norm weights, router biases and the small kv_b_proj used by absorbed MLA are decoded to fp32.
// The Hugging Face tensor names live in one table, weights.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "tensor/matrix.h"

namespace gorae {

struct MlpWeights {
  Matrix gate_proj;  // (inter, hidden)
  Matrix up_proj;    // (inter, hidden)
  Matrix down_proj;  // (hidden, inter)
};

struct AttentionWeights {
  // Grouped-query attention (Llama, Qwen2): q_proj (H * head_dim, hidden) as below, and
  Matrix k_proj;                    // (KV * head_dim, hidden)
  Matrix v_proj;                    // (KV * head_dim, hidden)
  std::vector<float> q_bias, k_bias, v_bias, o_bias;  // when the config has them
  // MLA (DeepSeek):
  Matrix q_proj;                    // (H * qk_head_dim, hidden)       when q_lora_rank == 0
  Matrix q_a_proj;                  // (q_lora_rank, hidden)           when q_lora_rank > 0
  std::vector<float> q_a_norm;      // (q_lora_rank)
  Matrix q_b_proj;                  // (H * qk_head_dim, q_lora_rank)
  Matrix kv_a_proj;                 // (kv_lora_rank + qk_rope_head_dim, hidden)
  std::vector<float> kv_a_norm;     // (kv_lora_rank)
  Matrix kv_b_proj;                 // (H * (qk_nope_head_dim + v_head_dim), kv_lora_rank)
  std::vector<float> kv_b_f32;      // kv_b_proj decoded: absorbed MLA multiplies by its blocks
  Matrix o_proj;                    // (hidden, H * v_head_dim)
};

struct MoeWeights {
  Matrix gate;                      // router (n_routed_experts, hidden)
  std::vector<float> score_bias;    // e_score_correction_bias (n_routed_experts), noaux_tc only
  std::vector<MlpWeights> experts;  // n_routed_experts, each (moe_inter, hidden)
  MlpWeights shared;                // moe_inter * n_shared_experts; empty if none
};

struct LayerWeights {
  std::vector<float> input_norm;    // (hidden)
  std::vector<float> post_norm;     // (hidden)
  AttentionWeights attn;
  bool is_moe = false;
  MlpWeights mlp;                   // dense layers
  MoeWeights moe;                   // MoE layers
};

struct ModelWeights {
  Matrix embed;                     // (vocab, hidden)
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm;    // (hidden)
  Matrix lm_head;                   // (vocab, hidden); the embedding when tied
  int64_t mtp_tensors = 0;          // tensors of the multi-token-prediction layer(s), unused here
  std::vector<std::string> unused;  // tensors neither used nor recognised
};

// The one table of Hugging Face tensor names: calls the visitor once per tensor the config calls
// for, in checkpoint order, with its declared shape and the slot it fills. Used to bind a
// checkpoint (BindWeights), to write a new one (random_init.h), and to enumerate parameters.
class WeightVisitor {
 public:
  virtual ~WeightVisitor() = default;
  virtual Status OnMatrix(const std::string& name, int64_t rows, int64_t cols, Matrix* slot) = 0;
  virtual Status OnVector(const std::string& name, int64_t n, std::vector<float>* slot) = 0;
};
Status VisitWeights(const ModelConfig& config, WeightVisitor& visitor, ModelWeights* weights);

// Binds every tensor the config calls for; checks names, shapes and dtypes. The checkpoint must
// outlive the weights (matrices point into its mappings).
Result<ModelWeights> BindWeights(const ModelConfig& config, const Checkpoint& ckpt);

// Fills every layer's attn.kv_b_f32 from its kv_b_proj (absorbed MLA needs it dense in fp32).
// Call again after kv_b_proj's values change (e.g. after an optimizer step).
void DecodeKvB(ModelWeights& weights);

}  // namespace gorae
