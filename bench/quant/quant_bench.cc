// Decode-shaped products: out (1, rows) = in (1, cols) @ W^T with W in each ggml type, through
// QuantLinear at each SIMD level this CPU has, and the fp32 baseline through OpenBLAS sgemv.
// Counters: weight bytes read per second (the quantity decode speed is bound by) and weights per
// second. Threads: OpenMP's default (all cores) unless OMP_NUM_THREADS says otherwise.
// With --tokens T > 1, prefill-shaped products: out (T, rows) = in (T, cols) @ W^T, the baseline
// OpenBLAS sgemm, and GMAC/s (multiply-adds per second) as the counter that compares.
//
//   quant_bench [--rows R] [--cols C] [--tokens T] [google benchmark flags]
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/quant_dot.h"
#include "tensor/quant.h"

namespace gorae {
namespace {

int64_t g_rows = 4096, g_cols = 4096, g_tokens = 1;

const std::vector<float>& Weights() {
  static const std::vector<float> w = [] {
    std::vector<float> v(static_cast<size_t>(g_rows * g_cols));
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (float& x : v) x = normal(rng);
    return v;
  }();
  return w;
}
const std::vector<float>& Input() {
  static const std::vector<float> x = [] {
    std::vector<float> v(static_cast<size_t>(g_cols * g_tokens));
    std::mt19937 rng(2);
    std::normal_distribution<float> normal;
    for (float& e : v) e = normal(rng);
    return v;
  }();
  return x;
}

void SetCounters(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["Gweights/s"] =
      benchmark::Counter(static_cast<double>(g_rows * g_cols) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["MB"] = bytes / 1e6;
  if (g_tokens > 1) {
    state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(g_rows * g_cols * g_tokens) * state.iterations() / 1e9,
                                                  benchmark::Counter::kIsRate);
  }
}

// layout kLaneInterleaved: the weights repacked as a model load does for this level.
void BM_QuantLinear(benchmark::State& state, GgmlType type, QuantSimd level, QuantLayout layout) {
  if (!SetQuantSimd(level).ok()) {
    state.SkipWithError("CPU lacks this level");
    return;
  }
  std::vector<uint8_t> w = QuantizeMatrix(type, Weights().data(), g_rows, g_cols);
  if (layout == QuantLayout::kLaneInterleaved) RepackLaneInterleaved(type, w.data(), w.data(), g_rows, g_cols);
  const QuantMatrix m{type, g_rows, g_cols, w.data(), layout};
  std::vector<float> out(static_cast<size_t>(g_rows * g_tokens));
  for (auto _ : state) {
    QuantLinear(out.data(), Input().data(), g_tokens, m);
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, static_cast<double>(w.size()));
}

void BM_Sgemv(benchmark::State& state) {
  std::vector<float> out(static_cast<size_t>(g_rows * g_tokens));
  for (auto _ : state) {
    if (g_tokens > 1) {  // out (T, rows) = in (T, cols) @ W^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(g_tokens), static_cast<int>(g_rows),
                  static_cast<int>(g_cols), 1.0f, Input().data(), static_cast<int>(g_cols), Weights().data(),
                  static_cast<int>(g_cols), 0.0f, out.data(), static_cast<int>(g_rows));
      benchmark::DoNotOptimize(out.data());
      continue;
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(g_rows), static_cast<int>(g_cols), 1.0f,
                Weights().data(), static_cast<int>(g_cols), Input().data(), 1, 0.0f, out.data(), 1);
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, static_cast<double>(g_rows * g_cols) * 4);
}

}  // namespace
}  // namespace gorae

int main(int argc, char** argv) {
  using namespace gorae;
  // Our flags first; the rest go to Google Benchmark.
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) g_rows = std::atoll(argv[++i]);
    else if (std::strcmp(argv[i], "--cols") == 0 && i + 1 < argc) g_cols = std::atoll(argv[++i]);
    else if (std::strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) g_tokens = std::max<int64_t>(1, std::atoll(argv[++i]));
    else rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  Weights();  // generate the data before any timing
  Input();
  benchmark::RegisterBenchmark(g_tokens > 1 ? "sgemm_openblas/F32" : "sgemv_openblas/F32", BM_Sgemv)->Unit(benchmark::kMicrosecond)->UseRealTime();
  const GgmlType types[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,
                            GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                            GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kQ8_K};
  const QuantSimd best = DetectQuantSimd();
  for (GgmlType t : types) {
    for (QuantSimd s : {QuantSimd::kScalar, QuantSimd::kAvx2, QuantSimd::kAvx512}) {
      if (static_cast<int>(s) > static_cast<int>(best)) continue;
      if (s != QuantSimd::kScalar && !HasSimdKernel(s, t)) continue;  // would run the scalar kernel
      const std::string name = std::string("quant_linear/") + GgmlTypeName(t) + "/" + QuantSimdName(s);
      benchmark::RegisterBenchmark(name.c_str(), BM_QuantLinear, t, s, QuantLayout::kGgml)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
      if (s == best && FastestLayout(t) == QuantLayout::kLaneInterleaved) {
        benchmark::RegisterBenchmark((name + "/lane_interleaved").c_str(), BM_QuantLinear, t, s,
                                     QuantLayout::kLaneInterleaved)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
