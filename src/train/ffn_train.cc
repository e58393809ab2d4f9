#include "train/ffn_train.h"

#include <cmath>
#include <cstring>

#include "model/moe.h"
#include "train/attention_train.h"
#include "train/expert_exchange.h"
#include "train/ops.h"

namespace gorae::train {

namespace {
size_t Sz(int64_t n) { return static_cast<size_t>(n); }
}  // namespace

void MlpTrainForward(float* out, MlpActs& a, const float* x, const MlpWeights& w, int64_t N) {
  const int64_t I = w.gate_proj.rows, D = w.gate_proj.cols;
  a.g.resize(Sz(N * I));
  a.u.resize(Sz(N * I));
  a.a.resize(Sz(N * I));
  LinearForward(a.g.data(), x, F32(w.gate_proj), N, I, D);
  LinearForward(a.u.data(), x, F32(w.up_proj), N, I, D);
  SwiGluForward(a.a.data(), a.g.data(), a.u.data(), N * I);
  LinearForward(out, a.a.data(), F32(w.down_proj), N, D, I);
}

void MlpTrainBackward(float* d_x, MlpWeights& g, const float* d_out, const MlpActs& a, const float* x,
                      const MlpWeights& w, int64_t N, bool accumulate_d_x) {
  const int64_t I = w.gate_proj.rows, D = w.gate_proj.cols;
  std::vector<float> d_a(Sz(N * I)), d_g(Sz(N * I)), d_u(Sz(N * I));  // (N, inter)
  LinearBackward(d_a.data(), Grad(g.down_proj), d_out, a.a.data(), F32(w.down_proj), N, D, I);
  SwiGluBackward(d_g.data(), d_u.data(), d_a.data(), a.g.data(), a.u.data(), N * I);
  LinearBackward(d_x, Grad(g.gate_proj), d_g.data(), x, F32(w.gate_proj), N, I, D, accumulate_d_x);
  LinearBackward(d_x, Grad(g.up_proj), d_u.data(), x, F32(w.up_proj), N, I, D, /*accumulate_d_in=*/true);
}

void MoeStats::Reset(int64_t E) {
  load.assign(Sz(E), 0);
  tokens = assignments = 0;
  entropy_sum = balance_loss = 0.0;
}

void MoeStats::Add(const MoeStats& o) {
  if (load.size() < o.load.size()) load.resize(o.load.size(), 0);
  for (size_t i = 0; i < o.load.size(); ++i) load[i] += o.load[i];
  tokens += o.tokens;
  assignments += o.assignments;
  entropy_sum += o.entropy_sum;
  balance_loss += o.balance_loss;
}

void MoeTrainForward(float* out, MoeActs& a, MoeStats& stats, double* balance_loss, const float* x,
                     const MoeWeights& w, const ModelConfig& c, int64_t B, int64_t T, double alpha,
                     const ExpertShard& ep) {
  const int64_t N = B * T, D = c.hidden_size, E = c.n_routed_experts, K = c.num_experts_per_tok;
  std::vector<float> logits(Sz(N * E));  // (N, E)
  LinearForward(logits.data(), x, F32(w.gate), N, E, D);

  a.scores.resize(Sz(N * E));
  a.experts.resize(Sz(N * K));
  a.weights.resize(Sz(N * K));
  a.slots.assign(Sz(E), {});
  for (int64_t n = 0; n < N; ++n) {
    const float* lg = &logits[n * E];
    float* s = &a.scores[n * E];
    if (c.scoring_func == ScoringFunc::kSoftmax) {
      double mx = lg[0], sum = 0.0;
      for (int64_t e = 1; e < E; ++e) mx = std::max<double>(mx, lg[e]);
      for (int64_t e = 0; e < E; ++e) sum += std::exp(lg[e] - mx);
      for (int64_t e = 0; e < E; ++e) s[e] = static_cast<float>(std::exp(lg[e] - mx) / sum);
    } else {
      for (int64_t e = 0; e < E; ++e) s[e] = 1.0f / (1.0f + std::exp(-lg[e]));
    }
    // The same selection and weights as inference (one implementation of the routing rule).
    const Route r = RouteToken(lg, c, w.score_bias);
    for (int64_t i = 0; i < K; ++i) {
      a.experts[n * K + i] = r.experts[i];
      a.weights[n * K + i] = r.weights[i];
      a.slots[r.experts[i]].push_back(n * K + i);
    }
  }

  // Statistics and the sequence-wise balance loss.
  if (stats.load.size() != Sz(E)) stats.Reset(E);
  a.f.assign(Sz(B * E), 0.0f);
  double bal = 0.0;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> P(Sz(E), 0.0);
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = b * T + t;
      const float* s = &a.scores[n * E];
      double sum = 0.0;
      for (int64_t e = 0; e < E; ++e) sum += s[e];
      double ent = 0.0;
      for (int64_t e = 0; e < E; ++e) {
        const double p = s[e] / sum;
        P[e] += p / static_cast<double>(T);
        if (p > 0) ent -= p * std::log(p);
      }
      stats.entropy_sum += ent;
      for (int64_t i = 0; i < K; ++i) {
        const int e = a.experts[n * K + i];
        a.f[b * E + e] += static_cast<float>(static_cast<double>(E) / static_cast<double>(K * T));
        ++stats.load[e];
        ++stats.assignments;
      }
    }
    for (int64_t e = 0; e < E; ++e) bal += a.f[b * E + e] * P[e];
  }
  stats.tokens += N;
  const double layer_bal = alpha * bal / static_cast<double>(B);
  stats.balance_loss += layer_bal;
  if (balance_loss != nullptr) *balance_loss += layer_bal;

  // Shared experts see every token; routed experts their gathered tokens.
  if (c.n_shared_experts > 0) {
    MlpTrainForward(out, a.shared, x, w.shared, N);
  } else {
    std::memset(out, 0, Sz(N * D) * sizeof(float));
  }
  a.xin.resize(Sz(E));
  a.yout.resize(Sz(E));
  a.expert_acts.resize(Sz(E));
  std::vector<int64_t> rows(Sz(E));
  for (int64_t e = 0; e < E; ++e) {
    const auto& sl = a.slots[e];
    const int64_t n = static_cast<int64_t>(sl.size());
    rows[Sz(e)] = n;
    a.xin[e].resize(Sz(n * D));
    a.yout[e].resize(Sz(n * D));
    for (int64_t i = 0; i < n; ++i) std::memcpy(&a.xin[e][i * D], x + (sl[i] / K) * D, D * sizeof(float));
  }
  if (!ep.active()) {
    for (int64_t e = 0; e < E; ++e) {
      if (rows[Sz(e)] > 0) MlpTrainForward(a.yout[e].data(), a.expert_acts[e], a.xin[e].data(), w.experts[e], rows[Sz(e)]);
    }
  } else {
    a.ep_xin = DispatchToExperts(ep, E, D, a.xin, &a.ep_counts);
    std::vector<std::vector<float>> ep_yout(a.ep_xin.size());
    for (size_t le = 0; le < a.ep_xin.size(); ++le) {
      const int64_t e = ep.begin + static_cast<int64_t>(le), n = static_cast<int64_t>(a.ep_xin[le].size()) / D;
      ep_yout[le].resize(a.ep_xin[le].size());
      if (n > 0) MlpTrainForward(ep_yout[le].data(), a.expert_acts[e], a.ep_xin[le].data(), w.experts[e], n);
    }
    a.yout = CombineFromExperts(ep, E, D, ep_yout, a.ep_counts, rows);
  }
  for (int64_t e = 0; e < E; ++e) {
    const auto& sl = a.slots[e];
    for (int64_t i = 0; i < rows[Sz(e)]; ++i) {
      const float wt = a.weights[sl[i]];
      float* o = out + (sl[i] / K) * D;
      const float* y = &a.yout[e][i * D];
      for (int64_t j = 0; j < D; ++j) o[j] += wt * y[j];
    }
  }
}

void MoeTrainBackward(float* d_x, MoeWeights& g, const float* d_out, const MoeActs& a, const float* x,
                      const MoeWeights& w, const ModelConfig& c, int64_t B, int64_t T, double alpha,
                      double loss_scale, const ExpertShard& ep) {
  const int64_t N = B * T, D = c.hidden_size, E = c.n_routed_experts, K = c.num_experts_per_tok;
  if (c.n_shared_experts > 0) {
    MlpTrainBackward(d_x, g.shared, d_out, a.shared, x, w.shared, N, /*accumulate_d_x=*/false);
  } else {
    std::memset(d_x, 0, Sz(N * D) * sizeof(float));
  }

  std::vector<float> d_w(Sz(N * K), 0.0f);  // (N, K) gradient of each routing weight
  std::vector<std::vector<float>> dy(Sz(E));  // per expert (n_e, D): gradient of its outputs
  std::vector<int64_t> rows(Sz(E));
  for (int64_t e = 0; e < E; ++e) {
    const auto& sl = a.slots[e];
    const int64_t n = static_cast<int64_t>(sl.size());
    rows[Sz(e)] = n;
    dy[Sz(e)].resize(Sz(n * D));
    for (int64_t i = 0; i < n; ++i) {
      const float* go = d_out + (sl[i] / K) * D;
      const float* y = &a.yout[e][i * D];
      const float wt = a.weights[sl[i]];
      double dot = 0.0;
      for (int64_t j = 0; j < D; ++j) {
        dy[Sz(e)][i * D + j] = wt * go[j];
        dot += static_cast<double>(go[j]) * y[j];
      }
      d_w[sl[i]] = static_cast<float>(dot);
    }
  }
  std::vector<std::vector<float>> dxin(Sz(E));  // per expert (n_e, D): gradient of its gathered inputs
  if (!ep.active()) {
    for (int64_t e = 0; e < E; ++e) {
      if (rows[Sz(e)] == 0) continue;
      dxin[Sz(e)].resize(Sz(rows[Sz(e)] * D));
      MlpTrainBackward(dxin[Sz(e)].data(), g.experts[e], dy[Sz(e)].data(), a.expert_acts[e], a.xin[e].data(),
                       w.experts[e], rows[Sz(e)], /*accumulate_d_x=*/false);
    }
  } else {
    ExpertCounts counts;
    const std::vector<std::vector<float>> ep_dy = DispatchToExperts(ep, E, D, dy, &counts);
    std::vector<std::vector<float>> ep_dxin(ep_dy.size());
    for (size_t le = 0; le < ep_dy.size(); ++le) {
      const int64_t e = ep.begin + static_cast<int64_t>(le), n = static_cast<int64_t>(ep_dy[le].size()) / D;
      ep_dxin[le].resize(ep_dy[le].size());
      if (n > 0) {
        MlpTrainBackward(ep_dxin[le].data(), g.experts[e], ep_dy[le].data(), a.expert_acts[e], a.ep_xin[le].data(),
                         w.experts[e], n, /*accumulate_d_x=*/false);
      }
    }
    dxin = CombineFromExperts(ep, E, D, ep_dxin, counts, rows);
  }
  for (int64_t e = 0; e < E; ++e) {
    const auto& sl = a.slots[e];
    for (int64_t i = 0; i < rows[Sz(e)]; ++i) Accumulate(d_x + (sl[i] / K) * D, &dxin[Sz(e)][i * D], D);
  }

  // Routing weights -> scores (mirrors RouteToken: renormalise over the chosen, then scale).
  const bool normalise = K > 1 && c.norm_topk_prob;
  const bool scaled = !normalise || c.ScaleAfterNorm();
  const float rsf = static_cast<float>(c.routed_scaling_factor);
  std::vector<float> d_logits(Sz(N * E), 0.0f);  // (N, E), first used for d scores
  for (int64_t n = 0; n < N; ++n) {
    const float* s = &a.scores[n * E];
    float* ds = &d_logits[n * E];
    const int* ex = &a.experts[n * K];
    std::vector<double> dwi(Sz(K));
    for (int64_t i = 0; i < K; ++i) dwi[i] = d_w[n * K + i] * (scaled ? rsf : 1.0f);
    if (normalise) {
      double sum = 1e-20, dot = 0.0;
      for (int64_t i = 0; i < K; ++i) sum += s[ex[i]];
      for (int64_t i = 0; i < K; ++i) dot += dwi[i] * s[ex[i]];
      for (int64_t i = 0; i < K; ++i) ds[ex[i]] += static_cast<float>(dwi[i] / sum - dot / (sum * sum));
    } else {
      for (int64_t i = 0; i < K; ++i) ds[ex[i]] += static_cast<float>(dwi[i]);
    }
    // Balance loss: dL/ds'_{t,i} = alpha f_i / (T B), then through s' = s / sum(s).
    if (alpha != 0.0) {
      const int64_t b = n / T;
      double sum = 0.0, dot = 0.0;
      for (int64_t e = 0; e < E; ++e) sum += s[e];
      const double k = alpha * loss_scale / static_cast<double>(T * B);
      for (int64_t e = 0; e < E; ++e) dot += k * a.f[b * E + e] * s[e] / sum;
      for (int64_t e = 0; e < E; ++e) ds[e] += static_cast<float>((k * a.f[b * E + e] - dot) / sum);
    }
    // Scores -> logits.
    if (c.scoring_func == ScoringFunc::kSoftmax) {
      double dot = 0.0;
      for (int64_t e = 0; e < E; ++e) dot += static_cast<double>(ds[e]) * s[e];
      for (int64_t e = 0; e < E; ++e) ds[e] = s[e] * (ds[e] - static_cast<float>(dot));
    } else {
      for (int64_t e = 0; e < E; ++e) ds[e] *= s[e] * (1.0f - s[e]);
    }
  }
  LinearBackward(d_x, Grad(g.gate), d_logits.data(), x, F32(w.gate), N, E, D, /*accumulate_d_in=*/true);
}

}  // namespace gorae::train
