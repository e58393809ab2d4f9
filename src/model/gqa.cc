#include "model/gqa.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/kv_cache.h"
#include "model/rope.h"

namespace gorae {

namespace {

// out (N, width) = in @ W^T (+ bias on every row when the model has one).
void Project(float* out, const float* in, int64_t N, const Matrix& w, const std::vector<float>& bias) {
  Linear(out, in, N, w);
  if (bias.empty()) return;
  for (int64_t t = 0; t < N; ++t) AddScaled(out + t * w.rows, bias.data(), 1.0f, w.rows);
}

}  // namespace

void GqaForward(float* out, const float* x, int64_t N, int64_t layer, const AttentionWeights& w,
                const ModelConfig& c, const float* cos, const float* sin, std::span<const SequenceRows> seqs) {
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim, half = hd / 2;
  const int64_t group = H / KV;
  std::vector<float> q(static_cast<size_t>(N * H * hd));   // (N, H, hd)
  std::vector<float> k(static_cast<size_t>(N * KV * hd));  // (N, KV, hd)
  std::vector<float> v(static_cast<size_t>(N * KV * hd));  // (N, KV, hd)
  Project(q.data(), x, N, w.q_proj, w.q_bias);
  Project(k.data(), x, N, w.k_proj, w.k_bias);
  Project(v.data(), x, N, w.v_proj, w.v_bias);
  for (int64_t t = 0; t < N; ++t) {
    for (int64_t h = 0; h < H; ++h) ApplyRopeHalf(&q[(t * H + h) * hd], cos + t * half, sin + t * half, hd);
    for (int64_t g = 0; g < KV; ++g) ApplyRopeHalf(&k[(t * KV + g) * hd], cos + t * half, sin + t * half, hd);
  }

  // Cache rows [K (KV, hd) | V (KV, hd)]; then every new row attends to its own sequence.
  struct RowTarget {
    const KVCache* cache;
    int64_t keys;
  };
  std::vector<RowTarget> rows(static_cast<size_t>(N));
  int64_t max_keys = 0;
  for (const auto& s : seqs) {
    s.cache->Reserve(s.cache->size() + s.n);
    for (int64_t t = 0; t < s.n; ++t) {
      float* row = s.cache->Row(layer, s.cache->size() + t);
      std::memcpy(row, &k[(s.row0 + t) * KV * hd], KV * hd * sizeof(float));
      std::memcpy(row + KV * hd, &v[(s.row0 + t) * KV * hd], KV * hd * sizeof(float));
      rows[s.row0 + t] = {s.cache, s.cache->size() + t + 1};
      max_keys = std::max(max_keys, s.cache->size() + t + 1);
    }
  }
  const float scale = static_cast<float>(c.SoftmaxScale());
  std::vector<float> attn(static_cast<size_t>(N * H * hd));  // (N, H * hd)
#pragma omp parallel
  {
    std::vector<float> scratch(static_cast<size_t>(max_keys));
#pragma omp for collapse(2) schedule(static)
    for (int64_t t = 0; t < N; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        const float* base = rows[t].cache->Row(layer, 0);
        const int64_t stride = rows[t].cache->row_floats();
        const int64_t g = h / group;
        AttendOne(&attn[(t * H + h) * hd], &q[(t * H + h) * hd], base + g * hd, stride, base + KV * hd + g * hd,
                  stride, hd, hd, rows[t].keys, scale, scratch.data());
      }
    }
  }
  Project(out, attn.data(), N, w.o_proj, w.o_bias);
}

}  // namespace gorae
