#include "train/optimizer.h"

#include <cmath>
#include <numbers>

namespace gorae::train {

AdamWState NewAdamWState(const TrainModel& model) {
  AdamWState s;
  for (const ParamTensor& t : model.tensors()) {
    const size_t n = t.trainable ? static_cast<size_t>(t.n) : 0;
    s.m.emplace_back(n, 0.0f);
    s.v.emplace_back(n, 0.0f);
  }
  return s;
}

double GradNorm(const TrainModel& model) {
  double ss = 0.0;
  for (const ParamTensor& t : model.tensors()) {
    if (!t.trainable) continue;
    double part = 0.0;
#pragma omp parallel for reduction(+ : part) schedule(static) if (t.n > 65536)
    for (int64_t i = 0; i < t.n; ++i) part += static_cast<double>(t.grad[i]) * t.grad[i];
    ss += part;
  }
  return std::sqrt(ss);
}

void ScaleGrads(TrainModel& model, float factor) {
  for (ParamTensor& t : model.tensors()) {
    for (int64_t i = 0; i < t.n; ++i) t.grad[i] *= factor;
  }
}

AdamWFactors MakeAdamWFactors(const AdamWOptions& o, int64_t step, double lr) {
  const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(step));
  return {static_cast<float>(o.beta1), static_cast<float>(o.beta2), static_cast<float>(lr / bc1),
          static_cast<float>(1.0 / std::sqrt(bc2)), static_cast<float>(o.eps),
          static_cast<float>(1.0 - lr * o.weight_decay)};
}

void AdamWRange(float* p, const float* g, float* m, float* v, int64_t n, const AdamWFactors& f, bool decay) {
  const float b1 = f.b1, b2 = f.b2, step_size = f.step_size, inv_sqrt_bc2 = f.inv_sqrt_bc2, eps = f.eps;
  const float d = decay ? f.decay : 1.0f;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    p[i] = p[i] * d - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
}

void AdamWUpdate(TrainModel& model, AdamWState& s, const AdamWOptions& o, double lr) {
  ++s.step;
  const AdamWFactors f = MakeAdamWFactors(o, s.step, lr);
  auto& tensors = model.tensors();
  for (size_t k = 0; k < tensors.size(); ++k) {
    ParamTensor& t = tensors[k];
    if (!t.trainable) continue;
    AdamWRange(t.param, t.grad, s.m[k].data(), s.v[k].data(), t.n, f, t.decay);
  }
}

Result<Schedule> ParseSchedule(const std::string& name) {
  if (name == "cosine") return Schedule::kCosine;
  if (name == "wsd") return Schedule::kWsd;
  if (name == "constant") return Schedule::kConstant;
  return InvalidArgument("unknown schedule '{}' (cosine, wsd, constant)", name);
}

const char* ScheduleName(Schedule s) {
  switch (s) {
    case Schedule::kCosine: return "cosine";
    case Schedule::kWsd: return "wsd";
    case Schedule::kConstant: return "constant";
  }
  return "?";
}

double LearningRate(const LrSchedule& s, int64_t step) {
  if (step < s.warmup) return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup);
  const double min_lr = s.lr * s.min_lr_ratio;
  const int64_t rest = std::max<int64_t>(1, s.total - s.warmup - 1);
  const double progress = std::min(1.0, static_cast<double>(step - s.warmup) / static_cast<double>(rest));
  switch (s.kind) {
    case Schedule::kCosine: return min_lr + (s.lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    case Schedule::kWsd: {
      const double decay_start = 1.0 - s.decay_fraction;
      if (progress <= decay_start || s.decay_fraction <= 0) return s.lr;
      return s.lr + (min_lr - s.lr) * (progress - decay_start) / s.decay_fraction;
    }
    case Schedule::kConstant: return s.lr;
  }
  return s.lr;
}

}  // namespace gorae::train
