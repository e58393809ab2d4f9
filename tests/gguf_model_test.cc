// GGUF models end to end: every golden HF model is converted with ConvertToGguf (llama.cpp's
// names, keys and llama q/k row order), loaded back through Model::Load("*.gguf"), and must give
// the reference logits (F32: 1e-4 as the HF path; Q8_0: same argmax at most positions, bounded
// error). Q4_K on a random model whose rows are whole super-blocks, against the same model in HF
// layout. Bad files give errors that name the architecture, type, tensor or file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/gguf_model.h"
#include "model/random_init.h"
#include "model/transformer.h"
#include "test_util.h"

namespace gorae {
namespace {

const std::string kGoldenDir = std::string(GORAE_SOURCE_DIR) + "/tests/golden/models";

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("gorae_gguf_model_" + name)).string();
}

std::vector<float> AllLogits(const Model& m, const std::vector<int>& ids, MlaMode mode) {
  const int64_t V = m.config().vocab_size;
  std::vector<float> logits(ids.size() * V);
  KVCache cache = m.NewCache(mode);
  const Status s = m.Forward({ids.data(), ids.size()}, cache, logits.data(), true);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

struct Agreement {
  float max_abs = 0;      // largest |a - b|
  float max_ref = 0;      // largest |b|, for scale
  int same_argmax = 0;    // positions whose argmax agrees
};
Agreement Compare(const std::vector<float>& got, const std::vector<float>& ref, int64_t V) {
  Agreement a;
  const int64_t T = static_cast<int64_t>(ref.size()) / V;
  a.max_abs = static_cast<float>(gorae::testing::MaxAbsDiff(ref, got).value);  // +inf on a NaN
  for (int64_t t = 0; t < T; ++t) {
    const float* g = &got[t * V];
    const float* r = &ref[t * V];
    for (int64_t v = 0; v < V; ++v) a.max_ref = std::max(a.max_ref, std::fabs(r[v]));
    a.same_argmax += std::max_element(g, g + V) - g == std::max_element(r, r + V) - r;
  }
  return a;
}

// The golden cases llama.cpp's keys can express (v3_sigmoid_noaux_yarn has mscale != mscale_all_dim,
// v2_group_limited_f16_sharded moe_layer_freq 2: both refused at conversion).
const std::vector<std::string> kConvertible = {"llama3_gqa_f32", "qwen2_gqa_bias_bf16", "v2lite_softmax_greedy_bf16",
                                               "dense_only", "v3_fp8_block"};

class GgufGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufGoldenTest, ConvertedModelGivesReferenceLogits) {
  const std::string dir = kGoldenDir + "/" + GetParam();
  const auto expected = nlohmann::json::parse(testing::ReadFile(dir + "/expected.json"));
  const std::vector<int> ids = expected["tokens"].get<std::vector<int>>();
  std::vector<float> ref;
  for (const auto& row : expected["logits"]) {
    for (const auto& x : row) ref.push_back(x.get<float>());
  }
  for (GgmlType type : {GgmlType::kF32, GgmlType::kQ8_0}) {
    const std::string path = TempPath(GetParam() + "_" + GgmlTypeName(type) + ".gguf");
    auto summary = ConvertToGguf(dir, path, type);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    auto model = Model::Load(path);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_TRUE((*model)->weights().unused.empty()) << "unused tensor " << (*model)->weights().unused[0];
    const int64_t V = (*model)->config().vocab_size, T = static_cast<int64_t>(ids.size());
    for (MlaMode mode : {MlaMode::kNaive, MlaMode::kAbsorbed}) {
      const Agreement a = Compare(AllLogits(**model, ids, mode), ref, V);
      std::printf("%s %s %s: max |err| %.3g (logits up to %.3g), argmax %d/%lld\n", GetParam().c_str(),
                  GgmlTypeName(type), mode == MlaMode::kNaive ? "naive" : "absorbed", a.max_abs, a.max_ref,
                  a.same_argmax, static_cast<long long>(T));
      if (type == GgmlType::kF32) {
        EXPECT_LT(a.max_abs, 1e-4f);
        EXPECT_EQ(a.same_argmax, T);
      } else {
        // 8-bit weights and activations on tiny random-ish models: measured 3-6% of the largest
        // logit; near-ties may flip, so most (not all) positions keep their argmax.
        EXPECT_LT(a.max_abs, 0.1f * a.max_ref);
        EXPECT_GE(a.same_argmax * 10, T * 8);
      }
    }
    std::filesystem::remove(path);
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GgufGoldenTest, ::testing::ValuesIn(kConvertible));

TEST(GgufModelTest, Q4KRandomLlamaMatchesItsHfModel) {
  // Row lengths of 256 and 512 so that every matrix is a whole number of Q4_K super-blocks.
  const std::string cfg = R"({"model_type": "llama", "vocab_size": 512, "hidden_size": 256,
    "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 64, "max_position_embeddings": 512, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
    "tie_word_embeddings": false})";
  auto config = ParseModelConfig(cfg, "test config");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const std::string dir = TempPath("q4k_llama");
  ASSERT_TRUE(WriteRandomModel(dir, *config, DType::kF32, 7).ok());
  auto hf = Model::Load(dir);
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  const std::vector<int> ids = {1, 17, 300, 42, 511, 8, 99, 256, 3, 77, 150, 2};
  const std::vector<float> ref = AllLogits(**hf, ids, MlaMode::kAbsorbed);
  for (GgmlType type : {GgmlType::kF32, GgmlType::kQ8_0, GgmlType::kQ6_K, GgmlType::kQ4_K}) {
    const std::string path = TempPath(std::string("q4k_llama_") + GgmlTypeName(type) + ".gguf");
    auto summary = ConvertToGguf(dir, path, type);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    auto model = Model::Load(path);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const Matrix& wq = (*model)->weights().layers[0].attn.q_proj;
    EXPECT_EQ(wq.is_quantized() ? wq.quant : (wq.dtype == DType::kF32 ? GgmlType::kF32 : GgmlType::kF16), type);
    const Agreement a = Compare(AllLogits(**model, ids, MlaMode::kAbsorbed), ref, 512);
    std::printf("random llama %s (%s): max |err| %.3g (logits up to %.3g), argmax %d/%zu\n", GgmlTypeName(type),
                summary->c_str(), a.max_abs, a.max_ref, a.same_argmax, ids.size());
    // Relative to the largest logit; measured Q8_0 1.2%, Q6_K 3.6%, Q4_K 13%.
    const float bound = type == GgmlType::kF32 ? 1e-4f : type == GgmlType::kQ4_K ? 0.25f : 0.08f;
    EXPECT_LT(a.max_abs, bound * (type == GgmlType::kF32 ? 1.0f : a.max_ref));
    std::filesystem::remove(path);
  }
  std::filesystem::remove_all(dir);
}

// Changes the ggml type id of one tensor in a written GGUF file (its info: name, u32 n_dims,
// u64 ne[n_dims], u32 type).
void PatchTensorType(const std::string& path, const std::string& name, int n_dims, uint32_t type) {
  std::string bytes = testing::ReadFile(path);
  const uint64_t len = name.size();
  const std::string needle = std::string(reinterpret_cast<const char*>(&len), 8) + name;
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos) << name;
  std::memcpy(&bytes[at + needle.size() + 4 + 8 * n_dims], &type, 4);
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(GgufModelTest, BadFilesGiveErrorsNamingTheProblem) {
  const std::string dir = kGoldenDir + "/llama3_gqa_f32";
  const std::string path = TempPath("bad.gguf");
  ASSERT_TRUE(ConvertToGguf(dir, path, GgmlType::kF32).ok());

  // A type gorae has no kernels for (IQ4_NL: 18-byte blocks of 32, smaller than the F32 data).
  PatchTensorType(path, "blk.0.attn_q.weight", 2, static_cast<uint32_t>(GgmlType::kIQ4_NL));
  auto m = Model::Load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("IQ4_NL"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("blk.0.attn_q.weight"), std::string::npos) << m.status().message();

  // An architecture gorae does not run.
  ASSERT_TRUE(ConvertToGguf(dir, path, GgmlType::kF32).ok());
  {
    std::string bytes = testing::ReadFile(path);
    const size_t at = bytes.find("llama");  // the value of general.architecture comes first
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at, 5, "gemma");
    std::ofstream(path, std::ios::binary) << bytes;
  }
  m = Model::Load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("architecture 'gemma'"), std::string::npos) << m.status().message();

  // A truncated file.
  ASSERT_TRUE(ConvertToGguf(dir, path, GgmlType::kF32).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  m = Model::Load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(path), std::string::npos) << m.status().message();

  // A config llama.cpp's keys cannot hold is refused at conversion, naming the fields.
  auto yarn = ConvertToGguf(kGoldenDir + "/v3_sigmoid_noaux_yarn", path, GgmlType::kF32);
  ASSERT_FALSE(yarn.ok());
  EXPECT_NE(yarn.status().message().find("mscale_all_dim"), std::string::npos) << yarn.status().message();
  std::filesystem::remove(path);
}

TEST(GgufModelTest, LlamaRowPermutationIsLlamaCppsAndInvertible) {
  // One head of 4 rows: llama.cpp's permute reshapes (2, 2) -> swaps -> rows [0, 2, 1, 3].
  const uint8_t hf[4] = {10, 11, 12, 13};
  uint8_t gguf[4], back[4];
  PermuteLlamaRows(hf, gguf, 1, 4, 1, true);
  EXPECT_EQ(std::vector<uint8_t>(gguf, gguf + 4), (std::vector<uint8_t>{10, 12, 11, 13}));
  PermuteLlamaRows(gguf, back, 1, 4, 1, false);
  EXPECT_EQ(std::vector<uint8_t>(back, back + 4), std::vector<uint8_t>(hf, hf + 4));
}

TEST(GgufModelTest, TensorNamesAreLlamaCpps) {
  EXPECT_EQ(HfToGgufName("model.layers.3.self_attn.kv_a_proj_with_mqa.weight")->name, "blk.3.attn_kv_a_mqa.weight");
  auto e = HfToGgufName("model.layers.12.mlp.experts.45.down_proj.weight");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->name, "blk.12.ffn_down_exps.weight");
  EXPECT_EQ(e->expert, 45);
  EXPECT_EQ(HfToGgufName("model.layers.0.mlp.gate.e_score_correction_bias")->name, "blk.0.exp_probs_b.bias");
  EXPECT_EQ(HfToGgufName("lm_head.weight")->name, "output.weight");
  EXPECT_FALSE(HfToGgufName("model.layers.x.mlp.gate.weight").ok());
}

}  // namespace
}  // namespace gorae
