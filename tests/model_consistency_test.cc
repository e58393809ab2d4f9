// The cache paths compute the same function as one full pass: full vs prefill + incremental
// decoding, and naive vs absorbed MLA, on random models of several shapes and dtypes.
#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "model/random_init.h"
#include "model/transformer.h"
#include "test_util.h"

namespace gorae {
namespace {

using testing::TempDir;

struct Case {
  const char* name;
  ModelConfig config;
  DType dtype;
};

std::vector<Case> Cases() {
  ModelConfig fp8 = testing::TinyV3Config();
  fp8.hidden_size = 160;  // > one 128-block, with a partial edge block
  fp8.moe_intermediate_size = 136;
  ModelConfig group_limited = testing::TinyV2LiteConfig();
  group_limited.topk_method = TopkMethod::kGroupLimitedGreedy;
  group_limited.n_group = 4;
  group_limited.topk_group = 2;
  group_limited.norm_topk_prob = true;
  group_limited.moe_layer_freq = 2;
  group_limited.first_k_dense_replace = 0;
  ModelConfig dense = testing::TinyV3Config();
  dense.n_routed_experts = 0;
  ModelConfig llama = testing::TinyQwen2Config();
  llama.model_type = "llama";
  llama.arch = Architecture::kLlama;
  llama.qkv_bias = llama.o_bias = true;
  llama.num_key_value_heads = 1;
  llama.llama3.enabled = true;
  llama.llama3.original_max_position_embeddings = 32;
  return {{"v3_f32", testing::TinyV3Config(), DType::kF32},
          {"v2lite_bf16", testing::TinyV2LiteConfig(), DType::kBF16},
          {"group_limited_f16", group_limited, DType::kF16},
          {"v3_fp8", fp8, DType::kF8E4M3},
          {"dense_f32", dense, DType::kF32},
          {"qwen2_bf16", testing::TinyQwen2Config(), DType::kBF16},
          {"llama3_bias_f16", llama, DType::kF16}};
}

std::vector<float> RunLogits(const Model& m, const std::vector<int>& ids, MlaMode mode, size_t prefill) {
  const int64_t V = m.config().vocab_size;
  std::vector<float> out(ids.size() * V);
  KVCache cache = m.NewCache(mode);
  if (prefill > 0) EXPECT_TRUE(m.Forward({ids.data(), prefill}, cache, out.data(), true).ok());
  for (size_t t = prefill; t < ids.size(); ++t) {
    EXPECT_TRUE(m.Forward({ids.data() + t, 1}, cache, out.data() + t * V, true).ok());
  }
  EXPECT_EQ(cache.size(), static_cast<int64_t>(ids.size()));
  return out;
}

// Fails (+infinity) on any non-finite value or a length mismatch (test_util.h).
double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  return gorae::testing::MaxAbsDiff(a, b).value;
}

class ConsistencyTest : public ::testing::TestWithParam<Case> {};

TEST_P(ConsistencyTest, FullIncrementalNaiveAbsorbedAgree) {
  const Case& c = GetParam();
  TempDir dir;
  ASSERT_TRUE(WriteRandomModel(dir.path(), c.config, c.dtype, 1234).ok());
  auto model = Model::Load(dir.path());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<int> ids(20);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>((i * 37 + 11) % c.config.vocab_size);

  const auto reference = RunLogits(**model, ids, MlaMode::kNaive, ids.size());
  float scale = 0;
  for (float v : reference) scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 0.1f) << "logits are degenerate";
  for (MlaMode mode : {MlaMode::kNaive, MlaMode::kAbsorbed}) {
    for (size_t prefill : {ids.size(), size_t{0}, size_t{1}, size_t{7}}) {
      const auto got = RunLogits(**model, ids, mode, prefill);
      EXPECT_LT(MaxAbsDiff(got, reference), 1e-4f * std::max(1.0f, scale))
          << MlaModeName(mode) << " prefill " << prefill;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ConsistencyTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// Several sequences stepped together (continuous batching) give each sequence the logits it gets
// alone: mixed prompt lengths in one batched prefill, then batched decode steps, both MLA modes.
class BatchTest : public ::testing::TestWithParam<ModelConfig> {};

TEST_P(BatchTest, BatchOfSequencesEqualsEachAlone) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomModel(dir.path(), GetParam(), DType::kBF16, 99).ok());
  auto model = Model::Load(dir.path());
  ASSERT_TRUE(model.ok());
  const int64_t V = (*model)->config().vocab_size;
  const std::vector<std::vector<int>> prompts = {{5, 6, 7, 8, 9}, {40}, {11, 90, 3}};
  const std::vector<std::vector<int>> decode = {{20, 21, 22}, {30, 31, 32}, {50, 51, 52}};
  for (MlaMode mode : {MlaMode::kNaive, MlaMode::kAbsorbed}) {
    std::vector<KVCache> alone, batched;
    std::vector<std::vector<float>> want(3), got(3);
    for (int s = 0; s < 3; ++s) {
      alone.push_back((*model)->NewCache(mode));
      batched.push_back((*model)->NewCache(mode));
      want[s].resize((prompts[s].size() + 3) * V);
      got[s].resize(want[s].size());
      ASSERT_TRUE((*model)->Forward(prompts[s], alone[s], want[s].data(), true).ok());
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE((*model)->Forward({&decode[s][i], 1}, alone[s], &want[s][(prompts[s].size() + i) * V], true).ok());
      }
    }
    std::vector<Model::SequenceStep> steps;
    for (int s = 0; s < 3; ++s) steps.push_back({prompts[s], &batched[s], got[s].data(), true});
    ASSERT_TRUE((*model)->ForwardBatch(steps).ok());
    for (int i = 0; i < 3; ++i) {
      steps.clear();
      // sequence 1 sits out step 1: batches change membership between steps
      for (int s = 0; s < 3; ++s) {
        if (s == 1 && i == 1) continue;
        steps.push_back({{&decode[s][i], 1}, &batched[s], &got[s][(prompts[s].size() + i) * V], false});
      }
      ASSERT_TRUE((*model)->ForwardBatch(steps).ok());
      if (i == 1) ASSERT_TRUE((*model)->Forward({&decode[1][1], 1}, batched[1], &got[1][(prompts[1].size() + 1) * V], false).ok());
    }
    for (int s = 0; s < 3; ++s) {
      EXPECT_EQ(batched[s].size(), alone[s].size());
      EXPECT_LT(MaxAbsDiff(got[s], want[s]), 1e-4f) << MlaModeName(mode) << " sequence " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, BatchTest,
                         ::testing::Values(testing::TinyV3Config(), testing::TinyQwen2Config()),
                         [](const auto& info) { return info.param.model_type; });

// A truncated cache continues as if the forgotten tokens had never been fed.
TEST(ModelForward, TruncatedCacheRecomputesTheSameLogits) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomModel(dir.path(), testing::TinyV3Config(), DType::kF32, 5).ok());
  auto model = Model::Load(dir.path());
  ASSERT_TRUE(model.ok());
  const int64_t V = (*model)->config().vocab_size;
  const std::vector<int> ids = {3, 14, 15, 92, 65, 35};
  KVCache cache = (*model)->NewCache(MlaMode::kAbsorbed);
  std::vector<float> full(ids.size() * V), again(3 * V);
  ASSERT_TRUE((*model)->Forward(ids, cache, full.data(), true).ok());
  cache.Truncate(3);
  EXPECT_EQ(cache.size(), 3);
  ASSERT_TRUE((*model)->Forward({ids.data() + 3, 3}, cache, again.data(), true).ok());
  EXPECT_LT(MaxAbsDiff(again, std::vector<float>(full.begin() + 3 * V, full.end())), 1e-5f);
}

TEST(ModelForward, RejectsOutOfRangeTokenWithoutCaching) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomModel(dir.path(), testing::TinyV3Config(), DType::kF32, 1).ok());
  auto model = Model::Load(dir.path());
  ASSERT_TRUE(model.ok());
  KVCache cache = (*model)->NewCache(MlaMode::kAbsorbed);
  std::vector<float> logits(97 * 2);
  const std::vector<int> ids = {3, 97};
  Status s = (*model)->Forward(ids, cache, logits.data(), true);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("token id 97 at position 1"), std::string::npos) << s.message();
  EXPECT_EQ(cache.size(), 0);
}

}  // namespace
}  // namespace gorae
