// A self-contained SVG line plot of the loss curves (no plotting library needed).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace gorae::train {

struct Series {
  std::string name;
  std::string color;                        // CSS color
  std::vector<std::pair<double, double>> points;  // (step, value)
};

// Writes an SVG (atomically) with the series on shared axes: x = step, y = loss.
Status WriteLossPlot(const std::string& path, const std::string& title, const std::vector<Series>& series);

}  // namespace gorae::train
