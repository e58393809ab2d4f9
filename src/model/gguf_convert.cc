// HF safetensors <-> GGUF (llama.cpp's names and keys), used by `gorae convert`.
//
// Like llama.cpp: vectors (norms, biases) stay F32, the MoE router stays F32, and a matrix whose
// row length is not a multiple of the type's block falls back (K-quants to Q8_0, then F16).
// The whole output is built in memory before the atomic write: fine for the models gorae
// converts in tests; a streaming writer is the next step for very large models.
#include "model/gguf_convert.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "kernels/cpu/quant_dot.h"
#include "model/gguf_model.h"
#include "model/random_init.h"
#include "model/rope.h"

namespace gorae {

namespace {

GgmlType MatrixType(GgmlType wanted, int64_t cols) {
  for (GgmlType t : {wanted, GgmlType::kQ8_0, GgmlType::kF16}) {
    if (cols % GetGgmlTypeInfo(t).block_elems == 0) return t;
  }
  return GgmlType::kF32;
}

// Visits the HF name table, decodes each tensor to fp32 and adds it to the writer under its GGUF
// name. Expert matrices are stacked into one 3-D tensor per layer and projection.
class GgufEmitter : public WeightVisitor {
 public:
  GgufEmitter(const ModelConfig& c, const Checkpoint& ckpt, GgmlType type, GgufWriter& w)
      : c_(c), ckpt_(ckpt), type_(type), w_(w) {}

  Status OnMatrix(const std::string& hf, int64_t rows, int64_t cols, Matrix*) override {
    GORAE_ASSIGN_OR_RETURN(std::vector<float> x, Read(hf, rows, cols));
    GORAE_ASSIGN_OR_RETURN(GgufTensorName n, HfToGgufName(hf));
    const bool router = hf.ends_with("mlp.gate.weight");
    const GgmlType t = router ? GgmlType::kF32 : MatrixType(type_, cols);
    ++counts_[GgmlTypeName(t)];
    if (c_.arch == Architecture::kLlama && (hf.ends_with("q_proj.weight") || hf.ends_with("k_proj.weight"))) {
      x = Permute(hf, x, rows, cols);
    }
    const std::vector<uint8_t> q = QuantizeMatrix(t, x.data(), rows, cols);
    if (n.expert < 0) return Add(n.name, t, {cols, rows}, q);
    // Experts come in order 0..E-1: the 3-D tensor is added once, then filled slice by slice.
    auto [it, fresh] = experts_.try_emplace(n.name, nullptr);
    if (fresh) {
      it->second = &storage_.emplace_back(q.size() * static_cast<size_t>(c_.n_routed_experts));
      GORAE_RETURN_IF_ERROR(w_.AddTensor(n.name, t, {cols, rows, c_.n_routed_experts}, it->second->data(),
                                         it->second->size()));
    }
    std::copy(q.begin(), q.end(), it->second->begin() + static_cast<size_t>(n.expert) * q.size());
    return Status::Ok();
  }

  Status OnVector(const std::string& hf, int64_t n, std::vector<float>*) override {
    GORAE_ASSIGN_OR_RETURN(std::vector<float> x, Read(hf, n, 1));
    GORAE_ASSIGN_OR_RETURN(GgufTensorName gn, HfToGgufName(hf));
    if (c_.arch == Architecture::kLlama && (hf.ends_with("q_proj.bias") || hf.ends_with("k_proj.bias"))) {
      x = Permute(hf, x, n, 1);
    }
    ++counts_["F32"];
    return Add(gn.name, GgmlType::kF32, {n}, QuantizeMatrix(GgmlType::kF32, x.data(), 1, n));
  }

  Status Add(const std::string& name, GgmlType t, std::vector<int64_t> ne, std::vector<uint8_t> bytes) {
    const std::vector<uint8_t>& b = storage_.emplace_back(std::move(bytes));
    return w_.AddTensor(name, t, ne, b.data(), b.size());
  }

  const std::map<std::string, int>& counts() const { return counts_; }

 private:
  // The HF tensor in fp32 (any stored dtype; fp8 with its block scales), shape checked.
  Result<std::vector<float>> Read(const std::string& name, int64_t rows, int64_t cols) {
    const TensorView* t = ckpt_.Find(name);
    if (t == nullptr) return NotFound("tensor '{}' is missing from the checkpoint in '{}'", name, ckpt_.dir());
    if (!t->dtype_known) return Unsupported("tensor '{}' in '{}': dtype {} is not supported", name, *t->file, t->dtype_name);
    if (t->numel() != rows * cols) {
      return InvalidArgument("tensor '{}' in '{}': expected {} x {} values, file has {}", name, *t->file, rows, cols,
                             t->ShapeString());
    }
    Matrix m{t->dtype, rows, cols, t->data, nullptr};
    if (t->dtype == DType::kF8E4M3) {
      const TensorView* s = ckpt_.Find(name + "_scale_inv");
      if (s == nullptr || s->dtype != DType::kF32) {
        return NotFound("tensor '{}_scale_inv' (F32 block scales) is missing in '{}'", name, ckpt_.dir());
      }
      m.scale_inv = reinterpret_cast<const float*>(s->data);
    }
    std::vector<float> x(static_cast<size_t>(rows * cols));
    DequantizeRows(m, 0, rows, x.data());
    return x;
  }

  std::vector<float> Permute(const std::string& hf, const std::vector<float>& x, int64_t rows, int64_t cols) const {
    const int64_t heads = hf.find("q_proj") != std::string::npos ? c_.num_attention_heads : c_.num_key_value_heads;
    std::vector<float> y(x.size());
    PermuteLlamaRows(reinterpret_cast<const uint8_t*>(x.data()), reinterpret_cast<uint8_t*>(y.data()), heads,
                     rows / heads, static_cast<size_t>(cols) * sizeof(float), /*to_gguf=*/true);
    return y;
  }

  const ModelConfig& c_;
  const Checkpoint& ckpt_;
  GgmlType type_;
  GgufWriter& w_;
  std::deque<std::vector<uint8_t>> storage_;  // referenced by the writer until Write
  std::map<std::string, std::vector<uint8_t>*> experts_;
  std::map<std::string, int> counts_;
};

// llama.cpp's metadata keys for the config (general.*, {arch}.*, tokenizer ids).
Status WriteMetadata(const ModelConfig& c, GgmlType type, GgufWriter& w) {
  const std::string a = GgufArchitecture(c);
  auto key = [&](const char* k) { return a + "." + k; };
  w.SetString("general.architecture", a);
  // llama.cpp's LLAMA_FTYPE for the main type (informational).
  static const std::map<GgmlType, uint32_t> kFileType = {{GgmlType::kF32, 0},  {GgmlType::kF16, 1},
                                                         {GgmlType::kQ4_0, 2}, {GgmlType::kQ8_0, 7},
                                                         {GgmlType::kQ4_K, 15}, {GgmlType::kQ6_K, 18}};
  w.SetU32("general.file_type", kFileType.at(type));
  w.SetU32(key("context_length"), static_cast<uint32_t>(c.max_position_embeddings));
  w.SetU32(key("embedding_length"), static_cast<uint32_t>(c.hidden_size));
  w.SetU32(key("block_count"), static_cast<uint32_t>(c.num_hidden_layers));
  w.SetU32(key("feed_forward_length"), static_cast<uint32_t>(c.intermediate_size));
  w.SetU32(key("attention.head_count"), static_cast<uint32_t>(c.num_attention_heads));
  w.SetF32(key("rope.freq_base"), static_cast<float>(c.rope_theta));
  w.SetF32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(c.rms_norm_eps));
  w.SetU32(key("vocab_size"), static_cast<uint32_t>(c.vocab_size));
  if (c.bos_token_id >= 0) w.SetU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(c.bos_token_id));
  if (!c.eos_token_ids.empty()) w.SetU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_ids[0]));
  if (!c.IsDeepSeek()) {
    w.SetU32(key("attention.head_count_kv"), static_cast<uint32_t>(c.num_key_value_heads));
    w.SetU32(key("attention.key_length"), static_cast<uint32_t>(c.head_dim));
    w.SetU32(key("attention.value_length"), static_cast<uint32_t>(c.head_dim));
    w.SetU32(key("rope.dimension_count"), static_cast<uint32_t>(c.head_dim));
    return Status::Ok();
  }
  if (c.n_routed_experts > 0 && c.moe_layer_freq != 1) {
    return Unsupported("moe_layer_freq {}: llama.cpp's deepseek2 has no such key (only 1)", c.moe_layer_freq);
  }
  if (c.yarn.enabled && c.yarn.mscale != c.yarn.mscale_all_dim) {
    return Unsupported("rope_scaling mscale {} != mscale_all_dim {}: llama.cpp's deepseek2 keys hold only one",
                       c.yarn.mscale, c.yarn.mscale_all_dim);
  }
  w.SetU32(key("attention.head_count_kv"), static_cast<uint32_t>(c.num_attention_heads));
  if (c.q_lora_rank > 0) w.SetU32(key("attention.q_lora_rank"), static_cast<uint32_t>(c.q_lora_rank));
  w.SetU32(key("attention.kv_lora_rank"), static_cast<uint32_t>(c.kv_lora_rank));
  w.SetU32(key("attention.key_length"), static_cast<uint32_t>(c.qk_head_dim()));
  w.SetU32(key("attention.value_length"), static_cast<uint32_t>(c.v_head_dim));
  w.SetU32(key("rope.dimension_count"), static_cast<uint32_t>(c.qk_rope_head_dim));
  w.SetU32(key("leading_dense_block_count"), static_cast<uint32_t>(c.first_k_dense_replace));
  w.SetU32(key("expert_feed_forward_length"), static_cast<uint32_t>(c.moe_intermediate_size));
  w.SetU32(key("expert_count"), static_cast<uint32_t>(c.n_routed_experts));
  w.SetU32(key("expert_shared_count"), static_cast<uint32_t>(c.n_shared_experts));
  w.SetU32(key("expert_used_count"), static_cast<uint32_t>(c.num_experts_per_tok));
  w.SetF32(key("expert_weights_scale"), static_cast<float>(c.routed_scaling_factor));
  w.SetBool(key("expert_weights_norm"), c.norm_topk_prob);
  w.SetU32(key("expert_gating_func"), c.scoring_func == ScoringFunc::kSigmoid ? 2 : 1);
  // The loader reads groups as group-limited routing; plain greedy routing ignores them.
  const bool groups = c.topk_method != TopkMethod::kGreedy;
  w.SetU32(key("expert_group_count"), static_cast<uint32_t>(groups ? c.n_group : 1));
  w.SetU32(key("expert_group_used_count"), static_cast<uint32_t>(groups ? c.topk_group : 1));
  if (c.yarn.enabled) {
    w.SetString(key("rope.scaling.type"), "yarn");
    w.SetF32(key("rope.scaling.factor"), static_cast<float>(c.yarn.factor));
    w.SetU32(key("rope.scaling.original_context_length"),
             static_cast<uint32_t>(c.yarn.original_max_position_embeddings));
    w.SetF32(key("rope.scaling.yarn_log_multiplier"), static_cast<float>(0.1 * c.yarn.mscale_all_dim));
    w.SetF32(key("rope.scaling.yarn_beta_fast"), static_cast<float>(c.yarn.beta_fast));
    w.SetF32(key("rope.scaling.yarn_beta_slow"), static_cast<float>(c.yarn.beta_slow));
  }
  return Status::Ok();
}

// Visits the weights of a loaded GGUF model under their Hugging Face names and collects each,
// decoded to fp32 and stored in `dtype`, for WriteSafetensors.
class HfEmitter : public WeightVisitor {
 public:
  explicit HfEmitter(DType dtype) : dtype_(dtype) {}

  Status OnMatrix(const std::string& hf, int64_t rows, int64_t cols, Matrix* slot) override {
    if (slot->empty() || slot->rows != rows || slot->cols != cols)
      return InvalidArgument("tensor '{}': expected a bound {} x {} matrix", hf, rows, cols);
    std::vector<float> x(static_cast<size_t>(rows * cols));
    DequantizeRows(*slot, 0, rows, x.data());
    return Add(hf, {rows, cols}, x);
  }

  Status OnVector(const std::string& hf, int64_t n, std::vector<float>* slot) override {
    if (static_cast<int64_t>(slot->size()) != n)
      return InvalidArgument("tensor '{}': expected {} values, have {}", hf, n, slot->size());
    return Add(hf, {n}, *slot);
  }

  const std::vector<TensorToWrite>& tensors() const { return tensors_; }

 private:
  Status Add(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& x) {
    std::vector<uint8_t>& b = storage_.emplace_back(x.size() * DTypeSize(dtype_));
    if (dtype_ == DType::kF32) {
      std::memcpy(b.data(), x.data(), b.size());
    } else {
      auto* h = reinterpret_cast<uint16_t*>(b.data());
      for (size_t i = 0; i < x.size(); ++i) h[i] = F32ToBF16(x[i]);
    }
    tensors_.push_back({name, dtype_, std::move(shape), b.data()});
    return Status::Ok();
  }

  DType dtype_;
  std::deque<std::vector<uint8_t>> storage_;
  std::vector<TensorToWrite> tensors_;
};

}  // namespace

Result<std::string> ConvertGgufToHf(const std::string& gguf_path, const std::string& out_dir, DType dtype) {
  if (dtype != DType::kF32 && dtype != DType::kBF16)
    return InvalidArgument("cannot write Hugging Face tensors as {} (F32, BF16)", DTypeName(dtype));
  GORAE_ASSIGN_OR_RETURN(std::unique_ptr<GgufModel> g, LoadGgufModel(gguf_path));
  if (!g->rope_freq_factors.empty())
    return Unsupported("{}: llama3 rope scaling (tensor rope_freqs.weight) cannot be written back as config.json's "
                       "rope_scaling", gguf_path);
  HfEmitter emitter(dtype);
  GORAE_RETURN_IF_ERROR(VisitWeights(g->config, emitter, &g->weights));
  nlohmann::ordered_json config = ModelConfigToJson(g->config);
  config["torch_dtype"] = dtype == DType::kF32 ? "float32" : "bfloat16";
  // GGUF keeps these as f32: write the shortest decimal of the f32 (1e-06, not 9.99999997e-07).
  auto shortest = [](nlohmann::ordered_json& j) {
    for (auto& v : j) {
      if (v.is_number_float()) v = std::stod(fmt::format("{}", static_cast<float>(v.get<double>())));
    }
  };
  shortest(config);
  if (config.contains("rope_scaling") && config["rope_scaling"].is_object()) shortest(config["rope_scaling"]);

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return IOError("cannot create directory '{}': {}", out_dir, ec.message());
  GORAE_RETURN_IF_ERROR(WriteSafetensors(out_dir + "/model.safetensors", emitter.tensors()));
  const std::string path = out_dir + "/config.json", tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << config.dump(2) << "\n";
    if (!f) return IOError("{}: write failed", tmp);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return IOError("cannot rename '{}' to '{}': {}", tmp, path, ec.message());
  return fmt::format("{}, {} tensors, {}", GgufArchitecture(g->config), emitter.tensors().size(), DTypeName(dtype));
}

Result<std::string> ConvertToGguf(const std::string& model_dir, const std::string& out, GgmlType type) {
  return ConvertToGguf(model_dir, out, HfToGgufOptions{type, nullptr});
}

Result<std::string> ConvertToGguf(const std::string& model_dir, const std::string& out, const HfToGgufOptions& o) {
  const GgmlType type = o.type;
  static const std::map<GgmlType, int> kAllowed = {{GgmlType::kF32, 0}, {GgmlType::kF16, 0}, {GgmlType::kQ8_0, 0},
                                                   {GgmlType::kQ4_0, 0}, {GgmlType::kQ4_K, 0}, {GgmlType::kQ6_K, 0}};
  if (!kAllowed.count(type)) return InvalidArgument("cannot convert to {} (F32, F16, Q8_0, Q4_0, Q4_K, Q6_K)", GgmlTypeName(type));
  GORAE_ASSIGN_OR_RETURN(ModelConfig c, LoadModelConfig(model_dir));
  GORAE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(model_dir));
  GgufWriter w;
  Status s = WriteMetadata(c, type, w);
  if (!s.ok()) return Unsupported("{}: {}", model_dir, s.message());
  GgufEmitter emitter(c, *ckpt, type, w);
  ModelWeights unused;
  GORAE_RETURN_IF_ERROR(VisitWeights(c, emitter, &unused));
  if (c.arch == Architecture::kLlama && c.llama3.enabled) {
    // llama.cpp's form of llama3 scaling: divisors of the plain inverse frequencies.
    ModelConfig plain = c;
    plain.llama3.enabled = false;
    const RopeTable scaled = MakeRopeTable(c), base = MakeRopeTable(plain);
    std::vector<float> factors;
    for (size_t i = 0; i < scaled.inv_freq.size(); ++i) factors.push_back(static_cast<float>(base.inv_freq[i] / scaled.inv_freq[i]));
    const int64_t n = static_cast<int64_t>(factors.size());
    GORAE_RETURN_IF_ERROR(emitter.Add("rope_freqs.weight", GgmlType::kF32, {n}, QuantizeMatrix(GgmlType::kF32, factors.data(), 1, n)));
  }
  if (o.add_metadata) GORAE_RETURN_IF_ERROR(o.add_metadata(c, w));
  GORAE_RETURN_IF_ERROR(w.Write(out));
  std::string summary = GgufArchitecture(c);
  for (const auto& [name, n] : emitter.counts()) summary += fmt::format(", {} {}", n, name);
  return summary;
}

}  // namespace gorae
