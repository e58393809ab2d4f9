#include "tokenizer/chat_template_llama3.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include <nlohmann/json.hpp>

#include "tokenizer/py_json.h"

namespace gorae::tokenizer {
namespace {

constexpr std::string_view kEot = "<|eot_id|>";

// The template text with whitespace removed and '"' read as '\'', so layout does not matter.
std::string Canonical(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
    out += c == '"' ? '\'' : c;
  }
  return out;
}

bool Has(std::string_view canonical, std::string_view needle) { return canonical.find(needle) != std::string_view::npos; }

// Jinja's trim: Python's str.strip() (ASCII whitespace and the separators it also strips).
std::string_view Trim(std::string_view s) {
  auto space = [](unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

void Header(std::string* out, std::string_view role) {
  *out += "<|start_header_id|>";
  *out += role;
  *out += "<|end_header_id|>\n\n";
}

// The date the system block shows: today where the template asks strftime_now (as transformers
// provides it), else the template's default date_string.
Result<std::string> DateString(std::string_view jinja) {
  if (jinja.find("strftime_now") != std::string_view::npos) {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%d %b %Y", &local);
    return std::string(buf);
  }
  for (std::string_view assign : {"set date_string = \"", "set date_string = '"}) {
    const size_t at = jinja.find(assign);
    if (at == std::string_view::npos) continue;
    const size_t open = at + assign.size() - 1;
    const size_t close = jinja.find(jinja[open], open + 1);
    if (close != std::string_view::npos) return std::string(jinja.substr(open + 1, close - open - 1));
  }
  return Unsupported("chat_template: a Llama 3 template with a system block but no default date_string");
}

}  // namespace

bool IsLlama3Template(std::string_view jinja) {
  const std::string t = Canonical(jinja);
  return Has(t, "'<|start_header_id|>'+message['role']+'<|end_header_id|>") &&
         Has(t, "message['content']|trim+'<|eot_id|>'") && Has(t, "add_generation_prompt") &&
         Has(t, "'<|start_header_id|>assistant<|end_header_id|>");
}

Result<std::string> RenderLlama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 std::string_view bos_token, std::string_view jinja,
                                 const std::vector<std::string>& tools) {
  const std::string t = Canonical(jinja);
  const bool system_block = Has(t, "CuttingKnowledgeDate:December2023");
  const bool tool_section = Has(t, "tojson(indent=4)") && Has(t, "'parameters':") && Has(t, "ipython");
  const bool calls = std::any_of(messages.begin(), messages.end(), [](const ChatMessage& m) { return !m.tool_calls.empty(); });
  if ((!tools.empty() || calls) && !tool_section) {
    return Unsupported("tools: this Llama 3 template has no tool section gorae knows (Llama 3.1's)");
  }
  std::string out;
  if (!system_block) {  // Llama 3.0: every message as a turn, BOS before the first
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i == 0) out += bos_token;
      Header(&out, messages[i].role);
      out += Trim(messages[i].content);
      out += kEot;
    }
    if (add_generation_prompt) Header(&out, "assistant");
    return out;
  }

  size_t next = 0;
  std::string_view system;
  if (!messages.empty() && messages[0].role == "system") {
    system = Trim(messages[0].content);
    next = 1;
  }
  GORAE_ASSIGN_OR_RETURN(std::string date, DateString(jinja));
  out += bos_token;
  Header(&out, "system");
  if (!tools.empty()) out += "Environment: ipython\n";
  out += "Cutting Knowledge Date: December 2023\n";
  out += "Today Date: " + date + "\n\n";
  out += system;
  out += kEot;
  if (!tools.empty()) {
    // The definitions go into the first message after the system prompt, whatever its role.
    if (next == messages.size()) return InvalidArgument("tools: Llama 3's template needs a user message to put the tools in");
    Header(&out, "user");
    out += "Given the following functions, please respond with a JSON for a function call "
           "with its proper arguments that best answers the given prompt.\n\n"
           "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}."
           "Do not use variables.\n\n";
    for (const std::string& def : tools) {
      const auto parsed = nlohmann::ordered_json::parse(def, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) return InvalidArgument("tools: a definition is not JSON");
      out += PyJsonDumps(parsed, 4) + "\n\n";
    }
    out += Trim(messages[next].content);
    out += kEot;
    ++next;
  }
  for (size_t i = next; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (!m.tool_calls.empty()) {
      if (m.tool_calls.size() != 1) {
        return InvalidArgument("tools: Llama 3's template takes one tool call per assistant message (messages[{}] has {})",
                               i, m.tool_calls.size());
      }
      Header(&out, "assistant");
      out += "{\"name\": \"" + m.tool_calls[0].name + "\", \"parameters\": " + m.tool_calls[0].arguments + "}";
      out += kEot;
    } else if (m.role == "tool" || m.role == "ipython") {
      Header(&out, "ipython");
      out += PyJsonDumps(nlohmann::ordered_json(m.content));  // a string is "iterable": tojson quotes it
      out += kEot;
    } else {
      Header(&out, m.role);
      out += Trim(m.content);
      out += kEot;
    }
  }
  if (add_generation_prompt) Header(&out, "assistant");
  return out;
}

}  // namespace gorae::tokenizer
