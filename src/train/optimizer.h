// AdamW with decoupled weight decay, global-norm gradient clipping, and learning-rate schedules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "train/train_model.h"

namespace gorae::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;  // decoupled: p -= lr * wd * p, only on tensors with decay=true
};

// The moments of every trainable tensor, in TrainModel::tensors() order (n floats each; empty
// for tensors that are not trained).
struct AdamWState {
  int64_t step = 0;  // number of updates applied (for bias correction)
  std::vector<std::vector<float>> m, v;
};

AdamWState NewAdamWState(const TrainModel& model);

// sqrt(sum of squared gradients) over the trainable tensors (double accumulation).
double GradNorm(const TrainModel& model);

// Multiplies every gradient by `factor`.
void ScaleGrads(TrainModel& model, float factor);

// One AdamW update with learning rate lr:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
//   p -= lr wd p  (decay tensors only, applied before the Adam step, as torch.optim.AdamW does)
void AdamWUpdate(TrainModel& model, AdamWState& state, const AdamWOptions& o, double lr);

// The per-step constants of the update above for update number `step` (1-based).
struct AdamWFactors {
  float b1, b2, step_size, inv_sqrt_bc2, eps, decay;  // decay: 1 - lr * wd
};
AdamWFactors MakeAdamWFactors(const AdamWOptions& o, int64_t step, double lr);
// The update of n values (one tensor, or a ZeRO-1 rank's slice of one): p, m, v in place.
void AdamWRange(float* p, const float* g, float* m, float* v, int64_t n, const AdamWFactors& f, bool decay);

enum class Schedule { kCosine, kWsd, kConstant };
Result<Schedule> ParseSchedule(const std::string& name);
const char* ScheduleName(Schedule s);

struct LrSchedule {
  Schedule kind = Schedule::kCosine;
  double lr = 1e-3;            // peak
  double min_lr_ratio = 0.1;   // final lr = lr * min_lr_ratio
  int64_t warmup = 0;          // linear warmup steps (from lr/warmup at step 0 to lr)
  int64_t total = 1;           // total steps
  double decay_fraction = 0.2; // WSD: the last fraction of steps decays linearly to the minimum
};

// The learning rate of 0-based step `step`:
//   warmup: lr * (step + 1) / warmup
//   cosine: min + (lr - min) * (1 + cos(pi * progress)) / 2 over the post-warmup steps
//   WSD:    lr until the decay phase, then linear to min at the last step
double LearningRate(const LrSchedule& s, int64_t step);

}  // namespace gorae::train
