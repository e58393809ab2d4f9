#include "model/param_count.h"

namespace gorae {

ParamCounts CountParams(const ModelConfig& c) {
  ParamCounts p;
  const int64_t D = c.hidden_size, H = c.num_attention_heads;
  p.embedding = c.vocab_size * D * (c.tie_word_embeddings ? 1 : 2);
  p.norms = D;  // final norm
  int64_t activated_experts = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.IsDeepSeek()) {
      p.norms += 2 * D + c.kv_lora_rank + (c.q_lora_rank > 0 ? c.q_lora_rank : 0);
      const int64_t q = c.q_lora_rank > 0 ? D * c.q_lora_rank + c.q_lora_rank * H * c.qk_head_dim()
                                          : D * H * c.qk_head_dim();
      p.attention += q + D * (c.kv_lora_rank + c.qk_rope_head_dim) +
                     c.kv_lora_rank * H * (c.qk_nope_head_dim + c.v_head_dim) + H * c.v_head_dim * D;
    } else {
      p.norms += 2 * D;
      const int64_t q = H * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
      p.attention += 2 * D * q + 2 * D * kv + (c.qkv_bias ? q + 2 * kv : 0) + (c.o_bias ? D : 0);
    }
    if (c.IsMoeLayer(l)) {
      const int64_t expert = 3 * D * c.moe_intermediate_size;
      p.routed_experts += c.n_routed_experts * expert;
      activated_experts += c.num_experts_per_tok * expert;
      p.shared_experts += c.n_shared_experts * expert;
      p.routers += c.n_routed_experts * D + (c.topk_method == TopkMethod::kNoauxTc ? c.n_routed_experts : 0);
    } else {
      p.dense_mlp += 3 * D * c.intermediate_size;
    }
  }
  const int64_t always = p.embedding + p.attention + p.dense_mlp + p.shared_experts + p.routers + p.norms;
  p.total = always + p.routed_experts;
  p.activated = always + activated_experts;
  return p;
}

}  // namespace gorae
