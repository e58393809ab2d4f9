#include "model/transformer.h"

#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/mla.h"
#include "model/moe.h"

namespace gorae {

Result<std::unique_ptr<Model>> Model::Load(const std::string& model_dir) {
  auto m = std::unique_ptr<Model>(new Model());
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
  const ModelConfig& c = config_;
  const int64_t T = static_cast<int64_t>(tokens.size()), D = c.hidden_size;
  if (T == 0) return InvalidArgument("no tokens to run");
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size) {
      return InvalidArgument("token id {} at position {} is outside the vocabulary [0, {})", tokens[t],
                             cache.size() + t, c.vocab_size);
    }
  }

  std::vector<float> h(static_cast<size_t>(T * D));  // (T, D) residual stream
  for (int64_t t = 0; t < T; ++t) DequantizeRows(weights_.embed, tokens[t], tokens[t] + 1, &h[t * D]);

  const int64_t half = c.qk_rope_head_dim / 2;
  std::vector<float> cos(static_cast<size_t>(T * half)), sin(static_cast<size_t>(T * half));  // (T, rope/2)
  RopeAngles(rope_, cache.size(), T, cos.data(), sin.data());

  std::vector<float> x(static_cast<size_t>(T * D)), y(static_cast<size_t>(T * D));  // (T, D)
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = weights_.layers[l];
    RmsNorm(x.data(), h.data(), lw.input_norm.data(), T, D, static_cast<float>(c.rms_norm_eps));
    MlaForward(y.data(), x.data(), T, l, lw.attn, c, cos.data(), sin.data(), cache);
    AddScaled(h.data(), y.data(), 1.0f, T * D);
    RmsNorm(x.data(), h.data(), lw.post_norm.data(), T, D, static_cast<float>(c.rms_norm_eps));
    if (lw.is_moe) {
      MoeForward(y.data(), x.data(), T, lw.moe, c);
    } else {
      MlpForward(y.data(), x.data(), T, lw.mlp);
    }
    AddScaled(h.data(), y.data(), 1.0f, T * D);
  }
  cache.Advance(T);

  const int64_t first = all_positions ? 0 : T - 1;
  const int64_t rows = T - first;
  RmsNorm(x.data(), h.data() + first * D, weights_.final_norm.data(), rows, D, static_cast<float>(c.rms_norm_eps));
  Linear(logits, x.data(), rows, weights_.lm_head);
  return Status::Ok();
}

}  // namespace gorae
