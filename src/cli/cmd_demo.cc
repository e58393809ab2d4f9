// gorae demo: the engine end to end on a built-in DeepSeek-V3-shaped model with random weights:
// write the checkpoint (HF layout), load it back memory-mapped, generate with both MLA cache
// layouts and show they agree while the absorbed cache is far smaller.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/threads.h"
#include "infer/generate.h"
#include "model/param_count.h"
#include "model/presets.h"
#include "model/random_init.h"

namespace gorae::cli {

namespace {

struct DemoOptions {
  std::string preset = "tiny";
  std::string work_dir = (std::filesystem::temp_directory_path() / "gorae-demo").string();
  int tokens = 24;
  int threads = 0;
};

int RunDemo(const DemoOptions& o) {
  SetNumThreads(o.threads);
  auto config = PresetConfig(o.preset);
  if (!config.ok()) return ReportError(config.status().message());
  const std::string dir = o.work_dir + "/" + o.preset;
  const ParamCounts p = CountParams(*config);
  std::printf("1. writing a random-weight DeepSeek-V3-style model '%s' (%.2fM params, %.2fM active per token)\n"
              "   to %s (config.json + model.safetensors, Hugging Face layout, BF16)\n",
              o.preset.c_str(), p.total / 1e6, p.activated / 1e6, dir.c_str());
  Status s = WriteRandomModel(dir, *config, DType::kBF16, 2025);
  if (!s.ok()) return ReportError(s.message());

  auto model = Model::Load(dir);
  if (!model.ok()) return ReportError(model.status().message());
  const ModelConfig& c = (*model)->config();
  std::printf("2. loaded it memory-mapped: %lld layers, MLA (q_lora_rank %lld, kv_lora_rank %lld), %lld routed + "
              "%lld shared experts, top-%lld %s/%s routing\n",
              (long long)c.num_hidden_layers, (long long)c.q_lora_rank, (long long)c.kv_lora_rank,
              (long long)c.n_routed_experts, (long long)c.n_shared_experts, (long long)c.num_experts_per_tok,
              ScoringFuncName(c.scoring_func), TopkMethodName(c.topk_method));

  const std::vector<int> prompt = {0, 17, 42, 256, 7, 99};
  std::vector<std::vector<int>> outputs;
  for (MlaMode mode : {MlaMode::kNaive, MlaMode::kAbsorbed}) {
    SamplerConfig greedy;
    greedy.temperature = 0;
    Sampler sampler(greedy);
    GenerateOptions g;
    g.max_new_tokens = o.tokens;
    KVCache cache = (*model)->NewCache(mode);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = Generate(**model, cache, prompt, sampler, g);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) return ReportError(r.status().message());
    const int64_t kv = KVCache::FloatsPerToken(c, mode) * 4 * c.num_hidden_layers;
    std::string ids;
    for (int t : r->tokens) ids += fmt::format("{} ", t);
    std::printf("3. greedy decoding, %-8s MLA: %zu tokens at %.0f tok/s, KV cache %lld bytes/token\n   -> %s\n",
                MlaModeName(mode), r->tokens.size(), r->tokens.size() / secs, (long long)kv, ids.c_str());
    outputs.push_back(r->tokens);
  }
  const bool same = outputs[0] == outputs[1];
  std::printf("4. naive and absorbed MLA %s; the absorbed cache is %.1fx smaller\n",
              same ? "generate the same tokens" : "DISAGREE",
              static_cast<double>(KVCache::FloatsPerToken(c, MlaMode::kNaive)) /
                  KVCache::FloatsPerToken(c, MlaMode::kAbsorbed));
  std::printf("\nnext: gorae info --model %s ; gorae logits --model %s --tokens \"1 2 3\" ; gorae bench\n", dir.c_str(),
              dir.c_str());
  return same ? 0 : ReportError("naive and absorbed MLA disagree");
}

}  // namespace

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand("demo", "run the engine end to end on a built-in model");
  cmd->add_option("--preset", o->preset, "model shape: tiny (default), small")->check(CLI::IsMember({"tiny", "small"}));
  cmd->add_option("--work-dir", o->work_dir, "where the demo model is written");
  cmd->add_option("--tokens", o->tokens, "tokens to generate")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o->threads, "threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([o, exit_code] { *exit_code = RunDemo(*o); });
}

}  // namespace gorae::cli
