// The OpenAI wire shapes gorae writes: errors, chat and text completions (whole and as
// server-sent-event chunks), the model list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gorae::server {

// {"error": {"message", "type", "param", "code"}} with the HTTP status it goes with.
struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" -> null
  std::string code;   // "" -> null
  nlohmann::json ToJson() const;
};

// A request that cannot be served as asked (InvalidArgument from parsing or the engine): 400,
// with the field named in the message as "param".
ApiError BadRequest(const Status& s);
ApiError ServerError(const std::string& message);  // 500
ApiError Overloaded();                              // 503

enum class Endpoint { kChat, kCompletion };

// One choice's final state, for a whole (non-streamed) response.
struct ChoiceResult {
  std::string content;
  std::string reasoning;
  bool has_reasoning = false;
  std::string finish_reason;  // "stop" or "length"
  nlohmann::json logprobs;    // null, or the choice's logprobs object (logprob_format.h)
  nlohmann::json tool_calls;  // null, or the OpenAI tool_calls array of the message
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens served from the prompt cache (prompt_tokens_details)
  nlohmann::json ToJson() const;
};

// The fields every response and chunk of one request shares.
struct ResponseHeader {
  Endpoint endpoint = Endpoint::kChat;
  std::string id;       // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

nlohmann::json WholeResponse(const ResponseHeader& h, const std::vector<ChoiceResult>& choices, const Usage& usage);

// A streamed chunk for one choice. Chat: `role` adds "role": "assistant" to the delta;
// reasoning/content are added when non-empty; finish_reason "" -> null; logprobs: the chunk's
// tokens' (null when not asked).
nlohmann::json ChunkFor(const ResponseHeader& h, int index, bool role, const std::string& reasoning,
                        const std::string& content, const std::string& finish_reason,
                        const nlohmann::json& logprobs = nullptr);
// A chunk with tool calls of one choice: delta.tool_calls = [{index, id, type, function: {name,
// arguments}}], each call whole (index counts the choice's calls from 0).
nlohmann::json ToolCallChunk(const ResponseHeader& h, int index, const nlohmann::json& calls);
// The final usage chunk of stream_options.include_usage (no choices).
nlohmann::json UsageChunk(const ResponseHeader& h, const Usage& usage);

// "data: {json}\n\n"
std::string SseEvent(const nlohmann::json& j);

std::string NewRequestId(Endpoint e);

}  // namespace gorae::server
