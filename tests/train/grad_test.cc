// Gradients of the training objective: against PyTorch float64 autograd (tools/train_ref.py
// goldens), against central finite differences, and the training forward against the
// inference engine's Model::Forward on the same weights.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/threads.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "test_util.h"
#include "train/model_step.h"
#include "train/train_model.h"

namespace gorae::train {
namespace {

const std::string kGolden = std::string(GORAE_SOURCE_DIR) + "/tests/golden/train/";

struct Golden {
  std::unique_ptr<TrainModel> model;
  Batch batch;
  Objective obj;
  nlohmann::json meta;
};

Golden LoadGolden(const std::string& name) {
  SetNumThreads(1);  // tiny shapes: threads only add overhead (and noise on a busy machine)
  const std::string dir = kGolden + name;
  Golden g;
  std::ifstream bf(dir + "/batch.json"), cf(dir + "/config.json");
  g.meta = nlohmann::json::parse(bf);
  const nlohmann::json cj = nlohmann::json::parse(cf);
  auto cfg = LoadModelConfig(dir);
  EXPECT_TRUE(cfg.ok()) << cfg.status().message();
  auto model = TrainModel::Create(*cfg, cj.value("num_nextn_predict_layers", 0));
  EXPECT_TRUE(model.ok()) << model.status().message();
  g.model = std::move(*model);
  auto ckpt = Checkpoint::Open(dir);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status().message();
  const Status s = g.model->LoadFrom(**ckpt);
  EXPECT_TRUE(s.ok()) << s.message();
  g.batch.B = g.meta["B"];
  g.batch.T = g.meta["T"];
  g.batch.tokens = g.meta["tokens"].get<std::vector<int>>();
  g.batch.mask = g.meta["mask"].get<std::vector<float>>();
  g.obj.mtp_lambda = g.meta["mtp_lambda"];
  g.obj.balance_alpha = g.meta["balance_alpha"];
  return g;
}

double RelErr(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-12);
}

void CheckAgainstPyTorch(const std::string& name) {
  Golden g = LoadGolden(name);
  ModelStep step(*g.model);
  g.model->ZeroGrad();
  auto r = step.Run(g.batch, g.obj, 1.0, /*backward=*/true, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NEAR(r->loss, g.meta["loss"].get<double>(), 1e-5 * g.meta["loss"].get<double>());
  EXPECT_NEAR(r->ce, g.meta["ce"].get<double>(), 1e-5 * g.meta["ce"].get<double>());
  EXPECT_NEAR(r->balance, g.meta["balance"].get<double>(), 1e-5);
  const auto mtp = g.meta["mtp"].get<std::vector<double>>();
  ASSERT_EQ(r->mtp.size(), mtp.size());
  for (size_t k = 0; k < mtp.size(); ++k) EXPECT_NEAR(r->mtp[k], mtp[k], 1e-5 * mtp[k]);

  auto file = SafetensorsFile::Open(kGolden + name + "/grads.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().message();
  int checked = 0;
  double worst = 0;
  std::string worst_name;
  for (const ParamTensor& t : g.model->tensors()) {
    if (!t.trainable) continue;
    auto it = (*file)->tensors().find(t.name);
    ASSERT_NE(it, (*file)->tensors().end()) << "no golden gradient for " << t.name;
    ASSERT_EQ(it->second.numel(), t.n) << t.name;
    const double e = RelErr(t.grad, reinterpret_cast<const float*>(it->second.data), t.n);
    EXPECT_LT(e, 1e-4) << t.name;
    if (e > worst) worst = e, worst_name = t.name;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>((*file)->tensors().size()));
  std::printf("%s: %d gradient tensors, worst relative error %.2e (%s)\n", name.c_str(), checked, worst,
              worst_name.c_str());
}

TEST(TrainGrad, MatchesPyTorchV3WithMtpAndBalanceLoss) { CheckAgainstPyTorch("v3_mtp"); }
TEST(TrainGrad, MatchesPyTorchV2PlainQTiedHead) { CheckAgainstPyTorch("v2_plain"); }

// Directional derivative of the loss along a random direction of each trainable tensor, by
// central differences, against the backward's gradient . direction. Top-k routing is piecewise
// constant (a perturbation can switch experts, a jump no derivative sees), so this check routes
// every token to every expert (k = E, no group limit); the PyTorch goldens above cover real
// top-k selection with its margins checked.
TEST(TrainGrad, FiniteDifferences) {
  for (const std::string name : {"v3_mtp", "v2_plain"}) {
    Golden g = LoadGolden(name);
    ModelConfig c = g.model->config();
    c.num_experts_per_tok = c.n_routed_experts;
    c.topk_group = c.n_group;
    auto fresh = TrainModel::Create(c, g.model->mtp_depth());
    ASSERT_TRUE(fresh.ok()) << fresh.status().message();
    g.model = std::move(*fresh);
    g.model->InitRandom(7);
    ModelStep step(*g.model);
    g.model->ZeroGrad();
    ASSERT_TRUE(step.Run(g.batch, g.obj, 1.0, true, nullptr).ok());
    auto& tensors = g.model->tensors();
    uint64_t state = 42;
    auto rnd = [&]() {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      return static_cast<float>((state >> 40) * 0x1.0p-24) * 2.0f - 1.0f;
    };
    int tested = 0;
    double worst = 0;
    for (ParamTensor& t : tensors) {
      if (!t.trainable) continue;
      // One direction per tensor: d = random, derivative = grad . d.
      std::vector<float> dir(static_cast<size_t>(t.n)), saved(t.param, t.param + t.n);
      double analytic = 0, norm = 0;
      for (int64_t i = 0; i < t.n; ++i) {
        dir[i] = rnd();
        analytic += static_cast<double>(t.grad[i]) * dir[i];
        norm += static_cast<double>(dir[i]) * dir[i];
      }
      const float eps = 1e-3f / static_cast<float>(std::sqrt(norm / t.n));  // ~1e-3 per element
      auto loss_at = [&](float s) {
        for (int64_t i = 0; i < t.n; ++i) t.param[i] = saved[i] + s * eps * dir[i];
        auto r = step.Run(g.batch, g.obj, 1.0, false, nullptr);
        return r->loss;
      };
      const double numeric = (loss_at(1) - loss_at(-1)) / (2 * eps);
      std::copy(saved.begin(), saved.end(), t.param);
      const double tol = 1e-2 * std::fabs(analytic) + 2e-3;  // fp32 loss differences
      EXPECT_NEAR(numeric, analytic, tol) << name << " " << t.name;
      worst = std::max(worst, std::fabs(numeric - analytic) / std::max(std::fabs(analytic), 1e-12));
      ++tested;
    }
    EXPECT_GT(tested, 30);
    std::printf("%s: %d tensors, worst relative difference %.2e\n", name.c_str(), tested, worst);
  }
}

// The training forward computes the same function as the inference engine.
TEST(TrainForward, LogitsEqualInferenceForward) {
  for (const std::string name : {"v3_mtp", "v2_plain"}) {
    Golden g = LoadGolden(name);
    const int64_t B = g.batch.B, T = g.batch.T, V = g.model->config().vocab_size;
    std::vector<float> logits(static_cast<size_t>(B * T * V));
    ModelStep step(*g.model);
    ASSERT_TRUE(step.Run(g.batch, g.obj, 1.0, false, nullptr, logits.data()).ok());
    auto inf = g.model->InferenceModel();
    ASSERT_TRUE(inf.ok()) << inf.status().message();
    for (MlaMode mode : {MlaMode::kNaive, MlaMode::kAbsorbed}) {
      for (int64_t b = 0; b < B; ++b) {
        std::vector<int> seq(g.batch.tokens.begin() + b * (T + 1), g.batch.tokens.begin() + b * (T + 1) + T);
        KVCache cache = (*inf)->NewCache(mode);
        std::vector<float> ref(static_cast<size_t>(T * V));
        ASSERT_TRUE((*inf)->Forward(seq, cache, ref.data(), true).ok());
        gorae::testing::WorstDiff worst;
        for (int64_t i = 0; i < T * V; ++i) worst.Add(ref[i], logits[b * T * V + i], i);
        EXPECT_LT(worst.value, 1e-4) << name << " sequence " << b << ", worst at " << worst.at;
      }
    }
  }
}

}  // namespace
}  // namespace gorae::train
