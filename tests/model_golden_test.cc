// gorae's logits against the PyTorch reference (tools/deepseek_ref.py, float64) on the tiny
// checkpoints in tests/golden/models (regenerate: python3 tools/make_golden_models.py).
// Every case must match to 1e-4 max abs with the same argmax at every position, through every
// path: one full pass, prefill + incremental decoding, naive and absorbed MLA.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/transformer.h"
#include "test_util.h"

namespace gorae {
namespace {

const std::string kGoldenDir = std::string(GORAE_SOURCE_DIR) + "/tests/golden/models";

std::vector<std::string> GoldenCases() {
  std::vector<std::string> cases;
  for (const auto& e : std::filesystem::directory_iterator(kGoldenDir)) {
    if (std::filesystem::exists(e.path() / "expected.json")) cases.push_back(e.path().filename().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, LogitsMatchReference) {
  const std::string dir = kGoldenDir + "/" + GetParam();
  const auto expected = nlohmann::json::parse(testing::ReadFile(dir + "/expected.json"));
  const std::vector<int> ids = expected["tokens"].get<std::vector<int>>();
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE((*model)->weights().unused.empty()) << "unrecognised tensor " << (*model)->weights().unused[0];
  const int64_t V = (*model)->config().vocab_size, T = static_cast<int64_t>(ids.size());
  ASSERT_EQ(expected["logits"].size(), ids.size());

  for (MlaMode mode : {MlaMode::kNaive, MlaMode::kAbsorbed}) {
    for (int64_t prefill : {T, int64_t{1}, T / 2}) {
      std::vector<float> logits(T * V);
      KVCache cache = (*model)->NewCache(mode);
      ASSERT_TRUE((*model)->Forward({ids.data(), static_cast<size_t>(prefill)}, cache, logits.data(), true).ok());
      for (int64_t t = prefill; t < T; ++t) {
        ASSERT_TRUE((*model)->Forward({ids.data() + t, 1}, cache, logits.data() + t * V, true).ok());
      }
      gorae::testing::WorstDiff worst;
      for (int64_t t = 0; t < T; ++t) {
        const auto& row = expected["logits"][t];
        ASSERT_EQ(row.size(), static_cast<size_t>(V));
        int64_t ref_arg = 0, got_arg = 0;
        for (int64_t v = 0; v < V; ++v) {
          const float ref = row[v].get<float>(), got = logits[t * V + v];
          worst.Add(ref, got, t * V + v);
          if (ref > row[ref_arg].get<float>()) ref_arg = v;
          if (got > logits[t * V + got_arg]) got_arg = v;
        }
        EXPECT_EQ(got_arg, ref_arg) << MlaModeName(mode) << " prefill " << prefill << " position " << t;
      }
      EXPECT_LT(worst.value, 1e-4) << MlaModeName(mode) << " prefill " << prefill << ", worst at " << worst.at;
      RecordProperty(std::string(MlaModeName(mode)) + "_prefill" + std::to_string(prefill) + "_max_abs_err",
                     std::to_string(worst.value));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenTest, ::testing::ValuesIn(GoldenCases()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gorae
