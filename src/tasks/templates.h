// The prompt wording of the built-in tasks, written and read back. Generators write prompts
// with these; worked solutions and file checks read a problem's parameters back from them.
// Parsing accepts exactly the generators' wording, with integers of at most 9 digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gorae::tasks {

// "What is {a} {op} {b}?", op one of + - *, a and b >= 0.
struct ArithmeticParams {
  int64_t a = 0;
  char op = '+';
  int64_t b = 0;
  int64_t Answer() const { return op == '+' ? a + b : op == '-' ? a - b : a * b; }
};
std::string ArithmeticPrompt(const ArithmeticParams& q);
std::optional<ArithmeticParams> ParseArithmeticPrompt(std::string_view prompt);

// "Solve for x: {a}x + {b} = {c}." with a != 0 written "x" / "-x" for 1 / -1, b written
// "+ 7", "- 84" or "+ 0".
struct LinearParams {
  int64_t a = 1, b = 0, c = 0;
};
std::string LinearPrompt(const LinearParams& q);
std::optional<LinearParams> ParseLinearPrompt(std::string_view prompt);

// "Use the numbers {n1}, {n2}, {n3} and {n4} to make {target}. You may use + - * / and each
// number at most once."
std::string CountdownPrompt(const std::vector<int64_t>& numbers, int64_t target);

}  // namespace gorae::tasks
