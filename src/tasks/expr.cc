// Countdown expression parser and evaluator (see expr.h).
#include "tasks/expr.h"

#include <map>

#include "tasks/rational.h"

namespace gorae::tasks {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<ExprTree> Parse() {
    Result<int> root = Expr(0);
    if (!root.ok()) return root.status();
    SkipSpace();
    if (pos_ != s_.size()) return Error("unexpected '{}'", s_[pos_]);
    tree_.root = *root;
    return std::move(tree_);
  }

 private:
  template <typename... Args>
  Status Error(fmt::format_string<Args...> f, Args&&... args) {
    return InvalidArgument("expression, at character {}: {}", pos_ + 1,
                           fmt::format(f, std::forward<Args>(args)...));
  }

  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  int Add(ExprNode n) {
    tree_.nodes.push_back(n);
    return static_cast<int>(tree_.nodes.size()) - 1;
  }

  Result<int> Expr(int depth) {
    GORAE_ASSIGN_OR_RETURN(int left, Term(depth));
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '+' && s_[pos_] != '-')) return left;
      char op = s_[pos_++];
      GORAE_ASSIGN_OR_RETURN(int right, Term(depth));
      left = Add({op, 0, left, right});
    }
  }

  Result<int> Term(int depth) {
    GORAE_ASSIGN_OR_RETURN(int left, Factor(depth));
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '*' && s_[pos_] != '/')) return left;
      char op = s_[pos_++];
      GORAE_ASSIGN_OR_RETURN(int right, Factor(depth));
      left = Add({op, 0, left, right});
    }
  }

  Result<int> Factor(int depth) {
    SkipSpace();
    if (pos_ >= s_.size()) return Error("expected a number or '(' at the end");
    char c = s_[pos_];
    if (c == '(') {
      if (depth + 1 > kMaxExprDepth) return Error("parentheses nested deeper than {}", kMaxExprDepth);
      ++pos_;
      GORAE_ASSIGN_OR_RETURN(int inner, Expr(depth + 1));
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ')') return Error("expected ')'");
      ++pos_;
      return inner;
    }
    if (c == '-' || c == '+') return Error("unary '{}' is not allowed", c);
    if (c < '0' || c > '9') return Error("expected a number, found '{}'", c);
    size_t start = pos_;
    int64_t value = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (pos_ - start >= 18) return Error("number too long");
      value = value * 10 + (s_[pos_] - '0');
      ++pos_;
    }
    if (pos_ - start > 1 && s_[start] == '0') return Error("number with a leading zero");
    return Add({0, value, -1, -1});
  }

  std::string_view s_;
  size_t pos_ = 0;
  ExprTree tree_;
};

}  // namespace

Result<ExprTree> ParseExpr(std::string_view text) {
  if (text.size() > kMaxExprChars) {
    return InvalidArgument("expression of {} characters (at most {})", text.size(), kMaxExprChars);
  }
  return Parser(text).Parse();
}

Result<Rational> EvaluateTree(const ExprTree& tree, const std::vector<int64_t>* numbers) {
  if (tree.root < 0) return InvalidArgument("empty expression");
  std::map<int64_t, int> available;
  if (numbers != nullptr) {
    for (int64_t n : *numbers) ++available[n];
  }
  std::vector<Rational> value(tree.nodes.size());
  // Children precede parents, so one forward pass evaluates everything.
  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const ExprNode& n = tree.nodes[i];
    if (n.op == 0 && numbers == nullptr) {
      value[i] = Rational{n.value, 1};
      continue;
    }
    if (n.op == 0) {
      auto it = available.find(n.value);
      if (it == available.end()) return InvalidArgument("{} is not one of the numbers", n.value);
      if (it->second == 0) return InvalidArgument("{} is used more often than given", n.value);
      --it->second;
      value[i] = Rational{n.value, 1};
      continue;
    }
    const Rational a = value[n.left], b = value[n.right];
    if (n.op == '/' && b.num == 0) return InvalidArgument("division by zero");
    std::optional<Rational> r = RatApply(n.op, a, b);
    if (!r) return InvalidArgument("{} {} {} overflows", RatToString(a), n.op, RatToString(b));
    value[i] = *r;
  }
  return value[tree.root];
}

Result<Rational> EvaluateCountdown(std::string_view expression, const std::vector<int64_t>& numbers) {
  GORAE_ASSIGN_OR_RETURN(ExprTree tree, ParseExpr(expression));
  return EvaluateTree(tree, &numbers);
}

bool CountdownSolves(std::string_view answer, const std::vector<int64_t>& numbers, int64_t target) {
  std::string_view expr = answer;
  size_t eq = answer.find('=');
  if (eq != std::string_view::npos) {
    if (answer.find('=', eq + 1) != std::string_view::npos) return false;
    std::optional<Rational> claimed = ParseNumber(answer.substr(eq + 1));
    if (!claimed || *claimed != Rational{target, 1}) return false;
    expr = answer.substr(0, eq);
  }
  Result<Rational> v = EvaluateCountdown(expr, numbers);
  return v.ok() && *v == Rational{target, 1};
}

}  // namespace gorae::tasks
