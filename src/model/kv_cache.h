// The per-sequence attention cache of MLA, in one of two layouts.
//
//   naive:     per token and layer, every head's full key (qk_nope + qk_rope) and value (v_head)
//              = H * (qk_head_dim + v_head_dim) floats
//   absorbed:  per token and layer, only the normalised kv latent and the rotated shared rope key
//              = kv_lora_rank + qk_rope_head_dim floats (DeepSeek-V2's compressed cache)
// Llama / Qwen2 (grouped-query attention) have one layout whatever the mode:
//   per token and layer, [KV * head_dim keys | KV * head_dim values]
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace gorae {

enum class MlaMode { kNaive, kAbsorbed };
const char* MlaModeName(MlaMode m);

class KVCache {
 public:
  KVCache(const ModelConfig& config, MlaMode mode);

  MlaMode mode() const { return mode_; }
  int64_t size() const { return size_; }  // tokens cached so far
  int64_t capacity() const { return capacity_; }  // tokens the allocated rows hold
  int64_t bytes() const { return capacity_ * row_ * static_cast<int64_t>(layers_.size() * sizeof(float)); }
  void Clear() { size_ = 0; }
  // Forgets every token from position n on (keeps the first n), e.g. to reuse the cached prefix
  // of a conversation whose later turns changed.
  void Truncate(int64_t n) { size_ = std::min(size_, std::max<int64_t>(n, 0)); }
  // Makes room for `n` tokens in total (keeps what is cached).
  void Reserve(int64_t n);
  void Advance(int64_t n) { size_ += n; }
  // Makes this cache hold the first n tokens of `from` (same model and mode), dropping its own:
  // the K/V of a token depend only on the tokens before it, so a shared prompt prefix is
  // computed once and copied instead of prefilled again.
  void CopyPrefixFrom(const KVCache& from, int64_t n);

  // Floats per token per layer in each mode.
  static int64_t FloatsPerToken(const ModelConfig& c, MlaMode mode);
  int64_t row_floats() const { return row_; }

  // Row of token `pos` in layer `layer`: naive: [H * qk_head_dim keys | H * v_head_dim values];
  // absorbed: [kv_lora_rank latent | qk_rope_head_dim rope key].
  float* Row(int64_t layer, int64_t pos) { return layers_[layer].data() + pos * row_; }
  const float* Row(int64_t layer, int64_t pos) const { return layers_[layer].data() + pos * row_; }

 private:
  MlaMode mode_;
  int64_t row_;
  int64_t capacity_ = 0;
  int64_t size_ = 0;
  std::vector<std::vector<float>> layers_;  // (layers)(capacity, row_)
};

}  // namespace gorae
