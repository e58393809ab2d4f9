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
  return {{"v3_f32", testing::TinyV3Config(), DType::kF32},
          {"v2lite_bf16", testing::TinyV2LiteConfig(), DType::kBF16},
          {"group_limited_f16", group_limited, DType::kF16},
          {"v3_fp8", fp8, DType::kF8E4M3},
          {"dense_f32", dense, DType::kF32}};
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

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
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
