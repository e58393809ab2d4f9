#include "infer/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

#include "core/check.h"

namespace gorae {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Slack on the top-p mass test, so that e.g. probabilities 0.5 + 0.3 reach top_p = 0.8 despite
// rounding in log/exp and in the float top_p itself.
constexpr double kTopPSlack = 1e-6;

// Index of the largest non-NaN value, lowest index on ties; 0 if every value is NaN.
int Argmax(std::span<const float> x) {
  int best = -1;
  float best_value = 0.0f;
  for (size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    if (std::isnan(v)) continue;
    if (best < 0 || v > best_value) {
      best = static_cast<int>(i);
      best_value = v;
    }
  }
  return best < 0 ? 0 : best;
}

// Most probable first; equal logits go to the lower id. A strict total order, so the kept set
// does not depend on how the standard library's (unstable) selection algorithms break ties.
struct MoreProbable {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }
};

// One splitmix64 step: cheap pseudo-random pivots for SelectMostProbable, independent of the
// sampling generator.
uint64_t NextPivotRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Rearranges [first, last) so that [first, nth) holds the (nth - first) most probable elements
// (in no particular order). Quickselect with a median of three pseudo-random pivots: expected
// linear time whatever the input order. std::nth_element's median-of-three pivot is not used
// because candidates arrive in id order, and structured logits (ties, one outlier at the end)
// make it go quadratic until it falls back to a heap.
template <typename It>
void SelectMostProbable(It first, It nth, It last) {
  const MoreProbable more;
  uint64_t state = 0x5a3b1e5eedull;
  while (last - first > 32) {
    if (nth == first || nth == last) return;
    const auto n = static_cast<uint64_t>(last - first);
    const auto pick = [&] {
      return first + static_cast<std::ptrdiff_t>(NextPivotRandom(state) % n);
    };
    const It a = pick();
    const It b = pick();
    const It c = pick();
    const It median = more(*a, *b) ? (more(*b, *c) ? b : (more(*a, *c) ? c : a))
                                   : (more(*a, *c) ? a : (more(*b, *c) ? c : b));
    std::iter_swap(median, last - 1);
    const auto pivot = *(last - 1);
    const It mid = std::partition(first, last - 1, [&](const auto& x) { return more(x, pivot); });
    std::iter_swap(mid, last - 1);  // pivot at mid: [first, mid) beat it, (mid, last) do not
    if (nth == mid) return;
    if (nth < mid) {
      last = mid;
    } else {
      first = mid + 1;
    }
  }
  std::sort(first, last, more);
}

// Uniform double in [0, 1) from the top 53 bits of one generator output.
double UniformDouble(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Draws one id from the weighted tokens that `for_each_kept(visit)` enumerates (in a fixed
// order, calling visit(id, weight) and stopping when it returns true), in proportion to weight.
template <typename ForEachKept>
int DrawWeighted(ForEachKept&& for_each_kept, std::mt19937_64& rng) {
  double total = 0.0;
  int last = -1;
  for_each_kept([&](int id, float w) {
    total += w;
    last = id;
    return false;
  });
  GORAE_CHECK(last >= 0, "sampler filters removed every token");
  const double u = UniformDouble(rng) * total;
  double cumulative = 0.0;
  int pick = last;  // only kept through rounding
  for_each_kept([&](int id, float w) {
    cumulative += w;
    if (cumulative > u) {
      pick = id;
      return true;
    }
    return false;
  });
  return pick;
}

}  // namespace

Status ValidateSamplerConfig(const SamplerConfig& c) {
  if (!(std::isfinite(c.temperature) && c.temperature >= 0.0f)) {
    return InvalidArgument("--temperature must be a finite value >= 0, got {}", c.temperature);
  }
  if (c.top_k < 0) return InvalidArgument("--top-k must be >= 0 (0: no limit), got {}", c.top_k);
  if (!(c.top_p > 0.0f && c.top_p <= 1.0f)) {
    return InvalidArgument("--top-p must be in (0, 1], got {}", c.top_p);
  }
  if (!(c.min_p >= 0.0f && c.min_p <= 1.0f)) {
    return InvalidArgument("--min-p must be in [0, 1], got {}", c.min_p);
  }
  if (!(std::isfinite(c.repetition_penalty) && c.repetition_penalty > 0.0f)) {
    return InvalidArgument("the repetition penalty (--repeat-penalty) must be a finite value > 0, got {}",
                           c.repetition_penalty);
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplerConfig& config) : config_(config), rng_(config.seed) {
  const Status s = ValidateSamplerConfig(config);
  GORAE_CHECK(s.ok(), "invalid sampler config: {}", s.message());
}

void Sampler::SelectTopK(size_t k) {
  // Bounded heap whose front is the least probable of the best k so far; most tokens fail the
  // single comparison against it.
  const MoreProbable more;
  candidates_.clear();
  for (size_t i = 0; i < logits_.size(); ++i) {
    const float l = logits_[i];
    if (l == kNegInf) continue;
    const Candidate c{l, static_cast<int>(i)};
    if (candidates_.size() < k) {
      candidates_.push_back(c);
      std::push_heap(candidates_.begin(), candidates_.end(), more);
    } else if (more(c, candidates_.front())) {
      std::pop_heap(candidates_.begin(), candidates_.end(), more);
      candidates_.back() = c;
      std::push_heap(candidates_.begin(), candidates_.end(), more);
    }
  }
}

void Sampler::NarrowByBuckets(float max_logit, double inv_t, double target, size_t* lo, size_t* hi,
                              double* mass_lo) {
  // Buckets of equal width in d = (max - logit) / temperature = -log(p / p_max), over
  // [0, min(d_max, kMaxNats)]; anything further out shares the last bucket. Bucket indices
  // never decrease as the logit decreases, so whole buckets are ordered by probability and only
  // the bucket where the cumulative mass reaches `target` needs a finer look.
  constexpr int kBuckets = 1024;
  constexpr double kMaxNats = 40.0;  // e^-40 ~ 4e-18: the tail bucket's tokens barely count
  const size_t first = *lo;
  const size_t last = *hi;
  if (last - first <= 256 || !std::isfinite(max_logit)) return;
  const double max_d = static_cast<double>(max_logit);
  float min_logit = max_logit;
  for (size_t i = first; i < last; ++i) min_logit = std::min(min_logit, candidates_[i].logit);
  const double span = std::min((max_d - static_cast<double>(min_logit)) * inv_t, kMaxNats);
  if (!(span > 0.0)) return;  // all equal
  const double scale = inv_t * (kBuckets / span);
  const auto bucket_of = [&](float l) {
    const double b = (max_d - static_cast<double>(l)) * scale;
    return b >= kBuckets - 1 ? kBuckets - 1 : static_cast<int>(b);
  };

  std::array<double, kBuckets> mass{};
  for (size_t i = first; i < last; ++i) {
    const Candidate& c = candidates_[i];
    mass[bucket_of(c.logit)] += weights_[c.id];
  }
  int crossing = kBuckets - 1;
  double above = *mass_lo;
  for (int b = 0; b < kBuckets; ++b) {
    if (above + mass[b] >= target) {
      crossing = b;
      break;
    }
    above += mass[b];
  }
  if (crossing == kBuckets - 1 && above + mass[crossing] < target) {
    // Rounding: no bucket reached the target; everything before the last bucket is kept.
    above -= mass[crossing];
  }

  // Three-way partition: [first, lt) better buckets, [lt, gt) the crossing one, [gt, last) worse.
  size_t lt = first;
  size_t i = first;
  size_t gt = last;
  while (i < gt) {
    const int b = bucket_of(candidates_[i].logit);
    if (b < crossing) {
      std::swap(candidates_[lt++], candidates_[i++]);
    } else if (b > crossing) {
      std::swap(candidates_[i], candidates_[--gt]);
    } else {
      ++i;
    }
  }
  *lo = lt;
  *hi = gt;
  *mass_lo = above;
}

size_t Sampler::Narrow(size_t top_k, double total, float max_logit, double inv_t) {
  const MoreProbable more;
  const auto begin = candidates_.begin();
  const auto weight_sum = [&](size_t from, size_t to) {
    double sum = 0.0;
    for (size_t i = from; i < to; ++i) sum += weights_[candidates_[i].id];
    return sum;
  };
  size_t kept = candidates_.size();  // candidates_[0, kept) are the most probable `kept`

  if (top_k < kept) {
    SelectMostProbable(begin, begin + top_k, candidates_.end());
    kept = top_k;
    total = weight_sum(0, kept);  // top-p sees the distribution renormalised over the top k
  }

  if (config_.top_p < 1.0f && kept > 1) {
    // The nucleus is the shortest most-probable prefix whose mass reaches `target`. Invariant:
    // [0, lo) is the top `lo` (unordered), all inside the nucleus, with mass `mass_lo` <
    // target; the nucleus ends within [lo, hi); [lo, hi) ranks above [hi, kept).
    const double target = (static_cast<double>(config_.top_p) - kTopPSlack) * total;
    size_t lo = 0;
    size_t hi = kept;
    double mass_lo = 0.0;
    NarrowByBuckets(max_logit, inv_t, target, &lo, &hi, &mass_lo);
    // Gallop: nuclei usually end early in the window, so look at the next 64, 512, ... first.
    for (size_t step = 64; lo + step < hi; step *= 8) {
      const size_t m = lo + step;
      SelectMostProbable(begin + lo, begin + m, begin + hi);
      const double mass = weight_sum(lo, m);
      if (mass_lo + mass >= target) {
        hi = m;
        break;
      }
      lo = m;
      mass_lo += mass;
    }
    // Bisect down to a small window, then sort only that window.
    while (hi - lo > 64) {
      const size_t mid = lo + (hi - lo) / 2;
      SelectMostProbable(begin + lo, begin + mid, begin + hi);
      const double mass = weight_sum(lo, mid);
      if (mass_lo + mass >= target) {
        hi = mid;
      } else {
        lo = mid;
        mass_lo += mass;
      }
    }
    std::sort(begin + lo, begin + hi, more);
    kept = hi;  // if rounding keeps the sum below target, keep the whole window
    double mass = mass_lo;
    for (size_t i = lo; i < hi; ++i) {
      mass += weights_[candidates_[i].id];
      if (mass >= target) {
        kept = i + 1;
        break;
      }
    }
  }
  return kept;
}

int Sampler::Sample(std::span<const float> logits, std::span<const int> history) {
  GORAE_CHECK(!logits.empty(), "Sample needs at least one logit");
  const size_t n = logits.size();

  // Penalised logits with NaN as -inf. resize() only allocates when the vocab grows.
  logits_.resize(n);
  for (size_t i = 0; i < n; ++i) logits_[i] = std::isnan(logits[i]) ? kNegInf : logits[i];

  const float penalty = config_.repetition_penalty;
  if (penalty != 1.0f && !history.empty()) {
    if (seen_.size() < n) seen_.resize(n, 0);
    for (int id : history) {
      if (id < 0 || static_cast<size_t>(id) >= n || seen_[id]) continue;
      seen_[id] = 1;
      float& l = logits_[id];
      l = l > 0.0f ? l / penalty : l * penalty;
    }
    for (int id : history) {  // restore the all-zero invariant
      if (id >= 0 && static_cast<size_t>(id) < n) seen_[id] = 0;
    }
  }

  const int top = Argmax(logits_);
  const float max_logit = logits_[top];
  if (max_logit == kNegInf) return Argmax(logits);  // nothing can be sampled
  if (config_.temperature == 0.0f) return top;

  // Unnormalised probabilities relative to the max: the max token gets exactly 1 (so p / p_max
  // is the weight itself), and a tiny temperature sends the others to 0 instead of
  // overflowing. +inf logits all equal the max and share the mass. Sums are in double.
  const double inv_t = 1.0 / static_cast<double>(config_.temperature);
  const double max_d = static_cast<double>(max_logit);
  const auto weight_of = [&](float l) -> float {
    if (l == max_logit) return 1.0f;
    if (l == kNegInf) return 0.0f;
    return std::exp(static_cast<float>((static_cast<double>(l) - max_d) * inv_t));
  };
  weights_.resize(n);

  const size_t top_k = config_.top_k > 0 ? std::min(static_cast<size_t>(config_.top_k), n) : n;
  const bool select = top_k < n || config_.top_p < 1.0f;
  double total = 0.0;
  if (top_k * 8 <= n) {
    SelectTopK(top_k);  // only the k survivors need a weight
    for (const Candidate& c : candidates_) {
      const float w = weight_of(c.logit);
      weights_[c.id] = w;
      total += w;
    }
  } else {
    if (select) candidates_.clear();
    for (size_t i = 0; i < n; ++i) {
      const float w = weight_of(logits_[i]);
      weights_[i] = w;
      total += w;
      if (select && w > 0.0f) candidates_.push_back({logits_[i], static_cast<int>(i)});
    }
  }

  const float min_weight = config_.min_p;  // min_p * p_max, with p_max = 1
  if (!select) {
    return DrawWeighted(
        [&](auto&& visit) {
          for (size_t i = 0; i < n; ++i) {
            const float w = weights_[i];
            if (w > 0.0f && w >= min_weight && visit(static_cast<int>(i), w)) return;
          }
        },
        rng_);
  }

  const size_t kept = Narrow(top_k, total, max_logit, inv_t);
  const auto begin = candidates_.begin();
  if (kept * 8 <= n) {
    // Few survivors: put them in id order.
    std::sort(begin, begin + kept,
              [](const Candidate& a, const Candidate& b) { return a.id < b.id; });
    return DrawWeighted(
        [&](auto&& visit) {
          for (size_t j = 0; j < kept; ++j) {
            const int id = candidates_[j].id;
            const float w = weights_[id];
            if (w > 0.0f && w >= min_weight && visit(id, w)) return;
          }
        },
        rng_);
  }
  // Many survivors: walk the vocab, keeping what ranks at or above the least probable survivor.
  const MoreProbable more;
  const Candidate cut = *std::max_element(begin, begin + kept, more);
  return DrawWeighted(
      [&](auto&& visit) {
        for (size_t i = 0; i < n; ++i) {
          const Candidate c{logits_[i], static_cast<int>(i)};
          if (c.logit == kNegInf || more(cut, c)) continue;
          const float w = weights_[i];
          if (w > 0.0f && w >= min_weight && visit(c.id, w)) return;
        }
      },
      rng_);
}

}  // namespace gorae
