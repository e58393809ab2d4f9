// The R1 recipe's commands driven as a user runs them: gorae demo --quick (every stage, in
// seconds), tasks, eval (JSON last line, user JSONL, errors with line numbers), grpo (metrics,
// resume equal to an uninterrupted run, bad options).
#include <filesystem>

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace gorae {
namespace {

using testing::ReadFile;
using testing::RunGorae;
using testing::TempDir;
using testing::WriteFile;

// One quick demo for the whole file: its stage models are the fixtures.
class RecipeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    demo_ = new testing::CommandResult(RunGorae("demo --quick --no-progress --threads 1 --out " + *dir_ / "demo"));
  }
  static void TearDownTestSuite() {
    delete demo_;
    delete dir_;
  }
  static std::string Demo(const std::string& sub) { return *dir_ / ("demo/" + sub); }
  static TempDir* dir_;
  static testing::CommandResult* demo_;
};
TempDir* RecipeCli::dir_ = nullptr;
testing::CommandResult* RecipeCli::demo_ = nullptr;

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::stringstream ss(ReadFile(path));
  for (std::string line; std::getline(ss, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

TEST_F(RecipeCli, DemoLeavesAModelPerStageAndAReportCard) {
  ASSERT_EQ(demo_->exit_code, 0) << demo_->err << demo_->out;
  for (const char* stage : {"base", "sft", "grpo"}) {
    EXPECT_TRUE(std::filesystem::exists(Demo(stage) + "/config.json")) << stage;
    EXPECT_TRUE(std::filesystem::exists(Demo(stage) + "/tokenizer.json")) << stage;
  }
  EXPECT_NE(demo_->out.find("| grpo  |"), std::string::npos) << demo_->out;
  EXPECT_NE(ReadFile(Demo("report.md")).find("| sft   |"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(Demo("runs/grpo/grpo.svg")));
  // The final model answers through the ordinary commands.
  auto r = RunGorae("generate --model " + Demo("grpo") + " --chat \"What is 347 + 589?\" --max-tokens 8 --temperature 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A second demo into the same directory refuses instead of overwriting.
  auto again = RunGorae("demo --quick --no-progress --out " + Demo(""));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already holds a demo run"), std::string::npos) << again.err;
}

TEST_F(RecipeCli, GrpoWritesMetricsAndResumesExactly) {
  ASSERT_EQ(demo_->exit_code, 0) << demo_->err;
  const std::string common = "grpo --model " + Demo("sft") +
                             " --task arithmetic,countdown --steps 3 --prompts 2 --group 3 --max-new-tokens 16 "
                             "--mu 2 --threads 1 --no-progress --out ";
  auto whole = RunGorae(common + *dir_ / "g1");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const auto lines = JsonLines(*dir_ / "g1/metrics.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  for (const char* key : {"reward_mean", "reward_std", "accuracy", "response_length", "kl", "clip_fraction", "entropy",
                          "rollout_tokens_per_s", "update_s", "loss", "grad_norm", "wrong_statements"}) {
    EXPECT_TRUE(lines[2].contains(key)) << key;
  }
  EXPECT_LE(lines[0]["rollout_tokens"].get<int>(), 2 * 3 * 16);  // prompts x group x max new tokens
  EXPECT_GT(lines[0]["rollout_tokens"].get<int>(), 0);
  auto part = RunGorae(common + *dir_ / "g2" + " --stop-after 1");
  ASSERT_EQ(part.exit_code, 0) << part.err;
  auto rest = RunGorae(common + *dir_ / "g2" + " --resume");
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  const auto resumed = JsonLines(*dir_ / "g2/metrics.jsonl");
  ASSERT_EQ(resumed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(resumed[i]["rollout_tokens"], lines[i]["rollout_tokens"]) << i;
    EXPECT_EQ(resumed[i]["reward_mean"].get<double>(), lines[i]["reward_mean"].get<double>()) << i;
    EXPECT_EQ(resumed[i]["loss"].get<double>(), lines[i]["loss"].get<double>()) << i;
    EXPECT_EQ(resumed[i]["grad_norm"].get<double>(), lines[i]["grad_norm"].get<double>()) << i;
  }
  // The final weights and the AdamW moments are the same bytes.
  for (const char* f : {"model.safetensors", "optimizer.safetensors"}) {
    EXPECT_TRUE(gorae::testing::SameFileBytes(*dir_ / ("g1/checkpoint/" + std::string(f)),
                                              *dir_ / ("g2/checkpoint/" + std::string(f))));
  }
}

TEST_F(RecipeCli, GrpoDynamicSamplingDropsGroupsWithoutSignal) {
  ASSERT_EQ(demo_->exit_code, 0) << demo_->err;
  const std::string common = "grpo --model " + Demo("sft") +
                             " --task arithmetic,linear --steps 2 --prompts 2 --group 3 --max-new-tokens 12 "
                             "--threads 1 --no-progress ";
  // No reward at all: every group's rewards are equal, so all 3 batches are sampled, nothing is
  // kept, and the weights are those of the starting model.
  auto none = RunGorae(common + "--dynamic-sampling 3 --accuracy-weight 0 --format-weight 0 --out " + *dir_ / "ds0");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  for (const auto& m : JsonLines(*dir_ / "ds0/metrics.jsonl")) {
    EXPECT_EQ(m["groups_sampled"], 6) << m.dump();
    EXPECT_EQ(m["groups_kept"], 0) << m.dump();
    EXPECT_EQ(m["grad_norm"], 0.0) << m.dump();
  }
  auto before = RunGorae("logits --model " + Demo("sft") + " --tokens \"1 2 3\"");
  auto after = RunGorae("logits --model " + *dir_ / "ds0/checkpoint" + " --tokens \"1 2 3\"");
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(before.out, after.out);
  // With rewards: never more groups kept than --prompts, never more batches than asked for.
  auto some = RunGorae(common + "--dynamic-sampling 3 --format-weight 1 --out " + *dir_ / "ds1");
  ASSERT_EQ(some.exit_code, 0) << some.err;
  for (const auto& m : JsonLines(*dir_ / "ds1/metrics.jsonl")) {
    EXPECT_LE(m["groups_kept"].get<int>(), 2) << m.dump();
    EXPECT_GE(m["groups_sampled"].get<int>(), 2) << m.dump();
    EXPECT_LE(m["groups_sampled"].get<int>(), 6) << m.dump();
  }
  auto bad = RunGorae(common + "--dynamic-sampling -1 --out " + *dir_ / "ds2");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--dynamic-sampling must be >= 0"), std::string::npos) << bad.err;
}

TEST_F(RecipeCli, GrpoRefusesBadInput) {
  ASSERT_EQ(demo_->exit_code, 0) << demo_->err;
  auto g1 = RunGorae("grpo --model " + Demo("sft") + " --group 1 --out " + *dir_ / "bad1");
  EXPECT_EQ(g1.exit_code, 1);
  EXPECT_NE(g1.err.find("--group must be at least 2"), std::string::npos) << g1.err;
  // A model directory without a tokenizer.
  const std::string bare = *dir_ / "bare";
  std::filesystem::create_directories(bare);
  std::filesystem::copy(Demo("sft") + "/config.json", bare + "/config.json");
  std::filesystem::copy(Demo("sft") + "/model.safetensors", bare + "/model.safetensors");
  auto g2 = RunGorae("grpo --model " + bare + " --out " + *dir_ / "bad2");
  EXPECT_EQ(g2.exit_code, 1);
  EXPECT_NE(g2.err.find("no tokenizer.json"), std::string::npos) << g2.err;
  auto g3 = RunGorae("grpo --model " + Demo("sft") + " --task sudoku --out " + *dir_ / "bad3");
  EXPECT_EQ(g3.exit_code, 1);
  EXPECT_NE(g3.err.find("sudoku"), std::string::npos) << g3.err;
  EXPECT_EQ(g3.signal, 0);
  auto g4 = RunGorae("grpo --model " + Demo("sft") + " --step-weight -0.5 --out " + *dir_ / "bad4");
  EXPECT_EQ(g4.exit_code, 1);
  EXPECT_NE(g4.err.find("--step-weight must be >= 0"), std::string::npos) << g4.err;
}

TEST_F(RecipeCli, EvalReadsUserJsonlAndEndsWithJson) {
  ASSERT_EQ(demo_->exit_code, 0) << demo_->err;
  const std::string file = *dir_ / "mine.jsonl";
  WriteFile(file,
            "{\"task\": \"gsm8k\", \"prompt\": \"Tom has 3 apples and buys 4 more. How many?\", \"answer\": \"7\"}\n"
            "\n"
            "{\"task\": \"arithmetic\", \"prompt\": \"What is 12 + 30?\", \"answer\": \"42\"}\n");
  auto r = RunGorae("eval --model " + Demo("grpo") + " --data " + file +
                    " --samples 2 --max-new-tokens 12 --threads 1 --no-progress --responses " + *dir_ / "resp.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  const auto j = nlohmann::json::parse(last);
  // --responses: a line per problem, in order, whose verdicts are the ones counted.
  const auto responses = JsonLines(*dir_ / "resp.jsonl");
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0]["task"], "gsm8k");
  EXPECT_EQ(responses[1]["answer"], "42");
  int right = 0;
  for (const auto& x : responses) {
    EXPECT_TRUE(x["response"].is_string());
    EXPECT_LE(x["tokens"].get<int>(), 12);
    EXPECT_TRUE(x["finish"] == "stop" || x["finish"] == "length") << x.dump();
    right += x["correct"].get<bool>();
  }
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), right / 2.0);
  EXPECT_DOUBLE_EQ(j["accuracy_se"].get<double>(), std::sqrt(right / 2.0 * (1 - right / 2.0) / 2));
  EXPECT_EQ(j["n"], 2);
  EXPECT_TRUE(j["per_task"].contains("gsm8k"));
  EXPECT_TRUE(j["per_task"]["arithmetic"].contains("pass@2"));
  EXPECT_TRUE(j["per_task"]["arithmetic"].contains("maj@2"));
  EXPECT_GE(j["accuracy"].get<double>(), 0.0);

  WriteFile(file, "{\"task\": \"arithmetic\", \"prompt\": \"What is 1 + 1?\", \"answer\": \"2\"}\n{\"task\": oops}\n");
  auto bad = RunGorae("eval --model " + Demo("grpo") + " --data " + file);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("line 2"), std::string::npos) << bad.err;
  WriteFile(file, "{\"task\": \"arithmetic\", \"prompt\": \"What is 1 + 1?\", \"answer\": \"two\"}\n");
  auto unparsable = RunGorae("eval --model " + Demo("grpo") + " --data " + file);
  EXPECT_EQ(unparsable.exit_code, 1);
  EXPECT_NE(unparsable.err.find("line 1"), std::string::npos) << unparsable.err;
}

TEST_F(RecipeCli, TasksWritesProblemsThatEvalAndSftRead) {
  auto r = RunGorae("tasks --task linear --split dev --n 5 --out " + *dir_ / "p.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = JsonLines(*dir_ / "p.jsonl");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["task"], "linear");
  EXPECT_EQ(lines[0]["prompt"].get<std::string>().rfind("Solve for x: ", 0), 0u);
  auto sft = RunGorae("tasks --task countdown --n 3 --format sft --out " + *dir_ / "s.jsonl");
  ASSERT_EQ(sft.exit_code, 0) << sft.err;
  const auto conv = JsonLines(*dir_ / "s.jsonl");
  ASSERT_EQ(conv.size(), 3u);
  EXPECT_EQ(conv[0]["messages"][1]["role"], "assistant");
  EXPECT_EQ(conv[0]["messages"][1]["content"].get<std::string>().rfind("<answer>", 0), 0u);
}

}  // namespace
}  // namespace gorae
