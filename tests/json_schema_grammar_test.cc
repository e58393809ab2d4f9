// JsonSchemaToGbnf: exact text for a few small schemas, and, for the rest, documents matched
// against the grammar by a small test-only GBNF matcher (the real parser lives elsewhere): valid
// documents must match, invalid ones must not.
#include "infer/json_schema_grammar.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <climits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace gorae {
namespace {

// ---- A minimal GBNF matcher (the subset JsonSchemaToGbnf emits) -----------------------------
// Parses rules into a tree and computes, for a node and a start position, the set of positions
// where a match can end (memoised), so ambiguity needs no backtracking. Throws on syntax it does
// not know, which makes the tests also check that the output stays inside the subset.

std::u32string Utf8ToCodePoints(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (s.at(i + k) & 0x3F);
    out += cp;
    i += n;
  }
  return out;
}

struct Node {
  enum Kind { kSeq, kAlt, kLit, kClass, kAny, kRef, kRep } kind;
  std::vector<std::unique_ptr<Node>> kids;
  std::u32string lit;
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;
  std::string ref;
  size_t min = 0, max = SIZE_MAX;  // kRep; SIZE_MAX: unbounded
};

class Grammar {
 public:
  explicit Grammar(const std::string& text) : src_(Utf8ToCodePoints(text)) {
    while (true) {
      SkipSpace(true);
      if (pos_ >= src_.size()) break;
      const std::string name = Name();
      if (name.empty()) Fail("rule name");
      SkipSpace(false);
      if (src_.compare(pos_, 3, U"::=") != 0) Fail("::=");
      pos_ += 3;
      if (rules_.count(name)) Fail("duplicate rule " + name);
      rules_[name] = Alternatives(false);
      SkipSpace(false);
      if (pos_ < src_.size() && src_[pos_] != '\n') Fail("end of line");
    }
    for (const std::string& r : refs_) {
      if (!rules_.count(r)) throw std::runtime_error("undefined rule " + r);
    }
    if (!rules_.count("root")) throw std::runtime_error("no root rule");
  }

  bool Matches(const std::string& doc) {
    input_ = Utf8ToCodePoints(doc);
    memo_.clear();
    return Ends(rules_["root"].get(), 0).count(input_.size()) > 0;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) {
    throw std::runtime_error("GBNF: expected " + what + " at offset " + std::to_string(pos_));
  }
  void SkipSpace(bool newlines) {
    while (pos_ < src_.size()) {
      const char32_t c = src_[pos_];
      if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else {
        break;
      }
    }
  }
  static bool NameChar(char32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  }
  std::string Name() {
    std::string n;
    while (pos_ < src_.size() && NameChar(src_[pos_])) n += static_cast<char>(src_[pos_++]);
    return n;
  }
  char32_t Hex(int digits) {
    char32_t v = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      const char32_t c = pos_ < src_.size() ? src_[pos_] : 0;
      const int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
      if (d < 0) Fail("hex digit");
      v = v * 16 + d;
    }
    return v;
  }
  // One character of a literal or class, with the dialect's escapes only.
  char32_t Char() {
    if (pos_ >= src_.size()) Fail("character");
    const char32_t c = src_[pos_++];
    if (c != '\\') return c;
    const char32_t e = pos_ < src_.size() ? src_[pos_++] : 0;
    switch (e) {
      case '"':
        return '"';
      case '\\':
        return '\\';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'x':
        return Hex(2);
      case 'u':
        return Hex(4);
      default:
        Fail("a known escape");
    }
  }
  std::unique_ptr<Node> Alternatives(bool nested) {
    auto alt = std::make_unique<Node>();
    alt->kind = Node::kAlt;
    alt->kids.push_back(Sequence(nested));
    while (pos_ < src_.size() && src_[pos_] == '|') {
      ++pos_;
      alt->kids.push_back(Sequence(nested));
    }
    return alt;
  }
  std::unique_ptr<Node> Sequence(bool nested) {
    auto seq = std::make_unique<Node>();
    seq->kind = Node::kSeq;
    while (true) {
      SkipSpace(nested);
      if (pos_ >= src_.size()) break;
      const char32_t c = src_[pos_];
      if (c == '|' || c == ')' || c == '\n') break;
      std::unique_ptr<Node> atom = Atom();
      while (pos_ < src_.size()) {
        const char32_t p = src_[pos_];
        size_t lo, hi;
        if (p == '*') {
          lo = 0, hi = SIZE_MAX;
        } else if (p == '+') {
          lo = 1, hi = SIZE_MAX;
        } else if (p == '?') {
          lo = 0, hi = 1;
        } else if (p == '{') {
          ++pos_;
          lo = Number();
          hi = lo;
          if (src_[pos_] == ',') {
            ++pos_;
            hi = src_[pos_] == '}' ? SIZE_MAX : Number();
          }
          if (src_[pos_] != '}') Fail("}");
        } else {
          break;
        }
        ++pos_;
        auto rep = std::make_unique<Node>();
        rep->kind = Node::kRep;
        rep->min = lo;
        rep->max = hi;
        rep->kids.push_back(std::move(atom));
        atom = std::move(rep);
      }
      seq->kids.push_back(std::move(atom));
    }
    return seq;
  }
  size_t Number() {
    size_t n = 0, start = pos_;
    while (pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '9')
      n = n * 10 + (src_[pos_++] - '0');
    if (pos_ == start) Fail("count");
    return n;
  }
  std::unique_ptr<Node> Atom() {
    auto n = std::make_unique<Node>();
    const char32_t c = src_[pos_];
    if (c == '"') {
      ++pos_;
      n->kind = Node::kLit;
      while (pos_ < src_.size() && src_[pos_] != '"') n->lit += Char();
      if (pos_ >= src_.size()) Fail("closing quote");
      ++pos_;
    } else if (c == '[') {
      ++pos_;
      n->kind = Node::kClass;
      if (pos_ < src_.size() && src_[pos_] == '^') n->negated = true, ++pos_;
      while (pos_ < src_.size() && src_[pos_] != ']') {
        const char32_t lo = Char();
        char32_t hi = lo;
        if (pos_ + 1 < src_.size() && src_[pos_] == '-' && src_[pos_ + 1] != ']') {
          ++pos_;
          hi = Char();
        }
        n->ranges.push_back({lo, hi});
      }
      if (pos_ >= src_.size()) Fail("]");
      ++pos_;
    } else if (c == '.') {
      ++pos_;
      n->kind = Node::kAny;
    } else if (c == '(') {
      ++pos_;
      n = Alternatives(true);
      SkipSpace(true);
      if (pos_ >= src_.size() || src_[pos_] != ')') Fail(")");
      ++pos_;
    } else if (NameChar(c)) {
      n->kind = Node::kRef;
      n->ref = Name();
      refs_.insert(n->ref);
    } else {
      Fail("an atom");
    }
    return n;
  }

  using Set = std::set<size_t>;
  Set Ends(const Node* n, size_t pos) {
    const auto key = std::make_pair(n, pos);
    if (auto it = memo_.find(key); it != memo_.end()) {
      if (!it->second.second)
        throw std::runtime_error("left recursion in rule reached at " + std::to_string(pos));
      return it->second.first;
    }
    memo_[key] = {{}, false};
    Set out;
    switch (n->kind) {
      case Node::kLit:
        if (input_.compare(pos, n->lit.size(), n->lit) == 0 &&
            pos + n->lit.size() <= input_.size()) {
          out.insert(pos + n->lit.size());
        }
        break;
      case Node::kClass:
        if (pos < input_.size()) {
          bool in = false;
          for (auto [lo, hi] : n->ranges) in |= input_[pos] >= lo && input_[pos] <= hi;
          if (in != n->negated) out.insert(pos + 1);
        }
        break;
      case Node::kAny:
        if (pos < input_.size()) out.insert(pos + 1);
        break;
      case Node::kRef:
        out = Ends(rules_.at(n->ref).get(), pos);
        break;
      case Node::kAlt:
        for (const auto& k : n->kids) {
          Set s = Ends(k.get(), pos);
          out.insert(s.begin(), s.end());
        }
        break;
      case Node::kSeq: {
        Set cur = {pos};
        for (const auto& k : n->kids) {
          Set next;
          for (size_t p : cur) {
            Set s = Ends(k.get(), p);
            next.insert(s.begin(), s.end());
          }
          cur = std::move(next);
        }
        out = std::move(cur);
        break;
      }
      case Node::kRep: {
        // cur: ends after exactly `count` repetitions; stop when a round adds nothing new.
        Set cur = {pos};
        for (size_t count = 0;; ++count) {
          if (count >= n->min) {
            const size_t before = out.size();
            out.insert(cur.begin(), cur.end());
            if (count > n->min && out.size() == before) break;
          }
          if (count == n->max || cur.empty()) break;
          Set next;
          for (size_t p : cur) {
            Set s = Ends(n->kids[0].get(), p);
            next.insert(s.begin(), s.end());
          }
          cur = std::move(next);
        }
        break;
      }
    }
    memo_[key] = {out, true};
    return out;
  }

  std::u32string src_;
  size_t pos_ = 0;
  std::map<std::string, std::unique_ptr<Node>> rules_;
  std::set<std::string> refs_;
  std::u32string input_;
  std::map<std::pair<const Node*, size_t>, std::pair<Set, bool>> memo_;  // bool: finished
};

// ---- Helpers ----------------------------------------------------------------------------------

std::string Compile(const std::string& schema) {
  Result<std::string> g = JsonSchemaToGbnf(nlohmann::ordered_json::parse(schema));
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\nschema: " << schema;
  return g.ok() ? g.value() : "";
}

// Every `valid` document must match and every `invalid` one must not. Valid ones are also checked
// to be JSON at all, so that a typo in a test cannot pass as "matches".
void Check(const std::string& schema, const std::vector<std::string>& valid,
           const std::vector<std::string>& invalid) {
  const std::string text = Compile(schema);
  ASSERT_FALSE(text.empty());
  Grammar g(text);
  for (const std::string& doc : valid) {
    EXPECT_TRUE(nlohmann::json::accept(doc)) << "not JSON: " << doc;
    EXPECT_TRUE(g.Matches(doc)) << "should match: " << doc << "\nschema: " << schema << "\n"
                                << text;
  }
  for (const std::string& doc : invalid) {
    EXPECT_FALSE(g.Matches(doc)) << "should not match: " << doc << "\nschema: " << schema << "\n"
                                 << text;
  }
}

std::string Error(const std::string& schema) {
  Result<std::string> g = JsonSchemaToGbnf(nlohmann::ordered_json::parse(schema));
  EXPECT_FALSE(g.ok()) << "schema: " << schema;
  if (g.ok()) return "";
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  return g.status().message();
}

// ---- Exact text -------------------------------------------------------------------------------

TEST(JsonSchemaGrammarTest, ExactTextOfSmallSchemas) {
  EXPECT_EQ(Compile(R"({"type": "string", "title": "Name"})"),
            "root ::= string\n"
            "string ::= \"\\\"\" char* \"\\\"\"\n"
            "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )\n");
  EXPECT_EQ(Compile(R"({"type": "integer", "minimum": 1, "maximum": 12})"),
            "root ::= [1-9] | \"1\" [0-2]\n");
  EXPECT_EQ(Compile(R"({"enum": ["a", 1, null]})"), "root ::= \"\\\"a\\\"\" | \"1\" | \"null\"\n");
  EXPECT_EQ(
      Compile(R"({"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"],
                        "additionalProperties": false})"),
      "root ::= \"{\" ws \"\\\"a\\\"\" ws \":\" ws boolean ws \"}\"\n"
      "boolean ::= \"true\" | \"false\"\n"
      "ws ::= ( \" \" | \"\\n\" [ \\t]{0,16} )?\n");
  EXPECT_EQ(
      Compile(R"({"type": "array", "items": {"type": "null"}, "minItems": 1, "maxItems": 3})"),
      "root ::= \"[\" ws null ( ws \",\" ws null ){0,2} ws \"]\"\n"
      "null ::= \"null\"\n"
      "ws ::= ( \" \" | \"\\n\" [ \\t]{0,16} )?\n");
}

TEST(JsonSchemaGrammarTest, AnyJsonObject) {
  const std::string text = AnyJsonObjectGbnf();
  EXPECT_EQ(text.rfind("root ::= object\n", 0), 0u) << text;
  Grammar g(text);
  for (const char* doc :
       {"{}", "{ }", R"({"a":1})", R"({"a": [1, 2.5e-3, "x", null, true, {"b": {}}]})",
        "{\n  \"a\": \"\\u00e9\\n\"\n}"}) {
    EXPECT_TRUE(g.Matches(doc)) << doc;
  }
  for (const char* doc : {"[]", "\"x\"", "1", "{", R"({"a":})", R"({"a":1,})", R"({a:1})", "{} ",
                          R"({"a":01})", R"({"a":"\x"})", "{\"a\":\"\n\"}"}) {
    EXPECT_FALSE(g.Matches(doc)) << doc;
  }
}

// ---- Objects ----------------------------------------------------------------------------------

TEST(JsonSchemaGrammarTest, FlatObjectRequiredAndOptional) {
  const std::string schema = R"({"type": "object", "properties": {
      "name": {"type": "string"}, "age": {"type": "integer"}, "email": {"type": "string"}},
      "required": ["name"], "additionalProperties": false})";
  Check(schema,
        {R"({"name":"a"})", R"({"name":"a","age":3})", R"({"name":"a","email":"x@y"})",
         R"({"name":"a","age":-3,"email":"x"})", R"({ "name" : "a" , "age" : 3 })",
         "{\n  \"name\": \"a\",\n  \"age\": 3\n}"},
        {"{}", R"({"age":3})", R"({"name":1})", R"({"name":"a","extra":1})",
         R"({"name":"a","name":"b"})", R"({"name":"a","age":3.5})", R"({"name":"a",})",
         R"({,"name":"a"})", R"({"name":"a" "age":3})", R"({"name":"a","age":3,"age":3})",
         R"(["name"])"});
  // The required one in the middle: optional members before it carry the comma after them.
  Check(R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"},
           "c": {"type": "integer"}}, "required": ["b"]})",
        {R"({"b":2})", R"({"a":1,"b":2})", R"({"b":2,"c":3})", R"({"a":1,"b":2,"c":3})"},
        {"{}", R"({"a":1})", R"({"a":1,"c":3})", R"({"a":1,,"b":2})", R"({"a":1"b":2})"});
}

TEST(JsonSchemaGrammarTest, AllOptionalProperties) {
  Check(
      R"({"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}}})",
      {"{}", R"({"a":1})", R"({"b":1})", R"({"c":1})", R"({"a":1,"b":2})", R"({"a":1,"c":3})",
       R"({"b":2,"c":3})", R"({"a":1,"b":2,"c":3})", "{ }"},
      // {"c":1,"a":2} is valid JSON Schema-wise but not generated (fixed order).
      {R"({,})", R"({"a":1,})", R"({,"a":1})", R"({"a":1,"a":1})", R"({"c":1,"a":2})", R"({"d":1})",
       "[]", "1"});
}

TEST(JsonSchemaGrammarTest, PropertyOrderFollowsTheJsonType) {
  const char* schema = R"({"properties": {"z": {"type": "integer"}, "a": {"type": "integer"}},
                           "required": ["z", "a"]})";
  // ordered_json keeps the schema's order; nlohmann::json iterates keys sorted.
  Grammar ordered(JsonSchemaToGbnf(nlohmann::ordered_json::parse(schema)).value());
  EXPECT_TRUE(ordered.Matches(R"({"z":1,"a":2})"));
  EXPECT_FALSE(ordered.Matches(R"({"a":2,"z":1})"));
  Grammar sorted(JsonSchemaToGbnf(nlohmann::json::parse(schema)).value());
  EXPECT_TRUE(sorted.Matches(R"({"a":2,"z":1})"));
  EXPECT_FALSE(sorted.Matches(R"({"z":1,"a":2})"));
}

TEST(JsonSchemaGrammarTest, PropertyNamesAreJsonEscaped) {
  Check(R"({"properties": {"a\"b": {"const": 1}, "c\\d": {"const": 2}, "new\nline": {"const": 3},
           "é ü": {"const": 4}, "x-y.z": {"const": 5}}, "required": ["a\"b", "c\\d", "new\nline", "é ü", "x-y.z"]})",
        {R"({"a\"b":1,"c\\d":2,"new\nline":3,"é ü":4,"x-y.z":5})"},
        {R"({"ab":1,"c\\d":2,"new\nline":3,"é ü":4,"x-y.z":5})",
         R"({"a\"b":1,"c\d":2,"new\nline":3,"é ü":4,"x-y.z":5})"});
}

TEST(JsonSchemaGrammarTest, AdditionalProperties) {
  Check(R"({"type": "object", "additionalProperties": {"type": "integer"}})",
        {"{}", R"({"a":1})", R"({"a":1,"b":-2})"}, {R"({"a":"x"})", R"({"a":1,"b":null})", "[]"});
  Check(R"({"type": "object"})", {"{}", R"({"a":[1,{"b":null}]})"}, {"[]", "null"});
  Check(R"({"type": "object", "additionalProperties": false})", {"{}", "{ }"}, {R"({"a":1})"});
  // Required keys without a property schema take additionalProperties' schema.
  Check(R"({"type": "object", "required": ["k"], "additionalProperties": {"type": "string"}})",
        {R"({"k":"v"})"}, {"{}", R"({"k":1})"});
  // With properties, extra keys are never generated, whatever additionalProperties says.
  Check(R"({"properties": {"a": {"type": "integer"}}, "additionalProperties": true})",
        {"{}", R"({"a":1})"}, {R"({"b":1})"});
  EXPECT_EQ(Error(R"({"type": "object", "required": ["k"], "additionalProperties": false})"),
            "schema.required: 'k' is not allowed by additionalProperties false");
}

// ---- $ref and recursion ---------------------------------------------------------------------

TEST(JsonSchemaGrammarTest, RecursiveDefs) {
  const char* schema = R"({"$defs": {"Node": {"type": "object", "properties": {
      "value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
      "required": ["value"]}}, "$ref": "#/$defs/Node"})";
  Check(
      schema,
      {R"({"value":1})", R"({"value":1,"children":[]})",
       R"({"value":1,"children":[{"value":2},{"value":3,"children":[{"value":4,"children":[]}]}]})"},
      {R"({"children":[]})", R"({"value":1,"children":[{}]})",
       R"({"value":1,"children":[{"value":"x"}]})", R"({"value":1,"children":{"value":2}})"});
  // definitions (draft 7) and "#" itself.
  Check(R"({"definitions": {"list": {"anyOf": [{"type": "null"},
           {"type": "array", "prefixItems": [{"type": "integer"}, {"$ref": "#/definitions/list"}], "minItems": 2, "items": false}]}},
           "$ref": "#/definitions/list"})",
        {"null", "[1,null]", "[1,[2,[3,null]]]"}, {"[]", "[1]", "[1,[2]]", "[1,null,3]"});
  Check(R"({"type": "object", "properties": {"next": {"$ref": "#"}}})",
        {"{}", R"({"next":{}})", R"({"next":{"next":{}}})"}, {R"({"next":null})"});
}

TEST(JsonSchemaGrammarTest, RefErrors) {
  EXPECT_EQ(Error(R"({"$ref": "#/x"})"), "schema.$ref: '#/x' not found");
  EXPECT_EQ(Error(R"({"properties": {"a": {"$ref": "#/$defs/Missing"}}})"),
            "schema.properties.a.$ref: '#/$defs/Missing' not found");
  EXPECT_EQ(Error(R"({"$ref": "https://example.com/s.json"})"),
            "schema.$ref: 'https://example.com/s.json' not supported (only references inside the "
            "schema, '#/...')");
  // Errors inside a definition name the definition's place.
  EXPECT_EQ(Error(R"({"$defs": {"A": {"type": "string", "pattern": "^a"}}, "$ref": "#/$defs/A"})"),
            "schema.$defs.A.pattern: not supported");
  // Cycles that produce no token first would make a left-recursive grammar.
  EXPECT_EQ(Error(R"({"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"})"),
            "schema.$defs.A.$ref: '#/$defs/A' refers back to itself before any JSON token");
  EXPECT_EQ(Error(R"({"anyOf": [{"$ref": "#"}, {"type": "null"}]})"),
            "schema.anyOf.0.$ref: '#' refers back to itself before any JSON token");
  EXPECT_EQ(Error(R"({"$ref": "#/$defs/A", "type": "object", "$defs": {"A": {}}})"),
            "schema.type: not supported alongside $ref");
}

// ---- Arrays -----------------------------------------------------------------------------------

TEST(JsonSchemaGrammarTest, ArrayCounts) {
  Check(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4})",
        {"[1,2]", "[1,2,3]", "[1,2,3,4]", "[ 1 , 2 ]", "[\n  1,\n  2\n]"},
        {"[]", "[1]", "[1,2,3,4,5]", R"([1,"a"])", "[1,2,]", "[1 2]"});
  Check(R"({"type": "array", "maxItems": 1})", {"[]", "[null]", R"([{"a":[]}])"}, {"[1,2]"});
  Check(R"({"type": "array", "maxItems": 0})", {"[]"}, {"[1]"});
  Check(R"({"type": "array", "minItems": 3, "items": {"type": "boolean"}})",
        {"[true,false,true]", "[true,true,true,true,true,true]"}, {"[true,true]", "[]"});
  Check(R"({"type": "array", "items": {"type": "string"}})", {"[]", R"(["a"])", R"(["a","b"])"},
        {"[1]"});
}

TEST(JsonSchemaGrammarTest, Tuples) {
  Check(
      R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})",
      {"[]", R"(["a"])", R"(["a",1])"}, {R"(["a",1,2])", "[1]", R"(["a","b"])"});
  Check(
      R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2})",
      {R"(["a",1])", R"(["a",1,null,{}])"}, {R"(["a"])", "[]"});
  Check(
      R"({"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}, "maxItems": 3})",
      {"[]", R"(["a"])", R"(["a",1,2])"}, {R"(["a",1,2,3])", R"(["a","b"])"});
  // Draft 7: array-valued items with additionalItems.
  Check(R"({"type": "array", "items": [{"type": "null"}], "additionalItems": {"type": "boolean"}})",
        {"[]", "[null]", "[null,true,false]"}, {"[true]", "[null,null]"});
  EXPECT_EQ(Error(R"({"type": "array", "prefixItems": [{}], "items": false, "minItems": 2})"),
            "schema.minItems: more than the array may hold");
}

// ---- Enum, const, anyOf, allOf --------------------------------------------------------------

TEST(JsonSchemaGrammarTest, EnumsOfMixedValues) {
  Check(R"({"enum": ["red", 1, 2.5, true, null, {"a": [1, 2]}, [1, "x"], "quo\"te", "é\n"]})",
        {R"("red")", "1", "2.5", "true", "null", R"({"a":[1,2]})", R"([1,"x"])", R"("quo\"te")",
         R"("é\n")"},
        {R"("blue")", "2", "false", R"({"a":[1]})", R"("red" )", R"("quo"te")", "red"});
  Check(R"({"type": "string", "enum": ["a", 1, "b"]})", {R"("a")", R"("b")"}, {"1"});
  Check(R"({"const": {"k": "v"}})", {R"({"k":"v"})"}, {R"({"k":"w"})"});
  Check(R"({"enum": ["a", "b"], "const": "b"})", {R"("b")"}, {R"("a")"});
  EXPECT_EQ(Error(R"({"type": "integer", "enum": ["a"]})"),
            "schema.enum: no value is allowed (type, enum and const disagree)");
  EXPECT_EQ(Error(R"({"enum": ["abc"], "maxLength": 2})"),
            "schema.maxLength: not supported alongside enum");
}

TEST(JsonSchemaGrammarTest, AnyOfOneOfAndTypeLists) {
  Check(R"({"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer", "minimum": 0}]})",
        {R"("abc")", R"("")", "5", "0"}, {R"("abcd")", "-1", "null", "1.5"});
  Check(
      R"({"oneOf": [{"const": "x"}, {"type": "object", "properties": {"k": {"type": "null"}}, "required": ["k"]}]})",
      {R"("x")", R"({"k":null})"}, {R"("y")", "{}"});
  Check(R"({"type": ["string", "null"], "maxLength": 1})", {R"("a")", "null"}, {R"("ab")", "1"});
  Check(R"({"anyOf": [{"type": "integer"}, false]})", {"1"}, {"null"});
  EXPECT_EQ(Error(R"({"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]})"),
            "schema.type: not supported alongside anyOf");
}

TEST(JsonSchemaGrammarTest, AllOf) {
  Check(R"({"allOf": [{"type": "integer", "maximum": 3}]})", {"3", "-7"}, {"4"});
  // Base plus extra fields, through a $ref, merged into one object.
  Check(
      R"({"$defs": {"Base": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}},
           "allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]})",
      {R"({"a":"x","b":1})"}, {R"({"b":1})", R"({"a":"x"})", R"({"a":1,"b":1})"});
  EXPECT_EQ(Error(R"({"allOf": [{"type": "string"}, {"maxLength": 3}]})"),
            "schema.allOf.0.type: allOf can only combine object schemas");
  EXPECT_EQ(
      Error(
          R"({"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"a": {"type": "integer"}}}]})"),
      "schema.allOf.1.properties.a: defined differently by two allOf parts");
  EXPECT_EQ(
      Error(
          R"({"allOf": [{"properties": {"a": {}}, "additionalProperties": false}, {"properties": {"b": {}}}]})"),
      "schema.allOf.0.additionalProperties: not supported inside an allOf of several schemas");
}

// ---- Strings ----------------------------------------------------------------------------------

TEST(JsonSchemaGrammarTest, StringLengths) {
  Check(R"({"type": "string", "minLength": 2, "maxLength": 4})",
        {R"("ab")", R"("abcd")", R"("a\"bc")", R"("\u00e9xyz")", R"("日本語")", R"("😀😀")",
         R"("\\\n")"},
        {R"("a")", R"("abcde")", R"("")", "\"a\tb\"", R"("a\qb")", R"("\u00e")", R"("ab)", "ab"});
  Check(R"({"type": "string", "maxLength": 0})", {R"("")"}, {R"("a")"});
  Check(R"({"type": "string", "minLength": 1})", {R"("a")", R"("abcdefghijklmnop")"}, {R"("")"});
  EXPECT_EQ(Error(R"({"type": "string", "minLength": 3, "maxLength": 2})"),
            "schema.minLength: more than maxLength");
  EXPECT_EQ(Error(R"({"type": "string", "minLength": -1})"),
            "schema.minLength: expected a non-negative integer");
  // Counts become {m,n} repetitions; the grammar engine takes counts up to 1000.
  EXPECT_EQ(Error(R"({"type": "string", "maxLength": 5000})"),
            "schema.maxLength: more than 1000 not supported");
  EXPECT_EQ(Error(R"({"type": "array", "minItems": 1001})"),
            "schema.minItems: more than 1000 not supported");
}

TEST(JsonSchemaGrammarTest, StringFormats) {
  Check(R"({"type": "string", "format": "date"})",
        {R"("2024-02-29")", R"("2000-02-29")", R"("2023-12-31")", R"("2023-04-30")",
         R"("1999-01-01")", R"("2023-02-28")"},
        {R"("2023-02-29")", R"("1900-02-29")", R"("2023-04-31")", R"("2023-13-01")",
         R"("2023-00-10")", R"("2023-01-00")", R"("2023-1-01")", R"("20230101")", "2023-01-01"});
  Check(R"({"type": "string", "format": "time"})", {R"("23:59:59Z")", R"("00:00:00.5+05:30")"},
        {R"("24:00:00Z")", R"("12:60:00Z")", R"("12:00:00")", R"("12:00Z")"});
  Check(R"({"type": "string", "format": "date-time"})",
        {R"("2024-01-02T03:04:05Z")", R"("2024-01-02T03:04:05.123-08:00")"},
        {R"("2024-01-02 03:04:05Z")", R"("2024-01-02T24:00:00Z")", R"("2024-01-02")"});
  Check(R"({"type": "string", "format": "uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"},
        {R"("123e4567e89b12d3a456426614174000")", R"("123e4567-e89b-12d3-a456-42661417400g")"});
  EXPECT_EQ(Error(R"({"type": "string", "format": "email"})"),
            "schema.format: \"email\" not supported");
  EXPECT_EQ(Error(R"({"type": "string", "format": "date", "maxLength": 20})"),
            "schema.maxLength: not supported together with format");
}

// ---- Numbers ----------------------------------------------------------------------------------

TEST(JsonSchemaGrammarTest, IntegerRangesAreExact) {
  struct Case {
    const char* schema;
    std::optional<int64_t> lo, hi;
  };
  const std::vector<Case> cases = {
      {R"({"type": "integer", "minimum": -15, "maximum": 123})", -15, 123},
      {R"({"type": "integer", "minimum": 0, "maximum": 0})", 0, 0},
      {R"({"type": "integer", "minimum": 7, "maximum": 7})", 7, 7},
      {R"({"type": "integer", "minimum": -100, "maximum": -3})", -100, -3},
      {R"({"type": "integer", "minimum": 5})", 5, std::nullopt},
      {R"({"type": "integer", "minimum": 0})", 0, std::nullopt},
      {R"({"type": "integer", "maximum": 20})", std::nullopt, 20},
      {R"({"type": "integer", "maximum": -20})", std::nullopt, -20},
      {R"({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100})", 1, 99},
      {R"({"type": "integer", "minimum": 10, "exclusiveMinimum": true, "maximum": 200})", 11, 200},
      {R"({"type": "integer", "minimum": 1.5, "maximum": 99.5})", 2, 99},
      {R"({"type": "integer", "exclusiveMinimum": -1.5, "exclusiveMaximum": 2.0})", -1, 1},
      {R"({"type": "integer", "minimum": 99, "maximum": 1000})", 99, 1000},
      {R"({"type": "integer", "minimum": 100, "maximum": 199})", 100, 199},
      {R"({"type": "integer", "minimum": 250, "maximum": 789})", 250, 789},
  };
  for (const Case& c : cases) {
    const std::string text = Compile(c.schema);
    ASSERT_FALSE(text.empty());
    Grammar g(text);
    for (int64_t n = -1200; n <= 1200; ++n) {
      const bool in = (!c.lo || n >= *c.lo) && (!c.hi || n <= *c.hi);
      EXPECT_EQ(g.Matches(std::to_string(n)), in) << n << " for " << c.schema << "\n" << text;
    }
    for (const char* bad : {"007", "-0", "00", "1.0", "1e2", "+1", "- 1", ""}) {
      EXPECT_FALSE(g.Matches(bad)) << bad << " for " << c.schema;
    }
    // Far outside the window above: only the open ends allow them.
    EXPECT_EQ(g.Matches("123456789012"), !c.hi) << c.schema;
    EXPECT_EQ(g.Matches("-123456789012"), !c.lo) << c.schema;
  }
  Check(R"({"type": "integer"})", {"0", "-0", "12", "-340"}, {"01", "1.5", "1e3", "-", "+1"});
  EXPECT_EQ(Error(R"({"type": "integer", "minimum": 5, "maximum": 4})"),
            "schema.minimum: no integer is in range");
  EXPECT_EQ(Error(R"({"type": "integer", "maximum": 1e30})"),
            "schema.maximum: out of the supported range (|bound| <= 1e18)");
}

TEST(JsonSchemaGrammarTest, NumberRangesAreExact) {
  struct Case {
    const char* schema;
    int lo100, hi100;  // bounds times 100; INT_MIN/INT_MAX: open
    bool lo_exclusive, hi_exclusive;
  };
  const std::vector<Case> cases = {
      {R"({"type": "number", "minimum": 0, "maximum": 1})", 0, 100, false, false},
      {R"({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1})", 0, 100, true, true},
      {R"({"type": "number", "minimum": -3, "exclusiveMaximum": 2})", -300, 200, false, true},
      {R"({"type": "number", "exclusiveMinimum": -12, "maximum": -2})", -1200, -200, true, false},
      {R"({"type": "number", "minimum": 2})", 200, INT_MAX, false, false},
      {R"({"type": "number", "exclusiveMaximum": 0})", INT_MIN, 0, false, true},
      {R"({"type": "number", "maximum": 5.0, "minimum": 5})", 500, 500, false, false},
  };
  for (const Case& c : cases) {
    const std::string text = Compile(c.schema);
    ASSERT_FALSE(text.empty());
    Grammar g(text);
    for (int v = -1500; v <= 1500; v += 5) {  // v / 100 as "I", "I.F", "I.F0"
      const bool in = (c.lo100 == INT_MIN || (c.lo_exclusive ? v > c.lo100 : v >= c.lo100)) &&
                      (c.hi100 == INT_MAX || (c.hi_exclusive ? v < c.hi100 : v <= c.hi100));
      const std::string sign = v < 0 ? "-" : "";
      const int a = std::abs(v);
      std::vector<std::string> spellings = {fmt::format("{}{}.{:02}", sign, a / 100, a % 100),
                                            fmt::format("{}{}.{:02}0", sign, a / 100, a % 100)};
      if (a % 100 == 0 && v != 0) spellings.push_back(fmt::format("{}{}", sign, a / 100));
      if (a % 10 == 0) spellings.push_back(fmt::format("{}{}.{}", sign, a / 100, (a % 100) / 10));
      for (const std::string& s : spellings) {
        if (s.starts_with("-0") && v == 0) continue;
        EXPECT_EQ(g.Matches(s), in) << s << " for " << c.schema << "\n" << text;
      }
    }
    EXPECT_FALSE(g.Matches("01.5")) << c.schema;
  }
  Check(R"({"type": "number", "minimum": 0})", {"0", "1.5", "2e-7", "10E+3"}, {"-1", "-0.5"});
  Check(R"({"type": "number"})", {"0", "-1.5", "2e-7", "10E+3", "-0.0"},
        {"1.", ".5", "1e", "01", "--1"});
  EXPECT_EQ(Error(R"({"type": "number", "minimum": 0.5})"),
            "schema.minimum: not supported for type number unless a whole number");
  EXPECT_EQ(Error(R"({"type": "number", "multipleOf": 0.5})"), "schema.multipleOf: not supported");
}

// ---- Whole schemas ----------------------------------------------------------------------------

TEST(JsonSchemaGrammarTest, PydanticStyleSchema) {
  // What pydantic v2's model_json_schema() emits for a small model (titles, $defs, Optional as
  // anyOf with null, an Enum, defaults, a conint(gt=0)).
  const char* schema = R"({
    "$defs": {
      "Address": {"properties": {"street": {"title": "Street", "type": "string"},
                                 "zip": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null, "title": "Zip"}},
                  "required": ["street"], "title": "Address", "type": "object"},
      "Color": {"enum": ["red", "green"], "title": "Color", "type": "string"}},
    "properties": {
      "name": {"title": "Name", "type": "string", "description": "Full name"},
      "age": {"exclusiveMinimum": 0, "title": "Age", "type": "integer"},
      "tags": {"items": {"type": "string"}, "title": "Tags", "type": "array", "maxItems": 3},
      "address": {"$ref": "#/$defs/Address"},
      "color": {"$ref": "#/$defs/Color", "default": "red"}},
    "required": ["name", "age", "address"], "title": "Person", "type": "object"})";
  Check(
      schema,
      {R"({"name":"Ann","age":30,"address":{"street":"Main"}})",
       R"({"name":"Ann","age":1,"tags":[],"address":{"street":"Main","zip":null},"color":"green"})",
       R"({"name":"Ann","age":1,"tags":["a","b","c"],"address":{"street":"Main","zip":"123"}})"},
      {R"({"name":"Ann","age":0,"address":{"street":"Main"}})", R"({"name":"Ann","age":30})",
       R"({"name":"Ann","age":30,"address":{}})",
       R"({"name":"Ann","age":30,"address":{"street":"Main"},"color":"blue"})",
       R"({"name":"Ann","age":30,"tags":["a","b","c","d"],"address":{"street":"Main"}})",
       R"({"name":"Ann","age":30,"address":{"street":"Main"},"extra":1})"});
}

TEST(JsonSchemaGrammarTest, AnyValueAndImpliedTypes) {
  for (const char* schema : {"{}", "true", R"({"title": "Anything"})"}) {
    Check(schema, {"1", R"("x")", "null", R"({"a":[1,null]})", "[]", "-2.5e3"}, {"", "nul", "{"});
  }
  // No "type", but keywords of one type: generated as that type.
  Check(R"({"properties": {"a": {}}})", {"{}", R"({"a":1})"}, {"1", R"("x")"});
  Check(R"({"maxLength": 2})", {R"("ab")"}, {R"("abc")", "1"});
  EXPECT_EQ(Error("false"), "schema: the schema false allows no value");
  EXPECT_EQ(Error(R"({"type": "float"})"), "schema.type: unknown type \"float\"");
}

TEST(JsonSchemaGrammarTest, WhitespaceIsBounded) {
  Grammar g(Compile(R"({"type": "array", "items": {"type": "integer"}})"));
  EXPECT_TRUE(g.Matches("[1, 2]"));
  EXPECT_TRUE(g.Matches("[\n\t\t1,\n\t\t2\n]"));
  EXPECT_FALSE(g.Matches("[  1]"));  // two spaces: one space, or a newline and indentation
  EXPECT_FALSE(g.Matches("[\n" + std::string(17, ' ') + "1]"));
  EXPECT_FALSE(g.Matches(" [1]"));
  EXPECT_FALSE(g.Matches("[1] "));
}

TEST(JsonSchemaGrammarTest, UnsupportedKeywordsAreNamed) {
  EXPECT_EQ(Error(R"({"properties": {"code": {"type": "string", "pattern": "^[A-Z]+$"}}})"),
            "schema.properties.code.pattern: not supported");
  EXPECT_EQ(Error(R"({"type": "array", "uniqueItems": true})"),
            "schema.uniqueItems: not supported");
  EXPECT_EQ(Error(R"({"not": {"type": "null"}})"), "schema.not: not supported");
  EXPECT_EQ(Error(R"({"type": "object", "minProperties": 1})"),
            "schema.minProperties: not supported");
  EXPECT_EQ(Error(R"({"type": "object", "patternProperties": {"^a": {}}})"),
            "schema.patternProperties: not supported");
  EXPECT_EQ(Error(R"({"if": {}, "then": {}})"), "schema.if: not supported");
  EXPECT_EQ(Error(R"({"items": {"type": "array", "contains": {"const": 1}}})"),
            "schema.items.contains: not supported");
  EXPECT_EQ(Error(R"({"anyOf": [{"type": "string", "nullable": true}]})"),
            "schema.anyOf.0.nullable: not supported");
  EXPECT_EQ(Error(R"({"$defs": {"A": {"$id": "a.json"}}, "$ref": "#/$defs/A"})"),
            "schema.$defs.A.$id: not supported");
  // Annotations are fine, and uniqueItems false says nothing.
  EXPECT_FALSE(
      Compile(
          R"({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "$comment": "c",
                          "title": "T", "description": "D", "examples": [1], "default": 1, "readOnly": true,
                          "writeOnly": false, "deprecated": false, "type": "array", "uniqueItems": false})")
          .empty());
}

}  // namespace
}  // namespace gorae
