// Worked solutions (the reasoning inside <think>), R1-format responses, and the pretraining
// corpus. The traces are written for a tiny model whose tokenizer splits digits: every step is
// local and mechanical, and the same sub-step is always phrased the same way (column.h).
//
// Arithmetic: one column block (Add / Subtract / Multiply, column.h).
// Linear "Solve for x: -4x - 84 = 16.":
//   Add 84 to both sides: -4x=16+84.          (b = 0: "Nothing to move: -4x=16.")
//   Add 16+84: ... 16+84=100                  (signed: column.h SignedAddSubSteps)
//   -4x=100
//   Divide both sides by -4: x=100/(-4).
//   Signs differ, so x is negative.           (or "Same signs, so x is positive.")
//   Divide 100/4: ... 100/4=25                (short division, column.h)
//   So x=-25.
// Countdown: the game state written out. One "Try" of the two largest numbers (the operation
// landing nearest the target) that the solution does not start with is shown and dropped; then
// the steps of the stored solution in evaluation order, each with the numbers left and the
// distance to the target; then "So {answer}={target}.".
#include <algorithm>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "tasks/column.h"
#include "tasks/expr.h"
#include "tasks/rational.h"
#include "tasks/rng.h"
#include "tasks/tasks.h"
#include "tasks/templates.h"

namespace gorae::tasks {
namespace {

std::string Fallback(const Problem& p) { return fmt::format("The answer is {}.", AnswerText(p)); }

std::string ArithmeticSolution(const ArithmeticParams& q) {
  std::string out;
  switch (q.op) {
    case '+': AddSteps(q.a, q.b, &out); break;
    case '-': SignedAddSubSteps(q.a, '-', q.b, &out); break;
    default: MultiplySteps(q.a, q.b, &out); break;
  }
  return out;
}

std::string LinearFallback(const LinearParams& q);

std::string XTerm(int64_t a) { return a == 1 ? "x" : a == -1 ? "-x" : fmt::format("{}x", a); }
std::string Paren(int64_t v) { return v < 0 ? fmt::format("({})", v) : fmt::format("{}", v); }

std::string LinearSolution(const LinearParams& q) {
  std::string out;
  const std::string ax = XTerm(q.a);
  int64_t r = q.c;
  if (q.b == 0) {
    out += fmt::format("Nothing to move: {}={}.\n", ax, q.c);
  } else {
    const char op = q.b > 0 ? '-' : '+';
    const int64_t m = std::llabs(q.b);
    out += fmt::format("{} {} {} both sides: {}={}{}{}.\n", op == '-' ? "Subtract" : "Add", m, op == '-' ? "from" : "to", ax, q.c, op, m);
    r = SignedAddSubSteps(q.c, op, m, &out);
    out += fmt::format("{}={}\n", ax, r);
  }
  if (q.a == 1) {
    out += fmt::format("So x={}.", r);
    return out;
  }
  if (q.a == -1) {
    out += fmt::format("Divide both sides by -1: x={}.\nSo x={}.", -r, -r);
    return out;
  }
  out += fmt::format("Divide both sides by {}: x={}/{}.\n", q.a, r, Paren(q.a));
  if (r == 0) {
    out += "0 divided by any number is 0.\nSo x=0.";
    return out;
  }
  const bool negative = (r < 0) != (q.a < 0);
  out += negative ? "Signs differ, so x is negative.\n" : "Same signs, so x is positive.\n";
  const int64_t ar = std::llabs(r), aa = std::llabs(q.a), quotient = ar / aa;
  if (ar % aa != 0) return LinearFallback(q);  // no integer solution: not a valid problem
  DivideSteps(ar, aa, &out);
  out += fmt::format("So x={}.", negative ? -quotient : quotient);
  return out;
}

std::string LinearFallback(const LinearParams& q) {
  return fmt::format("{}={} has no integer solution.", XTerm(q.a), q.c - q.b);
}

std::string Distance(Rational v, int64_t target) {
  int64_t gap;
  if (!IsInteger(v) || __builtin_sub_overflow(v.num, target, &gap) || gap == INT64_MIN) return "";
  if (gap == 0) return fmt::format(" {} is the target.", target);
  if (gap > 0) return fmt::format(" {} is {} above {}.", v.num, gap, target);
  return fmt::format(" {} is {} below {}.", v.num, -gap, target);
}

std::string JoinValues(const std::vector<Rational>& vs) {
  std::string s;
  for (const Rational& v : vs) {
    if (!s.empty()) s += ' ';
    s += RatToString(v);
  }
  return s;
}

std::string CountdownSolution(const Problem& p) {
  Result<ExprTree> parsed = ParseExpr(AnswerText(p));
  if (!parsed.ok() || !CountdownSolves(AnswerText(p), p.numbers, p.target)) return Fallback(p);
  const ExprTree& tree = *parsed;
  std::vector<Rational> left;
  for (int64_t n : p.numbers) left.push_back({n, 1});
  std::string out = fmt::format("Numbers: {}. Target: {}.\n", JoinValues(left), p.target);

  // The solution's steps in evaluation order (children precede parents in the tree).
  std::vector<Rational> value(tree.nodes.size());
  std::vector<std::string> steps;
  std::string first_step;
  for (size_t i = 0; i < tree.nodes.size(); ++i) {
    const ExprNode& n = tree.nodes[i];
    if (n.op == 0) {
      value[i] = {n.value, 1};
      continue;
    }
    const Rational a = value[n.left], b = value[n.right];
    value[i] = *RatApply(n.op, a, b);  // EvaluateTree succeeded, so no step overflows
    const std::string eq = fmt::format("{}{}{}={}", RatToString(a), n.op, RatToString(b), RatToString(value[i]));
    if (first_step.empty()) first_step = eq;
    for (const Rational& used : {a, b}) {
      auto it = std::find(left.begin(), left.end(), used);
      if (it != left.end()) left.erase(it);
    }
    left.push_back(value[i]);
    steps.push_back(fmt::format("{}. Left: {}.{}\n", eq, JoinValues(left), Distance(value[i], p.target)));
  }

  // One try with the two largest numbers, the operation that lands nearest the target.
  if (p.numbers.size() >= 2) {
    std::vector<int64_t> sorted = p.numbers;
    std::sort(sorted.begin(), sorted.end());
    const int64_t x = sorted[sorted.size() - 1], y = sorted[sorted.size() - 2];
    std::string best;
    int64_t best_value = 0;
    __int128 best_gap = -1;
    for (char op : {'+', '-', '*', '/'}) {
      if (op == '/' && (y == 0 || x % y != 0)) continue;
      std::optional<Rational> r = RatApply(op, {x, 1}, {y, 1});
      if (!r) continue;
      const __int128 gap = static_cast<__int128>(r->num) - p.target;
      const __int128 abs_gap = gap < 0 ? -gap : gap;
      if (best_gap < 0 || abs_gap < best_gap) {
        best_gap = abs_gap;
        best_value = r->num;
        best = fmt::format("{}{}{}={}", x, op, y, r->num);
      }
    }
    if (!best.empty() && best != first_step && best_value != p.target) {
      out += fmt::format("Try {}.{} Drop it.\n", best, Distance({best_value, 1}, p.target));
    }
  }
  for (const std::string& s : steps) out += s;
  out += fmt::format("So {}={}.", AnswerText(p), p.target);
  return out;
}

}  // namespace

std::string WorkedSolution(const Problem& p) {
  if (p.task == "arithmetic") {
    if (auto q = ParseArithmeticPrompt(p.prompt)) {
      std::string s = ArithmeticSolution(*q);
      if (!s.empty() && s.back() == '\n') s.pop_back();
      return s;
    }
  } else if (p.task == "linear") {
    if (auto q = ParseLinearPrompt(p.prompt)) return LinearSolution(*q);
  } else if (p.task == "countdown") {
    return CountdownSolution(p);
  }
  return Fallback(p);
}

std::string R1Response(const Problem& p) {
  return "<think>\n" + WorkedSolution(p) + "\n</think>\n\n<answer>" + AnswerText(p) + "</answer>";
}

std::vector<std::string> FactDrills(int64_t documents, uint64_t seed) {
  constexpr int kFactsPerDocument = 24;
  SplitMix64 rng(Mix64(seed) ^ Hash64("fact drills"));
  std::vector<std::string> out;
  for (int64_t d = 0; d < documents; ++d) {
    std::string doc = "Facts:\n";
    for (int i = 0; i < kFactsPerDocument; ++i) {
      const uint64_t kind = rng.Below(20);  // 7 add : 5 subtract : 5 multiply : 3 divide
      const int x = static_cast<int>(rng.Below(10)), y = static_cast<int>(rng.Below(10));
      if (kind < 7) {
        doc += AddFact(x, y, static_cast<int>(rng.Below(2)));
      } else if (kind < 12) {
        doc += SubtractFact(x, y, static_cast<int>(rng.Below(2)));
      } else if (kind < 17) {
        const int m = 2 + static_cast<int>(rng.Below(8));  // the carry into a column is below m
        doc += MultiplyFact(x, m, static_cast<int>(rng.Below(static_cast<uint64_t>(m))));
      } else {
        const int64_t m = rng.Range(2, 12), r = rng.Range(0, m - 1);  // remainder, then next digit
        doc += DivideFact(r * 10 + x, m);
      }
      doc += '\n';
    }
    out.push_back(std::move(doc));
  }
  return out;
}

std::vector<std::string> PretrainingCorpus(int64_t documents, uint64_t seed, Sampling sampling) {
  std::vector<std::string> out;
  if (documents <= 0) return out;
  const std::vector<std::string>& tasks = BuiltinTasks();
  const int64_t k = static_cast<int64_t>(tasks.size());
  // Problems per task come in chunks of distinct problems (a chunk stays well inside every
  // task's size); beyond one chunk a problem may recur, which only matters past 300k documents.
  constexpr int64_t kChunk = 100000;
  std::vector<std::vector<Problem>> pools(tasks.size());
  std::vector<size_t> next(tasks.size(), 0);
  std::vector<uint64_t> chunk(tasks.size(), 0);
  for (int64_t d = 0; d < documents; ++d) {
    const size_t t = static_cast<size_t>(d % k);
    if (next[t] == pools[t].size()) {
      const int64_t remaining = (documents - d + k - 1) / k;
      Result<std::vector<Problem>> g =
          GenerateProblems(tasks[t], Split::kTrain, std::min(remaining, kChunk), seed + 0x9e37ull * chunk[t]++, sampling);
      pools[t] = g.ok() ? std::move(g).value() : std::vector<Problem>{};
      next[t] = 0;
      if (pools[t].empty()) continue;  // cannot happen for built-in tasks
    }
    const Problem& p = pools[t][next[t]++];
    out.push_back(fmt::format("Question: {}\nReasoning:\n{}\nAnswer: {}\n", p.prompt, WorkedSolution(p), AnswerText(p)));
  }
  return out;
}

}  // namespace gorae::tasks
