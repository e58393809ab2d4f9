#include "server/openai_format.h"

#include <atomic>
#include <chrono>
#include <random>

#include <fmt/format.h>

#include "server/api_request.h"

namespace gorae::server {

using nlohmann::json;

namespace {
json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
}  // namespace

json ApiError::ToJson() const {
  return {{"error", {{"message", message}, {"type", type}, {"param", NullIfEmpty(param)}, {"code", NullIfEmpty(code)}}}};
}

ApiError BadRequest(const Status& s) {
  ApiError e;
  e.http_status = 400;
  e.message = s.message();
  e.param = FieldOf(s.message());
  if (s.message().find("more than the context") != std::string::npos) e.code = "context_length_exceeded";
  return e;
}

ApiError ServerError(const std::string& message) {
  ApiError e;
  e.http_status = 500;
  e.type = "server_error";
  e.message = message;
  return e;
}

ApiError Overloaded() {
  ApiError e;
  e.http_status = 503;
  e.type = "server_error";
  e.code = "server_busy";
  e.message = "the server has too many requests queued (or is shutting down); retry later";
  return e;
}

json Usage::ToJson() const {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

json WholeResponse(const ResponseHeader& h, const std::vector<ChoiceResult>& choices, const Usage& usage) {
  const bool chat = h.endpoint == Endpoint::kChat;
  json out = {{"id", h.id},
              {"object", chat ? "chat.completion" : "text_completion"},
              {"created", h.created},
              {"model", h.model},
              {"system_fingerprint", "gorae"}};
  json list = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    json choice = {{"index", i}, {"logprobs", c.logprobs}, {"finish_reason", c.finish_reason}};
    if (chat) {
      json message = {{"role", "assistant"}, {"content", c.content}};
      if (!c.tool_calls.is_null()) {
        message["tool_calls"] = c.tool_calls;
        // As OpenAI answers a pure call (the newlines around the call blocks are not content).
        if (c.content.find_first_not_of(" \n\t\r") == std::string::npos) message["content"] = nullptr;
      }
      // Present only when the model reasoned, as DeepSeek's API and llama.cpp do.
      if (c.has_reasoning) message["reasoning_content"] = c.reasoning;
      choice["message"] = std::move(message);
    } else {
      choice["text"] = c.content;
    }
    list.push_back(std::move(choice));
  }
  out["choices"] = std::move(list);
  out["usage"] = usage.ToJson();
  return out;
}

json ChunkFor(const ResponseHeader& h, int index, bool role, const std::string& reasoning, const std::string& content,
              const std::string& finish_reason, const json& logprobs) {
  const bool chat = h.endpoint == Endpoint::kChat;
  json choice = {{"index", index}, {"logprobs", logprobs}, {"finish_reason", NullIfEmpty(finish_reason)}};
  if (chat) {
    json delta = json::object();
    if (role) delta["role"] = "assistant";
    if (!reasoning.empty()) delta["reasoning_content"] = reasoning;
    if (!content.empty() || role) delta["content"] = content;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = content;
  }
  return {{"id", h.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", "gorae"},
          {"choices", json::array({std::move(choice)})}};
}

json ToolCallChunk(const ResponseHeader& h, int index, const json& calls) {
  json choice = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", nullptr},
                 {"delta", {{"tool_calls", calls}}}};
  return {{"id", h.id},
          {"object", "chat.completion.chunk"},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", "gorae"},
          {"choices", json::array({std::move(choice)})}};
}

json UsageChunk(const ResponseHeader& h, const Usage& usage) {
  return {{"id", h.id},
          {"object", h.endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"system_fingerprint", "gorae"},
          {"choices", json::array()},
          {"usage", usage.ToJson()}};
}

std::string SseEvent(const json& j) {
  // error_handler_t::replace: generated text may hold invalid UTF-8 (U+FFFD-ed by the decoder
  // already, but a stop string cut could split a character); never throw while streaming.
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

std::string NewRequestId(Endpoint e) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  const uint64_t n = counter.fetch_add(1) ^ (salt << 20);
  return fmt::format("{}-{:016x}", e == Endpoint::kChat ? "chatcmpl" : "cmpl", n);
}

}  // namespace gorae::server
