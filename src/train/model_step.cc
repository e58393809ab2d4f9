#include "train/model_step.h"

#include <cmath>
#include <cstring>

#include "train/ops.h"

namespace gorae::train {

namespace {

size_t Sz(int64_t n) { return static_cast<size_t>(n); }

constexpr int64_t kHeadChunk = 256;  // rows of logits held at once

// Output head + cross-entropy over N rows of x (N, D). Returns sum_n weight * CE. When d_x is
// given: d_x (N, D) = gradient of grad_scale * that sum wrt x, and d_head (V, D) += its
// gradient. logits_out (N, V), when given, receives the logits. weight_fn, when set, replaces
// each chunk's weights (see Objective::token_weights).
double HeadLoss(float* d_x, float* d_head, float* logits_out, const float* x, const float* head, const int* targets,
                const float* weight, int64_t N, int64_t D, int64_t V, float grad_scale,
                const TokenWeightFn& weight_fn = {}) {
  std::vector<float> logits(Sz(std::min(N, kHeadChunk) * V));  // (chunk, V)
  std::vector<float> chunk_weight;
  double total = 0.0;
  for (int64_t r0 = 0; r0 < N; r0 += kHeadChunk) {
    const int64_t n = std::min(kHeadChunk, N - r0);
    LinearForward(logits.data(), x + r0 * D, head, n, V, D);
    if (logits_out != nullptr) std::memcpy(logits_out + r0 * V, logits.data(), Sz(n * V) * sizeof(float));
    const float* w = weight + r0;
    if (weight_fn) {
      chunk_weight.assign(w, w + n);
      weight_fn(r0, n, logits.data(), chunk_weight.data());
      w = chunk_weight.data();
    }
    total += CrossEntropy(logits.data(), targets + r0, w, n, V, grad_scale, d_x != nullptr);
    if (d_x != nullptr) LinearBackward(d_x + r0 * D, d_head, logits.data(), x + r0 * D, head, n, V, D);
  }
  return total;
}

void EmbedRows(float* h, const float* embed, const int* ids, int64_t N, int64_t D) {
  for (int64_t n = 0; n < N; ++n) std::memcpy(h + n * D, embed + static_cast<int64_t>(ids[n]) * D, Sz(D) * sizeof(float));
}

void EmbedBackward(float* d_embed, const float* d_h, const int* ids, int64_t N, int64_t D) {
  for (int64_t n = 0; n < N; ++n) Accumulate(d_embed + static_cast<int64_t>(ids[n]) * D, d_h + n * D, D);
}

}  // namespace

ModelStep::ModelStep(TrainModel& model) : model_(model) {
  const ModelConfig& c = model.config();
  const int64_t blocks = c.num_hidden_layers + model.mtp_depth();
  for (int64_t l = 0; l < blocks; ++l) {
    if (model.params().layers[l].is_moe) moe_blocks_.push_back(l);
  }
  blocks_.resize(Sz(c.num_hidden_layers));
  mtp_.resize(Sz(model.mtp_depth()));
  hidden_.resize(Sz(model.mtp_depth() + 1));
  d_hidden_.resize(Sz(model.mtp_depth() + 1));
}

Result<StepLosses> ModelStep::Run(const Batch& batch, const Objective& obj, double loss_scale, bool backward,
                                  std::vector<MoeStats>* stats, float* logits_out) {
  const ModelConfig& c = model_.config();
  const int64_t B = batch.B, T = batch.T, D = c.hidden_size, V = c.vocab_size, L = c.num_hidden_layers;
  const int64_t depth = obj.mtp_lambda == 0.0 ? 0 : model_.mtp_depth();  // MTP modules run
  if (B <= 0 || T <= 0) return InvalidArgument("empty batch ({} x {})", B, T);
  if (static_cast<int64_t>(batch.tokens.size()) != B * (T + 1) || static_cast<int64_t>(batch.mask.size()) != B * T) {
    return InvalidArgument("batch of {} x {} needs {} tokens and {} mask values, got {} and {}", B, T, B * (T + 1),
                           B * T, batch.tokens.size(), batch.mask.size());
  }
  if (depth >= T) return InvalidArgument("sequence length {} is too short for {} MTP modules", T, depth);
  for (size_t i = 0; i < batch.tokens.size(); ++i) {
    if (batch.tokens[i] < 0 || batch.tokens[i] >= V) {
      return InvalidArgument("token id {} at batch position {} is outside the vocabulary [0, {})", batch.tokens[i], i, V);
    }
  }
  ModelWeights& P = model_.params();
  ModelWeights& G = model_.grads();
  const ExpertShard& ep = model_.expert_shard();
  const float eps = static_cast<float>(c.rms_norm_eps);
  const RopeCache rope = MakeRopeCache(c, T);
  std::vector<MoeStats> local(moe_blocks_.size());
  std::vector<MoeStats>& st = stats != nullptr ? *stats : local;
  st.resize(moe_blocks_.size());
  size_t moe_index = 0;
  StepLosses out;

  // Main model.
  const int64_t N = B * T;
  std::vector<int> inputs(Sz(N)), targets(Sz(N));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) {
      inputs[b * T + t] = batch.tokens[b * (T + 1) + t];
      targets[b * T + t] = batch.tokens[b * (T + 1) + t + 1];
    }
  }
  std::vector<float>& h = hidden_[0];
  h.resize(Sz(N * D));
  EmbedRows(h.data(), F32(P.embed), inputs.data(), N, D);
  for (int64_t l = 0; l < L; ++l) {
    MoeStats* s = P.layers[l].is_moe ? &st[moe_index++] : nullptr;
    BlockTrainForward(h.data(), blocks_[l], P.layers[l], c, rope, B, T, obj.balance_alpha, s, &out.balance, ep);
  }
  std::vector<float> xf(Sz(N * D)), rstd(Sz(N)), d_xf;  // final norm output (N, D)
  RmsNormForward(xf.data(), rstd.data(), h.data(), P.final_norm.data(), N, D, eps);
  double count = 0.0;
  for (float m : batch.mask) count += m;
  out.targets = static_cast<int64_t>(count);
  const bool global_norm = obj.main_denominator > 0;
  const double main_denominator = global_norm ? obj.main_denominator : count;
  if (backward) d_xf.resize(Sz(N * D));
  // A weight callback's weights carry their own normalisation.
  const float scale0 = obj.token_weights ? static_cast<float>(loss_scale)
                       : main_denominator > 0 ? static_cast<float>(loss_scale / main_denominator)
                                              : 0.0f;
  const double ce_sum = HeadLoss(backward ? d_xf.data() : nullptr, Grad(G.lm_head), logits_out, xf.data(),
                                 F32(P.lm_head), targets.data(), batch.mask.data(), N, D, V, scale0,
                                 obj.token_weights);
  out.ce = main_denominator > 0 ? ce_sum / main_denominator : 0.0;
  if (backward) {
    d_hidden_[0].resize(Sz(N * D));
    RmsNormBackward(d_hidden_[0].data(), G.final_norm.data(), d_xf.data(), h.data(), P.final_norm.data(), rstd.data(),
                    N, D);
  }

  // MTP modules, sequentially (none when their loss has no weight).
  const double mtp_weight = depth > 0 ? obj.mtp_lambda / static_cast<double>(depth) : 0.0;
  for (int64_t k = 1; k <= depth; ++k) {
    const int64_t Tk = T - k, Nk = B * Tk, Tp = T - k + 1;  // Tp: positions of the previous depth
    MtpActs& m = mtp_[k - 1];
    const MtpWeights& mw = model_.mtp_params()[k - 1];
    std::vector<int> ids(Sz(Nk)), tg(Sz(Nk));
    std::vector<float> wt(Sz(Nk));
    m.hprev.resize(Sz(Nk * D));
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < Tk; ++t) {
        ids[b * Tk + t] = batch.tokens[b * (T + 1) + t + k];
        tg[b * Tk + t] = batch.tokens[b * (T + 1) + t + k + 1];
        wt[b * Tk + t] = batch.mask[b * T + t + k];
        std::memcpy(&m.hprev[(b * Tk + t) * D], &hidden_[k - 1][(b * Tp + t) * D], Sz(D) * sizeof(float));
      }
    }
    m.emb.resize(Sz(Nk * D));
    EmbedRows(m.emb.data(), F32(P.embed), ids.data(), Nk, D);
    m.en.resize(Sz(Nk * D));
    m.en_rstd.resize(Sz(Nk));
    m.hn.resize(Sz(Nk * D));
    m.hn_rstd.resize(Sz(Nk));
    RmsNormForward(m.en.data(), m.en_rstd.data(), m.emb.data(), mw.enorm.data(), Nk, D, eps);
    RmsNormForward(m.hn.data(), m.hn_rstd.data(), m.hprev.data(), mw.hnorm.data(), Nk, D, eps);
    m.cat.resize(Sz(Nk * 2 * D));
    for (int64_t n = 0; n < Nk; ++n) {
      std::memcpy(&m.cat[n * 2 * D], &m.en[n * D], Sz(D) * sizeof(float));
      std::memcpy(&m.cat[n * 2 * D + D], &m.hn[n * D], Sz(D) * sizeof(float));
    }
    std::vector<float>& hk = hidden_[k];
    hk.resize(Sz(Nk * D));
    LinearForward(hk.data(), m.cat.data(), F32(mw.eh_proj), Nk, D, 2 * D);
    const LayerWeights& bw = P.layers[L + k - 1];
    MoeStats* s = bw.is_moe ? &st[moe_index++] : nullptr;
    BlockTrainForward(hk.data(), m.block, bw, c, rope, B, Tk, obj.balance_alpha, s, &out.balance, ep);

    std::vector<float> xo(Sz(Nk * D)), ro(Sz(Nk)), d_xo;
    RmsNormForward(xo.data(), ro.data(), hk.data(), mw.head_norm.data(), Nk, D, eps);
    double cnt = 0.0;
    for (float w : wt) cnt += w;
    if (global_norm) cnt = obj.mtp_denominators.at(Sz(k - 1));
    if (backward) d_xo.resize(Sz(Nk * D));
    const float sk = cnt > 0 ? static_cast<float>(loss_scale * mtp_weight / cnt) : 0.0f;
    const double sum = HeadLoss(backward ? d_xo.data() : nullptr, Grad(G.lm_head), nullptr, xo.data(), F32(P.lm_head),
                                tg.data(), wt.data(), Nk, D, V, sk);
    out.mtp.push_back(cnt > 0 ? sum / cnt : 0.0);
    if (backward) {
      d_hidden_[k].resize(Sz(Nk * D));
      RmsNormBackward(d_hidden_[k].data(), model_.mtp_grads()[k - 1].head_norm.data(), d_xo.data(), hk.data(),
                      mw.head_norm.data(), ro.data(), Nk, D);
    }
  }
  out.loss = out.ce + out.balance;
  for (double l : out.mtp) out.loss += mtp_weight * l;
  if (!backward) return out;

  // Backward: MTP modules from the deepest, each passing a gradient to the previous depth.
  for (int64_t k = depth; k >= 1; --k) {
    const int64_t Tk = T - k, Nk = B * Tk, Tp = T - k + 1;
    MtpActs& m = mtp_[k - 1];
    const MtpWeights& mw = model_.mtp_params()[k - 1];
    MtpWeights& mg = model_.mtp_grads()[k - 1];
    float* dh = d_hidden_[k].data();
    BlockTrainBackward(dh, G.layers[L + k - 1], m.block, P.layers[L + k - 1], c, rope, B, Tk, obj.balance_alpha,
                       loss_scale, ep);
    std::vector<float> d_cat(Sz(Nk * 2 * D)), d_en(Sz(Nk * D)), d_hn(Sz(Nk * D)), d_in(Sz(Nk * D));
    LinearBackward(d_cat.data(), Grad(mg.eh_proj), dh, m.cat.data(), F32(mw.eh_proj), Nk, D, 2 * D);
    for (int64_t n = 0; n < Nk; ++n) {
      std::memcpy(&d_en[n * D], &d_cat[n * 2 * D], Sz(D) * sizeof(float));
      std::memcpy(&d_hn[n * D], &d_cat[n * 2 * D + D], Sz(D) * sizeof(float));
    }
    RmsNormBackward(d_in.data(), mg.enorm.data(), d_en.data(), m.emb.data(), mw.enorm.data(), m.en_rstd.data(), Nk, D);
    std::vector<int> ids(Sz(Nk));
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < Tk; ++t) ids[b * Tk + t] = batch.tokens[b * (T + 1) + t + k];
    }
    EmbedBackward(Grad(G.embed), d_in.data(), ids.data(), Nk, D);
    RmsNormBackward(d_in.data(), mg.hnorm.data(), d_hn.data(), m.hprev.data(), mw.hnorm.data(), m.hn_rstd.data(), Nk, D);
    float* dprev = d_hidden_[k - 1].data();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < Tk; ++t) Accumulate(dprev + (b * Tp + t) * D, &d_in[(b * Tk + t) * D], D);
    }
    if (block_done_) block_done_(L + k - 1);
  }
  float* dh = d_hidden_[0].data();
  for (int64_t l = L - 1; l >= 0; --l) {
    BlockTrainBackward(dh, G.layers[l], blocks_[l], P.layers[l], c, rope, B, T, obj.balance_alpha, loss_scale, ep);
    if (block_done_) block_done_(l);
  }
  EmbedBackward(Grad(G.embed), dh, inputs.data(), N, D);
  return out;
}

}  // namespace gorae::train
