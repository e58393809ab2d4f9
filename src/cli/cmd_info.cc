// gorae info: architecture, parameter counts, storage dtypes and KV-cache size of a model.
#include <cstdio>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "model/param_count.h"

namespace gorae::cli {

namespace {

struct InfoOptions {
  ModelOptions model;
  bool json = false;
};

std::string Human(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.1f}K", n / 1e3);
  return fmt::format("{}", n);
}

int RunInfo(const InfoOptions& o) {
  auto loaded = o.model.Load();
  if (!loaded.ok()) return ReportError(loaded.status().message());
  const Model& m = **loaded;
  const ModelConfig& c = m.config();
  const ParamCounts p = CountParams(c);

  std::map<std::string, std::pair<int64_t, int64_t>> dtypes;  // dtype -> (tensors, bytes)
  if (m.checkpoint() != nullptr) {
    for (const auto& [name, t] : m.checkpoint()->tensors()) {
      auto& d = dtypes[t->dtype_name];
      d.first += 1;
      d.second += static_cast<int64_t>(t->nbytes);
    }
  } else if (m.gguf() != nullptr) {  // ggml type names (Q4_K, ...)
    for (const GgufTensor& t : m.gguf()->tensors()) {
      auto& d = dtypes[GgmlTypeName(t.type)];
      d.first += 1;
      d.second += static_cast<int64_t>(t.nbytes);
    }
  }
  int64_t moe_layers = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) moe_layers += c.IsMoeLayer(l);
  const int64_t naive = KVCache::FloatsPerToken(c, MlaMode::kNaive) * c.num_hidden_layers * 4;
  const int64_t absorbed = KVCache::FloatsPerToken(c, MlaMode::kAbsorbed) * c.num_hidden_layers * 4;

  nlohmann::ordered_json j;
  j["model_type"] = c.model_type;
  j["layers"] = c.num_hidden_layers;
  j["moe_layers"] = moe_layers;
  j["hidden_size"] = c.hidden_size;
  j["vocab_size"] = c.vocab_size;
  if (!c.IsDeepSeek()) {
    j["attention"] = {{"type", "gqa"}, {"heads", c.num_attention_heads}, {"kv_heads", c.num_key_value_heads},
                      {"head_dim", c.head_dim}, {"qkv_bias", c.qkv_bias}, {"llama3_rope", c.llama3.enabled}};
  } else {
  j["attention"] = {{"type", "mla"}, {"heads", c.num_attention_heads}, {"q_lora_rank", c.q_lora_rank},
                    {"kv_lora_rank", c.kv_lora_rank}, {"qk_nope_head_dim", c.qk_nope_head_dim},
                    {"qk_rope_head_dim", c.qk_rope_head_dim}, {"v_head_dim", c.v_head_dim},
                    {"yarn", c.yarn.enabled}, {"yarn_factor", c.yarn.factor}, {"softmax_scale", c.SoftmaxScale()}};
  }
  j["moe"] = {{"routed_experts", c.n_routed_experts}, {"shared_experts", c.n_shared_experts},
              {"experts_per_token", c.num_experts_per_tok}, {"scoring_func", ScoringFuncName(c.scoring_func)},
              {"topk_method", TopkMethodName(c.topk_method)}, {"n_group", c.n_group}, {"topk_group", c.topk_group},
              {"norm_topk_prob", c.norm_topk_prob}, {"routed_scaling_factor", c.routed_scaling_factor}};
  j["params"] = {{"total", p.total}, {"activated_per_token", p.activated}, {"embedding", p.embedding},
                 {"attention", p.attention}, {"dense_mlp", p.dense_mlp}, {"routed_experts", p.routed_experts},
                 {"shared_experts", p.shared_experts}, {"routers", p.routers}, {"norms", p.norms}};
  for (const auto& [name, d] : dtypes) j["dtypes"][name] = {{"tensors", d.first}, {"bytes", d.second}};
  j["mtp_tensors"] = m.weights().mtp_tensors;
  j["unused_tensors"] = m.weights().unused;
  j["kv_cache_bytes_per_token"] = {{"naive", naive}, {"absorbed", absorbed}};

  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::string s;
  s += fmt::format("model        {} ({} layers, {} MoE), hidden {}, vocab {}\n", c.model_type, c.num_hidden_layers,
                   moe_layers, c.hidden_size, c.vocab_size);
  if (c.IsDeepSeek()) {
    s += fmt::format("attention    MLA, {} heads, q_lora_rank {}, kv_lora_rank {}, qk {}+{} (nope+rope), v {}{}\n",
                     c.num_attention_heads, c.q_lora_rank == 0 ? std::string("none") : std::to_string(c.q_lora_rank),
                     c.kv_lora_rank, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim,
                     c.yarn.enabled ? fmt::format(", YaRN x{}", c.yarn.factor) : "");
  } else {
    s += fmt::format("attention    grouped-query, {} heads sharing {} K/V heads of {}{}{}\n", c.num_attention_heads,
                     c.num_key_value_heads, c.head_dim, c.qkv_bias ? ", q/k/v bias" : "",
                     c.llama3.enabled ? fmt::format(", llama3 rope x{}", c.llama3.factor) : "");
  }
  if (c.n_routed_experts > 0) {
    s += fmt::format("moe          {} routed + {} shared experts, top-{}, {} / {}, groups {}/{}\n", c.n_routed_experts,
                     c.n_shared_experts, c.num_experts_per_tok, ScoringFuncName(c.scoring_func),
                     TopkMethodName(c.topk_method), c.topk_group, c.n_group);
  }
  s += fmt::format("parameters   {} total, {} activated per token ({:.1f}%)\n", Human(p.total), Human(p.activated),
                   100.0 * p.activated / p.total);
  s += fmt::format("             embedding {}, attention {}, dense MLP {}, routed experts {}, shared experts {}\n",
                   Human(p.embedding), Human(p.attention), Human(p.dense_mlp), Human(p.routed_experts),
                   Human(p.shared_experts));
  for (const auto& [name, d] : dtypes) {
    s += fmt::format("dtype        {:8} {:6} tensors {:>12} bytes\n", name, d.first, d.second);
  }
  if (m.weights().mtp_tensors > 0) {
    s += fmt::format("mtp          {} tensors of the multi-token-prediction layer (not used for inference)\n",
                     m.weights().mtp_tensors);
  }
  for (const auto& name : m.weights().unused) s += fmt::format("unused       {}\n", name);
  if (c.IsDeepSeek()) {
    s += fmt::format("kv cache     {} bytes/token naive, {} bytes/token absorbed ({:.1f}x smaller), fp32\n", naive,
                     absorbed, static_cast<double>(naive) / absorbed);
  } else {
    s += fmt::format("kv cache     {} bytes/token, fp32\n", naive);
  }
  std::fputs(s.c_str(), stdout);
  return 0;
}

}  // namespace

void AddInfoCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "print a model's architecture, parameter counts, dtypes, cache size");
  opts->model.AddTo(cmd, /*with_mla=*/false);
  cmd->add_flag("--json", opts->json, "print one JSON object");
  cmd->callback([opts, exit_code] { *exit_code = RunInfo(*opts); });
}

}  // namespace gorae::cli
