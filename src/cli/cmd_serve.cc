// gorae serve: the OpenAI-compatible HTTP server (src/server/http_server.h), local by default.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "server/http_server.h"

namespace gorae::cli {

namespace {

struct ServeOptions {
  ModelOptions model;
  server::ServerOptions server;
  int64_t ctx = 0;
  int drain_seconds = 30;
  size_t max_body_mb = 8;
};

int RunServe(ServeOptions& o) {
  auto model = o.model.Load();
  if (!model.ok()) return ReportError(model.status().message());
  if (const int followed = FollowIfExpertRank(**model); followed >= 0) return followed;
  auto tok = o.model.LoadTokenizer();
  if (!tok.ok()) return ReportError(tok.status().message());
  if (!(*tok)->chat_template().ok()) {
    std::fprintf(stderr, "gorae serve: no usable chat template (%s): /v1/chat/completions will answer 400\n",
                 (*tok)->chat_template().status().message().c_str());
  }

  const int64_t max_pos = (*model)->config().max_position_embeddings;
  if (o.ctx == 0) o.ctx = max_pos > 0 ? std::min<int64_t>(max_pos, 4096) : 4096;
  if (max_pos > 0 && o.ctx > max_pos) {
    return ReportError(fmt::format("--ctx {} is more than the model's max_position_embeddings ({})", o.ctx, max_pos));
  }
  server::ServerOptions& so = o.server;
  so.engine.context = o.ctx;
  so.engine.mla = o.model.mla_mode();
  so.engine.vocab_limit = (*tok)->vocab_size();  // padded ids past the tokenizer have no text
  so.drain_timeout = std::chrono::seconds(o.drain_seconds);
  so.max_body_bytes = o.max_body_mb << 20;
  so.model_path = o.model.model_dir;
  if (so.model_name.empty()) {
    so.model_name = std::filesystem::path(o.model.model_dir).lexically_normal().filename().string();
    if (so.model_name.empty()) so.model_name = std::filesystem::path(o.model.model_dir).parent_path().filename().string();
    if (so.model_name.empty()) so.model_name = "gorae";
  }

  // SIGINT/SIGTERM are taken by one thread with sigwait (blocked everywhere else, so every
  // thread started from here on inherits the mask): the first drains, a second stops at once.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a vanished client must not kill the server

  server::HttpServer http(**model, *tok, so);
  auto port = http.Bind();
  if (!port.ok()) return ReportError(port.status().message());
  if (so.host != "127.0.0.1" && so.host != "localhost" && so.host != "::1") {
    std::fprintf(stderr, "gorae serve: warning: listening on %s, reachable from other machines%s\n", so.host.c_str(),
                 so.api_key.empty() ? " without an --api-key" : "");
  }
  std::printf("gorae serve: model '%s' (context %lld, %d parallel) listening on http://%s:%d\n", so.model_name.c_str(),
              static_cast<long long>(so.engine.context), so.engine.parallel, so.host.c_str(), *port);
  std::fflush(stdout);

  std::atomic<bool> finished{false};
  std::thread signal_thread([&] {
    int count = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (finished.load()) return;
      if (++count == 1) {
        std::fprintf(stderr, "gorae serve: signal %d: finishing running requests (again to stop now)\n", sig);
        http.Drain();
      } else {
        std::fprintf(stderr, "gorae serve: signal %d: stopping now\n", sig);
        http.StopNow();
      }
    }
  });
  Status s = http.Run();
  finished.store(true);
  pthread_kill(signal_thread.native_handle(), SIGTERM);  // wakes sigwait so the thread can end
  signal_thread.join();
  if (!s.ok()) return ReportError(s.message());
  std::fprintf(stderr, "gorae serve: stopped\n");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (chat, completions, chat page)");
  o->model.AddTo(cmd, /*with_mla=*/true);
  server::ServerOptions& s = o->server;
  s.model_name.clear();
  cmd->add_option("--host", s.host, "address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", s.port, "TCP port (default 8080; 0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", s.api_key, "require 'Authorization: Bearer KEY' on /v1/ routes (GET /v1/models stays open)");
  cmd->add_option("--cors-origin", s.cors_origins,
                  "let browser pages from this origin call the API (repeat for more; '*': any origin)");
  cmd->add_option("--parallel", s.engine.parallel, "sequences decoded together (default 8)")->check(CLI::Range(1, 256));
  cmd->add_option("--ctx", o->ctx, "tokens per sequence, prompt + answer (default min(4096, model's))")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 24));
  cmd->add_option("--max-queue", s.engine.max_queued, "sequences waiting for a slot before 503 (default 64)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--prefill-chunk", s.engine.prefill_chunk, "prompt tokens per engine step (default 256)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("!--no-prompt-cache", s.engine.prompt_cache,
               "prefill every prompt whole (default: reuse the KV of prompt prefixes the slots hold)");
  cmd->add_option("--model-name", s.model_name, "model id reported to clients (default: the directory name)");
  cmd->add_option("--max-body-mb", o->max_body_mb, "largest request body in MiB (default 8)")->check(CLI::Range(1, 1024));
  cmd->add_option("--max-connections", s.max_connections,
                  "connections served at once, idle ones included (default 512; more wait to be accepted)")
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--read-timeout", s.read_timeout_s,
                  "seconds a connection may stay silent in the middle of a request before it is closed (default 5)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--drain-timeout", o->drain_seconds, "seconds to let running requests finish on SIGINT/SIGTERM (default 30)")
      ->check(CLI::Range(0, 3600));
  cmd->callback([o, exit_code] { *exit_code = RunServe(*o); });
}

}  // namespace gorae::cli
