// Chat templates: turning a conversation into the exact prompt text a model was trained on.
//
// Hugging Face models carry a Jinja template in tokenizer_config.json ("chat_template"), run by
// `transformers`' apply_chat_template. gorae does not embed a Jinja engine: it recognises the
// templates it supports by their exact text and renders them natively, producing byte-for-byte
// the same output (checked against transformers in tests/tokenizer/golden/chat_*.json).
// Any other template is reported as Unsupported instead of being rendered approximately.
//
// Supported:
//   deepseek-v3  DeepSeek-V3 (system prompts joined by "\n\n", "<｜User｜>...", "<｜Assistant｜>...<｜end▁of▁sentence｜>")
//   deepseek-r1  DeepSeek-R1 (2025 revision): like V3, but past assistant turns keep only the
//                text after the last "</think>", and the generation prompt opens "<think>\n"
//   deepseek-r1-initial  DeepSeek-R1 as first released: strips "</think>" like R1, but only the
//                last system message is used and the generation prompt is "<｜Assistant｜>"
//   gorae        gorae's own models (written by `gorae tokenizer train`): DeepSeek tokens, and an
//                assistant turn's reasoning_content is kept as "<think>\n...\n</think>\n\n"
//                before its content, so SFT can train on reasoning traces.
//   chatml       the ChatML family (Qwen2, Qwen2.5, Qwen2.5-Coder, ...): "<|im_start|>{role}\n{content}<|im_end|>\n"
//                per message and "<|im_start|>assistant\n" as the generation prompt. Recognised by
//                structure, not by exact text, because every Qwen release (and GGUF converters)
//                ships a slightly different template around the same rule. A first system message
//                opens the prompt; without one, the template's default system message (the
//                literal '<|im_start|>system\n...<|im_end|>' it contains, e.g. Qwen2.5's "You are
//                Qwen, created by Alibaba Cloud. ...") is used. Tool results are wrapped as Qwen2.5
//                does ("<|im_start|>user\n<tool_response>\n...\n</tool_response><|im_end|>") when
//                the template has <tool_response>. Templates that also strip "</think>" (QwQ,
//                Qwen3), use reasoning_content, bos_token or eos_token are not taken for ChatML.
//   llama3       Meta's Llama 3.0-3.3 Instruct templates, recognised by structure too (see
//                chat_template_llama3.h): "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>",
//                from 3.1 on after a dated system block, with tools in the first user message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gorae::tokenizer {

// A function call made by an assistant turn; `arguments` is the arguments object as the
// template's `tojson` writes it (tokenizer/py_json.h).
struct ChatToolCall {
  std::string name;
  std::string arguments;
  std::string raw_arguments;  // as the client sent them (DeepSeek's templates insert this text)
};

struct ChatMessage {
  std::string role;                              // "system", "user", "assistant", "tool"
  std::string content;
  std::optional<std::string> reasoning_content;  // used by the gorae template only
  std::vector<ChatToolCall> tool_calls;          // assistant turns that called tools
  // The client sent "content": null (or none). DeepSeek-V3's template and R1's first one
  // render an assistant turn's tool calls only then, and the turn as plain text otherwise.
  bool content_is_null = false;
};

enum class ChatTemplateKind { kDeepSeekV3, kDeepSeekR1, kDeepSeekR1Initial, kGorae, kChatML, kLlama3 };

// DeepSeek's tool-call markers: <｜tool▁calls▁begin｜> then, per call, <｜tool▁call▁begin｜>function
// <｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>, then <｜tool▁calls▁end｜>.
inline constexpr std::string_view kDeepSeekToolCallsBegin = "<｜tool▁calls▁begin｜>";
inline constexpr std::string_view kDeepSeekToolCallsEnd = "<｜tool▁calls▁end｜>";
inline constexpr std::string_view kDeepSeekToolCallBegin = "<｜tool▁call▁begin｜>";
inline constexpr std::string_view kDeepSeekToolCallEnd = "<｜tool▁call▁end｜>";
inline constexpr std::string_view kDeepSeekToolSep = "<｜tool▁sep｜>";

// DeepSeek's templates render tool calls but not tool definitions; gorae puts these after
// the system prompt: kDeepSeekToolsIntro, one JSON definition per line, kDeepSeekToolsHowTo.
inline constexpr std::string_view kDeepSeekToolsIntro =
    "## Tools\n\nYou can call the functions below, each described by a JSON object:";
inline constexpr std::string_view kDeepSeekToolsHowTo =
    "\n\nTo call functions, write <｜tool▁calls▁begin｜>, then for each call "
    "<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```<｜tool▁call▁end｜> "
    "(one call per line), then <｜tool▁calls▁end｜>.";

// Name used in messages and by the CLI ("deepseek-v3", ...).
std::string_view ChatTemplateName(ChatTemplateKind kind);

// Recognises a template by its exact text; Unsupported (with a short fingerprint) otherwise.
Result<ChatTemplateKind> IdentifyChatTemplate(std::string_view jinja);

// The Jinja text of gorae's own template (what the trainer writes to tokenizer_config.json).
std::string_view GoraeChatTemplate();

// Renders `messages` as the template would with bos_token = `bos_token`. Messages with roles
// the template ignores produce nothing, as in the Jinja original. `jinja` is the template's text:
// kChatML reads its default system message (and its tool instructions) from it (empty: none);
// the other kinds ignore it. `tools`: the tool definitions, each as `tojson` writes it. Tools
// and tool calls are rendered by the ChatML templates that carry Qwen2.5's tool section, by
// Llama 3.1's and later (chat_template_llama3.h), and by DeepSeek's three templates (tool calls and outputs as each template writes them, its quirks
// included; the definitions, which none of them renders, after the system prompt in gorae's
// words, see kDeepSeekToolsIntro); elsewhere they are Unsupported, never dropped.
Result<std::string> RenderChatTemplate(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt, std::string_view bos_token,
                                       std::string_view jinja = {}, const std::vector<std::string>& tools = {});

// kChatML's default system message in a template's text, decoded from its Jinja string literal;
// nullopt when the template has none. Unsupported when it has several different ones.
Result<std::optional<std::string>> ChatMLDefaultSystem(std::string_view jinja);

}  // namespace gorae::tokenizer
