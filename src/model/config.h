// The architecture hyper-parameters of a DeepSeek-V2 / V2-Lite / V3 model, read from the
// Hugging Face config.json. Field names follow config.json so that a reader can grep for them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gorae {

// DeepSeek-V2/V3 use MLA + DeepSeekMoE; Llama and Qwen2 (the R1-Distill students) use grouped-
// query attention and dense SwiGLU MLPs. One engine runs all three.
enum class Architecture { kDeepSeek, kLlama, kQwen2 };

enum class ScoringFunc { kSoftmax, kSigmoid };
enum class TopkMethod { kGreedy, kGroupLimitedGreedy, kNoauxTc };

// rope_scaling {"type": "yarn", ...}; absent means plain RoPE.
struct YarnConfig {
  bool enabled = false;
  double factor = 1.0;
  double original_max_position_embeddings = 4096;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
};

// rope_scaling {"rope_type": "llama3", ...} of Llama 3.1+.
struct Llama3RopeScaling {
  bool enabled = false;
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type;  // "deepseek_v2", "deepseek_v3", "llama", "qwen2"
  Architecture arch = Architecture::kDeepSeek;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;      // dense MLP
  int64_t moe_intermediate_size = 0;  // one routed or shared expert
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t max_position_embeddings = 0;

  // MLA
  int64_t q_lora_rank = 0;  // 0: plain q_proj (config.json null), as in V2-Lite
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  double rope_theta = 10000.0;
  YarnConfig yarn;
  bool attention_bias = false;

  // DeepSeekMoE
  int64_t n_routed_experts = 0;  // 0: every layer is dense
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  TopkMethod topk_method = TopkMethod::kGreedy;
  ScoringFunc scoring_func = ScoringFunc::kSoftmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  // Node-limited routing (DeepSeek-V3 sec. 2.1.2), for experts spread over machines: the routed
  // experts lie on moe_nodes nodes in order (0: off), and a token may use experts of at most
  // moe_node_limit of them, chosen by the sum of each node's top (K / moe_node_limit) selection
  // scores before the top-K. gorae's config.json keys of the same names; Hugging Face ignores them.
  int64_t moe_nodes = 0;
  int64_t moe_node_limit = 0;

  // Grouped-query attention (llama, qwen2): heads share num_key_value_heads K/V heads.
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  bool qkv_bias = false;   // q/k/v projections carry biases (qwen2; llama with attention_bias)
  bool o_bias = false;     // o_proj carries a bias (llama with attention_bias)
  Llama3RopeScaling llama3;

  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;             // -1: none
  std::vector<int64_t> eos_token_ids;    // eos_token_id, a number or a list

  bool IsDeepSeek() const { return arch == Architecture::kDeepSeek; }
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  // Width of the rotary part of a query/key head.
  int64_t rope_dim() const { return IsDeepSeek() ? qk_rope_head_dim : head_dim; }
  bool IsMoeLayer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  // V3 always multiplies routed weights by routed_scaling_factor; V2 only when it does not
  // renormalise them (the two reference implementations differ here).
  bool ScaleAfterNorm() const { return model_type != "deepseek_v2"; }
  // Softmax scale of attention: 1/sqrt(head width), times YaRN's mscale(factor, mscale_all_dim)^2.
  double SoftmaxScale() const;
};

// Parses config.json text. `source` names the file in error messages.
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source);
Result<ModelConfig> LoadModelConfig(const std::string& model_dir);

// Checks that the hyper-parameters make sense together (positive sizes, top-k <= experts,
// groups divide experts, ...). Error messages name the config.json field.
Status ValidateModelConfig(const ModelConfig& c);

// Llama / Qwen2 configs (config_gqa.cc): parse the already-parsed JSON, validate.
Result<ModelConfig> ParseGqaConfig(const nlohmann::json& j, const std::string& model_type, const std::string& source);
Status ValidateGqaConfig(const ModelConfig& c);

const char* TopkMethodName(TopkMethod m);
const char* ScoringFuncName(ScoringFunc s);

}  // namespace gorae
