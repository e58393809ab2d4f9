#include "tokenizer/chat_template.h"

#include <algorithm>
#include <cstdint>

#include "tokenizer/chat_template_llama3.h"

namespace gorae::tokenizer {
namespace {

constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kToolOutputsBegin = "<｜tool▁outputs▁begin｜>";
constexpr std::string_view kToolOutputsEnd = "<｜tool▁outputs▁end｜>";
constexpr std::string_view kToolOutputBegin = "<｜tool▁output▁begin｜>";
constexpr std::string_view kToolOutputEnd = "<｜tool▁output▁end｜>";

// gorae's template. Single line on purpose: with no newlines outside string literals the
// output does not depend on Jinja's trim_blocks/lstrip_blocks settings.
constexpr std::string_view kGoraeTemplate =
    "{%- set ns = namespace(system='') -%}"
    "{%- for message in messages -%}{%- if message['role'] == 'system' -%}"
    "{%- if ns.system -%}{%- set ns.system = ns.system + '\\n\\n' -%}{%- endif -%}"
    "{%- set ns.system = ns.system + message['content'] -%}{%- endif -%}{%- endfor -%}"
    "{{- bos_token + ns.system -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{{- '<｜User｜>' + message['content'] -}}"
    "{%- elif message['role'] == 'assistant' -%}{{- '<｜Assistant｜>' -}}"
    "{%- if message['reasoning_content'] is defined and message['reasoning_content'] -%}"
    "{{- '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n' -}}{%- endif -%}"
    "{{- message['content'] + '<｜end▁of▁sentence｜>' -}}"
    "{%- endif -%}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<｜Assistant｜>' -}}{%- endif -%}";

// FNV-1a 64 of the exact template texts (tests/tokenizer/data/deepseek_{v3,r1}.jinja).
constexpr uint64_t kDeepSeekV3Hash = 0xebe3604156dc466aull;
constexpr size_t kDeepSeekV3Size = 2301;
constexpr uint64_t kDeepSeekR1Hash = 0x4526f885d718fa95ull;
constexpr size_t kDeepSeekR1Size = 2765;
constexpr uint64_t kDeepSeekR1InitialHash = 0x9c0722939a9b83ecull;
constexpr size_t kDeepSeekR1InitialSize = 2237;

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// DeepSeek V3 and R1 share one structure (the R1 template is an edit of V3's); these are the
// places where they differ.
struct DeepSeekVariant {
  bool join_systems;             // all system messages joined by "\n\n" (else the last one wins)
  bool strip_thinking;           // R1: content.split('</think>')[-1] for assistant turns
  bool newline_between_outputs;  // V3: '\n' before every tool output after the first
  // V3 and the first R1: an assistant turn is a tool-call turn only when its content is none,
  // and "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>" is written after each call but the first of
  // the conversation (inside the template's loop, not after it, as R1's 2025 revision does).
  bool legacy_calls;
  std::string_view generation_prompt;
};


// One call in DeepSeek's format: function<｜tool▁sep｜>NAME\n```json\nARGS\n```
std::string DeepSeekCall(const ChatToolCall& c) {
  return std::string(kDeepSeekToolCallBegin) + "function" + std::string(kDeepSeekToolSep) + c.name + "\n```json\n" + c.raw_arguments +
         "\n```" + std::string(kDeepSeekToolCallEnd);
}

Result<std::string> RenderDeepSeek(const DeepSeekVariant& v, const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt, std::string_view bos_token,
                                   const std::vector<std::string>& tools) {
  std::string system;
  bool first_system = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (!v.join_systems) {
      system = m.content;
      continue;
    }
    if (!first_system) system += "\n\n";
    system += m.content;
    first_system = false;
  }
  if (!tools.empty()) {
    // DeepSeek's templates have no place for tool definitions: they follow the system prompt.
    system += system.empty() ? "" : "\n\n";
    system += kDeepSeekToolsIntro;
    for (const std::string& t : tools) system += "\n" + t;
    system += kDeepSeekToolsHowTo;
  }
  std::string out(bos_token);
  out += system;
  bool is_tool = false, is_output_first = true;
  bool is_first_call = true;  // the template's ns.is_first: set at the first call, never reset
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      is_tool = false;
      out += kUser;
      out += m.content;
    } else if (m.role == "assistant" && (v.legacy_calls ? m.content_is_null : !m.tool_calls.empty())) {
      is_tool = false;
      for (const ChatToolCall& c : m.tool_calls) {
        if (is_first_call) {
          out += kAssistant;
          out += m.content;  // legacy: the content is null here, so nothing
          out += kDeepSeekToolCallsBegin;
          out += DeepSeekCall(c);
          is_first_call = false;
        } else {
          out += "\n" + DeepSeekCall(c);
          if (v.legacy_calls) {
            out += kDeepSeekToolCallsEnd;
            out += kEos;
          }
        }
      }
      if (!v.legacy_calls) {
        out += kDeepSeekToolCallsEnd;
        out += kEos;
      }
    } else if (m.role == "assistant") {
      if (is_tool) {
        out += kToolOutputsEnd;
        out += m.content;
        out += kEos;
        is_tool = false;
      } else {
        std::string_view content = m.content;
        if (v.strip_thinking) {
          size_t p = content.rfind("</think>");
          if (p != std::string_view::npos) content = content.substr(p + 8);
        }
        out += kAssistant;
        out += content;
        out += kEos;
      }
    } else if (m.role == "tool") {
      is_tool = true;
      if (is_output_first) {
        out += kToolOutputsBegin;
        is_output_first = false;
      } else if (v.newline_between_outputs) {
        out += "\n";
      }
      out += kToolOutputBegin;
      out += m.content;
      out += kToolOutputEnd;
    }
  }
  if (is_tool) out += kToolOutputsEnd;
  if (add_generation_prompt && !is_tool) out += v.generation_prompt;
  return out;
}

Result<std::string> RenderGorae(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                std::string_view bos_token) {
  std::string system;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (!system.empty()) system += "\n\n";
    system += m.content;
  }
  std::string out(bos_token);
  out += system;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out += kUser;
      out += m.content;
    } else if (m.role == "assistant") {
      out += kAssistant;
      if (m.reasoning_content && !m.reasoning_content->empty()) {
        out += "<think>\n";
        out += *m.reasoning_content;
        out += "\n</think>\n\n";
      }
      out += m.content;
      out += kEos;
    }
  }
  if (add_generation_prompt) out += kAssistant;
  return out;
}

// ChatML (see chat_template.h). The markers are searched in the template with all whitespace
// removed, so indentation and line breaks between Jinja tags do not matter.
constexpr std::string_view kImStart = "<|im_start|>";
constexpr std::string_view kImEnd = "<|im_end|>";

std::string WithoutWhitespace(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') out += c;
  }
  return out;
}

bool IsChatML(std::string_view jinja) {
  std::string t = WithoutWhitespace(jinja);
  std::replace(t.begin(), t.end(), '"', '\'');
  auto has = [&](std::string_view needle) { return t.find(needle) != std::string::npos; };
  const bool message_line = has("'<|im_start|>'+message['role']+'\\n'+message['content']+'<|im_end|>'") ||
                            has("'<|im_start|>'+message.role+'\\n'+message.content+'<|im_end|>'");
  // What this renderer does not do: strip reasoning from past turns, or put BOS/EOS anywhere.
  const bool other_rules = has("</think>") || has("reasoning_content") || has("bos_token") || has("eos_token");
  return message_line && has("add_generation_prompt") && has("'<|im_start|>assistant\\n'") && !other_rules;
}

// The Jinja string literal that starts at s[open] (a quote), decoded (\n, \t, \', \", \\);
// nullopt if it does not close.
std::optional<std::string> ReadJinjaString(std::string_view s, size_t open) {
  const char quote = s[open];
  std::string out;
  for (size_t i = open + 1; i < s.size(); ++i) {
    if (s[i] == quote) return out;
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char e = s[++i];
    out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
  }
  return std::nullopt;
}

// The decoded Jinja string literal of `jinja` that starts with `escaped_start` (as written in
// the template, escapes included); nullopt if there is none.
std::optional<std::string> JinjaLiteralStartingWith(std::string_view jinja, std::string_view escaped_start) {
  for (char quote : {'"', '\''}) {
    const size_t at = jinja.find(std::string(1, quote) + std::string(escaped_start));
    if (at != std::string_view::npos) return ReadJinjaString(jinja, at);
  }
  return std::nullopt;
}

Result<std::string> RenderChatML(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 std::string_view jinja, const std::vector<std::string>& tools) {
  GORAE_ASSIGN_OR_RETURN(std::optional<std::string> default_system, ChatMLDefaultSystem(jinja));
  const bool calls = std::any_of(messages.begin(), messages.end(), [](const ChatMessage& m) { return !m.tool_calls.empty(); });
  // Qwen2.5's tool section: the system turn gets the instructions and the definitions between
  // two literals of the template, which are read from it (releases differ in their wording).
  const auto tools_head = JinjaLiteralStartingWith(jinja, "\\n\\n# Tools");
  const auto tools_tail = JinjaLiteralStartingWith(jinja, "\\n</tools>");
  if ((!tools.empty() || calls) && (!tools_head || !tools_tail || jinja.find("tool_call.arguments | tojson") == std::string_view::npos)) {
    return Unsupported("tools: this ChatML template has no tool section gorae knows (Qwen2.5's)");
  }
  // Qwen2.5 sends tool results back as a user turn of <tool_response> blocks, and renders no other
  // roles; a plain ChatML template writes every role as its own turn.
  const bool tool_responses = jinja.find("<tool_response>") != std::string_view::npos;
  auto turn = [](std::string* out, std::string_view role, std::string_view content) {
    *out += kImStart;
    *out += role;
    *out += '\n';
    *out += content;
    *out += kImEnd;
    *out += '\n';
  };
  std::string out;
  const bool first_is_system = !messages.empty() && messages[0].role == "system";
  if (!tools.empty()) {
    if (!first_is_system && !default_system) return Unsupported("tools: this ChatML template has no default system message");
    out += kImStart;
    out += "system\n";
    out += first_is_system ? messages[0].content : *default_system;
    out += *tools_head;
    for (const std::string& t : tools) out += "\n" + t;
    out += *tools_tail;  // it closes the system turn
  } else if (first_is_system) {
    turn(&out, "system", messages[0].content);
  } else if (default_system) {
    turn(&out, "system", *default_system);
  }
  for (size_t i = first_is_system ? 1 : 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool plain_role = m.role == "user" || m.role == "system" || (m.role == "assistant" && m.tool_calls.empty());
    if (m.role == "assistant" && !m.tool_calls.empty()) {
      out += kImStart;
      out += "assistant";
      if (!m.content.empty()) out += "\n" + m.content;
      for (const ChatToolCall& c : m.tool_calls) {
        out += "\n<tool_call>\n{\"name\": \"" + c.name + "\", \"arguments\": " + c.arguments + "}\n</tool_call>";
      }
      out += kImEnd;
      out += '\n';
    } else if (plain_role || !tool_responses) {
      turn(&out, m.role, m.content);
    } else if (m.role == "tool") {
      if (i == 0 || messages[i - 1].role != "tool") {
        out += kImStart;
        out += "user";
      }
      out += "\n<tool_response>\n";
      out += m.content;
      out += "\n</tool_response>";
      if (i + 1 == messages.size() || messages[i + 1].role != "tool") {
        out += kImEnd;
        out += '\n';
      }
    }
  }
  if (add_generation_prompt) {
    out += kImStart;
    out += "assistant\n";
  }
  return out;
}

}  // namespace

Result<std::optional<std::string>> ChatMLDefaultSystem(std::string_view jinja) {
  // A literal that is a whole system turn: '<|im_start|>system\n' + text + '<|im_end|>' (+ '\n').
  // Literals that only open the turn ('<|im_start|>system\n' + messages[0]['content'] + ...) are
  // not defaults.
  constexpr std::string_view kOpen = "<|im_start|>system\\n";
  std::optional<std::string> found;
  for (size_t p = jinja.find(kOpen); p != std::string_view::npos; p = jinja.find(kOpen, p + 1)) {
    if (p == 0 || (jinja[p - 1] != '\'' && jinja[p - 1] != '"')) continue;
    std::optional<std::string> lit = ReadJinjaString(jinja, p - 1);
    if (!lit) continue;
    std::string_view v = *lit;
    v.remove_prefix(std::string_view("<|im_start|>system\n").size());
    if (v.ends_with('\n')) v.remove_suffix(1);
    if (!v.ends_with(kImEnd)) continue;
    v.remove_suffix(kImEnd.size());
    if (found && *found != v) {
      return Unsupported("chat_template has two different default system messages ('{}' and '{}')", *found,
                         std::string(v));
    }
    found = std::string(v);
  }
  return found;
}

std::string_view ChatTemplateName(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::kDeepSeekV3: return "deepseek-v3";
    case ChatTemplateKind::kDeepSeekR1: return "deepseek-r1";
    case ChatTemplateKind::kDeepSeekR1Initial: return "deepseek-r1-initial";
    case ChatTemplateKind::kGorae: return "gorae";
    case ChatTemplateKind::kChatML: return "chatml";
    case ChatTemplateKind::kLlama3: return "llama3";
  }
  return "?";
}

std::string_view GoraeChatTemplate() { return kGoraeTemplate; }

Result<ChatTemplateKind> IdentifyChatTemplate(std::string_view jinja) {
  if (jinja == kGoraeTemplate) return ChatTemplateKind::kGorae;
  const uint64_t h = Fnv1a(jinja);
  if (jinja.size() == kDeepSeekV3Size && h == kDeepSeekV3Hash) return ChatTemplateKind::kDeepSeekV3;
  if (jinja.size() == kDeepSeekR1Size && h == kDeepSeekR1Hash) return ChatTemplateKind::kDeepSeekR1;
  if (jinja.size() == kDeepSeekR1InitialSize && h == kDeepSeekR1InitialHash) return ChatTemplateKind::kDeepSeekR1Initial;
  if (IsChatML(jinja)) {
    GORAE_RETURN_IF_ERROR(ChatMLDefaultSystem(jinja).status());
    return ChatTemplateKind::kChatML;
  }
  if (IsLlama3Template(jinja)) return ChatTemplateKind::kLlama3;
  return Unsupported(
      "chat_template is not one gorae renders (supported: deepseek-v3, deepseek-r1, deepseek-r1-initial, gorae, chatml, llama3; this "
      "one has {} bytes, fnv1a64 {:016x}, begins '{}')",
      jinja.size(), h, std::string(jinja.substr(0, 60)));
}

Result<std::string> RenderChatTemplate(ChatTemplateKind kind, const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt, std::string_view bos_token,
                                       std::string_view jinja, const std::vector<std::string>& tools) {
  const bool calls = std::any_of(messages.begin(), messages.end(), [](const ChatMessage& m) { return !m.tool_calls.empty(); });
  if (kind == ChatTemplateKind::kGorae && (!tools.empty() || calls)) {
    return Unsupported("tools: rendering tools and tool calls with the {} template is not supported yet",
                       ChatTemplateName(kind));
  }
  switch (kind) {
    case ChatTemplateKind::kDeepSeekV3:
      return RenderDeepSeek({true, false, true, true, "<｜Assistant｜>"}, messages, add_generation_prompt, bos_token,
                            tools);
    case ChatTemplateKind::kDeepSeekR1:
      return RenderDeepSeek({true, true, false, false, "<｜Assistant｜><think>\n"}, messages, add_generation_prompt,
                            bos_token, tools);
    case ChatTemplateKind::kDeepSeekR1Initial:
      return RenderDeepSeek({false, true, true, true, "<｜Assistant｜>"}, messages, add_generation_prompt, bos_token,
                            tools);
    case ChatTemplateKind::kGorae:
      return RenderGorae(messages, add_generation_prompt, bos_token);
    case ChatTemplateKind::kChatML:
      return RenderChatML(messages, add_generation_prompt, jinja, tools);
    case ChatTemplateKind::kLlama3:
      return RenderLlama3(messages, add_generation_prompt, bos_token, jinja, tools);
  }
  return Unsupported("unknown chat template kind");
}

}  // namespace gorae::tokenizer
