// Token-exact comparison with Hugging Face `tokenizers` / `transformers` on committed golden
// files (regenerate with: python3 tools/tokenizer_golden.py).
#include <gtest/gtest.h>

#include <ctime>
#include <sstream>

#include "tokenizer/py_json.h"

#include "test_util.h"

namespace gorae::tokenizer {
namespace {

using testing::DeepSeekDir;
using testing::Exists;
using testing::ReadJsonl;
using testing::Show;
using testing::TestPath;

// Encodes every golden row; checks ids, decode(ids) and the streaming decoder.
void CheckEncodeGolden(const Tokenizer& tok, const std::string& golden) {
  auto rows = ReadJsonl(golden);
  ASSERT_GT(rows.size(), 100u) << golden;
  int failures = 0;
  for (const auto& row : rows) {
    const std::string text = row["text"].get<std::string>();
    const auto want = row["ids"].get<std::vector<int32_t>>();
    auto got = tok.Encode(text, row.value("add_bos", false));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (*got != want) {
      ADD_FAILURE() << "encode mismatch for " << Show(text) << "\n  want " << nlohmann::json(want).dump()
                    << "\n  got  " << nlohmann::json(*got).dump();
      if (++failures > 10) return;
      continue;
    }
    if (row.value("add_bos", false)) continue;
    const std::string expect_text = row.contains("decoded") ? row["decoded"].get<std::string>() : text;
    auto dec = tok.Decode(*got);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(*dec, expect_text) << "decode mismatch for " << Show(text);
    StreamDecoder stream(tok);
    std::string streamed;
    for (int32_t id : *got) streamed += stream.Push(id).value();
    streamed += stream.Flush();
    EXPECT_EQ(streamed, *dec) << "stream decode mismatch for " << Show(text);
  }
}

TEST(DeepSeekV3Golden, EncodeDecode) {
  if (!Exists(DeepSeekDir() + "/tokenizer.json")) GTEST_SKIP() << "no " << DeepSeekDir();
  auto tok = testing::LoadOrFail(DeepSeekDir());
  ASSERT_TRUE(tok);
  CheckEncodeGolden(*tok, TestPath("golden/deepseek_v3_encode.jsonl"));
}

TEST(DeepSeekV3Golden, DecodeArbitraryIds) {
  if (!Exists(DeepSeekDir() + "/tokenizer.json")) GTEST_SKIP() << "no " << DeepSeekDir();
  auto tok = testing::LoadOrFail(DeepSeekDir());
  ASSERT_TRUE(tok);
  for (const auto& row : ReadJsonl(TestPath("golden/deepseek_v3_decode.jsonl"))) {
    const auto ids = row["ids"].get<std::vector<int32_t>>();
    auto got = tok->Decode(ids, row["skip_special"].get<bool>());
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, row["text"].get<std::string>()) << "ids " << nlohmann::json(ids).dump();
  }
}

class StyleGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(StyleGolden, EncodeDecode) {
  auto tok = testing::LoadOrFail(TestPath(std::string("data/") + GetParam()));
  ASSERT_TRUE(tok);
  CheckEncodeGolden(*tok, TestPath(std::string("golden/") + GetParam() + "_encode.jsonl"));
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, StyleGolden, ::testing::Values("qwen2_style", "llama3_style", "gpt2_style", "split_behaviors"));

class ChatGolden : public ::testing::TestWithParam<std::pair<const char*, ChatTemplateKind>> {};

TEST_P(ChatGolden, MatchesTransformers) {
  const auto [name, kind] = GetParam();
  auto jinja = testing::ReadFileOrDie(TestPath(std::string("data/") + name + ".jinja"));
  auto identified = IdentifyChatTemplate(jinja);
  ASSERT_TRUE(identified.ok()) << identified.status().ToString();
  EXPECT_EQ(*identified, kind);
  auto rows = ReadJsonl(TestPath(std::string("golden/chat_") + name + ".jsonl"));
  ASSERT_GE(rows.size(), 10u);
  for (const auto& row : rows) {
    std::vector<ChatMessage> messages;
    for (const auto& m : row["messages"]) {
      ChatMessage msg{m["role"], m["content"], std::nullopt};
      if (m.contains("reasoning_content")) msg.reasoning_content = m["reasoning_content"].get<std::string>();
      messages.push_back(msg);
    }
    auto text = RenderChatTemplate(kind, messages, row["add_generation_prompt"], "<｜begin▁of▁sentence｜>", jinja);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    EXPECT_EQ(*text, row["text"].get<std::string>()) << row["messages"].dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Templates, ChatGolden,
                         ::testing::Values(std::make_pair("deepseek_v3", ChatTemplateKind::kDeepSeekV3),
                                           std::make_pair("deepseek_r1", ChatTemplateKind::kDeepSeekR1),
                                           std::make_pair("deepseek_r1_initial", ChatTemplateKind::kDeepSeekR1Initial),
                                           std::make_pair("gorae", ChatTemplateKind::kGorae),
                                           // Qwen2.5-Coder-1.5B-Instruct's GGUF template, word for word
                                           std::make_pair("qwen2_5", ChatTemplateKind::kChatML),
                                           std::make_pair("qwen2", ChatTemplateKind::kChatML),
                                           std::make_pair("chatml", ChatTemplateKind::kChatML),
                                           std::make_pair("llama3", ChatTemplateKind::kLlama3),
                                           std::make_pair("llama3_1", ChatTemplateKind::kLlama3)));

// Renders golden/chat_{golden}.jsonl's rows ({"tools", "messages", "add_generation_prompt",
// "text"}, from transformers' apply_chat_template) through data/{jinja}.jinja and compares.
void ExpectToolGoldenRows(const std::string& golden, const std::string& jinja_name, ChatTemplateKind kind) {
  auto jinja = testing::ReadFileOrDie(TestPath("data/" + jinja_name + ".jinja"));
  auto identified = IdentifyChatTemplate(jinja);
  ASSERT_TRUE(identified.ok()) << identified.status().ToString();
  ASSERT_EQ(*identified, kind);
  // Read with the keys in the file's order: tojson keeps a tool definition's order.
  std::vector<nlohmann::ordered_json> rows;
  std::istringstream lines(testing::ReadFileOrDie(TestPath("golden/chat_" + golden + ".jsonl")));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) rows.push_back(nlohmann::ordered_json::parse(line));
  }
  ASSERT_GE(rows.size(), 6u);
  for (const auto& row : rows) {
    std::vector<std::string> tools;
    for (const auto& t : row["tools"]) tools.push_back(PyJsonDumps(t));
    std::vector<ChatMessage> messages;
    for (const auto& m : row["messages"]) {
      ChatMessage msg{m["role"], m.contains("content") ? m["content"].get<std::string>() : "", std::nullopt, {}};
      if (m.contains("tool_calls")) {
        for (const auto& c : m["tool_calls"]) {
          msg.tool_calls.push_back({c["function"]["name"], PyJsonDumps(c["function"]["arguments"])});
        }
      }
      messages.push_back(msg);
    }
    auto text = RenderChatTemplate(kind, messages, row["add_generation_prompt"], "<｜begin▁of▁sentence｜>", jinja, tools);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    EXPECT_EQ(*text, row["text"].get<std::string>()) << row["messages"].dump();
  }
}

// Tools and tool calls through Qwen2.5's template, against transformers' apply_chat_template
// (golden/chat_qwen2_5_tools.jsonl, tools/tokenizer_golden.py): the definitions and the
// arguments as its tojson writes them, tool results as <tool_response> turns.
TEST(ChatML, ToolsMatchTransformers) {
  // Qwen2.5's template writes no BOS; the golden's tokenizer has one, which it ignores.
  ExpectToolGoldenRows("qwen2_5_tools", "qwen2_5", ChatTemplateKind::kChatML);
  // Templates without a tool format refuse tools rather than drop them.
  auto gorae = RenderChatTemplate(ChatTemplateKind::kGorae, {{"user", "hi", std::nullopt, {}}}, true, "", "", {"{}"});
  EXPECT_FALSE(gorae.ok());
  EXPECT_NE(gorae.status().message().find("tools:"), std::string::npos);
}

// Tool calls and outputs as DeepSeek's templates write them (transformers' rendering in
// golden/chat_{name}_tools.jsonl, the templates' quirks included: the first-call flag is never
// reset, so a later turn's calls follow without "<｜Assistant｜>"; V3 and the first R1 render a
// turn's calls only when its content is null, and close the calls after every call but the first).
class DeepSeekToolGolden : public ::testing::TestWithParam<std::pair<const char*, ChatTemplateKind>> {};

TEST_P(DeepSeekToolGolden, MatchesTransformers) {
  const auto [name, kind] = GetParam();
  auto rows = ReadJsonl(TestPath(std::string("golden/chat_") + name + "_tools.jsonl"));
  ASSERT_GE(rows.size(), 6u);
  for (const auto& row : rows) {
    std::vector<ChatMessage> messages;
    for (const auto& m : row["messages"]) {
      ChatMessage msg{m["role"], m["content"].is_null() ? "" : m["content"].get<std::string>(), std::nullopt, {}};
      msg.content_is_null = m["content"].is_null();
      if (m.contains("tool_calls")) {
        for (const auto& c : m["tool_calls"]) {
          const std::string raw = c["function"]["arguments"];
          msg.tool_calls.push_back({c["function"]["name"], raw, raw});
        }
      }
      messages.push_back(msg);
    }
    auto text = RenderChatTemplate(kind, messages, row["add_generation_prompt"], "<｜begin▁of▁sentence｜>");
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    EXPECT_EQ(*text, row["text"].get<std::string>()) << row["messages"].dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Templates, DeepSeekToolGolden,
                         ::testing::Values(std::make_pair("deepseek_r1", ChatTemplateKind::kDeepSeekR1),
                                           std::make_pair("deepseek_v3", ChatTemplateKind::kDeepSeekV3),
                                           std::make_pair("deepseek_r1_initial", ChatTemplateKind::kDeepSeekR1Initial)));

// Llama 3.1's: definitions (tojson(indent=4)) in the first user message, a past call as
// {"name": ..., "parameters": ...}, results as ipython turns quoted by tojson.
TEST(Llama3, ToolsMatchTransformers) {
  ExpectToolGoldenRows("llama3_1_tools", "llama3_1", ChatTemplateKind::kLlama3);
  auto jinja = testing::ReadFileOrDie(TestPath("data/llama3_1.jinja"));
  ChatMessage two_calls{"assistant", "", std::nullopt, {{"a", "{}", "{}"}, {"b", "{}", "{}"}}};
  auto refused = RenderChatTemplate(ChatTemplateKind::kLlama3, {{"user", "hi", std::nullopt, {}}, two_calls}, true,
                                    "", jinja, {R"({"type": "function"})"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("one tool call per assistant message (messages[1] has 2)"),
            std::string::npos)
      << refused.status().ToString();
  // Llama 3.0's template has no tool section: tools are refused, not dropped.
  auto plain = RenderChatTemplate(ChatTemplateKind::kLlama3, {{"user", "hi", std::nullopt, {}}}, true, "",
                                  testing::ReadFileOrDie(TestPath("data/llama3.jinja")), {"{}"});
  EXPECT_FALSE(plain.ok());
}

// Llama 3.2's template dates its system block with strftime_now, as transformers gives it: today.
TEST(Llama3, StrftimeNowDatesTheSystemBlockToday) {
  std::string jinja = testing::ReadFileOrDie(TestPath("data/llama3_1.jinja"));
  const std::string fixed = "{%- set date_string = \"26 Jul 2024\" %}";
  const size_t at = jinja.find(fixed);
  ASSERT_NE(at, std::string::npos);
  jinja.replace(at, fixed.size(),
                "{%- if strftime_now is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") %}"
                "{%- else %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char today[32];
  std::strftime(today, sizeof(today), "%d %b %Y", &local);
  auto text = RenderChatTemplate(ChatTemplateKind::kLlama3, {{"user", "hi", std::nullopt, {}}}, true, "", jinja);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->find(std::string("Today Date: ") + today + "\n\n<|eot_id|>"), std::string::npos) << *text;
}

TEST(DeepSeekR1, ToolDefinitionsFollowTheSystemPrompt) {
  // Definitions follow the system prompt (the template has no place for them).
  auto with_tools = RenderChatTemplate(ChatTemplateKind::kDeepSeekR1, {{"system", "Be exact.", std::nullopt, {}},
                                                                       {"user", "hi", std::nullopt, {}}},
                                       true, "<s>", "", {R"({"type": "function"})"});
  ASSERT_TRUE(with_tools.ok());
  EXPECT_EQ(with_tools->rfind(std::string("<s>Be exact.\n\n") + std::string(kDeepSeekToolsIntro) +
                                  "\n{\"type\": \"function\"}" + std::string(kDeepSeekToolsHowTo) + "<｜User｜>hi",
                              0),
            0u)
      << *with_tools;
}

TEST(PyJson, WritesWhatPythonWrites) {
  EXPECT_EQ(PyJsonDumps(nlohmann::ordered_json::parse(R"({"b": [1, 2.5, true, null], "a": "x\"\n\u0001é/"})")),
            "{\"b\": [1, 2.5, true, null], \"a\": \"x\\\"\\n\\u0001é/\"}");
  EXPECT_EQ(PyJsonDumps(nlohmann::ordered_json(1.0)), "1.0");
  EXPECT_EQ(PyJsonDumps(nlohmann::ordered_json::object()), "{}");
  // json.dumps(x, indent=4): one item per line, "," at line ends, empty containers kept short.
  EXPECT_EQ(PyJsonDumps(nlohmann::ordered_json::parse(R"({"a": [1, {}], "b": {"c": []}})"), 4),
            "{\n    \"a\": [\n        1,\n        {}\n    ],\n    \"b\": {\n        \"c\": []\n    }\n}");
}

TEST(ChatML, DefaultSystemMessageComesFromTheTemplate) {
  auto qwen25 = ChatMLDefaultSystem(testing::ReadFileOrDie(TestPath("data/qwen2_5.jinja")));
  ASSERT_TRUE(qwen25.ok()) << qwen25.status().ToString();
  EXPECT_EQ(qwen25->value_or("(none)"), "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  auto qwen2 = ChatMLDefaultSystem(testing::ReadFileOrDie(TestPath("data/qwen2.jinja")));
  ASSERT_TRUE(qwen2.ok());
  EXPECT_EQ(qwen2->value_or("(none)"), "You are a helpful assistant.");
  auto bare = ChatMLDefaultSystem(testing::ReadFileOrDie(TestPath("data/chatml.jinja")));
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->has_value());
  // Escapes in the literal are decoded.
  auto escaped = ChatMLDefaultSystem(R"({{ '<|im_start|>system\nIt\'s "x".\n<|im_end|>\n' }})");
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ(escaped->value_or("(none)"), "It's \"x\".\n");
}

TEST(ChatML, TemplatesWithOtherRulesAreNotTakenForChatML) {
  const std::string bare = testing::ReadFileOrDie(TestPath("data/chatml.jinja"));
  ASSERT_TRUE(IdentifyChatTemplate(bare).ok());
  // QwQ-style: past assistant turns lose their reasoning; rendering them whole would be wrong.
  const std::string strips = "{% set c = message['content'].split('</think>')[-1] %}" + bare;
  EXPECT_EQ(IdentifyChatTemplate(strips).status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(IdentifyChatTemplate("{{ bos_token }}" + bare).status().code(), StatusCode::kUnsupported);
  // Two different defaults: which one applies depends on logic this renderer does not run.
  const std::string two = "{{ '<|im_start|>system\\nA<|im_end|>\\n' }}{{ '<|im_start|>system\\nB<|im_end|>\\n' }}" + bare;
  EXPECT_EQ(IdentifyChatTemplate(two).status().code(), StatusCode::kUnsupported);
  // The per-message line must be ChatML's exactly (here content is trimmed first).
  std::string trimmed = bare;
  trimmed.replace(trimmed.find("message['content']"), 18, "message['content'] | trim");
  EXPECT_EQ(IdentifyChatTemplate(trimmed).status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace gorae::tokenizer
