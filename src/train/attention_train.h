// Multi-head latent attention (DeepSeek-V2/V3) for training: forward that saves what the
// backward needs, and the backward. The plain (non-absorbed) form: per-head keys and values
// are expanded from the kv latent, which is what training wants (all T positions at once).
//
//   q      = x Wq^T                                   plain q (V2-Lite), or
//   q      = RMSNorm(x Wqa^T) Wqb^T                   low-rank q (V3)          (N, H, nope + rope)
//   kv_a   = x Wkva^T = [c | k_pe]                                             (N, R + rope)
//   kv     = RMSNorm(c) Wkvb^T = per head [k_nope | v]                         (N, H, nope + dv)
//   rope on q's last `rope` dims and on k_pe (one rope key shared by every head)
//   attn   = causal softmax(scale q . k) v within each sequence of T tokens    (N, H, dv)
//   out    = attn Wo^T                                                         (N, hidden)
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/weights.h"

namespace gorae::train {

// Rope angles of positions 0..T-1 (with YaRN and its mscale): (T, rope / 2) each.
struct RopeCache {
  int64_t T = 0;
  std::vector<float> cos, sin;
};
RopeCache MakeRopeCache(const ModelConfig& c, int64_t T);

struct MlaActs {
  std::vector<float> qa;       // (N, q_lora_rank) before its norm (low-rank q only)
  std::vector<float> qa_rstd;  // (N)
  std::vector<float> qa_n;     // (N, q_lora_rank) normed
  std::vector<float> q;        // (N, H, qk) with rope applied
  std::vector<float> kv_a;     // (N, R + rope) as projected
  std::vector<float> c_raw;    // (N, R) the latent part of kv_a, contiguous
  std::vector<float> kv_rstd;  // (N)
  std::vector<float> c_kv;     // (N, R) normed latent
  std::vector<float> kv;       // (N, H, nope + dv)
  std::vector<float> k;        // (N, H, qk) full keys: k_nope | roped k_pe
  std::vector<float> probs;    // (B, H, T, T) attention probabilities (upper triangle 0)
  std::vector<float> attn;     // (N, H * dv)
};

// out (B*T, hidden) = MLA(x) for B sequences of T tokens. x is the normed input; it must stay
// alive until the backward (it is not copied).
void MlaTrainForward(float* out, MlaActs& acts, const float* x, const AttentionWeights& w, const ModelConfig& c,
                     const RopeCache& rope, int64_t B, int64_t T);

// d_x (B*T, hidden) = gradient wrt x (overwritten); parameter gradients accumulate into g
// (matrices point at gradient buffers; vectors are the norm-weight gradients).
void MlaTrainBackward(float* d_x, AttentionWeights& g, const float* d_out, const MlaActs& acts, const float* x,
                      const AttentionWeights& w, const ModelConfig& c, const RopeCache& rope, int64_t B, int64_t T);

// The data of an fp32 parameter matrix (training weights are always F32, owned by TrainModel).
inline const float* F32(const Matrix& m) { return static_cast<const float*>(m.data); }
// A gradient matrix: same layout, but writable (the gradient buffers are owned and mutable).
inline float* Grad(const Matrix& m) { return const_cast<float*>(static_cast<const float*>(m.data)); }

}  // namespace gorae::train
