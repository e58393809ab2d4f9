// Exact rational arithmetic (see rational.h) and answer number parsing (ParseNumber).
#include "tasks/rational.h"

#include <cctype>
#include <limits>

#include <fmt/format.h>

namespace gorae::tasks {
namespace {

__int128 Abs128(__int128 x) { return x < 0 ? -x : x; }

__int128 Gcd128(__int128 a, __int128 b) {
  a = Abs128(a);
  b = Abs128(b);
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

bool FitsInt64(__int128 x) {
  // INT64_MIN is excluded so that every value can be negated safely.
  return x > std::numeric_limits<int64_t>::min() && x <= std::numeric_limits<int64_t>::max();
}

}  // namespace

std::optional<Rational> MakeRational(__int128 num, __int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  __int128 g = Gcd128(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  if (!FitsInt64(num) || !FitsInt64(den)) return std::nullopt;
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

// Operands are int64 with |x| < 2^63, so every product below is < 2^126 and every sum of two
// products < 2^127: all fit __int128.
std::optional<Rational> RatAdd(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.num) * b.den + static_cast<__int128>(b.num) * a.den,
                      static_cast<__int128>(a.den) * b.den);
}
std::optional<Rational> RatSub(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.num) * b.den - static_cast<__int128>(b.num) * a.den,
                      static_cast<__int128>(a.den) * b.den);
}
std::optional<Rational> RatMul(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.num) * b.num, static_cast<__int128>(a.den) * b.den);
}
std::optional<Rational> RatDiv(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.num) * b.den, static_cast<__int128>(a.den) * b.num);
}
std::optional<Rational> RatApply(char op, Rational a, Rational b) {
  switch (op) {
    case '+': return RatAdd(a, b);
    case '-': return RatSub(a, b);
    case '*': return RatMul(a, b);
    case '/': return RatDiv(a, b);
    default: return std::nullopt;
  }
}

std::string RatToString(Rational r) {
  return r.den == 1 ? fmt::format("{}", r.num) : fmt::format("{}/{}", r.num, r.den);
}

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Reads digits (with optional thousands commas when `commas`) from s at *i into *value and
// *count (number of digits). False on malformed grouping or more than 18 digits.
bool ReadDigits(std::string_view s, size_t* i, bool commas, __int128* value, int* count) {
  size_t start = *i;
  int group = 0;          // digits in the current group
  bool grouped = false;   // a comma was seen
  *value = 0;
  *count = 0;
  while (*i < s.size()) {
    char c = s[*i];
    if (IsDigit(c)) {
      *value = *value * 10 + (c - '0');
      ++*count;
      ++group;
      if (*count > 18) return false;
    } else if (commas && c == ',' && *i + 1 < s.size() && IsDigit(s[*i + 1])) {
      // Before the first comma 1..3 digits; between commas exactly 3.
      if (grouped ? group != 3 : (group < 1 || group > 3)) return false;
      grouped = true;
      group = 0;
    } else {
      break;
    }
    ++*i;
  }
  if (grouped && group != 3) return false;
  return *i > start && *count > 0;
}

}  // namespace

std::optional<Rational> ParseNumber(std::string_view text) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.back() == '.') s = Trim(s.substr(0, s.size() - 1));
  // An "x =" prefix (linear answers).
  if (s.size() >= 2 && (s[0] == 'x' || s[0] == 'X')) {
    size_t j = 1;
    while (j < s.size() && IsSpace(s[j])) ++j;
    if (j < s.size() && s[j] == '=') s = Trim(s.substr(j + 1));
  }
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    i = 1;
  }
  __int128 num = 0;
  int digits = 0;
  if (!ReadDigits(s, &i, /*commas=*/true, &num, &digits)) return std::nullopt;
  __int128 den = 1;
  if (i < s.size() && s[i] == '.') {
    ++i;
    __int128 frac = 0;
    int frac_digits = 0;
    if (!ReadDigits(s, &i, /*commas=*/false, &frac, &frac_digits)) return std::nullopt;
    if (digits + frac_digits > 18) return std::nullopt;
    for (int k = 0; k < frac_digits; ++k) den *= 10;
    num = num * den + frac;
  } else {
    size_t j = i;
    while (j < s.size() && IsSpace(s[j])) ++j;
    if (j < s.size() && s[j] == '/') {
      ++j;
      while (j < s.size() && IsSpace(s[j])) ++j;
      int den_digits = 0;
      if (!ReadDigits(s, &j, /*commas=*/false, &den, &den_digits)) return std::nullopt;
      i = j;
    }
  }
  if (i != s.size()) return std::nullopt;
  return MakeRational(negative ? -num : num, den);
}

}  // namespace gorae::tasks
