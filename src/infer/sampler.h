// Token sampling from logits: greedy, temperature, top-k, top-p, min-p, repetition penalty,
// seeded. Separate from the engine so that generate, serve and GRPO rollouts share it.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/status.h"

namespace gorae {

struct SamplerConfig {
  float temperature = 1.0f;         // 0: greedy (argmax; ties go to the lowest id)
  int top_k = 0;                    // 0: no limit
  float top_p = 1.0f;               // nucleus mass in (0, 1]; 1: no limit
  float min_p = 0.0f;               // drop tokens with p < min_p * p_max; 0: off
  float repetition_penalty = 1.0f;  // CTRL-style: logit / rp if > 0 else logit * rp, for seen ids
  uint64_t seed = 0;
};

// Checks ranges (temperature >= 0, top_p in (0,1], min_p in [0,1], top_k >= 0, penalty > 0);
// the message names the option.
Status ValidateSamplerConfig(const SamplerConfig& c);

// Order of operations (the llama.cpp / Hugging Face convention):
//   1. repetition penalty on the logit of each distinct id in `history` (ids outside
//      [0, vocab) are ignored);
//   2. temperature == 0: return the argmax (lowest id on ties); no random number is drawn;
//   3. otherwise softmax(logits / temperature), computed relative to the max logit with a
//      double-precision normaliser;
//   4. top_k: keep the k most probable tokens (ties broken towards the lower id);
//   5. top_p: of what is left, keep the smallest set of most probable tokens whose mass,
//      renormalised over the top-k survivors, reaches top_p (within 1e-6, to absorb rounding);
//      the most probable token is always kept; top_p == 1 keeps everything;
//   6. min_p: drop tokens with p < min_p * p_max;
//   7. renormalise and draw with one 64-bit output of the mt19937_64 seeded by config.seed,
//      turned into a uniform in [0, 1) by hand, so results do not depend on the standard
//      library's distribution implementations.
// NaN logits are treated as -inf and are never picked. +inf logits share all the mass equally.
// If every logit is -inf or NaN after the penalty, Sample returns the argmax of the raw logits
// (ignoring NaN; lowest id on ties), i.e. the lowest id whose raw logit is not NaN, or 0 when
// every raw logit is NaN.
//
// Cost per call is O(vocab) expected and no call sorts the whole vocab: a small top_k is a
// one-pass bounded heap over the logits (exp is then evaluated only for the k survivors), a
// large one a quickselect; top_p buckets the candidates by log-probability to find the bucket
// where the nucleus ends, then narrows that bucket by selection (galloping, then bisection)
// and sorts only a small window. The final draw walks the kept tokens in id order, so the token
// drawn depends only on the kept set and the random number, not on how selection arranges
// elements. Scratch buffers are members sized once for the vocab, so steady-state calls do not
// allocate. Not thread-safe: use one Sampler per sequence.
class Sampler {
 public:
  // `config` must pass ValidateSamplerConfig (checked; an invalid one aborts).
  explicit Sampler(const SamplerConfig& config);

  // Picks the next token from logits (vocab, non-empty). `history` holds the ids seen so far
  // (prompt and generated), used only by the repetition penalty. Deterministic for a given seed
  // and call sequence.
  int Sample(std::span<const float> logits, std::span<const int> history);

  const SamplerConfig& config() const { return config_; }

 private:
  struct Candidate {
    float logit;  // penalised
    int id;
  };

  // Fills candidates_ with the k most probable finite logits (unordered; k >= 1).
  void SelectTopK(size_t k);
  // Applies top_k (when candidates_ holds more than `top_k`) and top_p to candidates_, whose
  // weights sum to `total`. Returns how many are kept; they end up in candidates_[0, kept).
  size_t Narrow(size_t top_k, double total, float max_logit, double inv_t);
  // Top-p helper: shrinks the window [*lo, *hi) of candidates_ (which holds the nucleus end;
  // [0, *lo) is inside the nucleus with mass *mass_lo) to the one log-probability bucket where
  // the cumulative mass reaches `target`.
  void NarrowByBuckets(float max_logit, double inv_t, double target, size_t* lo, size_t* hi,
                       double* mass_lo);

  SamplerConfig config_;
  std::mt19937_64 rng_;
  // Scratch, reused across calls.
  std::vector<float> logits_;          // penalised logits, NaN mapped to -inf
  std::vector<float> weights_;         // exp((logit - max) / temperature): max token = 1
  std::vector<uint8_t> seen_;          // all zero between calls; marks history ids once
  std::vector<Candidate> candidates_;  // tokens with non-zero weight, for top-k/top-p
};

}  // namespace gorae
