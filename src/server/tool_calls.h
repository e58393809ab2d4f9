// Tool calling for the chat route: the request's tools, tool_choice and the tool calls and
// results in its messages; the grammar that makes a required call well formed; and the parser
// that turns the model's calls into OpenAI tool_calls, also while streaming. Three formats:
//   qwen:     <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>   (Qwen2.5's template)
//   deepseek: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```
//             <｜tool▁call▁end｜>...<｜tool▁calls▁end｜>       (DeepSeek-V3 and R1 templates)
//   llama:    {"name": ..., "parameters": {...}} as the whole answer            (Llama 3.1's template)
// The DeepSeek markers are also recognised with "_" or " " for "▁", as distilled students
// sometimes write them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "server/api_request.h"  // ToolCallFormat
#include "tokenizer/chat_template.h"

namespace gorae::server {

struct ToolSpec {
  std::string name;
  nlohmann::ordered_json parameters;  // a JSON Schema (null: any object)
  std::string rendered;               // the whole definition as the template's tojson writes it
};

// The call format a chat template teaches (DeepSeek's for the three DeepSeek templates, Llama's
// for Llama 3's, else Qwen's).
ToolCallFormat ToolCallFormatOf(const Result<tokenizer::ChatTemplateKind>& kind);

struct ToolRequest {
  enum class Choice { kAuto, kNone, kRequired, kNamed };
  ToolCallFormat format = ToolCallFormat::kQwen;  // the template's
  std::vector<ToolSpec> tools;
  Choice choice = Choice::kAuto;
  std::string named;      // kNamed: the function that must be called
  bool parallel = true;   // parallel_tool_calls: several calls in one answer
  bool active() const { return !tools.empty(); }
  // Calls in the answer are parsed into tool_calls (not with "none", where they stay text).
  bool parses() const { return active() && choice != Choice::kNone; }
};

// Reads tools, tool_choice and parallel_tool_calls, and completes `messages` (parsed from the
// same body, one per entry of "messages") with the assistant turns' tool calls. Errors name the
// field: a malformed tool or schema, a call of an unknown tool, arguments that are not JSON, a
// tool message whose tool_call_id matches no earlier call.
Status ParseToolFields(const nlohmann::ordered_json& body, ToolRequest* out,
                       std::vector<tokenizer::ChatMessage>* messages);

// GBNF for an answer that is one call (or, with parallel, one or more) of the allowed tools,
// each with arguments valid against its parameters schema. InvalidArgument naming
// tools[i].function.parameters for a schema that cannot be compiled.
Result<std::string> RequiredCallGrammar(const ToolRequest& request);

// GBNF with every rule name prefixed, so that several grammars can live in one.
std::string PrefixGbnfRules(std::string_view gbnf, std::string_view prefix);

struct ParsedToolCall {
  std::string id;         // "call_..."
  std::string name;
  std::string arguments;  // the arguments object as compact JSON text (OpenAI's string form)
};

// Splits streamed answer text into content and tool calls. Text that may begin a call is held
// back until it is one or is not; a block that does not parse stays content. Small models often
// answer a call as the bare object, without the tags ({"name": "get_weather", "arguments":
// {...}}), or fence it as ```json: an answer that is only that, naming one of `tools`, is a call
// too (so an answer that starts with "{" or "```json\n{" is held until it ends).
class ToolCallStream {
 public:
  explicit ToolCallStream(std::vector<std::string> tools = {}, ToolCallFormat format = ToolCallFormat::kQwen)
      : tools_(std::move(tools)), format_(format) {}
  struct Out {
    std::string content;
    std::vector<ParsedToolCall> calls;
  };
  Out Push(std::string_view text);
  Out Finish();
  int calls() const { return calls_; }

 private:
  void Drain(Out* out);
  std::vector<std::string> tools_;
  ToolCallFormat format_;
  bool at_start_ = true;  // nothing but whitespace shown so far
  std::string start_;     // the answer held while it may be a bare call
  std::string held_;
  bool in_call_ = false;
  int calls_ = 0;
};

}  // namespace gorae::server
