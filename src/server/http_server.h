// `gorae serve`: the OpenAI-compatible HTTP server over one model and tokenizer.
//
//   POST /v1/chat/completions   messages through the chat template; reasoning split off
//   POST /v1/completions        raw text (or ids) in, text out
//   GET  /v1/models[/{id}]      the one served model
//   GET  /health                {"status": "ok"} (503 "draining" while shutting down) + engine counters
//   GET  /metrics               Prometheus text format (server/metrics.h)
//   POST /tokenize, /detokenize, GET /tokenizer_info   the tokenizer (server/tokenizer_api.h)
//   GET  /                      the chat page
//
// Requests run on the continuous-batching engine (batch_engine.h); each HTTP request holds a
// worker thread while it waits for its tokens. Errors are OpenAI-shaped JSON (openai_format.h).
// With an API key, every /v1/ route but GET /v1/models, and the tokenizer's routes, need
// "Authorization: Bearer KEY" (401
// otherwise); the page, /health, /metrics and the model list stay open so a browser can load the
// page, a client can discover the model and a supervisor can probe. With --cors-origin, browser
// pages of those origins may call the API (preflights answered, Access-Control-Allow-Origin set).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "model/transformer.h"
#include "server/api_request.h"
#include "server/batch_engine.h"
#include "infer/grammar.h"
#include "server/openai_format.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace gorae::server {

class ServerMetrics;
struct InFlight;  // one generation request being answered (in_flight.h)

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: any free port (see Bind)
  std::string api_key;                   // "" : no authentication
  std::vector<std::string> cors_origins; // origins whose pages may call the API ("*": any); none: same-origin only
  std::string model_name = "gorae";      // reported by /v1/models and in responses
  std::string model_path;                // the model file or directory (its size and date for /api/tags)
  size_t max_body_bytes = 8 << 20;       // larger bodies get 413
  // Connections served at once (one thread each, idle until it has bytes to read). Clients that
  // hold connections open without finishing a request (slowloris) take one each, so there are
  // many; beyond this, new connections wait in the accept queue.
  int max_connections = 512;
  int read_timeout_s = 5;  // a connection silent this long in the middle of a request is closed
  std::chrono::milliseconds drain_timeout{30000};
  EngineOptions engine;
};

class HttpServer {
 public:
  // `model` and `tokenizer` must outlive the server.
  HttpServer(const Model& model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer, ServerOptions options);
  ~HttpServer();

  // Binds the listening socket; returns the bound port (useful with port 0).
  Result<int> Bind();
  // Serves until Drain or StopNow; blocks. Call after Bind.
  Status Run();
  // Graceful stop: new requests get 503, running ones finish (up to drain_timeout), then the
  // listener closes and Run returns. Thread-safe; returns at once (the drain runs on its own).
  void Drain();
  // Immediate stop: running requests are failed. Thread-safe.
  void StopNow();

 private:
  void Routes();
  void HandleChat(const httplib::Request& req, httplib::Response& res);
  void HandleCompletion(const httplib::Request& req, httplib::Response& res);
  void HandleHealth(httplib::Response& res);
  void HandleModels(const httplib::Request& req, httplib::Response& res);
  // Sets the CORS headers of an allowed Origin; answers a preflight (true: nothing else to do).
  bool AnswerCors(const httplib::Request& req, httplib::Response& res) const;

  struct Prompt {
    std::vector<int> ids;
    bool opens_reasoning = false;
    size_t added = 0;   // leading ids the server added (a BOS before a text prompt)
    std::string text;   // completions: what echo returns
  };
  // Shared by every generation route: checks each prompt against `context`, submits all
  // choices; the run, or the error to send.
  struct Started {
    std::shared_ptr<InFlight> run;
    ApiError error;
  };
  Started Start(Endpoint endpoint, std::vector<Prompt> prompts, const GenerationParams& params, bool split_reasoning,
                int64_t context);
  // The OpenAI routes: Start, then answer whole or streamed.
  void Generate(Endpoint endpoint, std::vector<Prompt> prompts, const GenerationParams& params,
                httplib::Response& res);
  // The Ollama routes (ollama_routes.cc).
  void OllamaRoutes();
  void HandleOllamaGenerate(const httplib::Request& req, httplib::Response& res, bool chat);
  void OllamaAnswer(std::shared_ptr<InFlight> run, bool chat, httplib::Response& res);
  void OllamaStream(std::shared_ptr<InFlight> run, bool chat, httplib::Response& res);
  void Answer(std::shared_ptr<InFlight> run, httplib::Response& res);
  void Stream(std::shared_ptr<InFlight> run, httplib::Response& res);
  std::vector<int> EndIds(bool ignore_eos) const;

  const Model& model_;
  std::shared_ptr<const tokenizer::Tokenizer> tok_;
  ServerOptions options_;
  std::unique_ptr<BatchEngine> engine_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::once_flag grammar_vocab_once_;              // built at the first structured-output request
  std::shared_ptr<const GrammarVocab> grammar_vocab_;
  std::atomic<int> in_flight_{0};  // generation requests not yet fully answered
  std::atomic<bool> draining_{false};
  std::thread drain_thread_;
};

}  // namespace gorae::server
