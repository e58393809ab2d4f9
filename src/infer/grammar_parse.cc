// The GBNF parser of Grammar::Parse (grammar.h), and the checks that keep matching finite:
// every rule defined and able to match something, no left recursion.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "infer/grammar.h"

namespace gorae {

class GbnfParser {
 public:
  GbnfParser(std::string_view text, std::string_view root) : s_(text), root_(root) {}

  Result<std::shared_ptr<const Grammar>> Run() {
    auto g = std::make_shared<Grammar>();
    g_ = g.get();
    SkipSpace();
    while (i_ < s_.size()) {
      const size_t line = Line();
      std::string name = Name();
      if (name.empty()) return Error("expected a rule name");
      SkipSpace();
      if (s_.substr(i_, 3) != "::=") return Error(fmt::format("expected '::=' after '{}'", name));
      i_ += 3;
      const int r = RuleId(name);
      if (defined_.count(r)) return Error(fmt::format("rule '{}' is defined twice (first on line {})", name, defined_[r]));
      defined_[r] = line;
      GORAE_ASSIGN_OR_RETURN(auto alts, Alternatives(/*nested=*/false));
      g_->rules_[static_cast<size_t>(r)] = std::move(alts);
      SkipSpace();
    }
    for (size_t r = 0; r < g_->names_.size(); ++r) {
      if (!defined_.count(static_cast<int>(r)) && !generated_.count(static_cast<int>(r))) {
        return InvalidArgument("grammar: rule '{}' is used but not defined", g_->names_[r]);
      }
    }
    auto root = ids_.find(std::string(root_));
    if (root == ids_.end() || !defined_.count(root->second)) return InvalidArgument("grammar: no '{}' rule", root_);
    g_->root_ = root->second;
    GORAE_RETURN_IF_ERROR(CheckFinite(*g_));
    return std::shared_ptr<const Grammar>(std::move(g));
  }

 private:
  using Alternative = Grammar::Alternative;

  size_t Line() const { return static_cast<size_t>(std::count(s_.begin(), s_.begin() + static_cast<long>(i_), '\n')) + 1; }
  Status Error(const std::string& what) const { return InvalidArgument("grammar: line {}: {}", Line(), what); }

  void SkipSpace() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }
  static bool NameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }
  std::string Name() {
    const size_t b = i_;
    while (i_ < s_.size() && NameChar(s_[i_])) ++i_;
    return std::string(s_.substr(b, i_ - b));
  }
  // A rule name at i_ followed by "::=": the start of the next rule, so the current one ends.
  bool AtRuleStart() const {
    size_t j = i_;
    while (j < s_.size() && NameChar(s_[j])) ++j;
    if (j == i_) return false;
    while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j;
    return s_.substr(j, 3) == "::=";
  }
  int RuleId(const std::string& name) {
    auto [it, fresh] = ids_.emplace(name, static_cast<int>(g_->names_.size()));
    if (fresh) {
      g_->names_.push_back(name);
      g_->rules_.emplace_back();
    }
    return it->second;
  }
  int NewRule(const std::string& base, std::vector<Alternative> alts) {
    const int r = RuleId(fmt::format("{}-{}", base, g_->names_.size()));
    generated_.insert(r);
    g_->rules_[static_cast<size_t>(r)] = std::move(alts);
    return r;
  }
  static GrammarElement RuleRef(int r) {
    GrammarElement e;
    e.kind = GrammarElement::kRule;
    e.rule = r;
    return e;
  }
  static Alternative Closed(std::vector<GrammarElement> elems) {
    elems.push_back(GrammarElement{});  // kEnd
    return elems;
  }

  // One UTF-8 character or escape; false at a malformed one.
  Result<uint32_t> Char() {
    if (i_ >= s_.size()) return Error("unexpected end of grammar");
    const unsigned char c = static_cast<unsigned char>(s_[i_]);
    if (c == '\\') {
      if (i_ + 1 >= s_.size()) return Error("unfinished escape");
      const char e = s_[i_ + 1];
      i_ += 2;
      switch (e) {
        case 'n': return uint32_t{'\n'};
        case 't': return uint32_t{'\t'};
        case 'r': return uint32_t{'\r'};
        case 'x': return Hex(2);
        case 'u': return Hex(4);
        case 'U': return Hex(8);
        case '\\': case '"': case '[': case ']': case '-': case '/': case '^': case '.': return uint32_t(e);
        default: return Error(fmt::format("unknown escape '\\{}'", e));
      }
    }
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i_ + static_cast<size_t>(n) > s_.size()) return Error("invalid UTF-8 in the grammar");
    uint32_t cp = n == 1 ? c : (c & (0x7F >> n));
    for (int k = 1; k < n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s_[i_ + static_cast<size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return Error("invalid UTF-8 in the grammar");
      cp = (cp << 6) | (cc & 0x3F);
    }
    i_ += static_cast<size_t>(n);
    return cp;
  }
  Result<uint32_t> Hex(int digits) {
    uint32_t v = 0;
    for (int k = 0; k < digits; ++k, ++i_) {
      if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return Error("bad hex escape");
      const char h = static_cast<char>(std::tolower(static_cast<unsigned char>(s_[i_])));
      v = v * 16 + static_cast<uint32_t>(h <= '9' ? h - '0' : h - 'a' + 10);
    }
    return v;
  }

  Result<std::vector<Alternative>> Alternatives(bool nested) {
    std::vector<Alternative> alts;
    while (true) {
      GORAE_ASSIGN_OR_RETURN(auto seq, Sequence(nested));
      alts.push_back(Closed(std::move(seq)));
      SkipSpace();
      if (i_ < s_.size() && s_[i_] == '|') {
        ++i_;
        continue;
      }
      return alts;
    }
  }

  Result<std::vector<GrammarElement>> Sequence(bool nested) {
    std::vector<GrammarElement> seq;
    while (true) {
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] == '|' || (s_[i_] == ')' && nested) || AtRuleStart()) return seq;
      const size_t before = seq.size();
      GORAE_RETURN_IF_ERROR(Primary(&seq));
      GORAE_RETURN_IF_ERROR(Postfix(&seq, before));
    }
  }

  Status Primary(std::vector<GrammarElement>* seq) {
    const char c = s_[i_];
    if (c == '"') {
      ++i_;
      while (i_ < s_.size() && s_[i_] != '"') {
        GORAE_ASSIGN_OR_RETURN(uint32_t cp, Char());
        GrammarElement e;
        e.kind = GrammarElement::kChars;
        e.ranges = {{cp, cp}};
        seq->push_back(std::move(e));
      }
      if (i_ >= s_.size()) return Error("unterminated string literal");
      ++i_;
      return Status::Ok();
    }
    if (c == '[') {
      ++i_;
      GrammarElement e;
      e.kind = GrammarElement::kChars;
      if (i_ < s_.size() && s_[i_] == '^') e.negated = true, ++i_;
      while (i_ < s_.size() && s_[i_] != ']') {
        GORAE_ASSIGN_OR_RETURN(uint32_t lo, Char());
        uint32_t hi = lo;
        if (i_ + 1 < s_.size() && s_[i_] == '-' && s_[i_ + 1] != ']') {
          ++i_;
          GORAE_ASSIGN_OR_RETURN(hi, Char());
          if (hi < lo) return Error("a character range runs backwards");
        }
        e.ranges.emplace_back(lo, hi);
      }
      if (i_ >= s_.size()) return Error("unterminated character class");
      ++i_;
      seq->push_back(std::move(e));
      return Status::Ok();
    }
    if (c == '.') {
      ++i_;
      GrammarElement e;
      e.kind = GrammarElement::kChars;
      e.negated = true;  // [^] : any character
      seq->push_back(std::move(e));
      return Status::Ok();
    }
    if (c == '(') {
      ++i_;
      GORAE_ASSIGN_OR_RETURN(auto alts, Alternatives(/*nested=*/true));
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != ')') return Error("missing ')'");
      ++i_;
      seq->push_back(RuleRef(NewRule("group", std::move(alts))));
      return Status::Ok();
    }
    if (NameChar(c)) {
      seq->push_back(RuleRef(RuleId(Name())));
      return Status::Ok();
    }
    return Error(fmt::format("unexpected '{}'", c));
  }

  // *, +, ?, {m}, {m,}, {m,n} apply to the elements seq[before..] (one primary).
  Status Postfix(std::vector<GrammarElement>* seq, size_t before) {
    if (i_ >= s_.size()) return Status::Ok();
    const char c = s_[i_];
    if (c != '*' && c != '+' && c != '?' && c != '{') return Status::Ok();
    int64_t lo = 0, hi = -1;  // hi -1: unbounded
    ++i_;
    if (c == '+') {
      lo = 1;
    } else if (c == '?') {
      hi = 1;
    } else if (c == '{') {
      auto number = [&](int64_t* out) {
        const size_t b = i_;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        if (b == i_ || i_ - b > 6) return false;
        *out = std::stoll(std::string(s_.substr(b, i_ - b)));
        return true;
      };
      SkipSpace();
      if (!number(&lo)) return Error("expected a count after '{'");
      SkipSpace();
      hi = lo;
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        SkipSpace();
        hi = -1;
        if (i_ < s_.size() && s_[i_] != '}' && !number(&hi)) return Error("expected a count after ','");
        SkipSpace();
      }
      if (i_ >= s_.size() || s_[i_] != '}') return Error("expected '}'");
      ++i_;
      if (hi >= 0 && hi < lo) return Error("a repetition {m,n} needs m <= n");
      if (lo > 1000 || hi > 1000) return Error("repetition counts above 1000 are not supported");
    }
    // The repeated item as one element: itself if it is one, else a rule of its elements.
    std::vector<GrammarElement> items(seq->begin() + static_cast<long>(before), seq->end());
    seq->resize(before);
    const GrammarElement item = items.size() == 1 ? items[0] : RuleRef(NewRule("item", {Closed(items)}));
    for (int64_t k = 0; k < lo; ++k) seq->push_back(item);
    if (hi < 0) {  // then any number more: star ::= item star | (nothing)
      const int star = RuleId(fmt::format("star-{}", g_->names_.size()));
      generated_.insert(star);
      g_->rules_[static_cast<size_t>(star)] = {Closed({item, RuleRef(star)}), Closed({})};
      seq->push_back(RuleRef(star));
    } else if (hi > lo) {  // up to hi - lo more, nested: opt_k ::= item opt_{k-1} | (nothing)
      int opt = NewRule("opt", {Closed({item}), Closed({})});
      for (int64_t k = 1; k < hi - lo; ++k) opt = NewRule("opt", {Closed({item, RuleRef(opt)}), Closed({})});
      seq->push_back(RuleRef(opt));
    }
    return Status::Ok();
  }

  // Every rule can match some text, and none can reach itself without consuming a character
  // (the matcher expands rules eagerly, so left recursion would never end).
  static Status CheckFinite(const Grammar& g) {
    const size_t n = g.rules().size();
    std::vector<bool> productive(n, false), nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        for (const auto& alt : g.rules()[r]) {
          bool prod = true, null = true;
          for (const auto& e : alt) {
            if (e.kind == GrammarElement::kRule) {
              prod = prod && productive[static_cast<size_t>(e.rule)];
              null = null && nullable[static_cast<size_t>(e.rule)];
            } else if (e.kind == GrammarElement::kChars) {
              null = false;
            }
          }
          if (prod && !productive[r]) productive[r] = changed = true;
          if (null && !nullable[r]) nullable[r] = changed = true;
        }
      }
    }
    for (size_t r = 0; r < n; ++r) {
      if (!productive[r]) return InvalidArgument("grammar: rule '{}' can never match (it always needs itself)", g.rule_name(static_cast<int>(r)));
    }
    // Left-corner graph: r -> s when s can come first in r.
    std::vector<std::vector<int>> left(n);
    for (size_t r = 0; r < n; ++r) {
      for (const auto& alt : g.rules()[r]) {
        for (const auto& e : alt) {
          if (e.kind != GrammarElement::kRule) break;
          left[r].push_back(e.rule);
          if (!nullable[static_cast<size_t>(e.rule)]) break;
        }
      }
    }
    std::vector<int> state(n, 0);  // 0 new, 1 on the path, 2 done
    std::function<int(int)> visit = [&](int r) -> int {
      state[static_cast<size_t>(r)] = 1;
      for (int s : left[static_cast<size_t>(r)]) {
        if (state[static_cast<size_t>(s)] == 1) return s;
        if (state[static_cast<size_t>(s)] == 0) {
          if (int c = visit(s); c >= 0) return c;
        }
      }
      state[static_cast<size_t>(r)] = 2;
      return -1;
    };
    for (size_t r = 0; r < n; ++r) {
      if (state[r] == 0) {
        if (int c = visit(static_cast<int>(r)); c >= 0) {
          return InvalidArgument("grammar: rule '{}' is left-recursive (it can start with itself)", g.rule_name(c));
        }
      }
    }
    return Status::Ok();
  }

  std::string_view s_;
  std::string_view root_;
  size_t i_ = 0;
  Grammar* g_ = nullptr;
  std::map<std::string, int> ids_;
  std::map<int, size_t> defined_;  // rule -> line
  std::set<int> generated_;
};

Result<std::shared_ptr<const Grammar>> Grammar::Parse(std::string_view gbnf, std::string_view root) {
  return GbnfParser(gbnf, root).Run();
}

}  // namespace gorae
