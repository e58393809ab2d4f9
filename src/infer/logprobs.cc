#include "infer/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace gorae {

double LogSumExp(std::span<const float> logits) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  return max + std::log(sum);
}

TokenLogprob LogprobOf(std::span<const float> logits, double log_norm, int id, int top_n, int64_t id_limit) {
  auto logprob = [&](int v) {
    return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(v)]) - log_norm);
  };

  TokenLogprob r;
  r.id = id;
  r.logprob = id >= 0 && static_cast<size_t>(id) < logits.size() ? logprob(id) : -std::numeric_limits<float>::infinity();
  const int64_t limit = id_limit > 0 ? std::min<int64_t>(id_limit, static_cast<int64_t>(logits.size()))
                                     : static_cast<int64_t>(logits.size());
  const int n = static_cast<int>(std::min<int64_t>(std::max(top_n, 0), limit));
  if (n == 0) return r;
  std::vector<int> ids(static_cast<size_t>(limit));
  std::iota(ids.begin(), ids.end(), 0);
  // Larger logit first; equal logits by the smaller id, so the order is deterministic.
  auto better = [&](int a, int b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), better);
  r.top.reserve(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) r.top.emplace_back(ids[static_cast<size_t>(k)], logprob(ids[static_cast<size_t>(k)]));
  return r;
}

}  // namespace gorae
