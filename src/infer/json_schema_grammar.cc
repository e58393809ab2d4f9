// JSON Schema -> GBNF compiler. See json_schema_grammar.h for what is supported and why the
// grammar may be narrower than the schema (never wider).
//
// Shape of the output: each schema that needs more than a shared primitive gets a rule named
// after where it sits ("root", "root-address", "Node" for a $defs entry), followed by the shared
// primitives it uses (value, object, array, string, char, number, integer, boolean, null, ws,
// date, time, date-time, uuid), each emitted once and only when used.
#include "infer/json_schema_grammar.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace gorae {
namespace {

// ---- GBNF text helpers --------------------------------------------------------------------

// A GBNF string literal matching exactly the bytes of `s` (UTF-8 text; non-ASCII passes through
// raw, since the grammar works over code points and \uHHHH cannot spell those above U+FFFF).
std::string Lit(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += fmt::format("\\x{:02X}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// `atom` repeated lo..hi times (hi nullopt: unbounded), in the shortest postfix form; "" for
// exactly zero times. `atom` must be a single GBNF atom (name, literal, class or group).
std::string Repeat(const std::string& atom, uint64_t lo, std::optional<uint64_t> hi) {
  if (hi && *hi == 0) return "";
  if (!hi) {
    if (lo == 0) return atom + "*";
    if (lo == 1) return atom + "+";
    return fmt::format("{}{{{},}}", atom, lo);
  }
  if (lo == 1 && *hi == 1) return atom;
  if (lo == 0 && *hi == 1) return atom + "?";
  if (lo == *hi) return fmt::format("{}{{{}}}", atom, lo);
  return fmt::format("{}{{{},{}}}", atom, lo, *hi);
}

// Joins the non-empty parts with `sep`.
std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}
std::string Seq(std::initializer_list<std::string> parts) { return Join(parts, " "); }
// Alternatives as one atom: no parentheses when there is only one.
std::string Group(const std::vector<std::string>& alts) {
  return alts.size() == 1 ? alts[0] : "( " + Join(alts, " | ") + " )";
}

bool IsRuleName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// A rule name made from a property or $defs name: characters outside [a-zA-Z0-9-] become '-'.
std::string Sanitize(std::string_view s) {
  std::string out;
  for (char c : s) out += IsRuleName(std::string_view(&c, 1)) ? c : '-';
  return out.empty() ? "x" : out;
}

// ---- Integer ranges -----------------------------------------------------------------------
// Exact grammars for the decimal strings (no leading zeros) of the integers in a range: split by
// digit count, then by the first digit where the two ends differ. [1, 12] -> [1-9] | "1" [0-2].

std::string DigitClass(char from, char to) {
  if (from == to) return Lit(std::string(1, from));
  if (from == '0' && to == '9') return "[0-9]";
  return fmt::format("[{}-{}]", from, to);
}

// Strings of x.size() digits (leading zeros allowed) between x and y inclusive, x <= y.
std::string SameLength(const std::string& x, const std::string& y) {
  size_t i = 0;
  while (i < x.size() && x[i] == y[i]) ++i;
  const std::string prefix = i > 0 ? Lit(x.substr(0, i)) : "";
  if (i == x.size()) return prefix;
  const size_t rest = x.size() - i - 1;
  const std::string xr = x.substr(i + 1), yr = y.substr(i + 1);
  const std::string zeros(rest, '0'), nines(rest, '9');
  // When x's tail is all zeros (y's all nines), x[i] (y[i]) goes with the free middle digits.
  const bool low_full = xr == zeros, high_full = yr == nines;
  const char from = low_full ? x[i] : static_cast<char>(x[i] + 1);
  const char to = high_full ? y[i] : static_cast<char>(y[i] - 1);
  std::vector<std::string> alts;
  if (!low_full) alts.push_back(Seq({Lit(std::string(1, x[i])), SameLength(xr, nines)}));
  if (from <= to) alts.push_back(Seq({DigitClass(from, to), Repeat("[0-9]", rest, rest)}));
  if (!high_full) alts.push_back(Seq({Lit(std::string(1, y[i])), SameLength(zeros, yr)}));
  return Seq({prefix, Group(alts)});
}

constexpr int64_t kOpen = -1;  // NonNegativeRange's b: no upper bound

// Alternatives (not grouped) for the integers in [a, b], 0 <= a <= b; b == kOpen: unbounded.
std::string NonNegativeRange(int64_t a, int64_t b) {
  const std::string as = std::to_string(a), bs = b == kOpen ? "" : std::to_string(b);
  const size_t last = b == kOpen ? as.size() : bs.size();
  std::vector<std::string> alts;
  for (size_t d = as.size(); d <= last; ++d) {
    std::string lo = as, hi = bs;  // the d-digit part of the range
    if (d != as.size()) lo = std::string(d, '0'), lo[0] = '1';
    if (b == kOpen || d != bs.size()) hi = std::string(d, '9');
    alts.push_back(SameLength(lo, hi));
  }
  if (b == kOpen) alts.push_back(Seq({"[1-9]", Repeat("[0-9]", as.size(), std::nullopt)}));
  return Join(alts, " | ");
}

// Alternatives for the integers in [lo, hi] (either end may be open), lo <= hi. "-0" is left
// out: it is a valid spelling of 0, but "0" is the one we generate.
std::string IntegerRange(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> alts;
  if (!hi || *hi >= 0)
    alts.push_back(NonNegativeRange(lo ? std::max<int64_t>(*lo, 0) : 0, hi.value_or(kOpen)));
  if (!lo || *lo < 0) {
    const int64_t min_magnitude = (hi && *hi < 0) ? -*hi : 1;
    const int64_t max_magnitude = lo ? -*lo : kOpen;
    alts.push_back(Seq({"\"-\"", "( " + NonNegativeRange(min_magnitude, max_magnitude) + " )"}));
  }
  return Join(alts, " | ");
}

// Alternatives for the decimal numbers x (no exponent) with a <(=) x <(=) b, 0 <= a, b >= a
// optional, a and b whole. With x = I.F: x >= a iff I >= a; x > a iff I > a, or I = a and F is
// not all zeros; x < b iff I < b; x <= b iff I < b, or I = b and F is all zeros.
std::vector<std::string> NonNegativeNumbers(int64_t a, bool a_exclusive, std::optional<int64_t> b,
                                            bool b_exclusive) {
  static const std::string kAnyFraction = "( \".\" [0-9]+ )?";
  static const std::string kZeroFraction = "( \".\" \"0\"+ )?";
  static const std::string kNonZeroFraction = "\".\" [0-9]* [1-9] [0-9]*";
  std::vector<std::string> alts;
  const int64_t int_lo = a_exclusive ? a + 1 : a;
  if (!b || int_lo <= *b - 1) {  // the integer part alone decides
    alts.push_back(Seq({"( " + NonNegativeRange(int_lo, b ? *b - 1 : kOpen) + " )", kAnyFraction}));
  }
  if (a_exclusive && (!b || a < *b))
    alts.push_back(Seq({Lit(std::to_string(a)), kNonZeroFraction}));
  if (b && !b_exclusive && (*b > a || (*b == a && !a_exclusive))) {
    alts.push_back(Seq({Lit(std::to_string(*b)), kZeroFraction}));
  }
  return alts;
}

// ---- Shared primitive rules -------------------------------------------------------------

struct Primitive {
  const char* name;
  const char* body;
  std::vector<const char*> deps;
};

// The generic JSON grammar (RFC 8259), plus the string formats. Whitespace is bounded (one space,
// or a newline and up to 16 spaces/tabs of indentation) so that a model cannot spend its tokens
// on whitespace forever; documents are typically compact anyway. No whitespace before or after
// the root value, so the document (and generation) ends when the value closes.
const std::vector<Primitive>& Primitives() {
  static const std::vector<Primitive> kPrimitives = {
      {"value",
       "object | array | string | number | boolean | null",
       {"object", "array", "string", "number", "boolean", "null"}},
      {"object",
       R"("{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* ws )? "}")",
       {"ws", "string", "value"}},
      {"array", R"("[" ws ( value ( ws "," ws value )* ws )? "]")", {"ws", "value"}},
      {"string", R"("\"" char* "\"")", {"char"}},
      // One JSON string character: anything but '"', '\' and controls, or an escape sequence.
      {"char", R"([^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ))", {}},
      {"number", R"(integer ( "." [0-9]+ )? ( [eE] ( "+" | "-" )? [0-9]+ )?)", {"integer"}},
      {"integer", R"("-"? ( "0" | [1-9] [0-9]* ))", {}},
      {"boolean", R"("true" | "false")", {}},
      {"null", R"("null")", {}},
      {"ws", R"(( " " | "\n" [ \t]{0,16} )?)", {}},
      // RFC 3339 full-date with real month lengths and leap years; years 1000-9999 only (some
      // validators, e.g. Python's date.fromisoformat, reject year 0000).
      {"date",
       R"([1-9] [0-9]{3} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) ) | ( [1-9] [0-9] ( "0" [48] | [2468] [048] | [13579] [26] ) | ( [2468] [048] | [13579] [26] ) "00" ) "-02-29")",
       {}},
      // RFC 3339 full-time: the offset is required; leap second 60 left out.
      {"time",
       R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]+ )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))",
       {}},
      {"date-time", R"(date "T" time)", {"date", "time"}},
      {"uuid",
       R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})",
       {}},
  };
  return kPrimitives;
}

// The definitions of the primitives in `used` and of those they use, in a fixed order.
std::string PrimitiveRules(std::set<std::string> used) {
  for (bool grew = true; grew;) {
    grew = false;
    for (const Primitive& p : Primitives()) {
      if (!used.count(p.name)) continue;
      for (const char* d : p.deps) grew |= used.insert(d).second;
    }
  }
  std::string out;
  for (const Primitive& p : Primitives()) {
    if (used.count(p.name)) out += fmt::format("{} ::= {}\n", p.name, p.body);
  }
  return out;
}

// ---- Keywords -----------------------------------------------------------------------------

// Annotations: no effect on which documents validate. $defs/definitions are only containers
// (read through $ref). discriminator (OpenAPI, pydantic) only names the tag oneOf already checks.
bool IsAnnotation(std::string_view k) {
  static const std::set<std::string_view> kAnnotations = {
      "title",    "description", "examples",   "default",       "$schema", "$comment",
      "readOnly", "writeOnly",   "deprecated", "discriminator", "$defs",   "definitions"};
  return kAnnotations.count(k) > 0;
}

bool IsSupported(std::string_view k) {
  // clang-format off
  static const std::set<std::string_view> kSupported = {
      "type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf",
      "properties", "required", "additionalProperties",
      "items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems",
      "minLength", "maxLength", "format",
      "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
  // clang-format on
  return kSupported.count(k) > 0;
}

// The types that a keyword constrains, for schemas without "type": {"properties": ...} is
// generated as an object (a subset of what such a schema allows, which is any non-object too).
const char* ImpliedType(std::string_view k) {
  static const std::map<std::string_view, const char*> kImplied = {
      {"properties", "object"}, {"required", "object"},         {"additionalProperties", "object"},
      {"items", "array"},       {"prefixItems", "array"},       {"additionalItems", "array"},
      {"minItems", "array"},    {"maxItems", "array"},          {"minLength", "string"},
      {"maxLength", "string"},  {"format", "string"},           {"minimum", "number"},
      {"maximum", "number"},    {"exclusiveMinimum", "number"}, {"exclusiveMaximum", "number"}};
  auto it = kImplied.find(k);
  return it == kImplied.end() ? nullptr : it->second;
}

constexpr int64_t kMaxBound = 1000000000000000000;  // |bounds| up to 1e18 (no int64 overflow)
// minItems, maxItems, minLength, maxLength: at most this (the GBNF parser's {m,n} limit).
constexpr uint64_t kMaxCount = 1000;

// ---- The compiler -------------------------------------------------------------------------

template <typename J>
class Compiler {
 public:
  explicit Compiler(const J& root) : root_(root) {
    for (const Primitive& p : Primitives()) taken_.insert(p.name);
  }

  Result<std::string> Run() {
    Reserve("root");
    ref_rules_["#"] = "root";
    unguarded_.insert("#");
    GORAE_ASSIGN_OR_RETURN(std::string body, Body(root_, "schema", "root"));
    SetRule("root", body);
    return Render();
  }

 private:
  struct Property {
    std::string name;
    const J* schema;
    std::string path;
  };
  // An object schema's parts (from one schema, or merged from allOf's).
  struct ObjectSpec {
    std::vector<Property> properties;
    std::vector<std::string> required;
    const J* additional = nullptr;  // nullptr: absent (any value allowed)
    std::string additional_path;
  };

  // -- rules --
  std::string Reserve(const std::string& hint) {
    std::string name = hint;
    for (int i = 2; taken_.count(name); ++i) name = fmt::format("{}-{}", hint, i);
    taken_.insert(name);
    rules_.push_back({name, ""});
    return name;
  }
  void Release(const std::string& name) {
    taken_.erase(name);
    rules_.erase(
        std::find_if(rules_.begin(), rules_.end(), [&](const auto& r) { return r.first == name; }));
  }
  void SetRule(const std::string& name, const std::string& body) {
    for (auto& r : rules_) {
      if (r.first == name) r.second = body;
    }
  }
  std::string Use(const std::string& primitive) {
    used_.insert(primitive);
    return primitive;
  }

  // The schema as one atom: a rule reference (a new rule named after `hint` unless the body is
  // already a single rule name).
  Result<std::string> Expr(const J& s, const std::string& path, const std::string& hint) {
    const std::string name = Reserve(hint);  // reserved first so that rules come out top-down
    GORAE_ASSIGN_OR_RETURN(std::string body, Body(s, path, name));
    if (IsRuleName(body)) {
      Release(name);
      return body;
    }
    SetRule(name, body);
    return name;
  }

  std::string Render() {
    std::string out;
    for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
    return out + PrimitiveRules(used_);
  }

  // -- keyword checks --
  Status CheckKeywords(const J& s, const std::string& path) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      if (IsAnnotation(k)) continue;
      // $id changes what "#" means below it; only the root may name itself.
      if (k == "$id" && path == "schema") continue;
      if (k == "uniqueItems" && it.value().is_boolean() && !it.value().template get<bool>())
        continue;
      if (!IsSupported(k) || k == "uniqueItems")
        return InvalidArgument("{}.{}: not supported", path, k);
    }
    return Status::Ok();
  }
  // `keyword` combined with constraints we would have to intersect with it: refused.
  Status OnlyAlongside(const J& s, const std::string& path, const std::string& keyword,
                       std::initializer_list<std::string_view> allowed = {}) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      if (k == keyword || IsAnnotation(k) || k == "$id" ||
          std::find(allowed.begin(), allowed.end(), k) != allowed.end()) {
        continue;
      }
      return InvalidArgument("{}.{}: not supported alongside {}", path, k, keyword);
    }
    return Status::Ok();
  }

  Result<std::optional<uint64_t>> Count(const J& s, const std::string& path, const char* key) {
    if (!s.contains(key)) return std::optional<uint64_t>();
    const J& v = s[key];
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.template get<int64_t>() < 0)) {
      return InvalidArgument("{}.{}: expected a non-negative integer", path, key);
    }
    // Counts become {m,n} repetitions that a grammar engine may expand into that many states;
    // beyond this, refuse rather than let one request build a huge grammar.
    if (v.template get<uint64_t>() > kMaxCount) {
      return InvalidArgument("{}.{}: more than {} not supported", path, key, kMaxCount);
    }
    return std::optional<uint64_t>(v.template get<uint64_t>());
  }

  // -- schemas --

  // The schema as GBNF alternatives (for a rule's right-hand side).
  Result<std::string> Body(const J& s, const std::string& path, const std::string& name) {
    if (s.is_boolean()) {
      if (s.template get<bool>()) return Use("value");
      return InvalidArgument("{}: the schema false allows no value", path);
    }
    if (!s.is_object())
      return InvalidArgument("{}: expected a schema (an object or a boolean)", path);
    GORAE_RETURN_IF_ERROR(CheckKeywords(s, path));
    if (s.contains("$ref")) {
      GORAE_RETURN_IF_ERROR(OnlyAlongside(s, path, "$ref"));
      return Ref(s["$ref"], path + ".$ref");
    }
    for (const char* k : {"anyOf", "oneOf"}) {
      if (s.contains(k)) return AnyOf(s, path, name, k);
    }
    if (s.contains("allOf")) return AllOf(s, path, name);
    if (s.contains("enum") || s.contains("const")) return Enum(s, path);
    GORAE_ASSIGN_OR_RETURN(std::vector<std::string> types, Types(s, path));
    if (types.empty()) return Use("value");
    std::vector<std::string> alts;
    for (const std::string& t : types) {
      std::string alt;
      if (t == "null" || t == "boolean") {
        alt = Use(t);
      } else if (t == "string") {
        GORAE_ASSIGN_OR_RETURN(alt, String(s, path));
      } else if (t == "integer") {
        GORAE_ASSIGN_OR_RETURN(alt, Integer(s, path));
      } else if (t == "number") {
        GORAE_ASSIGN_OR_RETURN(alt, Number(s, path));
      } else if (t == "object") {
        GORAE_ASSIGN_OR_RETURN(ObjectSpec spec, Object(s, path));
        GORAE_ASSIGN_OR_RETURN(alt, EmitObject(spec, path, name));
      } else {
        GORAE_ASSIGN_OR_RETURN(alt, Array(s, path, name));
      }
      alts.push_back(alt);
    }
    return Join(alts, " | ");
  }

  // The "type" list, or the types the other keywords imply; empty: any value.
  Result<std::vector<std::string>> Types(const J& s, const std::string& path) {
    static const std::vector<std::string> kAll = {"null",   "boolean", "object", "array",
                                                  "number", "string",  "integer"};
    std::vector<std::string> types;
    if (s.contains("type")) {
      const J& t = s["type"];
      std::vector<const J*> items;
      if (t.is_array()) {
        for (const J& e : t) items.push_back(&e);
      } else {
        items.push_back(&t);
      }
      for (const J* e : items) {
        if (!e->is_string() ||
            std::find(kAll.begin(), kAll.end(), e->template get<std::string>()) == kAll.end()) {
          return InvalidArgument("{}.type: unknown type {}", path, e->dump());
        }
        if (std::find(types.begin(), types.end(), e->template get<std::string>()) == types.end()) {
          types.push_back(e->template get<std::string>());
        }
      }
      if (types.empty()) return InvalidArgument("{}.type: empty list allows no value", path);
      return types;
    }
    for (auto it = s.begin(); it != s.end(); ++it) {
      const char* implied = ImpliedType(it.key());
      if (implied && std::find(types.begin(), types.end(), implied) == types.end())
        types.push_back(implied);
    }
    return types;
  }

  Result<std::string> Ref(const J& ref_value, const std::string& path) {
    if (!ref_value.is_string()) return InvalidArgument("{}: expected a string", path);
    const std::string ref = ref_value.template get<std::string>();
    if (auto it = ref_rules_.find(ref); it != ref_rules_.end()) {
      // A cycle that comes back to a schema before any '{' or '[' was produced: the grammar
      // would be left-recursive (and the schema allows no finite document along that path).
      if (unguarded_.count(ref)) {
        return InvalidArgument("{}: '{}' refers back to itself before any JSON token", path, ref);
      }
      return it->second;
    }
    GORAE_ASSIGN_OR_RETURN(Target target, Walk(ref, path));
    // Named after the definition ("Address"); "def-" in front of names not starting with a
    // letter ("123", "$x"), which the dialect allows but which read badly and confuse other tools.
    std::string hint = Sanitize(target.last);
    if (!std::isalpha(static_cast<unsigned char>(hint[0]))) hint = "def-" + hint;
    const std::string name = Reserve(hint);
    ref_rules_[ref] = name;
    unguarded_.insert(ref);
    GORAE_ASSIGN_OR_RETURN(std::string body, Body(*target.schema, target.path, name));
    unguarded_.erase(ref);
    SetRule(name, body);
    return name;
  }

  // anyOf and oneOf both become plain alternatives. For oneOf that is only right when no
  // document matches two branches: oneOf's exclusivity is NOT enforced (typical uses, tagged
  // unions with a const tag, are exclusive by construction).
  Result<std::string> AnyOf(const J& s, const std::string& path, const std::string& name,
                            const char* keyword) {
    GORAE_RETURN_IF_ERROR(OnlyAlongside(s, path, keyword));
    const J& branches = s[keyword];
    if (!branches.is_array() || branches.empty()) {
      return InvalidArgument("{}.{}: expected a non-empty array of schemas", path, keyword);
    }
    std::vector<std::string> alts;
    for (size_t i = 0; i < branches.size(); ++i) {
      if (branches[i].is_boolean() && !branches[i].template get<bool>())
        continue;  // allows nothing
      GORAE_ASSIGN_OR_RETURN(std::string alt,
                             Body(branches[i], fmt::format("{}.{}.{}", path, keyword, i),
                                  fmt::format("{}-{}", name, i)));
      if (std::find(alts.begin(), alts.end(), alt) == alts.end()) alts.push_back(alt);
    }
    if (alts.empty()) return InvalidArgument("{}.{}: no branch allows any value", path, keyword);
    return Join(alts, " | ");
  }

  // allOf: one subschema is that subschema; several are merged when they are all object schemas
  // (properties, required; through $ref and nested allOf), which covers "Base plus extra fields".
  Result<std::string> AllOf(const J& s, const std::string& path, const std::string& name) {
    const J& parts = s["allOf"];
    if (!parts.is_array() || parts.empty()) {
      return InvalidArgument("{}.allOf: expected a non-empty array of schemas", path);
    }
    if (parts.size() == 1 && OnlyAlongside(s, path, "allOf").ok()) {
      return Body(parts[0], path + ".allOf.0", name);
    }
    ObjectSpec spec;
    GORAE_RETURN_IF_ERROR(Merge(s, path, spec, 0));
    return EmitObject(spec, path, name);
  }

  Status Merge(const J& s, const std::string& path, ObjectSpec& spec, int depth) {
    if (depth > 32) return InvalidArgument("{}.allOf: nested too deeply", path);
    if (s.is_boolean() && s.template get<bool>()) return Status::Ok();
    if (!s.is_object()) return InvalidArgument("{}: allOf can only combine object schemas", path);
    GORAE_RETURN_IF_ERROR(CheckKeywords(s, path));
    if (s.contains("$ref")) {
      GORAE_RETURN_IF_ERROR(OnlyAlongside(s, path, "$ref"));
      const std::string ref_path = path + ".$ref";
      if (!s["$ref"].is_string()) return InvalidArgument("{}: expected a string", ref_path);
      GORAE_ASSIGN_OR_RETURN(Target target, Walk(s["$ref"].template get<std::string>(), ref_path));
      return Merge(*target.schema, target.path, spec, depth + 1);
    }
    for (auto it = s.begin(); it != s.end(); ++it) {
      const std::string& k = it.key();
      const J& v = it.value();
      const std::string kpath = path + "." + k;
      if (IsAnnotation(k) || k == "$id") continue;
      if (k == "allOf") {
        if (!v.is_array()) return InvalidArgument("{}: expected an array of schemas", kpath);
        for (size_t i = 0; i < v.size(); ++i) {
          GORAE_RETURN_IF_ERROR(Merge(v[i], fmt::format("{}.{}", kpath, i), spec, depth + 1));
        }
      } else if (k == "type") {
        if (!(v == "object" || (v.is_array() && v.size() == 1 && v[0] == "object"))) {
          return InvalidArgument("{}: allOf can only combine object schemas", kpath);
        }
      } else if (k == "properties") {
        GORAE_RETURN_IF_ERROR(AddProperties(v, kpath, spec));
      } else if (k == "required") {
        GORAE_RETURN_IF_ERROR(AddRequired(v, kpath, spec));
      } else if (k == "additionalProperties" && v.is_boolean() && v.template get<bool>()) {
        continue;
      } else {
        return InvalidArgument("{}: not supported inside an allOf of several schemas", kpath);
      }
    }
    return Status::Ok();
  }

  struct Target {
    const J* schema;
    std::string path;  // "schema.$defs.Node", for errors inside it
    std::string last;  // the last pointer token ("Node"), to name its rule
  };
  // The schema a local $ref points to: a JSON pointer (RFC 6901) in the URI fragment, %XX decoded.
  Result<Target> Walk(const std::string& ref, const std::string& path) {
    if (ref.empty() || ref[0] != '#' || (ref.size() > 1 && ref[1] != '/')) {
      return InvalidArgument("{}: '{}' not supported (only references inside the schema, '#/...')",
                             path, ref);
    }
    std::string fragment;
    for (size_t i = 1; i < ref.size(); ++i) {
      if (ref[i] == '%' && i + 2 < ref.size() &&
          std::isxdigit(static_cast<unsigned char>(ref[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(ref[i + 2]))) {
        fragment += static_cast<char>(std::stoi(ref.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        fragment += ref[i];
      }
    }
    Target t{&root_, "schema", "root"};
    for (size_t pos = 0; pos < fragment.size();) {
      size_t end = fragment.find('/', pos + 1);
      if (end == std::string::npos) end = fragment.size();
      std::string token;
      for (size_t i = pos + 1; i < end; ++i) {
        if (fragment[i] == '~' && i + 1 < end &&
            (fragment[i + 1] == '0' || fragment[i + 1] == '1')) {
          token += fragment[++i] == '0' ? '~' : '/';
        } else {
          token += fragment[i];
        }
      }
      pos = end;
      const bool index =
          !token.empty() && token.size() < 10 &&
          std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (t.schema->is_object() && t.schema->contains(token)) {
        t.schema = &(*t.schema)[token];
      } else if (t.schema->is_array() && index && std::stoul(token) < t.schema->size()) {
        t.schema = &(*t.schema)[std::stoul(token)];
      } else {
        return InvalidArgument("{}: '{}' not found", path, ref);
      }
      t.path += "." + token;
      t.last = token;
    }
    return t;
  }

  Status AddProperties(const J& props, const std::string& path, ObjectSpec& spec) {
    if (!props.is_object()) return InvalidArgument("{}: expected an object of schemas", path);
    for (auto it = props.begin(); it != props.end(); ++it) {
      auto same = std::find_if(spec.properties.begin(), spec.properties.end(),
                               [&](const Property& p) { return p.name == it.key(); });
      if (same == spec.properties.end()) {
        spec.properties.push_back({it.key(), &it.value(), path + "." + it.key()});
      } else if (*same->schema != it.value()) {
        // Both would apply (an intersection); only identical ones are easy.
        return InvalidArgument("{}.{}: defined differently by two allOf parts", path, it.key());
      }
    }
    return Status::Ok();
  }
  Status AddRequired(const J& req, const std::string& path, ObjectSpec& spec) {
    if (!req.is_array()) return InvalidArgument("{}: expected an array of strings", path);
    for (const J& r : req) {
      if (!r.is_string()) return InvalidArgument("{}: expected an array of strings", path);
      if (std::find(spec.required.begin(), spec.required.end(), r.template get<std::string>()) ==
          spec.required.end()) {
        spec.required.push_back(r.template get<std::string>());
      }
    }
    return Status::Ok();
  }

  Result<ObjectSpec> Object(const J& s, const std::string& path) {
    ObjectSpec spec;
    if (s.contains("properties"))
      GORAE_RETURN_IF_ERROR(AddProperties(s["properties"], path + ".properties", spec));
    if (s.contains("required"))
      GORAE_RETURN_IF_ERROR(AddRequired(s["required"], path + ".required", spec));
    if (s.contains("additionalProperties")) {
      spec.additional = &s["additionalProperties"];
      spec.additional_path = path + ".additionalProperties";
    }
    return spec;
  }

  // Objects. With properties: those keys only, in order, required ones mandatory, optional ones
  // at most once each (extra keys are never generated, which any additionalProperties allows).
  // Without: a map of string keys to additionalProperties' schema.
  Result<std::string> EmitObject(ObjectSpec spec, const std::string& path,
                                 const std::string& name) {
    const auto saved = std::exchange(unguarded_, {});  // "{" is produced before any member
    const bool extra_false =
        spec.additional && spec.additional->is_boolean() && !spec.additional->template get<bool>();
    // Required keys without a property schema take additionalProperties' schema.
    for (const std::string& r : spec.required) {
      if (std::none_of(spec.properties.begin(), spec.properties.end(),
                       [&](const Property& p) { return p.name == r; })) {
        if (extra_false) {
          return InvalidArgument("{}.required: '{}' is not allowed by additionalProperties false",
                                 path, r);
        }
        static const J kTrue = true;
        spec.properties.push_back({r, spec.additional ? spec.additional : &kTrue,
                                   spec.additional ? spec.additional_path : path + ".required"});
      }
    }
    std::string body;
    if (spec.properties.empty()) {
      if (extra_false) {
        body = R"("{" ws "}")";
      } else {
        std::string v = Use("value");
        if (spec.additional) {
          GORAE_ASSIGN_OR_RETURN(v, Expr(*spec.additional, spec.additional_path, name + "-value"));
        }
        Use("string");
        body = fmt::format(
            R"("{{" ws ( string ws ":" ws {0} ( ws "," ws string ws ":" ws {0} )* ws )? "}}")", v);
      }
    } else {
      std::vector<std::string> members;  // `"key" ws ":" ws value` per generated property
      std::vector<bool> required;
      for (const Property& p : spec.properties) {
        const bool req =
            std::find(spec.required.begin(), spec.required.end(), p.name) != spec.required.end();
        if (p.schema->is_boolean() && !p.schema->template get<bool>()) {
          if (req)
            return InvalidArgument("{}: the schema false, but '{}' is required", p.path, p.name);
          continue;  // the key may not appear at all
        }
        GORAE_ASSIGN_OR_RETURN(std::string v,
                               Expr(*p.schema, p.path, name + "-" + Sanitize(p.name)));
        members.push_back(Seq(
            {Lit(J(p.name).dump(-1, ' ', false, J::error_handler_t::replace)), R"(ws ":" ws)", v}));
        required.push_back(req);
      }
      body = ObjectMembers(members, required, name);
    }
    Use("ws");
    unguarded_ = saved;
    return body;
  }

  // The members in order, each optional one at most once, with commas only between present
  // ones. Optional members before the first required one carry a trailing comma, the rest a
  // leading one. With no required member, the first present member picks where to start and
  // "tail" rules hold the optional rest (linear in the number of properties).
  std::string ObjectMembers(const std::vector<std::string>& m, const std::vector<bool>& req,
                            const std::string& name) {
    const std::string comma = R"(ws "," ws)";
    const size_t n = m.size();
    if (n == 0) return R"("{" ws "}")";
    const size_t first = std::find(req.begin(), req.end(), true) - req.begin();
    if (first < n) {
      std::vector<std::string> parts = {R"("{" ws)"};
      for (size_t i = 0; i < first; ++i) parts.push_back("( " + Seq({m[i], comma}) + " )?");
      parts.push_back(m[first]);
      for (size_t i = first + 1; i < n; ++i) {
        parts.push_back(req[i] ? Seq({comma, m[i]}) : "( " + Seq({comma, m[i]}) + " )?");
      }
      parts.push_back(R"(ws "}")");
      return Join(parts, " ");
    }
    std::vector<std::string> tails(n);  // tails[i]: optional members i.. each with a leading comma
    for (size_t i = 1; i < n; ++i) tails[i] = Reserve(fmt::format("{}-tail-{}", name, i));
    for (size_t i = 1; i < n; ++i) {
      SetRule(tails[i], Seq({"( " + Seq({comma, m[i]}) + " )?", i + 1 < n ? tails[i + 1] : ""}));
    }
    std::vector<std::string> alts;
    for (size_t i = 0; i < n; ++i) alts.push_back(Seq({m[i], i + 1 < n ? tails[i + 1] : ""}));
    return R"("{" ws ( )" + Group(alts) + R"( ws )? "}")";
  }

  // Arrays: prefixItems (or draft-7 array items) for the first elements, items (or
  // additionalItems) for the rest, minItems/maxItems as nesting and {m,n} counts.
  Result<std::string> Array(const J& s, const std::string& path, const std::string& name) {
    const auto saved = std::exchange(unguarded_, {});  // "[" is produced before any element
    GORAE_ASSIGN_OR_RETURN(std::optional<uint64_t> min_items, Count(s, path, "minItems"));
    GORAE_ASSIGN_OR_RETURN(std::optional<uint64_t> max, Count(s, path, "maxItems"));
    const uint64_t min = min_items.value_or(0);
    static const J kTrue = true;
    const J* prefix = nullptr;
    std::string prefix_path;
    const J* tail = &kTrue;
    std::string tail_path = path + ".items";
    if (s.contains("prefixItems")) {
      prefix = &s["prefixItems"];
      prefix_path = path + ".prefixItems";
      if (s.contains("items")) tail = &s["items"];
    } else if (s.contains("items") && s["items"].is_array()) {
      prefix = &s["items"];
      prefix_path = path + ".items";
      if (s.contains("additionalItems")) {
        tail = &s["additionalItems"];
        tail_path = path + ".additionalItems";
      }
    } else if (s.contains("items")) {
      tail = &s["items"];
    }
    if (prefix && !prefix->is_array())
      return InvalidArgument("{}: expected an array of schemas", prefix_path);
    const uint64_t k = prefix ? prefix->size() : 0;
    const bool tail_allowed = !(tail->is_boolean() && !tail->template get<bool>());
    if (!tail_allowed) max = std::min<uint64_t>(max.value_or(k), k);
    if (max && min > *max)
      return InvalidArgument("{}.minItems: more than the array may hold", path);
    std::vector<std::string> elems;
    for (uint64_t i = 0; i < k && (!max || i < *max); ++i) {
      GORAE_ASSIGN_OR_RETURN(std::string e, Expr((*prefix)[i], fmt::format("{}.{}", prefix_path, i),
                                                 fmt::format("{}-{}", name, i)));
      elems.push_back(e);
    }
    std::string item;
    if (tail_allowed && (!max || *max > k)) {
      GORAE_ASSIGN_OR_RETURN(item, Expr(*tail, tail_path, name + "-item"));
    }
    unguarded_ = saved;
    Use("ws");
    if (max && *max == 0) return std::string(R"("[" ws "]")");
    const std::string comma = R"(ws "," ws)";
    // Elements from index i on, element i present.
    std::function<std::string(uint64_t)> from = [&](uint64_t i) -> std::string {
      if (i >= k) {
        const uint64_t lo = std::max<uint64_t>(1, min > i ? min - i : 0);
        const std::optional<uint64_t> hi =
            max ? std::optional<uint64_t>(*max - i - 1) : std::nullopt;
        return Seq({item, Repeat("( " + Seq({comma, item}) + " )", lo - 1, hi)});
      }
      const bool more = (!max || i + 1 < *max) && (i + 1 < k || tail_allowed);
      if (!more) return elems[i];
      const std::string next = Seq({comma, from(i + 1)});
      return i + 1 < min ? Seq({elems[i], next}) : Seq({elems[i], "( " + next + " )?"});
    };
    const std::string inner = from(0);
    if (min == 0) return R"("[" ws ( )" + inner + R"( ws )? "]")";
    return R"("[" ws )" + inner + R"( ws "]")";
  }

  Result<std::string> String(const J& s, const std::string& path) {
    GORAE_ASSIGN_OR_RETURN(std::optional<uint64_t> min, Count(s, path, "minLength"));
    GORAE_ASSIGN_OR_RETURN(std::optional<uint64_t> max, Count(s, path, "maxLength"));
    if (s.contains("format")) {
      const J& f = s["format"];
      static const std::set<std::string> kFormats = {"date", "time", "date-time", "uuid"};
      if (!f.is_string() || !kFormats.count(f.template get<std::string>())) {
        return InvalidArgument("{}.format: {} not supported", path, f.dump());
      }
      if (min || max) {
        return InvalidArgument("{}.{}: not supported together with format", path,
                               min ? "minLength" : "maxLength");
      }
      return Seq({R"("\"")", Use(f.template get<std::string>()), R"("\"")"});
    }
    if (!min && !max) return Use("string");
    if (max && min.value_or(0) > *max)
      return InvalidArgument("{}.minLength: more than maxLength", path);
    // The grammar's character is one code point or one escape sequence; JSON Schema counts code
    // points of the decoded string, so these agree except for a \uD83D\uDE00 surrogate pair.
    return Seq({R"("\"")", Repeat(Use("char"), min.value_or(0), max), R"("\"")"});
  }

  // Whole-number bounds: (lo, hi) as inclusive integer bounds for type integer.
  Result<int64_t> Whole(const J& v, const std::string& path, bool round_up) {
    if (!v.is_number()) return InvalidArgument("{}: expected a number", path);
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() ? v.template get<uint64_t>() > static_cast<uint64_t>(kMaxBound)
                                 : std::abs(v.template get<int64_t>()) > kMaxBound) {
        return InvalidArgument("{}: out of the supported range (|bound| <= 1e18)", path);
      }
      return v.template get<int64_t>();
    }
    const double d = v.template get<double>();
    if (!(std::abs(d) <= static_cast<double>(kMaxBound))) {
      return InvalidArgument("{}: out of the supported range (|bound| <= 1e18)", path);
    }
    return static_cast<int64_t>(round_up ? std::ceil(d) : std::floor(d));
  }
  bool IsWhole(const J& v) {
    return v.is_number_integer() || (v.is_number_float() && std::floor(v.template get<double>()) ==
                                                                v.template get<double>());
  }

  struct Bounds {
    std::optional<int64_t> lo, hi;  // the bound's value, rounded inwards for integers
    bool lo_exclusive = false, hi_exclusive = false;
    std::string lo_key, hi_key;  // the keyword that set it, for errors
  };
  // minimum/maximum/exclusive*: the numeric (draft 6+) and the boolean (draft 4) forms.
  // `integer`: bounds become inclusive integer bounds; else they must be whole numbers.
  Result<Bounds> GetBounds(const J& s, const std::string& path, bool integer) {
    Bounds b;
    for (bool upper : {false, true}) {
      const char* plain = upper ? "maximum" : "minimum";
      const char* excl = upper ? "exclusiveMaximum" : "exclusiveMinimum";
      std::optional<int64_t>& bound = upper ? b.hi : b.lo;
      bool& exclusive = upper ? b.hi_exclusive : b.lo_exclusive;
      std::string& key = upper ? b.hi_key : b.lo_key;
      auto take = [&](const J& v, const char* k, bool ex) -> Status {
        const std::string kpath = path + "." + k;
        if (!v.is_number()) return InvalidArgument("{}: expected a number", kpath);
        if (!integer && !IsWhole(v)) {
          return InvalidArgument("{}: not supported for type number unless a whole number", kpath);
        }
        // Integers: x > v  <=>  x >= floor(v) + 1; x >= v  <=>  x >= ceil(v); mirrored above.
        GORAE_ASSIGN_OR_RETURN(int64_t w, Whole(v, kpath, upper ? ex : !ex));
        if (integer && ex) w += upper ? -1 : 1;
        if (integer) ex = false;
        const bool tighter = !bound || (upper ? (w < *bound || (w == *bound && ex))
                                              : (w > *bound || (w == *bound && ex)));
        if (tighter) {
          bound = w;
          exclusive = ex;
          key = k;
        }
        return Status::Ok();
      };
      const bool draft4_exclusive =
          s.contains(excl) && s[excl].is_boolean() && s[excl].template get<bool>();
      if (s.contains(excl) && s[excl].is_boolean()) {
        if (draft4_exclusive && !s.contains(plain)) {
          return InvalidArgument("{}.{}: true needs {}", path, excl, plain);
        }
      } else if (s.contains(excl)) {
        GORAE_RETURN_IF_ERROR(take(s[excl], excl, true));
      }
      if (s.contains(plain)) GORAE_RETURN_IF_ERROR(take(s[plain], plain, draft4_exclusive));
    }
    return b;
  }

  Result<std::string> Integer(const J& s, const std::string& path) {
    GORAE_ASSIGN_OR_RETURN(Bounds b, GetBounds(s, path, true));
    if (!b.lo && !b.hi) return Use("integer");
    if (b.lo && b.hi && *b.lo > *b.hi)
      return InvalidArgument("{}.{}: no integer is in range", path, b.lo_key);
    return IntegerRange(b.lo, b.hi);
  }

  // Numbers with whole-number bounds: no exponent (only [0, inf) keeps it), the integer part
  // and the fraction as in NonNegativeNumbers, for the non-negative and the negative side.
  Result<std::string> Number(const J& s, const std::string& path) {
    GORAE_ASSIGN_OR_RETURN(Bounds b, GetBounds(s, path, false));
    if (!b.lo && !b.hi) return Use("number");
    if (b.lo && *b.lo == 0 && !b.lo_exclusive && !b.hi) {
      return std::string(
          R"(( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] ( "+" | "-" )? [0-9]+ )?)");
    }
    std::vector<std::string> alts;
    if (!b.hi || *b.hi > 0 || (*b.hi == 0 && !b.hi_exclusive)) {  // x >= 0
      const bool lo_positive = b.lo && *b.lo >= 0;
      alts = NonNegativeNumbers(lo_positive ? *b.lo : 0, lo_positive && b.lo_exclusive, b.hi,
                                b.hi_exclusive);
    }
    if (!b.lo || *b.lo < 0) {  // x < 0: y = -x > 0, y > max(-hi, 0), y <= -lo
      const bool hi_negative = b.hi && *b.hi < 0;
      const std::vector<std::string> neg =
          NonNegativeNumbers(hi_negative ? -*b.hi : 0, hi_negative ? b.hi_exclusive : true,
                             b.lo ? std::optional<int64_t>(-*b.lo) : std::nullopt, b.lo_exclusive);
      if (!neg.empty()) alts.push_back(Seq({R"("-")", Group(neg)}));
    }
    if (alts.empty()) return InvalidArgument("{}.{}: no number is in range", path, b.lo_key);
    return Join(alts, " | ");
  }

  // enum / const: the values' compact JSON as literals, keeping those "type" allows.
  Result<std::string> Enum(const J& s, const std::string& path) {
    const std::string keyword = s.contains("enum") ? "enum" : "const";
    GORAE_RETURN_IF_ERROR(OnlyAlongside(s, path, keyword, {"type", "enum", "const"}));
    std::vector<const J*> values;
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) {
        return InvalidArgument("{}.enum: expected a non-empty array", path);
      }
      for (const J& v : s["enum"]) {
        if (!s.contains("const") || v == s["const"]) values.push_back(&v);
      }
    } else {
      values.push_back(&s["const"]);
    }
    if (s.contains("type")) {
      GORAE_ASSIGN_OR_RETURN(std::vector<std::string> types, Types(s, path));
      std::erase_if(values, [&](const J* v) {
        return std::none_of(types.begin(), types.end(),
                            [&](const std::string& t) { return HasType(*v, t); });
      });
    }
    std::vector<std::string> alts;
    for (const J* v : values) {
      std::string lit = Lit(v->dump(-1, ' ', false, J::error_handler_t::replace));
      if (std::find(alts.begin(), alts.end(), lit) == alts.end()) alts.push_back(lit);
    }
    if (alts.empty())
      return InvalidArgument("{}.{}: no value is allowed (type, enum and const disagree)", path,
                             keyword);
    return Join(alts, " | ");
  }

  bool HasType(const J& v, const std::string& t) {
    if (t == "null") return v.is_null();
    if (t == "boolean") return v.is_boolean();
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    return IsWhole(v);  // integer: 1.0 is one too (draft 6+)
  }

  const J& root_;
  std::vector<std::pair<std::string, std::string>> rules_;  // in creation order, root first
  std::set<std::string> taken_;                             // rule names in use (and primitives')
  std::set<std::string> used_;                              // primitives referenced
  std::map<std::string, std::string> ref_rules_;            // $ref string -> its rule
  std::set<std::string> unguarded_;  // $refs being compiled with no '{' or '[' produced since
};

}  // namespace

Result<std::string> JsonSchemaToGbnf(const nlohmann::json& schema) {
  return Compiler<nlohmann::json>(schema).Run();
}
Result<std::string> JsonSchemaToGbnf(const nlohmann::ordered_json& schema) {
  return Compiler<nlohmann::ordered_json>(schema).Run();
}

std::string AnyJsonObjectGbnf() { return "root ::= object\n" + PrimitiveRules({"object"}); }

}  // namespace gorae
