// The gorae binary as a user runs it: machine-readable output that matches the library, and
// bad input that ends in a clear message and exit code 1, never a crash.
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "infer/generate.h"
#include "io/safetensors.h"
#include "model/random_init.h"
#include "model/transformer.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace gorae {
namespace {

using testing::RunGorae;
using testing::TempDir;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(WriteRandomModel(dir_.path(), testing::TinyV3Config(), DType::kBF16, 7).ok()); }
  // A copy of the model directory that a test may damage.
  std::string Copy(const TempDir& into) {
    std::filesystem::copy(dir_.path(), into.path(), std::filesystem::copy_options::recursive);
    return into.path();
  }
  void ExpectCleanFailure(const std::string& args, const std::string& message_part) {
    const auto r = RunGorae(args);
    EXPECT_EQ(r.signal, 0) << "crashed: " << args << "\n" << r.err;
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(message_part), std::string::npos) << "stderr of '" << args << "' lacks '" << message_part
                                                          << "':\n" << r.err;
  }
  TempDir dir_;
};

TEST_F(CliTest, LogitsJsonMatchesLibraryForEveryPathAndMode) {
  const std::vector<int> ids = {5, 17, 3, 90, 42, 8};
  auto model = Model::Load(dir_.path());
  ASSERT_TRUE(model.ok());
  const int64_t V = (*model)->config().vocab_size;
  std::vector<float> expected(ids.size() * V);
  KVCache cache = (*model)->NewCache(MlaMode::kNaive);
  ASSERT_TRUE((*model)->Forward(ids, cache, expected.data(), true).ok());

  for (const char* extra : {"", "--prefill 2 --mla naive", "--prefill 0 --mla absorbed"}) {
    const auto r = RunGorae("logits --model " + dir_.path() + " --tokens '5 17 3 90 42 8' " + extra);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["logits"].size(), ids.size());
    for (size_t t = 0; t < ids.size(); ++t) {
      ASSERT_EQ(j["logits"][t].size(), static_cast<size_t>(V));
      for (int64_t v = 0; v < V; ++v) {
        ASSERT_NEAR(j["logits"][t][v].get<float>(), expected[t * V + v], 1e-4) << extra << " t " << t;
      }
    }
  }
}

TEST_F(CliTest, GenerateGreedyFollowsArgmax) {
  const auto r = RunGorae("generate --model " + dir_.path() + " --tokens '4 9' --max-tokens 5 --temperature 0 "
                          "--ignore-eos --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto model = Model::Load(dir_.path());
  ASSERT_TRUE(model.ok());
  const int64_t V = (*model)->config().vocab_size;
  std::vector<int> seq = {4, 9};
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    KVCache cache = (*model)->NewCache(MlaMode::kNaive);
    std::vector<float> logits(V);
    ASSERT_TRUE((*model)->Forward(seq, cache, logits.data(), false).ok());
    const int next = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    expected += (i ? " " : "") + std::to_string(next);
    seq.push_back(next);
  }
  EXPECT_EQ(r.out, expected + "\n");
}

TEST_F(CliTest, InfoCountsEveryCheckpointParameter) {
  const auto r = RunGorae("info --json --model " + dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  auto ckpt = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(ckpt.ok());
  int64_t numel = 0;
  for (const auto& [name, t] : (*ckpt)->tensors()) numel += t->numel();
  EXPECT_EQ(j["params"]["total"].get<int64_t>(), numel);
  EXPECT_LT(j["params"]["activated_per_token"].get<int64_t>(), numel);
  const auto& c = testing::TinyV3Config();
  EXPECT_EQ(j["kv_cache_bytes_per_token"]["absorbed"].get<int64_t>(),
            c.num_hidden_layers * (c.kv_lora_rank + c.qk_rope_head_dim) * 4);
  EXPECT_TRUE(j["unused_tensors"].empty());
  const auto text = RunGorae("info --model " + dir_.path());
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("activated per token"), std::string::npos);
}

TEST_F(CliTest, MissingDirectory) {
  ExpectCleanFailure("logits --model /nonexistent/model --tokens 1", "/nonexistent/model");
}

TEST_F(CliTest, MalformedConfigJson) {
  TempDir d;
  Copy(d);
  testing::WriteFile(d / "config.json", "{\"model_type\": \"deepseek_v3\", ");
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1", "config.json: not valid JSON");
}

// generate stops at the model's context (max_position_embeddings), whatever --max-tokens says,
// and refuses a prompt that fills it.
TEST_F(CliTest, GenerateStaysWithinTheContext) {
  TempDir d;
  Copy(d);
  auto j = nlohmann::json::parse(testing::ReadFile(d / "config.json"));
  j["max_position_embeddings"] = 8;
  testing::WriteFile(d / "config.json", j.dump());
  const auto r = RunGorae("generate --model " + d.path() + " --tokens '1 2 3 4 5 6' --max-tokens 100 --ignore-eos "
                          "--temperature 0 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ids = ParseTokenList(r.out);
  ASSERT_TRUE(ids.ok()) << r.out;
  EXPECT_EQ(ids->size(), 2u) << r.out;
  ExpectCleanFailure("generate --model " + d.path() + " --tokens '1 2 3 4 5 6 7 8'", "the model's context is 8");
}

TEST_F(CliTest, UnknownArchitecture) {
  TempDir d;
  Copy(d);
  auto j = nlohmann::json::parse(testing::ReadFile(d / "config.json"));
  j["model_type"] = "gemma";
  testing::WriteFile(d / "config.json", j.dump());
  ExpectCleanFailure("info --model " + d.path(), "model_type 'gemma' is not supported");
}

TEST_F(CliTest, MissingAndMistypedConfigFields) {
  TempDir d;
  Copy(d);
  auto j = nlohmann::json::parse(testing::ReadFile(d / "config.json"));
  j.erase("hidden_size");
  testing::WriteFile(d / "config.json", j.dump());
  ExpectCleanFailure("info --model " + d.path(), "missing field 'hidden_size'");
  j["hidden_size"] = "big";
  testing::WriteFile(d / "config.json", j.dump());
  ExpectCleanFailure("info --model " + d.path(), "field 'hidden_size' must be an integer");
  j["hidden_size"] = 48;
  j["num_experts_per_tok"] = 9;
  testing::WriteFile(d / "config.json", j.dump());
  ExpectCleanFailure("info --model " + d.path(), "'num_experts_per_tok' (9) is larger than 'n_routed_experts' (8)");
}

TEST_F(CliTest, TruncatedWeights) {
  TempDir d;
  Copy(d);
  const std::string path = d / "model.safetensors";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1", "model.safetensors");
  std::filesystem::resize_file(path, 5);
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1", "too short");
}

TEST_F(CliTest, TensorWithWrongShape) {
  TempDir d;
  Copy(d);
  auto j = nlohmann::json::parse(testing::ReadFile(d / "config.json"));
  j["kv_lora_rank"] = 20;  // the file's kv tensors are built for 24
  testing::WriteFile(d / "config.json", j.dump());
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1",
                     "tensor 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight'");
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1", "expected shape [28, 48], file has [32, 48]");
}

TEST_F(CliTest, MissingTensor) {
  TempDir d;
  Copy(d);
  auto j = nlohmann::json::parse(testing::ReadFile(d / "config.json"));
  j["q_lora_rank"] = nullptr;  // now a plain q_proj is expected, and the file has none
  testing::WriteFile(d / "config.json", j.dump());
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1",
                     "tensor 'model.layers.0.self_attn.q_proj.weight' is missing");
}

TEST_F(CliTest, TensorWithUnsupportedDtype) {
  TempDir d;
  Copy(d);
  // Rename the final norm's dtype in the header to I16 (same element size, so offsets stay valid).
  std::string bytes = testing::ReadFile(d / "model.safetensors");
  const size_t at = bytes.find("\"model.norm.weight\"");
  ASSERT_NE(at, std::string::npos);
  const size_t dt = bytes.find("\"BF16\"", at);
  ASSERT_NE(dt, std::string::npos);
  bytes.replace(dt, 6, "\"I16\" ");
  testing::WriteFile(d / "model.safetensors", bytes);
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1", "tensor 'model.norm.weight'");
  ExpectCleanFailure("logits --model " + d.path() + " --tokens 1", "dtype I16 is not supported");
}

TEST_F(CliTest, BadTokens) {
  ExpectCleanFailure("logits --model " + dir_.path() + " --tokens '1 97'", "token id 97 at position 1");
  ExpectCleanFailure("logits --model " + dir_.path() + " --tokens '1 x 2'", "'x' is not an integer token id");
  ExpectCleanFailure("logits --model " + dir_.path() + " --tokens '1 -3'", "token id -3");
  ExpectCleanFailure("generate --model " + dir_.path() + " --tokens '' ", "exactly one of --tokens, --prompt, --chat");
  ExpectCleanFailure("generate --model " + dir_.path() + " --tokens 1 --prompt hi", "exactly one of");
  ExpectCleanFailure("generate --model " + dir_.path() + " --prompt hi", "tokenizer.json");  // no tokenizer there
  ExpectCleanFailure("generate --model " + dir_.path() + " --tokens 1 --top-p 1.5", "top-p");
  ExpectCleanFailure("logits --model " + dir_.path() + " --tokens '1 2' --prefill 3", "--prefill 3");
}

// Text in, text out: --prompt and --chat go through the real DeepSeek-V3 tokenizer and give the
// decoded text of exactly the ids that --tokens gives for the same encoded prompt.
TEST(CliText, PromptAndChatStreamDecodedText) {
  const std::string tok_dir = std::string(GORAE_SOURCE_DIR) + "/../shared/data/deepseek-v3-tokenizer";
  if (!std::filesystem::exists(tok_dir + "/tokenizer.json")) GTEST_SKIP() << "no " << tok_dir;
  TempDir dir;
  ModelConfig c = testing::TinyV3Config();
  c.vocab_size = 129280;
  c.eos_token_ids = {1};
  ASSERT_TRUE(WriteRandomModel(dir.path(), c, DType::kBF16, 3).ok());
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    std::filesystem::copy_file(tok_dir + "/" + f, dir / f);
  }
  auto tok = tokenizer::Tokenizer::Load(dir.path());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::string flags = " --max-tokens 6 --temperature 0 --ignore-eos --quiet";

  struct Case {
    std::string arg, text;
    bool chat;
  };
  for (const Case& k : {Case{"--prompt 'The whale'", "The whale", false}, Case{"--chat 'Hi there'", "Hi there", true}}) {
    std::string rendered = k.text;
    if (k.chat) {
      auto r = (*tok)->RenderChat({{"user", k.text, std::nullopt}}, true);
      ASSERT_TRUE(r.ok());
      rendered = *r;
    }
    auto ids = (*tok)->Encode(rendered, /*add_bos=*/!k.chat);
    ASSERT_TRUE(ids.ok());
    std::string id_list;
    for (int32_t id : *ids) id_list += std::to_string(id) + " ";
    const auto by_ids = RunGorae("generate --model " + dir.path() + " --tokens '" + id_list + "'" + flags);
    ASSERT_EQ(by_ids.exit_code, 0) << by_ids.err;
    auto out_ids = ParseTokenList(by_ids.out);
    ASSERT_TRUE(out_ids.ok());
    std::vector<int32_t> gen(out_ids->begin(), out_ids->end());
    ASSERT_EQ(gen.size(), 6u);
    auto expected = (*tok)->Decode(gen, /*skip_special=*/true);
    ASSERT_TRUE(expected.ok());
    const auto by_text = RunGorae("generate --model " + dir.path() + " " + k.arg + flags);
    ASSERT_EQ(by_text.exit_code, 0) << by_text.err;
    EXPECT_EQ(by_text.out, *expected + "\n") << k.arg;
  }
}


// A model whose output is NaN: `gorae logits` still writes valid JSON (null for each non-finite
// value) and fails naming the first position and token, instead of printing `nan`.
TEST(CliLogits, NonFiniteLogitsAreNullAndAnError) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomModel(dir.path(), testing::TinyV3Config(), DType::kF32, 7).ok());
  // The final norm's weights set to NaN, in place in model.safetensors.
  const std::string path = dir / "model.safetensors";
  std::string bytes = testing::ReadFile(path);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, header_len));
  const auto& t = header.at("model.norm.weight");
  ASSERT_EQ(t.at("dtype"), "F32");
  const size_t begin = 8 + header_len + t.at("data_offsets")[0].get<size_t>();
  const size_t end = 8 + header_len + t.at("data_offsets")[1].get<size_t>();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t at = begin; at < end; at += 4) std::memcpy(&bytes[at], &nan, 4);
  testing::WriteFile(path, bytes);
  const auto r = RunGorae("logits --model " + dir.path() + " --tokens \"1 2 3\"");
  EXPECT_EQ(r.signal, 0) << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("are not finite (the first at position 0, token 0), written as null"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "stdout is not valid JSON: " << r.out.substr(0, 200);
  EXPECT_TRUE(j["logits"][0][0].is_null());
}

}  // namespace
}  // namespace gorae
