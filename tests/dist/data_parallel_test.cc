// The arithmetic of data parallelism, in one process: the rows of a global micro-batch split
// over N "ranks" (SliceRows + RankObjective) give losses and gradients that sum to the whole
// batch's, for masked batches (SFT-like, so each rank's target count differs), MTP, the balance
// loss and uneven splits. This is what makes mpirun -np N equal one process (tests/dist/mpi_*).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "dist/comm.h"
#include "model/presets.h"
#include "test_util.h"
#include "train/data_parallel.h"
#include "train/model_step.h"
#include "train/train_model.h"

namespace gorae::train {
namespace {

TEST(ShareOf, CoversEveryItemOnceInOrder) {
  for (int64_t n : {0, 1, 5, 8, 13}) {
    for (int size : {1, 2, 3, 4, 7}) {
      int64_t expect = 0;
      for (int r = 0; r < size; ++r) {
        const auto [b, e] = dist::ShareOf(n, r, size);
        EXPECT_EQ(b, expect) << n << " over " << size;
        EXPECT_GE(e, b);
        EXPECT_LE(e - b, n / size + 1);
        expect = e;
      }
      EXPECT_EQ(expect, n);
    }
  }
}

TEST(SingleCommunicator, CollectivesAreTheIdentity) {
  dist::Communicator& w = dist::World();
  ASSERT_EQ(w.size(), 1);
  std::vector<double> v = {1.5, -2.0};
  w.AllReduceSum(v);
  EXPECT_EQ(v, (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(w.AllGatherString("abc"), std::vector<std::string>{"abc"});
  EXPECT_TRUE(dist::CheckSameOnAllRanks("x", "y").ok());
  int ran = 0;
  EXPECT_TRUE(dist::RunOnRoot([&] { ++ran; return Status::Ok(); }).ok());
  EXPECT_EQ(ran, 1);
}

struct Fixture {
  std::unique_ptr<TrainModel> model;
  Batch batch;
};

Fixture MakeFixture(int64_t B, int64_t T, uint64_t seed) {
  auto config = PresetConfig("tiny", 2);
  EXPECT_TRUE(config.ok());
  config->vocab_size = 64;
  auto model = TrainModel::Create(*config, 2);
  EXPECT_TRUE(model.ok());
  (*model)->InitRandom(seed);
  Fixture f{std::move(*model), {}};
  f.batch.B = B, f.batch.T = T;
  std::mt19937 rng(static_cast<unsigned>(seed));
  for (int64_t i = 0; i < B * (T + 1); ++i) f.batch.tokens.push_back(static_cast<int>(rng() % 64));
  // An SFT-like mask: each row counts a different suffix, one row counts nothing.
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) f.batch.mask.push_back(b == 1 ? 0.0f : (t >= (b * 3) % T ? 1.0f : 0.0f));
  }
  return f;
}

std::vector<std::vector<float>> Grads(TrainModel& m) {
  std::vector<std::vector<float>> g;
  for (const ParamTensor& t : m.tensors()) g.emplace_back(t.grad, t.grad + t.n);
  return g;
}

// Worst |a - b| / (max |a| + tiny) over every gradient tensor; fails on a non-finite value.
double WorstRelative(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double worst = 0.0;
  for (size_t k = 0; k < a.size(); ++k) {
    double scale = 1e-12;
    for (float x : a[k]) scale = std::max(scale, static_cast<double>(std::fabs(x)));
    for (size_t i = 0; i < a[k].size(); ++i) {
      if (!std::isfinite(a[k][i]) || !std::isfinite(b[k][i])) return INFINITY;
      worst = std::max(worst, std::fabs(static_cast<double>(a[k][i]) - b[k][i]) / scale);
    }
  }
  return worst;
}

TEST(DataParallelSplit, RankSharesSumToTheWholeBatch) {
  for (int ranks : {1, 2, 3, 4}) {
    Fixture f = MakeFixture(/*B=*/5, /*T=*/12, 11);
    Objective obj;
    obj.mtp_lambda = 0.3;
    obj.balance_alpha = 0.01;
    ModelStep step(*f.model);
    f.model->ZeroGrad();
    auto whole = step.Run(f.batch, obj, 1.0, true, nullptr);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    const auto g_whole = Grads(*f.model);

    f.model->ZeroGrad();
    double loss = 0.0, ce = 0.0, balance = 0.0;
    std::vector<double> mtp(2, 0.0);
    for (int r = 0; r < ranks; ++r) {
      const auto [b0, b1] = dist::ShareOf(f.batch.B, r, ranks);
      if (b0 == b1) continue;
      const Objective ro = RankObjective(obj, f.batch, b1 - b0, 2);
      auto part = step.Run(SliceRows(f.batch, b0, b1), ro, 1.0, true, nullptr);
      ASSERT_TRUE(part.ok()) << part.status().ToString();
      loss += part->loss, ce += part->ce, balance += part->balance;
      for (int k = 0; k < 2; ++k) mtp[k] += part->mtp[k];
    }
    EXPECT_NEAR(loss, whole->loss, 1e-6 * std::fabs(whole->loss)) << ranks << " ranks";
    EXPECT_NEAR(ce, whole->ce, 1e-6 * std::fabs(whole->ce)) << ranks << " ranks";
    EXPECT_NEAR(balance, whole->balance, 1e-6 * std::fabs(whole->balance) + 1e-12) << ranks << " ranks";
    for (int k = 0; k < 2; ++k) EXPECT_NEAR(mtp[k], whole->mtp[k], 1e-6 * std::fabs(whole->mtp[k])) << k;
    EXPECT_LT(WorstRelative(g_whole, Grads(*f.model)), 1e-5) << ranks << " ranks";
  }
}

// The check above can fail: dividing by the rank's own target count (what a naive split does)
// gives other gradients once the ranks' masks differ.
TEST(DataParallelSplit, LocalNormalisationWouldDiffer) {
  Fixture f = MakeFixture(4, 12, 5);
  Objective obj;
  obj.mtp_lambda = 0.3;
  ModelStep step(*f.model);
  f.model->ZeroGrad();
  ASSERT_TRUE(step.Run(f.batch, obj, 1.0, true, nullptr).ok());
  const auto g_whole = Grads(*f.model);
  f.model->ZeroGrad();
  for (int r = 0; r < 2; ++r) {
    const auto [b0, b1] = dist::ShareOf(4, r, 2);
    ASSERT_TRUE(step.Run(SliceRows(f.batch, b0, b1), obj, 0.5, true, nullptr).ok());
  }
  EXPECT_GT(WorstRelative(g_whole, Grads(*f.model)), 1e-3);
}

}  // namespace
}  // namespace gorae::train
