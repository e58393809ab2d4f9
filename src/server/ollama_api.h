// Ollama's API, the subset its clients need (the `ollama` Python package, Open WebUI, editors):
//   GET  /api/version                 {"version"}
//   GET  /api/tags, /api/ps           the one served model, with its details
//   POST /api/show                    {"model"} -> details, model_info, capabilities
//   POST /api/chat                    {"model", "messages", "stream" (default true), "options", "think", "format"}
//   POST /api/generate                {"model", "prompt", "system", "raw", "stream", "options", "think", "format"}
// Streaming is NDJSON: one {"message"|"response": piece, "done": false} object per line, then
// a last one with "done": true, "done_reason" and the counts and durations (nanoseconds).
// `options`: temperature, top_p, top_k, min_p, seed, num_predict, stop, repeat_penalty; num_ctx
// is accepted but cannot exceed the server's --ctx (the context is fixed when it starts).
// `think`: the reasoning of a model that thinks (DeepSeek-R1's "<think>") goes into "thinking";
// think: false closes the think block in the prompt so the model answers at once.
// Errors are Ollama's {"error": "message"}, the message starting with the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/config.h"
#include "server/api_request.h"
#include "tokenizer/chat_template.h"

namespace gorae::server {

struct OllamaRequest {
  std::vector<tokenizer::ChatMessage> messages;  // chat; generate: "system" and "prompt" as messages
  bool raw = false;                              // generate: the prompt as is, no chat template
  std::string prompt;                            // generate
  std::optional<bool> think;
  std::optional<int64_t> num_ctx;
  OutputFormat format;  // "format": "json" or a schema
  GenerationParams params;
};

inline constexpr const char* kOllamaApiVersion = "0.12.0";  // the Ollama API version answered

Result<OllamaRequest> ParseOllamaChat(const nlohmann::json& body);
Result<OllamaRequest> ParseOllamaGenerate(const nlohmann::json& body);
// The tools and messages of an /api/chat body in OpenAI's shape (tool_calls with ids, tool
// results with the tool_call_id of the oldest unanswered call), for ParseToolFields.
Result<nlohmann::ordered_json> OllamaToolsAsOpenAi(const nlohmann::ordered_json& body);
// /api/show: the model name asked for ("model", or the older "name").
Result<std::string> ParseOllamaShow(const nlohmann::json& body);

// What /api/tags, /api/ps and /api/show say about the served model.
struct OllamaModelInfo {
  std::string name;        // "NAME:latest" unless the served name has a tag
  std::string format;      // "gguf" or "safetensors"
  std::string family;      // the architecture (config model_type)
  int64_t parameters = 0;
  std::string quantization;  // "Q4_K_M", "BF16", ...
  int64_t size_bytes = 0;
  std::string digest;      // hex, derived from the name, size and parameters
  int64_t context = 0;     // the server's --ctx
  bool thinks = false;     // the chat template opens "<think>"
  int64_t created = 0;     // the model file's modification time (unix seconds)
};
nlohmann::json OllamaTag(const OllamaModelInfo& m);
nlohmann::json OllamaShow(const OllamaModelInfo& m, const ModelConfig& config);

// RFC 3339 UTC with nanoseconds, as Ollama writes "created_at".
std::string OllamaTimestamp();

// One streamed piece (chat: "message"; generate: "response"), "thinking" when non-empty.
nlohmann::json OllamaPiece(bool chat, const std::string& model, const std::string& content, const std::string& thinking,
                           const nlohmann::json& tool_calls = nullptr);

struct OllamaStats {
  std::string done_reason;  // "stop" or "length"
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int64_t total_ns = 0, prompt_ns = 0, eval_ns = 0;
};
// The last object: done, the reason, counts and durations, with the whole text when not streamed.
nlohmann::json OllamaDone(bool chat, const std::string& model, const OllamaStats& s, const std::string& content,
                          const std::string& thinking, const nlohmann::json& tool_calls = nullptr);

}  // namespace gorae::server
