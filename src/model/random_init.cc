#include "model/random_init.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <list>

#include "core/atomic_file.h"
#include "io/safetensors.h"
#include "model/weights.h"

namespace gorae {

namespace {

// splitmix64: a fast, well-mixed generator; std::normal_distribution would dominate the time of
// writing a multi-GB checkpoint.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float Uniform() { return static_cast<float>((Next() >> 40) * 0x1.0p-24) * 2.0f - 1.0f; }  // [-1, 1)
};

// Collects random tensors in storage form; the visitor interface walks the one name table.
class RandomWriter : public WeightVisitor {
 public:
  RandomWriter(DType dtype, uint64_t seed) : dtype_(dtype), rng_{seed} {}

  Status OnMatrix(const std::string& name, int64_t rows, int64_t cols, Matrix*) override {
    const float std_dev = name == "model.embed_tokens.weight" ? 1.0f : 1.0f / std::sqrt(static_cast<float>(cols));
    std::vector<float> v(static_cast<size_t>(rows * cols));
    const float a = std::sqrt(3.0f) * std_dev;  // uniform [-a, a] has this std
    for (auto& x : v) x = a * rng_.Uniform();
    // The real V3 release keeps the embedding, the head and the router gate in BF16.
    const bool fp8 = dtype_ == DType::kF8E4M3 && name.find("embed_tokens") == std::string::npos &&
                     name != "lm_head.weight" && name.find(".mlp.gate.weight") == std::string::npos;
    if (fp8) {
      AddFp8(name, rows, cols, v);
    } else {
      Add(name, dtype_ == DType::kF8E4M3 ? DType::kBF16 : dtype_, {rows, cols}, v);
    }
    return Status::Ok();
  }

  Status OnVector(const std::string& name, int64_t n, std::vector<float>*) override {
    std::vector<float> v(static_cast<size_t>(n));
    const bool bias = name.find("e_score_correction_bias") != std::string::npos || name.ends_with(".bias");
    for (auto& x : v) x = bias ? 0.1f * rng_.Uniform() : 1.0f + 0.1f * rng_.Uniform();
    Add(name, bias ? DType::kF32 : (dtype_ == DType::kF8E4M3 ? DType::kBF16 : dtype_), {n}, v);
    return Status::Ok();
  }

  const std::vector<TensorToWrite>& tensors() const { return tensors_; }

 private:
  void Add(const std::string& name, DType t, std::vector<int64_t> shape, const std::vector<float>& v) {
    std::vector<uint8_t>& bytes = storage_.emplace_back(v.size() * DTypeSize(t));
    for (size_t i = 0; i < v.size(); ++i) {
      switch (t) {
        case DType::kF32: std::memcpy(&bytes[i * 4], &v[i], 4); break;
        case DType::kBF16: { const uint16_t h = F32ToBF16(v[i]); std::memcpy(&bytes[i * 2], &h, 2); break; }
        case DType::kF16: { const uint16_t h = F32ToF16(v[i]); std::memcpy(&bytes[i * 2], &h, 2); break; }
        case DType::kF8E4M3: bytes[i] = F32ToF8E4M3(v[i]); break;
      }
    }
    tensors_.push_back({name, t, std::move(shape), bytes.data()});
  }

  // Per 128x128 block: scale = amax / 448, stored value = v / scale, weight_scale_inv = scale.
  void AddFp8(const std::string& name, int64_t rows, int64_t cols, const std::vector<float>& v) {
    const int64_t sr = (rows + kFp8Block - 1) / kFp8Block, sc = (cols + kFp8Block - 1) / kFp8Block;
    std::vector<float> scales(static_cast<size_t>(sr * sc));
    for (int64_t br = 0; br < sr; ++br) {
      for (int64_t bc = 0; bc < sc; ++bc) {
        float amax = 0.0f;
        for (int64_t r = br * kFp8Block; r < std::min(rows, (br + 1) * kFp8Block); ++r)
          for (int64_t c = bc * kFp8Block; c < std::min(cols, (bc + 1) * kFp8Block); ++c)
            amax = std::max(amax, std::fabs(v[r * cols + c]));
        scales[br * sc + bc] = amax > 0 ? amax / 448.0f : 1.0f;
      }
    }
    std::vector<uint8_t>& bytes = storage_.emplace_back(v.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        bytes[r * cols + c] = F32ToF8E4M3(v[r * cols + c] / scales[(r / kFp8Block) * sc + c / kFp8Block]);
    tensors_.push_back({name, DType::kF8E4M3, {rows, cols}, bytes.data()});
    Add(name + "_scale_inv", DType::kF32, {sr, sc}, scales);
  }

  DType dtype_;
  Rng rng_;
  std::list<std::vector<uint8_t>> storage_;  // list: stable addresses for tensors_[i].data
  std::vector<TensorToWrite> tensors_;
};

}  // namespace

namespace {

nlohmann::ordered_json GqaConfigToJson(const ModelConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = {c.arch == Architecture::kQwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rope_theta"] = c.rope_theta;
  if (c.llama3.enabled) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.llama3.factor},
                         {"low_freq_factor", c.llama3.low_freq_factor},
                         {"high_freq_factor", c.llama3.high_freq_factor},
                         {"original_max_position_embeddings", c.llama3.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  if (c.arch == Architecture::kLlama) j["attention_bias"] = c.qkv_bias;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  return j;
}

}  // namespace

nlohmann::ordered_json ModelConfigToJson(const ModelConfig& c) {
  if (!c.IsDeepSeek()) {
    nlohmann::ordered_json j = GqaConfigToJson(c);
    if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
    if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
    else if (!c.eos_token_ids.empty()) j["eos_token_id"] = c.eos_token_ids;
    return j;
  }
  nlohmann::ordered_json j;
  j["architectures"] = {c.model_type == "deepseek_v2" ? "DeepseekV2ForCausalLM" : "DeepseekV3ForCausalLM"};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_attention_heads;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["q_lora_rank"] = c.q_lora_rank > 0 ? nlohmann::ordered_json(c.q_lora_rank) : nlohmann::ordered_json(nullptr);
  j["kv_lora_rank"] = c.kv_lora_rank;
  j["qk_nope_head_dim"] = c.qk_nope_head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["v_head_dim"] = c.v_head_dim;
  j["rope_theta"] = c.rope_theta;
  if (c.yarn.enabled) {
    j["rope_scaling"] = {{"type", "yarn"},
                         {"factor", c.yarn.factor},
                         {"original_max_position_embeddings", c.yarn.original_max_position_embeddings},
                         {"beta_fast", c.yarn.beta_fast},
                         {"beta_slow", c.yarn.beta_slow},
                         {"mscale", c.yarn.mscale},
                         {"mscale_all_dim", c.yarn.mscale_all_dim}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["attention_bias"] = false;
  if (c.n_routed_experts > 0) {
    j["n_routed_experts"] = c.n_routed_experts;
    j["n_shared_experts"] = c.n_shared_experts;
    j["num_experts_per_tok"] = c.num_experts_per_tok;
  } else {
    j["n_routed_experts"] = nullptr;
  }
  j["first_k_dense_replace"] = c.first_k_dense_replace;
  j["moe_layer_freq"] = c.moe_layer_freq;
  j["n_group"] = c.n_group;
  j["topk_group"] = c.topk_group;
  if (c.moe_nodes > 0) {
    j["moe_nodes"] = c.moe_nodes;
    j["moe_node_limit"] = c.moe_node_limit;
  }
  j["topk_method"] = TopkMethodName(c.topk_method);
  j["scoring_func"] = ScoringFuncName(c.scoring_func);
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["routed_scaling_factor"] = c.routed_scaling_factor;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else if (!c.eos_token_ids.empty()) j["eos_token_id"] = c.eos_token_ids;
  j["torch_dtype"] = "bfloat16";
  return j;
}

Status WriteRandomModel(const std::string& dir, const ModelConfig& config, DType dtype, uint64_t seed) {
  GORAE_RETURN_IF_ERROR(ValidateModelConfig(config));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IOError("cannot create directory '{}': {}", dir, ec.message());
  RandomWriter writer(dtype, seed);
  ModelWeights unused;
  GORAE_RETURN_IF_ERROR(VisitWeights(config, writer, &unused));
  GORAE_RETURN_IF_ERROR(WriteSafetensors(dir + "/model.safetensors", writer.tensors()));

  nlohmann::ordered_json j = ModelConfigToJson(config);
  if (dtype == DType::kF8E4M3) {
    j["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
                                {"weight_block_size", {kFp8Block, kFp8Block}}};
  }
  GORAE_RETURN_IF_ERROR(WriteFileAtomic(dir + "/config.json", j.dump(2) + "\n"));
  return Status::Ok();
}

}  // namespace gorae
