// Exact rational arithmetic with overflow checks, for the verifiers and the worked solutions.
// Every operation computes in 128 bits, reduces, and fails (nullopt) when the reduced result
// does not fit int64 or divides by zero. Nothing here is undefined behaviour for any input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tasks/tasks.h"

namespace gorae::tasks {

std::optional<Rational> MakeRational(__int128 num, __int128 den);  // reduces; nullopt if den == 0 or too big
std::optional<Rational> RatAdd(Rational a, Rational b);
std::optional<Rational> RatSub(Rational a, Rational b);
std::optional<Rational> RatMul(Rational a, Rational b);
std::optional<Rational> RatDiv(Rational a, Rational b);
std::optional<Rational> RatApply(char op, Rational a, Rational b);  // op one of + - * /

inline bool IsInteger(Rational r) { return r.den == 1; }
// "7" or "7/2" or "-7/2".
std::string RatToString(Rational r);

}  // namespace gorae::tasks
