// Training step throughput of gorae on a preset (random weights, random tokens): tokens/s,
// model FLOPs per token from the config, MFU against the measured sgemm rate, and where the
// time goes (forward, backward, optimizer). One JSON object on stdout.
//
//   train_bench [--preset small] [--batch 4] [--seq 128] [--steps 5] [--mtp 1] [--threads 0]
//               [--config-out FILE]   (writes the config.json used, for tools/train_bench.py)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/threads.h"
#include "infer/machine_limits.h"
#include "model/presets.h"
#include "train/balance.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/model_step.h"
#include "train/optimizer.h"

using namespace gorae;
using namespace gorae::train;

namespace {

// Multiply-adds of the matrices one token goes through (forward), and attention's per token.
double ForwardFlopsPerToken(const ModelConfig& c, int64_t depth, int64_t T) {
  const double D = static_cast<double>(c.hidden_size), H = static_cast<double>(c.num_attention_heads);
  const double qk = static_cast<double>(c.qk_head_dim()), dv = static_cast<double>(c.v_head_dim);
  double attn = (c.q_lora_rank > 0 ? D * c.q_lora_rank + c.q_lora_rank * H * qk : D * H * qk) +
                D * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank * H * (c.qk_nope_head_dim + dv) + H * dv * D;
  attn += H * (qk + dv) * (static_cast<double>(T) + 1) / 2;  // causal scores and weighted values
  auto ffn = [&](int64_t l) {
    if (!c.IsMoeLayer(l)) return 3 * D * c.intermediate_size;
    return D * c.n_routed_experts + 3 * D * c.moe_intermediate_size * (c.num_experts_per_tok + c.n_shared_experts);
  };
  double macs = 0;
  for (int64_t l = 0; l < c.num_hidden_layers + depth; ++l) macs += attn + ffn(l);
  macs += (1 + depth) * D * c.vocab_size;  // output head (shared by MTP)
  macs += depth * 2 * D * D;              // eh_proj
  return 2 * macs;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gorae training throughput"};
  std::string preset = "small", config_out;
  int64_t B = 4, T = 128, steps = 5, depth = 1, layers = 0;
  int threads = 0;
  app.add_option("--preset", preset);
  app.add_option("--layers", layers);
  app.add_option("--batch", B);
  app.add_option("--seq", T);
  app.add_option("--steps", steps);
  app.add_option("--mtp", depth);
  app.add_option("--threads", threads);
  app.add_option("--config-out", config_out);
  CLI11_PARSE(app, argc, argv);
  SetNumThreads(threads);

  auto cfg = PresetConfig(preset, layers);
  if (!cfg.ok()) return std::fprintf(stderr, "error: %s\n", cfg.status().message().c_str()), 1;
  if (!config_out.empty()) std::ofstream(config_out) << TrainConfigJson(*cfg, depth);
  auto model = TrainModel::Create(*cfg, depth);
  if (!model.ok()) return std::fprintf(stderr, "error: %s\n", model.status().message().c_str()), 1;
  (*model)->InitRandom(1);
  ModelStep step(**model);
  AdamWState opt = NewAdamWState(**model);
  Rng rng{7};
  Batch batch;
  batch.B = B;
  batch.T = T;
  batch.mask.assign(static_cast<size_t>(B * T), 1.0f);
  batch.tokens.resize(static_cast<size_t>(B * (T + 1)));
  Objective obj;
  obj.mtp_lambda = 0.3;
  obj.balance_alpha = 1e-4;

  double fwd = 0, fwdbwd = 0, optim = 0, loss = 0;
  for (int64_t s = 0; s <= steps; ++s) {  // step 0 warms up (allocations, page faults)
    for (auto& t : batch.tokens) t = static_cast<int>(rng.Below(static_cast<uint64_t>(cfg->vocab_size)));
    auto t0 = std::chrono::steady_clock::now();
    (void)step.Run(batch, obj, 1.0, false, nullptr);
    const double f = Seconds(t0);
    (*model)->ZeroGrad();
    std::vector<MoeStats> stats;
    t0 = std::chrono::steady_clock::now();
    auto r = step.Run(batch, obj, 1.0, true, &stats);
    const double fb = Seconds(t0);
    t0 = std::chrono::steady_clock::now();
    const double norm = GradNorm(**model);
    if (norm > 1.0) ScaleGrads(**model, static_cast<float>(1.0 / norm));
    AdamWUpdate(**model, opt, AdamWOptions{}, 1e-3);
    UpdateRouterBias(**model, step.MoeBlocks(), stats, 1e-3);
    const double o = Seconds(t0);
    if (s > 0) fwd += f, fwdbwd += fb, optim += o, loss = r->loss;
  }
  fwd /= steps, fwdbwd /= steps, optim /= steps;
  const double step_s = fwdbwd + optim;
  const double tokens = static_cast<double>(B * T);
  const double flops = 3 * ForwardFlopsPerToken(*cfg, depth, T);  // forward + backward (2x)
  const double peak = MeasureSgemmGflops();
  nlohmann::ordered_json j;
  j["engine"] = "gorae";
  j["preset"] = preset;
  j["layers"] = cfg->num_hidden_layers;
  j["mtp_depth"] = depth;
  j["batch"] = B;
  j["seq"] = T;
  j["threads"] = NumThreads();
  j["params_m"] = static_cast<double>((*model)->NumParams()) / 1e6;
  j["step_s"] = step_s;
  j["forward_s"] = fwd;
  j["backward_s"] = fwdbwd - fwd;
  j["optimizer_s"] = optim;
  j["tokens_per_s"] = tokens / step_s;
  j["train_flops_per_token"] = flops;
  j["achieved_gflops"] = flops * tokens / step_s / 1e9;
  j["sgemm_peak_gflops"] = peak;
  j["mfu"] = flops * tokens / step_s / 1e9 / peak;
  j["loss"] = loss;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
