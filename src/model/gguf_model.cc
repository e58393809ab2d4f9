#include "model/gguf_model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>

#include <fmt/format.h>

#include "kernels/cpu/quant_dot.h"
#include "tensor/quant_decode.h"

namespace gorae {

namespace {

// ---- metadata -> ModelConfig ----

class MetaReader {
 public:
  MetaReader(const GgufFile& f, std::string arch) : f_(f), arch_(std::move(arch)) {}
  std::string Key(const char* k) const { return arch_ + "." + k; }
  bool Has(const char* k) const { return f_.Has(Key(k)); }
  Result<int64_t> Int(const char* k) const {
    GORAE_ASSIGN_OR_RETURN(uint64_t v, f_.GetU64(Key(k)));
    if (v > (uint64_t{1} << 40)) return InvalidArgument("{}: key '{}' is implausibly large: {}", f_.path(), Key(k), v);
    return static_cast<int64_t>(v);
  }
  Result<int64_t> IntOr(const char* k, int64_t fallback) const { return Has(k) ? Int(k) : fallback; }
  Result<double> FloatOr(const char* k, double fallback) const {
    if (!Has(k)) return fallback;
    return f_.GetF64(Key(k));
  }

 private:
  const GgufFile& f_;
  std::string arch_;
};

Status ReadDeepSeekConfig(const GgufFile& f, const MetaReader& m, ModelConfig* c) {
  GORAE_ASSIGN_OR_RETURN(c->q_lora_rank, m.IntOr("attention.q_lora_rank", 0));
  GORAE_ASSIGN_OR_RETURN(c->kv_lora_rank, m.Int("attention.kv_lora_rank"));
  GORAE_ASSIGN_OR_RETURN(c->qk_rope_head_dim, m.Int("rope.dimension_count"));
  // Converters with absorbed-MLA support write the MQA view in key_length/value_length and the
  // per-head sizes in the *_mla keys.
  const bool mla_keys = m.Has("attention.key_length_mla");
  GORAE_ASSIGN_OR_RETURN(int64_t key_len, m.Int(mla_keys ? "attention.key_length_mla" : "attention.key_length"));
  GORAE_ASSIGN_OR_RETURN(c->v_head_dim, m.Int(mla_keys ? "attention.value_length_mla" : "attention.value_length"));
  c->qk_nope_head_dim = key_len - c->qk_rope_head_dim;
  GORAE_ASSIGN_OR_RETURN(c->n_routed_experts, m.IntOr("expert_count", 0));
  GORAE_ASSIGN_OR_RETURN(c->n_shared_experts, m.IntOr("expert_shared_count", 0));
  GORAE_ASSIGN_OR_RETURN(c->num_experts_per_tok, m.IntOr("expert_used_count", 0));
  GORAE_ASSIGN_OR_RETURN(c->first_k_dense_replace, m.IntOr("leading_dense_block_count", 0));
  GORAE_ASSIGN_OR_RETURN(c->moe_intermediate_size, m.IntOr("expert_feed_forward_length", 0));
  GORAE_ASSIGN_OR_RETURN(c->routed_scaling_factor, m.FloatOr("expert_weights_scale", 1.0));
  GORAE_ASSIGN_OR_RETURN(c->n_group, m.IntOr("expert_group_count", 1));
  GORAE_ASSIGN_OR_RETURN(c->topk_group, m.IntOr("expert_group_used_count", 1));
  if (m.Has("expert_weights_norm")) {
    GORAE_ASSIGN_OR_RETURN(c->norm_topk_prob, f.GetBool(m.Key("expert_weights_norm")));
  }
  GORAE_ASSIGN_OR_RETURN(int64_t gating, m.IntOr("expert_gating_func", 1));  // llama.cpp: 1 softmax, 2 sigmoid
  if (gating != 1 && gating != 2) {
    return Unsupported("{}: key '{}' = {} (1 softmax, 2 sigmoid)", f.path(), m.Key("expert_gating_func"), gating);
  }
  c->scoring_func = gating == 2 ? ScoringFunc::kSigmoid : ScoringFunc::kSoftmax;
  // GGUF has no topk_method: the score-correction bias means V3's noaux_tc; groups mean V2's
  // group-limited greedy. V3 always scales routed weights, V2 only unnormalised ones (model_type).
  const bool noaux = f.FindTensor(fmt::format("blk.{}.exp_probs_b.bias", c->first_k_dense_replace)) != nullptr;
  c->topk_method = noaux ? TopkMethod::kNoauxTc : c->n_group > 1 ? TopkMethod::kGroupLimitedGreedy : TopkMethod::kGreedy;
  c->model_type = noaux ? "deepseek_v3" : "deepseek_v2";
  if (f.Has(m.Key("rope.scaling.type"))) {
    GORAE_ASSIGN_OR_RETURN(std::string type, f.GetString(m.Key("rope.scaling.type")));
    if (type == "yarn") {
      c->yarn.enabled = true;
      GORAE_ASSIGN_OR_RETURN(c->yarn.factor, m.FloatOr("rope.scaling.factor", 1.0));
      GORAE_ASSIGN_OR_RETURN(int64_t original, m.IntOr("rope.scaling.original_context_length", 4096));
      c->yarn.original_max_position_embeddings = static_cast<double>(original);
      // llama.cpp stores 0.1 * mscale_all_dim and uses it for both mscales.
      GORAE_ASSIGN_OR_RETURN(double log_mul, m.FloatOr("rope.scaling.yarn_log_multiplier", 0.0));
      c->yarn.mscale = c->yarn.mscale_all_dim = log_mul / 0.1;
      GORAE_ASSIGN_OR_RETURN(c->yarn.beta_fast, m.FloatOr("rope.scaling.yarn_beta_fast", 32.0));
      GORAE_ASSIGN_OR_RETURN(c->yarn.beta_slow, m.FloatOr("rope.scaling.yarn_beta_slow", 1.0));
    } else if (type != "none") {
      return Unsupported("{}: rope scaling '{}' for deepseek2 (yarn or none)", f.path(), type);
    }
  }
  return Status::Ok();
}

Result<ModelConfig> ReadConfig(const GgufFile& f) {
  GORAE_ASSIGN_OR_RETURN(std::string arch, f.GetString("general.architecture"));
  ModelConfig c;
  if (arch == "llama") {
    c.arch = Architecture::kLlama;
  } else if (arch == "qwen2") {
    c.arch = Architecture::kQwen2;
  } else if (arch == "deepseek2") {
    c.arch = Architecture::kDeepSeek;
  } else {
    return Unsupported("{}: architecture '{}' is not supported (llama, qwen2, deepseek2)", f.path(), arch);
  }
  c.model_type = arch;
  const MetaReader m(f, arch);
  GORAE_ASSIGN_OR_RETURN(c.hidden_size, m.Int("embedding_length"));
  GORAE_ASSIGN_OR_RETURN(c.num_hidden_layers, m.Int("block_count"));
  GORAE_ASSIGN_OR_RETURN(c.num_attention_heads, m.Int("attention.head_count"));
  GORAE_ASSIGN_OR_RETURN(c.intermediate_size, m.Int("feed_forward_length"));
  GORAE_ASSIGN_OR_RETURN(c.max_position_embeddings, m.IntOr("context_length", 4096));
  GORAE_ASSIGN_OR_RETURN(c.rope_theta, m.FloatOr("rope.freq_base", 10000.0));
  GORAE_ASSIGN_OR_RETURN(c.rms_norm_eps, m.FloatOr("attention.layer_norm_rms_epsilon", 1e-6));
  // The embedding's shape is the vocabulary size every converter agrees on.
  GORAE_ASSIGN_OR_RETURN(const GgufTensor* embd, f.Tensor("token_embd.weight"));
  c.vocab_size = embd->ne[1];
  c.tie_word_embeddings = f.FindTensor("output.weight") == nullptr;
  if (f.Has("tokenizer.ggml.bos_token_id")) {
    GORAE_ASSIGN_OR_RETURN(uint32_t bos, f.GetU32("tokenizer.ggml.bos_token_id"));
    c.bos_token_id = bos;
  }
  if (f.Has("tokenizer.ggml.eos_token_id")) {
    GORAE_ASSIGN_OR_RETURN(uint32_t eos, f.GetU32("tokenizer.ggml.eos_token_id"));
    c.eos_token_ids = {eos};
  }
  if (c.IsDeepSeek()) {
    GORAE_RETURN_IF_ERROR(ReadDeepSeekConfig(f, m, &c));
  } else {
    GORAE_ASSIGN_OR_RETURN(c.num_key_value_heads, m.IntOr("attention.head_count_kv", c.num_attention_heads));
    GORAE_ASSIGN_OR_RETURN(c.head_dim, m.IntOr("attention.key_length", c.num_attention_heads > 0
                                                                           ? c.hidden_size / c.num_attention_heads
                                                                           : 0));
    c.qkv_bias = f.FindTensor("blk.0.attn_q.bias") != nullptr;
    c.o_bias = f.FindTensor("blk.0.attn_output.bias") != nullptr;
  }
  Status s = ValidateModelConfig(c);
  if (!s.ok()) return InvalidArgument("{}: {} (read from the GGUF metadata)", f.path(), s.message());
  return c;
}

// ---- tensors ----

class GgufBinder : public WeightVisitor {
 public:
  GgufBinder(GgufModel& g) : g_(g), f_(*g.file), c_(g.config) {}

  Status OnMatrix(const std::string& hf, int64_t rows, int64_t cols, Matrix* out) override {
    GORAE_ASSIGN_OR_RETURN(GgufTensorName n, HfToGgufName(hf));
    const GgufTensor* t = f_.FindTensor(n.name);
    if (t == nullptr && n.name.ends_with("attn_kv_b.weight")) return RebuildKvB(n.name, rows, cols, out);
    GORAE_ASSIGN_OR_RETURN(t, f_.Tensor(n.name));
    used_.insert(n.name);
    const bool expert = n.expert >= 0;
    const int64_t want_dims = expert ? 3 : 2;
    if (t->n_dims != want_dims || t->ne[0] != cols || t->ne[1] != rows ||
        (expert && t->ne[2] != c_.n_routed_experts)) {
      const std::string want = expert ? fmt::format("[{}, {}, {}]", cols, rows, c_.n_routed_experts)
                                      : fmt::format("[{}, {}]", cols, rows);
      return InvalidArgument("{}: tensor '{}' (for {}): expected shape {}, file has {}", f_.path(), n.name, hf, want,
                             t->ShapeString());
    }
    GORAE_RETURN_IF_ERROR(SetType(*t, out));
    out->rows = rows;
    out->cols = cols;
    out->scale_inv = nullptr;
    const size_t matrix_bytes = static_cast<size_t>(rows) * out->row_bytes();
    out->data = t->data + (expert ? static_cast<size_t>(n.expert) * matrix_bytes : 0);
    if (c_.arch == Architecture::kLlama && (hf.ends_with("q_proj.weight") || hf.ends_with("k_proj.weight"))) {
      out->data = Unpermute(out->data, hf, rows, out->row_bytes());
    }
    return Status::Ok();
  }

  Status OnVector(const std::string& hf, int64_t n, std::vector<float>* out) override {
    GORAE_ASSIGN_OR_RETURN(GgufTensorName gn, HfToGgufName(hf));
    GORAE_ASSIGN_OR_RETURN(const GgufTensor* t, f_.Tensor(gn.name));
    used_.insert(gn.name);
    if (t->n_dims != 1 || t->ne[0] != n) {
      return InvalidArgument("{}: tensor '{}' (for {}): expected shape [{}], file has {}", f_.path(), gn.name, hf, n,
                             t->ShapeString());
    }
    if (!GetGgmlTypeInfo(t->type).computable) return NoKernels(*t);
    const uint8_t* data = t->data;
    if (c_.arch == Architecture::kLlama && (hf.ends_with("q_proj.bias") || hf.ends_with("k_proj.bias"))) {
      data = static_cast<const uint8_t*>(Unpermute(data, hf, n, GgmlRowBytes(t->type, 1)));
    }
    out->resize(static_cast<size_t>(n));
    DequantizeGgmlRow(t->type, data, out->data(), n);
    return Status::Ok();
  }

  const std::set<std::string>& used() const { return used_; }

 private:
  Status NoKernels(const GgufTensor& t) const {
    return Unsupported("{}: tensor '{}' has ggml type {}, which gorae has no kernels for", f_.path(), t.name,
                       GgmlTypeName(t.type));
  }

  // F32/F16/BF16 keep the element-dtype paths (sgemm for F32); block types go to the quant kernels.
  Status SetType(const GgufTensor& t, Matrix* m) const {
    if (!GetGgmlTypeInfo(t.type).computable) return NoKernels(t);
    m->quant = GgmlType::kF32;
    switch (t.type) {
      case GgmlType::kF32: m->dtype = DType::kF32; break;
      case GgmlType::kF16: m->dtype = DType::kF16; break;
      case GgmlType::kBF16: m->dtype = DType::kBF16; break;
      default: m->quant = t.type; break;
    }
    return Status::Ok();
  }

  // Undoes llama.cpp's q/k row order (q heads: num_attention_heads; k: num_key_value_heads).
  const void* Unpermute(const void* src, const std::string& hf, int64_t rows, size_t row_bytes) {
    const int64_t heads = hf.find("q_proj") != std::string::npos ? c_.num_attention_heads : c_.num_key_value_heads;
    std::vector<uint8_t>& dst = g_.owned.emplace_back(static_cast<size_t>(rows) * row_bytes);
    PermuteLlamaRows(static_cast<const uint8_t*>(src), dst.data(), heads, rows / heads, row_bytes, /*to_gguf=*/false);
    return dst.data();
  }

  // kv_b (H * (nope + v), kv_lora) from attn_k_b (ne [nope, kv_lora, H]: each head's key block
  // transposed) and attn_v_b (ne [kv_lora, v, H]), in fp32.
  Status RebuildKvB(const std::string& kvb_name, int64_t rows, int64_t cols, Matrix* out) {
    const std::string base = kvb_name.substr(0, kvb_name.size() - std::strlen("attn_kv_b.weight"));
    const int64_t H = c_.num_attention_heads, nope = c_.qk_nope_head_dim, v = c_.v_head_dim, R = cols;
    auto load = [&](const std::string& name, int64_t n0, int64_t n1) -> Result<std::vector<float>> {
      const GgufTensor* t = f_.FindTensor(name);
      if (t == nullptr) {
        return NotFound("{}: neither '{}' nor '{}' is in the file", f_.path(), kvb_name, name);
      }
      if (t->n_dims != 3 || t->ne[0] != n0 || t->ne[1] != n1 || t->ne[2] != H) {
        return InvalidArgument("{}: tensor '{}': expected shape [{}, {}, {}], file has {}", f_.path(), name, n0, n1, H,
                               t->ShapeString());
      }
      if (!GetGgmlTypeInfo(t->type).computable) return NoKernels(*t);
      used_.insert(name);
      std::vector<float> x(static_cast<size_t>(t->numel()));
      const size_t rb = GgmlRowBytes(t->type, n0);
      for (int64_t r = 0; r < n1 * H; ++r) DequantizeGgmlRow(t->type, t->data + r * rb, &x[r * n0], n0);
      return x;
    };
    GORAE_ASSIGN_OR_RETURN(std::vector<float> kb, load(base + "attn_k_b.weight", nope, R));
    GORAE_ASSIGN_OR_RETURN(std::vector<float> vb, load(base + "attn_v_b.weight", R, v));
    std::vector<uint8_t>& bytes = g_.owned.emplace_back(static_cast<size_t>(rows * cols) * sizeof(float));
    auto* w = reinterpret_cast<float*>(bytes.data());
    for (int64_t h = 0; h < H; ++h) {
      float* head = w + h * (nope + v) * R;
      for (int64_t i = 0; i < nope; ++i)
        for (int64_t c = 0; c < R; ++c) head[i * R + c] = kb[(h * R + c) * nope + i];
      std::memcpy(head + nope * R, &vb[h * v * R], static_cast<size_t>(v * R) * sizeof(float));
    }
    *out = Matrix{DType::kF32, rows, cols, w, nullptr};
    return Status::Ok();
  }

  GgufModel& g_;
  const GgufFile& f_;
  const ModelConfig& c_;
  std::set<std::string> used_;
};

constexpr size_t kRepackChunkBytes = size_t{8} << 20;

// GgufLayout::kForKernels: visits the bound weights (VisitWeights over slots already filled) and
// copies each matrix Linear reads into FastestLayout.
class KernelLayoutRepacker : public WeightVisitor {
 public:
  explicit KernelLayoutRepacker(GgufModel& g) : g_(g) {
    for (const GgufTensor& t : g.file->tensors()) {
      file_begin_ = std::min(file_begin_, t.data);
      file_end_ = std::max(file_end_, t.data + t.nbytes);
    }
  }

  Status OnMatrix(const std::string& hf, int64_t, int64_t, Matrix* m) override {
    // Rows of the embedding are decoded one by one (DequantizeRows); kv_b is decoded to fp32 at
    // load and again by DecodeKvB after training steps: both need the file's layout.
    if (hf == "model.embed_tokens.weight" || hf.ends_with("kv_b_proj.weight")) return Status::Ok();
    Repack(m);
    return Status::Ok();
  }
  Status OnVector(const std::string&, int64_t, std::vector<float>*) override { return Status::Ok(); }

  // m's data is replaced by a copy in FastestLayout(m->quant), if that is not kGgml, and the old
  // bytes' pages are dropped from memory (they stay readable: see ReleaseFilePages).
  void Repack(Matrix* m) {
    if (!m->is_quantized() || m->quant_layout != QuantLayout::kGgml) return;
    const QuantLayout layout = FastestLayout(m->quant);
    if (layout == QuantLayout::kGgml) return;
    const size_t row_bytes = m->row_bytes(), bytes = static_cast<size_t>(m->rows) * row_bytes;
    const auto* src = static_cast<const uint8_t*>(m->data);
    // for_overwrite: every byte is written by the repack, so no zeroing pass over the pages.
    uint8_t* copy = g_.repacked.emplace_back(std::make_unique_for_overwrite<uint8_t[]>(bytes)).get();
    // In chunks, each released once copied: the load's memory peaks at the copies plus one chunk,
    // not plus a whole matrix (the last, a tied lm_head, is the whole vocabulary: 180 MiB at 1.5B).
    const int64_t chunk_rows = std::max<int64_t>(1, static_cast<int64_t>(kRepackChunkBytes / row_bytes));
    for (int64_t r0 = 0; r0 < m->rows; r0 += chunk_rows) {
      const int64_t n = std::min(chunk_rows, m->rows - r0);
      RepackLaneInterleaved(m->quant, src + r0 * row_bytes, copy + r0 * row_bytes, n, m->cols);
      // From the matrix's start, so pages that straddle two chunks go too.
      ReleaseFilePages(src, static_cast<size_t>(r0 + n) * row_bytes);
    }
    g_.repacked_bytes += bytes;
    m->data = copy;
    m->quant_layout = layout;
  }

 private:
  // MADV_DONTNEED on the read-only private file mapping: the pages leave this process's memory
  // and are read again from the file if touched (a tied embedding's rows, by the lookups of the
  // tokens in use: a few pages, not the whole table the repack read). Only pages wholly inside
  // [p, p + n), since a neighbour tensor may share the edge pages, and only in the mapping (not
  // the loader's own copies, e.g. llama's re-ordered q/k).
  void ReleaseFilePages(const uint8_t* p, size_t n) const {
    if (p < file_begin_ || p + n > file_end_) return;
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }

  GgufModel& g_;
  const uint8_t* file_begin_ = reinterpret_cast<const uint8_t*>(UINTPTR_MAX);
  const uint8_t* file_end_ = nullptr;
};

Status RepackForKernels(GgufModel& g) {
  KernelLayoutRepacker repacker(g);
  GORAE_RETURN_IF_ERROR(VisitWeights(g.config, repacker, &g.weights));
  // VisitWeights binds a tied lm_head as a copy of the embedding: it gets its own repacked bytes,
  // and the embedding keeps pointing at the file's (row lookups).
  if (g.config.tie_word_embeddings) repacker.Repack(&g.weights.lm_head);
  return Status::Ok();
}

// llama3 rope scaling, as llama.cpp stores it: one divisor per frequency.
Status ReadRopeFreqs(GgufModel& g) {
  const GgufTensor* t = g.file->FindTensor("rope_freqs.weight");
  if (t == nullptr) return Status::Ok();
  const int64_t half = g.config.rope_dim() / 2;
  if (t->n_dims != 1 || t->ne[0] != half || t->type != GgmlType::kF32) {
    return InvalidArgument("{}: tensor 'rope_freqs.weight': expected F32 [{}], file has {} {}", g.file->path(), half,
                           GgmlTypeName(t->type), t->ShapeString());
  }
  g.rope_freq_factors.resize(static_cast<size_t>(half));
  std::memcpy(g.rope_freq_factors.data(), t->data, static_cast<size_t>(half) * sizeof(float));
  return Status::Ok();
}

}  // namespace

const char* GgufArchitecture(const ModelConfig& c) {
  switch (c.arch) {
    case Architecture::kLlama: return "llama";
    case Architecture::kQwen2: return "qwen2";
    case Architecture::kDeepSeek: return "deepseek2";
  }
  return "unknown";
}

Result<GgufTensorName> HfToGgufName(const std::string& hf) {
  static const std::map<std::string, std::string, std::less<>> kTop = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  static const std::map<std::string, std::string, std::less<>> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.o_proj.bias", "attn_output.bias"},
      {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
      {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
      {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
      {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
      {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
      {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.gate.weight", "ffn_gate_inp.weight"},
      {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
      {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
      {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
      {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
  };
  if (auto it = kTop.find(hf); it != kTop.end()) return GgufTensorName{it->second, -1};
  // model.layers.{L}.{rest}, rest possibly mlp.experts.{E}.{gate,up,down}_proj.weight
  auto number = [](const std::string& s, size_t& pos, int64_t* v) {
    const size_t start = pos;
    *v = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) *v = *v * 10 + (s[pos++] - '0');
    return pos > start && pos < s.size() && s[pos++] == '.';
  };
  const std::string layers = "model.layers.";
  size_t pos = layers.size();
  int64_t layer = 0;
  if (hf.rfind(layers, 0) == 0 && number(hf, pos, &layer)) {
    const std::string rest = hf.substr(pos);
    if (auto it = kLayer.find(rest); it != kLayer.end()) return GgufTensorName{fmt::format("blk.{}.{}", layer, it->second), -1};
    const std::string experts = "mlp.experts.";
    size_t epos = experts.size();
    int64_t e = 0;
    if (rest.rfind(experts, 0) == 0 && number(rest, epos, &e)) {
      const std::string proj = rest.substr(epos);
      for (const char* p : {"gate", "up", "down"}) {
        if (proj == fmt::format("{}_proj.weight", p)) return GgufTensorName{fmt::format("blk.{}.ffn_{}_exps.weight", layer, p), e};
      }
    }
  }
  return NotFound("tensor '{}' has no GGUF name", hf);
}

void PermuteLlamaRows(const uint8_t* src, uint8_t* dst, int64_t heads, int64_t head_dim, size_t row_bytes,
                      bool to_gguf) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t s = 0; s < 2; ++s) {
      for (int64_t j = 0; j < half; ++j) {
        const int64_t hf_row = h * head_dim + s * half + j, gguf_row = h * head_dim + 2 * j + s;
        const int64_t from = to_gguf ? hf_row : gguf_row, to = to_gguf ? gguf_row : hf_row;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
    }
  }
}

Result<std::unique_ptr<GgufModel>> LoadGgufModel(const std::string& path, GgufLayout layout) {
  auto g = std::make_unique<GgufModel>();
  GORAE_ASSIGN_OR_RETURN(g->file, GgufFile::Open(path));
  GORAE_ASSIGN_OR_RETURN(g->config, ReadConfig(*g->file));
  GORAE_RETURN_IF_ERROR(ReadRopeFreqs(*g));
  GgufBinder binder(*g);
  GORAE_RETURN_IF_ERROR(VisitWeights(g->config, binder, &g->weights));
  DecodeKvB(g->weights);
  for (const GgufTensor& t : g->file->tensors()) {
    if (binder.used().count(t.name) || t.name == "rope_freqs.weight") continue;
    // llama.cpp's current converter writes attn_k_b / attn_v_b instead of attn_kv_b (RebuildKvB
    // reads them then); should a file hold all three, attn_kv_b is used and the pair not reported.
    if (t.name.ends_with("attn_k_b.weight") || t.name.ends_with("attn_v_b.weight")) continue;
    g->weights.unused.push_back(t.name);
  }
  if (layout == GgufLayout::kForKernels) GORAE_RETURN_IF_ERROR(RepackForKernels(*g));
  return g;
}

}  // namespace gorae
