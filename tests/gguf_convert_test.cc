// `gorae convert` both ways with the tokenizer: a Hugging Face directory with tokenizer.json
// becomes a GGUF file that generate/chat/serve run from alone (its tokenizer in tokenizer.ggml.*),
// and a GGUF file becomes a self-contained Hugging Face directory again (config.json,
// model.safetensors, tokenizer.json, tokenizer_config.json) with the same logits and tokens.
// ConvertGgufToHf on the golden models gives their reference logits.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "model/gguf_convert.h"
#include "model/gguf_model.h"
#include "model/random_init.h"
#include "model/transformer.h"
#include "test_util.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace gorae {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::RunGorae;
using testing::TempDir;
using testing::WriteFile;

const std::string kSrc = GORAE_SOURCE_DIR;

std::vector<float> Logits(const Model& m, const std::vector<int>& ids) {
  std::vector<float> logits(ids.size() * m.config().vocab_size);
  KVCache cache = m.NewCache(MlaMode::kAbsorbed);
  const Status s = m.Forward({ids.data(), ids.size()}, cache, logits.data(), true);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

// GGUF -> Hugging Face on the golden models: converted to GGUF F32 and back to F32 safetensors,
// each must give the reference logits as the original directory does (1e-4).
class GgufToHfGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufToHfGolden, ReferenceLogits) {
  const std::string dir = kSrc + "/tests/golden/models/" + GetParam();
  const auto expected = nlohmann::json::parse(ReadFile(dir + "/expected.json"));
  const auto ids = expected["tokens"].get<std::vector<int>>();
  std::vector<float> ref;
  for (const auto& row : expected["logits"])
    for (const auto& x : row) ref.push_back(x.get<float>());
  TempDir tmp;
  const std::string gguf = tmp / "m.gguf", back = tmp / "hf";
  ASSERT_TRUE(ConvertToGguf(dir, gguf, GgmlType::kF32).ok());
  auto summary = ConvertGgufToHf(gguf, back, DType::kF32);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  auto model = Model::Load(back);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::vector<float> got = Logits(**model, ids);
  ASSERT_EQ(got.size(), ref.size());
  const auto worst = gorae::testing::MaxAbsDiff(ref, got);
  EXPECT_LT(worst.value, 1e-4) << GetParam() << ", worst at " << worst.at;
  // The GGUF file and the directory made from it compute the same thing.
  auto from_gguf = Model::Load(gguf);
  ASSERT_TRUE(from_gguf.ok());
  EXPECT_EQ(Logits(**from_gguf, ids), got);
}

INSTANTIATE_TEST_SUITE_P(Models, GgufToHfGolden,
                         ::testing::Values("qwen2_gqa_bias_bf16", "v2lite_softmax_greedy_bf16", "dense_only",
                                           "v3_fp8_block"));

TEST(GgufToHf, Llama3RopeScalingIsRefused) {
  TempDir tmp;
  ASSERT_TRUE(ConvertToGguf(kSrc + "/tests/golden/models/llama3_gqa_f32", tmp / "m.gguf", GgmlType::kF32).ok());
  auto r = ConvertGgufToHf(tmp / "m.gguf", tmp / "hf", DType::kF32);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status().message().find("rope_freqs.weight"), std::string::npos) << r.status().message();
}

TEST(GgufToHf, Bf16) {
  TempDir tmp;
  const std::string dir = kSrc + "/tests/golden/models/dense_only";
  ASSERT_TRUE(ConvertToGguf(dir, tmp / "m.gguf", GgmlType::kF16).ok());
  auto r = ConvertGgufToHf(tmp / "m.gguf", tmp / "hf", DType::kBF16);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->find("BF16"), std::string::npos) << *r;
  auto config = nlohmann::json::parse(ReadFile(tmp / "hf/config.json"));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  EXPECT_TRUE(Model::Load(tmp / "hf").ok());
}

// ---- the CLI, with a tokenizer ----

// A random qwen2 model whose vocabulary is the qwen2_style test tokenizer's (padded to 1400 ids,
// as real models pad theirs), with a tokenizer_config.json carrying DeepSeek-V3's chat template.
class ConvertCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelConfig c = testing::TinyQwen2Config();
    c.vocab_size = 1400;
    c.eos_token_ids = {2};  // <|im_end|>
    ASSERT_TRUE(WriteRandomModel(hf_, c, DType::kF32, 7).ok());
    fs::copy_file(kSrc + "/tests/tokenizer/data/qwen2_style/tokenizer.json", hf_ + "/tokenizer.json");
    nlohmann::json cfg = {{"bos_token", nullptr},
                          {"eos_token", "<|im_end|>"},
                          {"chat_template", ReadFile(kSrc + "/tests/tokenizer/data/deepseek_v3.jinja")}};
    WriteFile(hf_ + "/tokenizer_config.json", cfg.dump(2));
    fs::create_directories(alone_);
  }

  TempDir tmp_;
  const std::string hf_ = tmp_ / "hf", alone_ = tmp_ / "alone", gguf_ = tmp_ / "alone/m.gguf";
};

TEST_F(ConvertCli, RoundTripWithTokenizer) {
  // HF -> GGUF: the tokenizer goes in; what GGUF cannot say is a warning.
  auto r = RunGorae("convert --model " + hf_ + " --out " + gguf_ + " --type F32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tokenizer qwen2, 1400 tokens, 1072 merges"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("warning: added token 1331 '[MASK]'"), std::string::npos) << r.err;
  {
    auto f = GgufFile::Open(gguf_);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->GetString("tokenizer.ggml.pre").value(), "qwen2");
    EXPECT_EQ((*f)->ArrayLength("tokenizer.ggml.tokens").value(), 1400u);
    EXPECT_EQ((*f)->GetU32("tokenizer.ggml.eos_token_id").value(), 2u);
    EXPECT_FALSE((*f)->GetBool("tokenizer.ggml.add_bos_token").value());
    EXPECT_FALSE((*f)->Has("tokenizer.ggml.bos_token_id"));
  }

  // The GGUF file alone (no tokenizer.json beside it) runs with text, like the HF directory.
  for (const std::string args : {"--prompt 'Hello, world! 123'", "--chat 'What is 2+2?' --system 'Be brief.'"}) {
    const std::string common = " " + args + " --max-tokens 8 --temperature 0 --ignore-eos --quiet";
    auto a = RunGorae("generate --model " + gguf_ + common);
    auto b = RunGorae("generate --model " + hf_ + common);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(a.out, b.out) << args;
    EXPECT_GT(a.out.size(), 1u);
  }

  // GGUF -> HF: a self-contained directory, same logits and the same tokenizer.
  const std::string back = tmp_ / "back";
  r = RunGorae("convert --model " + gguf_ + " --out " + back + " --type F32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("qwen2, 27 tensors, F32; tokenizer.json, tokenizer_config.json"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(back + "/" + f)) << f;
  auto la = RunGorae("logits --model " + back + " --tokens '5 6 7 8'");
  auto lb = RunGorae("logits --model " + hf_ + " --tokens '5 6 7 8'");
  ASSERT_EQ(la.exit_code, 0) << la.err;
  EXPECT_EQ(la.out, lb.out);
  auto g = RunGorae("generate --model " + back + " --chat 'What is 2+2?' --max-tokens 8 --temperature 0 --ignore-eos --quiet");
  auto h = RunGorae("generate --model " + hf_ + " --chat 'What is 2+2?' --max-tokens 8 --temperature 0 --ignore-eos --quiet");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(g.out, h.out);

  auto t0 = tokenizer::Tokenizer::Load(hf_), t1 = tokenizer::Tokenizer::Load(back);
  ASSERT_TRUE(t0.ok() && t1.ok());
  for (const char* text : {"Hello, world! 123", "Ångström <|im_start|>x<|im_end|>", "  \n\tcode()\n"})
    EXPECT_EQ(*(*t1)->Encode(text), *(*t0)->Encode(text)) << text;
  EXPECT_EQ((*t1)->eos_id(), (*t0)->eos_id());
  EXPECT_TRUE((*t1)->chat_template().ok());
}

TEST_F(ConvertCli, TokenizerNextToTheGgufWins) {
  ASSERT_EQ(RunGorae("convert --model " + hf_ + " --out " + gguf_ + " --type F32 --no-tokenizer").exit_code, 0);
  auto f = GgufFile::Open(gguf_);
  ASSERT_TRUE(f.ok());
  // llama.cpp's "no vocabulary" marker, so that llama.cpp loads the file and runs it from ids.
  EXPECT_EQ((*f)->GetString("tokenizer.ggml.model").value(), "none");
  EXPECT_FALSE(tokenizer::GgufHasTokenizer(**f));
  EXPECT_FALSE((*f)->Has("tokenizer.ggml.tokens"));
  // No tokenizer in the file and none beside it: the error says where it looked.
  auto r = RunGorae("generate --model " + gguf_ + " --prompt hi --max-tokens 2 --quiet");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("tokenizer.ggml.model"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no tokenizer.json in '" + alone_ + "'"), std::string::npos) << r.err;
  // A tokenizer.json beside the file is used.
  fs::copy_file(hf_ + "/tokenizer.json", alone_ + "/tokenizer.json");
  r = RunGorae("generate --model " + gguf_ + " --prompt hi --max-tokens 2 --temperature 0 --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(ConvertCli, Errors) {
  // A pre-tokenizer llama.cpp has no name for: refused, with the way out.
  fs::copy_file(kSrc + "/tests/tokenizer/data/gpt2_style/tokenizer.json", hf_ + "/tokenizer.json",
                fs::copy_options::overwrite_existing);
  auto r = RunGorae("convert --model " + hf_ + " --out " + gguf_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pre-tokenizer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--no-tokenizer"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(gguf_));
  ASSERT_EQ(RunGorae("convert --model " + hf_ + " --out " + gguf_ + " --no-tokenizer").exit_code, 0);
  // GGUF -> HF takes F32 or BF16 only.
  r = RunGorae("convert --model " + gguf_ + " --out " + (tmp_ / "x") + " --type Q8_0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("F32 or BF16"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gorae
