// CheckStatements: the arithmetic a response states, counted and checked.
#include "tasks/statements.h"

#include <gtest/gtest.h>

#include "tasks/tasks.h"

namespace gorae::tasks {
namespace {

void ExpectCount(std::string_view text, int total, int wrong) {
  const StatementCount c = CheckStatements(text);
  EXPECT_EQ(c.total, total) << text;
  EXPECT_EQ(c.wrong, wrong) << text;
}

TEST(CheckStatements, ColumnFactsAndResults) {
  ExpectCount("347+589: 7+9+0=16 -> 6\n34+58: 4+8+1=13 -> 36", 2, 0);
  ExpectCount("13-6-0=7 and 3*6+4=22", 2, 0);
  ExpectCount("347+589=936", 1, 0);
  ExpectCount("3508-4937=-1429", 1, 0);
  // Wrong steps of a real SFT model: a subtraction fact, a borrow, a result line.
  ExpectCount("215-569: 5-9-0=0 -> 00\n21-56: 11-6-0=4 -> 400", 2, 2);
  ExpectCount("447-51=406\n-12x=406", 1, 1);
  ExpectCount("So 22-11-25-25=25.", 1, 1);
}

TEST(CheckStatements, ShortDivision) {
  ExpectCount("406 r0: 4/12=0 r4 -> 0", 1, 0);
  ExpectCount("46/12=3 r10", 1, 0);
  ExpectCount("40/12=4 r4", 1, 1);     // 4*12+4 = 52
  ExpectCount("46/12=2 r22", 1, 1);    // remainder not below the divisor
  ExpectCount("195/8=24", 1, 1);       // not exact
  ExpectCount("96/8=12", 1, 0);
  ExpectCount("5/0=0 r5", 1, 1);
}

TEST(CheckStatements, TextThatIsNotAStatementIsIgnored) {
  ExpectCount("", 0, 0);
  ExpectCount("What is 347 + 589?", 0, 0);  // spaces: not the traces' form, and no '='
  ExpectCount("x=406/(-12)", 0, 0);
  ExpectCount("5690-21590=-(215-5690)", 0, 0);
  ExpectCount("2=2, 12=13", 0, 0);          // a single number is not an expression
  ExpectCount("1.5+2=3.5", 0, 0);           // decimals are not this form
  ExpectCount("9999999999999999999+1=0", 1, 1);  // too long to parse: counted wrong, no crash
  ExpectCount("1+1=", 0, 0);
  ExpectCount("=1+1=2=", 1, 0);
}

// Every statement of every worked solution is true, so a right trace is never penalised.
TEST(CheckStatements, WorkedSolutionsStateOnlyTruths) {
  for (const char* task : {"arithmetic", "linear", "countdown"}) {
    for (Split split : {Split::kTrain, Split::kDev, Split::kTest}) {
      auto problems = GenerateProblems(task, split, 300, 7);
      ASSERT_TRUE(problems.ok()) << problems.status().message();
      int total = 0;
      for (const Problem& p : *problems) {
        const std::string response = R1Response(p);
        const StatementCount c = CheckStatements(response);
        EXPECT_EQ(c.wrong, 0) << response;
        total += c.total;
      }
      EXPECT_GT(total, 300) << task;  // every trace states some arithmetic
    }
  }
}

}  // namespace
}  // namespace gorae::tasks
