// `gorae pretrain` end to end: falling validation loss, metrics, plot, loadable checkpoints,
// exact resume, the MTP and balancing knobs, and bad input (each a clear error, exit code 1,
// nothing saved lost).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "test_util.h"
#include "train/data.h"

namespace gorae::train {
namespace {

using gorae::testing::RunGorae;
using gorae::testing::TempDir;

// One tokenizer and corpus for every test (trained once, by the binary itself).
class PretrainCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string text;
    for (const std::string& d : SyntheticReasoningCorpus(600, 3)) text += d + "\n";
    gorae::testing::WriteFile(corpus(), text);
    const auto r = RunGorae("tokenizer train --data " + corpus() + " --vocab-size 300 --out " + tok() + " --no-progress");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string corpus() { return (*dir_) / "corpus.txt"; }
  static std::string tok() { return (*dir_) / "tok"; }
  static std::string Base(const std::string& out) {
    return "pretrain --config tiny --layers 2 --tokenizer " + tok() + " --data " + corpus() + " --out " + out +
           " --batch 4 --seq 32 --threads 1 --no-progress";
  }
  static std::vector<nlohmann::json> Metrics(const std::string& out) {
    std::vector<nlohmann::json> v;
    std::ifstream in(out + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));
    return v;
  }
  static TempDir* dir_;
};
TempDir* PretrainCli::dir_ = nullptr;

TEST_F(PretrainCli, TrainsTinyWithFallingValidationLoss) {
  TempDir out;
  const auto r = RunGorae(Base(out.path()) + " --steps 60 --eval-every 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = Metrics(out.path());
  ASSERT_EQ(m.size(), 60u);
  for (const char* key : {"step", "loss", "lr", "tokens_per_s", "ce", "mtp_ce", "grad_norm", "moe"}) {
    EXPECT_TRUE(m.back().contains(key)) << key;
  }
  std::vector<double> val;
  for (const auto& j : m) {
    if (j.contains("val_loss")) val.push_back(j["val_loss"]);
  }
  ASSERT_GE(val.size(), 3u);
  EXPECT_LT(val.back(), val.front() - 1.0) << "validation loss should fall clearly";
  for (const auto& b : m.back()["moe"]) {
    EXPECT_EQ(b["dropped_tokens"].get<int64_t>(), 0);
    EXPECT_GT(b["router_entropy"].get<double>(), 0.0);
    EXPECT_EQ(b["load"].size(), 8u);
  }
  EXPECT_TRUE(std::filesystem::exists(out / "loss.svg"));
  EXPECT_NE(gorae::testing::ReadFile(out / "loss.svg").find("<polyline"), std::string::npos);
  // The checkpoint is a model directory the inference engine loads.
  const auto logits = RunGorae("logits --model " + (out / "checkpoint") + " --tokens \"1 5 9\"");
  EXPECT_EQ(logits.exit_code, 0) << logits.err;
  EXPECT_NE(logits.out.find("\"logits\""), std::string::npos);
}

TEST_F(PretrainCli, ResumeEqualsUninterruptedRun) {
  TempDir a, b;
  const std::string opts = " --steps 16 --eval-every 4 --save-every 5 --accum 2 --schedule wsd --warmup 3";
  ASSERT_EQ(RunGorae(Base(a.path()) + opts).exit_code, 0);
  ASSERT_EQ(RunGorae(Base(b.path()) + opts + " --stop-after 7").exit_code, 0);
  ASSERT_EQ(Metrics(b.path()).size(), 7u);
  const auto r = RunGorae("pretrain --resume --out " + b.path() + " --tokenizer " + tok() + " --steps 16 --threads 1 --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ma = Metrics(a.path()), mb = Metrics(b.path());
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    // Exact: the same floating-point operations in the same order, so the same bits.
    EXPECT_EQ(ma[i]["loss"].get<double>(), mb[i]["loss"].get<double>()) << "step " << i + 1;
    EXPECT_EQ(ma[i]["lr"].get<double>(), mb[i]["lr"].get<double>());
    if (ma[i].contains("val_loss")) EXPECT_EQ(ma[i]["val_loss"], mb[i]["val_loss"]) << "step " << i + 1;
  }
  // The final weights, the AdamW moments and the trainer state are the same bytes.
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_TRUE(gorae::testing::SameFileBytes(a / ("checkpoint/" + std::string(f)), b / ("checkpoint/" + std::string(f))));
  }
}

TEST_F(PretrainCli, MtpAndBalancingKnobs) {
  TempDir off, on;
  ASSERT_EQ(RunGorae(Base(off.path()) + " --steps 4 --mtp-depth 0 --bias-gamma 0 --balance-alpha 0").exit_code, 0);
  ASSERT_EQ(RunGorae(Base(on.path()) + " --steps 4 --mtp-depth 2 --bias-gamma 0.01 --balance-alpha 0.01").exit_code, 0);
  const auto m_off = Metrics(off.path()), m_on = Metrics(on.path());
  EXPECT_FALSE(m_off.back().contains("mtp_ce"));
  EXPECT_EQ(m_off.back()["balance_loss"].get<double>(), 0.0);
  ASSERT_EQ(m_on.back()["mtp_ce"].size(), 2u);
  EXPECT_GT(m_on.back()["balance_loss"].get<double>(), 0.0);
  // The biases moved only with gamma > 0; the MTP layers are stored as V3 stores them.
  auto ck_off = Checkpoint::Open(off / "checkpoint");
  auto ck_on = Checkpoint::Open(on / "checkpoint");
  ASSERT_TRUE(ck_off.ok() && ck_on.ok());
  auto max_abs = [](const TensorView* t) {
    float m = 0;
    for (int64_t i = 0; i < t->numel(); ++i) m = std::max(m, std::fabs(reinterpret_cast<const float*>(t->data)[i]));
    return m;
  };
  const std::string bias = "model.layers.1.mlp.gate.e_score_correction_bias";
  ASSERT_NE((*ck_off)->Find(bias), nullptr);
  EXPECT_EQ(max_abs((*ck_off)->Find(bias)), 0.0f);
  EXPECT_GT(max_abs((*ck_on)->Find(bias)), 0.0f);
  for (const char* name : {"model.layers.2.eh_proj.weight", "model.layers.3.enorm.weight",
                           "model.layers.3.shared_head.head.weight", "model.layers.2.embed_tokens.weight",
                           "model.layers.3.mlp.gate.weight"}) {
    EXPECT_NE((*ck_on)->Find(name), nullptr) << name;
  }
  EXPECT_EQ((*ck_off)->Find("model.layers.2.eh_proj.weight"), nullptr);
}

TEST_F(PretrainCli, BadInputGivesClearErrors) {
  TempDir t;
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    const auto r = RunGorae(args);
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_EQ(r.signal, 0);
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
  };
  // Configs that do not make sense.
  auto write_cfg = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = {{"model_type", "deepseek_v3"}, {"vocab_size", 320}, {"hidden_size", 32},
                        {"intermediate_size", 64}, {"moe_intermediate_size", 16}, {"num_hidden_layers", 2},
                        {"num_attention_heads", 2}, {"q_lora_rank", 16}, {"kv_lora_rank", 16},
                        {"qk_nope_head_dim", 8}, {"qk_rope_head_dim", 8}, {"v_head_dim", 8},
                        {"n_routed_experts", 4}, {"n_shared_experts", 1}, {"num_experts_per_tok", 2},
                        {"first_k_dense_replace", 1}, {"topk_method", "noaux_tc"}, {"scoring_func", "sigmoid"},
                        {"max_position_embeddings", 128}};
    edit(j);
    gorae::testing::WriteFile(t / name, j.dump());
    return t / name;
  };
  const std::string common = " --tokenizer " + tok() + " --data " + corpus() + " --steps 2 --no-progress --threads 1";
  expect_error("pretrain --config " + write_cfg("kv0.json", [](auto& j) { j["kv_lora_rank"] = 0; }) + " --out " +
                   (t / "o1") + common, "kv_lora_rank");
  expect_error("pretrain --config " + write_cfg("topk.json", [](auto& j) { j["num_experts_per_tok"] = 9; }) +
                   " --out " + (t / "o2") + common, "num_experts_per_tok");
  expect_error("pretrain --config " + write_cfg("vocab.json", [](auto& j) { j["vocab_size"] = 100; }) + " --out " +
                   (t / "o3") + common, "vocab_size");
  expect_error("pretrain --config nonsense --out " + (t / "o4") + common, "nonsense");
  // Empty and unreadable data.
  gorae::testing::WriteFile(t / "empty.txt", "\n\n");
  expect_error(Base(t / "o5") + " --steps 2 --data " + (t / "empty.txt"), "empty.txt");
  expect_error(Base(t / "o6") + " --steps 2 --data " + (t / "missing.txt"), "missing.txt");
  gorae::testing::WriteFile(t / "bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
  expect_error(Base(t / "o7") + " --steps 2 --data " + (t / "bad.jsonl"), "bad.jsonl:2");

  // A NaN loss stops cleanly before the update and keeps what was saved.
  const std::string nan_out = t / "nan";
  expect_error(Base(nan_out) + " --steps 6 --save-every 1 --lr 1e30 --warmup 0 --clip 0", "stopping before the update");
  ASSERT_TRUE(std::filesystem::exists(nan_out + "/checkpoint/trainer_state.json"));
  EXPECT_EQ(RunGorae("logits --model " + nan_out + "/checkpoint --tokens \"1 2\"").signal, 0);

  // Resume: no checkpoint, then a corrupt one (left untouched by the failed attempt).
  expect_error("pretrain --resume --out " + (t / "nothing") + " --tokenizer " + tok() + " --steps 3", "does not exist");
  const std::string out = t / "run";
  ASSERT_EQ(RunGorae(Base(out) + " --steps 3").exit_code, 0);
  const std::string st = out + "/checkpoint/model.safetensors";
  std::string bytes = gorae::testing::ReadFile(st);
  bytes.resize(bytes.size() / 2);
  gorae::testing::WriteFile(st, bytes);
  expect_error("pretrain --resume --out " + out + " --tokenizer " + tok() + " --steps 6 --no-progress", "model.safetensors");
  EXPECT_EQ(gorae::testing::ReadFile(st), bytes);
  // Starting fresh over an existing run is refused rather than overwriting it.
  expect_error(Base(out) + " --steps 3", "--resume");

  // trainer_state.json with a field of the wrong type: the error names the file and the field.
  const std::string run2 = t / "run2";
  ASSERT_EQ(RunGorae(Base(run2) + " --steps 3").exit_code, 0);
  const std::string state_path = run2 + "/checkpoint/trainer_state.json";
  const nlohmann::json state = nlohmann::json::parse(gorae::testing::ReadFile(state_path));
  auto resume_with = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& needle) {
    nlohmann::json j = state;
    edit(j);
    gorae::testing::WriteFile(state_path, j.dump());
    expect_error("pretrain --resume --out " + run2 + " --tokenizer " + tok() + " --steps 6 --no-progress", needle);
  };
  resume_with([](auto& j) { j["step"] = "3"; }, "trainer_state.json: step: expected an integer, got string");
  resume_with([](auto& j) { j["rng_state"] = -1; }, "trainer_state.json: rng_state: -1 is out of range");
  resume_with([](auto& j) { j["options"]["lr"] = "fast"; }, "trainer_state.json: options.lr: expected a number, got string");
  resume_with([](auto& j) { j["options"]["data"] = {1, 2}; }, "options.data: expected an array of strings, got array");
  resume_with([](auto& j) { j["options"].erase("seq"); }, "trainer_state.json: options: missing field 'seq'");
  resume_with([](auto& j) { j["options"] = 7; }, "missing field 'options'");
  gorae::testing::WriteFile(state_path, state.dump());
  EXPECT_EQ(RunGorae("pretrain --resume --out " + run2 + " --tokenizer " + tok() + " --steps 4 --no-progress --threads 1")
                .exit_code, 0);
}

}  // namespace
}  // namespace gorae::train
