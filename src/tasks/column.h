// Column arithmetic written out step by step: the building blocks of the worked solutions.
//
// Every block processes digits from the right, one line per column. A line starts with the
// digits of the operands not yet used ("0" once a number runs out), so the column's digits are
// the last ones before the delimiters on that line and each line's operands are the line
// above's with one digit dropped: a tiny model never has to count columns to find a digit. The
// digits written so far follow " -> " (so the result is copied from the line above, never read
// back in reverse). A final carry gets its own column with digit 0. Every block ends with a line
// "X op Y=R".
//
//   Add 4738+962:                Subtract 4738-962:          Multiply 738*6:
//   4738+962: 8+2+0=10 -> 0      4738-962: 8-2-0=6 -> 6      738*6: 8*6+0=48 -> 8
//   473+96: 3+6+1=10 -> 00       473-96: 13-6-0=7 -> 76      73*6: 3*6+4=22 -> 28
//   47+9: 7+9+1=17 -> 700        47-9: 17-9-1=7 -> 776       7*6: 7*6+2=44 -> 428
//   4+0: 4+0+1=5 -> 5700         4-0: 4-0-1=3 -> 3776        0*6: 0*6+4=4 -> 4428
//   4738+962=5700                4738-962=3776               738*6=4428
//
// Division goes from the left, with the digits not yet brought down first and the running
// remainder: "Divide 100/4:", "100 r0: 1/4=0 r1 -> 0", "00 r1: 10/4=2 r2 -> 02",
// "0 r2: 20/4=5 r0 -> 025", "100/4=25" (the number divided is the remainder followed by the
// next digit, so it too is written, not computed).
//
// Addition: "x+y+carry=s", the last digit of s is written, the rest carries. Subtraction:
// "x-y-borrow=d"; when x < y + borrow the column borrows and is written "1x-y-borrow=d" (the next
// column then has borrow 1). Multiplication by a number of several digits: one Multiply row per
// digit of the multiplier from the right ("738*9=6642, so 738*90=66420" for the tens digit; a
// digit 0 or 1 is the single line "738*0=0" or "738*1=738", and a zero row is left out of the
// sum), then Add blocks summing the rows, then "738*96=70848".
#pragma once

#include <cstdint>
#include <string>

namespace gorae::tasks {

// The one-column facts the blocks are made of, exactly as they appear in them (and in the
// corpus's fact drills): "7+9+1=17", "13-6-0=7" (x < y + borrow: written with x + 10),
// "3*6+4=22", "20/4=5 r0".
std::string AddFact(int x, int y, int carry);
std::string SubtractFact(int x, int y, int borrow);
std::string MultiplyFact(int x, int d, int carry);
std::string DivideFact(int64_t n, int64_t d);

// All operands >= 0 and small enough that results fit int64. Each appends its lines (each ending
// in '\n') to *out and returns the result.
int64_t AddSteps(int64_t a, int64_t b, std::string* out);
int64_t SubtractSteps(int64_t a, int64_t b, std::string* out);  // a >= b
int64_t MultiplySteps(int64_t a, int64_t b, std::string* out);
// Short division a / d for 1 <= d <= 99 (so every partial quotient is one digit), left to right;
// returns the quotient (a remainder, if any, is written on the last line).
int64_t DivideSteps(int64_t a, int64_t d, std::string* out);

// x op m for any x, m >= 0 and op '+' or '-', reduced by sign rules to one Add or Subtract block
// (at most one rewriting line before it, and the signed result after it when it is negative):
//   "4-962":    "962 is more than 4, so 4-962=-(962-4)." Subtract 962-4 ... "4-962=-958"
//   "-16+84":   "-16+84=84-16." Subtract 84-16 ...
//   "-632+32":  "632 is more than 32, so -632+32=-(632-32)." Subtract 632-32 ... "-632+32=-600"
//   "-16-84":   "-16-84=-(16+84)." Add 16+84 ... "-16-84=-100"
int64_t SignedAddSubSteps(int64_t x, char op, int64_t m, std::string* out);

}  // namespace gorae::tasks
