// Countdown expressions: a recursive-descent parser into a small tree, and exact evaluation.
//
// Grammar (whitespace allowed between tokens):
//   expr   := term (('+' | '-') term)*
//   term   := factor (('*' | '/') factor)*
//   factor := integer | '(' expr ')'
// Integers are unsigned decimal literals without leading zeros (at most 18 digits). There is no
// unary minus or plus: every value a solution needs is reachable without it, and refusing it
// keeps "numbers used" unambiguous. Input is bounded (kMaxExprChars, kMaxExprDepth), so parsing
// never recurses deeply or runs long on hostile text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tasks/tasks.h"

namespace gorae::tasks {

inline constexpr size_t kMaxExprChars = 200;
inline constexpr int kMaxExprDepth = 32;

struct ExprNode {
  char op = 0;         // 0 for a literal, else + - * /
  int64_t value = 0;   // the literal
  int left = -1;       // child indices into ExprTree::nodes
  int right = -1;
};

struct ExprTree {
  std::vector<ExprNode> nodes;  // children before parents; the root is last
  int root = -1;
};

Result<ExprTree> ParseExpr(std::string_view text);

// Evaluates exactly. With `numbers`, first checks that each literal is available in it (a
// multiset: countdown's rule); nullptr allows any literal.
Result<Rational> EvaluateTree(const ExprTree& tree, const std::vector<int64_t>* numbers);

}  // namespace gorae::tasks
