#include "server/tool_calls.h"

#include <cctype>
#include <random>

#include <fmt/format.h>

#include "infer/json_schema_grammar.h"
#include "tokenizer/py_json.h"

namespace gorae::server {

using nlohmann::ordered_json;

namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";
using tokenizer::kDeepSeekToolCallBegin;
using tokenizer::kDeepSeekToolCallEnd;
using tokenizer::kDeepSeekToolCallsBegin;
using tokenizer::kDeepSeekToolCallsEnd;
using tokenizer::kDeepSeekToolSep;

// The DeepSeek markers as students misspell them ("_" or " " for "▁") become the real ones.
void NormalizeDeepSeekMarkers(std::string* s) {
  for (std::string_view marker : {kDeepSeekToolCallsBegin, kDeepSeekToolCallsEnd, kDeepSeekToolCallBegin, kDeepSeekToolCallEnd, kDeepSeekToolSep}) {
    for (const char* sub : {"_", " "}) {
      std::string variant(marker);
      for (size_t p; (p = variant.find("▁")) != std::string::npos;) variant.replace(p, std::string_view("▁").size(), sub);
      for (size_t p; (p = s->find(variant)) != std::string::npos;) s->replace(p, variant.size(), marker);
    }
  }
}

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \n\t\r");
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(" \n\t\r") - b + 1));
}

bool ValidFunctionName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string NewCallId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("call_{:016x}", rng());
}

// A GBNF string literal for `text`.
std::string Literal(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

ToolCallFormat ToolCallFormatOf(const Result<tokenizer::ChatTemplateKind>& kind) {
  if (!kind.ok()) return ToolCallFormat::kQwen;
  switch (*kind) {
    case tokenizer::ChatTemplateKind::kDeepSeekV3:
    case tokenizer::ChatTemplateKind::kDeepSeekR1:
    case tokenizer::ChatTemplateKind::kDeepSeekR1Initial:
      return ToolCallFormat::kDeepSeek;
    case tokenizer::ChatTemplateKind::kLlama3:
      return ToolCallFormat::kLlama;
    default:
      return ToolCallFormat::kQwen;
  }
}

Status ParseToolFields(const ordered_json& body, ToolRequest* out, std::vector<tokenizer::ChatMessage>* messages) {
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("tools: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const ordered_json& t = (*it)[i];
      const std::string where = fmt::format("tools[{}]", i);
      if (!t.is_object() || t.value("type", "") != "function") return InvalidArgument("{}.type: expected \"function\"", where);
      auto fn = t.find("function");
      if (fn == t.end() || !fn->is_object()) return InvalidArgument("{}.function: required, an object", where);
      auto name = fn->find("name");
      if (name == fn->end() || !name->is_string() || !ValidFunctionName(name->get<std::string>())) {
        return InvalidArgument("{}.function.name: required, 1 to 64 letters, digits, '_' or '-'", where);
      }
      ToolSpec spec;
      spec.name = name->get<std::string>();
      for (const ToolSpec& other : out->tools) {
        if (other.name == spec.name) return InvalidArgument("{}.function.name: '{}' is defined twice", where, spec.name);
      }
      if (auto p = fn->find("parameters"); p != fn->end() && !p->is_null()) {
        if (!p->is_object()) return InvalidArgument("{}.function.parameters: expected a JSON Schema object", where);
        spec.parameters = *p;
      }
      spec.rendered = tokenizer::PyJsonDumps(t);
      out->tools.push_back(std::move(spec));
    }
  }
  auto known = [&](const std::string& n) {
    return std::any_of(out->tools.begin(), out->tools.end(), [&](const ToolSpec& t) { return t.name == n; });
  };
  if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      const std::string c = it->get<std::string>();
      if (c == "auto") {
        out->choice = ToolRequest::Choice::kAuto;
      } else if (c == "none") {
        out->choice = ToolRequest::Choice::kNone;
      } else if (c == "required") {
        out->choice = ToolRequest::Choice::kRequired;
      } else {
        return InvalidArgument("tool_choice: expected auto, none, required or a function, got '{}'", c);
      }
    } else if (it->is_object() && it->contains("function") && (*it)["function"].is_object() &&
               (*it)["function"].contains("name") && (*it)["function"]["name"].is_string()) {
      out->choice = ToolRequest::Choice::kNamed;
      out->named = (*it)["function"]["name"].get<std::string>();
      if (!known(out->named)) return InvalidArgument("tool_choice.function.name: no tool named '{}'", out->named);
    } else {
      return InvalidArgument("tool_choice: expected a string or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}");
    }
    if (out->choice != ToolRequest::Choice::kAuto && out->choice != ToolRequest::Choice::kNone && out->tools.empty()) {
      return InvalidArgument("tool_choice: there are no tools to call");
    }
  }
  if (auto it = body.find("parallel_tool_calls"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return InvalidArgument("parallel_tool_calls: expected a boolean");
    out->parallel = it->get<bool>();
  }

  // The messages' tool calls and the results that answer them.
  auto msgs = body.find("messages");
  if (msgs == body.end() || !msgs->is_array()) return Status::Ok();  // the chat parser reports it
  std::vector<std::string> call_ids;
  for (size_t i = 0; i < msgs->size() && i < messages->size(); ++i) {
    const ordered_json& m = (*msgs)[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (auto calls = m.find("tool_calls"); calls != m.end() && !calls->is_null()) {
      if ((*messages)[i].role != "assistant") return InvalidArgument("{}.tool_calls: only assistant messages call tools", where);
      if (!calls->is_array()) return InvalidArgument("{}.tool_calls: expected an array", where);
      for (size_t k = 0; k < calls->size(); ++k) {
        const ordered_json& c = (*calls)[k];
        const std::string cw = fmt::format("{}.tool_calls[{}]", where, k);
        if (!c.is_object() || !c.contains("function") || !c["function"].is_object()) {
          return InvalidArgument("{}.function: required, an object", cw);
        }
        const ordered_json& fn = c["function"];
        if (!fn.contains("name") || !fn["name"].is_string()) return InvalidArgument("{}.function.name: required", cw);
        const std::string name = fn["name"].get<std::string>();
        if (!out->tools.empty() && !known(name)) return InvalidArgument("{}.function.name: no tool named '{}'", cw, name);
        ordered_json args = ordered_json::object();
        std::string raw;
        if (auto a = fn.find("arguments"); a != fn.end() && !a->is_null()) {
          if (a->is_string()) {  // OpenAI's form: the arguments object as JSON text
            raw = a->get<std::string>();
            args = ordered_json::parse(raw, nullptr, /*allow_exceptions=*/false);
            if (args.is_discarded()) return InvalidArgument("{}.function.arguments: not valid JSON", cw);
          } else {
            args = *a;
          }
        }
        if (raw.empty()) raw = tokenizer::PyJsonDumps(args);
        if (c.contains("id") && c["id"].is_string()) call_ids.push_back(c["id"].get<std::string>());
        (*messages)[i].tool_calls.push_back({name, tokenizer::PyJsonDumps(args), raw});
      }
      // Many clients (Ollama's, LangChain) send "" rather than null beside the calls; DeepSeek-V3's
      // template would then render the turn as text and lose its calls, so blank means none.
      tokenizer::ChatMessage& turn = (*messages)[i];
      if (!turn.tool_calls.empty() && turn.content.find_first_not_of(" \n\t\r") == std::string::npos) {
        turn.content.clear();
        turn.content_is_null = true;
      }
    }
    if ((*messages)[i].role == "tool") {
      auto id = m.find("tool_call_id");
      if (id == m.end() || !id->is_string()) return InvalidArgument("{}.tool_call_id: required for a tool message", where);
      if (std::find(call_ids.begin(), call_ids.end(), id->get<std::string>()) == call_ids.end()) {
        return InvalidArgument("{}.tool_call_id: no earlier assistant tool call has id '{}'", where, id->get<std::string>());
      }
    }
  }
  return Status::Ok();
}

std::string PrefixGbnfRules(std::string_view g, std::string_view prefix) {
  std::string out;
  for (size_t i = 0; i < g.size();) {
    const char c = g[i];
    if (c == '"' || c == '[') {  // a literal or a class: copied as is, escapes included
      const char end = c == '"' ? '"' : ']';
      out += c;
      for (++i; i < g.size() && g[i] != end; ++i) {
        if (g[i] == '\\' && i + 1 < g.size()) out += g[i++];
        out += g[i];
      }
      if (i < g.size()) out += g[i++];
    } else if (c == '#') {
      while (i < g.size() && g[i] != '\n') out += g[i++];
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') {
      out += prefix;
      while (i < g.size() && (std::isalnum(static_cast<unsigned char>(g[i])) || g[i] == '_' || g[i] == '-')) out += g[i++];
    } else if (c == '{') {  // a repetition count: digits, not names
      while (i < g.size() && g[i] != '}') out += g[i++];
    } else {
      out += g[i++];
    }
  }
  return out;
}

Result<std::string> RequiredCallGrammar(const ToolRequest& r) {
  std::string g;
  std::string calls;
  for (size_t i = 0; i < r.tools.size(); ++i) {
    const ToolSpec& t = r.tools[i];
    if (r.choice == ToolRequest::Choice::kNamed && t.name != r.named) continue;
    std::string args;
    if (t.parameters.is_null()) {
      args = AnyJsonObjectGbnf();
    } else {
      auto compiled = JsonSchemaToGbnf(t.parameters);
      if (!compiled.ok()) return compiled.status().WithContext(fmt::format("tools[{}].function.parameters", i));
      args = std::move(*compiled);
    }
    const std::string prefix = fmt::format("t{}-", i);
    g += PrefixGbnfRules(args, prefix) + "\n";
    // The exact form the template shows the model (and renders past calls in).
    if (r.format == ToolCallFormat::kQwen) {
      g += fmt::format("call-{} ::= {} {}root {}\n", i,
                       Literal("<tool_call>\n{\"name\": \"" + t.name + "\", \"arguments\": "), prefix,
                       Literal("}\n</tool_call>"));
    } else if (r.format == ToolCallFormat::kLlama) {
      g += fmt::format("call-{} ::= {} {}root {}\n", i, Literal("{\"name\": \"" + t.name + "\", \"parameters\": "),
                       prefix, Literal("}"));
    } else {
      g += fmt::format("call-{} ::= {} {}root {}\n", i,
                       Literal(std::string(kDeepSeekToolCallBegin) + "function" + std::string(kDeepSeekToolSep) + t.name + "\n```json\n"),
                       prefix, Literal("\n```" + std::string(kDeepSeekToolCallEnd)));
    }
    calls += (calls.empty() ? "" : " | ") + fmt::format("call-{}", i);
  }
  g += "one-call ::= " + calls + "\n";
  // Llama 3's template renders one call per turn, so its answers make one call.
  const bool several = r.parallel && r.format != ToolCallFormat::kLlama;
  const std::string calls_rule = several ? "one-call (\"\\n\" one-call)*" : "one-call";
  if (r.format != ToolCallFormat::kDeepSeek) {
    g += "root ::= " + calls_rule + "\n";
  } else {
    g += "root ::= " + Literal(kDeepSeekToolCallsBegin) + " " + calls_rule + " " + Literal(kDeepSeekToolCallsEnd) + "\n";
  }
  return g;
}

namespace {

// The calls of one block between the format's markers; empty if it is not well formed.
std::vector<ParsedToolCall> ParseBlock(ToolCallFormat format, const std::string& block) {
  std::vector<ParsedToolCall> calls;
  if (format != ToolCallFormat::kDeepSeek) {  // a <tool_call> block (a Llama model may write one too)
    const auto j = ordered_json::parse(block, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object() && j.contains("name") && j["name"].is_string() &&
        (!j.contains("arguments") || j["arguments"].is_object())) {
      calls.push_back({NewCallId(), j["name"].get<std::string>(),
                       j.contains("arguments") ? j["arguments"].dump() : std::string("{}")});
    }
    return calls;
  }
  // <｜tool▁call▁begin｜>TYPE<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>, repeated.
  for (size_t pos = 0;;) {
    const size_t b = block.find(kDeepSeekToolCallBegin, pos);
    if (b == std::string::npos) break;
    const size_t e = block.find(kDeepSeekToolCallEnd, b);
    const size_t sep = block.find(kDeepSeekToolSep, b);
    if (e == std::string::npos || sep == std::string::npos || sep > e) return {};
    const std::string rest = block.substr(sep + kDeepSeekToolSep.size(), e - sep - kDeepSeekToolSep.size());
    const size_t nl = rest.find('\n');
    if (nl == std::string::npos) return {};
    const std::string name = Trim(std::string_view(rest).substr(0, nl));
    std::string args = Trim(std::string_view(rest).substr(nl + 1));
    if (args.rfind("```json", 0) == 0) args.erase(0, 7);
    if (args.rfind("```", 0) == 0) args.erase(0, 3);
    if (args.size() >= 3 && args.compare(args.size() - 3, 3, "```") == 0) args.erase(args.size() - 3);
    const auto j = ordered_json::parse(args, nullptr, /*allow_exceptions=*/false);
    if (name.empty() || j.is_discarded() || !j.is_object()) return {};
    calls.push_back({NewCallId(), name, j.dump()});
    pos = e + kDeepSeekToolCallEnd.size();
  }
  return calls;
}

}  // namespace

void ToolCallStream::Drain(Out* out) {
  const std::string_view open = format_ == ToolCallFormat::kDeepSeek ? kDeepSeekToolCallsBegin : kOpen;
  const std::string_view close = format_ == ToolCallFormat::kDeepSeek ? kDeepSeekToolCallsEnd : kClose;
  if (format_ == ToolCallFormat::kDeepSeek) NormalizeDeepSeekMarkers(&held_);
  while (true) {
    if (!in_call_) {
      const size_t at = held_.find(open);
      if (at != std::string::npos) {
        out->content += held_.substr(0, at);
        held_.erase(0, at + open.size());
        in_call_ = true;
        continue;
      }
      // Keep back the longest tail that could still become the opening marker.
      size_t keep = 0;
      for (size_t n = std::min(held_.size(), open.size() - 1); n > 0; --n) {
        if (held_.compare(held_.size() - n, n, open.substr(0, n)) == 0) {
          keep = n;
          break;
        }
      }
      out->content += held_.substr(0, held_.size() - keep);
      held_.erase(0, held_.size() - keep);
      return;
    }
    const size_t end = held_.find(close);
    if (end == std::string::npos) return;  // the call is still coming
    const std::string block = held_.substr(0, end);
    held_.erase(0, end + close.size());
    in_call_ = false;
    std::vector<ParsedToolCall> calls = ParseBlock(format_, block);
    if (calls.empty()) {
      out->content += std::string(open) + block + std::string(close);  // not a call after all
      continue;
    }
    calls_ += static_cast<int>(calls.size());
    out->calls.insert(out->calls.end(), calls.begin(), calls.end());
  }
}

namespace {

// What a bare call may be wrapped in: small models often fence it as Markdown JSON, and Llama
// 3.1 may open it with <|python_tag|> (when the tag is not dropped as a special token).
std::vector<std::string_view> BareCallOpeners(ToolCallFormat format) {
  if (format == ToolCallFormat::kLlama) return {kPythonTag, "```json", "```"};
  return {"```json", "```"};
}

std::string_view TrimLeft(std::string_view s) {
  const size_t first = s.find_first_not_of(" \n\t\r");
  return first == std::string_view::npos ? std::string_view() : s.substr(first);
}

// Whether an answer that begins with `start` may still turn out to be nothing but a bare call.
bool MayBeBareCall(std::string_view start, ToolCallFormat format) {
  start = TrimLeft(start);
  if (start.empty() || start[0] == '{') return true;
  for (std::string_view opener : BareCallOpeners(format)) {
    if (opener.starts_with(start)) return true;
    if (start.starts_with(opener)) {
      const std::string_view after = TrimLeft(start.substr(opener.size()));
      if (after.empty() || after[0] == '{') return true;
    }
  }
  return false;
}

// The JSON of a whole answer that may be a bare call, without its wrapper.
std::string_view BareCallJson(std::string_view answer, ToolCallFormat format) {
  answer = TrimLeft(answer);
  while (!answer.empty() && std::string_view(" \n\t\r").find(answer.back()) != std::string_view::npos) answer.remove_suffix(1);
  for (std::string_view opener : BareCallOpeners(format)) {
    if (!answer.starts_with(opener)) continue;
    answer.remove_prefix(opener.size());
    if (opener.starts_with("```")) {
      if (!answer.ends_with("```")) return {};
      answer.remove_suffix(3);
    }
    return answer;
  }
  return answer;
}

}  // namespace

ToolCallStream::Out ToolCallStream::Push(std::string_view text) {
  Out out;
  if (at_start_ && !tools_.empty()) {
    start_ += text;
    if (MayBeBareCall(start_, format_)) return out;  // hold until it is one or is not
    at_start_ = false;
    text = start_;
    held_ += text;
    start_.clear();
  } else {
    held_ += text;
  }
  Drain(&out);
  return out;
}

ToolCallStream::Out ToolCallStream::Finish() {
  Out out;
  if (!start_.empty()) {
    const auto j = ordered_json::parse(BareCallJson(start_, format_), nullptr, /*allow_exceptions=*/false);
    // Qwen's object names its arguments "arguments", Llama's "parameters".
    const char* args_key = format_ == ToolCallFormat::kLlama ? "parameters" : "arguments";
    if (!j.is_discarded() && j.is_object() && j.size() == 2 && j.contains("name") && j["name"].is_string() &&
        std::find(tools_.begin(), tools_.end(), j["name"].get<std::string>()) != tools_.end() &&
        j.contains(args_key) && j[args_key].is_object()) {
      out.calls.push_back({NewCallId(), j["name"].get<std::string>(), j[args_key].dump()});
      ++calls_;
      start_.clear();
      return out;
    }
    held_ += start_;
    start_.clear();
  }
  Drain(&out);
  const std::string_view open = format_ == ToolCallFormat::kDeepSeek ? kDeepSeekToolCallsBegin : kOpen;
  out.content += in_call_ ? std::string(open) + held_ : held_;  // an unclosed call stays text
  held_.clear();
  in_call_ = false;
  return out;
}

}  // namespace gorae::server
