#include "model/gqa.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <omp.h>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "model/kv_cache.h"
#include "model/rope.h"

namespace gorae {

namespace {

// out (N, width) += bias on every row (nothing when the model has no bias).
void AddBias(float* out, int64_t N, int64_t width, const std::vector<float>& bias) {
  if (bias.empty()) return;
  for (int64_t t = 0; t < N; ++t) AddScaled(out + t * width, bias.data(), 1.0f, width);
}

// Buffers of one call, kept per calling thread between calls: decode runs GqaForward once per
// layer per token with the same sizes, so after the first token nothing is allocated.
// Where a new row's attention reads: its sequence's cache and how many keys it sees.
struct RowTarget {
  const KVCache* cache;
  int64_t keys;
};

struct GqaScratch {
  std::vector<float> q, k, v, attn;  // (N, H, hd), (N, KV, hd) twice, (N, H * hd)
  std::vector<RowTarget> rows;       // (N)
  std::vector<float> keys;           // one per thread, max_keys each: AttendOne's scores
};

}  // namespace

void GqaForward(float* out, const float* x, int64_t N, int64_t layer, const AttentionWeights& w,
                const ModelConfig& c, const float* cos, const float* sin, std::span<const SequenceRows> seqs) {
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, hd = c.head_dim, half = hd / 2;
  const int64_t group = H / KV;
  thread_local GqaScratch sc;
  sc.q.resize(static_cast<size_t>(N * H * hd));
  sc.k.resize(static_cast<size_t>(N * KV * hd));
  sc.v.resize(static_cast<size_t>(N * KV * hd));
  sc.attn.resize(static_cast<size_t>(N * H * hd));
  float* q = sc.q.data();     // (N, H, hd)
  float* k = sc.k.data();     // (N, KV, hd)
  float* v = sc.v.data();     // (N, KV, hd)
  float* attn = sc.attn.data();  // (N, H * hd)
  // q, k and v read the same normed input: one quantized copy of it and one parallel region.
  float* const qkv_out[] = {q, k, v};
  const Matrix* const qkv_w[] = {&w.q_proj, &w.k_proj, &w.v_proj};
  LinearMany(qkv_out, x, N, qkv_w);
  AddBias(q, N, H * hd, w.q_bias);
  AddBias(k, N, KV * hd, w.k_bias);
  AddBias(v, N, KV * hd, w.v_bias);
  for (int64_t t = 0; t < N; ++t) {
    for (int64_t h = 0; h < H; ++h) ApplyRopeHalf(&q[(t * H + h) * hd], cos + t * half, sin + t * half, hd);
    for (int64_t g = 0; g < KV; ++g) ApplyRopeHalf(&k[(t * KV + g) * hd], cos + t * half, sin + t * half, hd);
  }

  // Cache rows [K (KV, hd) | V (KV, hd)]; then every new row attends to its own sequence.
  sc.rows.resize(static_cast<size_t>(N));
  RowTarget* rows = sc.rows.data();
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
  const int threads = omp_get_max_threads();
  if (sc.keys.size() < static_cast<size_t>(threads * max_keys)) sc.keys.resize(static_cast<size_t>(threads * max_keys));
  float* const keys = sc.keys.data();
#pragma omp parallel num_threads(threads)
  {
    float* scratch = keys + omp_get_thread_num() * max_keys;
#pragma omp for collapse(2) schedule(static) nowait  // the region's end is the barrier
    for (int64_t t = 0; t < N; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        const float* base = rows[t].cache->Row(layer, 0);
        const int64_t stride = rows[t].cache->row_floats();
        const int64_t g = h / group;
        AttendOne(&attn[(t * H + h) * hd], &q[(t * H + h) * hd], base + g * hd, stride, base + KV * hd + g * hd,
                  stride, hd, hd, rows[t].keys, scale, scratch);
      }
    }
  }
  Linear(out, attn, N, w.o_proj);
  AddBias(out, N, w.o_proj.rows, w.o_bias);
}

}  // namespace gorae
