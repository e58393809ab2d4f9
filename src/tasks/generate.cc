// Problem generators for the built-in tasks, and the train / dev / test split.
//
// Split rule on h = Hash64(canonical form) % 10: dev when h == 0, test when h == 1, train
// otherwise (about 10% / 10% / 80%). The canonical form is "task|prompt" for arithmetic and
// linear (the prompt determines the problem) and "countdown|sorted numbers|target" for countdown.
// Generators draw candidates and keep those of the requested split, so no seed can ever produce
// a dev or test problem for training, or a test problem for dev.
//
// Dev is the former "heldout" split (h == 0), on which every setting in docs/r1.md was chosen;
// test (h == 1) was carved out of the former train split, so nothing has ever been tuned on it.
#include <algorithm>
#include <string>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tasks/rng.h"
#include "tasks/tasks.h"
#include "tasks/templates.h"

namespace gorae::tasks {
namespace {

constexpr uint64_t kSplitBuckets = 10;  // h == 0: dev, h == 1: test, else train

std::string CanonicalForm(const Problem& p) {
  if (p.task == "countdown") {
    std::vector<int64_t> sorted = p.numbers;
    std::sort(sorted.begin(), sorted.end());
    return fmt::format("countdown|{}|{}", fmt::join(sorted, ","), p.target);
  }
  return p.task + "|" + p.prompt;
}

// A number in lo..hi; with short operands, first a digit count (uniform over those the range
// has), then a number of that many digits within the range.
int64_t Operand(SplitMix64& rng, int64_t lo, int64_t hi, Sampling sampling) {
  if (sampling == Sampling::kTask) return rng.Range(lo, hi);
  const int max_digits = static_cast<int>(fmt::format("{}", hi).size());
  const int min_digits = static_cast<int>(fmt::format("{}", lo).size());
  const int digits = min_digits + static_cast<int>(rng.Below(static_cast<uint64_t>(max_digits - min_digits + 1)));
  int64_t first = 1;
  for (int i = 1; i < digits; ++i) first *= 10;
  const int64_t from = std::max(lo, digits == 1 ? 0 : first), to = std::min(hi, first * 10 - 1);
  return rng.Range(from, to);
}

Problem MakeArithmetic(SplitMix64& rng, Sampling sampling) {
  ArithmeticParams q;
  q.op = "+-*"[rng.Below(3)];
  if (q.op == '*') {
    q.a = Operand(rng, 2, 999, sampling);
    q.b = Operand(rng, 2, 99, sampling);
  } else {
    q.a = Operand(rng, 0, 9999, sampling);
    q.b = Operand(rng, 0, 9999, sampling);
  }
  Problem p;
  p.task = "arithmetic";
  p.prompt = ArithmeticPrompt(q);
  p.answer = fmt::format("{}", q.Answer());
  return p;
}

Problem MakeLinear(SplitMix64& rng, Sampling) {
  LinearParams q;
  q.a = rng.Range(1, 12) * (rng.Below(2) == 0 ? 1 : -1);
  q.b = rng.Range(-99, 99);
  const int64_t x = rng.Range(-50, 50);
  q.c = q.a * x + q.b;
  Problem p;
  p.task = "linear";
  p.prompt = LinearPrompt(q);
  p.answer = fmt::format("{}", x);
  return p;
}

// Countdown: four numbers drawn without replacement from the 29 cards {1, ..., 25, 25, 50, 75,
// 100} (so 25 may appear twice, every other number at most once). A random chain over 2 to 4
// of them builds the target: start from one number and repeatedly combine the running value v
// with a fresh number n by one of v+n, v-n, n-v, v*n, v/n, n/v, chosen uniformly among those
// whose result is a positive integer below 10000 (no multiplying or dividing by 1). The target
// must be in 1..999 and not one of the numbers. The chain, with the fewest parentheses, is the
// stored answer, so the target is reachable by construction.
constexpr int64_t kMaxIntermediate = 9999;

Problem MakeCountdown(SplitMix64& rng, Sampling) {
  static const std::vector<int64_t> kCards = [] {
    std::vector<int64_t> c;
    for (int64_t i = 1; i <= 25; ++i) c.push_back(i);
    for (int64_t big : {25, 50, 75, 100}) c.push_back(big);
    return c;
  }();
  for (;;) {
    std::vector<int64_t> cards = kCards;
    std::vector<int64_t> drawn;
    for (int i = 0; i < 4; ++i) {
      size_t j = rng.Below(cards.size());
      drawn.push_back(cards[j]);
      cards.erase(cards.begin() + static_cast<std::ptrdiff_t>(j));
    }
    const int k = 2 + static_cast<int>(rng.Below(3));  // numbers used
    int64_t v = drawn[0];
    std::string expr = fmt::format("{}", v);
    int prec = 3;  // precedence of expr's top operator: 1 for + -, 2 for * /, 3 for a literal
    bool ok = true;
    for (int i = 1; i < k && ok; ++i) {
      const int64_t n = drawn[i];
      struct Option {
        int64_t value;
        char kind;  // + - r * / q  (r: n - v, q: n / v)
      };
      std::vector<Option> options;
      auto offer = [&](int64_t value, char kind) {
        if (value >= 1 && value <= kMaxIntermediate) options.push_back({value, kind});
      };
      offer(v + n, '+');
      if (v > n) offer(v - n, '-');
      if (n > v) offer(n - v, 'r');
      if (v > 1 && n > 1) offer(v * n, '*');
      if (n > 1 && v % n == 0) offer(v / n, '/');
      if (v > 1 && n % v == 0) offer(n / v, 'q');
      if (options.empty()) {
        ok = false;
        break;
      }
      const Option o = options[rng.Below(options.size())];
      const std::string ns = fmt::format("{}", n);
      switch (o.kind) {
        case '+': expr = expr + "+" + ns; prec = 1; break;
        case '-': expr = expr + "-" + ns; prec = 1; break;
        case 'r': expr = ns + "-" + (prec <= 1 ? "(" + expr + ")" : expr); prec = 1; break;
        case '*': expr = (prec < 2 ? "(" + expr + ")" : expr) + "*" + ns; prec = 2; break;
        case '/': expr = (prec < 2 ? "(" + expr + ")" : expr) + "/" + ns; prec = 2; break;
        case 'q': expr = ns + "/" + (prec <= 2 ? "(" + expr + ")" : expr); prec = 2; break;
      }
      v = o.value;
    }
    if (!ok || v < 1 || v > 999) continue;
    if (std::find(drawn.begin(), drawn.end(), v) != drawn.end()) continue;
    Problem p;
    p.task = "countdown";
    p.numbers = drawn;
    std::sort(p.numbers.begin(), p.numbers.end());
    p.target = v;
    p.prompt = CountdownPrompt(p.numbers, p.target);
    p.answer = expr;
    return p;
  }
}

}  // namespace

Result<Split> ParseSplit(const std::string& name) {
  if (name == "train") return Split::kTrain;
  if (name == "dev") return Split::kDev;
  if (name == "test") return Split::kTest;
  if (name == "heldout") {
    return InvalidArgument("the split 'heldout' is now two: 'dev' (the same problems, for choosing settings) and "
                           "'test' (for reporting)");
  }
  return InvalidArgument("unknown split '{}' (expected train, dev or test)", name);
}

const char* SplitName(Split s) {
  switch (s) {
    case Split::kTrain: return "train";
    case Split::kDev: return "dev";
    case Split::kTest: return "test";
  }
  return "?";
}

const std::vector<std::string>& BuiltinTasks() {
  static const std::vector<std::string> kTasks = {"arithmetic", "linear", "countdown"};
  return kTasks;
}

Split ProblemSplit(const Problem& p) {
  const uint64_t h = Hash64(CanonicalForm(p)) % kSplitBuckets;
  return h == 0 ? Split::kDev : h == 1 ? Split::kTest : Split::kTrain;
}

Result<std::vector<Problem>> GenerateProblems(const std::string& task, Split split, int64_t n, uint64_t seed,
                                              Sampling sampling) {
  Problem (*make)(SplitMix64&, Sampling) = nullptr;
  if (task == "arithmetic") make = MakeArithmetic;
  if (task == "linear") make = MakeLinear;
  if (task == "countdown") make = MakeCountdown;
  if (make == nullptr) {
    return InvalidArgument("unknown task '{}' (built-in tasks: arithmetic, linear, countdown)", task);
  }
  constexpr int64_t kMaxProblems = 100000000;
  if (n < 0 || n > kMaxProblems) {
    return InvalidArgument("number of problems must be in 0..{} (got {})", kMaxProblems, n);
  }
  // The task name enters the seed so that different tasks draw independent streams.
  SplitMix64 rng(Mix64(seed) ^ Hash64(task));
  std::vector<Problem> out;
  out.reserve(static_cast<size_t>(n));
  std::unordered_set<std::string> seen;
  // Dev and test draws succeed 1 time in 10 and duplicates grow as n nears the task's size, so
  // allow generously many draws before concluding that n distinct problems do not exist.
  const int64_t max_draws = 100 * n + 10000;
  for (int64_t draws = 0; static_cast<int64_t>(out.size()) < n; ++draws) {
    if (draws >= max_draws) {
      return InvalidArgument("task '{}': could not find {} distinct {} problems (found {})", task, n,
                             SplitName(split), out.size());
    }
    Problem p = make(rng, sampling);
    if (ProblemSplit(p) != split) continue;
    if (!seen.insert(CanonicalForm(p)).second) continue;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace gorae::tasks
