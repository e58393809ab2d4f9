// Ollama request bodies: options map onto the sampler (with Ollama's names in the errors),
// num_predict -1/-2 mean "up to the context", think, raw and format are read, and what gorae
// cannot do (tools on generate, images, suffix) is refused naming the field.
#include <gtest/gtest.h>

#include "server/ollama_api.h"

namespace gorae::server {
namespace {

using nlohmann::json;

const json kMessages = json::array({{{"role", "user"}, {"content", "hi"}}});

std::string ChatError(const json& body) { return ParseOllamaChat(body).status().message(); }

TEST(OllamaRequest, OptionsReachTheSampler) {
  auto r = ParseOllamaChat({{"model", "m"},
                            {"messages", kMessages},
                            {"options", {{"temperature", 0.5}, {"top_k", 7}, {"repeat_penalty", 1.2}, {"seed", 9},
                                         {"num_predict", 33}, {"stop", {"x"}}, {"num_ctx", 64}, {"num_thread", 4}}},
                            {"think", true}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(r->params.sampler.temperature, 0.5f);
  EXPECT_EQ(r->params.sampler.top_k, 7);
  EXPECT_FLOAT_EQ(r->params.sampler.repetition_penalty, 1.2f);
  EXPECT_TRUE(r->params.has_seed);
  EXPECT_EQ(*r->params.max_tokens, 33);
  EXPECT_EQ(r->params.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(*r->num_ctx, 64);
  EXPECT_TRUE(r->params.stream);  // Ollama streams unless told not to
  EXPECT_EQ(*r->think, true);
  for (int unlimited : {-1, -2}) {
    auto u = ParseOllamaChat({{"messages", kMessages}, {"options", {{"num_predict", unlimited}}}, {"stream", false}});
    ASSERT_TRUE(u.ok());
    EXPECT_FALSE(u->params.max_tokens.has_value());
    EXPECT_FALSE(u->params.stream);
  }
}

TEST(OllamaRequest, GenerateBuildsMessagesUnlessRaw) {
  auto g = ParseOllamaGenerate({{"prompt", "p"}, {"system", "s"}});
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->messages.size(), 2u);
  EXPECT_EQ(g->messages[0].role, "system");
  EXPECT_EQ(g->messages[1].content, "p");
  auto raw = ParseOllamaGenerate({{"prompt", "p"}, {"raw", true}});
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(raw->raw);
  EXPECT_TRUE(raw->messages.empty());
  EXPECT_EQ(raw->prompt, "p");
}

TEST(OllamaRequest, ErrorsNameTheField) {
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"options", {{"temperature", "hot"}}}})), "options.temperature");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"options", {{"repeat_penalty", -1}}}})),
            "options.repeat_penalty");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"options", {{"num_predict", 0}}}})), "options.num_predict");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"options", {{"stop", {"a", 2}}}}})), "options.stop[1]");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"options", 3}})), "options");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"format", "yaml"}})), "format");
  EXPECT_EQ(ParseOllamaChat({{"messages", kMessages}, {"format", "json"}})->params.format.kind,
            OutputFormat::Kind::kJsonObject);
  EXPECT_EQ(ParseOllamaChat({{"messages", kMessages}, {"format", {{"type", "object"}}}})->params.format.kind,
            OutputFormat::Kind::kJsonSchema);
  EXPECT_EQ(FieldOf(ParseOllamaGenerate({{"prompt", "a"}, {"tools", {{{"type", "function"}}}}}).status().message()),
            "tools");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"think", 3}})), "think");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"stream", "yes"}})), "stream");
  EXPECT_EQ(FieldOf(ChatError({{"messages", json::array({{{"role", "user"}, {"images", {"x"}}}})}})),
            "messages[0].images");
  EXPECT_EQ(FieldOf(ChatError(json::object())), "messages");
  EXPECT_EQ(FieldOf(ParseOllamaGenerate({{"prompt", 5}}).status().message()), "prompt");
  EXPECT_EQ(FieldOf(ParseOllamaGenerate({{"prompt", "a"}, {"suffix", "b"}}).status().message()), "suffix");
  EXPECT_EQ(FieldOf(ParseOllamaShow(json::object()).status().message()), "model");
  // Neutral values of what is refused are fine (clients send them).
  EXPECT_TRUE(ParseOllamaChat({{"messages", kMessages}, {"format", ""}, {"tools", json::array()}}).ok());
}

}  // namespace
}  // namespace gorae::server
