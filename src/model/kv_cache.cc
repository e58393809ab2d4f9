#include "model/kv_cache.h"

#include <algorithm>

#include "core/check.h"

namespace gorae {

const char* MlaModeName(MlaMode m) { return m == MlaMode::kNaive ? "naive" : "absorbed"; }

int64_t KVCache::FloatsPerToken(const ModelConfig& c, MlaMode mode) {
  if (!c.IsDeepSeek()) return 2 * c.num_key_value_heads * c.head_dim;  // grouped K and V heads
  if (mode == MlaMode::kNaive) return c.num_attention_heads * (c.qk_head_dim() + c.v_head_dim);
  return c.kv_lora_rank + c.qk_rope_head_dim;
}

KVCache::KVCache(const ModelConfig& config, MlaMode mode)
    : mode_(mode), row_(FloatsPerToken(config, mode)), layers_(static_cast<size_t>(config.num_hidden_layers)) {}

void KVCache::Reserve(int64_t n) {
  if (n <= capacity_) return;
  const int64_t cap = std::max(n, capacity_ * 2);
  for (auto& l : layers_) l.resize(static_cast<size_t>(cap * row_));
  capacity_ = cap;
}

void KVCache::CopyPrefixFrom(const KVCache& from, int64_t n) {
  GORAE_CHECK(&from != this && from.mode_ == mode_ && from.row_ == row_ && from.layers_.size() == layers_.size() && n >= 0 &&
              n <= from.size_);
  Reserve(n);
  for (size_t l = 0; l < layers_.size(); ++l) {
    std::copy_n(from.layers_[l].data(), static_cast<size_t>(n * row_), layers_[l].data());
  }
  size_ = n;
}

}  // namespace gorae
