// `gorae sft` end to end: pretrain a tiny model, fine-tune it on a conversation file, and chat
// with the result; bad input gives clear errors naming the file, line or directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "train/data.h"

namespace gorae::train {
namespace {

using gorae::testing::RunGorae;
using gorae::testing::TempDir;
using gorae::testing::WriteFile;

class SftCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string text;
    for (const std::string& d : SyntheticReasoningCorpus(300, 5)) text += d + "\n";
    WriteFile(*dir_ / "corpus.txt", text);
    auto r = RunGorae("tokenizer train --data " + (*dir_ / "corpus.txt") + " --vocab-size 300 --split-digits --out " +
                      (*dir_ / "tok") + " --no-progress --threads 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunGorae("pretrain --config tiny --layers 2 --tokenizer " + (*dir_ / "tok") + " --data " + (*dir_ / "corpus.txt") +
                 " --out " + (*dir_ / "pre") + " --steps 10 --batch 4 --seq 32 --threads 1 --no-progress");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string chats;
    for (int i = 0; i < 20; ++i) {
      const int a = 10 + i, b = 3 + i % 4;
      nlohmann::json conv = {{"messages",
                              {{{"role", "system"}, {"content", "Answer briefly."}},
                               {{"role", "user"}, {"content", "What is " + std::to_string(a) + " + " + std::to_string(b) + "?"}},
                               {{"role", "assistant"},
                                {"content", "Answer: " + std::to_string(a + b)},
                                {"reasoning_content", std::to_string(a) + " + " + std::to_string(b)}}}}};
      chats += conv.dump() + "\n";
    }
    WriteFile(chats_path(), chats);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string chats_path() { return *dir_ / "chats.jsonl"; }
  static std::string Base(const std::string& out) {
    return "sft --model " + (*dir_ / "pre") + " --data " + chats_path() + " --out " + out +
           " --batch 4 --seq 64 --lr 3e-3 --threads 1 --no-progress";
  }
  static TempDir* dir_;
};
TempDir* SftCli::dir_ = nullptr;

TEST_F(SftCli, FineTunesAndChats) {
  TempDir out;
  const auto r = RunGorae(Base(out.path()) + " --epochs 3 --val-fraction 0.25");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("15 for training"), std::string::npos) << r.err;
  std::vector<nlohmann::json> m;
  {
    std::ifstream in(out / "metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) m.push_back(nlohmann::json::parse(line));
  }
  ASSERT_EQ(m.size(), 12u);  // 15 conversations in 4 micro-batches, 3 epochs
  for (const char* key : {"loss", "ce", "lr", "tokens_per_s", "epoch", "targets", "padding", "val_loss"}) {
    EXPECT_TRUE(m.back().contains(key)) << key;
  }
  EXPECT_LT(m.back()["ce"].get<double>(), m.front()["ce"].get<double>());
  EXPECT_TRUE(std::filesystem::exists(out / "loss.svg"));
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                        "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_TRUE(std::filesystem::exists(out / ("checkpoint/" + std::string(f)))) << f;
  }
  const auto g = RunGorae("generate --model " + (out / "checkpoint") +
                          " --chat \"What is 12 + 4?\" --max-tokens 8 --temperature 0 --quiet");
  EXPECT_EQ(g.exit_code, 0) << g.err;
  // And the fine-tuned checkpoint can be fine-tuned again.
  TempDir again;
  const auto r2 = RunGorae("sft --model " + (out / "checkpoint") + " --data " + chats_path() + " --out " + again.path() +
                           " --steps 1 --threads 1 --no-progress");
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
}

TEST_F(SftCli, BadInputGivesClearErrors) {
  TempDir t;
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    const auto r = RunGorae(args);
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_EQ(r.signal, 0);
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
  };
  WriteFile(t / "bad.jsonl", R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})"
                             "\n" R"({"messages": [{"role": "robot", "content": "hi"}]})" "\n");
  expect_error("sft --model " + (*dir_ / "pre") + " --data " + (t / "bad.jsonl") + " --out " + (t / "o1"),
               "bad.jsonl:2: message 1: role 'robot'");
  // A model directory without a tokenizer.
  std::filesystem::create_directories(t / "notok");
  std::filesystem::copy_file(*dir_ / "pre/checkpoint/config.json", t / "notok/config.json");
  std::filesystem::copy_file(*dir_ / "pre/checkpoint/model.safetensors", t / "notok/model.safetensors");
  expect_error("sft --model " + (t / "notok") + " --data " + chats_path() + " --out " + (t / "o2"),
               "'" + (t / "notok") + "' has no tokenizer.json");
  expect_error("sft --model " + (t / "nothing") + " --data " + chats_path() + " --out " + (t / "o3"), "does not exist");
  expect_error("sft --data " + chats_path() + " --out " + (t / "o4"), "--model");
  // Starting over an existing run is refused; resuming one continues it.
  ASSERT_EQ(RunGorae(Base(t / "run") + " --steps 2").exit_code, 0);
  expect_error(Base(t / "run") + " --steps 2", "--resume");
  const auto r = RunGorae("sft --resume --out " + (t / "run") + " --steps 3 --threads 1 --no-progress");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gorae::train
