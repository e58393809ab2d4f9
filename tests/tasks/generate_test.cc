// Generators: exact prompt wording, field ranges, distinctness, determinism, disjoint splits.
#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tasks/tasks.h"

namespace gorae::tasks {
namespace {

std::vector<Problem> Gen(const std::string& task, Split split, int64_t n, uint64_t seed) {
  Result<std::vector<Problem>> r = GenerateProblems(task, split, n, seed);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : std::vector<Problem>{};
}

TEST(Generate, ArithmeticWordingAndRanges) {
  const std::regex re(R"(^What is (\d+) ([-+*]) (\d+)\?$)");
  std::map<char, int> ops;
  for (const Problem& p : Gen("arithmetic", Split::kTrain, 3000, 7)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(p.prompt, m, re)) << p.prompt;
    const int64_t a = std::stoll(m[1]), b = std::stoll(m[3]);
    const char op = m[2].str()[0];
    ++ops[op];
    if (op == '*') {
      EXPECT_TRUE(a >= 2 && a <= 999 && b >= 2 && b <= 99) << p.prompt;
      EXPECT_EQ(p.answer, std::to_string(a * b));
    } else {
      EXPECT_TRUE(a >= 0 && a <= 9999 && b >= 0 && b <= 9999) << p.prompt;
      EXPECT_EQ(p.answer, std::to_string(op == '+' ? a + b : a - b));
    }
    EXPECT_EQ(p.task, "arithmetic");
  }
  for (char op : {'+', '-', '*'}) EXPECT_GT(ops[op], 800) << op;  // about a third each
}

TEST(Generate, ShortOperandsSpreadLengthsWithinTheRanges) {
  const std::regex re(R"(^What is (\d+) ([-+*]) (\d+)\?$)");
  Result<std::vector<Problem>> ps = GenerateProblems("arithmetic", Split::kTrain, 4000, 7, Sampling::kShortOperands);
  ASSERT_TRUE(ps.ok());
  std::map<size_t, int> sum_lengths;  // digits of a in a + b and a - b
  for (const Problem& p : *ps) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(p.prompt, m, re)) << p.prompt;
    const int64_t a = std::stoll(m[1]), b = std::stoll(m[3]);
    if (m[2].str()[0] == '*') {
      EXPECT_TRUE(a >= 2 && a <= 999 && b >= 2 && b <= 99) << p.prompt;
    } else {
      EXPECT_TRUE(a >= 0 && a <= 9999 && b >= 0 && b <= 9999) << p.prompt;
      ++sum_lengths[m[1].str().size()];
    }
    EXPECT_EQ(ProblemSplit(p), Split::kTrain);
  }
  // Uniform over 1..4 digits (the task's own distribution gives 4 digits 90% of the time). One-
  // digit pairs run out (100 distinct sums), so 1 digit is a little rarer.
  ASSERT_EQ(sum_lengths.size(), 4u);
  for (size_t d = 2; d <= 4; ++d) EXPECT_GT(sum_lengths[d], 500) << d;
  EXPECT_GT(sum_lengths[1], 150);
  // The other tasks ignore the sampling.
  EXPECT_EQ(Gen("linear", Split::kTrain, 50, 3)[7].prompt,
            (*GenerateProblems("linear", Split::kTrain, 50, 3, Sampling::kShortOperands))[7].prompt);
}

TEST(Generate, LinearWordingAndRanges) {
  const std::regex re(R"(^Solve for x: (-?\d*)x ([-+]) (\d+) = (-?\d+)\.$)");
  bool saw_x = false, saw_minus_x = false, saw_zero_b = false, saw_negative_b = false;
  for (const Problem& p : Gen("linear", Split::kTrain, 3000, 7)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(p.prompt, m, re)) << p.prompt;
    const std::string coef = m[1];
    ASSERT_NE(coef, "1");
    ASSERT_NE(coef, "-1");
    ASSERT_NE(coef, "0");
    const int64_t a = coef.empty() ? 1 : coef == "-" ? -1 : std::stoll(coef);
    saw_x |= a == 1;
    saw_minus_x |= a == -1;
    const int64_t b = (m[2] == "-" ? -1 : 1) * std::stoll(m[3]);
    if (m[2] == "-") {
      ASSERT_NE(m[3], "0") << "zero is written + 0";
    }
    saw_zero_b |= b == 0;
    saw_negative_b |= b < 0;
    const int64_t c = std::stoll(m[4]), x = std::stoll(p.answer);
    EXPECT_TRUE(a >= -12 && a <= 12 && a != 0) << p.prompt;
    EXPECT_TRUE(b >= -99 && b <= 99) << p.prompt;
    EXPECT_TRUE(x >= -50 && x <= 50) << p.prompt;
    EXPECT_EQ(a * x + b, c) << p.prompt;
  }
  EXPECT_TRUE(saw_x && saw_minus_x && saw_zero_b && saw_negative_b);
}

TEST(Generate, CountdownWordingRangesAndReachable) {
  const std::regex re(
      R"(^Use the numbers (\d+), (\d+), (\d+) and (\d+) to make (\d+)\. You may use \+ - \* / and each number at most once\.$)");
  std::set<size_t> used_counts;
  for (const Problem& p : Gen("countdown", Split::kTrain, 3000, 7)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(p.prompt, m, re)) << p.prompt;
    ASSERT_EQ(p.numbers.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(std::stoll(m[i + 1]), p.numbers[i]);
    EXPECT_EQ(std::stoll(m[5]), p.target);
    EXPECT_TRUE(std::is_sorted(p.numbers.begin(), p.numbers.end()));
    std::map<int64_t, int> count;
    for (int64_t n : p.numbers) {
      EXPECT_TRUE((n >= 1 && n <= 25) || n == 50 || n == 75 || n == 100) << p.prompt;
      ++count[n];
    }
    for (auto [n, c] : count) EXPECT_LE(c, n == 25 ? 2 : 1) << p.prompt;
    EXPECT_TRUE(p.target >= 1 && p.target <= 999) << p.prompt;
    EXPECT_EQ(count.count(p.target), 0u) << "target is one of the numbers: " << p.prompt;
    EXPECT_TRUE(CountdownSolves(p.answer, p.numbers, p.target)) << p.prompt << " answer " << p.answer;
    Result<Rational> v = EvaluateCountdown(p.answer, p.numbers);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, (Rational{p.target, 1}));
    used_counts.insert(static_cast<size_t>(std::count_if(p.answer.begin(), p.answer.end(),
                                                         [](char c) { return c == '+' || c == '-' || c == '*' || c == '/'; })));
  }
  EXPECT_EQ(used_counts, (std::set<size_t>{1, 2, 3}));  // chains over 2, 3 and 4 numbers
}

TEST(Generate, DistinctAndDeterministic) {
  for (const std::string& task : BuiltinTasks()) {
    std::vector<Problem> a = Gen(task, Split::kTrain, 2000, 42), b = Gen(task, Split::kTrain, 2000, 42);
    std::vector<Problem> c = Gen(task, Split::kTrain, 2000, 43);
    ASSERT_EQ(a.size(), 2000u);
    std::set<std::string> prompts;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].prompt, b[i].prompt);
      EXPECT_EQ(a[i].answer, b[i].answer);
      prompts.insert(a[i].prompt);
    }
    EXPECT_EQ(prompts.size(), a.size()) << task << ": duplicates";
    int same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i].prompt == c[i].prompt;
    EXPECT_LT(same, 100) << task << ": seeds 42 and 43 give nearly the same problems";
    // A prefix of a longer request is the shorter request.
    std::vector<Problem> shorter = Gen(task, Split::kTrain, 10, 42);
    for (size_t i = 0; i < shorter.size(); ++i) EXPECT_EQ(shorter[i].prompt, a[i].prompt);
  }
}

TEST(Generate, TrainDevAndTestNeverOverlap) {
  for (const std::string& task : BuiltinTasks()) {
    std::map<Split, std::set<std::string>> seen;
    for (uint64_t seed : {1, 2, 3}) {  // 3000 of each per seed
      for (Split split : {Split::kTrain, Split::kDev, Split::kTest}) {
        for (const Problem& p : Gen(task, split, 3000, seed)) {
          EXPECT_EQ(ProblemSplit(p), split);
          seen[split].insert(p.prompt);
        }
      }
    }
    for (Split a : {Split::kTrain, Split::kDev, Split::kTest}) {
      for (Split b : {Split::kTrain, Split::kDev, Split::kTest}) {
        if (a == b) continue;
        for (const std::string& s : seen[a]) {
          ASSERT_EQ(seen[b].count(s), 0u) << task << ": " << s << " is in " << SplitName(a) << " and " << SplitName(b);
        }
      }
    }
    EXPECT_GT(seen[Split::kDev].size(), 3000u);
    EXPECT_GT(seen[Split::kTest].size(), 3000u);
  }
}

TEST(Generate, DevAndTestAreAboutTenPercentEach) {
  // The split hash over all 10000 sums of two numbers below 100.
  std::map<Split, int> count;
  int total = 0;
  for (int a = 0; a < 100; ++a) {
    for (int b = 0; b < 100; ++b) {
      Problem p;
      p.task = "arithmetic";
      p.prompt = "What is " + std::to_string(a) + " + " + std::to_string(b) + "?";
      ++count[ProblemSplit(p)];
      ++total;
    }
  }
  for (Split s : {Split::kDev, Split::kTest}) {
    EXPECT_GT(count[s], total * 8 / 100) << SplitName(s);
    EXPECT_LT(count[s], total * 12 / 100) << SplitName(s);
  }
}

TEST(Generate, CountdownSplitIgnoresNumberOrder) {
  Problem a;
  a.task = "countdown";
  a.numbers = {3, 7, 25, 100};
  a.target = 93;
  Problem b = a;
  b.numbers = {100, 25, 7, 3};
  b.prompt = "a differently worded prompt";
  EXPECT_EQ(ProblemSplit(a), ProblemSplit(b));
}

TEST(Generate, Errors) {
  Result<std::vector<Problem>> r = GenerateProblems("sudoku", Split::kTrain, 5, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sudoku"), std::string::npos);
  EXPECT_FALSE(GenerateProblems("linear", Split::kTrain, -1, 1).ok());
  EXPECT_FALSE(GenerateProblems("linear", Split::kTrain, INT64_MAX, 1).ok());  // no huge allocation
  Result<std::vector<Problem>> none = GenerateProblems("linear", Split::kTrain, 0, 1);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Split, Names) {
  EXPECT_EQ(*ParseSplit("train"), Split::kTrain);
  EXPECT_EQ(*ParseSplit("dev"), Split::kDev);
  EXPECT_EQ(*ParseSplit("test"), Split::kTest);
  EXPECT_STREQ(SplitName(Split::kDev), "dev");
  EXPECT_STREQ(SplitName(Split::kTest), "test");
  Result<Split> bad = ParseSplit("validation");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("validation"), std::string::npos);
  // The old name is refused with what replaced it.
  Result<Split> old = ParseSplit("heldout");
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("'dev'"), std::string::npos) << old.status().message();
  EXPECT_EQ(BuiltinTasks(), (std::vector<std::string>{"arithmetic", "linear", "countdown"}));
}

}  // namespace
}  // namespace gorae::tasks
