// The arithmetic a response states, checked: a rule-based reward on the reasoning itself, not
// only on the final answer. A tiny model's wrong answers usually come from one wrong step in an
// otherwise right trace ("11-6-0=4", "447-51=406"); counting such steps gives GRPO a signal in
// the groups whose answers are all wrong (and so all rewarded alike).
//
// A statement is "E=N" where E is at least two unsigned integers joined by + - * / (ordinary
// precedence, exact fractions) and N an integer, e.g. the worked solutions' column facts
// "7+9+1=17", "13-6-0=7", "3*6+4=22" and result lines "347+589=936"; or "a/b=q rR" (short
// division: a = q*b + R with 0 <= R < b). Text that is not of this form is ignored, so the count
// rewards no particular wording; a reasoning trace with no statements has none wrong.
#pragma once

#include <string_view>

namespace gorae::tasks {

struct StatementCount {
  int total = 0;
  int wrong = 0;
};

StatementCount CheckStatements(std::string_view text);

}  // namespace gorae::tasks
