// The GRPO objective against its PyTorch reference (tools/grpo_ref.py: TRL's formulas in float64
// autograd), and the model-side forward + backward (ModelStep's weight hook) against finite
// differences of the same loss.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/presets.h"
#include "rl/grpo_loss.h"
#include "rl/grpo_step.h"
#include "test_util.h"

namespace gorae::rl {
namespace {

nlohmann::json LoadGolden() {
  std::ifstream in(std::string(GORAE_SOURCE_DIR) + "/tests/golden/rl/grpo_loss.json");
  return nlohmann::json::parse(in);
}

TEST(GrpoLoss, MatchesPyTorchReference) {
  const nlohmann::json golden = LoadGolden();
  ASSERT_EQ(golden["cases"].size(), 3u);
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"];
    GrpoLossConfig lc;
    lc.eps_low = c["eps_low"];
    lc.eps_high = c["eps_high"];
    lc.beta = c["beta"];
    lc.aggregation = *ParseLossAggregation(c["loss_type"].get<std::string>());
    lc.max_completion_length = c["max_completion_length"];
    const double temp = c["temperature"];
    const int64_t G = c["group"], V = c["vocab"], L = lc.max_completion_length;
    const auto logits = c["logits"].get<std::vector<float>>();
    const auto tokens = c["tokens"].get<std::vector<int>>();
    const auto lengths = c["lengths"].get<std::vector<int64_t>>();
    const auto old = c["old_logp"].get<std::vector<double>>();
    const auto ref = c["ref_logp"].get<std::vector<double>>();
    const auto rewards = c["rewards"].get<std::vector<double>>();
    const auto& ex = c["expected"];
    const int64_t S = static_cast<int64_t>(rewards.size());

    const auto adv = ComputeAdvantages(rewards, G, *ParseRewardScaling(c["scale_rewards"].get<std::string>()));
    const auto ex_adv = ex["advantages"].get<std::vector<double>>();
    for (int64_t s = 0; s < S; ++s) EXPECT_NEAR(adv[s], ex_adv[s], 1e-9) << name << " advantage " << s;

    int64_t total = 0;
    for (int64_t n : lengths) total += n;
    double loss = 0, kl = 0;
    int64_t clipped = 0;
    std::vector<double> grad(logits.size(), 0.0);
    for (int64_t s = 0; s < S; ++s) {
      const double w = TokenWeight(lc.aggregation, lengths[s], S, total, L);
      for (int64_t t = 0; t < lengths[s]; ++t) {
        const size_t row = static_cast<size_t>(s * L + t);
        std::span<const float> z(&logits[row * V], static_cast<size_t>(V));
        const TokenLogProb lp = LogProbAndEntropy(z, tokens[row], temp);
        const TokenTerms tt = GrpoTokenTerms(lp.logp, old[row], ref[row], adv[s], lc);
        loss += w * tt.loss;
        kl += tt.kl;
        clipped += tt.clipped;
        // d logp / d z_v = (onehot_v - softmax(z / T)_v) / T
        const double p_target = std::exp(lp.logp);
        for (int64_t v = 0; v < V; ++v) {
          const double p = std::exp(LogProbAndEntropy(z, static_cast<int>(v), temp).logp);
          const double onehot = v == tokens[row] ? 1.0 : 0.0;
          grad[row * V + v] = w * tt.d_logp * (onehot - p) / temp;
        }
        (void)p_target;
      }
    }
    EXPECT_NEAR(loss, ex["loss"].get<double>(), 1e-6) << name;
    EXPECT_NEAR(static_cast<double>(clipped) / total, ex["clip_fraction"].get<double>(), 1e-12) << name;
    if (lc.beta != 0) EXPECT_NEAR(kl / total, ex["kl_mean"].get<double>(), 1e-6) << name;
    const auto ex_grad = ex["grad_logits"].get<std::vector<double>>();
    const auto worst = gorae::testing::MaxAbsDiff(ex_grad, grad);
    EXPECT_LT(worst.value, 1e-6) << name << ", worst at " << worst.at;
  }
}

TEST(GrpoLoss, AdvantagesOfAConstantGroupAreZero) {
  const std::vector<double> r = {1, 1, 1, 0, 1, 0};
  for (RewardScaling s : {RewardScaling::kGroup, RewardScaling::kBatch, RewardScaling::kNone}) {
    const auto a = ComputeAdvantages(r, 3, s);
    EXPECT_EQ(a[0], 0.0);
    EXPECT_EQ(a[2], 0.0);
    EXPECT_LT(a[3], 0.0);  // 0 in a group with mean 1/3
    EXPECT_GT(a[4], 0.0);
  }
}

TEST(GrpoLoss, ParsesNamesAndRefusesOthers) {
  EXPECT_TRUE(ParseLossAggregation("dapo").ok());
  EXPECT_FALSE(ParseLossAggregation("ppo").ok());
  EXPECT_NE(ParseRewardScaling("std").status().message().find("std"), std::string::npos);
}

// Through the model: the loss GrpoForwardBackward reports, differentiated numerically in a random
// direction of each parameter tensor, equals its backward's gradient. Routing goes to every
// expert (top-k is piecewise constant; see tests/train/grad_test.cc).
TEST(GrpoStep, GradientMatchesFiniteDifferences) {
  ModelConfig c = *PresetConfig("tiny", 2);
  c.vocab_size = 64;
  c.num_experts_per_tok = c.n_routed_experts;
  c.topk_group = c.n_group;
  auto model = train::TrainModel::Create(c, 1);
  ASSERT_TRUE(model.ok()) << model.status().message();
  (*model)->InitRandom(3);
  train::ModelStep runner(**model);

  // Two groups of two completions of different lengths after prompts of different lengths.
  std::vector<Sequence> seqs(4);
  uint64_t st = 9;
  auto next = [&](uint64_t n) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    return (st >> 33) % n;
  };
  for (size_t i = 0; i < seqs.size(); ++i) {
    Sequence& s = seqs[i];
    s.prompt_len = 3 + static_cast<int64_t>(i % 2);
    const int64_t comp = 2 + static_cast<int64_t>(i);
    for (int64_t k = 0; k < s.prompt_len + comp; ++k) s.tokens.push_back(static_cast<int>(next(64)));
    s.mask.assign(static_cast<size_t>(comp), 1);
    s.mask[1] = 0;  // a masked-out token inside the completion
    s.advantage = i % 2 ? 0.8 : -1.1;
    s.weight = 1.0 / (4.0 * comp);
    s.old_logp.assign(static_cast<size_t>(comp), 0.0f);
    s.ref_logp.assign(static_cast<size_t>(comp), 0.0f);
  }
  std::vector<Sequence*> ptrs;
  for (Sequence& s : seqs) ptrs.push_back(&s);
  const double temp = 0.8;
  // Sampling and reference log-probs near the current ones, so ratios sit inside the trust
  // region (the clip is piecewise constant) and the KL term is non-trivial.
  ASSERT_TRUE(RecordLogProbs(**model, ptrs, 0, temp, false).ok());
  ASSERT_TRUE(RecordLogProbs(**model, ptrs, 0, temp, true).ok());
  for (Sequence& s : seqs) {
    for (size_t j = 0; j < s.old_logp.size(); ++j) {
      s.old_logp[j] += 0.05f * (static_cast<float>(next(100)) / 100 - 0.5f);
      s.ref_logp[j] += 0.6f * (static_cast<float>(next(100)) / 100 - 0.5f);
    }
  }
  GrpoLossConfig lc;
  lc.beta = 0.3;
  lc.eps_low = lc.eps_high = 0.5;

  (*model)->ZeroGrad();
  PassStats ps;
  ASSERT_TRUE(GrpoForwardBackward(runner, ptrs, 0, temp, lc, true, true, &ps).ok());
  EXPECT_EQ(ps.tokens, 2 + 3 + 4 + 5 - 4);  // the masked token of each sequence left out
  EXPECT_EQ(ps.clipped, 0);
  EXPECT_GT(ps.kl, 0.0);

  uint64_t state = 42;
  auto rnd = [&]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) * 0x1.0p-24) * 2.0f - 1.0f;
  };
  // The finite differences below run backward too; keep the gradients of the first call.
  std::vector<std::vector<float>> grads;
  for (const train::ParamTensor& t : (*model)->tensors()) grads.emplace_back(t.grad, t.grad + t.n);
  int tested = 0;
  for (size_t k = 0; k < (*model)->tensors().size(); ++k) {
    train::ParamTensor& t = (*model)->tensors()[k];
    if (!t.trainable) continue;
    if (t.name.find("layers.2.") != std::string::npos || t.name.find("mtp") != std::string::npos) continue;
    std::vector<float> dir(static_cast<size_t>(t.n)), saved(t.param, t.param + t.n);
    const std::vector<float>& grad = grads[k];
    double analytic = 0, norm = 0;
    for (int64_t i = 0; i < t.n; ++i) {
      dir[i] = rnd();
      analytic += static_cast<double>(grad[i]) * dir[i];
      norm += static_cast<double>(dir[i]) * dir[i];
    }
    if (norm == 0) continue;
    const float eps = 1e-3f / static_cast<float>(std::sqrt(norm / t.n));
    auto loss_at = [&](float s) {
      for (int64_t i = 0; i < t.n; ++i) t.param[i] = saved[i] + s * eps * dir[i];
      PassStats p;
      EXPECT_TRUE(GrpoForwardBackward(runner, ptrs, 0, temp, lc, true, true, &p).ok());
      return p.loss;
    };
    const double numeric = (loss_at(1) - loss_at(-1)) / (2 * eps);
    std::copy(saved.begin(), saved.end(), t.param);
    EXPECT_NEAR(numeric, analytic, 2e-2 * std::fabs(analytic) + 1e-4) << t.name;
    ++tested;
  }
  EXPECT_GT(tested, 15);
}

}  // namespace
}  // namespace gorae::rl
