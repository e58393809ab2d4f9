// Prompt wording of the built-in tasks (see templates.h).
#include "tasks/templates.h"

#include <cstdlib>

#include <fmt/format.h>

namespace gorae::tasks {
namespace {

// A small cursor for reading a prompt against its template.
struct Reader {
  std::string_view s;
  size_t i = 0;

  bool Lit(std::string_view lit) {
    if (s.substr(i, lit.size()) != lit) return false;
    i += lit.size();
    return true;
  }
  // Unsigned decimal, 1..kMaxDigits digits, no leading zeros. The bound keeps every product and
  // sum the worked solutions form far inside int64.
  static constexpr size_t kMaxDigits = 9;
  bool Uint(int64_t* v) {
    size_t start = i;
    int64_t x = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < kMaxDigits) x = x * 10 + (s[i++] - '0');
    if (i == start || (i < s.size() && s[i] >= '0' && s[i] <= '9')) return false;
    if (i - start > 1 && s[start] == '0') return false;
    *v = x;
    return true;
  }
  bool Int(int64_t* v) {
    bool neg = i < s.size() && s[i] == '-';
    if (neg) ++i;
    if (!Uint(v)) return false;
    if (neg) *v = -*v;
    return true;
  }
  bool Done() const { return i == s.size(); }
};

}  // namespace

std::string ArithmeticPrompt(const ArithmeticParams& q) { return fmt::format("What is {} {} {}?", q.a, q.op, q.b); }

std::optional<ArithmeticParams> ParseArithmeticPrompt(std::string_view prompt) {
  Reader r{prompt};
  ArithmeticParams q;
  if (!r.Lit("What is ") || !r.Uint(&q.a) || !r.Lit(" ")) return std::nullopt;
  if (r.i >= prompt.size()) return std::nullopt;
  q.op = prompt[r.i++];
  if (q.op != '+' && q.op != '-' && q.op != '*') return std::nullopt;
  if (!r.Lit(" ") || !r.Uint(&q.b) || !r.Lit("?") || !r.Done()) return std::nullopt;
  return q;
}

std::string LinearPrompt(const LinearParams& q) {
  std::string ax = q.a == 1 ? "x" : q.a == -1 ? "-x" : fmt::format("{}x", q.a);
  return fmt::format("Solve for x: {} {} {} = {}.", ax, q.b < 0 ? '-' : '+', std::llabs(q.b), q.c);
}

std::optional<LinearParams> ParseLinearPrompt(std::string_view prompt) {
  Reader r{prompt};
  LinearParams q;
  if (!r.Lit("Solve for x: ")) return std::nullopt;
  if (r.Lit("x")) {
    q.a = 1;
  } else if (r.Lit("-x")) {
    q.a = -1;
  } else if (!r.Int(&q.a) || q.a == 0 || !r.Lit("x")) {
    return std::nullopt;
  }
  bool minus;
  if (r.Lit(" + ")) {
    minus = false;
  } else if (r.Lit(" - ")) {
    minus = true;
  } else {
    return std::nullopt;
  }
  if (!r.Uint(&q.b) || !r.Lit(" = ") || !r.Int(&q.c) || !r.Lit(".") || !r.Done()) return std::nullopt;
  if (minus) q.b = -q.b;
  return q;
}

std::string CountdownPrompt(const std::vector<int64_t>& numbers, int64_t target) {
  std::string list;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (i > 0) list += i + 1 == numbers.size() ? " and " : ", ";
    list += fmt::format("{}", numbers[i]);
  }
  return fmt::format("Use the numbers {} to make {}. You may use + - * / and each number at most once.", list,
                     target);
}

}  // namespace gorae::tasks
