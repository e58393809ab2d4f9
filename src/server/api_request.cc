#include "server/api_request.h"

#include <cctype>
#include <cmath>
#include <limits>

namespace gorae::server {

namespace {

using nlohmann::json;

// JSON type names as a client would write them.
std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::discarded: return "invalid";
    default: return "number";
  }
}

Status Expected(const std::string& field, const char* what, const json& v) {
  return InvalidArgument("{}: expected {}, got {}", field, what, TypeName(v));
}

// Optional number field (absent or null: unchanged).
Status GetNumber(const json& body, const char* field, double lo, double hi, double* out) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return Expected(field, "a number", *it);
  const double v = it->get<double>();
  if (!(v >= lo && v <= hi)) return InvalidArgument("{}: must be in [{}, {}], got {}", field, lo, hi, v);
  *out = v;
  return Status::Ok();
}

Status GetInt(const json& body, const char* field, int64_t lo, int64_t hi, std::optional<int64_t>* out) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) return Expected(field, "an integer", *it);
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(hi)) {
    return InvalidArgument("{}: must be in [{}, {}], got {}", field, lo, hi, it->get<uint64_t>());
  }
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return InvalidArgument("{}: must be in [{}, {}], got {}", field, lo, hi, v);
  *out = v;
  return Status::Ok();
}

Status GetBool(const json& body, const char* field, bool* out) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return Expected(field, "a boolean", *it);
  *out = it->get<bool>();
  return Status::Ok();
}

// A field that gorae cannot honour: fine when absent or at its no-op value.
Status RefuseUnlessNeutral(const json& body, const char* field, const json& neutral) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null() || *it == neutral) return Status::Ok();
  return InvalidArgument("{}: not supported by this server", field);
}

// response_format ({"type": "text" | "json_object" | "json_schema"}) or llama.cpp's "grammar".
Status ParseOutputFormat(const json& body, OutputFormat* f) {
  auto grammar = body.find("grammar");
  const bool has_grammar = grammar != body.end() && !grammar->is_null();
  if (has_grammar) {
    if (!grammar->is_string()) return Expected("grammar", "a string of GBNF rules", *grammar);
    if (!grammar->get<std::string>().empty()) {
      f->kind = OutputFormat::Kind::kGrammar;
      f->gbnf = grammar->get<std::string>();
      f->field = "grammar";
    }
  }
  auto it = body.find("response_format");
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return Expected("response_format", "an object", *it);
  auto type = it->find("type");
  if (type == it->end() || !type->is_string()) return InvalidArgument("response_format.type: required (text, json_object or json_schema)");
  const std::string t = type->get<std::string>();
  if (t == "text") return Status::Ok();
  if (f->kind == OutputFormat::Kind::kGrammar) return InvalidArgument("grammar: give either grammar or response_format, not both");
  if (t == "json_object") {
    f->kind = OutputFormat::Kind::kJsonObject;
    f->field = "response_format";
    return Status::Ok();
  }
  if (t != "json_schema") return InvalidArgument("response_format.type: expected text, json_object or json_schema, got '{}'", t);
  auto js = it->find("json_schema");
  if (js == it->end() || !js->is_object()) return InvalidArgument("response_format.json_schema: required, an object with a schema");
  auto schema = js->find("schema");
  if (schema == js->end() || !(schema->is_object() || schema->is_boolean())) {
    return InvalidArgument("response_format.json_schema.schema: required, a JSON Schema object");
  }
  f->kind = OutputFormat::Kind::kJsonSchema;
  f->schema = *schema;
  f->field = "response_format.json_schema.schema";
  return Status::Ok();
}

Status ParseParams(const json& body, GenerationParams* p) {
  if (!body.is_object()) return InvalidArgument("body: expected a JSON object, got {}", TypeName(body));
  if (auto it = body.find("model"); it != body.end() && !it->is_null() && !it->is_string()) {
    return Expected("model", "a string", *it);
  }
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, rep = 1.0;
  GORAE_RETURN_IF_ERROR(GetNumber(body, "temperature", 0.0, 2.0, &temperature));
  GORAE_RETURN_IF_ERROR(GetNumber(body, "top_p", 0.0, 1.0, &top_p));
  if (top_p <= 0.0) return InvalidArgument("top_p: must be greater than 0, got {}", top_p);
  GORAE_RETURN_IF_ERROR(GetNumber(body, "min_p", 0.0, 1.0, &min_p));
  GORAE_RETURN_IF_ERROR(GetNumber(body, "repetition_penalty", 1e-3, 100.0, &rep));
  p->sampler.temperature = static_cast<float>(temperature);
  p->sampler.top_p = static_cast<float>(top_p);
  p->sampler.min_p = static_cast<float>(min_p);
  p->sampler.repetition_penalty = static_cast<float>(rep);

  std::optional<int64_t> v;
  GORAE_RETURN_IF_ERROR(GetInt(body, "top_k", 0, std::numeric_limits<int32_t>::max(), &v));
  if (v) p->sampler.top_k = static_cast<int>(*v);
  v.reset();
  GORAE_RETURN_IF_ERROR(GetInt(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &v));
  if (v) {
    p->sampler.seed = static_cast<uint64_t>(*v);
    p->has_seed = true;
  }
  for (const char* field : {"max_tokens", "max_completion_tokens"}) {
    v.reset();
    // 0 only makes sense with echo (checked once echo is known).
    GORAE_RETURN_IF_ERROR(GetInt(body, field, 0, std::numeric_limits<int32_t>::max(), &v));
    if (v) p->max_tokens = static_cast<int>(*v);
  }
  v.reset();
  GORAE_RETURN_IF_ERROR(GetInt(body, "n", 1, kMaxChoices, &v));
  if (v) p->n = static_cast<int>(*v);

  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      p->stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      if (it->size() > static_cast<size_t>(kMaxStopStrings)) {
        return InvalidArgument("stop: at most {} stop strings, got {}", kMaxStopStrings, it->size());
      }
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) return Expected(fmt::format("stop[{}]", i), "a string", (*it)[i]);
        p->stop.push_back((*it)[i].get<std::string>());
      }
    } else {
      return Expected("stop", "a string or an array of strings", *it);
    }
  }
  GORAE_RETURN_IF_ERROR(GetBool(body, "stream", &p->stream));
  GORAE_RETURN_IF_ERROR(GetBool(body, "ignore_eos", &p->ignore_eos));
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return Expected("stream_options", "an object", *it);
    if (auto u = it->find("include_usage"); u != it->end() && !u->is_null()) {
      if (!u->is_boolean()) return Expected("stream_options.include_usage", "a boolean", *u);
      p->include_usage = u->get<bool>();
    }
  }

  GORAE_RETURN_IF_ERROR(RefuseUnlessNeutral(body, "presence_penalty", 0));
  GORAE_RETURN_IF_ERROR(RefuseUnlessNeutral(body, "frequency_penalty", 0));
  GORAE_RETURN_IF_ERROR(RefuseUnlessNeutral(body, "logit_bias", json::object()));
  GORAE_RETURN_IF_ERROR(RefuseUnlessNeutral(body, "best_of", 1));
  return ParseOutputFormat(body, &p->format);
}

// Message content: a string, null, or an array of {"type": "text", "text": ...} parts.
Result<std::string> ParseContent(const json& m, const std::string& where) {
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) return Expected(where + ".content", "a string or an array of content parts", *it);
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& part = (*it)[i];
    const std::string pw = fmt::format("{}.content[{}]", where, i);
    if (!part.is_object()) return Expected(pw, "an object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) return InvalidArgument("{}.type: expected a string", pw);
    if (*type != "text") return InvalidArgument("{}.type: only text parts are supported, got '{}'", pw, type->get<std::string>());
    auto t = part.find("text");
    if (t == part.end() || !t->is_string()) return InvalidArgument("{}.text: expected a string", pw);
    text += t->get<std::string>();
  }
  return text;
}

// Chat: logprobs is a boolean and top_logprobs the number of alternatives.
Status ParseChatLogprobs(const json& body, GenerationParams* p) {
  bool wanted = false;
  GORAE_RETURN_IF_ERROR(GetBool(body, "logprobs", &wanted));
  std::optional<int64_t> top;
  GORAE_RETURN_IF_ERROR(GetInt(body, "top_logprobs", 0, kMaxLogprobAlternatives, &top));
  if (top && !wanted) return InvalidArgument("top_logprobs: needs \"logprobs\": true");
  if (wanted) p->logprobs = top ? static_cast<int>(*top) : 0;
  if (auto it = body.find("echo"); it != body.end() && !it->is_null() && *it != false) {
    return InvalidArgument("echo: only /v1/completions echoes the prompt");
  }
  return Status::Ok();
}

// Completions (the legacy shape): logprobs is the number of alternatives, echo returns the prompt.
Status ParseCompletionLogprobs(const json& body, GenerationParams* p) {
  if (auto it = body.find("logprobs"); it != body.end() && it->is_boolean()) {
    return InvalidArgument("logprobs: /v1/completions takes the number of alternatives (0 to {}), got a boolean",
                           kMaxLogprobAlternatives);
  }
  std::optional<int64_t> n;
  GORAE_RETURN_IF_ERROR(GetInt(body, "logprobs", 0, kMaxLogprobAlternatives, &n));
  if (n) p->logprobs = static_cast<int>(*n);
  if (auto it = body.find("top_logprobs"); it != body.end() && !it->is_null()) {
    return InvalidArgument("top_logprobs: a chat field; /v1/completions takes \"logprobs\": N");
  }
  GORAE_RETURN_IF_ERROR(GetBool(body, "echo", &p->echo));
  return Status::Ok();
}

Status CheckZeroMaxTokens(const GenerationParams& p) {
  if (p.max_tokens && *p.max_tokens == 0 && !p.echo) {
    return InvalidArgument("max_tokens: must be at least 1 (0 only with \"echo\": true on /v1/completions)");
  }
  return Status::Ok();
}

}  // namespace

Result<ChatRequest> ParseChatRequest(const json& body) {
  ChatRequest r;
  GORAE_RETURN_IF_ERROR(ParseParams(body, &r.params));
  GORAE_RETURN_IF_ERROR(ParseChatLogprobs(body, &r.params));
  GORAE_RETURN_IF_ERROR(CheckZeroMaxTokens(r.params));
  auto it = body.find("messages");
  if (it == body.end()) return InvalidArgument("messages: required");
  if (!it->is_array()) return Expected("messages", "an array", *it);
  if (it->empty()) return InvalidArgument("messages: must not be empty");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) return Expected(where, "an object", m);
    auto role = m.find("role");
    if (role == m.end()) return InvalidArgument("{}.role: required", where);
    if (!role->is_string()) return Expected(where + ".role", "a string", *role);
    std::string name = role->get<std::string>();
    if (name == "developer") name = "system";  // OpenAI's newer name for the system role
    if (name != "system" && name != "user" && name != "assistant" && name != "tool") {
      return InvalidArgument("{}.role: expected system, developer, user, assistant or tool, got '{}'", where, name);
    }
    tokenizer::ChatMessage msg;
    msg.role = name;
    GORAE_ASSIGN_OR_RETURN(msg.content, ParseContent(m, where));
    const auto content = m.find("content");
    msg.content_is_null = content == m.end() || content->is_null();
    if (auto rc = m.find("reasoning_content"); rc != m.end() && !rc->is_null()) {
      if (!rc->is_string()) return Expected(where + ".reasoning_content", "a string", *rc);
      msg.reasoning_content = rc->get<std::string>();
    }
    r.messages.push_back(std::move(msg));
  }
  return r;
}

Result<CompletionRequest> ParseCompletionRequest(const json& body) {
  CompletionRequest r;
  GORAE_RETURN_IF_ERROR(ParseParams(body, &r.params));
  GORAE_RETURN_IF_ERROR(RefuseUnlessNeutral(body, "tools", json::array()));  // a chat feature
  GORAE_RETURN_IF_ERROR(ParseCompletionLogprobs(body, &r.params));
  GORAE_RETURN_IF_ERROR(CheckZeroMaxTokens(r.params));
  auto it = body.find("prompt");
  if (it == body.end()) return InvalidArgument("prompt: required");
  // One prompt given as ids, as in OpenAI's API: [1, 2, 3].
  auto as_ids = [](const json& a, const std::string& where) -> Result<CompletionPrompt> {
    CompletionPrompt p;
    p.is_ids = true;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number_integer()) return Expected(fmt::format("{}[{}]", where, i), "a token id", a[i]);
      const int64_t id = a[i].get<int64_t>();
      if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
        return InvalidArgument("{}[{}]: token id {} is out of range", where, i, id);
      }
      p.ids.push_back(static_cast<int>(id));
    }
    return p;
  };
  if (it->is_string()) {
    r.prompts.push_back({it->get<std::string>(), {}, false});
  } else if (it->is_array() && !it->empty() && (*it)[0].is_number()) {
    GORAE_ASSIGN_OR_RETURN(auto p, as_ids(*it, "prompt"));
    r.prompts.push_back(std::move(p));
  } else if (it->is_array() && !it->empty()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      const std::string where = fmt::format("prompt[{}]", i);
      if (e.is_string()) {
        r.prompts.push_back({e.get<std::string>(), {}, false});
      } else if (e.is_array()) {
        GORAE_ASSIGN_OR_RETURN(auto p, as_ids(e, where));
        r.prompts.push_back(std::move(p));
      } else {
        return Expected(where, "a string or an array of token ids", e);
      }
    }
  } else {
    return Expected("prompt", "a non-empty string, array of strings or array of token ids", *it);
  }
  if (r.prompts.size() * r.params.n > static_cast<size_t>(kMaxChoices)) {
    return InvalidArgument("prompt: {} prompts times n = {} is more than {} choices", r.prompts.size(), r.params.n,
                           kMaxChoices);
  }
  return r;
}

std::string FieldOf(const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos || colon == 0) return "";
  for (size_t i = 0; i < colon; ++i) {
    const char c = message[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' || c == ']' || c == '$' ||
          c == '-')) {
      return "";
    }
  }
  return message.substr(0, colon);
}

}  // namespace gorae::server
