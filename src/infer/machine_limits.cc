#include "infer/machine_limits.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "kernels/cpu/matmul.h"

namespace gorae {

namespace {
double Seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}
}  // namespace

double MeasureSgemmGflops(int n, int reps) {
  std::vector<float> a(static_cast<size_t>(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size());
  Sgemm(c.data(), a.data(), b.data(), n, n, n, false);  // warm-up: threads, pages
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    Sgemm(c.data(), a.data(), b.data(), n, n, n, false);
    best = std::min(best, Seconds(t0));
  }
  return 2.0 * n * n * static_cast<double>(n) / best / 1e9;
}

double MeasureReadBandwidthGBs(double gib, int reps) {
  const size_t n = static_cast<size_t>(gib * (1ull << 30) / sizeof(uint64_t));
  std::vector<uint64_t> buf(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  double best = 1e30;
  volatile uint64_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (size_t i = 0; i < n; ++i) total += buf[i];
    best = std::min(best, Seconds(t0));
    sink = sink + total;
  }
  return static_cast<double>(n * sizeof(uint64_t)) / best / 1e9;
}

}  // namespace gorae
