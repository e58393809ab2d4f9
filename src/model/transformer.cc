#include "model/transformer.h"

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/gqa.h"
#include "model/mla.h"
#include "model/moe.h"

namespace gorae {

namespace {

std::string ReadConfigText(const std::string& model_dir) {
  std::ifstream in(model_dir + "/config.json", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

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

Result<std::unique_ptr<Model>> Model::Load(const std::string& model_dir, int expert_parallel) {
  if (expert_parallel <= 1) return Load(model_dir);
  if (model_dir.ends_with(".gguf")) {
    return Unsupported("--expert-parallel runs safetensors model directories; '{}' is a GGUF file (convert it to a "
                       "model directory, or run it in one process)", model_dir);
  }
  auto m = std::unique_ptr<Model>(new Model());
  GORAE_ASSIGN_OR_RETURN(m->config_, LoadModelConfig(model_dir));
  GORAE_ASSIGN_OR_RETURN(m->shard_, MakeExpertShard(m->config_, expert_parallel));
  GORAE_RETURN_IF_ERROR(dist::CheckSameOnAllRanks("the model's config.json", ReadConfigText(model_dir)));
  GORAE_ASSIGN_OR_RETURN(m->ckpt_, Checkpoint::Open(model_dir));
  GORAE_ASSIGN_OR_RETURN(m->weights_, BindWeights(m->config_, *m->ckpt_));
  // Another rank's experts are never read here: unbind them, so their file pages stay unmapped in
  // memory (resident memory falls as 1 / N for the expert weights).
  for (LayerWeights& l : m->weights_.layers) {
    for (int64_t e = 0; e < static_cast<int64_t>(l.moe.experts.size()); ++e) {
      if (!m->shard_.holds(e)) l.moe.experts[static_cast<size_t>(e)] = MlpWeights{};
    }
  }
  m->rope_ = MakeRopeTable(m->config_);
  return m;
}

Model::~Model() {
  // Releases the followers (see FollowLeader): an empty step.
  if (shard_.active() && shard_.comm->rank() == 0) BroadcastStep({});
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
  if (shard_.active()) BroadcastStep(steps);  // only rank 0 gets here; the others follow
  return RunBatch(steps, /*head=*/true);
}

Status Model::RunBatch(std::span<const SequenceStep> steps, bool head) const {
  const ModelConfig& c = config_;
  const int64_t D = c.hidden_size;
  std::vector<SequenceRows> seqs;
  int64_t N = 0;
  for (const auto& s : steps) {
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
      MoeForward(y.data(), x.data(), N, lw.moe, c, shard_);
    } else {
      MlpForward(y.data(), x.data(), N, lw.mlp);
    }
    AddScaled(h.data(), y.data(), 1.0f, N * D);
  }
  for (const auto& s : seqs) s.cache->Advance(s.n);
  if (!head) return Status::Ok();

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

namespace gorae {

// A step as rank 0 broadcasts it: [number of sequences, MLA mode, then per sequence: cache id,
// cache position, all_positions, token count, tokens...]; no sequences releases the followers.
void Model::BroadcastStep(std::span<const SequenceStep> steps) const {
  std::vector<int64_t> msg = {static_cast<int64_t>(steps.size()),
                              steps.empty() ? 0 : static_cast<int64_t>(steps.front().cache->mode())};
  for (const auto& s : steps) {
    msg.push_back(static_cast<int64_t>(reinterpret_cast<uintptr_t>(s.cache)));
    msg.push_back(s.cache->size());
    msg.push_back(s.all_positions ? 1 : 0);
    msg.push_back(static_cast<int64_t>(s.tokens.size()));
    msg.insert(msg.end(), s.tokens.begin(), s.tokens.end());
  }
  int64_t n = static_cast<int64_t>(msg.size());
  shard_.comm->Broadcast(&n, 1, dist::DType::kI64, 0);
  shard_.comm->Broadcast(msg.data(), n, dist::DType::kI64, 0);
}

Result<bool> Model::FollowLeader() const {
  if (!shard_.active() || shard_.comm->rank() == 0) return false;
  std::map<int64_t, std::unique_ptr<KVCache>> caches;  // rank 0's cache -> this rank's copy
  for (;;) {
    int64_t n = 0;
    shard_.comm->Broadcast(&n, 1, dist::DType::kI64, 0);
    std::vector<int64_t> msg(static_cast<size_t>(n));
    shard_.comm->Broadcast(msg.data(), n, dist::DType::kI64, 0);
    const int64_t count = msg.at(0);
    if (count == 0) return true;
    const MlaMode mode = static_cast<MlaMode>(msg.at(1));
    std::vector<std::vector<int>> tokens(static_cast<size_t>(count));
    std::vector<SequenceStep> steps;
    size_t at = 2;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t id = msg.at(at), position = msg.at(at + 1), all = msg.at(at + 2), len = msg.at(at + 3);
      at += 4;
      tokens[static_cast<size_t>(i)].assign(msg.begin() + static_cast<int64_t>(at), msg.begin() + static_cast<int64_t>(at) + len);
      at += static_cast<size_t>(len);
      auto& cache = caches[id];
      if (!cache || cache->mode() != mode) cache = std::make_unique<KVCache>(NewCache(mode));
      // Rank 0 cleared or rolled back this cache since: do the same. A cache cannot run ahead of
      // what this rank has computed, so a larger position means the ranks lost step.
      if (position > cache->size()) {
        return Status(StatusCode::kInternal, fmt::format("expert-parallel rank {} lost step with rank 0 (cache at {}, "
                                                         "rank 0 at {})", shard_.comm->rank(), cache->size(), position));
      }
      cache->Truncate(position);
      steps.push_back({tokens[static_cast<size_t>(i)], cache.get(), nullptr, all != 0});
    }
    GORAE_RETURN_IF_ERROR(RunBatch(steps, /*head=*/false));
  }
}

}  // namespace gorae
