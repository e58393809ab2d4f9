// Helpers shared by the tests: temporary directories, running the gorae binary, tiny configs.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "model/config.h"

namespace gorae::testing {

// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gorae_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;    // -1 if killed by a signal
  int signal = 0;        // the signal that killed it, if any
  std::string out, err;  // stdout, stderr
};

// Runs a shell command line, capturing stdout and stderr.
inline CommandResult RunCommand(const std::string& command) {
  static int counter = 0;
  const std::string base = (std::filesystem::temp_directory_path() /
                            ("gorae_cmd_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
  const std::string cmd = "{ " + command + " ; } >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  CommandResult r;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    // The shell reports a child killed by a signal as 128 + signal.
    if (r.exit_code > 128) r.signal = r.exit_code - 128;
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

// Runs the gorae binary with `args` (a shell-quoted string), capturing stdout and stderr.
inline CommandResult RunGorae(const std::string& args) { return RunCommand(std::string(GORAE_BINARY) + " " + args); }

// The largest |ref - got| seen and where. A non-finite value on either side makes it +infinity
// at its index: the pattern `worst = std::max(worst, std::fabs(ref - got))` never grows on a NaN,
// so a NaN logit or gradient would pass any bound.
struct WorstDiff {
  double value = 0.0;
  int64_t at = -1;  // index of the worst value (or of the first non-finite one)
  bool finite = true;
  void Add(double ref, double got, int64_t index) {
    if (!finite) return;
    if (!std::isfinite(ref) || !std::isfinite(got)) {
      value = std::numeric_limits<double>::infinity();
      at = index;
      finite = false;
      return;
    }
    const double d = std::fabs(ref - got);
    if (d > value || at < 0) value = d, at = index;
  }
};

// WorstDiff over two equally long sequences (vectors, spans).
template <typename A, typename B>
WorstDiff MaxAbsDiff(const A& ref, const B& got) {
  WorstDiff w;
  const size_t n = std::min(ref.size(), got.size());
  for (size_t i = 0; i < n; ++i) w.Add(static_cast<double>(ref[i]), static_cast<double>(got[i]), static_cast<int64_t>(i));
  if (ref.size() != got.size()) w.Add(0.0, std::numeric_limits<double>::quiet_NaN(), static_cast<int64_t>(n));
  return w;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether the files `a` and `b` hold the same bytes; otherwise names the first offset where they
// differ (or which file is missing or shorter). For "exact" claims: resumed training must end on
// the very bytes of the uninterrupted run, not on losses within a tolerance.
inline ::testing::AssertionResult SameFileBytes(const std::string& a, const std::string& b) {
  for (const std::string& p : {a, b}) {
    if (!std::filesystem::is_regular_file(p)) return ::testing::AssertionFailure() << p << " does not exist";
  }
  const std::string x = ReadFile(a), y = ReadFile(b);
  const size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return ::testing::AssertionFailure() << a << " and " << b << " differ at byte " << i;
  }
  if (x.size() != y.size()) {
    return ::testing::AssertionFailure() << a << " (" << x.size() << " bytes) and " << b << " (" << y.size()
                                         << " bytes) differ in length";
  }
  return ::testing::AssertionSuccess();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A small DeepSeek-V3-style config: low-rank q, YaRN, sigmoid/noaux_tc routing with groups,
// shared experts, one dense layer first.
inline ModelConfig TinyV3Config() {
  ModelConfig c;
  c.model_type = "deepseek_v3";
  c.vocab_size = 97;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.moe_intermediate_size = 24;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 3;
  c.max_position_embeddings = 256;
  c.q_lora_rank = 40;
  c.kv_lora_rank = 24;
  c.qk_nope_head_dim = 16;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 12;
  c.yarn.enabled = true;
  c.yarn.factor = 4.0;
  c.yarn.original_max_position_embeddings = 16;
  c.yarn.mscale = 1.0;
  c.yarn.mscale_all_dim = 0.8;
  c.n_routed_experts = 8;
  c.n_shared_experts = 2;
  c.num_experts_per_tok = 3;
  c.first_k_dense_replace = 1;
  c.n_group = 4;
  c.topk_group = 2;
  c.topk_method = TopkMethod::kNoauxTc;
  c.scoring_func = ScoringFunc::kSigmoid;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  c.eos_token_ids = {1};
  return c;
}

// A V2-Lite-style config: plain q, softmax/greedy routing, no YaRN.
inline ModelConfig TinyV2LiteConfig() {
  ModelConfig c = TinyV3Config();
  c.model_type = "deepseek_v2";
  c.q_lora_rank = 0;
  c.yarn = YarnConfig{};
  c.topk_method = TopkMethod::kGreedy;
  c.scoring_func = ScoringFunc::kSoftmax;
  c.norm_topk_prob = false;
  c.routed_scaling_factor = 1.0;
  c.n_group = 1;
  c.topk_group = 1;
  return c;
}

// An R1-Distill-Qwen-style config: grouped-query attention (4 heads, 2 K/V heads), q/k/v biases.
inline ModelConfig TinyQwen2Config() {
  ModelConfig c;
  c.model_type = "qwen2";
  c.arch = Architecture::kQwen2;
  c.vocab_size = 97;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 12;
  c.qkv_bias = true;
  c.max_position_embeddings = 256;
  c.rope_theta = 1000000.0;
  c.eos_token_ids = {1};
  return c;
}

}  // namespace gorae::testing
