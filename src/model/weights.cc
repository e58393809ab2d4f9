#include "model/weights.h"

#include <set>

#include <fmt/format.h>

namespace gorae {

namespace {

// Looks tensors up by name, checks them against declared shapes, and remembers which were used.
class Binder : public WeightVisitor {
 public:
  explicit Binder(const Checkpoint& ckpt) : ckpt_(ckpt) {}

  Status OnMatrix(const std::string& name, int64_t rows, int64_t cols, Matrix* out) override {
    GORAE_ASSIGN_OR_RETURN(const TensorView* t, Get(name, {rows, cols}));
    out->dtype = t->dtype;
    out->rows = rows;
    out->cols = cols;
    out->data = t->data;
    out->scale_inv = nullptr;
    if (t->dtype == DType::kF8E4M3) {
      const std::string sname = name + "_scale_inv";
      const int64_t sr = (rows + kFp8Block - 1) / kFp8Block, sc = (cols + kFp8Block - 1) / kFp8Block;
      GORAE_ASSIGN_OR_RETURN(const TensorView* s, Get(sname, {sr, sc}));
      if (s->dtype != DType::kF32) {
        return InvalidArgument("tensor '{}' in '{}': block scales must be F32, file has {}", sname, *s->file,
                               s->dtype_name);
      }
      out->scale_inv = reinterpret_cast<const float*>(s->data);
    }
    return Status::Ok();
  }

  Status OnVector(const std::string& name, int64_t n, std::vector<float>* out) override {
    GORAE_ASSIGN_OR_RETURN(const TensorView* t, Get(name, {n}));
    if (t->dtype == DType::kF8E4M3) {
      return InvalidArgument("tensor '{}' in '{}': vectors cannot be F8_E4M3", name, *t->file);
    }
    out->resize(static_cast<size_t>(n));
    ConvertToF32(t->dtype, t->data, out->data(), static_cast<size_t>(n));
    return Status::Ok();
  }

  const std::set<std::string>& used() const { return used_; }

 private:
  Result<const TensorView*> Get(const std::string& name, std::vector<int64_t> shape) {
    const TensorView* t = ckpt_.Find(name);
    if (t == nullptr) return NotFound("tensor '{}' is missing from the checkpoint in '{}'", name, ckpt_.dir());
    if (!t->dtype_known) {
      return Unsupported("tensor '{}' in '{}': dtype {} is not supported (F32, BF16, F16, F8_E4M3)", name, *t->file,
                         t->dtype_name);
    }
    if (t->shape != shape) {
      TensorView expected;
      expected.shape = shape;
      return InvalidArgument("tensor '{}' in '{}': expected shape {}, file has {}", name, *t->file,
                             expected.ShapeString(), t->ShapeString());
    }
    used_.insert(name);
    return t;
  }

  const Checkpoint& ckpt_;
  std::set<std::string> used_;
};

Status VisitMlp(WeightVisitor& v, const std::string& prefix, int64_t hidden, int64_t inter, MlpWeights* w) {
  GORAE_RETURN_IF_ERROR(v.OnMatrix(prefix + ".gate_proj.weight", inter, hidden, &w->gate_proj));
  GORAE_RETURN_IF_ERROR(v.OnMatrix(prefix + ".up_proj.weight", inter, hidden, &w->up_proj));
  GORAE_RETURN_IF_ERROR(v.OnMatrix(prefix + ".down_proj.weight", hidden, inter, &w->down_proj));
  return Status::Ok();
}

// Llama / Qwen2 attention: q, k, v, o projections with optional biases.
Status VisitGqaAttention(WeightVisitor& v, const ModelConfig& c, const std::string& p, AttentionWeights* w) {
  const int64_t D = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".q_proj.weight", q, D, &w->q_proj));
  GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".k_proj.weight", kv, D, &w->k_proj));
  GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".v_proj.weight", kv, D, &w->v_proj));
  GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".o_proj.weight", D, q, &w->o_proj));
  if (c.qkv_bias) {
    GORAE_RETURN_IF_ERROR(v.OnVector(p + ".q_proj.bias", q, &w->q_bias));
    GORAE_RETURN_IF_ERROR(v.OnVector(p + ".k_proj.bias", kv, &w->k_bias));
    GORAE_RETURN_IF_ERROR(v.OnVector(p + ".v_proj.bias", kv, &w->v_bias));
  }
  if (c.o_bias) GORAE_RETURN_IF_ERROR(v.OnVector(p + ".o_proj.bias", D, &w->o_bias));
  return Status::Ok();
}

Status VisitAttention(WeightVisitor& v, const ModelConfig& c, const std::string& p, AttentionWeights* w) {
  if (!c.IsDeepSeek()) return VisitGqaAttention(v, c, p, w);
  const int64_t H = c.num_attention_heads, D = c.hidden_size;
  if (c.q_lora_rank == 0) {
    GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".q_proj.weight", H * c.qk_head_dim(), D, &w->q_proj));
  } else {
    GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".q_a_proj.weight", c.q_lora_rank, D, &w->q_a_proj));
    GORAE_RETURN_IF_ERROR(v.OnVector(p + ".q_a_layernorm.weight", c.q_lora_rank, &w->q_a_norm));
    GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".q_b_proj.weight", H * c.qk_head_dim(), c.q_lora_rank, &w->q_b_proj));
  }
  GORAE_RETURN_IF_ERROR(
      v.OnMatrix(p + ".kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, D, &w->kv_a_proj));
  GORAE_RETURN_IF_ERROR(v.OnVector(p + ".kv_a_layernorm.weight", c.kv_lora_rank, &w->kv_a_norm));
  GORAE_RETURN_IF_ERROR(
      v.OnMatrix(p + ".kv_b_proj.weight", H * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank, &w->kv_b_proj));
  GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".o_proj.weight", D, H * c.v_head_dim, &w->o_proj));
  return Status::Ok();
}

Status VisitMoe(WeightVisitor& v, const ModelConfig& c, const std::string& p, MoeWeights* w) {
  const int64_t D = c.hidden_size, E = c.n_routed_experts;
  GORAE_RETURN_IF_ERROR(v.OnMatrix(p + ".gate.weight", E, D, &w->gate));
  if (c.topk_method == TopkMethod::kNoauxTc) {
    GORAE_RETURN_IF_ERROR(v.OnVector(p + ".gate.e_score_correction_bias", E, &w->score_bias));
  }
  w->experts.resize(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e) {
    GORAE_RETURN_IF_ERROR(VisitMlp(v, fmt::format("{}.experts.{}", p, e), D, c.moe_intermediate_size, &w->experts[e]));
  }
  if (c.n_shared_experts > 0) {
    GORAE_RETURN_IF_ERROR(VisitMlp(v, p + ".shared_experts", D, c.moe_intermediate_size * c.n_shared_experts, &w->shared));
  }
  return Status::Ok();
}

// True for the tensors of the multi-token-prediction layers that the V3 release stores as
// extra decoder layers `model.layers.{num_hidden_layers + i}.*`.
bool IsMtpTensor(const ModelConfig& c, const std::string& name) {
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return false;
  size_t pos = prefix.size();
  int64_t layer = 0;
  bool digits = false;
  while (pos < name.size() && std::isdigit(static_cast<unsigned char>(name[pos]))) {
    layer = layer * 10 + (name[pos++] - '0');
    digits = true;
  }
  return digits && layer >= c.num_hidden_layers;
}

}  // namespace

Status VisitWeights(const ModelConfig& c, WeightVisitor& v, ModelWeights* w) {
  const int64_t D = c.hidden_size;
  GORAE_RETURN_IF_ERROR(v.OnMatrix("model.embed_tokens.weight", c.vocab_size, D, &w->embed));
  w->layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}", l);
    LayerWeights& lw = w->layers[l];
    GORAE_RETURN_IF_ERROR(v.OnVector(p + ".input_layernorm.weight", D, &lw.input_norm));
    GORAE_RETURN_IF_ERROR(VisitAttention(v, c, p + ".self_attn", &lw.attn));
    GORAE_RETURN_IF_ERROR(v.OnVector(p + ".post_attention_layernorm.weight", D, &lw.post_norm));
    lw.is_moe = c.IsMoeLayer(l);
    if (lw.is_moe) {
      GORAE_RETURN_IF_ERROR(VisitMoe(v, c, p + ".mlp", &lw.moe));
    } else {
      GORAE_RETURN_IF_ERROR(VisitMlp(v, p + ".mlp", D, c.intermediate_size, &lw.mlp));
    }
  }
  GORAE_RETURN_IF_ERROR(v.OnVector("model.norm.weight", D, &w->final_norm));
  if (c.tie_word_embeddings) {
    w->lm_head = w->embed;
  } else {
    GORAE_RETURN_IF_ERROR(v.OnMatrix("lm_head.weight", c.vocab_size, D, &w->lm_head));
  }
  return Status::Ok();
}

void DecodeKvB(ModelWeights& w) {
  for (auto& layer : w.layers) {
    const Matrix& kvb = layer.attn.kv_b_proj;
    if (kvb.empty()) continue;  // not an MLA model
    layer.attn.kv_b_f32.resize(static_cast<size_t>(kvb.rows * kvb.cols));
    DequantizeRows(kvb, 0, kvb.rows, layer.attn.kv_b_f32.data());
  }
}

Result<ModelWeights> BindWeights(const ModelConfig& c, const Checkpoint& ckpt) {
  Binder b(ckpt);
  ModelWeights w;
  GORAE_RETURN_IF_ERROR(VisitWeights(c, b, &w));
  DecodeKvB(w);
  for (const auto& [name, t] : ckpt.tensors()) {
    if (b.used().count(name)) continue;
    if (IsMtpTensor(c, name)) {
      ++w.mtp_tensors;
    } else {
      w.unused.push_back(name);
    }
  }
  return w;
}

}  // namespace gorae
