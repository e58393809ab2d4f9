// Answer extraction, the R1 format, number normalisation, and the countdown expression verifier.
#include <string>

#include <gtest/gtest.h>

#include "tasks/tasks.h"

namespace gorae::tasks {
namespace {

std::optional<Rational> Num(std::string_view s) { return ParseNumber(s); }
Rational R(int64_t n, int64_t d = 1) { return {n, d}; }

TEST(ExtractAnswer, TagsBoxedAndThink) {
  EXPECT_EQ(ExtractAnswer("<answer>42</answer>"), "42");
  EXPECT_EQ(ExtractAnswer("<answer> 1 </answer> then <answer>2</answer>"), "2");  // the last one
  EXPECT_EQ(ExtractAnswer("so \\boxed{7} or rather \\boxed{8}"), "8");
  EXPECT_EQ(ExtractAnswer("\\boxed{\\frac{1}{2}}"), "\\frac{1}{2}");  // nested braces
  EXPECT_EQ(ExtractAnswer("<answer>5</answer> \\boxed{6}"), "5");      // tags win over boxed
  // Only the part after </think> counts.
  EXPECT_EQ(ExtractAnswer("<think>maybe <answer>1</answer></think><answer>2</answer>"), "2");
  EXPECT_EQ(ExtractAnswer("<think>maybe <answer>1</answer></think> no answer"), std::nullopt);
  EXPECT_EQ(ExtractAnswer("<think>\\boxed{3}</think>"), std::nullopt);
  // No </think>: the whole text.
  EXPECT_EQ(ExtractAnswer("plain <answer>9</answer>"), "9");
  EXPECT_EQ(ExtractAnswer("nothing here"), std::nullopt);
  EXPECT_EQ(ExtractAnswer(""), std::nullopt);
  EXPECT_EQ(ExtractAnswer("<answer>unclosed"), std::nullopt);
  EXPECT_EQ(ExtractAnswer("</answer><answer>"), std::nullopt);
}

TEST(ExtractAnswer, UnbalancedBoxed) {
  EXPECT_EQ(ExtractAnswer("\\boxed{12"), std::nullopt);            // truncated
  EXPECT_EQ(ExtractAnswer("\\boxed{5} and \\boxed{12"), "5");     // the last complete one
  EXPECT_EQ(ExtractAnswer("\\boxed{{1}"), std::nullopt);
  EXPECT_EQ(ExtractAnswer("\\boxed{1}}"), "1");
}

TEST(HasR1Format, AcceptsAndRejects) {
  EXPECT_TRUE(HasR1Format("<think>\nsteps\n</think>\n\n<answer>5</answer>"));
  EXPECT_TRUE(HasR1Format("  <think>a</think>\\boxed{5}  \n"));
  EXPECT_TRUE(HasR1Format("<think></think><answer>x = 5</answer>"));
  EXPECT_FALSE(HasR1Format("<answer>5</answer>"));                              // no think
  EXPECT_FALSE(HasR1Format("hello <think>a</think><answer>5</answer>"));         // text before
  EXPECT_FALSE(HasR1Format("<think>a</think>so <answer>5</answer>"));            // text between
  EXPECT_FALSE(HasR1Format("<think>a</think><answer>5</answer> more"));          // text after
  EXPECT_FALSE(HasR1Format("<think>a</think>"));                                 // no answer
  EXPECT_FALSE(HasR1Format("<think>a"));                                         // unclosed
  EXPECT_FALSE(HasR1Format("<think>a<think>b</think><answer>5</answer>"));       // two blocks
  EXPECT_FALSE(HasR1Format("<think>a</think><answer>5</answer><answer>6</answer>"));
  EXPECT_FALSE(HasR1Format("<think>a</think><answer>5</think></answer>"));
  EXPECT_FALSE(HasR1Format("<think>a</think><answer>  </answer>"));              // empty answer
  EXPECT_FALSE(HasR1Format("<think>a</think>\\boxed{5"));                        // unbalanced
  EXPECT_FALSE(HasR1Format("<think>a</think>\\boxed{5} x"));
}

TEST(ParseNumber, Accepted) {
  EXPECT_EQ(Num("936"), R(936));
  EXPECT_EQ(Num("+936"), R(936));
  EXPECT_EQ(Num("-5"), R(-5));
  EXPECT_EQ(Num("  -5 \n"), R(-5));
  EXPECT_EQ(Num("1,234"), R(1234));
  EXPECT_EQ(Num("-1,234,567"), R(-1234567));
  EXPECT_EQ(Num("936.0"), R(936));
  EXPECT_EQ(Num("936.00"), R(936));
  EXPECT_EQ(Num("x = -5"), R(-5));
  EXPECT_EQ(Num("x=-5"), R(-5));
  EXPECT_EQ(Num("42."), R(42));
  EXPECT_EQ(Num("x = 7."), R(7));
  EXPECT_EQ(Num("-0"), R(0));
  EXPECT_EQ(Num("0.5"), R(1, 2));
  EXPECT_EQ(Num("10/2"), R(5));
  EXPECT_EQ(Num("-7 / 2"), R(-7, 2));
}

TEST(ParseNumber, Rejected) {
  for (const char* s : {"", " ", "12abc", "abc", "1e5", "1E5", "--5", "+-5", "12,34", "1234,567", "1,2345", ",123",
                        "1,", ".5", "5..", "x", "x =", "5/0", "1/", "0x10", "12 34", "1234567890123456789",
                        "3.14.15", "five", "\\frac{1}{2}"}) {
    EXPECT_EQ(Num(s), std::nullopt) << "'" << s << "'";
  }
}

Problem Numeric(const std::string& task, const std::string& answer) {
  Problem p;
  p.task = task;
  p.answer = answer;
  return p;
}

TEST(Verify, NumericTasks) {
  const Problem p = Numeric("arithmetic", "936");
  for (const char* good : {"936", "+936", "936.0", "936.", " 936 "}) {
    Verdict v = Verify(p, std::string("<think>a</think><answer>") + good + "</answer>");
    EXPECT_TRUE(v.correct) << good;
    EXPECT_TRUE(v.formatted) << good;
  }
  for (const char* bad : {"935", "936.5", "9360/10.5", "936abc", "1e5", "", "1872/2 wait"}) {
    Verdict v = Verify(p, std::string("<think>a</think><answer>") + bad + "</answer>");
    EXPECT_FALSE(v.correct) << bad;
  }
  EXPECT_TRUE(Verify(p, "<answer>1872/2</answer>").correct);  // a fraction equal to the integer
  Verdict boxed = Verify(p, "the answer is \\boxed{936}");
  EXPECT_TRUE(boxed.correct);
  EXPECT_FALSE(boxed.formatted);
  EXPECT_EQ(boxed.extracted, "936");
  Verdict none = Verify(p, "936");
  EXPECT_FALSE(none.correct);
  EXPECT_EQ(none.extracted, "");
  EXPECT_TRUE(Verify(Numeric("linear", "-5"), "<answer>x = -5</answer>").correct);
  EXPECT_FALSE(Verify(Numeric("linear", "-5"), "<answer>x = 5</answer>").correct);
}

TEST(Verify, UserTasks) {
  EXPECT_TRUE(Verify(Numeric("trivia", "Paris"), "<answer> Paris </answer>").correct);
  EXPECT_FALSE(Verify(Numeric("trivia", "Paris"), "<answer>paris</answer>").correct);
  EXPECT_TRUE(Verify(Numeric("physics", "0.5"), "<answer>1/2</answer>").correct);
  EXPECT_TRUE(Verify(Numeric("physics", "1,000"), "<answer>1000.0</answer>").correct);
  EXPECT_FALSE(Verify(Numeric("physics", "0.5"), "<answer>0.25</answer>").correct);
}

TEST(Countdown, Evaluates) {
  const std::vector<int64_t> nums = {4, 5, 25, 100};
  EXPECT_EQ(*EvaluateCountdown("25*4-5", nums), R(95));
  EXPECT_EQ(*EvaluateCountdown(" ( ( 100 - 4 ) ) / ( 25 - 5 ) ", nums), R(24, 5));
  EXPECT_EQ(*EvaluateCountdown("(25-5)/4*100", nums), R(500));  // 20/4 = 5 exactly
  EXPECT_EQ(*EvaluateCountdown("5/4*100", nums), R(125));        // a fraction on the way back to an integer
  EXPECT_EQ(*EvaluateCountdown("100/(25/5)", nums), R(20));
  EXPECT_EQ(*EvaluateCountdown("100-25-5", nums), R(70));        // left associative
  EXPECT_EQ(*EvaluateCountdown("100/5/4", nums), R(5));
  EXPECT_EQ(*EvaluateCountdown("100", nums), R(100));
  EXPECT_TRUE(CountdownSolves("5/4*100", nums, 125));
  EXPECT_TRUE(CountdownSolves("25*4-5 = 95", nums, 95));
  EXPECT_TRUE(CountdownSolves("25*4-5=95.", nums, 95));
  EXPECT_FALSE(CountdownSolves("25*4-5 = 96", nums, 96));  // claims a value it does not have
  EXPECT_FALSE(CountdownSolves("25*4-5 = 94", nums, 95));
  EXPECT_FALSE(CountdownSolves("25*4 = 100 = 100", nums, 100));
  EXPECT_TRUE(CountdownSolves("100/(25-5)", nums, 5));
  EXPECT_FALSE(CountdownSolves("100/(25-5)", nums, 4));
}

TEST(Countdown, Rejects) {
  const std::vector<int64_t> nums = {4, 5, 25, 100};
  auto bad = [&](const std::string& e, const std::string& why) {
    Result<Rational> r = EvaluateCountdown(e, nums);
    ASSERT_FALSE(r.ok()) << e;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << e << ": " << r.status().message();
  };
  bad("25*4*4", "used more often");       // 4 appears once
  bad("25+7", "not one of the numbers");
  bad("100/(5-5)", "used more often");     // 5 appears once
  bad("-5+25", "unary");
  bad("+5", "unary");
  bad("25*(4", "expected ')'");
  bad("25*4)", "unexpected ')'");
  bad("25 4", "unexpected '4'");
  bad("25**4", "expected a number");
  bad("", "at the end");
  bad("25*", "at the end");
  bad("2.5*4", "unexpected '.'");
  bad("025*4", "leading zero");
  bad("25x4", "unexpected 'x'");
  bad(std::string(201, '1'), "characters");
  bad(std::string(40, '(') + "5" + std::string(40, ')'), "nested deeper");
  bad("1234567890123456789", "too long");
  // Division by zero needs a zero from the numbers themselves.
  Result<Rational> z = EvaluateCountdown("4/(25-25)", {4, 25, 25});
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.status().message().find("division by zero"), std::string::npos);
  EXPECT_FALSE(CountdownSolves("4/(25-25)", {4, 25, 25}, 1));
}

TEST(Countdown, RepeatedNumbersCountedAsGiven) {
  EXPECT_TRUE(CountdownSolves("25+25", {25, 25, 3}, 50));
  EXPECT_FALSE(CountdownSolves("25+25+25", {25, 25, 3}, 75));
}

TEST(Countdown, OverflowIsWrongNotACrash) {
  const int64_t big = 1000000000000;  // 1e12
  const std::vector<int64_t> nums = {big, big, big, 7};
  Result<Rational> r = EvaluateCountdown("1000000000000*1000000000000*1000000000000", nums);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("overflow"), std::string::npos);
  EXPECT_FALSE(CountdownSolves("1000000000000*1000000000000*1000000000000", nums, 0));
  // Overflowing denominators too: 7/1e12/1e12.
  EXPECT_FALSE(EvaluateCountdown("7/1000000000000/1000000000000", nums).ok());
  // A value that fits after reduction is fine: 1e12*1e12/1e12.
  EXPECT_EQ(*EvaluateCountdown("1000000000000/1000000000000*7", nums), R(7));
}

TEST(Countdown, HugeAndHostileInputs) {
  const std::vector<int64_t> nums = {1, 2, 3, 4};
  EXPECT_FALSE(CountdownSolves(std::string(100000, '('), nums, 1));
  EXPECT_FALSE(CountdownSolves(std::string(100000, '1'), nums, 1));
  EXPECT_FALSE(CountdownSolves("1+2+3+4" + std::string(10000, ' '), nums, 10));  // over the length bound
  EXPECT_FALSE(CountdownSolves(std::string("1+2\0+3", 6), nums, 6));
  EXPECT_FALSE(CountdownSolves("\xff\xfe", nums, 1));
  EXPECT_TRUE(CountdownSolves("((((1+2))))*((3))+4", nums, 13));
}

TEST(Verify, Countdown) {
  Problem p;
  p.task = "countdown";
  p.numbers = {3, 7, 25, 100};
  p.target = 93;
  p.answer = "100-7";
  EXPECT_TRUE(Verify(p, "<think>x</think><answer>100 - 7</answer>").correct);
  EXPECT_FALSE(Verify(p, "<think>x</think><answer>(25-3)*7-100+39</answer>").correct);  // 39 not given
  EXPECT_TRUE(Verify(p, "<think>x</think><answer>100-7 = 93</answer>").correct);
  EXPECT_FALSE(Verify(p, "<think>x</think><answer>93</answer>").correct);  // 93 is not a number given
  EXPECT_FALSE(Verify(p, "<think>x</think><answer>100-7-0</answer>").correct);
  EXPECT_FALSE(Verify(p, "\\boxed{(100-7)*(25-3*7-3)}").correct);  // 3 and 7 used twice
  EXPECT_FALSE(Verify(p, "\\boxed{(25-3)*7/(100/50)-...}").correct);  // garbage
  EXPECT_TRUE(Verify(p, "\\boxed{100-7}").correct);
}

}  // namespace
}  // namespace gorae::tasks
