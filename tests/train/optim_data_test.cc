// AdamW against a hand-worked update, the schedules' shapes, and token shards (round trip and
// corruption).
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "train/data.h"
#include "train/optimizer.h"

namespace gorae::train {
namespace {

ModelConfig MicroConfig() {
  ModelConfig c = gorae::testing::TinyV3Config();
  c.num_hidden_layers = 1;
  c.first_k_dense_replace = 1;  // dense only: few tensors
  return c;
}

TEST(AdamW, MatchesHandComputedSteps) {
  auto m = TrainModel::Create(MicroConfig(), 0);
  ASSERT_TRUE(m.ok());
  TrainModel& model = **m;
  model.InitRandom(3);
  AdamWState st = NewAdamWState(model);
  AdamWOptions o;
  o.beta1 = 0.9, o.beta2 = 0.99, o.eps = 1e-8, o.weight_decay = 0.1;
  ParamTensor& w = model.tensors()[0];     // embedding: a matrix, decayed
  ParamTensor* norm = nullptr;             // a norm weight: not decayed
  for (auto& t : model.tensors()) if (t.shape.size() == 1) { norm = &t; break; }
  ASSERT_NE(norm, nullptr);
  double p = w.param[5], mm = 0, vv = 0, q = norm->param[2], qm = 0, qv = 0;
  for (int step = 1; step <= 3; ++step) {
    model.ZeroGrad();
    const double g = 0.5 * step, h = -0.25 * step;
    w.grad[5] = static_cast<float>(g);
    norm->grad[2] = static_cast<float>(h);
    const double lr = 0.01;
    AdamWUpdate(model, st, o, lr);
    mm = 0.9 * mm + 0.1 * g, vv = 0.99 * vv + 0.01 * g * g;
    p = p * (1 - lr * 0.1) - lr * (mm / (1 - std::pow(0.9, step))) / (std::sqrt(vv / (1 - std::pow(0.99, step))) + 1e-8);
    qm = 0.9 * qm + 0.1 * h, qv = 0.99 * qv + 0.01 * h * h;
    q = q - lr * (qm / (1 - std::pow(0.9, step))) / (std::sqrt(qv / (1 - std::pow(0.99, step))) + 1e-8);
    EXPECT_NEAR(w.param[5], p, 1e-6);
    EXPECT_NEAR(norm->param[2], q, 1e-6);
  }
}

TEST(AdamW, ClippingScalesToTheGlobalNorm) {
  auto m = TrainModel::Create(MicroConfig(), 0);
  ASSERT_TRUE(m.ok());
  (*m)->ZeroGrad();
  (*m)->tensors()[0].grad[0] = 3.0f;
  (*m)->tensors()[1].grad[0] = 4.0f;
  EXPECT_NEAR(GradNorm(**m), 5.0, 1e-9);
  ScaleGrads(**m, 0.2f);
  EXPECT_NEAR(GradNorm(**m), 1.0, 1e-6);
}

TEST(Schedule, WarmupCosineAndWsd) {
  LrSchedule s{Schedule::kCosine, 1.0, 0.1, 10, 110, 0.2};
  EXPECT_NEAR(LearningRate(s, 0), 0.1, 1e-12);
  EXPECT_NEAR(LearningRate(s, 9), 1.0, 1e-12);
  EXPECT_NEAR(LearningRate(s, 10), 1.0, 1e-12);
  EXPECT_NEAR(LearningRate(s, 109), 0.1, 1e-12);
  EXPECT_NEAR(LearningRate(s, 10 + 99 / 2.0), 0.55, 1e-2);
  s.kind = Schedule::kWsd;
  EXPECT_NEAR(LearningRate(s, 60), 1.0, 1e-12);   // stable phase
  EXPECT_NEAR(LearningRate(s, 109), 0.1, 1e-12);  // end of the decay
  EXPECT_LT(LearningRate(s, 100), 1.0);
  EXPECT_FALSE(ParseSchedule("linear").ok());
}

TEST(TokenShard, RoundTripAndCorruption) {
  gorae::testing::TempDir d;
  const std::vector<uint32_t> ids = {1, 2, 3, 4, 99, 0};
  ASSERT_TRUE(WriteTokenShard(d / "a.bin", 100, ids, 2).ok());
  auto s = TokenShard::Open(d / "a.bin");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->size(), 6);
  EXPECT_EQ((*s)->vocab_size(), 100);
  EXPECT_EQ((*s)->tokens()[4], 99u);
  ASSERT_TRUE(WriteTokenShard(d / "b.bin", 50, ids, 2).ok());  // id 99 >= vocab 50
  auto bad = TokenShard::Open(d / "b.bin");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("b.bin"), std::string::npos);
  std::string bytes = gorae::testing::ReadFile(d / "a.bin");
  gorae::testing::WriteFile(d / "c.bin", bytes.substr(0, bytes.size() - 3));
  EXPECT_FALSE(TokenShard::Open(d / "c.bin").ok());
}

TEST(Data, SyntheticCorpusIsDeterministicAndWorked) {
  const auto a = SyntheticReasoningCorpus(30, 5), b = SyntheticReasoningCorpus(30, 5);
  ASSERT_EQ(a, b);
  for (const auto& doc : a) {
    EXPECT_NE(doc.find("<think>"), std::string::npos);
    EXPECT_NE(doc.find("Answer:"), std::string::npos);
  }
  EXPECT_NE(a[0].find("carry"), std::string::npos);
  EXPECT_NE(a[1].find("x ="), std::string::npos);
}

}  // namespace
}  // namespace gorae::train
