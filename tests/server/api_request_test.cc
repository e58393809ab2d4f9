// Request parsing: wrong types and out-of-range values are refused with the field named.
#include <gtest/gtest.h>

#include "server/api_request.h"
#include "server/openai_format.h"

namespace gorae::server {
namespace {

using nlohmann::json;

std::string ChatError(const json& body) {
  auto r = ParseChatRequest(body);
  return r.ok() ? "" : r.status().message();
}

const json kMessages = json::array({{{"role", "user"}, {"content", "hi"}}});

TEST(ParseChatRequest, ReadsTheOpenAIFields) {
  json body = {{"model", "m"},        {"messages", kMessages}, {"temperature", 0.5}, {"top_p", 0.9},
               {"max_tokens", 7},     {"stop", "x"},           {"seed", 42},         {"n", 3},
               {"stream", true},      {"stream_options", {{"include_usage", true}}}};
  auto r = ParseChatRequest(body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(r->params.sampler.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r->params.sampler.top_p, 0.9f);
  EXPECT_EQ(*r->params.max_tokens, 7);
  EXPECT_EQ(r->params.stop, std::vector<std::string>{"x"});
  EXPECT_TRUE(r->params.has_seed);
  EXPECT_EQ(r->params.sampler.seed, 42u);
  EXPECT_EQ(r->params.n, 3);
  EXPECT_TRUE(r->params.stream);
  EXPECT_TRUE(r->params.include_usage);
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].role, "user");
  EXPECT_EQ(r->messages[0].content, "hi");
}

TEST(ParseChatRequest, ContentPartsAndRoles) {
  json body = {{"messages", json::array({{{"role", "developer"}, {"content", "be brief"}},
                                         {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "a"}},
                                                                                     {{"type", "text"}, {"text", "b"}}})}},
                                         {{"role", "assistant"}, {"content", nullptr}, {"reasoning_content", "r"}}})}};
  auto r = ParseChatRequest(body);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].content, "ab");
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(*r->messages[2].reasoning_content, "r");
}

TEST(ParseChatRequest, NamesTheBadField) {
  EXPECT_EQ(ChatError({{"messages", kMessages}, {"temperature", "hot"}}), "temperature: expected a number, got string");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"temperature", 3}})), "temperature");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"top_p", 0}})), "top_p");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"max_tokens", 0}})), "max_tokens");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"max_tokens", 1.5}})), "max_tokens");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"n", 17}})), "n");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"stream", "yes"}})), "stream");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"stop", json::array({"a", 1})}})), "stop[1]");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"seed", "1"}})), "seed");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"logprobs", 3}})), "logprobs");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"logprobs", true}, {"top_logprobs", 21}})), "top_logprobs");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"logprobs", true}, {"top_logprobs", -1}})), "top_logprobs");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"top_logprobs", 2}})), "top_logprobs");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"echo", true}})), "echo");
  EXPECT_EQ(FieldOf(ChatError({{"messages", kMessages}, {"presence_penalty", 0.5}})), "presence_penalty");
  EXPECT_EQ(FieldOf(ChatError({{"messages", "hi"}})), "messages");
  EXPECT_EQ(FieldOf(ChatError(json::object())), "messages");
  EXPECT_EQ(FieldOf(ChatError({{"messages", json::array()}})), "messages");
  EXPECT_EQ(FieldOf(ChatError({{"messages", json::array({{{"role", "robot"}, {"content", "x"}}})}})), "messages[0].role");
  EXPECT_EQ(FieldOf(ChatError({{"messages", json::array({{{"role", "user"}, {"content", 5}}})}})), "messages[0].content");
  EXPECT_EQ(FieldOf(ChatError({{"messages", json::array({{{"role", "user"},
                                                          {"content", json::array({{{"type", "image_url"}}})}}})}})),
            "messages[0].content[0].type");
}

TEST(ParseChatRequest, NeutralValuesOfUnsupportedFieldsAreAccepted) {
  auto r = ParseChatRequest({{"messages", kMessages}, {"logprobs", false}, {"presence_penalty", 0},
                             {"frequency_penalty", 0.0}, {"user", "u"}, {"response_format", {{"type", "text"}}}});
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST(ParseChatRequest, Logprobs) {
  auto none = ParseChatRequest({{"messages", kMessages}});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->params.logprobs, -1);
  auto plain = ParseChatRequest({{"messages", kMessages}, {"logprobs", true}});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->params.logprobs, 0);
  auto top = ParseChatRequest({{"messages", kMessages}, {"logprobs", true}, {"top_logprobs", 20}});
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->params.logprobs, 20);
}

TEST(ParseCompletionRequest, LogprobsAndEcho) {
  auto r = ParseCompletionRequest({{"prompt", "abc"}, {"logprobs", 5}, {"echo", true}, {"max_tokens", 0}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->params.logprobs, 5);
  EXPECT_TRUE(r->params.echo);
  EXPECT_EQ(*r->params.max_tokens, 0);
  auto error = [](json body) { return FieldOf(ParseCompletionRequest(body).status().message()); };
  EXPECT_EQ(error({{"prompt", "a"}, {"max_tokens", 0}}), "max_tokens");  // 0 needs echo
  EXPECT_EQ(error({{"prompt", "a"}, {"logprobs", true}}), "logprobs");   // the legacy field is a count
  EXPECT_EQ(error({{"prompt", "a"}, {"logprobs", 21}}), "logprobs");
  EXPECT_EQ(error({{"prompt", "a"}, {"top_logprobs", 2}}), "top_logprobs");
  EXPECT_EQ(error({{"prompt", "a"}, {"echo", "yes"}}), "echo");
}

TEST(ParseCompletionRequest, PromptForms) {
  auto one = ParseCompletionRequest({{"prompt", "abc"}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->prompts.size(), 1u);
  auto ids = ParseCompletionRequest({{"prompt", {1, 2, 3}}});
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->prompts[0].is_ids);
  EXPECT_EQ(ids->prompts[0].ids, (std::vector<int>{1, 2, 3}));
  auto many = ParseCompletionRequest({{"prompt", {"a", "b"}}, {"n", 2}});
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->prompts.size(), 2u);
  EXPECT_EQ(FieldOf(ParseCompletionRequest({{"prompt", 5}}).status().message()), "prompt");
  EXPECT_EQ(FieldOf(ParseCompletionRequest({{"prompt", {1, -2}}}).status().message()), "prompt[1]");
  EXPECT_EQ(FieldOf(ParseCompletionRequest({{"prompt", {"a", 2.5}}}).status().message()), "prompt[1]");
}

TEST(OpenAIFormat, ErrorShape) {
  ApiError e = BadRequest(InvalidArgument("max_tokens: the prompt (5 tokens) plus max_tokens (9) is 14 tokens, more than the context of 8"));
  const json j = e.ToJson();
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(j["error"]["param"], "max_tokens");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["code"], "context_length_exceeded");
  EXPECT_TRUE(BadRequest(InvalidArgument("no field here")).ToJson()["error"]["param"].is_null());
}

}  // namespace
}  // namespace gorae::server
