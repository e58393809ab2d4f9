// gorae chat: an interactive terminal chat with streaming output and multi-turn history.
// It runs on the same engine as `gorae serve` (one slot), so what you see here is what the
// server would answer. Ctrl-C stops the current answer; /reset, /exit (or Ctrl-D) at the prompt.
// With --tools, the model may call the functions a JSON file defines (OpenAI's `tools` array):
// each call is shown as such, you type its result, and the model answers from it.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "server/batch_engine.h"
#include "server/choice_text.h"
#include "server/structured_output.h"
#include "server/tool_calls.h"
#include "tokenizer/py_json.h"
#include "tokenizer/tokenizer.h"

namespace gorae::cli {

namespace {

struct ChatOptions {
  ModelOptions model;
  std::string system;
  SamplerConfig sampler{.temperature = 0.7f};
  bool seeded = false;
  int max_tokens = 1024;
  int64_t ctx = 0;
  bool ignore_eos = false;
  std::string tools_file;           // OpenAI tool definitions (a JSON array)
  std::string tool_choice = "auto";  // auto, required, none, or a function's name
};

std::atomic<bool> g_interrupted{false};
extern "C" void OnSigint(int) { g_interrupted.store(true); }

// Reads one line from stdin. Returns false at end of input; *interrupted when Ctrl-C came
// (before or while waiting; the partly typed line is dropped, as a shell does).
//
// Two races are closed here. SIGINT stays blocked from the flag check until ppoll unblocks it
// atomically, so a Ctrl-C typed just as the prompt appears is not lost. And the terminal
// discards its queued input on Ctrl-C, so bytes are read only as far as FIONREAD says they
// are there: a read never blocks on input that vanished (the pending SIGINT then ends ppoll).
bool ReadLine(std::string* line, bool* interrupted) {
  static std::string pending;  // read but not yet returned (a line may arrive in pieces)
  sigset_t sigint, old;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  *interrupted = false;
  bool empty_before = false;  // readable with nothing queued twice in a row: end of input
  while (true) {
    const size_t nl = pending.find('\n');
    if (nl != std::string::npos) {
      line->assign(pending, 0, nl);
      pending.erase(0, nl + 1);
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return true;
    }
    pthread_sigmask(SIG_BLOCK, &sigint, &old);
    bool got_sigint = g_interrupted.exchange(false);
    int r = 0;
    if (!got_sigint) {
      struct pollfd in {STDIN_FILENO, POLLIN, 0};
      r = ::ppoll(&in, 1, nullptr, &old);
      got_sigint = r < 0 && errno == EINTR;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (got_sigint) {
      g_interrupted.store(false);
      pending.clear();
      *interrupted = true;
      return true;
    }
    if (r < 0) return false;
    int available = 0;
    if (::ioctl(STDIN_FILENO, FIONREAD, &available) != 0) available = 1;  // not a tty or pipe: just read
    if (available == 0 && !empty_before) {
      empty_before = true;
      continue;
    }
    empty_before = false;
    char buf[4096];
    const ssize_t n = ::read(STDIN_FILENO, buf, std::min<size_t>(sizeof(buf), std::max(available, 1)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // end of input: a last line without '\n' still counts
      if (pending.empty()) return false;
      line->swap(pending);
      pending.clear();
      return true;
    }
    pending.append(buf, static_cast<size_t>(n));
  }
}

struct Style {
  bool tty = false;
  const char* dim() const { return tty ? "\033[2m" : ""; }
  const char* bold() const { return tty ? "\033[1m" : ""; }
  const char* reset() const { return tty ? "\033[0m" : ""; }
};

// The --tools file and --tool-choice, read as the server reads a request's `tools` and
// `tool_choice`, so errors name the file and the field ("tools.json: tools[0].function.name: ...").
Result<server::ToolRequest> LoadTools(const ChatOptions& o, const tokenizer::Tokenizer& tok) {
  server::ToolRequest tools;
  tools.format = server::ToolCallFormatOf(tok.chat_template());
  if (o.tools_file.empty()) {
    if (o.tool_choice != "auto") return InvalidArgument("--tool-choice needs --tools");
    return tools;
  }
  std::ifstream in(o.tools_file, std::ios::binary);
  if (!in) return NotFound("{}: cannot open the tools file", o.tools_file);
  std::stringstream text;
  text << in.rdbuf();
  const auto defs = nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (defs.is_discarded()) return InvalidArgument("{}: not valid JSON", o.tools_file);
  if (!defs.is_array() || defs.empty()) {
    return InvalidArgument("{}: expected a non-empty JSON array of tool definitions (OpenAI's \"tools\")", o.tools_file);
  }
  nlohmann::ordered_json body = {{"tools", defs}};
  if (o.tool_choice == "auto" || o.tool_choice == "required" || o.tool_choice == "none") {
    body["tool_choice"] = o.tool_choice;
  } else {
    body["tool_choice"] = {{"type", "function"}, {"function", {{"name", o.tool_choice}}}};
  }
  std::vector<tokenizer::ChatMessage> no_messages;
  if (Status s = server::ParseToolFields(body, &tools, &no_messages); !s.ok()) {
    return s.WithContext(o.tool_choice != "auto" && s.message().rfind("tool_choice", 0) == 0 ? "--tool-choice"
                                                                                              : o.tools_file);
  }
  return tools;
}

// What one answer produced: its text, reasoning and the tool calls parsed out of it.
struct Answer {
  std::string content, reasoning;
  std::vector<server::ParsedToolCall> calls;
  bool stopped_by_user = false;
};

int RunChat(ChatOptions& o) {
  Status valid = ValidateSamplerConfig(o.sampler);
  if (!valid.ok()) return ReportError(valid.message());
  auto model = o.model.Load();
  if (!model.ok()) return ReportError(model.status().message());
  if (const int followed = FollowIfExpertRank(**model); followed >= 0) return followed;
  auto tok = o.model.LoadTokenizer();
  if (!tok.ok()) return ReportError(tok.status().message());
  if (!(*tok)->chat_template().ok()) return ReportError((*tok)->chat_template().status().message());
  auto tools = LoadTools(o, **tok);
  if (!tools.ok()) return ReportError(tools.status().message());
  std::vector<std::string> rendered_tools;
  std::vector<std::string> tool_names;
  for (const server::ToolSpec& t : tools->tools) {
    rendered_tools.push_back(t.rendered);
    tool_names.push_back(t.name);
  }
  // A required (or named) call is decoded under its grammar, as the server does.
  std::optional<server::OutputFormat> call_format;
  if (tools->choice == server::ToolRequest::Choice::kRequired || tools->choice == server::ToolRequest::Choice::kNamed) {
    auto grammar = server::RequiredCallGrammar(*tools);
    if (!grammar.ok()) return ReportError(grammar.status().WithContext(o.tools_file).message());
    call_format.emplace();
    call_format->kind = server::OutputFormat::Kind::kGrammar;
    call_format->gbnf = std::move(*grammar);
    call_format->field = "tools";
  }
  const int64_t max_pos = (*model)->config().max_position_embeddings;
  if (o.ctx == 0) o.ctx = max_pos > 0 ? std::min<int64_t>(max_pos, 4096) : 4096;

  // Ctrl-C goes to this thread only (the engine's threads inherit a mask that blocks it), so
  // it interrupts the prompt's read as well as an answer.
  sigset_t sigint;
  sigemptyset(&sigint);
  sigaddset(&sigint, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigint, nullptr);
  server::EngineOptions eo;
  eo.parallel = 1;
  eo.max_queued = 0;
  eo.context = o.ctx;
  eo.mla = o.model.mla_mode();
  server::BatchEngine engine(**model, eo);
  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &sigint, nullptr);

  std::vector<int> end_ids;
  if (!o.ignore_eos) {
    for (int64_t id : (*model)->config().eos_token_ids) end_ids.push_back(static_cast<int>(id));
    for (int32_t id : {(*tok)->eot_id(), (*tok)->eos_id()}) {
      if (id >= 0) end_ids.push_back(id);
    }
  }
  Style style{static_cast<bool>(::isatty(STDOUT_FILENO))};
  std::vector<tokenizer::ChatMessage> history;
  if (!o.system.empty()) history.push_back({"system", o.system, std::nullopt, {}});
  std::printf("gorae chat: %s (%s template). /reset clears the history, /exit quits, Ctrl-C stops an answer.\n",
              o.model.model_dir.c_str(), std::string(tokenizer::ChatTemplateName((*tok)->chat_template().value())).c_str());
  if (tools->active()) {
    std::printf("tools (%s): ", o.tool_choice.c_str());
    for (size_t i = 0; i < tool_names.size(); ++i) std::printf("%s%s", i ? ", " : "", tool_names[i].c_str());
    std::printf(". You answer each call with its result.\n");
  }
  uint64_t turn = 0;
  std::shared_ptr<const GrammarVocab> grammar_vocab;

  // Generates the answer to `history`, streaming it to the terminal; nullopt (with the error
  // printed) when it cannot start. `constrained`: decode under the required-call grammar.
  auto answer_history = [&](bool constrained) -> std::optional<Answer> {
    auto text = (*tok)->RenderChat(history, /*add_generation_prompt=*/true, rendered_tools);
    auto ids = text.ok() ? (*tok)->Encode(*text) : Result<std::vector<int32_t>>(text.status());
    if (!ids.ok()) {
      std::printf("(error: %s)\n", ids.status().message().c_str());
      return std::nullopt;
    }
    const int64_t room = o.ctx - static_cast<int64_t>(ids->size());
    if (room < 1) {
      std::printf("(the conversation is %zu tokens, the context is %lld: /reset to start over)\n", ids->size(),
                  static_cast<long long>(o.ctx));
      return std::nullopt;
    }
    const bool opens_reasoning = server::PromptOpensReasoning(*text);
    server::SequenceSpec spec;
    spec.prompt.assign(ids->begin(), ids->end());
    spec.sampler = o.sampler;
    if (!o.seeded) spec.sampler.seed = std::random_device{}();
    spec.sampler.seed += turn++;
    spec.max_tokens = static_cast<int>(std::min<int64_t>(o.max_tokens, room));
    spec.stop_ids = end_ids;
    if (constrained && call_format) {
      if (!grammar_vocab) grammar_vocab = server::GrammarVocabOf(**tok, (*model)->config().vocab_size, end_ids);
      auto constraint = server::ConstraintFor(*call_format, opens_reasoning, grammar_vocab);
      if (!constraint.ok()) {
        std::printf("(error: %s)\n", constraint.status().message().c_str());
        return std::nullopt;
      }
      spec.constraint = std::move(*constraint);
    }
    server::Admission a = engine.Submit({spec});
    if (!a.job) {
      std::printf("(error: %s)\n", a.error.ok() ? "engine busy" : a.error.message().c_str());
      return std::nullopt;
    }
    server::ChoiceText out(**tok, {.stop = {}, .end_ids = end_ids, .split_reasoning = true,
                                   .starts_in_reasoning = opens_reasoning});
    // Calls are split out of the content as they stream (tool_choice none keeps them as text).
    std::optional<server::ToolCallStream> calls;
    if (tools->parses()) calls.emplace(tool_names, tools->format);
    Answer answer;
    bool in_reasoning = false;
    size_t consumed = 0;
    uint64_t version = 0;
    bool at_line_start = true;  // on the terminal: a call is shown on a line of its own
    auto show_content = [&](const std::string& piece) {
      if (piece.empty()) return;
      if (in_reasoning) std::printf("%s\n", style.reset());
      in_reasoning = false;
      std::fputs(piece.c_str(), stdout);
      answer.content += piece;
      at_line_start = piece.back() == '\n';
    };
    auto show_calls = [&](const std::vector<server::ParsedToolCall>& made) {
      for (const server::ParsedToolCall& c : made) {
        if (in_reasoning) std::printf("%s", style.reset());
        in_reasoning = false;
        std::printf("%s%s[tool call] %s %s%s\n", at_line_start ? "" : "\n", style.bold(), c.name.c_str(),
                    c.arguments.c_str(), style.reset());
        at_line_start = true;
        answer.calls.push_back(c);
      }
    };
    auto show = [&](const server::SplitDelta& d) {
      if (!d.reasoning.empty()) {
        if (!in_reasoning) std::printf("%s[thinking] ", style.dim());
        in_reasoning = true;
        std::fputs(d.reasoning.c_str(), stdout);
        answer.reasoning += d.reasoning;
      }
      if (calls) {
        server::ToolCallStream::Out split = calls->Push(d.content);
        show_content(split.content);
        show_calls(split.calls);
      } else {
        show_content(d.content);
      }
      std::fflush(stdout);
    };
    // Bounded: the sequence ends after max_tokens, or at Ctrl-C.
    while (true) {
      if (g_interrupted.exchange(false) && !answer.stopped_by_user) {
        a.job->Cancel();
        answer.stopped_by_user = true;
      }
      version = a.job->WaitForChange(version, std::chrono::milliseconds(50));
      const auto p = a.job->Read(0);
      show(out.Feed(std::span<const int>(p.tokens.data() + consumed, p.tokens.size() - consumed)));
      consumed = p.tokens.size();
      if (p.done || out.stopped()) {
        a.job->Cancel();
        break;
      }
    }
    show(out.Finish());
    if (calls) {
      server::ToolCallStream::Out rest = calls->Finish();
      show_content(rest.content);
      show_calls(rest.calls);
    }
    if (in_reasoning) std::printf("%s", style.reset());
    if (answer.stopped_by_user) {
      std::printf("\n[stopped]\n");
    } else if (!at_line_start || answer.calls.empty()) {
      std::printf("\n");
    }
    if (!a.job->error().ok()) std::printf("(error: %s)\n", a.job->error().message().c_str());
    return answer;
  };

  while (true) {
    std::printf("> ");
    std::fflush(stdout);
    std::string line;
    bool interrupted = false;
    if (!ReadLine(&line, &interrupted)) break;  // Ctrl-D
    if (interrupted) {
      std::printf("\n(Ctrl-C stops an answer; /exit or Ctrl-D quits)\n");
      continue;
    }
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      history.erase(std::remove_if(history.begin(), history.end(), [](const auto& m) { return m.role != "system"; }),
                    history.end());
      std::printf("(history cleared)\n");
      continue;
    }
    if (line.empty()) continue;

    const size_t turn_start = history.size();
    history.push_back({"user", line, std::nullopt, {}});
    // A required call applies to the first answer to a message; the answers to tool results are free.
    bool constrained = true;
    bool quit = false;
    while (true) {
      std::optional<Answer> answer = answer_history(constrained);
      constrained = false;
      if (!answer) {  // nothing was generated: the turn is taken back
        history.resize(turn_start);
        break;
      }
      tokenizer::ChatMessage said{"assistant", answer->content, std::nullopt, {}};
      if (!answer->reasoning.empty()) said.reasoning_content = answer->reasoning;
      for (const server::ParsedToolCall& c : answer->calls) {
        const auto args = nlohmann::ordered_json::parse(c.arguments, nullptr, /*allow_exceptions=*/false);
        said.tool_calls.push_back({c.name, tokenizer::PyJsonDumps(args.is_discarded() ? nlohmann::ordered_json::object() : args),
                                   c.arguments});
      }
      // Blank text beside calls is no content, as the server reads it (DeepSeek-V3's template needs that).
      if (!answer->calls.empty() && said.content.find_first_not_of(" \n\t\r") == std::string::npos) {
        said.content.clear();
        said.content_is_null = true;
      }
      history.push_back(std::move(said));
      if (answer->calls.empty() || answer->stopped_by_user) break;
      // The person at the terminal plays the tools: one result per call, then the model goes on.
      for (const server::ParsedToolCall& c : answer->calls) {
        std::printf("%s[%s result]%s> ", style.bold(), c.name.c_str(), style.reset());
        std::fflush(stdout);
        std::string result;
        bool result_interrupted = false;
        if (!ReadLine(&result, &result_interrupted)) {
          quit = true;
          break;
        }
        if (result_interrupted) {  // no result: the calls stay in the history, the model waits for a message
          std::printf("\n(no result given: the call stays unanswered)\n");
          result.clear();
          break;
        }
        history.push_back({"tool", result, std::nullopt, {}});
      }
      if (quit || history.back().role != "tool") break;
    }
    if (quit) break;
  }
  std::printf("\n");
  engine.Shutdown();
  return 0;
}

}  // namespace

void AddChatCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "interactive terminal chat with streaming answers");
  o->model.AddTo(cmd, /*with_mla=*/true);
  cmd->add_option("--system", o->system, "system prompt");
  cmd->add_option("--temperature", o->sampler.temperature, "0 for greedy (default 0.7)");
  cmd->add_option("--top-p", o->sampler.top_p, "nucleus mass (default 1: off)");
  cmd->add_option("--top-k", o->sampler.top_k, "keep the k most likely tokens (default 0: off)");
  cmd->add_option("--max-tokens", o->max_tokens, "new tokens per answer at most (default 1024)")->check(CLI::PositiveNumber);
  cmd->add_option("--ctx", o->ctx, "tokens per conversation (default min(4096, model's))")->check(CLI::Range(int64_t{2}, int64_t{1} << 24));
  cmd->add_option_function<uint64_t>("--seed", [o](uint64_t s) { o->sampler.seed = s; o->seeded = true; },
                                     "random seed (default: a fresh one)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "do not stop at the end-of-turn token (answers run to --max-tokens)");
  cmd->add_option("--tools", o->tools_file,
                  "JSON file with an array of tool definitions (OpenAI's \"tools\"); the model may call them and you "
                  "type each call's result");
  cmd->add_option("--tool-choice", o->tool_choice,
                  "auto (default), none, required, or a function's name: the first answer to each message must call it");
  cmd->callback([o, exit_code] { *exit_code = RunChat(*o); });
}

}  // namespace gorae::cli
