// The constraints of response formats: a GBNF grammar and a JSON schema compile (or fail naming
// the field), and after a think block the reasoning runs free up to the first "</think>", then
// the answer must follow the format.
#include <gtest/gtest.h>

#include "server/structured_output.h"

namespace gorae::server {
namespace {

std::shared_ptr<const GrammarVocab> OneByteVocab() {
  std::vector<std::string> bytes;
  std::vector<GrammarVocab::Kind> kinds;
  for (int c = 1; c < 128; ++c) {
    bytes.emplace_back(1, static_cast<char>(c));
    kinds.push_back(GrammarVocab::Kind::kText);
  }
  return std::make_shared<GrammarVocab>(bytes, kinds);
}

bool Complete(const GrammarConstraint& c, const std::string& text) {
  GrammarMatcher m = c.NewMatcher();
  if (!m.Accepts(text)) return false;
  m.Advance(text);
  return m.CanEnd();
}

TEST(StructuredOutput, ReasoningThenTheFormat) {
  OutputFormat f;
  f.kind = OutputFormat::Kind::kGrammar;
  f.gbnf = R"(root ::= "{" [0-9]+ "}")";
  f.field = "grammar";
  auto c = ConstraintFor(f, /*after_reasoning=*/true, OneByteVocab());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(Complete(**c, "</think>{1}"));
  EXPECT_TRUE(Complete(**c, "let me think < a </thi </ </think>\n\n{42}"));
  EXPECT_TRUE(Complete(**c, "<<</think{0}</think>{7}"));  // a near miss of the tag is reasoning
  EXPECT_FALSE(Complete(**c, "{1}"));                      // the reasoning must be closed first
  EXPECT_FALSE(Complete(**c, "a</think>b</think>{1}"));     // the first closing tag ends it
  EXPECT_FALSE(Complete(**c, "a</think>{x}"));
  auto plain = ConstraintFor(f, /*after_reasoning=*/false, OneByteVocab());
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(Complete(**plain, "{12}"));
  EXPECT_FALSE(Complete(**plain, "</think>{12}"));
}

TEST(StructuredOutput, SchemasAndErrors) {
  OutputFormat f;
  f.kind = OutputFormat::Kind::kJsonSchema;
  f.field = "response_format.json_schema.schema";
  f.schema = {{"type", "object"},
              {"properties", {{"n", {{"type", "integer"}, {"minimum", 1}, {"maximum", 3}}}}},
              {"required", {"n"}}};
  auto c = ConstraintFor(f, false, OneByteVocab());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(Complete(**c, R"({"n":2})"));
  EXPECT_FALSE(Complete(**c, R"({"n":4})"));
  EXPECT_FALSE(Complete(**c, R"({})"));
  f.schema = {{"type", "string"}, {"pattern", "a+"}};
  auto bad = ConstraintFor(f, false, OneByteVocab());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(FieldOf(bad.status().message()).rfind("response_format.json_schema.schema", 0), 0u)
      << bad.status().message();
  OutputFormat g;
  g.kind = OutputFormat::Kind::kGrammar;
  g.field = "grammar";
  g.gbnf = "root ::= nothing";
  auto bad_grammar = ConstraintFor(g, false, OneByteVocab());
  ASSERT_FALSE(bad_grammar.ok());
  EXPECT_EQ(FieldOf(bad_grammar.status().message()), "grammar") << bad_grammar.status().message();
  OutputFormat j;
  j.kind = OutputFormat::Kind::kJsonObject;
  j.field = "response_format";
  auto obj = ConstraintFor(j, false, OneByteVocab());
  ASSERT_TRUE(obj.ok()) << obj.status().message();
  EXPECT_TRUE(Complete(**obj, R"({"a": [1, {"b": null}], "c": "d"})"));
  EXPECT_FALSE(Complete(**obj, R"([1])"));
}

}  // namespace
}  // namespace gorae::server
