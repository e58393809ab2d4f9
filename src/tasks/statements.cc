#include "tasks/statements.h"

#include <charconv>
#include <cstdint>
#include <optional>

#include "tasks/expr.h"

namespace gorae::tasks {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsOp(char c) { return c == '+' || c == '-' || c == '*' || c == '/'; }

// The integer of digits starting at text[*pos] (an optional leading '-'), advancing *pos.
std::optional<int64_t> ReadInt(std::string_view text, size_t* pos, bool allow_minus) {
  size_t p = *pos;
  const bool minus = allow_minus && p < text.size() && text[p] == '-';
  if (minus) ++p;
  const size_t start = p;
  while (p < text.size() && IsDigit(text[p])) ++p;
  if (p == start || p - start > 18) return std::nullopt;
  int64_t v = 0;
  std::from_chars(text.data() + start, text.data() + p, v);
  *pos = p;
  return minus ? -v : v;
}

}  // namespace

StatementCount CheckStatements(std::string_view text) {
  StatementCount count;
  size_t i = 0;
  while (i < text.size()) {
    // A left side starts at a digit that does not continue a number or an expression.
    if (!IsDigit(text[i]) || (i > 0 && (IsDigit(text[i - 1]) || IsOp(text[i - 1]) || text[i - 1] == '.'))) {
      ++i;
      continue;
    }
    size_t p = i;
    int operands = 0;
    char last_op = 0;
    bool only_division = true;
    while (p < text.size() && IsDigit(text[p])) {
      while (p < text.size() && IsDigit(text[p])) ++p;
      ++operands;
      if (p + 1 < text.size() && IsOp(text[p]) && IsDigit(text[p + 1])) {
        last_op = text[p];
        only_division = only_division && last_op == '/';
        ++p;
      } else {
        break;
      }
    }
    if (operands < 2 || p >= text.size() || text[p] != '=') {
      i = p + 1;
      continue;
    }
    const std::string_view lhs = text.substr(i, p - i);
    size_t q = p + 1;
    const std::optional<int64_t> rhs = ReadInt(text, &q, /*allow_minus=*/true);
    if (!rhs || (q < text.size() && (text[q] == '.' && q + 1 < text.size() && IsDigit(text[q + 1])))) {
      i = q + 1;  // "=" then no integer, or a decimal: not a statement of this form
      continue;
    }
    // "a/b=q rR": short division with a remainder.
    std::optional<int64_t> remainder;
    if (operands == 2 && only_division && q + 2 < text.size() && text[q] == ' ' && text[q + 1] == 'r' &&
        IsDigit(text[q + 2])) {
      size_t r = q + 2;
      remainder = ReadInt(text, &r, false);
      q = r;
    }
    ++count.total;
    const Result<ExprTree> tree = ParseExpr(lhs);
    bool right = false;
    if (tree.ok() && remainder) {
      const int64_t a = tree->nodes[static_cast<size_t>(tree->nodes[tree->root].left)].value;
      const int64_t b = tree->nodes[static_cast<size_t>(tree->nodes[tree->root].right)].value;
      right = b > 0 && *remainder >= 0 && *remainder < b && *rhs * b + *remainder == a;
    } else if (tree.ok()) {
      const Result<Rational> v = EvaluateTree(*tree, nullptr);
      right = v.ok() && *v == Rational{*rhs, 1};
    }
    count.wrong += right ? 0 : 1;
    i = q;
  }
  return count;
}

}  // namespace gorae::tasks
