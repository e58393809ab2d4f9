// Gradients of the training objective: against PyTorch float64 autograd (tools/train_ref.py
// goldens), against central finite differences, and the training forward against the
// inference engine's Model::Forward on the same weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
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

// Directional derivatives of the loss, by finite differences, against the backward's gradient.
// Top-k routing is piecewise constant (a perturbation can switch experts, a jump no derivative
// sees), so these checks route every token to every expert (k = E, no group limit); the PyTorch
// goldens above cover real top-k selection with its margins checked.
//
// Two directions per tensor: the backward's own gradient (the steepest one, where the derivative
// is largest, so a wrong gradient shows) and a fixed random +-1 direction chosen without looking
// at the backward (so a gradient zeroed or lost is caught even where the backward says 0). The
// derivative is the fourth-order central difference (8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h:
// its truncation error is O(h^4), which allows a step of 3e-3 per element, three times the old
// second-order one, and so a third of the fp32 forward's rounding noise in the quotient (at 1e-2
// the truncation error along the gradient reached 2% where an RMSNorm follows the matrix).
// The bound is scale-aware: relative to the larger of the two derivatives, plus the noise floor
// of the quotient measured on this very loss (the spread of f over steps too small to move it).
struct FdCheck {
  static constexpr double kRelTol = 2e-3;  // what fp32 accumulation leaves beyond the noise floor
  std::string tensor;
  const char* direction;
  double analytic, numeric, noise_floor;
  double bound() const { return kRelTol * std::max(std::fabs(analytic), std::fabs(numeric)) + 2 * noise_floor; }
  bool passed() const { return std::fabs(numeric - analytic) <= bound(); }
};

class FiniteDifferences {
 public:
  FiniteDifferences(TrainModel& model, const Golden& g) : model_(model), g_(g), step_(model) {}

  // Runs the backward, then checks every trainable tensor. `mutate`, if given, alters each
  // tensor's gradient after the backward: a wrong backward the check must catch.
  std::vector<FdCheck> Run(const std::function<void(ParamTensor&)>& mutate = {}) {
    model_.ZeroGrad();
    EXPECT_TRUE(step_.Run(g_.batch, g_.obj, 1.0, true, nullptr).ok());
    const double noise = LossNoise();
    std::vector<FdCheck> out;
    uint64_t state = 42;
    for (ParamTensor& t : model_.tensors()) {
      if (!t.trainable) continue;
      if (mutate) mutate(t);
      std::vector<float> random(static_cast<size_t>(t.n)), steepest(static_cast<size_t>(t.n));
      double gg = 0;
      for (int64_t i = 0; i < t.n; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        random[i] = (state >> 63) ? 1.0f : -1.0f;
        gg += static_cast<double>(t.grad[i]) * t.grad[i];
      }
      out.push_back(Along(t, random, "random", noise));
      if (gg > 0) {
        // Scaled to a unit root-mean-square element, like the random direction.
        const double rms = std::sqrt(gg / static_cast<double>(t.n));
        for (int64_t i = 0; i < t.n; ++i) steepest[i] = static_cast<float>(t.grad[i] / rms);
        out.push_back(Along(t, steepest, "gradient", noise));
      }
    }
    return out;
  }

 private:
  static constexpr double kStep = 3e-3;  // per element of a unit-rms direction

  double Loss() {
    auto r = step_.Run(g_.batch, g_.obj, 1.0, false, nullptr);
    EXPECT_TRUE(r.ok());
    return r->loss;
  }

  // The rounding noise of one loss evaluation: the spread of the loss over steps 1e-6 of the
  // finite-difference step along a fixed direction, where the true change is below 1e-8 of it.
  double LossNoise() {
    ParamTensor& t = model_.tensors().front();
    std::vector<float> saved(t.param, t.param + t.n);
    double lo = 1e300, hi = -1e300;
    for (int k = 0; k < 8; ++k) {
      for (int64_t i = 0; i < t.n; ++i) t.param[i] = saved[i] + static_cast<float>(k * 1e-8 * ((i & 1) ? 1 : -1));
      const double l = Loss();
      lo = std::min(lo, l), hi = std::max(hi, l);
    }
    std::copy(saved.begin(), saved.end(), t.param);
    // At least a few units in the last place of the loss, even if the 8 samples agreed.
    return std::max(hi - lo, 4.0 * std::fabs(lo) * 0x1.0p-24);
  }

  FdCheck Along(ParamTensor& t, const std::vector<float>& dir, const char* name, double noise) {
    std::vector<float> saved(t.param, t.param + t.n);
    auto at = [&](double s) {
      for (int64_t i = 0; i < t.n; ++i) t.param[i] = static_cast<float>(saved[i] + s * kStep * dir[i]);
      return Loss();
    };
    const double f1 = at(1) - at(-1), f2 = at(2) - at(-2);
    std::copy(saved.begin(), saved.end(), t.param);
    // Four noisy values enter the quotient with weights 8, 8, 1, 1 over 12 h.
    FdCheck c{t.name, name, 0, (8 * f1 - f2) / (12 * kStep), 18 * noise / (12 * kStep)};
    for (int64_t i = 0; i < t.n; ++i) c.analytic += static_cast<double>(t.grad[i]) * dir[i];
    return c;
  }

  TrainModel& model_;
  const Golden& g_;
  ModelStep step_;
};

// The tiny golden model with every token routed to every expert, fresh random weights.
std::unique_ptr<TrainModel> DenseRoutedModel(const Golden& g) {
  ModelConfig c = g.model->config();
  c.num_experts_per_tok = c.n_routed_experts;
  c.topk_group = c.n_group;
  auto fresh = TrainModel::Create(c, g.model->mtp_depth());
  EXPECT_TRUE(fresh.ok()) << fresh.status().message();
  (*fresh)->InitRandom(7);
  return std::move(*fresh);
}

TEST(TrainGrad, FiniteDifferences) {
  for (const std::string name : {"v3_mtp", "v2_plain"}) {
    Golden g = LoadGolden(name);
    auto model = DenseRoutedModel(g);
    FiniteDifferences fd(*model, g);
    int tested = 0;
    double worst = 0, worst_margin = 0;
    for (const FdCheck& c : fd.Run()) {
      EXPECT_TRUE(c.passed()) << name << " " << c.tensor << " along the " << c.direction << ": backward "
                              << c.analytic << ", finite differences " << c.numeric << ", bound " << c.bound();
      worst = std::max(worst, std::fabs(c.numeric - c.analytic) / std::max(std::fabs(c.analytic), 1e-12));
      worst_margin = std::max(worst_margin, std::fabs(c.numeric - c.analytic) / c.bound());
      ++tested;
    }
    EXPECT_GT(tested, 60);
    std::printf("%s: %d directional derivatives, worst relative difference %.2e, worst |diff| / bound %.2f\n",
                name.c_str(), tested, worst, worst_margin);
  }
}

// The check has the power it claims: zeroing one tensor's gradient, for every tensor in turn,
// makes it fail on that tensor, the smallest gradients included; so does a gradient 2% off.
TEST(TrainGrad, FiniteDifferencesCatchAZeroedGradient) {
  Golden g = LoadGolden("v3_mtp");
  auto model = DenseRoutedModel(g);
  FiniteDifferences fd(*model, g);
  // The true derivative along the random direction is what a zeroed gradient would be compared
  // with; compute all of them once, then check that each would fail against a backward of 0.
  int caught = 0, tensors = 0;
  for (const FdCheck& c : fd.Run()) {
    if (std::string(c.direction) != "random") continue;
    ++tensors;
    const FdCheck zeroed{c.tensor, c.direction, 0.0, c.numeric, c.noise_floor};
    EXPECT_FALSE(zeroed.passed()) << "a zeroed gradient of " << c.tensor << " would pass: derivative " << c.numeric
                                  << ", bound " << zeroed.bound();
    caught += !zeroed.passed();
  }
  std::printf("a zeroed gradient is caught for %d of %d tensors\n", caught, tensors);
  // And for real, through the whole check, on one tensor (the last expert down projection):
  // its gradient zeroed, or only 2% too small.
  std::string victim;
  for (const ParamTensor& t : model->tensors()) {
    if (t.trainable && t.name.find("down_proj") != std::string::npos) victim = t.name;
  }
  ASSERT_FALSE(victim.empty());
  for (const float scale : {0.0f, 0.98f}) {
    bool failed_on_victim = false, failed_elsewhere = false;
    const auto checks = fd.Run([&](ParamTensor& t) {
      if (t.name == victim) std::transform(t.grad, t.grad + t.n, t.grad, [&](float x) { return x * scale; });
    });
    for (const FdCheck& c : checks) {
      if (!c.passed()) (c.tensor == victim ? failed_on_victim : failed_elsewhere) = true;
    }
    EXPECT_TRUE(failed_on_victim) << victim << "'s gradient scaled by " << scale;
    EXPECT_FALSE(failed_elsewhere) << scale;
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
