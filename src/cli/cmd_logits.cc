// gorae logits: the model's logits for every input position, as JSON (for parity checks).
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "infer/generate.h"

namespace gorae::cli {

namespace {

struct LogitsOptions {
  ModelOptions model;
  std::string tokens;
  int prefill = -1;
};

int RunLogits(const LogitsOptions& o) {
  auto tokens = ParseTokenList(o.tokens);
  if (!tokens.ok()) return ReportError(tokens.status().message());
  const std::vector<int>& ids = tokens.value();
  if (ids.empty()) return ReportError("--tokens: no token ids given");
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t prefill = o.prefill < 0 ? n : o.prefill;
  if (prefill > n) return ReportError(fmt::format("--prefill {} is more than the {} tokens given", prefill, n));

  auto model = o.model.Load();
  if (!model.ok()) return ReportError(model.status().message());
  if (const int followed = FollowIfExpertRank(**model); followed >= 0) return followed;
  const int64_t vocab = (*model)->config().vocab_size;
  KVCache cache = (*model)->NewCache(o.model.mla_mode());
  cache.Reserve(n);
  std::vector<float> logits(static_cast<size_t>(n * vocab));  // (n, vocab)
  // The first `prefill` tokens in one pass, then the rest one at a time through the cache.
  if (prefill > 0) {
    Status s = (*model)->Forward(std::span<const int>(ids.data(), prefill), cache, logits.data(), true);
    if (!s.ok()) return ReportError(s.message());
  }
  for (int64_t t = prefill; t < n; ++t) {
    Status s = (*model)->Forward(std::span<const int>(ids.data() + t, 1), cache, logits.data() + t * vocab, true);
    if (!s.ok()) return ReportError(s.message());
  }

  // JSON has no NaN or infinity: such a logit is written as null and the command fails after.
  fmt::memory_buffer out;
  int64_t non_finite = 0, first_t = -1, first_v = -1;
  fmt::format_to(std::back_inserter(out), "{{\"logits\": [");
  for (int64_t t = 0; t < n; ++t) {
    out.push_back(t ? ',' : '[');
    if (t) out.push_back('[');
    for (int64_t v = 0; v < vocab; ++v) {
      if (v) out.push_back(',');
      const float x = logits[t * vocab + v];
      if (std::isfinite(x)) {
        fmt::format_to(std::back_inserter(out), "{}", x);
      } else {
        fmt::format_to(std::back_inserter(out), "null");
        if (non_finite++ == 0) first_t = t, first_v = v;
      }
    }
    out.push_back(']');
  }
  fmt::format_to(std::back_inserter(out), "]}}\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (non_finite > 0) {
    return ReportError(fmt::format("{} logits are not finite (the first at position {}, token {}), written as null: "
                                   "the model's weights or config produce NaN or infinity",
                                   non_finite, first_t, first_v));
  }
  return std::fflush(stdout) == 0 ? 0 : ReportError("cannot write to stdout");
}

}  // namespace

void AddLogitsCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand("logits", "print the logits of every input position as JSON");
  opts->model.AddTo(cmd, /*with_mla=*/true);
  cmd->add_option("--tokens", opts->tokens, "input token ids, e.g. \"1 2 3\"")->required();
  cmd->add_option("--prefill", opts->prefill,
                  "feed the first N tokens in one pass, the rest one at a time (default: all at once)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([opts, exit_code] { *exit_code = RunLogits(*opts); });
}

}  // namespace gorae::cli
