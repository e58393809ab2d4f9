#include "infer/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace gorae {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

SamplerConfig Config(float temperature, uint64_t seed = 1) {
  SamplerConfig c;
  c.temperature = temperature;
  c.seed = seed;
  return c;
}

// Logits whose softmax (at temperature 1) is exactly proportional to `probs`.
std::vector<float> LogitsFromProbs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

std::vector<int> Counts(Sampler& s, const std::vector<float>& logits, int draws,
                        const std::vector<int>& history = {}) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    const int id = s.Sample(logits, history);
    EXPECT_GE(id, 0);
    EXPECT_LT(id, static_cast<int>(logits.size()));
    if (id >= 0 && id < static_cast<int>(logits.size())) ++counts[id];
  }
  return counts;
}

// Pearson chi-square statistic of `counts` against `expected` probabilities (those with
// probability 0 must have count 0, which the caller checks separately).
double ChiSquare(const std::vector<int>& counts, const std::vector<double>& expected, int draws) {
  double chi2 = 0.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (expected[i] == 0.0) continue;
    const double e = expected[i] * draws;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi2;
}

std::vector<double> Softmax(const std::vector<float>& logits, double temperature) {
  double max = -INFINITY;
  for (float l : logits) max = std::max(max, static_cast<double>(l));
  std::vector<double> p;
  double sum = 0.0;
  for (float l : logits) {
    p.push_back(std::exp((l - max) / temperature));
    sum += p.back();
  }
  for (double& x : p) x /= sum;
  return p;
}

// ---- greedy ----

TEST(SamplerTest, GreedyIsArgmax) {
  Sampler s(Config(0.0f));
  const std::vector<float> logits = {0.1f, -2.0f, 3.5f, 3.4f, 1.0f};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.Sample(logits, {}), 2);
}

TEST(SamplerTest, GreedyTiesGoToLowestId) {
  Sampler s(Config(0.0f));
  EXPECT_EQ(s.Sample(std::vector<float>{1.0f, 5.0f, 2.0f, 5.0f, 5.0f}, {}), 1);
  EXPECT_EQ(s.Sample(std::vector<float>{7.0f, 7.0f}, {}), 0);
  EXPECT_EQ(s.Sample(std::vector<float>{-kInf, -3.0f, -3.0f}, {}), 1);
}

TEST(SamplerTest, TopKOneEqualsGreedy) {
  SamplerConfig c = Config(1.0f, 42);
  c.top_k = 1;
  Sampler s(c);
  Sampler greedy(Config(0.0f));
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> logits(50);
    for (float& l : logits) l = normal(gen);
    if (trial % 10 == 0) logits[40] = logits[12] = 100.0f;  // a tie: lowest id wins
    EXPECT_EQ(s.Sample(logits, {}), greedy.Sample(logits, {})) << "trial " << trial;
  }
}

// ---- seeding ----

TEST(SamplerTest, SameSeedSameSequenceDifferentSeedDiffers) {
  std::vector<float> logits(100, 0.0f);  // uniform over 100 tokens
  auto run = [&](uint64_t seed) {
    Sampler s(Config(1.0f, seed));
    std::vector<int> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.Sample(logits, {}));
    return out;
  };
  EXPECT_EQ(run(123), run(123));
  EXPECT_NE(run(123), run(124));
  EXPECT_NE(run(0), run(1));
}

TEST(SamplerTest, SeedIsRecordedInConfig) {
  SamplerConfig c = Config(0.8f, 99);
  c.top_k = 5;
  Sampler s(c);
  EXPECT_EQ(s.config().seed, 99u);
  EXPECT_EQ(s.config().top_k, 5);
}

// ---- temperature ----

TEST(SamplerTest, TemperatureFrequenciesMatchSoftmax) {
  const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -1.0f, 2.0f};
  const int draws = 20000;
  for (float t : {0.5f, 1.0f, 2.0f}) {
    Sampler s(Config(t, 2024));
    const std::vector<int> counts = Counts(s, logits, draws);
    const std::vector<double> expected = Softmax(logits, t);
    // 4 degrees of freedom: P(chi2 > 30) is about 5e-6. A wrong temperature (e.g. T applied
    // twice or not at all) gives statistics in the hundreds or more at 20000 draws.
    EXPECT_LT(ChiSquare(counts, expected, draws), 30.0) << "temperature " << t;
    for (size_t i = 0; i < logits.size(); ++i) {
      EXPECT_NEAR(counts[i] / static_cast<double>(draws), expected[i], 0.02)
          << "temperature " << t << " token " << i;
    }
  }
}

TEST(SamplerTest, WrongTemperatureWouldBeDetected) {
  // Guards the tolerance above: the T = 0.5 counts must be far from softmax at T = 1.
  const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -1.0f, 2.0f};
  Sampler s(Config(0.5f, 2024));
  const std::vector<int> counts = Counts(s, logits, 20000);
  EXPECT_GT(ChiSquare(counts, Softmax(logits, 1.0), 20000), 300.0);
}

TEST(SamplerTest, TinyTemperatureIsGreedyWithoutOverflow) {
  Sampler s(Config(1e-30f, 5));
  const std::vector<float> logits = {100.0f, 300.0f, 299.0f, -50.0f};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.Sample(logits, {}), 1);
}

// ---- top-k ----

TEST(SamplerTest, TopKTwoNeverLeavesTopTwo) {
  SamplerConfig c = Config(1.5f, 3);
  c.top_k = 2;
  Sampler s(c);
  const std::vector<float> logits = {0.0f, 1.0f, 0.9f, 2.0f, 0.95f, -1.0f, 1.9f, 0.5f};
  const int draws = 5000;
  const std::vector<int> counts = Counts(s, logits, draws);
  for (size_t i = 0; i < logits.size(); ++i) {
    if (i == 3 || i == 6) {
      EXPECT_GT(counts[i], 0) << "token " << i;
    } else {
      EXPECT_EQ(counts[i], 0) << "token " << i;
    }
  }
  // Renormalised over the two survivors: p(3) = 1 / (1 + exp(-0.1 / 1.5)).
  const double p3 = 1.0 / (1.0 + std::exp(-0.1 / 1.5));
  EXPECT_NEAR(counts[3] / static_cast<double>(draws), p3, 0.03);
}

TEST(SamplerTest, TopKLargerThanVocabKeepsAll) {
  SamplerConfig c = Config(1.0f, 8);
  c.top_k = 1000;
  Sampler s(c);
  const std::vector<float> logits = {0.0f, 0.0f, 0.0f};
  const std::vector<int> counts = Counts(s, logits, 3000);
  for (int n : counts) EXPECT_GT(n, 800);
}

// ---- top-p ----

TEST(SamplerTest, TopPKeepsExactNucleus) {
  const std::vector<float> logits = LogitsFromProbs({0.5, 0.3, 0.15, 0.05});
  const int draws = 10000;
  {
    SamplerConfig c = Config(1.0f, 11);
    c.top_p = 0.8f;  // 0.5 + 0.3 reaches 0.8: first two only
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, draws);
    EXPECT_EQ(counts[2], 0);
    EXPECT_EQ(counts[3], 0);
    EXPECT_NEAR(counts[0] / static_cast<double>(draws), 0.5 / 0.8, 0.02);
    EXPECT_NEAR(counts[1] / static_cast<double>(draws), 0.3 / 0.8, 0.02);
  }
  {
    SamplerConfig c = Config(1.0f, 12);
    c.top_p = 0.81f;  // needs the third token too
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, draws);
    EXPECT_GT(counts[2], 0);
    EXPECT_EQ(counts[3], 0);
    EXPECT_NEAR(counts[2] / static_cast<double>(draws), 0.15 / 0.95, 0.02);
  }
  {
    SamplerConfig c = Config(1.0f, 13);
    c.top_p = 0.3f;  // the first token alone already has 0.5
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, 1000);
    EXPECT_EQ(counts[0], 1000);
  }
  {
    SamplerConfig c = Config(1.0f, 14);
    c.top_p = 1.0f;  // off: the 5% tail is reachable
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, draws);
    EXPECT_GT(counts[3], 0);
  }
}

TEST(SamplerTest, TopPIgnoresIdOrder) {
  // The same distribution, shuffled: the nucleus is by probability, not by position.
  const std::vector<float> logits = LogitsFromProbs({0.05, 0.3, 0.15, 0.5});
  SamplerConfig c = Config(1.0f, 15);
  c.top_p = 0.8f;
  Sampler s(c);
  const std::vector<int> counts = Counts(s, logits, 5000);
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[2], 0);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[3], 0);
}

TEST(SamplerTest, TopPAppliesAfterTopKRenormalisation) {
  // probs 0.4 0.3 0.2 0.1; top_k = 2 leaves 4/7 and 3/7, so top_p = 0.5 keeps only the first.
  // (Over the unfiltered distribution 0.4 < 0.5 would have kept two.)
  const std::vector<float> logits = LogitsFromProbs({0.4, 0.3, 0.2, 0.1});
  SamplerConfig c = Config(1.0f, 16);
  c.top_k = 2;
  c.top_p = 0.5f;
  Sampler s(c);
  const std::vector<int> counts = Counts(s, logits, 1000);
  EXPECT_EQ(counts[0], 1000);
}

TEST(SamplerTest, TopPOnLargeVocabNeedsGrowingPrefix) {
  // 5000 equal tokens plus a dominant one: the nucleus at 0.9 needs many of the flat tokens,
  // more than the first partial-sort window, and must never take more than needed.
  const int n = 5000;
  std::vector<float> logits(n + 1, 0.0f);
  logits[n] = std::log(1000.0f);  // p = 1000 / 6000
  SamplerConfig c = Config(1.0f, 17);
  c.top_p = 0.5f;  // mass 0.5 * 6000 = 3000: the big one plus 2000 flat ones (lowest ids)
  Sampler s(c);
  const int draws = 4000;
  const std::vector<int> counts = Counts(s, logits, draws);
  int outside = 0;
  for (int i = 2000; i < n; ++i) outside += counts[i];
  EXPECT_EQ(outside, 0);
  int inside = 0;
  for (int i = 0; i < 2000; ++i) inside += counts[i];
  EXPECT_NEAR(inside / static_cast<double>(draws), 2000.0 / 3000.0, 0.04);
}

// Brute-force kept set: full sort by (logit desc, id asc), probabilities in double, then top-k,
// top-p (same 1e-6 slack as documented) and min-p exactly as specified. Returns the kept ids in
// probability order and their probabilities renormalised over the kept set.
struct ReferenceKept {
  std::vector<int> ids;
  std::vector<double> probs;
};
ReferenceKept Reference(const std::vector<float>& logits, const SamplerConfig& c) {
  std::vector<int> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  const double max = logits[order[0]];
  std::vector<double> w;
  for (int id : order) w.push_back(std::exp((logits[id] - max) / c.temperature));
  size_t kept = order.size();
  if (c.top_k > 0) kept = std::min(kept, static_cast<size_t>(c.top_k));
  if (c.top_p < 1.0f) {
    double total = 0.0;
    for (size_t j = 0; j < kept; ++j) total += w[j];
    double cum = 0.0;
    for (size_t j = 0; j < kept; ++j) {
      cum += w[j];
      if (cum >= (c.top_p - 1e-6) * total) {
        kept = j + 1;
        break;
      }
    }
  }
  ReferenceKept r;
  double total = 0.0;
  for (size_t j = 0; j < kept; ++j) {
    if (w[j] < c.min_p) continue;  // w[0] = p_max / p_max = 1
    r.ids.push_back(order[j]);
    r.probs.push_back(w[j]);
    total += w[j];
  }
  for (double& p : r.probs) p /= total;
  return r;
}

TEST(SamplerTest, KeptSetMatchesBruteForceReference) {
  // Vocab sizes and configs chosen to go through every internal path: the bounded heap (small
  // top_k), quickselect (large top_k), the log-probability buckets and the galloping/bisecting
  // nucleus search (top_p on windows of hundreds to thousands), and plain sampling.
  struct Case {
    float temperature;
    int top_k;
    float top_p;
    float min_p;
  };
  const Case cases[] = {{1.0f, 0, 0.9f, 0.0f},   {0.7f, 0, 0.5f, 0.0f},
                        {1.3f, 0, 0.95f, 0.02f}, {1.0f, 50, 1.0f, 0.0f},
                        {1.0f, 50, 0.8f, 0.0f},  {1.0f, 1000, 0.9f, 0.0f},
                        {1.0f, 0, 1.0f, 0.2f},   {0.5f, 300, 0.99f, 0.001f},
                        {2.0f, 3, 1.0f, 0.0f},   {1.0f, 0, 0.3f, 0.0f}};
  uint64_t seed = 100;
  for (int vocab : {40, 1500, 20000}) {
    std::mt19937 gen(vocab);
    std::normal_distribution<float> normal(0.0f, vocab > 1000 ? 3.0f : 1.5f);
    std::vector<float> logits(vocab);
    for (float& l : logits) l = normal(gen);
    for (const Case& k : cases) {
      SamplerConfig c = Config(k.temperature, ++seed);
      c.top_k = k.top_k;
      c.top_p = k.top_p;
      c.min_p = k.min_p;
      const ReferenceKept ref = Reference(logits, c);
      std::vector<char> allowed(vocab, 0);
      for (int id : ref.ids) allowed[id] = 1;
      Sampler s(c);
      const int draws = vocab > 10000 ? 300 : 1500;
      const std::vector<int> counts = Counts(s, logits, draws);
      const std::string where = "vocab " + std::to_string(vocab) + " T " +
                                std::to_string(k.temperature) + " top_k " +
                                std::to_string(k.top_k) + " top_p " + std::to_string(k.top_p) +
                                " min_p " + std::to_string(k.min_p);
      int outside = 0;
      for (int id = 0; id < vocab; ++id) outside += allowed[id] ? 0 : counts[id];
      EXPECT_EQ(outside, 0) << where << " (kept " << ref.ids.size() << ")";
      // The least probable kept token must be reachable when it is likely enough to show up
      // (P(miss) < 1e-6): catches a boundary that cuts one token too early.
      const double p_last = ref.probs.back();
      if (std::pow(1.0 - p_last, draws) < 1e-6) {
        EXPECT_GT(counts[ref.ids.back()], 0) << where << " p_last " << p_last;
      }
      // And the frequencies follow the renormalised reference for small kept sets.
      if (ref.ids.size() <= 20 && draws >= 1500) {
        std::vector<int> kept_counts;
        std::vector<double> expected(ref.ids.size());
        for (size_t j = 0; j < ref.ids.size(); ++j) {
          kept_counts.push_back(counts[ref.ids[j]]);
          expected[j] = ref.probs[j];
        }
        // Loose bound (<= 19 degrees of freedom): a wrong renormalisation is far outside.
        EXPECT_LT(ChiSquare(kept_counts, expected, draws), 60.0) << where;
      }
    }
  }
}

// ---- min-p ----

TEST(SamplerTest, MinPDropsTokensBelowFractionOfMax) {
  const std::vector<float> logits = LogitsFromProbs({0.5, 0.3, 0.15, 0.05});
  const int draws = 10000;
  {
    SamplerConfig c = Config(1.0f, 21);
    c.min_p = 0.35f;  // threshold 0.175: keeps 0.5 and 0.3
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, draws);
    EXPECT_EQ(counts[2], 0);
    EXPECT_EQ(counts[3], 0);
    EXPECT_NEAR(counts[0] / static_cast<double>(draws), 0.5 / 0.8, 0.02);
  }
  {
    SamplerConfig c = Config(1.0f, 22);
    c.min_p = 0.2f;  // threshold 0.1: keeps 0.15, drops 0.05
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, draws);
    EXPECT_GT(counts[2], 0);
    EXPECT_EQ(counts[3], 0);
  }
  {
    SamplerConfig c = Config(1.0f, 23);
    c.min_p = 1.0f;  // only the max survives
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, 1000);
    EXPECT_EQ(counts[0], 1000);
  }
}

// ---- repetition penalty ----

TEST(SamplerTest, RepetitionPenaltyDividesPositiveLogits) {
  SamplerConfig c = Config(0.0f);
  c.repetition_penalty = 1.5f;
  Sampler s(c);
  const std::vector<float> logits = {2.0f, 1.9f, -0.5f};
  EXPECT_EQ(s.Sample(logits, {}), 0);
  EXPECT_EQ(s.Sample(logits, std::vector<int>{0}), 1);  // 2.0 / 1.5 = 1.33 < 1.9
  EXPECT_EQ(s.Sample(logits, std::vector<int>{2}), 0);
}

TEST(SamplerTest, RepetitionPenaltyMultipliesNegativeLogits) {
  SamplerConfig c = Config(0.0f);
  c.repetition_penalty = 1.5f;
  Sampler s(c);
  const std::vector<float> logits = {-1.0f, -1.2f, -3.0f};
  EXPECT_EQ(s.Sample(logits, {}), 0);
  // -1.0 * 1.5 = -1.5 < -1.2. (Dividing would have raised it to -0.67 and kept token 0.)
  EXPECT_EQ(s.Sample(logits, std::vector<int>{0}), 1);
}

TEST(SamplerTest, RepetitionPenaltyAppliesOncePerDistinctId) {
  SamplerConfig c = Config(0.0f);
  c.repetition_penalty = 1.2f;
  Sampler s(c);
  const std::vector<float> logits = {2.0f, 1.5f};
  // Once: 2.0 / 1.2 = 1.67 > 1.5. Twice would be 1.39 < 1.5.
  EXPECT_EQ(s.Sample(logits, std::vector<int>{0, 0, 0}), 0);
  // Repeated calls see the same result (no state left behind by the dedup).
  EXPECT_EQ(s.Sample(logits, std::vector<int>{0, 0}), 0);
  EXPECT_EQ(s.Sample(logits, std::vector<int>{1, 1}), 0);
}

TEST(SamplerTest, RepetitionPenaltyLeavesLogitsUntouchedAndIgnoresBadIds) {
  SamplerConfig c = Config(0.0f);
  c.repetition_penalty = 3.0f;
  Sampler s(c);
  const std::vector<float> logits = {1.0f, 2.0f};
  const std::vector<float> copy = logits;
  EXPECT_EQ(s.Sample(logits, std::vector<int>{1, -1, 7}), 0);
  EXPECT_EQ(logits, copy);
  EXPECT_EQ(s.Sample(logits, {}), 1);
}

TEST(SamplerTest, RepetitionPenaltyChangesSampledDistribution) {
  SamplerConfig c = Config(1.0f, 31);
  c.repetition_penalty = 2.0f;
  Sampler s(c);
  const std::vector<float> logits = {2.0f, 0.0f};
  const std::vector<int> counts = Counts(s, logits, 10000, {0});
  // Penalised logits {1, 0}: p(0) = 1 / (1 + e^-1) = 0.731 (unpenalised: 0.881).
  EXPECT_NEAR(counts[0] / 10000.0, 1.0 / (1.0 + std::exp(-1.0)), 0.02);
}

// ---- NaN and infinities ----

TEST(SamplerTest, NaNLogitsAreNeverPicked) {
  const std::vector<float> logits = {kNaN, 1.0f, kNaN, 0.5f, kNaN};
  Sampler greedy(Config(0.0f));
  EXPECT_EQ(greedy.Sample(logits, {}), 1);
  for (int top_k : {0, 2, 4}) {
    SamplerConfig c = Config(1.0f, 41);
    c.top_k = top_k;
    c.top_p = 0.99f;
    Sampler s(c);
    const std::vector<int> counts = Counts(s, logits, 2000);
    EXPECT_EQ(counts[0] + counts[2] + counts[4], 0) << "top_k " << top_k;
    EXPECT_GT(counts[3], 0);
  }
  // A NaN in a repeated id stays unpickable.
  SamplerConfig c = Config(1.0f, 42);
  c.repetition_penalty = 1.3f;
  Sampler s(c);
  const std::vector<int> counts = Counts(s, logits, 2000, {0, 1, 2});
  EXPECT_EQ(counts[0] + counts[2] + counts[4], 0);
}

TEST(SamplerTest, AllMaskedFallsBackToRawArgmax) {
  Sampler greedy(Config(0.0f));
  Sampler sampled(Config(1.0f, 5));
  const std::vector<float> all_nan = {kNaN, kNaN, kNaN};
  EXPECT_EQ(greedy.Sample(all_nan, {}), 0);
  EXPECT_EQ(sampled.Sample(all_nan, {}), 0);
  const std::vector<float> masked = {kNaN, -kInf, -kInf};
  EXPECT_EQ(greedy.Sample(masked, {}), 1);
  EXPECT_EQ(sampled.Sample(masked, {}), 1);
}

TEST(SamplerTest, NegativeInfinityIsNeverSampled) {
  Sampler s(Config(2.0f, 6));
  const std::vector<float> logits = {-kInf, 0.0f, -kInf, -30.0f};
  const std::vector<int> counts = Counts(s, logits, 2000);
  EXPECT_EQ(counts[0] + counts[2], 0);
}

TEST(SamplerTest, PositiveInfinitySharesTheMass) {
  Sampler s(Config(1.0f, 7));
  const std::vector<float> logits = {1.0f, kInf, 2.0f, kInf};
  const std::vector<int> counts = Counts(s, logits, 2000);
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_GT(counts[1], 800);
  EXPECT_GT(counts[3], 800);
  Sampler greedy(Config(0.0f));
  EXPECT_EQ(greedy.Sample(logits, {}), 1);
}

// ---- validation ----

void ExpectInvalid(const SamplerConfig& c, const std::string& option, const std::string& value) {
  const Status s = ValidateSamplerConfig(c);
  ASSERT_FALSE(s.ok()) << option << " = " << value;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(option), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("got " + value), std::string::npos) << s.message();
}

TEST(SamplerTest, ValidationAcceptsDefaultsAndEdges) {
  EXPECT_TRUE(ValidateSamplerConfig(SamplerConfig{}).ok());
  SamplerConfig c;
  c.temperature = 0.0f;
  c.top_k = 1;
  c.top_p = 1.0f;
  c.min_p = 1.0f;
  c.repetition_penalty = 0.5f;
  EXPECT_TRUE(ValidateSamplerConfig(c).ok());
  c.min_p = 0.0f;
  c.top_p = 1e-6f;
  EXPECT_TRUE(ValidateSamplerConfig(c).ok());
}

TEST(SamplerTest, ValidationRejectsBadValues) {
  SamplerConfig c;
  c.top_p = 1.5f;
  EXPECT_EQ(ValidateSamplerConfig(c).message(), "--top-p must be in (0, 1], got 1.5");
  c.top_p = 0.0f;
  ExpectInvalid(c, "--top-p", "0");
  c.top_p = kNaN;
  ExpectInvalid(c, "--top-p", "nan");

  c = SamplerConfig{};
  c.temperature = -0.5f;
  ExpectInvalid(c, "--temperature", "-0.5");
  c.temperature = kInf;
  ExpectInvalid(c, "--temperature", "inf");
  c.temperature = kNaN;
  ExpectInvalid(c, "--temperature", "nan");

  c = SamplerConfig{};
  c.top_k = -3;
  ExpectInvalid(c, "--top-k", "-3");

  c = SamplerConfig{};
  c.min_p = -0.1f;
  ExpectInvalid(c, "--min-p", "-0.1");
  c.min_p = 1.25f;
  ExpectInvalid(c, "--min-p", "1.25");

  c = SamplerConfig{};
  c.repetition_penalty = 0.0f;
  ExpectInvalid(c, "--repeat-penalty", "0");
  c.repetition_penalty = -1.0f;
  ExpectInvalid(c, "--repeat-penalty", "-1");
}

TEST(SamplerDeathTest, ConstructorRejectsInvalidConfig) {
  SamplerConfig c;
  c.top_p = 2.0f;
  EXPECT_DEATH({ Sampler s(c); }, "--top-p");
}

// ---- scale ----

TEST(SamplerTest, LargeVocabIsFastAndInRange) {
  const int vocab = 129280;
  std::vector<float> logits(vocab);
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (float& l : logits) l = normal(gen);
  logits[777] = 5.0f;  // a clear favourite that still leaves plenty of mass in the tail
  const std::vector<int> history = {1, 2, 3, 777, 129279};

  struct Case {
    int top_k;
    float top_p;
    float min_p;
  };
  for (const Case& k : {Case{0, 1.0f, 0.0f}, Case{50, 1.0f, 0.0f}, Case{0, 0.95f, 0.0f},
                        Case{40, 0.9f, 0.05f}, Case{0, 1.0f, 0.1f}}) {
    SamplerConfig c = Config(1.0f, 9);
    c.top_k = k.top_k;
    c.top_p = k.top_p;
    c.min_p = k.min_p;
    c.repetition_penalty = 1.1f;
    Sampler s(c);
    const auto start = std::chrono::steady_clock::now();
    const int calls = 20;
    for (int i = 0; i < calls; ++i) {
      const int id = s.Sample(logits, history);
      ASSERT_GE(id, 0);
      ASSERT_LT(id, vocab);
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count() /
        calls;
    // Generous bound (a loaded 2-core CI box); the point is no quadratic behaviour.
    EXPECT_LT(ms, 100.0) << "top_k " << k.top_k << " top_p " << k.top_p;
    RecordProperty("ms_per_call_k" + std::to_string(k.top_k), std::to_string(ms));
  }
}

}  // namespace
}  // namespace gorae
