// The Ollama routes of `gorae serve` (ollama_api.h has the shapes): the same engine and text
// pipeline as the OpenAI routes, answered as Ollama answers (NDJSON, "thinking", nanosecond
// durations, {"error": ...}).
#include <httplib.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "model/param_count.h"
#include "server/http_server.h"
#include "server/in_flight.h"
#include "server/ollama_api.h"
#include "server/text_stream.h"
#include "tensor/quant.h"

namespace gorae::server {

using nlohmann::json;

namespace {

void SendOllama(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json; charset=utf-8");
}

void SendOllamaError(httplib::Response& res, int status, const std::string& message) {
  SendOllama(res, status, {{"error", message}});
}

Result<json> ParseJson(const std::string& text) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return InvalidArgument("body: invalid JSON");
  if (!body.is_object()) return InvalidArgument("body: expected a JSON object");
  return body;
}

// llama.cpp's file types (general.file_type), the names Ollama shows as quantization_level.
const char* GgufFileTypeName(uint32_t t) {
  static const std::map<uint32_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
      {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
      {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
  auto it = names.find(t);
  return it == names.end() ? nullptr : it->second;
}

// The storage type holding the most bytes: what the weights mostly are.
std::string DominantType(const Model& m) {
  std::map<std::string, int64_t> bytes;
  if (m.checkpoint()) {
    for (const auto& [name, t] : m.checkpoint()->tensors()) bytes[t->dtype_name] += static_cast<int64_t>(t->nbytes);
  } else if (m.gguf()) {
    if (auto ft = m.gguf()->GetU32("general.file_type"); ft.ok() && GgufFileTypeName(*ft)) return GgufFileTypeName(*ft);
    for (const GgufTensor& t : m.gguf()->tensors()) bytes[GgmlTypeName(t.type)] += static_cast<int64_t>(t.nbytes);
  }
  std::string best = "unknown";
  int64_t most = -1;
  for (const auto& [type, n] : bytes) {
    if (n > most) best = type, most = n;
  }
  return best;
}

uint64_t Fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

void HttpServer::OllamaRoutes() {
  auto info = [this] {
    namespace fs = std::filesystem;
    OllamaModelInfo m;
    m.name = options_.model_name.find(':') == std::string::npos ? options_.model_name + ":latest" : options_.model_name;
    m.format = model_.gguf() ? "gguf" : "safetensors";
    m.family = model_.config().model_type;
    m.parameters = CountParams(model_.config()).total;
    m.quantization = DominantType(model_);
    m.context = options_.engine.context;
    m.thinks = PromptOpensReasoning(tok_->chat_template_text()) ||
               tok_->chat_template_text().find("<think>") != std::string::npos;
    std::error_code ec;
    const fs::path path(options_.model_path);
    if (fs::is_regular_file(path, ec)) {
      m.size_bytes = static_cast<int64_t>(fs::file_size(path, ec));
    } else if (fs::is_directory(path, ec)) {
      for (const auto& e : fs::directory_iterator(path, ec)) {
        if (e.is_regular_file(ec)) m.size_bytes += static_cast<int64_t>(e.file_size(ec));
      }
    }
    struct stat st {};
    if (::stat(options_.model_path.c_str(), &st) == 0) m.created = static_cast<int64_t>(st.st_mtime);
    // Ollama digests are sha256 of the model blob; hashing ~GBs at every listing is not worth it,
    // so this one is an identifier of the served model, stable while it is unchanged.
    const uint64_t h = Fnv1a(fmt::format("{}|{}|{}|{}", m.name, m.size_bytes, m.parameters, m.created));
    m.digest = fmt::format("{:016x}{:016x}{:016x}{:016x}", h, Fnv1a("a", h), Fnv1a("b", h), Fnv1a("c", h));
    return m;
  };

  http_->Get("/api/version", [](const httplib::Request&, httplib::Response& res) {
    SendOllama(res, 200, {{"version", kOllamaApiVersion}});
  });
  http_->Get("/api/tags", [info](const httplib::Request&, httplib::Response& res) {
    SendOllama(res, 200, {{"models", json::array({OllamaTag(info())})}});
  });
  http_->Get("/api/ps", [info](const httplib::Request&, httplib::Response& res) {
    json m = OllamaTag(info());
    m["expires_at"] = "9999-12-31T23:59:59Z";  // loaded for as long as the server runs
    m["size_vram"] = 0;
    m["context_length"] = info().context;
    SendOllama(res, 200, {{"models", json::array({m})}});
  });
  http_->Post("/api/show", [this, info](const httplib::Request& req, httplib::Response& res) {
    auto body = ParseJson(req.body);
    if (!body.ok()) return SendOllamaError(res, 400, body.status().message());
    auto name = ParseOllamaShow(*body);
    if (!name.ok()) return SendOllamaError(res, 400, name.status().message());
    const OllamaModelInfo m = info();
    if (*name != m.name && *name != options_.model_name) {
      return SendOllamaError(res, 404, fmt::format("model '{}' not found (this server serves '{}')", *name, m.name));
    }
    SendOllama(res, 200, OllamaShow(m, model_.config()));
  });
  http_->Post("/api/chat", [this](const httplib::Request& req, httplib::Response& res) {
    HandleOllamaGenerate(req, res, /*chat=*/true);
  });
  http_->Post("/api/generate", [this](const httplib::Request& req, httplib::Response& res) {
    HandleOllamaGenerate(req, res, /*chat=*/false);
  });
}

void HttpServer::HandleOllamaGenerate(const httplib::Request& req, httplib::Response& res, bool chat) {
  auto body = ParseJson(req.body);
  if (!body.ok()) return SendOllamaError(res, 400, body.status().message());
  auto parsed = chat ? ParseOllamaChat(*body) : ParseOllamaGenerate(*body);
  if (!parsed.ok()) return SendOllamaError(res, 400, parsed.status().message());
  if (parsed->params.format.kind == OutputFormat::Kind::kJsonSchema) {  // keep the schema's key order
    auto ordered = nlohmann::ordered_json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (!ordered.is_discarded()) parsed->params.format.ordered_schema = ordered["format"];
  }
  const std::string model = body->value("model", options_.model_name);
  // An empty generate prompt (or chat without messages) only asks for the model to be loaded.
  if ((!chat && parsed->prompt.empty()) || (chat && parsed->messages.empty())) {
    json done = OllamaPiece(chat, model, "", "");
    done["done"] = true;
    done["done_reason"] = "load";
    return SendOllama(res, 200, done);
  }

  // Tools (chat): read with their key order, checked and rendered as on the OpenAI route; the
  // answer's calls are parsed (Ollama has no tool_choice: the model decides).
  std::vector<std::string> rendered_tools;
  if (chat) {
    auto ordered = nlohmann::ordered_json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    auto openai = OllamaToolsAsOpenAi(ordered);
    if (!openai.ok()) return SendOllamaError(res, 400, openai.status().message());
    ToolRequest tools;
    tools.format = ToolCallFormatOf(tok_->chat_template());
    if (Status s = ParseToolFields(*openai, &tools, &parsed->messages); !s.ok()) {
      return SendOllamaError(res, 400, s.message());
    }
    for (const ToolSpec& t : tools.tools) {
      rendered_tools.push_back(t.rendered);
      parsed->params.tool_names.push_back(t.name);
    }
    parsed->params.tool_calls = tools.parses();
    parsed->params.tool_format = tools.format;
  }

  Prompt p;
  std::string text = parsed->prompt;
  if (!parsed->raw) {
    auto rendered = tok_->RenderChat(parsed->messages, /*add_generation_prompt=*/true, rendered_tools);
    if (!rendered.ok()) {
      const bool about_tools = rendered.status().message().rfind("tools:", 0) == 0;
      return SendOllamaError(res, 400, about_tools ? rendered.status().message()
                                                   : rendered.status().WithContext("messages").message());
    }
    text = std::move(*rendered);
    p.opens_reasoning = PromptOpensReasoning(text);
    if (p.opens_reasoning && parsed->think == false) {
      // DeepSeek-R1's way of not thinking: an empty, closed think block.
      text += "\n</think>\n\n";
      p.opens_reasoning = false;
    }
  }
  auto ids = tok_->Encode(text, /*add_bos=*/parsed->raw);
  if (!ids.ok()) return SendOllamaError(res, 400, ids.status().WithContext(chat ? "messages" : "prompt").message());
  p.ids.assign(ids->begin(), ids->end());
  const int64_t context = std::min(parsed->num_ctx.value_or(options_.engine.context), options_.engine.context);
  Started st = Start(chat ? Endpoint::kChat : Endpoint::kCompletion, {std::move(p)}, parsed->params,
                     /*split_reasoning=*/!parsed->raw, context);
  if (!st.run) return SendOllamaError(res, st.error.http_status, st.error.message);
  st.run->header.model = model;
  if (parsed->params.stream) {
    OllamaStream(std::move(st.run), chat, res);
  } else {
    OllamaAnswer(std::move(st.run), chat, res);
  }
}

namespace {

// Ollama's tool calls: {"function": {"name", "arguments": {object}}} (arguments as an object).
json OllamaCalls(std::vector<ParsedToolCall>* fresh) {
  if (fresh->empty()) return nullptr;
  json calls = json::array();
  for (const ParsedToolCall& c : *fresh) {
    calls.push_back({{"function", {{"name", c.name}, {"arguments", json::parse(c.arguments, nullptr, false)}}}});
  }
  fresh->clear();
  return calls;
}

OllamaStats StatsOf(const InFlight& run) {
  OllamaStats s;
  s.done_reason = run.finish.empty() ? "stop" : run.finish[0];
  const Usage u = run.usage();
  s.prompt_tokens = u.prompt_tokens;
  s.completion_tokens = u.completion_tokens;
  const auto now = Clock::now();
  auto ns = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); };
  s.total_ns = ns(now - run.start);
  const auto first = run.first_token.empty() ? now : run.first_token[0];
  s.prompt_ns = ns(first - run.start);
  s.eval_ns = ns(now - first);
  return s;
}

}  // namespace

void HttpServer::OllamaAnswer(std::shared_ptr<InFlight> run, bool chat, httplib::Response& res) {
  std::string content, thinking;
  json calls = nullptr;
  while (!run->Done()) {
    run->version = run->job->WaitForChange(run->version, std::chrono::milliseconds(200));
    run->Pump([&](size_t, const SplitDelta& d, const std::string&) {
      content += d.content;
      thinking += d.reasoning;
      if (!run->fresh_calls.empty()) {
        json more = OllamaCalls(&run->fresh_calls[0]);
        if (!more.is_null()) {
          if (calls.is_null()) calls = json::array();
          for (auto& c : more) calls.push_back(std::move(c));
        }
      }
    });
    const Status err = run->job->error();
    if (!err.ok()) return SendOllamaError(res, 500, err.message());
  }
  OllamaStats stats = StatsOf(*run);
  if (stats.done_reason == "tool_calls") stats.done_reason = "stop";  // Ollama's reason for a call
  SendOllama(res, 200, OllamaDone(chat, run->header.model, stats, content, thinking, calls));
}

void HttpServer::OllamaStream(std::shared_ptr<InFlight> run, bool chat, httplib::Response& res) {
  res.status = 200;
  res.set_chunked_content_provider(
      "application/x-ndjson",
      [run, chat](size_t, httplib::DataSink& sink) {
        std::string out;
        run->version = run->job->WaitForChange(run->version, std::chrono::milliseconds(50));
        run->Pump([&](size_t, const SplitDelta& d, const std::string&) {
          const json calls = run->fresh_calls.empty() ? json(nullptr) : OllamaCalls(&run->fresh_calls[0]);
          if (!d.empty() || !calls.is_null()) {
            out += OllamaPiece(chat, run->header.model, d.content, d.reasoning, calls).dump() + "\n";
          }
        });
        const Status err = run->job->error();
        if (!err.ok()) out += json{{"error", err.message()}}.dump() + "\n";
        const bool done = run->Done() || !err.ok();
        if (done && err.ok()) {
          OllamaStats stats = StatsOf(*run);
          if (stats.done_reason == "tool_calls") stats.done_reason = "stop";
          out += OllamaDone(chat, run->header.model, stats, "", "").dump() + "\n";
        }
        // NDJSON has no comment lines: while nothing comes (a long prefill), a write of nothing
        // cannot tell whether the client left, so the slot is freed at the first token after.
        if (out.empty()) return true;
        return run->Write(sink, out, done);
      },
      [run](bool) mutable { run.reset(); });
}

}  // namespace gorae::server
