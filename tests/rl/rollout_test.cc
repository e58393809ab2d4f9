// Batched rollouts against one-sequence generation: the same tokens (greedy and seeded
// sampling), log-probabilities equal to log softmax of the engine's logits, masks and finish
// reasons, and whole-call errors.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "infer/generate.h"
#include "model/presets.h"
#include "rl/grpo_loss.h"
#include "rl/rollout.h"
#include "train/train_model.h"

namespace gorae::rl {
namespace {

struct TinyPolicy {
  std::unique_ptr<train::TrainModel> params;
  std::unique_ptr<Model> model;
};

TinyPolicy MakePolicy() {
  ModelConfig c = *PresetConfig("tiny", 2);
  c.vocab_size = 64;
  TinyPolicy p;
  p.params = std::move(*train::TrainModel::Create(c, 0));
  p.params->InitRandom(11);
  p.model = std::move(*p.params->InferenceModel());
  return p;
}

const std::vector<std::vector<int>> kPrompts = {{1, 5, 9}, {2, 7}, {3, 3, 3, 3, 8}};

TEST(Rollout, GreedyEqualsGenerateOneByOne) {
  TinyPolicy p = MakePolicy();
  RolloutOptions o;
  o.max_new_tokens = 12;
  o.sampler.temperature = 0;
  o.stop_ids = {4};
  o.max_batch = 2;  // sequences join as others finish
  auto r = RunRollouts(*p.model, kPrompts, 2, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 6u);
  for (size_t k = 0; k < r->size(); ++k) {
    const Rollout& x = (*r)[k];
    EXPECT_EQ(x.prompt_index, static_cast<int64_t>(k / 2));
    SamplerConfig greedy;
    greedy.temperature = 0;
    Sampler s(greedy);
    KVCache cache = p.model->NewCache(MlaMode::kNaive);
    GenerateOptions g;
    g.max_new_tokens = o.max_new_tokens;
    g.stop_ids = o.stop_ids;
    auto want = Generate(*p.model, cache, kPrompts[x.prompt_index], s, g);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(x.tokens, want->tokens) << "sequence " << k;
    EXPECT_EQ(x.finish, want->finish);
    EXPECT_EQ(x.mask, std::vector<uint8_t>(x.tokens.size(), 1));
    EXPECT_TRUE(x.error.empty());
    // Each log-probability is that of the engine's logits after the prefix.
    std::vector<int> seq = kPrompts[x.prompt_index];
    for (size_t j = 0; j < x.tokens.size(); ++j) {
      KVCache c2 = p.model->NewCache(MlaMode::kNaive);
      std::vector<float> logits(64);
      ASSERT_TRUE(p.model->Forward(seq, c2, logits.data(), false).ok());
      EXPECT_NEAR(x.logprobs[j], LogProbAndEntropy(logits, x.tokens[j], 1.0).logp, 1e-4);
      seq.push_back(x.tokens[j]);
    }
  }
}

TEST(Rollout, PaddedIdsPastTheVocabLimitAreNeverSampled) {
  // Ids 40..63 stand for a model's padding past its tokenizer: with the limit set, neither
  // Generate nor the rollouts pick one, however hot the sampling; without it they do.
  TinyPolicy p = MakePolicy();
  auto sample_ids = [&](int64_t limit) {
    std::vector<int> ids;
    SamplerConfig hot;
    hot.temperature = 5.0f;
    hot.seed = 3;
    Sampler s(hot);
    KVCache cache = p.model->NewCache(MlaMode::kNaive);
    GenerateOptions g;
    g.max_new_tokens = 200;
    g.vocab_limit = limit;
    auto gen = Generate(*p.model, cache, kPrompts[0], s, g);
    EXPECT_TRUE(gen.ok());
    if (gen.ok()) ids = gen->tokens;
    RolloutOptions o;
    o.max_new_tokens = 100;
    o.sampler = hot;
    o.vocab_limit = limit;
    auto r = RunRollouts(*p.model, kPrompts, 2, o);
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      for (const Rollout& x : *r) ids.insert(ids.end(), x.tokens.begin(), x.tokens.end());
    }
    return ids;
  };
  const std::vector<int> limited = sample_ids(40), free = sample_ids(0);
  EXPECT_EQ(limited.size(), 800u);
  for (int id : limited) EXPECT_LT(id, 40);
  EXPECT_TRUE(std::any_of(free.begin(), free.end(), [](int id) { return id >= 40; }));

  std::vector<float> logits = {1, 2, 3, 4};
  MaskPastVocabLimit(logits, 2);
  EXPECT_EQ(logits[1], 2.0f);
  EXPECT_TRUE(std::isinf(logits[2]) && logits[3] < 0);
  std::vector<float> same = {1, 2};
  MaskPastVocabLimit(same, 0);
  MaskPastVocabLimit(same, 5);
  EXPECT_EQ(same, (std::vector<float>{1, 2}));
}

TEST(Rollout, SampledSequencesAreSeededPerSequence) {
  TinyPolicy p = MakePolicy();
  RolloutOptions o;
  o.max_new_tokens = 10;
  o.sampler.temperature = 1.0f;
  o.sampler.seed = 77;
  auto a = RunRollouts(*p.model, kPrompts, 4, o);
  o.max_batch = 3;  // another batching gives the same tokens: each sequence has its own sampler
  auto b = RunRollouts(*p.model, kPrompts, 4, o);
  ASSERT_TRUE(a.ok() && b.ok());
  bool differ_in_group = false;
  for (size_t k = 0; k < a->size(); ++k) {
    EXPECT_EQ((*a)[k].tokens, (*b)[k].tokens) << k;
    if (k % 4 && (*a)[k].tokens != (*a)[k - 1].tokens) differ_in_group = true;
  }
  EXPECT_TRUE(differ_in_group) << "the completions of a group should not all be equal";
}

TEST(Rollout, RejectsBadCalls) {
  TinyPolicy p = MakePolicy();
  RolloutOptions o;
  EXPECT_FALSE(RunRollouts(*p.model, kPrompts, 0, o).ok());
  EXPECT_FALSE(RunRollouts(*p.model, {{}}, 2, o).ok());
  auto r = RunRollouts(*p.model, {{1, 99}}, 2, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("99"), std::string::npos);
}

}  // namespace
}  // namespace gorae::rl
