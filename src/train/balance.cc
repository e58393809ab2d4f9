#include "train/balance.h"

#include <algorithm>
#include <cmath>

namespace gorae::train {

void UpdateRouterBias(TrainModel& model, const std::vector<int64_t>& blocks, const std::vector<MoeStats>& stats,
                      double gamma) {
  if (gamma == 0.0) return;
  for (size_t i = 0; i < blocks.size(); ++i) {
    std::vector<float>& bias = model.params().layers[blocks[i]].moe.score_bias;
    const auto& load = stats[i].load;
    if (bias.empty() || load.empty()) continue;
    double mean = 0.0;
    for (int64_t l : load) mean += static_cast<double>(l);
    mean /= static_cast<double>(load.size());
    for (size_t e = 0; e < bias.size(); ++e) {
      const double l = static_cast<double>(load[e]);
      if (l > mean) bias[e] -= static_cast<float>(gamma);
      else if (l < mean) bias[e] += static_cast<float>(gamma);
    }
  }
}

nlohmann::json MoeMetrics(const std::vector<int64_t>& blocks, const std::vector<MoeStats>& stats, int64_t top_k) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < blocks.size(); ++i) {
    const MoeStats& s = stats[i];
    nlohmann::json b;
    b["layer"] = blocks[i];
    std::vector<double> frac;
    double mx = 0.0;
    for (int64_t l : s.load) {
      const double f = s.assignments > 0 ? static_cast<double>(l) / static_cast<double>(s.assignments) : 0.0;
      frac.push_back(std::round(f * 1e4) / 1e4);
      mx = std::max(mx, f);
    }
    b["load"] = frac;
    b["max_over_mean"] = s.load.empty() ? 0.0 : mx * static_cast<double>(s.load.size());
    b["router_entropy"] = s.tokens > 0 ? s.entropy_sum / static_cast<double>(s.tokens) : 0.0;
    b["dropped_tokens"] = s.tokens * top_k - s.assignments;
    b["balance_loss"] = s.balance_loss;
    out.push_back(b);
  }
  return out;
}

}  // namespace gorae::train
