// gorae bench: prefill and decode throughput of the inference engine, next to the machine's own
// limits (BLAS sgemm rate, memory read bandwidth) measured in the same run. --model takes a model
// directory or a GGUF file (quantized weights: the bytes per weight come from the file).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/threads.h"
#include "infer/machine_limits.h"
#include "io/gguf.h"
#include "io/mapped_file.h"
#include "model/param_count.h"
#include "model/presets.h"
#include "model/random_init.h"
#include "model/transformer.h"

namespace gorae::cli {

namespace {

struct BenchOptions {
  std::vector<std::string> presets = {"small", "v2-lite"};
  std::string model_dir;  // bench this model (directory or .gguf file) instead of presets
  int64_t layers = 4;     // layers of the preset models (v2-lite's real dims, fewer layers)
  std::string dtype = "BF16";
  int prompt = 128;
  int gen = 32;
  int threads = 0;
  std::string work_dir = (std::filesystem::temp_directory_path() / "gorae-bench").string();
  bool json = false;
};

struct Row {
  std::string model, mla;
  int64_t params = 0, activated = 0;
  double prefill_tps = 0, prefill_gflops = 0, decode_tps = 0, decode_gbs = 0;
  int64_t kv_bytes_per_token = 0;
  double bytes_per_param = 0;
};

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Writes the random preset model once; later runs reuse it if its config.json is unchanged.
Result<std::string> EnsurePresetModel(const BenchOptions& o, const std::string& preset, DType dtype) {
  GORAE_ASSIGN_OR_RETURN(ModelConfig c, PresetConfig(preset, o.layers));
  const std::string dir = fmt::format("{}/{}-{}L-{}", o.work_dir, preset, c.num_hidden_layers, DTypeName(dtype));
  nlohmann::ordered_json want = ModelConfigToJson(c);
  auto have = ReadTextFile(dir + "/config.json");
  if (have.ok() && std::filesystem::exists(dir + "/model.safetensors")) {
    auto j = nlohmann::ordered_json::parse(*have, nullptr, false);
    if (!j.is_discarded()) {
      j.erase("quantization_config");
      if (j == want) return dir;
    }
  }
  const ParamCounts p = CountParams(c);
  std::fprintf(stderr, "[bench] writing random %s weights (%lld layers, %.2fB params, %s) to %s ...\n", preset.c_str(),
               static_cast<long long>(c.num_hidden_layers), p.total / 1e9, DTypeName(dtype), dir.c_str());
  const auto t0 = std::chrono::steady_clock::now();
  GORAE_RETURN_IF_ERROR(WriteRandomModel(dir, c, dtype, 42));
  std::fprintf(stderr, "[bench] written in %.1f s\n", Since(t0));
  return dir;
}

// Approximate work per token, to turn times into fractions of the machine's limits.
struct Work {
  double flops_per_prompt = 0;       // prefill of the whole prompt (last position's logits)
  double bytes_per_decode_token = 0; // weights read + KV cache read, mean over the generation
};

// Mean stored bytes per weight over a GGUF file's matrices (2-D and 3-D tensors): quantized files
// mix types (Q4_K_M is Q4_K with some Q6_K), so one dtype size would be wrong.
double GgufBytesPerParam(const GgufFile& f) {
  double bytes = 0, n = 0;
  for (const GgufTensor& t : f.tensors()) {
    if (t.n_dims < 2) continue;
    bytes += static_cast<double>(t.nbytes);
    n += static_cast<double>(t.numel());
  }
  return n > 0 ? bytes / n : 4.0;
}

Work EstimateWork(const ModelConfig& c, MlaMode mode, int prompt, int gen, double bytes_per_param) {
  const ParamCounts p = CountParams(c);
  const double head = static_cast<double>(c.vocab_size) * c.hidden_size;
  const double embed_in = p.embedding - (c.tie_word_embeddings ? 0 : head);
  const double body = p.activated - p.embedding;  // per-token matmul weights but the head
  const double H = c.num_attention_heads, L = c.num_hidden_layers, R = c.kv_lora_rank;
  // attention flops per (query, key) pair per layer
  const double pair = !c.IsDeepSeek()                ? 2 * H * (2 * c.head_dim)
                      : mode == MlaMode::kNaive ? 2 * H * (c.qk_head_dim() + c.v_head_dim)
                                                : 2 * H * (R + c.qk_rope_head_dim + R);
  const double absorb = c.IsDeepSeek() && mode == MlaMode::kAbsorbed
                            ? 2 * H * (c.qk_nope_head_dim * R + R * c.v_head_dim) : 0;
  Work w;
  w.flops_per_prompt = prompt * (2 * body + L * absorb) + L * pair * prompt * (prompt + 1) / 2.0 + 2 * head;
  const double ctx = prompt + gen / 2.0;
  const double kv = KVCache::FloatsPerToken(c, mode) * 4.0 * L * ctx;
  w.bytes_per_decode_token = (body + head) * bytes_per_param + kv + embed_in / c.vocab_size * bytes_per_param;
  return w;
}

Result<Row> BenchModel(const std::string& name, const std::string& dir, MlaMode mode, const BenchOptions& o) {
  GORAE_ASSIGN_OR_RETURN(auto model, Model::Load(dir));
  const ModelConfig& c = model->config();
  std::vector<int> prompt(static_cast<size_t>(o.prompt));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int>((i * 7919 + 13) % c.vocab_size);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));

  {  // warm-up: fault in the mapped weights and start the thread pools
    KVCache warm = model->NewCache(mode);
    GORAE_RETURN_IF_ERROR(model->Forward(std::span<const int>(prompt.data(), std::min<size_t>(8, prompt.size())), warm,
                                         logits.data(), false));
  }
  KVCache cache = model->NewCache(mode);
  cache.Reserve(o.prompt + o.gen);
  auto t0 = std::chrono::steady_clock::now();
  GORAE_RETURN_IF_ERROR(model->Forward(prompt, cache, logits.data(), false));
  const double prefill_s = Since(t0);
  t0 = std::chrono::steady_clock::now();
  int next = 0;
  for (int i = 0; i < o.gen; ++i) {
    next = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    GORAE_RETURN_IF_ERROR(model->Forward(std::span<const int>(&next, 1), cache, logits.data(), false));
  }
  const double decode_s = Since(t0);

  const auto& emb = model->weights().layers.back().attn.o_proj;
  const double bytes_per_param = model->gguf() ? GgufBytesPerParam(*model->gguf()) : DTypeSize(emb.dtype);
  const Work w = EstimateWork(c, mode, o.prompt, o.gen, bytes_per_param);
  Row r;
  r.model = name;
  r.mla = c.IsDeepSeek() ? MlaModeName(mode) : "gqa";
  r.bytes_per_param = bytes_per_param;
  const ParamCounts p = CountParams(c);
  r.params = p.total;
  r.activated = p.activated;
  r.prefill_tps = o.prompt / prefill_s;
  r.prefill_gflops = w.flops_per_prompt / prefill_s / 1e9;
  r.decode_tps = o.gen / decode_s;
  r.decode_gbs = w.bytes_per_decode_token * o.gen / decode_s / 1e9;
  r.kv_bytes_per_token = KVCache::FloatsPerToken(c, mode) * 4 * c.num_hidden_layers;
  return r;
}

int RunBench(const BenchOptions& o) {
  SetNumThreads(o.threads);
  DType dtype;
  if (!ParseDType(o.dtype, &dtype)) return ReportError(fmt::format("--dtype '{}': use F32, BF16, F16 or F8_E4M3", o.dtype));
  if (o.prompt <= 0 || o.gen <= 0) return ReportError("--prompt and --gen must be positive");

  std::fprintf(stderr, "[bench] measuring machine limits (%d threads) ...\n", NumThreads());
  const double sgemm = MeasureSgemmGflops();
  const double bandwidth = MeasureReadBandwidthGBs();

  std::vector<std::pair<std::string, std::string>> models;  // (name, dir)
  if (!o.model_dir.empty()) {
    models.emplace_back(std::filesystem::path(o.model_dir).filename().string(), o.model_dir);
  } else {
    for (const auto& preset : o.presets) {
      auto dir = EnsurePresetModel(o, preset, dtype);
      if (!dir.ok()) return ReportError(dir.status().message());
      models.emplace_back(fmt::format("{} ({}L, {})", preset, o.layers, DTypeName(dtype)), *dir);
    }
  }
  std::vector<Row> rows;
  for (const auto& [name, dir] : models) {
    for (MlaMode mode : {MlaMode::kNaive, MlaMode::kAbsorbed}) {
      // Grouped-query models (llama, qwen2) have one attention path: the MLA mode does not apply.
      if (mode == MlaMode::kAbsorbed && !rows.empty() && rows.back().mla == "gqa") continue;
      std::fprintf(stderr, "[bench] %s, %s MLA: prompt %d, generate %d ...\n", name.c_str(), MlaModeName(mode),
                   o.prompt, o.gen);
      auto r = BenchModel(name, dir, mode, o);
      if (!r.ok()) return ReportError(r.status().message());
      rows.push_back(*r);
    }
  }

  if (o.json) {
    nlohmann::ordered_json j;
    j["threads"] = NumThreads();
    j["sgemm_gflops"] = sgemm;
    j["read_bandwidth_gbs"] = bandwidth;
    for (const auto& r : rows) {
      j["rows"].push_back({{"model", r.model}, {"mla", r.mla}, {"params", r.params}, {"activated", r.activated},
                           {"prompt", o.prompt}, {"gen", o.gen}, {"prefill_tok_s", r.prefill_tps},
                           {"prefill_gflops", r.prefill_gflops}, {"prefill_frac_sgemm", r.prefill_gflops / sgemm},
                           {"decode_tok_s", r.decode_tps}, {"decode_gbs", r.decode_gbs},
                           {"decode_frac_bandwidth", r.decode_gbs / bandwidth},
                           {"kv_bytes_per_token", r.kv_bytes_per_token},
                           {"weight_bytes_per_param", r.bytes_per_param}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("machine: %d threads, BLAS sgemm %.1f GFLOP/s, memory read %.1f GB/s\n", NumThreads(), sgemm, bandwidth);
  std::printf("prompt %d tokens, then %d decode steps; fractions are of the limits above\n\n", o.prompt, o.gen);
  std::printf("| %-22s | %-8s | %9s | %13s | %17s | %12s | %17s | %11s |\n", "model", "MLA", "params", "prefill tok/s",
              "prefill GFLOP/s", "decode tok/s", "decode GB/s", "KV B/token");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(24, '-').c_str(), std::string(10, '-').c_str(),
              std::string(11, '-').c_str(), std::string(15, '-').c_str(), std::string(19, '-').c_str(),
              std::string(14, '-').c_str(), std::string(19, '-').c_str(), std::string(13, '-').c_str());
  for (const auto& r : rows) {
    std::printf("| %-22s | %-8s | %8.2fB | %13.1f | %7.1f (%5.1f%%) | %12.2f | %7.2f (%5.1f%%) | %11lld |\n",
                r.model.c_str(), r.mla.c_str(), r.params / 1e9, r.prefill_tps, r.prefill_gflops,
                100 * r.prefill_gflops / sgemm, r.decode_tps, r.decode_gbs, 100 * r.decode_gbs / bandwidth,
                static_cast<long long>(r.kv_bytes_per_token));
  }
  return 0;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "prefill/decode throughput against the machine's sgemm and bandwidth");
  cmd->add_option("--preset", o->presets, "built-in shapes with random weights: tiny, small, v2-lite, v3")
      ->check(CLI::IsMember(PresetNames()));
  cmd->add_option("--model", o->model_dir, "benchmark this model (directory or .gguf file) instead of presets");
  cmd->add_option("--layers", o->layers, "layers of the preset models (default 4)")->check(CLI::PositiveNumber);
  cmd->add_option("--dtype", o->dtype, "weight dtype of preset models: F32, BF16 (default), F16, F8_E4M3");
  cmd->add_option("--prompt", o->prompt, "prompt tokens (default 128)");
  cmd->add_option("--gen", o->gen, "decode steps (default 32)");
  cmd->add_option("--threads", o->threads, "threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--work-dir", o->work_dir, "where preset models are written and reused");
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o, exit_code] { *exit_code = RunBench(*o); });
}

}  // namespace gorae::cli
