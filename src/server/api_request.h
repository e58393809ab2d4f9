// The OpenAI request bodies gorae accepts, parsed and checked. Every error is InvalidArgument
// with a message that starts with the offending field ("temperature: expected a number, got
// string"); FieldOf() recovers that name for the error's "param".
//
// Accepted beyond the OpenAI fields (as llama.cpp's server does): top_k, min_p,
// repetition_penalty, ignore_eos, grammar. Fields gorae cannot honour (non-zero presence /
// frequency penalties, logit_bias, best_of, tools on completions) are refused, never silently
// ignored; unknown fields are ignored, since clients send vendor extras. Tools are read from the
// body by server/tool_calls.h (they need the keys' order), response_format / grammar here.
//
// Log-probabilities: chat takes `logprobs: true` and `top_logprobs: 0..20`; completions take the
// legacy `logprobs: N` (0..20 alternatives) and `echo: true`, which returns the prompt too, with
// its tokens' logprobs when asked, and allows `max_tokens: 0` (score a text, generate nothing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "infer/sampler.h"
#include "tokenizer/chat_template.h"

namespace gorae::server {

// What the output must be (structured outputs): free text, any JSON object, JSON that validates
// against a schema, or a sentence of a GBNF grammar.
struct OutputFormat {
  enum class Kind { kText, kJsonObject, kJsonSchema, kGrammar };
  Kind kind = Kind::kText;
  nlohmann::json schema;  // kJsonSchema
  // The same schema with its keys in the order the request wrote them (properties are generated
  // in that order); set by the route from the raw body, since nlohmann::json sorts keys.
  nlohmann::ordered_json ordered_schema;
  std::string gbnf;       // kGrammar
  std::string field;      // where the request gave it, for errors ("response_format.json_schema.schema")
};

// How a chat template writes tool calls (server/tool_calls.h): Qwen2.5's <tool_call> JSON blocks,
// DeepSeek's <｜tool▁calls▁begin｜> blocks, or Llama 3.1's bare {"name", "parameters"} answer.
enum class ToolCallFormat { kQwen, kDeepSeek, kLlama };

struct GenerationParams {
  SamplerConfig sampler;           // seed set only if the request gave one
  bool has_seed = false;
  std::optional<int> max_tokens;   // max_tokens or max_completion_tokens; default: fill the context
  std::vector<std::string> stop;
  int n = 1;
  bool stream = false;
  bool include_usage = false;      // stream_options.include_usage
  bool ignore_eos = false;
  int logprobs = -1;               // -1: none; else each token's logprob and this many alternatives
  bool echo = false;               // completions: the prompt comes back before the completion
  OutputFormat format;             // response_format / grammar
  bool tool_calls = false;         // chat with tools: the answer's tool-call blocks become tool_calls
  std::vector<std::string> tool_names;  // the tools that may be called
  ToolCallFormat tool_format = ToolCallFormat::kQwen;  // how the template writes calls
};

struct ChatRequest {
  std::vector<tokenizer::ChatMessage> messages;
  GenerationParams params;
};

// A prompt is text, or token ids given directly.
struct CompletionPrompt {
  std::string text;
  std::vector<int> ids;
  bool is_ids = false;
};

struct CompletionRequest {
  std::vector<CompletionPrompt> prompts;  // "prompt": a string, an id list, or a list of either
  GenerationParams params;
};

inline constexpr int kMaxChoices = 16;
inline constexpr int kMaxLogprobAlternatives = 20;
inline constexpr int kMaxStopStrings = 16;

Result<ChatRequest> ParseChatRequest(const nlohmann::json& body);
Result<CompletionRequest> ParseCompletionRequest(const nlohmann::json& body);

// The field an error message starts with ("messages[1].content: ..." -> "messages[1].content"),
// or "" when it does not start with one.
std::string FieldOf(const std::string& message);

}  // namespace gorae::server
