#include "model/transformer.h"

#include <cstring>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/gqa.h"
#include "model/mla.h"
#include "model/moe.h"

namespace gorae {

Result<std::unique_ptr<Model>> Model::Load(const std::string& model_dir) {
  auto m = std::unique_ptr<Model>(new Model());
  if (model_dir.ends_with(".gguf")) {
    GORAE_ASSIGN_OR_RETURN(m->gguf_, LoadGgufModel(model_dir, GgufLayout::kForKernels));
    m->config_ = m->gguf_->config;
    m->weights_ = std::move(m->gguf_->weights);
    m->rope_ = MakeRopeTable(m->config_);
    // llama3 scaling arrives as llama.cpp's per-frequency divisors (rope_freqs.weight).
    const std::vector<float>& factors = m->gguf_->rope_freq_factors;
    for (size_t i = 0; i < factors.size() && i < m->rope_.inv_freq.size(); ++i) m->rope_.inv_freq[i] /= factors[i];
    return m;
  }
  GORAE_ASSIGN_OR_RETURN(m->config_, LoadModelConfig(model_dir));
  GORAE_ASSIGN_OR_RETURN(m->ckpt_, Checkpoint::Open(model_dir));
  GORAE_ASSIGN_OR_RETURN(m->weights_, BindWeights(m->config_, *m->ckpt_));
  m->rope_ = MakeRopeTable(m->config_);
  return m;
}

Result<std::unique_ptr<Model>> Model::FromWeights(const ModelConfig& config, ModelWeights weights) {
  GORAE_RETURN_IF_ERROR(ValidateModelConfig(config));
  if (static_cast<int64_t>(weights.layers.size()) != config.num_hidden_layers) {
    return InvalidArgument("weights have {} layers, config {}", weights.layers.size(), config.num_hidden_layers);
  }
  auto m = std::unique_ptr<Model>(new Model());
  m->config_ = config;
  m->weights_ = std::move(weights);
  DecodeKvB(m->weights_);
  m->rope_ = MakeRopeTable(config);
  return m;
}

Status Model::Forward(std::span<const int> tokens, KVCache& cache, float* logits, bool all_positions) const {
  const SequenceStep step{tokens, &cache, logits, all_positions};
  return ForwardBatch(std::span<const SequenceStep>(&step, 1));
}

Status Model::ForwardBatch(std::span<const SequenceStep> steps) const {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size;
  if (steps.empty()) return InvalidArgument("no sequences to run");
  std::vector<SequenceRows> seqs;
  int64_t N = 0;
  for (const auto& s : steps) {
    if (s.tokens.empty()) return InvalidArgument("no tokens to run");
    if (s.cache->mode() != steps.front().cache->mode()) return InvalidArgument("a batch mixes MLA cache modes");
    for (const auto& o : seqs) {
      if (o.cache == s.cache) return InvalidArgument("a batch holds the same sequence twice");
    }
    for (size_t t = 0; t < s.tokens.size(); ++t) {
      if (s.tokens[t] < 0 || s.tokens[t] >= c.vocab_size) {
        return InvalidArgument("token id {} at position {} is outside the vocabulary [0, {})", s.tokens[t],
                               s.cache->size() + static_cast<int64_t>(t), c.vocab_size);
      }
    }
    seqs.push_back({s.cache, N, static_cast<int64_t>(s.tokens.size())});
    N += static_cast<int64_t>(s.tokens.size());
  }

  std::vector<float> h(static_cast<size_t>(N * D));  // (N, D) residual stream
  const int64_t half = c.rope_dim() / 2;
  std::vector<float> cos(static_cast<size_t>(N * half)), sin(static_cast<size_t>(N * half));  // (N, rope/2)
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t row0 = seqs[i].row0;
    for (int64_t t = 0; t < seqs[i].n; ++t) {
      const int id = steps[i].tokens[t];
      DequantizeRows(weights_.embed, id, id + 1, &h[(row0 + t) * D]);
    }
    RopeAngles(rope_, steps[i].cache->size(), seqs[i].n, &cos[row0 * half], &sin[row0 * half]);
  }

  std::vector<float> x(static_cast<size_t>(N * D)), y(static_cast<size_t>(N * D));  // (N, D)
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = weights_.layers[l];
    RmsNorm(x.data(), h.data(), lw.input_norm.data(), N, D, static_cast<float>(c.rms_norm_eps));
    if (c.IsDeepSeek()) {
      MlaForward(y.data(), x.data(), N, l, lw.attn, c, cos.data(), sin.data(), seqs);
    } else {
      GqaForward(y.data(), x.data(), N, l, lw.attn, c, cos.data(), sin.data(), seqs);
    }
    AddScaled(h.data(), y.data(), 1.0f, N * D);
    RmsNorm(x.data(), h.data(), lw.post_norm.data(), N, D, static_cast<float>(c.rms_norm_eps));
    if (lw.is_moe) {
      MoeForward(y.data(), x.data(), N, lw.moe, c);
    } else {
      MlpForward(y.data(), x.data(), N, lw.mlp);
    }
    AddScaled(h.data(), y.data(), 1.0f, N * D);
  }
  for (const auto& s : seqs) s.cache->Advance(s.n);

  // Final norm and head only for the rows whose logits are wanted, gathered contiguously.
  std::vector<int64_t> out_rows;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t first = steps[i].all_positions ? 0 : seqs[i].n - 1;
    for (int64_t t = first; t < seqs[i].n; ++t) out_rows.push_back(seqs[i].row0 + t);
  }
  const int64_t R = static_cast<int64_t>(out_rows.size());
  for (int64_t r = 0; r < R; ++r) {
    RmsNorm(&x[r * D], &h[out_rows[r] * D], weights_.final_norm.data(), 1, D, static_cast<float>(c.rms_norm_eps));
  }
  const bool single = steps.size() == 1;
  std::vector<float> all_logits(single ? 0 : static_cast<size_t>(R * c.vocab_size));
  float* dst = single ? steps.front().logits : all_logits.data();
  Linear(dst, x.data(), R, weights_.lm_head);
  if (!single) {
    int64_t r = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
      const int64_t rows = steps[i].all_positions ? seqs[i].n : 1;
      std::memcpy(steps[i].logits, &all_logits[r * c.vocab_size], rows * c.vocab_size * sizeof(float));
      r += rows;
    }
  }
  return Status::Ok();
}

}  // namespace gorae
