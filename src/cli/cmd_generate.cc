// gorae generate: sample a continuation of a prompt, printing token ids as they come.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "infer/generate.h"

namespace gorae::cli {

namespace {

struct GenerateCliOptions {
  ModelOptions model;
  std::string tokens;
  int max_tokens = 32;
  SamplerConfig sampler;
  bool ignore_eos = false;
  bool quiet = false;
};

int RunGenerate(const GenerateCliOptions& o) {
  Status valid = ValidateSamplerConfig(o.sampler);
  if (!valid.ok()) return ReportError(valid.message());
  auto prompt = ParseTokenList(o.tokens);
  if (!prompt.ok()) return ReportError(prompt.status().message());
  if (prompt->empty()) return ReportError("--tokens: no token ids given");
  auto model = o.model.Load();
  if (!model.ok()) return ReportError(model.status().message());

  GenerateOptions gen;
  gen.max_new_tokens = o.max_tokens;
  if (!o.ignore_eos) {
    for (int64_t id : (*model)->config().eos_token_ids) gen.stop_ids.push_back(static_cast<int>(id));
  }
  Sampler sampler(o.sampler);
  KVCache cache = (*model)->NewCache(o.model.mla_mode());
  cache.Reserve(static_cast<int64_t>(prompt->size()) + o.max_tokens);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto first = start;
  bool any = false;
  auto result = Generate(**model, cache, *prompt, sampler, gen, [&](int token) {
    if (!any) first = Clock::now();
    std::printf(any ? " %d" : "%d", token);
    std::fflush(stdout);
    any = true;
    return true;
  });
  std::printf("\n");
  if (!result.ok()) return ReportError(result.status().message());
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  const double prefill = std::chrono::duration<double>(first - start).count();
  if (!o.quiet) {
    const size_t n = result->tokens.size();
    std::fprintf(stderr, "[generate] prompt %zu tokens in %.3f s (%.1f tok/s), %zu new tokens (%.1f tok/s), finish: %s\n",
                 prompt->size(), prefill, prompt->size() / std::max(prefill, 1e-9), n,
                 n > 1 ? (n - 1) / std::max(total - prefill, 1e-9) : 0.0,
                 result->finish == FinishReason::kStop ? "stop" : "length");
  }
  return 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<GenerateCliOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "generate tokens after a prompt");
  o->model.AddTo(cmd, /*with_mla=*/true);
  cmd->add_option("--tokens", o->tokens, "prompt token ids, e.g. \"1 2 3\"")->required();
  cmd->add_option("--max-tokens", o->max_tokens, "new tokens at most")->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", o->sampler.temperature, "0 for greedy (default 1)");
  cmd->add_option("--top-p", o->sampler.top_p, "nucleus mass (default 1: off)");
  cmd->add_option("--top-k", o->sampler.top_k, "keep the k most likely tokens (default 0: off)");
  cmd->add_option("--min-p", o->sampler.min_p, "drop tokens below min-p times the top probability (default 0)");
  cmd->add_option("--repeat-penalty", o->sampler.repetition_penalty, "penalty for seen tokens (default 1: off)");
  cmd->add_option("--seed", o->sampler.seed, "random seed (default 0)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "do not stop at the model's eos_token_id");
  cmd->add_flag("--quiet", o->quiet, "no timing line on stderr");
  cmd->callback([o, exit_code] { *exit_code = RunGenerate(*o); });
}

}  // namespace gorae::cli
