#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gorae {

namespace {

double YarnMscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

// The rotary dimension whose wavelength completes `rotations` turns over the original context.
double CorrectionDim(double rotations, double dim, double base, double max_pos) {
  return dim * std::log(max_pos / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
}

}  // namespace

// Llama 3.1's scaling: long wavelengths are divided by `factor`, short ones kept, a smooth blend
// between the low- and high-frequency wavelength bounds.
static void ApplyLlama3Scaling(const Llama3RopeScaling& s, std::vector<double>& inv_freq) {
  const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
  for (auto& f : inv_freq) {
    const double wavelen = 2.0 * std::numbers::pi / f;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      f /= s.factor;
      continue;
    }
    const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                          (s.high_freq_factor - s.low_freq_factor);
    f = (1.0 - smooth) * f / s.factor + smooth * f;
  }
}

RopeTable MakeRopeTable(const ModelConfig& c) {
  RopeTable r;
  r.dim = c.rope_dim();
  const int64_t half = r.dim / 2;
  const double base = c.rope_theta, d = static_cast<double>(r.dim);
  r.inv_freq.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) r.inv_freq[i] = 1.0 / std::pow(base, (2.0 * i) / d);
  if (!c.IsDeepSeek()) {
    if (c.llama3.enabled) ApplyLlama3Scaling(c.llama3, r.inv_freq);
    return r;
  }
  if (!c.yarn.enabled) return r;

  // YaRN: low frequencies (long wavelengths) are interpolated by 1/factor, high ones kept,
  // with a linear ramp between the two correction dimensions.
  const YarnConfig& y = c.yarn;
  double low = std::floor(CorrectionDim(y.beta_fast, d, base, y.original_max_position_embeddings));
  double high = std::ceil(CorrectionDim(y.beta_slow, d, base, y.original_max_position_embeddings));
  low = std::max(low, 0.0);
  high = std::min(high, d - 1);
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double extrapolate = 1.0 - ramp;  // weight of the original frequency
    const double f = r.inv_freq[i];
    r.inv_freq[i] = (f / y.factor) * (1.0 - extrapolate) + f * extrapolate;
  }
  r.mscale = YarnMscale(y.factor, y.mscale) / YarnMscale(y.factor, y.mscale_all_dim);
  return r;
}

void RopeAngles(const RopeTable& rope, int64_t start, int64_t T, float* out_cos, float* out_sin) {
  const int64_t half = rope.dim / 2;
  for (int64_t t = 0; t < T; ++t) {
    const double pos = static_cast<double>(start + t);
    for (int64_t i = 0; i < half; ++i) {
      const double a = pos * rope.inv_freq[i];
      out_cos[t * half + i] = static_cast<float>(std::cos(a) * rope.mscale);
      out_sin[t * half + i] = static_cast<float>(std::sin(a) * rope.mscale);
    }
  }
}

void ApplyRopeHalf(float* x, const float* cos, const float* sin, int64_t dim) {
  const int64_t half = dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i], b = x[i + half];
    x[i] = a * cos[i] - b * sin[i];
    x[i + half] = b * cos[i] + a * sin[i];
  }
}

void ApplyRope(float* x, const float* cos, const float* sin, int64_t dim) {
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = a * sin[i] + b * cos[i];
  }
}

}  // namespace gorae
