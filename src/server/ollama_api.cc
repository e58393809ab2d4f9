#include "server/ollama_api.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>


namespace gorae::server {

using nlohmann::json;

namespace {

// Ollama's option names for the OpenAI request fields that gorae's parser checks; the sampling
// options are validated by that one parser, and its errors renamed to the option's name.
constexpr std::pair<const char*, const char*> kOptionFields[] = {
    {"temperature", "temperature"}, {"top_p", "top_p"},       {"top_k", "top_k"},
    {"min_p", "min_p"},             {"seed", "seed"},         {"stop", "stop"},
    {"repeat_penalty", "repetition_penalty"},                  {"presence_penalty", "presence_penalty"},
    {"frequency_penalty", "frequency_penalty"},                {"num_predict", "max_tokens"}};

Status Renamed(const Status& s) {
  const std::string field = FieldOf(s.message());
  for (const auto& [ollama, openai] : kOptionFields) {
    if (field == openai || field.rfind(std::string(openai) + "[", 0) == 0) {
      return InvalidArgument("options.{}{}", ollama, s.message().substr(std::string(openai).size()));
    }
  }
  return s;
}

// The OpenAI-shaped fields of a request: "stream" (Ollama's default: true) and the options.
Result<json> OpenAiFields(const json& body, OllamaRequest* r) {
  json out = json::object();
  auto stream = body.find("stream");
  if (stream != body.end() && !stream->is_null() && !stream->is_boolean()) return InvalidArgument("stream: expected a boolean");
  out["stream"] = stream == body.end() || stream->is_null() ? true : stream->get<bool>();
  if (auto m = body.find("model"); m != body.end() && !m->is_string()) return InvalidArgument("model: expected a string");
  if (auto f = body.find("format"); f != body.end() && !f->is_null() && !(f->is_string() && f->get<std::string>().empty())) {
    // "json": any JSON object; an object: a JSON Schema (as response_format json_schema).
    if (f->is_string() && *f == "json") {
      r->format.kind = OutputFormat::Kind::kJsonObject;
    } else if (f->is_object()) {
      r->format.kind = OutputFormat::Kind::kJsonSchema;
      r->format.schema = *f;
    } else {
      return InvalidArgument("format: expected \"json\" or a JSON Schema object");
    }
    r->format.field = "format";
  }
  if (auto t = body.find("think"); t != body.end() && !t->is_null()) {
    if (t->is_boolean()) {
      r->think = t->get<bool>();
    } else if (t->is_string() && (*t == "high" || *t == "medium" || *t == "low")) {
      r->think = true;  // gpt-oss's effort levels: gorae's reasoning models just think
    } else {
      return InvalidArgument("think: expected a boolean");
    }
  }
  auto options = body.find("options");
  if (options == body.end() || options->is_null()) return out;
  if (!options->is_object()) return InvalidArgument("options: expected an object");
  for (const auto& [ollama, openai] : kOptionFields) {
    auto v = options->find(ollama);
    if (v == options->end() || v->is_null()) continue;
    // num_predict -1 (no limit) and -2 (fill the context) both mean: up to the context.
    if (std::string_view(ollama) == "num_predict" && v->is_number_integer() && (*v == -1 || *v == -2)) continue;
    out[openai] = *v;
  }
  if (auto v = options->find("num_ctx"); v != options->end() && !v->is_null()) {
    if (!v->is_number_integer() || v->get<int64_t>() < 1) return InvalidArgument("options.num_ctx: expected a positive integer");
    r->num_ctx = v->get<int64_t>();
  }
  return out;  // the other options (num_thread, num_gpu, mirostat, ...) do not apply here
}

Status CheckNoImages(const json& m, const std::string& where) {
  if (auto im = m.find("images"); im != m.end() && !im->is_null() && !(im->is_array() && im->empty())) {
    return InvalidArgument("{}.images: images are not supported (text models only)", where);
  }
  return Status::Ok();
}

}  // namespace

Result<OllamaRequest> ParseOllamaChat(const json& body) {
  if (!body.is_object()) return InvalidArgument("body: expected a JSON object");
  OllamaRequest r;
  GORAE_ASSIGN_OR_RETURN(json openai, OpenAiFields(body, &r));
  auto msgs = body.find("messages");
  if (msgs == body.end() || msgs->is_null()) return InvalidArgument("messages: required");
  if (!msgs->is_array()) return InvalidArgument("messages: expected an array");
  json converted = json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    json m = (*msgs)[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) return InvalidArgument("{}: expected an object", where);
    GORAE_RETURN_IF_ERROR(CheckNoImages(m, where));
    if (auto th = m.find("thinking"); th != m.end()) {  // Ollama's name for the reasoning
      m["reasoning_content"] = *th;
      m.erase("thinking");
    }
    converted.push_back(std::move(m));
  }
  openai["messages"] = std::move(converted);
  auto chat = ParseChatRequest(openai);
  if (!chat.ok()) return Renamed(chat.status());
  r.messages = std::move(chat->messages);
  r.params = chat->params;
  r.params.format = r.format;
  return r;
}

Result<OllamaRequest> ParseOllamaGenerate(const json& body) {
  if (!body.is_object()) return InvalidArgument("body: expected a JSON object");
  OllamaRequest r;
  GORAE_ASSIGN_OR_RETURN(json openai, OpenAiFields(body, &r));
  GORAE_RETURN_IF_ERROR(CheckNoImages(body, "body"));
  if (auto t = body.find("tools"); t != body.end() && !t->is_null() && !(t->is_array() && t->empty())) {
    return InvalidArgument("tools: /api/generate takes no tools (/api/chat does)");
  }
  for (const char* unsupported : {"suffix", "template", "context"}) {
    auto it = body.find(unsupported);
    if (it != body.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()) &&
        !(it->is_array() && it->empty())) {
      return InvalidArgument("{}: not supported by this server", unsupported);
    }
  }
  auto get_string = [&](const char* field, std::string* out) -> Status {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return Status::Ok();
    if (!it->is_string()) return InvalidArgument("{}: expected a string", field);
    *out = it->get<std::string>();
    return Status::Ok();
  };
  std::string system;
  GORAE_RETURN_IF_ERROR(get_string("prompt", &r.prompt));
  GORAE_RETURN_IF_ERROR(get_string("system", &system));
  if (auto raw = body.find("raw"); raw != body.end() && !raw->is_null()) {
    if (!raw->is_boolean()) return InvalidArgument("raw: expected a boolean");
    r.raw = raw->get<bool>();
  }
  // An empty prompt asks Ollama to load the model; messages are only built for a real one.
  json messages = json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", r.prompt}});
  openai["messages"] = std::move(messages);
  auto chat = ParseChatRequest(openai);
  if (!chat.ok()) return Renamed(chat.status());
  r.params = chat->params;
  r.params.format = r.format;
  if (!r.raw) r.messages = std::move(chat->messages);
  return r;
}

Result<nlohmann::ordered_json> OllamaToolsAsOpenAi(const nlohmann::ordered_json& body) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  if (body.contains("tools")) out["tools"] = body["tools"];
  auto msgs = body.find("messages");
  if (msgs == body.end() || !msgs->is_array()) return out;
  nlohmann::ordered_json converted = nlohmann::ordered_json::array();
  std::vector<std::string> pending;  // ids of calls not answered yet, oldest first
  for (size_t i = 0; i < msgs->size(); ++i) {
    nlohmann::ordered_json m = (*msgs)[i];
    if (!m.is_object()) return InvalidArgument("messages[{}]: expected an object", i);
    if (auto calls = m.find("tool_calls"); calls != m.end() && calls->is_array()) {
      nlohmann::ordered_json openai = nlohmann::ordered_json::array();
      for (size_t k = 0; k < calls->size(); ++k) {
        nlohmann::ordered_json c = (*calls)[k];
        if (!c.is_object()) return InvalidArgument("messages[{}].tool_calls[{}]: expected an object", i, k);
        const std::string id = fmt::format("call_{}_{}", i, k);  // Ollama's calls carry no id
        pending.push_back(id);
        c["id"] = id;
        c["type"] = "function";
        openai.push_back(std::move(c));
      }
      m["tool_calls"] = std::move(openai);
    }
    if (m.value("role", "") == "tool") {
      if (pending.empty()) return InvalidArgument("messages[{}]: a tool result with no earlier tool call to answer", i);
      m["tool_call_id"] = pending.front();
      pending.erase(pending.begin());
    }
    converted.push_back(std::move(m));
  }
  out["messages"] = std::move(converted);
  return out;
}

Result<std::string> ParseOllamaShow(const json& body) {
  if (!body.is_object()) return InvalidArgument("body: expected a JSON object");
  for (const char* field : {"model", "name"}) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string()) return InvalidArgument("{}: expected a string", field);
    return it->get<std::string>();
  }
  return InvalidArgument("model: required");
}

namespace {

std::string Rfc3339(int64_t unix_seconds, int64_t nanos) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, nanos);
}

std::string ParameterSize(int64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.1f}B", n / 1e9);
  return fmt::format("{}M", (n + 500'000) / 1'000'000);
}

json Details(const OllamaModelInfo& m) {
  return {{"parent_model", ""},
          {"format", m.format},
          {"family", m.family},
          {"families", json::array({m.family})},
          {"parameter_size", ParameterSize(m.parameters)},
          {"quantization_level", m.quantization}};
}

}  // namespace

std::string OllamaTimestamp() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  return Rfc3339(ns / 1'000'000'000, ns % 1'000'000'000);
}

json OllamaTag(const OllamaModelInfo& m) {
  return {{"name", m.name},         {"model", m.name},   {"modified_at", Rfc3339(m.created, 0)},
          {"size", m.size_bytes},   {"digest", m.digest}, {"details", Details(m)}};
}

json OllamaShow(const OllamaModelInfo& m, const ModelConfig& c) {
  const std::string arch = m.family;
  json info = {{"general.architecture", arch},
               {"general.parameter_count", m.parameters},
               {arch + ".context_length", m.context},
               {arch + ".embedding_length", c.hidden_size},
               {arch + ".block_count", c.num_hidden_layers},
               {arch + ".attention.head_count", c.num_attention_heads},
               {arch + ".vocab_size", c.vocab_size}};
  json capabilities = json::array({"completion"});
  if (m.thinks) capabilities.push_back("thinking");
  return {{"modelfile", ""},
          {"parameters", fmt::format("num_ctx {}", m.context)},
          {"template", ""},
          {"details", Details(m)},
          {"model_info", std::move(info)},
          {"capabilities", std::move(capabilities)},
          {"modified_at", Rfc3339(m.created, 0)}};
}

json OllamaPiece(bool chat, const std::string& model, const std::string& content, const std::string& thinking,
                 const json& tool_calls) {
  json out = {{"model", model}, {"created_at", OllamaTimestamp()}};
  if (chat) {
    json message = {{"role", "assistant"}, {"content", content}};
    if (!thinking.empty()) message["thinking"] = thinking;
    if (!tool_calls.is_null()) message["tool_calls"] = tool_calls;
    out["message"] = std::move(message);
  } else {
    out["response"] = content;
    if (!thinking.empty()) out["thinking"] = thinking;
  }
  out["done"] = false;
  return out;
}

json OllamaDone(bool chat, const std::string& model, const OllamaStats& s, const std::string& content,
                const std::string& thinking, const json& tool_calls) {
  json out = OllamaPiece(chat, model, content, thinking, tool_calls);
  out["done"] = true;
  out["done_reason"] = s.done_reason;
  out["total_duration"] = s.total_ns;
  out["load_duration"] = 0;  // the model is loaded when the server starts
  out["prompt_eval_count"] = s.prompt_tokens;
  out["prompt_eval_duration"] = s.prompt_ns;
  out["eval_count"] = s.completion_tokens;
  out["eval_duration"] = s.eval_ns;
  return out;
}

}  // namespace gorae::server
