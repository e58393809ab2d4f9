// Column arithmetic traces (see column.h).
#include "tasks/column.h"

#include <vector>

#include <fmt/format.h>

namespace gorae::tasks {
namespace {

// Decimal digits from the right; 0 has the single digit 0.
std::vector<int> DigitsFromRight(int64_t x) {
  std::vector<int> d;
  do {
    d.push_back(static_cast<int>(x % 10));
    x /= 10;
  } while (x > 0);
  return d;
}

int64_t Pow10(int k) {
  int64_t p = 1;
  while (k-- > 0) p *= 10;
  return p;
}

// Digits written so far (most significant first) with a new digit put in front.
void Prepend(std::string* so_far, int digit) { so_far->insert(so_far->begin(), static_cast<char>('0' + digit)); }

// Strips leading zeros of a written digit string ("0002" -> "2").
int64_t Value(const std::string& digits) { return std::stoll(digits); }

// The digits of x not yet processed when column i (0 = units) comes up: x without its i lowest
// digits, "0" once they are all used. Each column line starts with these, so the column's digits
// are the last digits before the delimiters on the same line, and the operands of a line are
// those of the line above with one digit dropped: every lookup is local.
int64_t Remaining(int64_t x, size_t i) {
  for (size_t k = 0; k < i; ++k) x /= 10;
  return x;
}

// One row: a times the single digit d, with carries.
int64_t MultiplyRow(int64_t a, int d, std::string* out) {
  *out += fmt::format("Multiply {}*{}:\n", a, d);
  std::vector<int> da = DigitsFromRight(a);
  std::string so_far;
  int carry = 0;
  for (size_t i = 0; i < da.size() || carry > 0; ++i) {
    const int x = i < da.size() ? da[i] : 0;
    const int s = x * d + carry;
    Prepend(&so_far, s % 10);
    *out += fmt::format("{}*{}: {} -> {}\n", Remaining(a, i), d, MultiplyFact(x, d, carry), so_far);
    carry = s / 10;
  }
  const int64_t r = Value(so_far);
  *out += fmt::format("{}*{}={}", a, d, r);
  return r;
}

}  // namespace

std::string AddFact(int x, int y, int carry) { return fmt::format("{}+{}+{}={}", x, y, carry, x + y + carry); }

std::string SubtractFact(int x, int y, int borrow) {
  const int top = x < y + borrow ? x + 10 : x;
  return fmt::format("{}-{}-{}={}", top, y, borrow, top - y - borrow);
}

std::string MultiplyFact(int x, int d, int carry) { return fmt::format("{}*{}+{}={}", x, d, carry, x * d + carry); }

std::string DivideFact(int64_t n, int64_t d) { return fmt::format("{}/{}={} r{}", n, d, n / d, n % d); }

int64_t AddSteps(int64_t a, int64_t b, std::string* out) {
  *out += fmt::format("Add {}+{}:\n", a, b);
  std::vector<int> da = DigitsFromRight(a), db = DigitsFromRight(b);
  std::string so_far;
  int carry = 0;
  for (size_t i = 0; i < da.size() || i < db.size() || carry > 0; ++i) {
    const int x = i < da.size() ? da[i] : 0, y = i < db.size() ? db[i] : 0;
    const int s = x + y + carry;
    Prepend(&so_far, s % 10);
    *out += fmt::format("{}+{}: {} -> {}\n", Remaining(a, i), Remaining(b, i), AddFact(x, y, carry), so_far);
    carry = s / 10;
  }
  const int64_t r = Value(so_far);
  *out += fmt::format("{}+{}={}\n", a, b, r);
  return r;
}

int64_t SubtractSteps(int64_t a, int64_t b, std::string* out) {
  *out += fmt::format("Subtract {}-{}:\n", a, b);
  std::vector<int> da = DigitsFromRight(a), db = DigitsFromRight(b);
  std::string so_far;
  int borrow = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    const int x = da[i], y = i < db.size() ? db[i] : 0;
    const bool borrows = x < y + borrow;
    const int top = borrows ? x + 10 : x;
    const int d = top - y - borrow;
    Prepend(&so_far, d);
    *out += fmt::format("{}-{}: {} -> {}\n", Remaining(a, i), Remaining(b, i), SubtractFact(x, y, borrow), so_far);
    borrow = borrows ? 1 : 0;
  }
  const int64_t r = Value(so_far);
  *out += fmt::format("{}-{}={}\n", a, b, r);
  return r;
}

int64_t MultiplySteps(int64_t a, int64_t b, std::string* out) {
  std::vector<int> db = DigitsFromRight(b);
  std::vector<int64_t> rows;
  for (size_t i = 0; i < db.size(); ++i) {
    const int64_t shift = Pow10(static_cast<int>(i));
    int64_t row;
    if (db[i] == 0) {
      *out += fmt::format("{}*0=0", a);
      row = 0;
    } else if (db[i] == 1) {
      *out += fmt::format("{}*1={}", a, a);
      row = a * shift;
    } else {
      row = MultiplyRow(a, db[i], out) * shift;
    }
    if (i > 0 && db[i] != 0) *out += fmt::format(", so {}*{}={}", a, db[i] * shift, row);
    *out += "\n";
    if (row != 0) rows.push_back(row);  // a zero row adds nothing: it is left out of the sum
  }
  if (rows.empty()) return 0;
  if (rows.size() == 1) {
    if (db.size() > 1) *out += fmt::format("{}*{}={}\n", a, b, rows[0]);
    return rows[0];
  }
  int64_t sum = rows[0];
  for (size_t i = 1; i < rows.size(); ++i) sum = AddSteps(sum, rows[i], out);
  *out += fmt::format("{}*{}={}\n", a, b, sum);
  return sum;
}

int64_t DivideSteps(int64_t a, int64_t d, std::string* out) {
  *out += fmt::format("Divide {}/{}:\n", a, d);
  const std::string digits = fmt::format("{}", a);
  std::string so_far;
  int64_t r = 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    const int64_t n = r * 10 + (digits[i] - '0');  // written as r followed by the digit
    const int64_t q = n / d;
    so_far += static_cast<char>('0' + q);
    *out += fmt::format("{} r{}: {} -> {}\n", digits.substr(i), r, DivideFact(n, d), so_far);
    r = n % d;
  }
  const int64_t quotient = Value(so_far);
  *out += fmt::format("{}/{}={}", a, d, quotient);
  if (r != 0) *out += fmt::format(" r{}", r);
  *out += "\n";
  return quotient;
}

int64_t SignedAddSubSteps(int64_t x, char op, int64_t m, std::string* out) {
  if (x < 0) {
    const int64_t ax = -x;
    if (op == '+' && m >= ax) {
      *out += fmt::format("-{}+{}={}-{}.\n", ax, m, m, ax);
      return SubtractSteps(m, ax, out);
    }
    if (op == '+') {
      *out += fmt::format("{} is more than {}, so -{}+{}=-({}-{}).\n", ax, m, ax, m, ax, m);
      const int64_t d = SubtractSteps(ax, m, out);
      *out += fmt::format("-{}+{}=-{}\n", ax, m, d);
      return -d;
    }
    *out += fmt::format("-{}-{}=-({}+{}).\n", ax, m, ax, m);
    const int64_t s = AddSteps(ax, m, out);
    *out += fmt::format("-{}-{}=-{}\n", ax, m, s);
    return -s;
  }
  if (op == '+') return AddSteps(x, m, out);
  if (m <= x) return SubtractSteps(x, m, out);
  *out += fmt::format("{} is more than {}, so {}-{}=-({}-{}).\n", m, x, x, m, m, x);
  const int64_t d = SubtractSteps(m, x, out);
  *out += fmt::format("{}-{}=-{}\n", x, m, d);
  return -d;
}

}  // namespace gorae::tasks
