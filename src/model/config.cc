#include "model/config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "model/config_json.h"

namespace gorae {

using json = nlohmann::json;

namespace config_json {

// Reads integer field `key` into *out. Missing: keep the default unless required.
Status GetInt(const json& j, const char* key, int64_t* out, bool required, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return InvalidArgument("{}: missing field '{}'", src, key);
    return Status::Ok();
  }
  if (!it->is_number_integer()) return InvalidArgument("{}: field '{}' must be an integer, got {}", src, key, it->dump());
  *out = it->get<int64_t>();
  return Status::Ok();
}

Status GetDouble(const json& j, const char* key, double* out, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return InvalidArgument("{}: field '{}' must be a number, got {}", src, key, it->dump());
  *out = it->get<double>();
  return Status::Ok();
}

Status GetBool(const json& j, const char* key, bool* out, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return InvalidArgument("{}: field '{}' must be true or false, got {}", src, key, it->dump());
  *out = it->get<bool>();
  return Status::Ok();
}

Status GetString(const json& j, const char* key, std::string* out, const std::string& src) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return InvalidArgument("{}: field '{}' must be a string, got {}", src, key, it->dump());
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GetSpecialTokens(const json& j, int64_t* bos, std::vector<int64_t>* eos, const std::string& src) {
  GORAE_RETURN_IF_ERROR(GetInt(j, "bos_token_id", bos, false, src));
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    const json ids = it->is_array() ? *it : json::array({*it});
    for (const auto& id : ids) {
      if (!id.is_number_integer()) return InvalidArgument("{}: field 'eos_token_id' must be an integer or a list of integers", src);
      eos->push_back(id.get<int64_t>());
    }
  }
  return Status::Ok();
}

}  // namespace config_json

namespace {

using namespace config_json;

Status ParseYarn(const json& j, YarnConfig* y, const std::string& src) {
  const std::string where = src + " rope_scaling";
  if (!j.is_object()) return InvalidArgument("{}: must be an object or null", where);
  std::string type;
  GORAE_RETURN_IF_ERROR(GetString(j, "type", &type, where));
  if (type.empty()) GORAE_RETURN_IF_ERROR(GetString(j, "rope_type", &type, where));
  if (type != "yarn") return Unsupported("{}: type '{}' is not supported (only 'yarn')", where, type);
  y->enabled = true;
  if (!j.contains("factor")) return InvalidArgument("{}: missing field 'factor'", where);
  GORAE_RETURN_IF_ERROR(GetDouble(j, "factor", &y->factor, where));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "original_max_position_embeddings", &y->original_max_position_embeddings, where));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "beta_fast", &y->beta_fast, where));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "beta_slow", &y->beta_slow, where));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "mscale", &y->mscale, where));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "mscale_all_dim", &y->mscale_all_dim, where));
  return Status::Ok();
}

double YarnMscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

double ModelConfig::SoftmaxScale() const {
  double s = 1.0 / std::sqrt(static_cast<double>(IsDeepSeek() ? qk_head_dim() : head_dim));
  if (yarn.enabled && yarn.mscale_all_dim != 0.0) {
    const double m = YarnMscale(yarn.factor, yarn.mscale_all_dim);
    s *= m * m;
  }
  return s;
}

const char* TopkMethodName(TopkMethod m) {
  switch (m) {
    case TopkMethod::kGreedy: return "greedy";
    case TopkMethod::kGroupLimitedGreedy: return "group_limited_greedy";
    case TopkMethod::kNoauxTc: return "noaux_tc";
  }
  return "?";
}

const char* ScoringFuncName(ScoringFunc s) { return s == ScoringFunc::kSoftmax ? "softmax" : "sigmoid"; }

Result<ModelConfig> ParseModelConfig(const std::string& text, const std::string& src) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corruption("{}: not valid JSON", src);
  if (!j.is_object()) return Corruption("{}: expected a JSON object at the top level", src);

  ModelConfig c;
  GORAE_RETURN_IF_ERROR(GetString(j, "model_type", &c.model_type, src));
  if (c.model_type == "llama" || c.model_type == "qwen2") return ParseGqaConfig(j, c.model_type, src);
  if (c.model_type != "deepseek_v2" && c.model_type != "deepseek_v3") {
    return Unsupported("{}: model_type '{}' is not supported (deepseek_v2, deepseek_v3, llama, qwen2)", src,
                       c.model_type);
  }
  GORAE_RETURN_IF_ERROR(GetInt(j, "vocab_size", &c.vocab_size, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "hidden_size", &c.hidden_size, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "intermediate_size", &c.intermediate_size, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "moe_intermediate_size", &c.moe_intermediate_size, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "num_hidden_layers", &c.num_hidden_layers, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "num_attention_heads", &c.num_attention_heads, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "max_position_embeddings", &c.max_position_embeddings, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "q_lora_rank", &c.q_lora_rank, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "kv_lora_rank", &c.kv_lora_rank, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "qk_nope_head_dim", &c.qk_nope_head_dim, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "qk_rope_head_dim", &c.qk_rope_head_dim, true, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "v_head_dim", &c.v_head_dim, true, src));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "rope_theta", &c.rope_theta, src));
  GORAE_RETURN_IF_ERROR(GetBool(j, "attention_bias", &c.attention_bias, src));
  if (c.attention_bias) return Unsupported("{}: attention_bias true is not supported", src);
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    GORAE_RETURN_IF_ERROR(ParseYarn(*it, &c.yarn, src));
  }

  GORAE_RETURN_IF_ERROR(GetInt(j, "n_routed_experts", &c.n_routed_experts, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "n_shared_experts", &c.n_shared_experts, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "num_experts_per_tok", &c.num_experts_per_tok, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "first_k_dense_replace", &c.first_k_dense_replace, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "moe_layer_freq", &c.moe_layer_freq, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "n_group", &c.n_group, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "topk_group", &c.topk_group, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "moe_nodes", &c.moe_nodes, false, src));
  GORAE_RETURN_IF_ERROR(GetInt(j, "moe_node_limit", &c.moe_node_limit, false, src));
  std::string s = "greedy";
  GORAE_RETURN_IF_ERROR(GetString(j, "topk_method", &s, src));
  if (s == "greedy") c.topk_method = TopkMethod::kGreedy;
  else if (s == "group_limited_greedy") c.topk_method = TopkMethod::kGroupLimitedGreedy;
  else if (s == "noaux_tc") c.topk_method = TopkMethod::kNoauxTc;
  else return Unsupported("{}: topk_method '{}' is not supported (greedy, group_limited_greedy, noaux_tc)", src, s);
  s = "softmax";
  GORAE_RETURN_IF_ERROR(GetString(j, "scoring_func", &s, src));
  if (s == "softmax") c.scoring_func = ScoringFunc::kSoftmax;
  else if (s == "sigmoid") c.scoring_func = ScoringFunc::kSigmoid;
  else return Unsupported("{}: scoring_func '{}' is not supported (softmax, sigmoid)", src, s);
  GORAE_RETURN_IF_ERROR(GetBool(j, "norm_topk_prob", &c.norm_topk_prob, src));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "routed_scaling_factor", &c.routed_scaling_factor, src));
  GORAE_RETURN_IF_ERROR(GetDouble(j, "rms_norm_eps", &c.rms_norm_eps, src));
  GORAE_RETURN_IF_ERROR(GetBool(j, "tie_word_embeddings", &c.tie_word_embeddings, src));
  GORAE_RETURN_IF_ERROR(GetSpecialTokens(j, &c.bos_token_id, &c.eos_token_ids, src));
  GORAE_RETURN_IF_ERROR(ValidateModelConfig(c).WithContext(src));
  return c;
}

Status ValidateModelConfig(const ModelConfig& c) {
  if (!c.IsDeepSeek()) return ValidateGqaConfig(c);
  // Sizes are bounded well above any real model so that a corrupt config cannot make the size
  // arithmetic overflow or ask for absurd allocations.
  constexpr int64_t kMaxDim = int64_t{1} << 24;
  auto positive = [](int64_t v, const char* name) -> Status {
    if (v <= 0) return InvalidArgument("field '{}' must be positive, got {}", name, v);
    if (v > kMaxDim) return InvalidArgument("field '{}' is implausibly large: {}", name, v);
    return Status::Ok();
  };
  GORAE_RETURN_IF_ERROR(positive(c.vocab_size, "vocab_size"));
  GORAE_RETURN_IF_ERROR(positive(c.hidden_size, "hidden_size"));
  GORAE_RETURN_IF_ERROR(positive(c.num_hidden_layers, "num_hidden_layers"));
  GORAE_RETURN_IF_ERROR(positive(c.num_attention_heads, "num_attention_heads"));
  GORAE_RETURN_IF_ERROR(positive(c.kv_lora_rank, "kv_lora_rank"));
  GORAE_RETURN_IF_ERROR(positive(c.qk_nope_head_dim, "qk_nope_head_dim"));
  GORAE_RETURN_IF_ERROR(positive(c.qk_rope_head_dim, "qk_rope_head_dim"));
  GORAE_RETURN_IF_ERROR(positive(c.v_head_dim, "v_head_dim"));
  for (auto [v, name] : {std::pair{c.q_lora_rank, "q_lora_rank"}, {c.intermediate_size, "intermediate_size"},
                         {c.moe_intermediate_size, "moe_intermediate_size"}, {c.n_routed_experts, "n_routed_experts"},
                         {c.n_shared_experts, "n_shared_experts"}, {c.first_k_dense_replace, "first_k_dense_replace"}}) {
    if (v > kMaxDim) return InvalidArgument("field '{}' is implausibly large: {}", name, v);
  }
  if (c.q_lora_rank < 0) return InvalidArgument("field 'q_lora_rank' must be null or positive, got {}", c.q_lora_rank);
  if (c.qk_rope_head_dim % 2 != 0) return InvalidArgument("field 'qk_rope_head_dim' must be even, got {}", c.qk_rope_head_dim);
  if (c.rms_norm_eps <= 0) return InvalidArgument("field 'rms_norm_eps' must be positive, got {}", c.rms_norm_eps);
  if (c.rope_theta <= 0) return InvalidArgument("field 'rope_theta' must be positive, got {}", c.rope_theta);
  if (c.yarn.enabled && c.yarn.factor <= 0) return InvalidArgument("field 'rope_scaling.factor' must be positive");
  if (c.first_k_dense_replace < 0) return InvalidArgument("field 'first_k_dense_replace' must be >= 0");
  bool any_dense = false, any_moe = false;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) (c.IsMoeLayer(l) ? any_moe : any_dense) = true;
  if (any_dense) GORAE_RETURN_IF_ERROR(positive(c.intermediate_size, "intermediate_size"));
  if (c.n_routed_experts < 0) return InvalidArgument("field 'n_routed_experts' must be >= 0");
  if (c.n_routed_experts > 0) {
    GORAE_RETURN_IF_ERROR(positive(c.moe_layer_freq, "moe_layer_freq"));
  }
  if (any_moe) {
    GORAE_RETURN_IF_ERROR(positive(c.moe_intermediate_size, "moe_intermediate_size"));
    GORAE_RETURN_IF_ERROR(positive(c.num_experts_per_tok, "num_experts_per_tok"));
    if (c.num_experts_per_tok > c.n_routed_experts) {
      return InvalidArgument("field 'num_experts_per_tok' ({}) is larger than 'n_routed_experts' ({})",
                             c.num_experts_per_tok, c.n_routed_experts);
    }
    if (c.n_shared_experts < 0) return InvalidArgument("field 'n_shared_experts' must be >= 0");
    if (c.moe_nodes < 0) return InvalidArgument("field 'moe_nodes' must be >= 0, got {}", c.moe_nodes);
    if (c.moe_nodes > 0) {
      if (c.n_routed_experts % c.moe_nodes != 0) {
        return InvalidArgument("field 'moe_nodes' ({}) does not divide 'n_routed_experts' ({})", c.moe_nodes,
                               c.n_routed_experts);
      }
      if (c.moe_node_limit < 1 || c.moe_node_limit > c.moe_nodes || c.moe_node_limit > c.num_experts_per_tok) {
        return InvalidArgument("field 'moe_node_limit' ({}) must be in [1, min('moe_nodes' {}, 'num_experts_per_tok' "
                               "{})]", c.moe_node_limit, c.moe_nodes, c.num_experts_per_tok);
      }
      if (c.moe_node_limit * (c.n_routed_experts / c.moe_nodes) < c.num_experts_per_tok) {
        return InvalidArgument("'moe_node_limit' ({}) nodes of {} experts cannot hold 'num_experts_per_tok' ({})",
                               c.moe_node_limit, c.n_routed_experts / c.moe_nodes, c.num_experts_per_tok);
      }
    }
    if (c.topk_method != TopkMethod::kGreedy) {
      GORAE_RETURN_IF_ERROR(positive(c.n_group, "n_group"));
      GORAE_RETURN_IF_ERROR(positive(c.topk_group, "topk_group"));
      if (c.n_routed_experts % c.n_group != 0) {
        return InvalidArgument("field 'n_group' ({}) does not divide 'n_routed_experts' ({})", c.n_group,
                               c.n_routed_experts);
      }
      if (c.topk_group > c.n_group) {
        return InvalidArgument("field 'topk_group' ({}) is larger than 'n_group' ({})", c.topk_group, c.n_group);
      }
      const int64_t per_group = c.n_routed_experts / c.n_group;
      if (c.topk_group * per_group < c.num_experts_per_tok) {
        return InvalidArgument("'topk_group' ({}) groups of {} experts cannot hold 'num_experts_per_tok' ({})",
                               c.topk_group, per_group, c.num_experts_per_tok);
      }
      if (c.topk_method == TopkMethod::kNoauxTc && per_group < 2) {
        return InvalidArgument("topk_method noaux_tc ranks groups by their top-2 scores: each of 'n_group' ({}) "
                               "groups needs at least 2 experts",
                               c.n_group);
      }
    }
  }
  return Status::Ok();
}

Result<ModelConfig> LoadModelConfig(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  GORAE_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  return ParseModelConfig(text, path);
}

}  // namespace gorae
