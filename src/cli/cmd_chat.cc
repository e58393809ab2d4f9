// gorae chat: an interactive terminal chat with streaming output and multi-turn history.
// It runs on the same engine as `gorae serve` (one slot), so what you see here is what the
// server would answer. Ctrl-C stops the current answer; /reset, /exit (or Ctrl-D) at the prompt.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "server/batch_engine.h"
#include "server/choice_text.h"
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
  const char* reset() const { return tty ? "\033[0m" : ""; }
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
  if (!o.system.empty()) history.push_back({"system", o.system, std::nullopt});
  std::printf("gorae chat: %s (%s template). /reset clears the history, /exit quits, Ctrl-C stops an answer.\n",
              o.model.model_dir.c_str(), std::string(tokenizer::ChatTemplateName((*tok)->chat_template().value())).c_str());
  uint64_t turn = 0;

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

    history.push_back({"user", line, std::nullopt});
    auto text = (*tok)->RenderChat(history, /*add_generation_prompt=*/true);
    auto ids = text.ok() ? (*tok)->Encode(*text) : Result<std::vector<int32_t>>(text.status());
    if (!ids.ok()) {
      std::printf("(error: %s)\n", ids.status().message().c_str());
      history.pop_back();
      continue;
    }
    const int64_t room = o.ctx - static_cast<int64_t>(ids->size());
    if (room < 1) {
      std::printf("(the conversation is %zu tokens, the context is %lld: /reset to start over)\n", ids->size(),
                  static_cast<long long>(o.ctx));
      history.pop_back();
      continue;
    }
    server::SequenceSpec spec;
    spec.prompt.assign(ids->begin(), ids->end());
    spec.sampler = o.sampler;
    if (!o.seeded) spec.sampler.seed = std::random_device{}();
    spec.sampler.seed += turn++;
    spec.max_tokens = static_cast<int>(std::min<int64_t>(o.max_tokens, room));
    spec.stop_ids = end_ids;
    server::Admission a = engine.Submit({spec});
    if (!a.job) {
      std::printf("(error: %s)\n", a.error.ok() ? "engine busy" : a.error.message().c_str());
      history.pop_back();
      continue;
    }
    server::ChoiceText out(**tok, {.stop = {},
                                   .end_ids = end_ids,
                                   .split_reasoning = true,
                                   .starts_in_reasoning = server::PromptOpensReasoning(*text)});
    std::string content, reasoning;
    bool in_reasoning = false, stopped_by_user = false;
    size_t consumed = 0;
    uint64_t version = 0;
    auto show = [&](const server::SplitDelta& d) {
      if (!d.reasoning.empty()) {
        if (!in_reasoning) std::printf("%s[thinking] ", style.dim());
        in_reasoning = true;
        std::fputs(d.reasoning.c_str(), stdout);
        reasoning += d.reasoning;
      }
      if (!d.content.empty()) {
        if (in_reasoning) std::printf("%s\n", style.reset());
        in_reasoning = false;
        std::fputs(d.content.c_str(), stdout);
        content += d.content;
      }
      std::fflush(stdout);
    };
    // Bounded: the sequence ends after max_tokens, or at Ctrl-C.
    while (true) {
      if (g_interrupted.exchange(false) && !stopped_by_user) {
        a.job->Cancel();
        stopped_by_user = true;
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
    if (in_reasoning) std::printf("%s", style.reset());
    std::printf(stopped_by_user ? "\n[stopped]\n" : "\n");
    if (!a.job->error().ok()) std::printf("(error: %s)\n", a.job->error().message().c_str());
    tokenizer::ChatMessage answer{"assistant", content, std::nullopt};
    if (!reasoning.empty()) answer.reasoning_content = reasoning;
    history.push_back(std::move(answer));
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
  cmd->callback([o, exit_code] { *exit_code = RunChat(*o); });
}

}  // namespace gorae::cli
