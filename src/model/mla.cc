#include "model/mla.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/rope.h"

namespace gorae {

namespace {

struct Dims {
  int64_t H, nope, rope, qk, dv, R;
  explicit Dims(const ModelConfig& c)
      : H(c.num_attention_heads), nope(c.qk_nope_head_dim), rope(c.qk_rope_head_dim), qk(c.qk_head_dim()),
        dv(c.v_head_dim), R(c.kv_lora_rank) {}
};

// Stores the new tokens' full per-head keys and values: kv (T, H * (nope + dv)) from kv_b_proj,
// k_pe (T, rope) shared by all heads.
void WriteNaiveCache(KVCache& cache, int64_t layer, int64_t p0, int64_t T, const Dims& d, const float* kv,
                     const float* k_pe) {
  for (int64_t t = 0; t < T; ++t) {
    float* keys = cache.Row(layer, p0 + t);  // (H, qk)
    float* values = keys + d.H * d.qk;       // (H, dv)
    const float* src = kv + t * d.H * (d.nope + d.dv);
    for (int64_t h = 0; h < d.H; ++h) {
      const float* head = src + h * (d.nope + d.dv);
      std::memcpy(keys + h * d.qk, head, d.nope * sizeof(float));
      std::memcpy(keys + h * d.qk + d.nope, k_pe + t * d.rope, d.rope * sizeof(float));
      std::memcpy(values + h * d.dv, head + d.nope, d.dv * sizeof(float));
    }
  }
}

// One new row: which cache it attends to and how many keys (its position + 1).
struct RowTarget {
  const KVCache* cache;
  int64_t keys;
};

std::vector<RowTarget> RowTargets(std::span<const SequenceRows> seqs, int64_t N) {
  std::vector<RowTarget> rows(static_cast<size_t>(N));
  for (const auto& s : seqs) {
    for (int64_t t = 0; t < s.n; ++t) rows[s.row0 + t] = {s.cache, s.cache->size() + t + 1};
  }
  return rows;
}

int64_t MaxKeys(const std::vector<RowTarget>& rows) {
  int64_t m = 0;
  for (const auto& r : rows) m = std::max(m, r.keys);
  return m;
}

// attn (N, H * dv) from queries q (N, H, qk) against each row's naive cache.
void NaiveAttention(float* attn, const float* q, int64_t N, int64_t layer, const Dims& d, float scale,
                    const std::vector<RowTarget>& rows) {
#pragma omp parallel
  {
    std::vector<float> scratch(static_cast<size_t>(MaxKeys(rows)));
#pragma omp for collapse(2) schedule(static)
    for (int64_t t = 0; t < N; ++t) {
      for (int64_t h = 0; h < d.H; ++h) {
        const float* base = rows[t].cache->Row(layer, 0);
        const int64_t row = rows[t].cache->row_floats();
        AttendOne(attn + (t * d.H + h) * d.dv, q + (t * d.H + h) * d.qk, base + h * d.qk, row,
                  base + d.H * d.qk + h * d.dv, row, d.qk, d.dv, rows[t].keys, scale, scratch.data());
      }
    }
  }
}

// The absorbed form: kv_b_proj's key part folds into the query and its value part into the
// output, so attention runs over the cached latent (R) plus the rope key directly.
//   q_abs[t,h] = [q_nope[t,h] @ W_UK_h | q_pe[t,h]]       W_UK_h = kv_b rows of head h's keys (nope, R)
//   lat[t,h]   = softmax(scale * q_abs . [c_kv | k_pe]) @ c_kv
//   attn[t,h]  = lat[t,h] @ W_UV_h^T                      W_UV_h = kv_b rows of head h's values (dv, R)
void AbsorbedAttention(float* attn, const float* q, int64_t T, int64_t layer, const Dims& d, float scale,
                       const std::vector<float>& kv_b, const std::vector<RowTarget>& rows) {
  const int64_t qa = d.R + d.rope;  // absorbed query width
  std::vector<float> q_abs(static_cast<size_t>(T * d.H * qa));  // (T, H, R + rope)
  std::vector<float> lat(static_cast<size_t>(T * d.H * d.R));   // (T, H, R)
  for (int64_t h = 0; h < d.H; ++h) {
    const float* w_uk = kv_b.data() + h * (d.nope + d.dv) * d.R;  // (nope, R)
    SgemmStrided(q_abs.data() + h * qa, d.H * qa, q + h * d.qk, d.H * d.qk, w_uk, d.R, T, d.R, d.nope,
                 /*b_transposed=*/false);
  }
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < d.H; ++h) {
      std::memcpy(q_abs.data() + (t * d.H + h) * qa + d.R, q + (t * d.H + h) * d.qk + d.nope, d.rope * sizeof(float));
    }
  }
#pragma omp parallel
  {
    std::vector<float> scratch(static_cast<size_t>(MaxKeys(rows)));
#pragma omp for collapse(2) schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < d.H; ++h) {
        const float* base = rows[t].cache->Row(layer, 0);
        const int64_t row = rows[t].cache->row_floats();
        AttendOne(lat.data() + (t * d.H + h) * d.R, q_abs.data() + (t * d.H + h) * qa, base, row, base, row, qa, d.R,
                  rows[t].keys, scale, scratch.data());
      }
    }
  }
  for (int64_t h = 0; h < d.H; ++h) {
    const float* w_uv = kv_b.data() + (h * (d.nope + d.dv) + d.nope) * d.R;  // (dv, R)
    SgemmStrided(attn + h * d.dv, d.H * d.dv, lat.data() + h * d.R, d.H * d.R, w_uv, d.R, T, d.dv, d.R,
                 /*b_transposed=*/true);
  }
}

}  // namespace

void MlaForward(float* out, const float* x, int64_t T, int64_t layer, const AttentionWeights& w,
                const ModelConfig& c, const float* cos, const float* sin, std::span<const SequenceRows> seqs) {
  const Dims d(c);
  const int64_t half = d.rope / 2;
  const float eps = static_cast<float>(c.rms_norm_eps);

  std::vector<float> q(static_cast<size_t>(T * d.H * d.qk));  // (T, H, qk)
  if (c.q_lora_rank == 0) {
    Linear(q.data(), x, T, w.q_proj);
  } else {
    std::vector<float> q_lat(static_cast<size_t>(T * c.q_lora_rank));  // (T, q_lora_rank)
    Linear(q_lat.data(), x, T, w.q_a_proj);
    RmsNorm(q_lat.data(), q_lat.data(), w.q_a_norm.data(), T, c.q_lora_rank, eps);
    Linear(q.data(), q_lat.data(), T, w.q_b_proj);
  }
  std::vector<float> kv_a(static_cast<size_t>(T * (d.R + d.rope)));  // (T, R + rope)
  Linear(kv_a.data(), x, T, w.kv_a_proj);

  std::vector<float> c_kv(static_cast<size_t>(T * d.R));  // (T, R) normed latent
  std::vector<float> k_pe(static_cast<size_t>(T * d.rope));  // (T, rope) rotated shared key
  for (int64_t t = 0; t < T; ++t) {
    const float* row = kv_a.data() + t * (d.R + d.rope);
    RmsNorm(c_kv.data() + t * d.R, row, w.kv_a_norm.data(), 1, d.R, eps);
    std::memcpy(k_pe.data() + t * d.rope, row + d.R, d.rope * sizeof(float));
    ApplyRope(k_pe.data() + t * d.rope, cos + t * half, sin + t * half, d.rope);
    for (int64_t h = 0; h < d.H; ++h) ApplyRope(q.data() + (t * d.H + h) * d.qk + d.nope, cos + t * half, sin + t * half, d.rope);
  }

  for (const auto& s : seqs) s.cache->Reserve(s.cache->size() + s.n);
  const std::vector<RowTarget> rows = RowTargets(seqs, T);
  const float scale = static_cast<float>(c.SoftmaxScale());
  std::vector<float> attn(static_cast<size_t>(T * d.H * d.dv));  // (T, H * dv)
  if (seqs.front().cache->mode() == MlaMode::kNaive) {
    std::vector<float> kv(static_cast<size_t>(T * d.H * (d.nope + d.dv)));  // (T, H, nope + dv)
    Linear(kv.data(), c_kv.data(), T, w.kv_b_proj);
    for (const auto& s : seqs) {
      WriteNaiveCache(*s.cache, layer, s.cache->size(), s.n, d, kv.data() + s.row0 * d.H * (d.nope + d.dv),
                      k_pe.data() + s.row0 * d.rope);
    }
    NaiveAttention(attn.data(), q.data(), T, layer, d, scale, rows);
  } else {
    for (const auto& s : seqs) {
      for (int64_t t = 0; t < s.n; ++t) {
        float* row = s.cache->Row(layer, s.cache->size() + t);
        std::memcpy(row, c_kv.data() + (s.row0 + t) * d.R, d.R * sizeof(float));
        std::memcpy(row + d.R, k_pe.data() + (s.row0 + t) * d.rope, d.rope * sizeof(float));
      }
    }
    AbsorbedAttention(attn.data(), q.data(), T, layer, d, scale, w.kv_b_f32, rows);
  }
  Linear(out, attn.data(), T, w.o_proj);
}

}  // namespace gorae
