#include "server/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "server/chat_page.h"
#include "server/in_flight.h"
#include "server/structured_output.h"
#include "server/tokenizer_api.h"

namespace gorae::server {

using nlohmann::json;

namespace {

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, const ApiError& e) { SendJson(res, e.http_status, e.ToJson()); }

// Compares without an early exit, so the time taken says nothing about the key.
bool SameSecret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(b.size(), 1)]);
  return diff == 0;
}

Result<json> ParseBody(const httplib::Request& req) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    // Find where it breaks, for the message (nlohmann reports the byte).
    try {
      json again = json::parse(req.body);
    } catch (const json::parse_error& e) {
      return InvalidArgument("body: invalid JSON at byte {}", e.byte);
    }
    return InvalidArgument("body: invalid JSON");
  }
  if (!body.is_object()) return InvalidArgument("body: expected a JSON object");
  return body;
}


// The metrics label of a request path: one of the routes, never the raw path of an unknown one.
std::string_view RouteLabel(const std::string& path) {
  for (std::string_view r : {"/", "/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions",
                             "/tokenize", "/detokenize", "/tokenizer_info", "/api/version", "/api/tags", "/api/ps",
                             "/api/show", "/api/chat", "/api/generate"}) {
    if (path == r) return r;
  }
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The schema of response_format.json_schema as written: its properties are generated in the
// order the client gave them (nlohmann::json, which parsed the body, sorts keys).
void KeepSchemaOrder(const std::string& raw, OutputFormat* f) {
  if (f->kind != OutputFormat::Kind::kJsonSchema) return;
  auto ordered = nlohmann::ordered_json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (ordered.is_discarded()) return;
  f->ordered_schema = ordered["response_format"]["json_schema"]["schema"];
}

// The routes an API key guards: all of /v1/ but the model list, and the tokenizer's.
bool NeedsKey(const httplib::Request& req) {
  if (req.path.rfind("/v1/", 0) == 0) return !(req.method == "GET" && RouteLabel(req.path).rfind("/v1/models", 0) == 0);
  if (req.path == "/api/chat" || req.path == "/api/generate" || req.path == "/api/show") return true;
  return req.path == "/tokenize" || req.path == "/detokenize" || req.path == "/tokenizer_info";
}

}  // namespace

HttpServer::HttpServer(const Model& model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer, ServerOptions options)
    : model_(model), tok_(std::move(tokenizer)), options_(std::move(options)) {
  engine_ = std::make_unique<BatchEngine>(model_, options_.engine);
  metrics_ = std::make_unique<ServerMetrics>();
  http_ = std::make_unique<httplib::Server>();
  // httplib gives each connection a worker thread for as long as it is open, reading or not: a
  // request waiting for the engine holds one, and so does a client that sends half a request and
  // waits. So there are max_connections of them (an idle thread costs little), and at least one
  // per slot and queue place, plus spares so /health and the page answer when the engine is full.
  const size_t workers = static_cast<size_t>(
      std::max(options_.max_connections, options_.engine.parallel + options_.engine.max_queued + 8));
  http_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // httplib's idle keep-alive wait does not notice a stop, so a drain waits this long for idle
  // connections (a browser's, say) to close: short, as reconnecting on loopback is cheap.
  http_->set_keep_alive_timeout(2);
  http_->set_read_timeout(options_.read_timeout_s, 0);
  // httplib sets SO_REUSEPORT, with which a second server binds the same port and the kernel
  // splits connections between the two: a client would get answers from either model. Only
  // SO_REUSEADDR, so that a restart can bind at once while old connections sit in TIME_WAIT.
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  Routes();
}

HttpServer::~HttpServer() {
  StopNow();
  if (drain_thread_.joinable()) drain_thread_.join();
}

Result<int> HttpServer::Bind() {
  if (options_.port == 0) {
    const int port = http_->bind_to_any_port(options_.host);
    if (port <= 0) return IOError("cannot listen on {} (any port)", options_.host);
    return port;
  }
  if (!http_->bind_to_port(options_.host, options_.port)) {
    return IOError("cannot listen on {}:{} (in use, or not an address of this machine)", options_.host, options_.port);
  }
  return options_.port;
}

Status HttpServer::Run() {
  if (!http_->listen_after_bind() && !draining_.load()) return IOError("the HTTP listener stopped unexpectedly");
  engine_->Shutdown();
  return Status::Ok();
}

void HttpServer::Drain() {
  if (draining_.exchange(true)) return;
  engine_->StopAccepting();
  drain_thread_ = std::thread([this] {
    // Wait for the engine and for the handlers to write their last bytes, then close.
    const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
    engine_->WaitIdle(options_.drain_timeout);
    while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    http_->stop();
  });
}

void HttpServer::StopNow() {
  draining_.store(true);
  engine_->Shutdown();
  http_->stop();
}

std::vector<int> HttpServer::EndIds(bool ignore_eos) const {
  std::vector<int> ids;
  if (ignore_eos) return ids;
  for (int64_t id : model_.config().eos_token_ids) ids.push_back(static_cast<int>(id));
  for (int32_t id : {tok_->eot_id(), tok_->eos_id()}) {
    if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

void HttpServer::Routes() {
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (AnswerCors(req, res)) return httplib::Server::HandlerResponse::Handled;
    // The model list stays open like /health, so that a client can discover the server first.
    if (options_.api_key.empty() || !NeedsKey(req)) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) == 0 && SameSecret(auth.substr(prefix.size()), options_.api_key)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    ApiError e;
    e.http_status = 401;
    e.code = "invalid_api_key";
    e.message = auth.empty() ? "missing API key: send the header 'Authorization: Bearer KEY'" : "incorrect API key";
    SendError(res, e);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Errors httplib raises itself (unknown route, body too large, bad HTTP) get the same shape.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e;
    e.http_status = res.status;
    if (res.status == 404) {
      e.message = fmt::format("no route for {} {}", req.method, req.path);
      e.code = "not_found";
    } else if (res.status == 413) {
      e.message = fmt::format("body: the request body is larger than {} bytes", options_.max_body_bytes);
      e.param = "body";
    } else {
      e.message = fmt::format("HTTP error {}", res.status);
      if (res.status >= 500) e.type = "server_error";
    }
    SendError(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_->CountResponse(RouteLabel(req.path), res.status);
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SendError(res, ServerError("internal error: " + what));
  });

  http_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    // A sized content provider is sent as is: with set_content, httplib brotli-compresses the
    // ~1 MB page (its libraries inlined) at quality 11 on every request, 1.4-1.9 s per load.
    const std::string_view page = ChatPageHtml();
    res.set_content_provider(page.size(), "text/html; charset=utf-8",
                             [page](size_t offset, size_t length, httplib::DataSink& sink) {
                               return sink.write(page.data() + offset, length);
                             });
  });
  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) { HandleHealth(res); });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->Render(engine_->Stats(), options_.engine), "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) { HandleModels(req, res); });
  http_->Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) { HandleModels(req, res); });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { HandleChat(req, res); });
  http_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { HandleCompletion(req, res); });
  OllamaRoutes();
  http_->Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = ParseBody(req);
    if (!body.ok()) return SendError(res, BadRequest(body.status()));
    auto out = Tokenize(*tok_, *body, options_.engine.context);
    if (!out.ok()) return SendError(res, BadRequest(out.status()));
    SendJson(res, 200, *out);
  });
  http_->Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = ParseBody(req);
    if (!body.ok()) return SendError(res, BadRequest(body.status()));
    auto out = Detokenize(*tok_, *body);
    if (!out.ok()) return SendError(res, BadRequest(out.status()));
    SendJson(res, 200, *out);
  });
  http_->Get("/tokenizer_info", [this](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, TokenizerInfo(*tok_, options_.engine.context));
  });
}

bool HttpServer::AnswerCors(const httplib::Request& req, httplib::Response& res) const {
  const std::string origin = req.get_header_value("Origin");
  const bool any = std::find(options_.cors_origins.begin(), options_.cors_origins.end(), "*") != options_.cors_origins.end();
  const bool allowed = !origin.empty() && (any || std::find(options_.cors_origins.begin(), options_.cors_origins.end(),
                                                                origin) != options_.cors_origins.end());
  if (allowed) {
    res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
    if (!any) res.set_header("Vary", "Origin");
  }
  // A preflight (OPTIONS with Access-Control-Request-Method) is answered here, before the API
  // key check: browsers send it without credentials.
  if (req.method != "OPTIONS") return false;
  if (!allowed) {
    ApiError e;
    e.http_status = 403;
    e.code = "cors_origin_not_allowed";
    e.message = origin.empty() ? "OPTIONS: only CORS preflight requests (with an Origin header) are answered"
                               : fmt::format("Origin: '{}' is not allowed here (gorae serve --cors-origin)", origin);
    SendError(res, e);
    return true;
  }
  res.status = 204;
  res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  const std::string asked = req.get_header_value("Access-Control-Request-Headers");
  res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
  res.set_header("Access-Control-Max-Age", "600");
  return true;
}

void HttpServer::HandleHealth(httplib::Response& res) {
  const EngineStats s = engine_->Stats();
  const bool draining = draining_.load();
  json body = {{"status", draining ? "draining" : "ok"},
               {"model", options_.model_name},
               {"slots_total", options_.engine.parallel},
               {"slots_busy", s.active},
               {"queued", s.queued},
               {"peak_batch", s.peak_batch},
               {"steps", s.steps},
               {"generated_tokens", s.generated}};
  SendJson(res, draining ? 503 : 200, body);
}

void HttpServer::HandleModels(const httplib::Request& req, httplib::Response& res) {
  const json model = {{"id", options_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "gorae"},
                      {"context_length", options_.engine.context}};
  if (req.matches.size() > 1) {
    if (req.matches[1] != options_.model_name) {
      ApiError e;
      e.http_status = 404;
      e.code = "model_not_found";
      e.param = "model";
      e.message = fmt::format("model '{}' is not served here (this server serves '{}')", req.matches[1].str(),
                              options_.model_name);
      SendError(res, e);
      return;
    }
    SendJson(res, 200, model);
    return;
  }
  SendJson(res, 200, {{"object", "list"}, {"data", json::array({model})}});
}

void HttpServer::HandleChat(const httplib::Request& req, httplib::Response& res) {
  auto body = ParseBody(req);
  if (!body.ok()) return SendError(res, BadRequest(body.status()));
  auto parsed = ParseChatRequest(*body);
  if (!parsed.ok()) return SendError(res, BadRequest(parsed.status()));
  KeepSchemaOrder(req.body, &parsed->params.format);
  // Tools: read from the body with its key order kept (a definition is rendered as written).
  ToolRequest tools;
  tools.format = ToolCallFormatOf(tok_->chat_template());
  {
    const auto ordered = nlohmann::ordered_json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (!ordered.is_discarded()) {
      if (Status s = ParseToolFields(ordered, &tools, &parsed->messages); !s.ok()) return SendError(res, BadRequest(s));
    }
  }
  std::vector<std::string> rendered_tools;
  for (const ToolSpec& t : tools.tools) rendered_tools.push_back(t.rendered);
  parsed->params.tool_calls = tools.parses();
  parsed->params.tool_format = tools.format;
  for (const ToolSpec& t : tools.tools) parsed->params.tool_names.push_back(t.name);
  if (tools.choice == ToolRequest::Choice::kRequired || tools.choice == ToolRequest::Choice::kNamed) {
    // A required call is decoded under its grammar, so it is always well formed and valid.
    if (parsed->params.format.kind != OutputFormat::Kind::kText) {
      return SendError(res, BadRequest(InvalidArgument("tool_choice: a required tool call cannot be combined with "
                                                       "response_format or grammar")));
    }
    auto grammar = RequiredCallGrammar(tools);
    if (!grammar.ok()) return SendError(res, BadRequest(grammar.status()));
    parsed->params.format.kind = OutputFormat::Kind::kGrammar;
    parsed->params.format.gbnf = std::move(*grammar);
    parsed->params.format.field = "tools";
  }
  auto text = tok_->RenderChat(parsed->messages, /*add_generation_prompt=*/true, rendered_tools);
  if (!text.ok()) {
    const bool about_tools = text.status().message().rfind("tools:", 0) == 0;
    return SendError(res, BadRequest(about_tools ? text.status() : text.status().WithContext("messages")));
  }
  auto ids = tok_->Encode(*text);  // the template writes the BOS itself
  if (!ids.ok()) return SendError(res, BadRequest(ids.status().WithContext("messages")));
  Prompt p;
  p.ids.assign(ids->begin(), ids->end());
  p.opens_reasoning = PromptOpensReasoning(*text);
  Generate(Endpoint::kChat, {std::move(p)}, parsed->params, res);
}

void HttpServer::HandleCompletion(const httplib::Request& req, httplib::Response& res) {
  auto body = ParseBody(req);
  if (!body.ok()) return SendError(res, BadRequest(body.status()));
  auto parsed = ParseCompletionRequest(*body);
  if (!parsed.ok()) return SendError(res, BadRequest(parsed.status()));
  KeepSchemaOrder(req.body, &parsed->params.format);
  std::vector<Prompt> prompts;
  for (size_t i = 0; i < parsed->prompts.size(); ++i) {
    const CompletionPrompt& cp = parsed->prompts[i];
    Prompt p;
    if (cp.is_ids) {
      p.ids = cp.ids;
      if (parsed->params.echo) {
        std::vector<int32_t> known(cp.ids.begin(), cp.ids.end());
        auto text = tok_->Decode(known);
        if (!text.ok()) return SendError(res, BadRequest(text.status().WithContext(fmt::format("prompt[{}]", i))));
        p.text = std::move(*text);
      }
    } else {
      auto ids = tok_->Encode(cp.text);
      if (!ids.ok()) return SendError(res, BadRequest(ids.status().WithContext("prompt")));
      // A plain-text prompt starts a document: BOS first, unless the text already has it.
      if (tok_->bos_id() >= 0 && (ids->empty() || ids->front() != tok_->bos_id())) {
        p.ids.push_back(tok_->bos_id());
        p.added = 1;
      }
      p.ids.insert(p.ids.end(), ids->begin(), ids->end());
      p.text = cp.text;
    }
    if (p.ids.empty()) return SendError(res, BadRequest(InvalidArgument("prompt: the prompt has no tokens")));
    prompts.push_back(std::move(p));
  }
  Generate(Endpoint::kCompletion, std::move(prompts), parsed->params, res);
}

void HttpServer::Generate(Endpoint endpoint, std::vector<Prompt> prompts, const GenerationParams& params,
                          httplib::Response& res) {
  Started st = Start(endpoint, std::move(prompts), params, endpoint == Endpoint::kChat, options_.engine.context);
  if (!st.run) return SendError(res, st.error);
  if (params.stream) {
    Stream(std::move(st.run), res);
  } else {
    Answer(std::move(st.run), res);
  }
}

HttpServer::Started HttpServer::Start(Endpoint endpoint, std::vector<Prompt> prompts, const GenerationParams& params,
                                      bool split_reasoning, int64_t context) {
  const Clock::time_point start = Clock::now();
  std::vector<SequenceSpec> specs;
  auto run = std::make_shared<InFlight>();
  std::random_device entropy;
  const bool echo_only = params.echo && params.max_tokens && *params.max_tokens == 0;
  // Structured outputs: one constraint per request (and per whether its prompt opens a think block).
  std::shared_ptr<const GrammarConstraint> constraints[2];
  if (params.format.kind != OutputFormat::Kind::kText) {
    std::call_once(grammar_vocab_once_, [this] {
      grammar_vocab_ = GrammarVocabOf(*tok_, model_.config().vocab_size, EndIds(/*ignore_eos=*/false));
    });
    for (const Prompt& p : prompts) {
      auto& c = constraints[p.opens_reasoning ? 1 : 0];
      if (c) continue;
      auto built = ConstraintFor(params.format, p.opens_reasoning, grammar_vocab_);
      if (!built.ok()) return {nullptr, BadRequest(built.status())};
      c = std::move(*built);
    }
  }
  for (const Prompt& p : prompts) {
    const int64_t len = static_cast<int64_t>(p.ids.size());
    if (len > context || (len == context && !echo_only)) {
      return {nullptr, BadRequest(InvalidArgument("{}: the prompt is {} tokens, more than the context of {} allows",
                                                  endpoint == Endpoint::kChat ? "messages" : "prompt", len, context))};
    }
    run->prompt_tokens += static_cast<int>(len);
    for (int j = 0; j < params.n; ++j) {
      SequenceSpec s;
      s.prompt = p.ids;
      s.sampler = params.sampler;
      // Choice j of a seeded request uses seed + j: reproducible, and the choices differ.
      s.sampler.seed = params.has_seed ? params.sampler.seed + j : (uint64_t{entropy()} << 32 | entropy());
      s.max_tokens = params.max_tokens ? *params.max_tokens : static_cast<int>(context - len);
      s.stop_ids = EndIds(params.ignore_eos);
      s.logprobs = params.logprobs;
      s.constraint = constraints[p.opens_reasoning ? 1 : 0];
      // Echo needs the prompt's logprobs when asked for them, or when it is all there is to do.
      if (params.echo && (params.logprobs >= 0 || echo_only)) s.prompt_logprobs = std::max(params.logprobs, 0);
      specs.push_back(std::move(s));
      if (params.echo) run->echo.push_back({p.ids, p.added, p.text, false});
      run->logprobs.push_back(params.logprobs >= 0 ? std::make_unique<ChoiceLogprobs>(*tok_, endpoint == Endpoint::kChat)
                                                   : nullptr);

      ChoiceTextOptions t;
      t.stop = params.stop;
      t.end_ids = specs.back().stop_ids;  // (s itself was moved from)
      t.split_reasoning = split_reasoning;
      t.starts_in_reasoning = p.opens_reasoning;
      run->text.push_back(std::make_unique<ChoiceText>(*tok_, std::move(t)));
    }
  }
  const size_t n = specs.size();
  run->results.resize(n);
  for (size_t i = 0; i < n; ++i) run->results[i].has_reasoning = prompts[i / params.n].opens_reasoning;
  Admission a = engine_->Submit(std::move(specs));
  if (!a.error.ok()) return {nullptr, BadRequest(a.error)};
  if (a.overloaded || !a.job) return {nullptr, Overloaded()};

  run->header = {endpoint, NewRequestId(endpoint), UnixNow(), options_.model_name};
  run->job = std::move(a.job);
  run->consumed.assign(n, 0);
  run->finish.assign(n, "");
  run->role_sent.assign(n, false);
  run->logprobs_taken.assign(n, 0);
  run->cached.assign(n, 0);
  if (params.tool_calls) {
    const ToolCallFormat format = params.tool_format;
    for (size_t i = 0; i < n; ++i) run->tool_stream.push_back(std::make_unique<ToolCallStream>(params.tool_names, format));
    run->fresh_calls.resize(n);
    run->calls_written.assign(n, 0);
  }
  run->choices_per_prompt = params.n;
  run->include_usage = params.include_usage;
  in_flight_.fetch_add(1);
  run->in_flight = &in_flight_;
  run->metrics = metrics_.get();
  run->start = start;
  metrics_->AddPromptTokens(run->prompt_tokens);
  return {std::move(run), {}};
}

void HttpServer::Answer(std::shared_ptr<InFlight> run, httplib::Response& res) {
  // Bounded: every choice ends after max_tokens, and a shut-down engine fails the job.
  while (!run->Done()) {
    run->version = run->job->WaitForChange(run->version, std::chrono::milliseconds(200));
    run->Pump([&](size_t i, const SplitDelta& d, const std::string& reason) {
      ChoiceResult& r = run->results[i];
      if (!run->fresh_calls.empty()) {
        for (const ParsedToolCall& c : run->fresh_calls[i]) {
          if (r.tool_calls.is_null()) r.tool_calls = json::array();
          r.tool_calls.push_back({{"id", c.id}, {"type", "function"},
                                  {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
        }
        run->fresh_calls[i].clear();
      }
      r.content += d.content;
      r.reasoning += d.reasoning;
      r.has_reasoning = r.has_reasoning || !d.reasoning.empty();
      if (!reason.empty()) r.finish_reason = reason;
    });
    const Status err = run->job->error();
    if (!err.ok()) return SendError(res, ServerError(err.message()));
  }
  for (size_t i = 0; i < run->results.size(); ++i) {
    if (run->logprobs[i]) run->results[i].logprobs = run->logprobs[i]->Since(0);
  }
  SendJson(res, 200, WholeResponse(run->header, run->results, run->usage()));
}

void HttpServer::Stream(std::shared_ptr<InFlight> run, httplib::Response& res) {
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto idle_polls = std::make_shared<int>(0);
  res.set_chunked_content_provider(
      "text/event-stream",
      [run, idle_polls](size_t, httplib::DataSink& sink) {
        std::string out;
        run->version = run->job->WaitForChange(run->version, std::chrono::milliseconds(50));
        run->Pump([&](size_t i, const SplitDelta& d, const std::string& reason) {
          const bool role = run->header.endpoint == Endpoint::kChat && !run->role_sent[i];
          run->role_sent[i] = true;
          // Content (with its tokens' logprobs) first, then the finish_reason in its own chunk,
          // as OpenAI does. Tokens that add no text yet (part of a character) still send theirs.
          const json logprobs = run->logprobs[i] ? run->logprobs[i]->TakeForChunk() : json(nullptr);
          if (role || !d.empty() || !logprobs.is_null()) {
            out += SseEvent(ChunkFor(run->header, static_cast<int>(i), role, d.reasoning, d.content, "", logprobs));
          }
          if (!run->fresh_calls.empty() && !run->fresh_calls[i].empty()) {
            json calls = json::array();
            for (const ParsedToolCall& c : run->fresh_calls[i]) {
              calls.push_back({{"index", run->calls_written[i]++}, {"id", c.id}, {"type", "function"},
                               {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
            }
            run->fresh_calls[i].clear();
            out += SseEvent(ToolCallChunk(run->header, static_cast<int>(i), calls));
          }
          if (!reason.empty()) out += SseEvent(ChunkFor(run->header, static_cast<int>(i), false, "", "", reason));
        });
        const Status err = run->job->error();
        if (!err.ok()) out += SseEvent(ServerError(err.message()).ToJson());
        const bool done = run->Done() || !err.ok();
        if (done) {
          if (run->include_usage) out += SseEvent(UsageChunk(run->header, run->usage()));
          out += "data: [DONE]\n\n";
        }
        if (out.empty()) {
          // Nothing new (queued, or a long prefill): a comment line every ~0.5 s, so that a
          // client that went away is noticed (the write fails) and its slot freed.
          if (++*idle_polls < 10) return true;
          out = ": waiting\n\n";
        }
        *idle_polls = 0;
        return run->Write(sink, out, done);
      },
      [run](bool) mutable { run.reset(); });
}

}  // namespace gorae::server
