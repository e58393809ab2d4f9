// gorae generate: sample a continuation of a prompt. Token ids in, ids out (--tokens); or text
// in, text out through the model's tokenizer (--prompt, or --chat through its chat template),
// streamed as tokens come.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "infer/generate.h"
#include "tokenizer/tokenizer.h"

namespace gorae::cli {

namespace {

struct GenerateCliOptions {
  ModelOptions model;
  std::string tokens;
  std::string prompt;     // raw text
  std::string chat;       // one user message, through the chat template
  std::string system;     // optional system message for --chat
  std::string tokenizer;  // tokenizer directory (default: the model directory)
  int max_tokens = 1024;  // as gorae chat: room for a reasoning answer, which ends at end of turn
  SamplerConfig sampler;
  bool ignore_eos = false;
  bool quiet = false;
};

// The prompt's token ids: parsed from --tokens, or encoded from --prompt / --chat.
Result<std::vector<int>> PromptIds(const GenerateCliOptions& o, const tokenizer::Tokenizer* tok) {
  if (!o.tokens.empty()) return ParseTokenList(o.tokens);
  std::string text = o.prompt;
  bool add_bos = true;  // what transformers does for a raw DeepSeek prompt (add_bos_token)
  if (!o.chat.empty()) {
    std::vector<tokenizer::ChatMessage> messages;
    if (!o.system.empty()) messages.push_back({"system", o.system, std::nullopt});
    messages.push_back({"user", o.chat, std::nullopt});
    GORAE_ASSIGN_OR_RETURN(text, tok->RenderChat(messages, /*add_generation_prompt=*/true));
    add_bos = false;  // the template writes BOS itself
  }
  GORAE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok->Encode(text, add_bos));
  return std::vector<int>(ids.begin(), ids.end());
}

int RunGenerate(const GenerateCliOptions& o) {
  Status valid = ValidateSamplerConfig(o.sampler);
  if (!valid.ok()) return ReportError(valid.message());
  const int inputs = !o.tokens.empty() + !o.prompt.empty() + !o.chat.empty();
  if (inputs != 1) return ReportError("give exactly one of --tokens, --prompt, --chat (non-empty)");
  const bool text_mode = o.tokens.empty();

  std::shared_ptr<const tokenizer::Tokenizer> tok;
  if (text_mode) {
    auto loaded = LoadModelTokenizer(o.tokenizer.empty() ? o.model.model_dir : o.tokenizer);
    if (!loaded.ok()) return ReportError(loaded.status().message());
    tok = *loaded;
  }
  auto prompt = PromptIds(o, tok.get());
  if (!prompt.ok()) return ReportError(prompt.status().message());
  if (prompt->empty()) return ReportError("the prompt has no tokens");
  auto model = o.model.Load();
  if (!model.ok()) return ReportError(model.status().message());
  if (const int followed = FollowIfExpertRank(**model); followed >= 0) return followed;
  if (tok && tok->vocab_size() > (*model)->config().vocab_size) {
    return ReportError(fmt::format("the tokenizer has {} tokens but the model's vocab_size is {}", tok->vocab_size(),
                                   (*model)->config().vocab_size));
  }

  // Within the model's context: a long default must not run past the positions it was trained on.
  int max_tokens = o.max_tokens;
  const int64_t context = (*model)->config().max_position_embeddings;
  if (context > 0) {
    const int64_t room = context - static_cast<int64_t>(prompt->size());
    if (room < 1) {
      return ReportError(fmt::format("the prompt has {} tokens, the model's context is {}", prompt->size(), context));
    }
    max_tokens = static_cast<int>(std::min<int64_t>(max_tokens, room));
  }
  GenerateOptions gen;
  gen.max_new_tokens = max_tokens;
  if (tok) gen.vocab_limit = tok->vocab_size();  // text output: only ids the tokenizer can decode
  if (!o.ignore_eos) {
    for (int64_t id : (*model)->config().eos_token_ids) gen.stop_ids.push_back(static_cast<int>(id));
    if (tok && tok->eot_id() >= 0) gen.stop_ids.push_back(tok->eot_id());
  }
  Sampler sampler(o.sampler);
  KVCache cache = (*model)->NewCache(o.model.mla_mode());
  cache.Reserve(static_cast<int64_t>(prompt->size()) + max_tokens);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto first = start;
  bool any = false;
  std::optional<tokenizer::StreamDecoder> stream;
  if (tok) stream.emplace(*tok, /*skip_special=*/true);
  Status stream_error;
  auto result = Generate(**model, cache, *prompt, sampler, gen, [&](int token) {
    if (!any) first = Clock::now();
    if (stream) {
      auto piece = stream->Push(token);
      if (!piece.ok()) {
        stream_error = piece.status();
        return false;
      }
      std::fputs(piece->c_str(), stdout);
    } else {
      std::printf(any ? " %d" : "%d", token);
    }
    std::fflush(stdout);
    any = true;
    return true;
  });
  if (stream) std::fputs(stream->Flush().c_str(), stdout);
  std::printf("\n");
  if (!result.ok()) return ReportError(result.status().message());
  if (!stream_error.ok()) return ReportError(stream_error.message());
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
  cmd->add_option("--tokens", o->tokens, "prompt token ids, e.g. \"1 2 3\" (prints ids)");
  cmd->add_option("--prompt", o->prompt, "prompt text, encoded with the model's tokenizer (prints text)");
  cmd->add_option("--chat", o->chat, "a user message, rendered with the model's chat template (prints text)");
  cmd->add_option("--system", o->system, "system message for --chat");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer directory (default: the model directory)");
  cmd->add_option("--max-tokens", o->max_tokens, "new tokens at most (default 1024, within the model's context)")
      ->check(CLI::PositiveNumber);
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
