// config.json of the grouped-query-attention architectures: Llama (R1-Distill-Llama) and Qwen2
// (R1-Distill-Qwen). Every layer is attention + a dense SwiGLU MLP.
#include <cmath>

#include "model/config.h"
#include "model/config_json.h"

namespace gorae {

using json = nlohmann::json;
using namespace config_json;

namespace {

Status ParseLlama3Scaling(const json& j, Llama3RopeScaling* r, const std::string& src) {
  const std::string where = src + " rope_scaling";
  if (!j.is_object()) return InvalidArgument("{}: must be an object or null", where);
  std::string type;
  GORAE_RETURN_IF_ERROR(GetString(j, "rope_type", &type, where));
  if (type.empty()) GORAE_RETURN_IF_ERROR(GetString(j, "type", &type, where));
  if (type == "default") return Status::Ok();
  if (type != "llama3") return Unsupported("{}: type '{}' is not supported (llama3)", where, type);
  r->enabled = true;
  GORAE_RETURN_IF_ERROR(GetDouble(j, "factor", &r->factor, where));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "low_freq_factor", &r->low_freq_factor, where));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "high_freq_factor", &r->high_freq_factor, where));
  GORAE_RETURN_IF_ERROR(
      GetDouble(j, "original_max_position_embeddings", &r->original_max_position_embeddings, where));
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ParseGqaConfig(const json& j, const std::string& model_type, const std::string& src) {
  ModelConfig c;
  c.model_type = model_type;
  c.arch = model_type == "qwen2" ? Architecture::kQwen2 : Architecture::kLlama;
  GORAE_RETURN_IF_ERROR(GetInt(j, "vocab_size", &c.vocab_size, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "hidden_size", &c.hidden_size, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "intermediate_size", &c.intermediate_size, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "num_hidden_layers", &c.num_hidden_layers, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "num_attention_heads", &c.num_attention_heads, true, src));
  c.num_key_value_heads = c.num_attention_heads;
  GORAE_RETURN_IF_ERROR(GetInt(j, "num_key_value_heads", &c.num_key_value_heads, false, src));
  if (c.num_attention_heads > 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  GORAE_RETURN_IF_ERROR(GetInt(j, "head_dim", &c.head_dim, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "max_position_embeddings", &c.max_position_embeddings, false, src));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "rope_theta", &c.rope_theta, src));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "rms_norm_eps", &c.rms_norm_eps, src));
  GORAE_RETURN_IF_ERROR(GetBool(j, "tie_word_embeddings", &c.tie_word_embeddings, src));
  std::string act = "silu";
  GORAE_RETURN_IF_ERROR(GetString(j, "hidden_act", &act, src));
  if (act != "silu") return Unsupported("{}: hidden_act '{}' is not supported (silu)", src, act);
  if (c.arch == Architecture::kQwen2) {
    c.qkv_bias = true;  // Qwen2's q/k/v projections always have biases, o_proj none
  } else {
    bool bias = false;
    GORAE_RETURN_IF_ERROR(GetBool(j, "attention_bias", &bias, src));
    c.qkv_bias = c.o_bias = bias;
    bool mlp_bias = false;
    GORAE_RETURN_IF_ERROR(GetBool(j, "mlp_bias", &mlp_bias, src));
    if (mlp_bias) return Unsupported("{}: mlp_bias true is not supported", src);
  }
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    GORAE_RETURN_IF_ERROR(ParseLlama3Scaling(*it, &c.llama3, src));
  }
  GORAE_RETURN_IF_ERROR(GetSpecialTokens(j, &c.bos_token_id, &c.eos_token_ids, src));
  GORAE_RETURN_IF_ERROR(ValidateGqaConfig(c).WithContext(src));
  return c;
}

Status ValidateGqaConfig(const ModelConfig& c) {
  constexpr int64_t kMaxDim = int64_t{1} << 24;
  for (auto [v, name] : {std::pair{c.vocab_size, "vocab_size"}, {c.hidden_size, "hidden_size"},
                         {c.intermediate_size, "intermediate_size"}, {c.num_hidden_layers, "num_hidden_layers"},
                         {c.num_attention_heads, "num_attention_heads"}, {c.num_key_value_heads, "num_key_value_heads"},
                         {c.head_dim, "head_dim"}}) {
    if (v <= 0) return InvalidArgument("field '{}' must be positive, got {}", name, v);
    if (v > kMaxDim) return InvalidArgument("field '{}' is implausibly large: {}", name, v);
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return InvalidArgument("field 'num_key_value_heads' ({}) does not divide 'num_attention_heads' ({})",
                           c.num_key_value_heads, c.num_attention_heads);
  }
  if (c.head_dim % 2 != 0) return InvalidArgument("field 'head_dim' must be even, got {}", c.head_dim);
  if (c.rms_norm_eps <= 0) return InvalidArgument("field 'rms_norm_eps' must be positive, got {}", c.rms_norm_eps);
  if (c.rope_theta <= 0) return InvalidArgument("field 'rope_theta' must be positive, got {}", c.rope_theta);
  if (c.n_routed_experts != 0) return InvalidArgument("{} models have no routed experts", c.model_type);
  if (c.llama3.enabled &&
      (c.llama3.factor <= 0 || c.llama3.low_freq_factor <= 0 || c.llama3.high_freq_factor <= c.llama3.low_freq_factor)) {
    return InvalidArgument("rope_scaling llama3: need factor > 0 and high_freq_factor > low_freq_factor > 0");
  }
  return Status::Ok();
}

}  // namespace gorae
