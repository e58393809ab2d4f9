#include "train/attention_train.h"

#include <cblas.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "model/rope.h"
#include "train/ops.h"

namespace gorae::train {

namespace {

struct Dims {
  int64_t H, nope, rope, qk, dv, R, Rq, D;
  explicit Dims(const ModelConfig& c)
      : H(c.num_attention_heads), nope(c.qk_nope_head_dim), rope(c.qk_rope_head_dim), qk(c.qk_head_dim()),
        dv(c.v_head_dim), R(c.kv_lora_rank), Rq(c.q_lora_rank), D(c.hidden_size) {}
};

size_t Sz(int64_t n) { return static_cast<size_t>(n); }

}  // namespace

RopeCache MakeRopeCache(const ModelConfig& c, int64_t T) {
  RopeCache r;
  r.T = T;
  const int64_t half = c.qk_rope_head_dim / 2;
  r.cos.resize(Sz(T * half));
  r.sin.resize(Sz(T * half));
  RopeAngles(MakeRopeTable(c), 0, T, r.cos.data(), r.sin.data());
  return r;
}

void MlaTrainForward(float* out, MlaActs& a, const float* x, const AttentionWeights& w, const ModelConfig& c,
                     const RopeCache& rope, int64_t B, int64_t T) {
  const Dims d(c);
  const int64_t N = B * T;
  const float eps = static_cast<float>(c.rms_norm_eps);

  a.q.resize(Sz(N * d.H * d.qk));
  if (d.Rq == 0) {
    LinearForward(a.q.data(), x, F32(w.q_proj), N, d.H * d.qk, d.D);
  } else {
    a.qa.resize(Sz(N * d.Rq));
    a.qa_n.resize(Sz(N * d.Rq));
    a.qa_rstd.resize(Sz(N));
    LinearForward(a.qa.data(), x, F32(w.q_a_proj), N, d.Rq, d.D);
    RmsNormForward(a.qa_n.data(), a.qa_rstd.data(), a.qa.data(), w.q_a_norm.data(), N, d.Rq, eps);
    LinearForward(a.q.data(), a.qa_n.data(), F32(w.q_b_proj), N, d.H * d.qk, d.Rq);
  }
  // Every head's rope slice: view q as (N*H, qk) rows; row r belongs to token r / H.
  for (int64_t h = 0; h < d.H; ++h) {
    RopeRows(a.q.data() + h * d.qk, N, d.H * d.qk, d.nope, d.rope, T, rope.cos.data(), rope.sin.data(), false);
  }

  a.kv_a.resize(Sz(N * (d.R + d.rope)));
  a.kv_rstd.resize(Sz(N));
  a.c_kv.resize(Sz(N * d.R));
  LinearForward(a.kv_a.data(), x, F32(w.kv_a_proj), N, d.R + d.rope, d.D);
  // The latent is the first R columns of kv_a; a contiguous copy lets one call norm all rows.
  a.c_raw.resize(Sz(N * d.R));
  for (int64_t n = 0; n < N; ++n) std::memcpy(&a.c_raw[n * d.R], &a.kv_a[n * (d.R + d.rope)], d.R * 4);
  RmsNormForward(a.c_kv.data(), a.kv_rstd.data(), a.c_raw.data(), w.kv_a_norm.data(), N, d.R, eps);
  a.kv.resize(Sz(N * d.H * (d.nope + d.dv)));
  LinearForward(a.kv.data(), a.c_kv.data(), F32(w.kv_b_proj), N, d.H * (d.nope + d.dv), d.R);

  // Full keys: each head's k_nope, then the shared roped k_pe.
  a.k.resize(Sz(N * d.H * d.qk));
  std::vector<float> k_pe(Sz(N * d.rope));  // (N, rope)
  for (int64_t n = 0; n < N; ++n) std::memcpy(&k_pe[n * d.rope], &a.kv_a[n * (d.R + d.rope) + d.R], d.rope * 4);
  RopeRows(k_pe.data(), N, d.rope, 0, d.rope, T, rope.cos.data(), rope.sin.data(), false);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t h = 0; h < d.H; ++h) {
      float* kr = &a.k[(n * d.H + h) * d.qk];
      std::memcpy(kr, &a.kv[(n * d.H + h) * (d.nope + d.dv)], d.nope * 4);
      std::memcpy(kr + d.nope, &k_pe[n * d.rope], d.rope * 4);
    }
  }

  const float scale = static_cast<float>(c.SoftmaxScale());
  a.probs.assign(Sz(B * d.H * T * T), 0.0f);
  a.attn.resize(Sz(N * d.H * d.dv));
  const int64_t ldq = d.H * d.qk, ldv = d.H * (d.nope + d.dv), ldo = d.H * d.dv;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < d.H; ++h) {
      const float* q = a.q.data() + b * T * ldq + h * d.qk;
      const float* k = a.k.data() + b * T * ldq + h * d.qk;
      const float* v = a.kv.data() + b * T * ldv + h * (d.nope + d.dv) + d.nope;
      float* p = a.probs.data() + (b * d.H + h) * T * T;  // (T, T)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d.qk, scale, q, ldq, k, ldq, 0.0f, p, T);
      for (int64_t t = 0; t < T; ++t) {
        float* row = p + t * T;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s <= t; ++s) mx = std::max(mx, row[s]);
        double sum = 0.0;
        for (int64_t s = 0; s <= t; ++s) {
          row[s] = std::exp(row[s] - mx);
          sum += row[s];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t s = 0; s <= t; ++s) row[s] *= inv;
        for (int64_t s = t + 1; s < T; ++s) row[s] = 0.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d.dv, T, 1.0f, p, T, v, ldv, 0.0f,
                  a.attn.data() + b * T * ldo + h * d.dv, ldo);
    }
  }
  LinearForward(out, a.attn.data(), F32(w.o_proj), N, d.D, d.H * d.dv);
}

void MlaTrainBackward(float* d_x, AttentionWeights& g, const float* d_out, const MlaActs& a, const float* x,
                      const AttentionWeights& w, const ModelConfig& c, const RopeCache& rope, int64_t B, int64_t T) {
  const Dims d(c);
  const int64_t N = B * T;
  const int64_t ldq = d.H * d.qk, ldv = d.H * (d.nope + d.dv), ldo = d.H * d.dv;
  const float scale = static_cast<float>(c.SoftmaxScale());

  std::vector<float> d_attn(Sz(N * ldo));  // (N, H * dv)
  LinearBackward(d_attn.data(), Grad(g.o_proj), d_out, a.attn.data(), F32(w.o_proj), N, d.D, ldo);

  std::vector<float> d_q(Sz(N * ldq)), d_k(Sz(N * ldq)), d_kv(Sz(N * ldv));
#pragma omp parallel
  {
    std::vector<float> dp(Sz(T * T));  // (T, T)
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < d.H; ++h) {
        const int64_t q0 = b * T * ldq + h * d.qk, v0 = b * T * ldv + h * (d.nope + d.dv) + d.nope;
        const float* p = a.probs.data() + (b * d.H + h) * T * T;
        const float* dout = d_attn.data() + b * T * ldo + h * d.dv;
        // dP = dO V^T;  dV = P^T dO
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, d.dv, 1.0f, dout, ldo, a.kv.data() + v0, ldv,
                    0.0f, dp.data(), T);
        GemmTN(d_kv.data() + v0, ldv, p, T, dout, ldo, T, d.dv, T, 1.0f, 0.0f);
        // dS = P * (dP - sum_s P dP) * scale   (softmax backward, row by row)
        for (int64_t t = 0; t < T; ++t) {
          const float* pr = p + t * T;
          float* dr = dp.data() + t * T;
          double dot = 0.0;
          for (int64_t s = 0; s <= t; ++s) dot += static_cast<double>(pr[s]) * dr[s];
          for (int64_t s = 0; s <= t; ++s) dr[s] = pr[s] * (dr[s] - static_cast<float>(dot)) * scale;
          for (int64_t s = t + 1; s < T; ++s) dr[s] = 0.0f;
        }
        // dQ = dS K;  dK = dS^T Q
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, d.qk, T, 1.0f, dp.data(), T, a.k.data() + q0, ldq,
                    0.0f, d_q.data() + q0, ldq);
        GemmTN(d_k.data() + q0, ldq, dp.data(), T, a.q.data() + q0, ldq, T, d.qk, T, 1.0f, 0.0f);
      }
    }
  }

  // Keys: k_nope goes back into kv's key block; the shared k_pe collects every head's gradient.
  std::vector<float> d_kv_a(Sz(N * (d.R + d.rope)));  // (N, R + rope)
  for (int64_t n = 0; n < N; ++n) {
    float* dpe = &d_kv_a[n * (d.R + d.rope) + d.R];
    std::memset(dpe, 0, d.rope * 4);
    for (int64_t h = 0; h < d.H; ++h) {
      const float* dk = &d_k[(n * d.H + h) * d.qk];
      std::memcpy(&d_kv[(n * d.H + h) * (d.nope + d.dv)], dk, d.nope * 4);
      for (int64_t i = 0; i < d.rope; ++i) dpe[i] += dk[d.nope + i];
    }
  }
  RopeRows(d_kv_a.data(), N, d.R + d.rope, d.R, d.rope, T, rope.cos.data(), rope.sin.data(), true);

  std::vector<float> d_ckv(Sz(N * d.R));  // (N, R)
  LinearBackward(d_ckv.data(), Grad(g.kv_b_proj), d_kv.data(), a.c_kv.data(), F32(w.kv_b_proj), N, ldv, d.R);
  std::vector<float> d_craw(Sz(N * d.R));  // (N, R) gradient of the latent before its norm
  RmsNormBackward(d_craw.data(), g.kv_a_norm.data(), d_ckv.data(), a.c_raw.data(), w.kv_a_norm.data(),
                  a.kv_rstd.data(), N, d.R);
  for (int64_t n = 0; n < N; ++n) std::memcpy(&d_kv_a[n * (d.R + d.rope)], &d_craw[n * d.R], d.R * 4);
  LinearBackward(d_x, Grad(g.kv_a_proj), d_kv_a.data(), x, F32(w.kv_a_proj), N, d.R + d.rope, d.D);

  for (int64_t h = 0; h < d.H; ++h) {
    RopeRows(d_q.data() + h * d.qk, N, ldq, d.nope, d.rope, T, rope.cos.data(), rope.sin.data(), true);
  }
  if (d.Rq == 0) {
    LinearBackward(d_x, Grad(g.q_proj), d_q.data(), x, F32(w.q_proj), N, ldq, d.D, /*accumulate_d_in=*/true);
  } else {
    std::vector<float> d_qan(Sz(N * d.Rq)), d_qa(Sz(N * d.Rq));
    LinearBackward(d_qan.data(), Grad(g.q_b_proj), d_q.data(), a.qa_n.data(), F32(w.q_b_proj), N, ldq, d.Rq);
    RmsNormBackward(d_qa.data(), g.q_a_norm.data(), d_qan.data(), a.qa.data(), w.q_a_norm.data(),
                    a.qa_rstd.data(), N, d.Rq);
    LinearBackward(d_x, Grad(g.q_a_proj), d_qa.data(), x, F32(w.q_a_proj), N, d.Rq, d.D, /*accumulate_d_in=*/true);
  }
}

}  // namespace gorae::train
