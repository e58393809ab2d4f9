// GBNF grammars: parse errors name what is wrong; the matcher accepts exactly the sentences
// (also when a character is split across tokens); the trie-walked token mask equals checking
// every token one by one; end tokens are allowed only where the grammar can end.
#include <gtest/gtest.h>

#include <random>

#include "infer/grammar.h"

namespace gorae {
namespace {

std::shared_ptr<const Grammar> Parse(const std::string& text) {
  auto g = Grammar::Parse(text);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? *g : nullptr;
}

bool Matches(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  GrammarMatcher m(g);
  if (!text.empty()) {
    if (!m.Accepts(text)) return false;
    m.Advance(text);
  }
  return m.CanEnd();
}

const char* kJsonish = R"(
# a small JSON: objects of string keys to integers, strings or nested objects
root   ::= object
object ::= "{" ws ( pair ( "," ws pair )* )? "}"
pair   ::= string ws ":" ws value ws
value  ::= object | string | int
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ["\\nt] )* "\""
int    ::= "-"? ( "0" | [1-9] [0-9]{0,5} )
ws     ::= [ \t\n]{0,2}
)";

TEST(Grammar, MatchesExactlyTheSentences) {
  auto g = Parse(kJsonish);
  ASSERT_TRUE(g);
  for (const char* ok : {"{}", R"({"a":1})", R"({ "a" : -12, "b":"x\"y"})", R"({"k":{"n":{}}})", "{\"\xc3\xa9\":0}"}) {
    EXPECT_TRUE(Matches(g, ok)) << ok;
  }
  for (const char* bad : {"", "{", R"({"a":01})", R"({"a":1,})", R"({"a":1234567})", R"({"a" 1})", "{   }",
                          R"({"a":"x)", "[1]", "{\"\x01\":0}"}) {
    EXPECT_FALSE(Matches(g, bad)) << bad;
  }
  // A prefix is accepted but cannot end.
  GrammarMatcher m(g);
  ASSERT_TRUE(m.Accepts(R"({"a":)"));
  m.Advance(R"({"a":)");
  EXPECT_FALSE(m.CanEnd());
  EXPECT_FALSE(m.Accepts("}"));
  EXPECT_TRUE(m.Accepts("7}"));
}

TEST(Grammar, CharactersSplitAcrossTokens) {
  auto g = Parse(R"(root ::= "x" [^a]* "y")");
  ASSERT_TRUE(g);
  const std::string whale = "\xf0\x9f\x90\x8b";  // U+1F40B, four bytes
  GrammarMatcher m(g);
  m.Advance("x");
  ASSERT_TRUE(m.Accepts(whale.substr(0, 1)));
  m.Advance(whale.substr(0, 1));
  EXPECT_FALSE(m.CanEnd());                  // inside a character
  EXPECT_FALSE(m.Accepts("y"));              // not a continuation byte
  ASSERT_TRUE(m.Accepts(whale.substr(1, 2)));
  m.Advance(whale.substr(1, 2));
  ASSERT_TRUE(m.Accepts(whale.substr(3) + "y"));
  m.Advance(whale.substr(3) + "y");
  EXPECT_TRUE(m.CanEnd());
  // [^a] refuses 'a' whole, and a class of ASCII only refuses the lead byte of a longer character.
  auto ascii = Parse(R"(root ::= [a-z]+)");
  GrammarMatcher a(ascii);
  EXPECT_FALSE(a.Accepts("\xc3"));
  EXPECT_FALSE(a.Accepts("\xff"));
  // A lead byte whose shortest completion is overlong cannot pass for a small character.
  auto digits = Parse(R"(root ::= [0-9]+)");
  EXPECT_FALSE(GrammarMatcher(digits).Accepts("\xe0"));
  EXPECT_FALSE(GrammarMatcher(digits).Accepts("\xc1"));
  EXPECT_FALSE(GrammarMatcher(g).Accepts("x\xe0\x81"));  // E0 81 starts only overlong forms
  EXPECT_TRUE(GrammarMatcher(g).Accepts("x\xe0\xa0"));
  EXPECT_FALSE(GrammarMatcher(g).Accepts("x\xed\xae"));  // ED AE starts only surrogates
  EXPECT_TRUE(GrammarMatcher(g).Accepts("x\xed\x9f"));
}

TEST(Grammar, BoundedRepetition) {
  auto g = Parse(R"(root ::= "a"{2,4} "b"{3} ("c" | "d"){1,})");
  ASSERT_TRUE(g);
  EXPECT_TRUE(Matches(g, "aabbbc"));
  EXPECT_TRUE(Matches(g, "aaaabbbdcd"));
  EXPECT_FALSE(Matches(g, "abbbc"));
  EXPECT_FALSE(Matches(g, "aaaaabbbc"));
  EXPECT_FALSE(Matches(g, "aabbc"));
  EXPECT_FALSE(Matches(g, "aabbb"));
}

TEST(Grammar, ErrorsNameTheProblem) {
  auto error = [](const std::string& text) {
    auto g = Grammar::Parse(text);
    return g.ok() ? std::string("(parsed)") : g.status().message();
  };
  EXPECT_NE(error("root ::= thing").find("rule 'thing' is used but not defined"), std::string::npos);
  EXPECT_NE(error("start ::= \"a\"").find("no 'root' rule"), std::string::npos);
  EXPECT_NE(error("root ::= root \"a\" | \"b\"").find("left-recursive"), std::string::npos);
  EXPECT_NE(error("root ::= \"a\" root").find("can never match"), std::string::npos);
  EXPECT_NE(error("root ::= \"a").find("line 1: unterminated string"), std::string::npos);
  EXPECT_NE(error("root ::= \"a\"\nx ::= [b-a]").find("line 2"), std::string::npos);
  EXPECT_NE(error("root ::= \"a\"{3,2}").find("m <= n"), std::string::npos);
  EXPECT_NE(error("root ::= \"a\"\nroot ::= \"b\"").find("defined twice"), std::string::npos);
  EXPECT_NE(error("root ::= \"\\q\"").find("unknown escape"), std::string::npos);
}

// A vocabulary of random byte strings over the grammar's alphabet, some multi-byte pieces and
// an end token: the trie-walked mask must equal checking each token alone, at every state of a
// walk through the grammar.
TEST(Grammar, MaskEqualsCheckingEveryToken) {
  auto g = Parse(kJsonish);
  ASSERT_TRUE(g);
  std::mt19937 rng(5);
  const std::vector<std::string> pieces = {"{", "}", "\"", ":", ",", " ", "\n", "0", "1", "7", "-", "a", "b",
                                           "\\", "n", "\xc3", "\xa9", "\xc3\xa9", "{\"", "\":", "\"}", "12"};
  std::vector<std::string> bytes;
  std::vector<GrammarVocab::Kind> kinds;
  for (int i = 0; i < 400; ++i) {
    std::string t;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) t += pieces[rng() % pieces.size()];
    bytes.push_back(t);
    kinds.push_back(GrammarVocab::Kind::kText);
  }
  bytes.push_back("");  // the end token
  kinds.push_back(GrammarVocab::Kind::kEnd);
  bytes.push_back("<s>");
  kinds.push_back(GrammarVocab::Kind::kNever);
  auto vocab = std::make_shared<GrammarVocab>(bytes, kinds);
  GrammarConstraint c(g, vocab);
  GrammarMatcher m = c.NewMatcher();
  const std::string walk = "{\"ab\": {\"n\" :-17,\"\\n\xc3\xa9\":0}, \"b\":\"x\"}";
  int checked_states = 0;
  for (size_t i = 0; i <= walk.size(); ++i) {
    const auto mask = c.Mask(m);
    for (size_t id = 0; id < bytes.size(); ++id) {
      ASSERT_EQ((*mask)[id], c.Allows(m, static_cast<int>(id))) << "state after " << walk.substr(0, i) << ", token '"
                                                                 << bytes[id] << "'";
    }
    ++checked_states;
    if (i == walk.size()) break;
    ASSERT_TRUE(m.Accepts(walk.substr(i, 1))) << i;
    m.Advance(walk.substr(i, 1));
  }
  EXPECT_TRUE(m.CanEnd());
  EXPECT_TRUE((*c.Mask(m))[bytes.size() - 2]);   // the end token, at the end
  EXPECT_FALSE((*c.Mask(m))[bytes.size() - 1]);  // a special token, never
  EXPECT_GT(checked_states, 30);
  // The same state gives the cached mask.
  GrammarMatcher fresh = c.NewMatcher();
  EXPECT_EQ(c.Mask(fresh).get(), c.Mask(c.NewMatcher()).get());
}

}  // namespace
}  // namespace gorae
