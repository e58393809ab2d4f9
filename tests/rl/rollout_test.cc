// Batched rollouts against one-sequence generation: the same tokens (greedy and seeded
// sampling), log-probabilities equal to log softmax of the engine's logits, masks and finish
// reasons, and whole-call errors.
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
