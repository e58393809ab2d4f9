// SFT in-process: which tokens the loss counts (decoded and compared with the assistant text),
// conversation-file errors with file:line, templates whose prefixes are not stable, a short run
// on a tiny model lowering the loss, and resume equal to an uninterrupted run.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model/presets.h"
#include "test_util.h"
#include "tokenizer/trainer.h"
#include "train/checkpoint.h"
#include "train/sft.h"

namespace gorae::train {
namespace {

using gorae::testing::ReadFile;
using gorae::testing::TempDir;
using gorae::testing::WriteFile;
using tokenizer::ChatMessage;
using tokenizer::Tokenizer;

const std::string kEos = "<｜end▁of▁sentence｜>";

ChatMessage Msg(const std::string& role, const std::string& content, std::optional<std::string> reasoning = {}) {
  return ChatMessage{role, content, std::move(reasoning)};
}

// Small question/answer conversations about sums, all in one shape.
std::vector<Conversation> SumConversations(int n) {
  std::vector<Conversation> v;
  for (int i = 0; i < n; ++i) {
    const int a = 3 + i % 7, b = 2 + i % 5;
    v.push_back({{Msg("user", "What is " + std::to_string(a) + " plus " + std::to_string(b) + "?"),
                  Msg("assistant", "The sum is " + std::to_string(a + b) + ".",
                      "add " + std::to_string(a) + " and " + std::to_string(b))},
                 "sum " + std::to_string(i)});
  }
  return v;
}

// A tokenizer (gorae template) and a tiny random base model, made once.
class Sft : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string text;
    for (int i = 0; i < 200; ++i) {
      text += "What is " + std::to_string(i % 10) + " plus " + std::to_string(i % 7) + "? The sum is " +
              std::to_string(i % 10 + i % 7) + ". You are a helpful assistant. Hello there, how are you?\n";
    }
    WriteFile(*dir_ / "corpus.txt", text);
    tokenizer::TrainerOptions t;
    t.files = {*dir_ / "corpus.txt"};
    t.vocab_size = 320;
    t.out_dir = tok_dir();
    t.progress = false;
    t.threads = 1;
    ASSERT_TRUE(tokenizer::TrainTokenizer(t).ok());
    auto tok = Tokenizer::Load(tok_dir());
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tok_ = new std::shared_ptr<const Tokenizer>(*tok);

    auto config = PresetConfig("tiny", 2);
    ASSERT_TRUE(config.ok());
    config->vocab_size = 320;
    config->bos_token_id = (*tok)->bos_id();
    config->eos_token_ids = {(*tok)->eos_id()};
    auto model = TrainModel::Create(*config, 1);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    (*model)->InitRandom(7);
    AdamWState opt = NewAdamWState(**model);
    ASSERT_TRUE(SaveCheckpoint(base_dir(), **model, opt, {{"step", 0}, {"rng_state", 0}, {"options", {}}}, tok_dir()).ok());
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete dir_;
  }
  static std::string tok_dir() { return *dir_ / "tok"; }
  static std::string base_dir() { return *dir_ / "base"; }
  static const Tokenizer& tok() { return **tok_; }

  static SftOptions Options(const std::string& out) {
    SftOptions o;
    o.model = base_dir();
    o.conversations = SumConversations(24);
    o.out = out;
    o.batch = 4;
    o.lr = 3e-3;
    o.threads = 1;
    o.progress = false;
    o.val_fraction = 0.0;
    o.eval_every = 1000;
    o.save_every = 1000;
    return o;
  }
  static std::vector<nlohmann::json> Metrics(const std::string& out) {
    std::vector<nlohmann::json> v;
    std::ifstream in(out + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));
    return v;
  }

  static TempDir* dir_;
  static std::shared_ptr<const Tokenizer>* tok_;
};
TempDir* Sft::dir_ = nullptr;
std::shared_ptr<const Tokenizer>* Sft::tok_ = nullptr;

// The decoded text of each run of consecutive trained tokens.
std::vector<std::string> TrainedSpans(const Tokenizer& tok, const SftExample& ex) {
  std::vector<std::string> spans;
  std::vector<int32_t> cur;
  for (size_t i = 0; i <= ex.tokens.size(); ++i) {
    if (i < ex.tokens.size() && ex.train[i]) {
      cur.push_back(ex.tokens[i]);
    } else if (!cur.empty()) {
      spans.push_back(tok.Decode(cur).value());
      cur.clear();
    }
  }
  return spans;
}

TEST_F(Sft, MaskCoversExactlyTheAssistantTurns) {
  const Conversation conv{{Msg("system", "You are a helpful assistant."), Msg("user", "Hello there"),
                           Msg("assistant", "The sum is 9.", "add 4 and 5"), Msg("user", "how are you?"),
                           Msg("assistant", "Hello, you are 7.")},
                          "multi-turn"};
  auto ex = RenderForSft(tok(), conv);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  ASSERT_EQ(ex->tokens.size(), ex->train.size());
  // The whole example is the template's rendering, and only the two assistant turns count.
  EXPECT_EQ(tok().Decode(ex->tokens).value(), tok().RenderChat(conv.messages, false).value());
  const std::vector<std::string> expected = {"<think>\nadd 4 and 5\n</think>\n\nThe sum is 9." + kEos,
                                             "Hello, you are 7." + kEos};
  EXPECT_EQ(TrainedSpans(tok(), *ex), expected);
  // Each span follows an <｜Assistant｜> token.
  const int32_t assistant = *tok().TokenToId("<｜Assistant｜>");
  for (size_t i = 1; i < ex->tokens.size(); ++i) {
    if (ex->train[i] && !ex->train[i - 1]) {
      EXPECT_EQ(ex->tokens[i - 1], assistant) << i;
    }
  }
}

TEST_F(Sft, RefusesTemplatesWithoutStablePrefixes) {
  // A system message after the first turn moves to the top of the rendering.
  const Conversation late_system{{Msg("user", "Hello"), Msg("assistant", "Hi"), Msg("system", "Be brief."),
                                  Msg("user", "how are you?"), Msg("assistant", "fine")},
                                 "late"};
  auto r = RenderForSft(tok(), late_system);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("late: message 2"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("prefix"), std::string::npos) << r.status().message();

  // The DeepSeek-R1 template: its generation prompt opens "<think>\n", which history drops.
  TempDir d;
  std::filesystem::copy_file(tok_dir() + "/tokenizer.json", d / "tokenizer.json");
  nlohmann::json cfg = nlohmann::json::parse(ReadFile(tok_dir() + "/tokenizer_config.json"));
  for (const auto& [name, file] : {std::pair<std::string, std::string>{"r1", "deepseek_r1.jinja"}, {"v3", "deepseek_v3.jinja"}}) {
    cfg["chat_template"] = ReadFile(std::string(GORAE_SOURCE_DIR) + "/tests/tokenizer/data/" + file);
    WriteFile(d / "tokenizer_config.json", cfg.dump());
    auto t = Tokenizer::Load(d.path());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE((*t)->chat_template().ok()) << name;
    const Conversation plain{{Msg("user", "Hello"), Msg("assistant", "Hi there")}, name};
    auto e = RenderForSft(**t, plain);
    if (name == "r1") {
      ASSERT_FALSE(e.ok());
      EXPECT_NE(e.status().message().find("deepseek-r1 chat template the generation prompt is not a prefix"),
                std::string::npos) << e.status().message();
    } else {
      // V3 works, but would silently drop reasoning_content, so that is refused.
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      EXPECT_EQ(TrainedSpans(**t, *e), std::vector<std::string>{"Hi there" + kEos});
      const Conversation reasoning{{Msg("user", "Hello"), Msg("assistant", "Hi", "think")}, "v3r"};
      auto f = RenderForSft(**t, reasoning);
      ASSERT_FALSE(f.ok());
      EXPECT_NE(f.status().message().find("does not render reasoning_content"), std::string::npos);
    }
  }
}

TEST_F(Sft, FileErrorsNameFileAndLine) {
  TempDir d;
  const std::string good = R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})";
  auto expect_error = [&](const std::string& body, const std::string& needle) {
    const std::string path = d / "chats.jsonl";
    WriteFile(path, good + "\n\n" + body + "\n");
    auto r = ReadConversations({path});
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(r.status().message().find(path + ":3: "), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect_error("{\"messages\": [", "not valid JSON");
  expect_error(R"({"msgs": []})", "\"messages\"");
  expect_error(R"({"messages": {}})", "must be an array");
  expect_error(R"({"messages": [{"role": "bot", "content": "x"}]})", "role 'bot' is not system, user or assistant");
  expect_error(R"({"messages": [{"role": "user", "content": 3}]})", "message 1 (user): \"content\" must be a string");
  expect_error(R"({"messages": [{"role": "user", "content": "x"}]})", "no assistant message");
  expect_error(R"({"messages": [{"role": "user", "content": "x", "reasoning_content": "y"}, {"role": "assistant", "content": "z"}]})",
               "assistant messages only");
  auto ok = ReadConversations({d / "missing.jsonl"});
  ASSERT_FALSE(ok.ok());
  EXPECT_NE(ok.status().message().find("missing.jsonl"), std::string::npos);
  WriteFile(d / "fine.jsonl", good + "\n" + good + "\n");
  auto two = ReadConversations({d / "fine.jsonl"});
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].source, d / "fine.jsonl:2");
}

TEST_F(Sft, ShortRunLowersTheLossOnItsConversations) {
  TempDir out;
  SftOptions o = Options(out.path());
  o.epochs = 5;
  ASSERT_TRUE(RunSft(o).ok());
  const auto m = Metrics(out.path());
  ASSERT_EQ(m.size(), 30u);  // 24 conversations / batch 4 = 6 steps per epoch
  EXPECT_NEAR(m.back()["epoch"].get<double>(), 5.0, 1e-9);
  double first = 0, last = 0;
  for (int i = 0; i < 3; ++i) first += m[i]["ce"].get<double>() / 3;
  for (size_t i = m.size() - 3; i < m.size(); ++i) last += m[i]["ce"].get<double>() / 3;
  EXPECT_LT(last, first - 1.5) << "first " << first << " last " << last;
  EXPECT_GT(m[0]["targets"].get<int64_t>(), 0);
  EXPECT_TRUE(m[0].contains("mtp_ce"));
  EXPECT_TRUE(std::filesystem::exists(out / "loss.svg"));
  EXPECT_TRUE(std::filesystem::exists(out / "checkpoint/tokenizer_config.json"));
  EXPECT_TRUE(std::filesystem::exists(out / "checkpoint/optimizer.safetensors"));
}

TEST_F(Sft, ResumeEqualsUninterruptedRun) {
  TempDir a, b;
  SftOptions o = Options(a.path());
  o.steps = 9;
  o.accum = 2;
  o.schedule = "wsd";
  o.warmup = 2;
  o.val_fraction = 0.2;
  o.eval_every = 3;
  ASSERT_TRUE(RunSft(o).ok());
  o.out = b.path();
  o.stop_after = 4;
  ASSERT_TRUE(RunSft(o).ok());
  ASSERT_EQ(Metrics(b.path()).size(), 4u);
  SftOptions r;
  r.out = b.path();
  r.resume = true;
  r.conversations = SumConversations(24);
  r.threads = 1;
  r.progress = false;
  ASSERT_TRUE(RunSft(r).ok());
  const auto ma = Metrics(a.path()), mb = Metrics(b.path());
  ASSERT_EQ(ma.size(), 9u);
  ASSERT_EQ(mb.size(), 9u);
  for (size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i]["loss"].get<double>(), mb[i]["loss"].get<double>()) << i;
    EXPECT_EQ(ma[i]["lr"].get<double>(), mb[i]["lr"].get<double>());
    EXPECT_EQ(ma[i]["epoch"].get<double>(), mb[i]["epoch"].get<double>());
    // The resumed run also evaluates at its first step (for the progress line), so compare
    // where both evaluated.
    if (ma[i].contains("val_loss") && mb[i].contains("val_loss")) EXPECT_EQ(ma[i]["val_loss"].get<double>(), mb[i]["val_loss"].get<double>()) << i;
  }
  // The final weights, the AdamW moments and the trainer state are the same bytes.
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_TRUE(gorae::testing::SameFileBytes(a / ("checkpoint/" + std::string(f)), b / ("checkpoint/" + std::string(f))));
  }
  // Other conversations than those of the checkpoint are refused.
  r.conversations = SumConversations(23);
  auto s = RunSft(r);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("same data"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace gorae::train
