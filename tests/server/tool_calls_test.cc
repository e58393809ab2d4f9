// Tool calls: the stream splitter finds the same calls and content wherever the text is cut;
// the required-call grammar accepts exactly well-formed calls with valid arguments; the request
// fields are checked with the field named.
#include <gtest/gtest.h>

#include "infer/grammar.h"
#include "server/tool_calls.h"

namespace gorae::server {
namespace {

using nlohmann::ordered_json;

// Pushes `text` cut at `cut`, then finishes: all the calls and all the content.
ToolCallStream::Out SplitAt(ToolCallStream& s, const std::string& text, size_t cut) {
  ToolCallStream::Out all;
  for (ToolCallStream::Out part : {s.Push(text.substr(0, cut)), s.Push(text.substr(cut)), s.Finish()}) {
    all.content += part.content;
    all.calls.insert(all.calls.end(), part.calls.begin(), part.calls.end());
  }
  return all;
}

TEST(ToolCalls, SplitterIsTheSameWhereverTheTextIsCut) {
  const std::string text =
      "Let me look. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Seoul\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"now\"}\n</tool_call> <tool_call>not json</tool_call> <tool_ca";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ToolCallStream s;
    const ToolCallStream::Out all = SplitAt(s, text, cut);
    const std::string& content = all.content;
    const std::vector<ParsedToolCall>& calls = all.calls;
    ASSERT_EQ(calls.size(), 2u) << cut;
    EXPECT_EQ(calls[0].name, "get_weather");
    EXPECT_EQ(calls[0].arguments, R"({"city":"Seoul"})");
    EXPECT_EQ(calls[1].name, "now");
    EXPECT_EQ(calls[1].arguments, "{}");
    EXPECT_NE(calls[0].id, calls[1].id);
    EXPECT_EQ(content, "Let me look. \n <tool_call>not json</tool_call> <tool_ca") << cut;
  }
  // A bare call object (no tags) naming a known tool, wherever it is cut; other JSON stays text.
  const std::string bare = "  {\"name\": \"now\", \"arguments\": {}}\n";
  for (size_t cut = 0; cut <= bare.size(); ++cut) {
    ToolCallStream s({"now"});
    std::string content = s.Push(bare.substr(0, cut)).content;
    content += s.Push(bare.substr(cut)).content;
    const ToolCallStream::Out end = s.Finish();
    EXPECT_EQ(content + end.content, "") << cut;
    ASSERT_EQ(end.calls.size(), 1u) << cut;
    EXPECT_EQ(end.calls[0].name, "now");
  }
  ToolCallStream other({"now"});
  EXPECT_EQ(other.Push("{\"name\": \"later\", \"arguments\": {}}").content, "");
  EXPECT_EQ(other.Finish().content, "{\"name\": \"later\", \"arguments\": {}}");
  ToolCallStream prose({"now"});
  EXPECT_EQ(prose.Push("Hi {").content, "Hi {");
  ToolCallStream open;
  open.Push("<tool_call>\n{\"name\": \"x\"");
  EXPECT_EQ(open.Finish().content, "<tool_call>\n{\"name\": \"x\"");  // never closed: text
}

ToolRequest Weather(ToolRequest::Choice choice, bool parallel) {
  ToolRequest r;
  std::vector<tokenizer::ChatMessage> none;
  const auto body = ordered_json::parse(R"({"tools": [
      {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
        "properties": {"city": {"type": "string", "maxLength": 10}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city"]}}},
      {"type": "function", "function": {"name": "now"}}]})");
  EXPECT_TRUE(ParseToolFields(body, &r, &none).ok());
  r.choice = choice;
  r.named = "get_weather";
  r.parallel = parallel;
  return r;
}

bool Matches(const std::string& gbnf, const std::string& text) {
  auto g = Grammar::Parse(gbnf);
  EXPECT_TRUE(g.ok()) << g.status().message() << "\n" << gbnf;
  if (!g.ok()) return false;
  GrammarMatcher m(*g);
  if (!m.Accepts(text)) return false;
  m.Advance(text);
  return m.CanEnd();
}

TEST(ToolCalls, RequiredCallGrammar) {
  const std::string call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Seoul\", \"days\": 3}}\n</tool_call>";
  const std::string now = "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
  auto required = RequiredCallGrammar(Weather(ToolRequest::Choice::kRequired, false));
  ASSERT_TRUE(required.ok()) << required.status().message();
  EXPECT_TRUE(Matches(*required, call));
  EXPECT_TRUE(Matches(*required, now));
  EXPECT_FALSE(Matches(*required, call + "\n" + now));  // not parallel
  EXPECT_FALSE(Matches(*required, "hello"));
  EXPECT_FALSE(Matches(*required, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"days\": 3}}\n</tool_call>"));
  EXPECT_FALSE(Matches(*required, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Seoul\", \"days\": 9}}\n</tool_call>"));
  auto parallel = RequiredCallGrammar(Weather(ToolRequest::Choice::kRequired, true));
  ASSERT_TRUE(parallel.ok());
  EXPECT_TRUE(Matches(*parallel, call + "\n" + now));
  auto named = RequiredCallGrammar(Weather(ToolRequest::Choice::kNamed, true));
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(Matches(*named, call));
  EXPECT_FALSE(Matches(*named, now));
}

TEST(ToolCalls, DeepSeekFormat) {
  const std::string text =
      "Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Seoul\"}\n```"
      "<｜tool▁call▁end｜>\n<｜tool_call_begin｜>function<｜tool_sep｜>now\n```json\n{}\n```<｜tool_call_end｜>"
      "<｜tool▁calls▁end｜>";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ToolCallStream s({"get_weather", "now"}, ToolCallFormat::kDeepSeek);
    const ToolCallStream::Out all = SplitAt(s, text, cut);
    const std::vector<ParsedToolCall>& calls = all.calls;
    ASSERT_EQ(calls.size(), 2u) << cut;
    EXPECT_EQ(calls[0].name, "get_weather");
    EXPECT_EQ(calls[0].arguments, R"({"city":"Seoul"})");
    EXPECT_EQ(calls[1].name, "now");
    EXPECT_EQ(all.content, "Sure.") << cut;
  }
  ToolRequest r = Weather(ToolRequest::Choice::kRequired, true);
  r.format = ToolCallFormat::kDeepSeek;
  auto g = RequiredCallGrammar(r);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const std::string call = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Seoul\"}\n```<｜tool▁call▁end｜>";
  EXPECT_TRUE(Matches(*g, "<｜tool▁calls▁begin｜>" + call + "<｜tool▁calls▁end｜>"));
  EXPECT_TRUE(Matches(*g, "<｜tool▁calls▁begin｜>" + call + "\n" + call + "<｜tool▁calls▁end｜>"));
  EXPECT_FALSE(Matches(*g, "<｜tool▁calls▁begin｜>" + call));
  EXPECT_FALSE(Matches(*g, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>"));
}

// Llama 3.1 answers a call as the bare {"name", "parameters"} object, maybe after <|python_tag|>,
// and makes one call per answer.
TEST(ToolCalls, LlamaFormat) {
  for (const std::string text : {std::string("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Seoul\"}}"),
                                 std::string("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Seoul\"}}")}) {
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      ToolCallStream s({"get_weather"}, ToolCallFormat::kLlama);
      const ToolCallStream::Out all = SplitAt(s, text, cut);
      ASSERT_EQ(all.calls.size(), 1u) << text << " cut at " << cut;
      EXPECT_EQ(all.calls[0].name, "get_weather");
      EXPECT_EQ(all.calls[0].arguments, R"({"city":"Seoul"})");
      EXPECT_EQ(all.content, "");
    }
  }
  // Text, or an object naming no tool, stays content.
  for (const std::string text : {std::string("It is sunny."), std::string("{\"name\": \"other\", \"parameters\": {}}")}) {
    ToolCallStream s({"get_weather"}, ToolCallFormat::kLlama);
    const ToolCallStream::Out all = SplitAt(s, text, text.size() / 2);
    EXPECT_TRUE(all.calls.empty());
    EXPECT_EQ(all.content, text);
  }
  ToolRequest r = Weather(ToolRequest::Choice::kRequired, true);
  r.format = ToolCallFormat::kLlama;
  auto g = RequiredCallGrammar(r);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const std::string call = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Seoul\"}}";
  EXPECT_TRUE(Matches(*g, call));
  EXPECT_FALSE(Matches(*g, call + "\n" + call));  // one call per answer, even with parallel_tool_calls
  EXPECT_FALSE(Matches(*g, "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Seoul\"}}"));
}

// Small models fence the bare call as Markdown JSON; other fenced answers stream as they come.
TEST(ToolCalls, FencedBareCall) {
  const std::string fenced = "```json\n{\n  \"name\": \"get_weather\",\n  \"arguments\": {\"city\": \"Seoul\"}\n}\n```\n";
  for (size_t cut = 0; cut <= fenced.size(); ++cut) {
    ToolCallStream s({"get_weather"});
    const ToolCallStream::Out all = SplitAt(s, fenced, cut);
    ASSERT_EQ(all.calls.size(), 1u) << cut;
    EXPECT_EQ(all.calls[0].arguments, R"({"city":"Seoul"})");
    EXPECT_EQ(all.content, "");
  }
  ToolCallStream code({"get_weather"});
  EXPECT_EQ(code.Push("```py").content, "```py");  // released as soon as it cannot be a call
  EXPECT_EQ(code.Push("thon\nprint(1)\n").content, "thon\nprint(1)\n");
  const std::string not_a_call = "```json\n{\"city\": \"Seoul\"}\n```";
  ToolCallStream data({"get_weather"});
  const ToolCallStream::Out all = SplitAt(data, not_a_call, 5);
  EXPECT_TRUE(all.calls.empty());
  EXPECT_EQ(all.content, not_a_call);
}

TEST(ToolCalls, PrefixRenamesRulesOnly) {
  EXPECT_EQ(PrefixGbnfRules("root ::= \"a-b\" [a-z]{1,3} x-y # root\nx-y ::= \"\\\"root\"", "p-"),
            "p-root ::= \"a-b\" [a-z]{1,3} p-x-y # root\np-x-y ::= \"\\\"root\"");
}

TEST(ToolCalls, BadFieldsAreNamed) {
  auto error = [](const char* body) {
    ToolRequest r;
    std::vector<tokenizer::ChatMessage> msgs(3);
    msgs[0].role = "user";
    msgs[1].role = "assistant";
    msgs[2].role = "tool";
    return ParseToolFields(ordered_json::parse(body), &r, &msgs).message();
  };
  EXPECT_EQ(error(R"({"tools": [{"type": "function", "function": {"name": "bad name"}}]})").rfind("tools[0].function.name", 0), 0u);
  EXPECT_EQ(error(R"({"tools": [{"type": "code"}]})").rfind("tools[0].type", 0), 0u);
  EXPECT_EQ(error(R"({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}})")
                .rfind("tool_choice.function.name", 0), 0u);
  EXPECT_EQ(error(R"({"tool_choice": "required"})").rfind("tool_choice", 0), 0u);
  const char* unmatched = R"({"messages": [{"role": "user", "content": "x"},
      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "c2", "content": "r"}]})";
  EXPECT_EQ(error(unmatched).rfind("messages[2].tool_call_id", 0), 0u) << error(unmatched);
  const char* bad_args = R"({"messages": [{"role": "user", "content": "x"},
      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "r"}]})";
  EXPECT_EQ(error(bad_args).rfind("messages[1].tool_calls[0].function.arguments", 0), 0u) << error(bad_args);
}

}  // namespace
}  // namespace gorae::server
