#include "model/presets.h"

namespace gorae {

namespace {

ModelConfig V3Shape() {
  ModelConfig c;
  c.model_type = "deepseek_v3";
  c.vocab_size = 129280;
  c.hidden_size = 7168;
  c.intermediate_size = 18432;
  c.moe_intermediate_size = 2048;
  c.num_hidden_layers = 61;
  c.num_attention_heads = 128;
  c.max_position_embeddings = 163840;
  c.q_lora_rank = 1536;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.yarn = {true, 40.0, 4096, 32, 1, 1.0, 1.0};
  c.n_routed_experts = 256;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 8;
  c.first_k_dense_replace = 3;
  c.n_group = 8;
  c.topk_group = 4;
  c.topk_method = TopkMethod::kNoauxTc;
  c.scoring_func = ScoringFunc::kSigmoid;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  c.bos_token_id = 0;
  c.eos_token_ids = {1};
  return c;
}

ModelConfig V2LiteShape() {
  ModelConfig c;
  c.model_type = "deepseek_v2";
  c.vocab_size = 102400;
  c.hidden_size = 2048;
  c.intermediate_size = 10944;
  c.moe_intermediate_size = 1408;
  c.num_hidden_layers = 27;
  c.num_attention_heads = 16;
  c.max_position_embeddings = 163840;
  c.q_lora_rank = 0;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.yarn = {true, 40.0, 4096, 32, 1, 0.707, 0.707};
  c.n_routed_experts = 64;
  c.n_shared_experts = 2;
  c.num_experts_per_tok = 6;
  c.first_k_dense_replace = 1;
  c.topk_method = TopkMethod::kGreedy;
  c.scoring_func = ScoringFunc::kSoftmax;
  c.norm_topk_prob = false;
  c.routed_scaling_factor = 1.0;
  c.bos_token_id = 100000;
  c.eos_token_ids = {100001};
  return c;
}

ModelConfig SmallShape() {
  ModelConfig c = V3Shape();
  c.vocab_size = 32000;
  c.hidden_size = 512;
  c.intermediate_size = 1536;
  c.moe_intermediate_size = 256;
  c.num_hidden_layers = 8;
  c.num_attention_heads = 8;
  c.max_position_embeddings = 4096;
  c.q_lora_rank = 256;
  c.kv_lora_rank = 128;
  c.qk_nope_head_dim = 64;
  c.qk_rope_head_dim = 32;
  c.v_head_dim = 64;
  c.yarn = YarnConfig{};
  c.n_routed_experts = 16;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 4;
  c.first_k_dense_replace = 1;
  c.n_group = 4;
  c.topk_group = 2;
  return c;
}

ModelConfig TinyShape() {
  ModelConfig c = SmallShape();
  c.vocab_size = 512;
  c.hidden_size = 64;
  c.intermediate_size = 160;
  c.moe_intermediate_size = 32;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 4;
  c.q_lora_rank = 48;
  c.kv_lora_rank = 32;
  c.qk_nope_head_dim = 16;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 16;
  c.n_routed_experts = 8;
  c.num_experts_per_tok = 2;
  c.n_group = 4;
  c.topk_group = 2;
  return c;
}

}  // namespace

std::vector<std::string> PresetNames() { return {"tiny", "small", "v2-lite", "v3"}; }

Result<ModelConfig> PresetConfig(const std::string& name, int64_t layers) {
  ModelConfig c;
  if (name == "tiny") c = TinyShape();
  else if (name == "small") c = SmallShape();
  else if (name == "v2-lite") c = V2LiteShape();
  else if (name == "v3") c = V3Shape();
  else return InvalidArgument("unknown preset '{}' (tiny, small, v2-lite, v3)", name);
  if (layers < 0) return InvalidArgument("layers must be positive, got {}", layers);
  if (layers > 0) c.num_hidden_layers = layers;
  GORAE_RETURN_IF_ERROR(ValidateModelConfig(c));
  return c;
}

}  // namespace gorae
