// Worked solutions: every equation a trace writes is checked by an independent evaluator, every
// column step is checked against the operands' digits, countdown game states are checked, and
// full R1 responses verify. Also the pretraining corpus.
#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tasks/column.h"
#include "tasks/tasks.h"

namespace gorae::tasks {
namespace {

// ---- An independent exact evaluator (unary minus allowed) for the equations in traces ----

struct Frac {
  __int128 n = 0, d = 1;
};
__int128 Gcd(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t < 0 ? -t : t;
  }
  return a;
}
Frac Norm(Frac f) {
  if (f.d < 0) f = {-f.n, -f.d};
  __int128 g = Gcd(f.n, f.d);
  if (g > 1) f = {f.n / g, f.d / g};
  return f;
}
bool operator==(Frac a, Frac b) { return a.n * b.d == b.n * a.d; }

struct Eval {
  std::string s;
  size_t i = 0;
  bool ok = true;
  Frac Expr() {
    Frac v = Term();
    while (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      char op = s[i++];
      Frac w = Term();
      v = Norm({op == '+' ? v.n * w.d + w.n * v.d : v.n * w.d - w.n * v.d, v.d * w.d});
    }
    return v;
  }
  Frac Term() {
    Frac v = Unary();
    while (i < s.size() && (s[i] == '*' || s[i] == '/')) {
      char op = s[i++];
      Frac w = Unary();
      if (op == '/' && w.n == 0) ok = false;
      v = Norm(op == '*' ? Frac{v.n * w.n, v.d * w.d} : Frac{v.n * w.d, v.d * (w.n == 0 ? 1 : w.n)});
    }
    return v;
  }
  Frac Unary() {
    if (i < s.size() && s[i] == '-') {
      ++i;
      Frac v = Unary();
      return {-v.n, v.d};
    }
    if (i < s.size() && s[i] == '(') {
      ++i;
      Frac v = Expr();
      if (i < s.size() && s[i] == ')') ++i; else ok = false;
      return v;
    }
    size_t start = i;
    __int128 x = 0;
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) x = x * 10 + (s[i++] - '0');
    if (i == start) ok = false;
    return {x, 1};
  }
};

std::optional<Frac> Evaluate(const std::string& s) {
  Eval e{s};
  Frac v = e.Expr();
  if (!e.ok || e.i != s.size()) return std::nullopt;
  return v;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}

// Checks every "E1=E2(=E3...)" run of digits, operators and parentheses in the text; returns
// how many were checked.
int CheckEquations(const std::string& text) {
  static const std::regex division_step(R"(^\d+ r\d+: \d+/\d+=\d r\d+ -> \d+$)");
  int checked = 0;
  for (const std::string& line : Lines(text)) {
    if (std::regex_match(line, division_step)) continue;  // "10/4=2 r2": CheckDivisionBlocks
    const std::string eq_chars = "0123456789+-*/()=";
    size_t i = 0;
    while (i < line.size()) {
      if (eq_chars.find(line[i]) == std::string::npos) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < line.size() && eq_chars.find(line[j]) != std::string::npos) ++j;
      std::string run = line.substr(i, j - i);
      i = j;
      if (run.find('=') == std::string::npos) continue;
      std::vector<std::string> parts;
      size_t a = 0;
      for (size_t b; (b = run.find('=', a)) != std::string::npos; a = b + 1) parts.push_back(run.substr(a, b - a));
      parts.push_back(run.substr(a));
      if (std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) continue;
      std::optional<Frac> first = Evaluate(parts[0]);
      EXPECT_TRUE(first.has_value()) << "cannot evaluate '" << parts[0] << "' in: " << line;
      if (!first) continue;
      for (size_t k = 1; k < parts.size(); ++k) {
        std::optional<Frac> v = Evaluate(parts[k]);
        EXPECT_TRUE(v && *v == *first) << "false equation '" << run << "' in line: " << line << "\n" << text;
      }
      ++checked;
    }
  }
  return checked;
}

int DigitAt(int64_t x, size_t i) {
  while (i-- > 0) x /= 10;
  return static_cast<int>(x % 10);
}
size_t NumDigits(int64_t x) { return std::to_string(x).size(); }

// Checks the column blocks (column.h): each column line starts with the operand digits not yet
// used, uses the right digits of the operands and the carry / borrow of the line above, the
// written digits accumulate, the block ends with its result, and the number of columns is right.
// Returns the number of blocks checked.
int CheckColumnBlocks(const std::string& text) {
  static const std::regex add_head(R"(^Add (\d+)\+(\d+):$)"), sub_head(R"(^Subtract (\d+)-(\d+):$)"),
      mul_head(R"(^Multiply (\d+)\*(\d):$)");
  static const std::regex add_col(R"(^(\d+)\+(\d+): (\d)\+(\d)\+(\d)=(\d+) -> (\d+)$)"),
      sub_col(R"(^(\d+)-(\d+): (\d+)-(\d)-(\d)=(\d) -> (\d+)$)"),
      mul_col(R"(^(\d+)\*(\d): (\d)\*(\d)\+(\d)=(\d+) -> (\d+)$)");
  const std::vector<std::string> lines = Lines(text);
  int blocks = 0;
  for (size_t k = 0; k < lines.size(); ++k) {
    std::smatch h;
    char kind;
    if (std::regex_match(lines[k], h, add_head)) kind = '+';
    else if (std::regex_match(lines[k], h, sub_head)) kind = '-';
    else if (std::regex_match(lines[k], h, mul_head)) kind = '*';
    else continue;
    const int64_t a = std::stoll(h[1]), b = std::stoll(h[2]);
    if (kind == '-') {
      EXPECT_GE(a, b) << lines[k];
    }
    const std::regex& col = kind == '+' ? add_col : kind == '-' ? sub_col : mul_col;
    std::string so_far;
    int carry = 0;
    size_t i = 0;
    for (++k; k < lines.size(); ++k, ++i) {
      std::smatch m;
      if (!std::regex_match(lines[k], m, col)) break;
      int64_t rest_a = a, rest_b = b;
      for (size_t j = 0; j < i; ++j) rest_a /= 10, rest_b /= 10;
      EXPECT_EQ(m[1].str(), std::to_string(rest_a)) << "operand digits left: " << lines[k];
      EXPECT_EQ(m[2].str(), std::to_string(kind == '*' ? b : rest_b)) << "operand digits left: " << lines[k];
      const int x = std::stoi(m[3]), y = std::stoi(m[4]), c = std::stoi(m[5]), s = std::stoi(m[6]);
      const int want_x = i < NumDigits(a) ? DigitAt(a, i) : 0;
      EXPECT_EQ(c, carry) << "carry/borrow in: " << lines[k] << "\n" << text;
      if (kind == '+') {
        EXPECT_EQ(x, want_x) << lines[k];
        EXPECT_EQ(y, i < NumDigits(b) ? DigitAt(b, i) : 0) << lines[k];
        EXPECT_EQ(s, x + y + c) << lines[k];
        carry = s / 10;
      } else if (kind == '-') {
        const int yb = i < NumDigits(b) ? DigitAt(b, i) : 0;
        const bool borrows = want_x < yb + c;
        EXPECT_EQ(x, borrows ? want_x + 10 : want_x) << lines[k];
        EXPECT_EQ(y, yb) << lines[k];
        EXPECT_EQ(s, x - y - c) << lines[k];
        carry = borrows ? 1 : 0;
      } else {
        EXPECT_EQ(x, want_x) << lines[k];
        EXPECT_EQ(y, b) << lines[k];
        EXPECT_EQ(s, x * y + c) << lines[k];
        carry = s / 10;
      }
      so_far.insert(so_far.begin(), static_cast<char>('0' + s % 10));
      EXPECT_EQ(m[7].str(), so_far) << lines[k];
    }
    // Columns: every digit of the (longer) operand, plus one per remaining carry.
    const size_t digits = kind == '+' ? std::max(NumDigits(a), NumDigits(b)) : NumDigits(a);
    EXPECT_GE(i, digits) << text;
    EXPECT_EQ(carry, 0) << "unfinished block\n" << text;
    const int64_t result = kind == '+' ? a + b : kind == '-' ? a - b : a * b;
    EXPECT_EQ(std::stoll(so_far), result) << text;
    const std::string end = std::to_string(a) + kind + std::to_string(b) + "=" + std::to_string(result);
    EXPECT_TRUE(k < lines.size() && lines[k].rfind(end, 0) == 0) << "block should end with " << end << "\n" << text;
    ++blocks;
  }
  return blocks;
}

// Checks the short-division blocks (column.h): each line starts with the digits not yet brought
// down and the remainder of the line above, divides that remainder followed by the next digit,
// and appends the quotient digit; the block ends with the quotient. Returns the blocks checked.
int CheckDivisionBlocks(const std::string& text) {
  static const std::regex head(R"(^Divide (\d+)/(\d+):$)");
  static const std::regex step(R"(^(\d+) r(\d+): (\d+)/(\d+)=(\d) r(\d+) -> (\d+)$)");
  const std::vector<std::string> lines = Lines(text);
  int blocks = 0;
  for (size_t k = 0; k < lines.size(); ++k) {
    std::smatch h;
    if (!std::regex_match(lines[k], h, head)) continue;
    const std::string a = h[1];
    const int64_t d = std::stoll(h[2]);
    int64_t r = 0;
    std::string so_far;
    size_t i = 0;
    for (++k; k < lines.size(); ++k, ++i) {
      std::smatch m;
      if (!std::regex_match(lines[k], m, step)) break;
      EXPECT_LT(i, a.size()) << text;
      if (i >= a.size()) break;
      EXPECT_EQ(m[1].str(), a.substr(i)) << "digits left: " << lines[k];
      EXPECT_EQ(std::stoll(m[2]), r) << "remainder in: " << lines[k];
      const int64_t n = r * 10 + (a[i] - '0');
      EXPECT_EQ(m[3].str(), std::to_string(n)) << lines[k];
      EXPECT_EQ(std::stoll(m[4]), d) << lines[k];
      EXPECT_EQ(std::stoll(m[5]), n / d) << lines[k];
      EXPECT_EQ(std::stoll(m[6]), n % d) << lines[k];
      so_far += static_cast<char>('0' + n / d);
      EXPECT_EQ(m[7].str(), so_far) << lines[k];
      r = n % d;
    }
    EXPECT_EQ(i, a.size()) << text;
    EXPECT_EQ(r, 0) << "the linear tasks divide exactly\n" << text;
    const std::string end = a + "/" + std::to_string(d) + "=" + std::to_string(std::stoll(a) / d);
    EXPECT_TRUE(k < lines.size() && lines[k] == end) << "block should end with " << end << "\n" << text;
    ++blocks;
  }
  return blocks;
}

// Countdown traces: the game state after each step is the state before, less the two operands,
// plus the result; the last line repeats the answer.
void CheckCountdownStates(const Problem& p, const std::string& text) {
  static const std::regex step(R"(^(\d+)([-+*/])(\d+)=(\d+)\. Left: ([\d ]+)\..*$)");
  std::vector<std::string> lines = Lines(text);
  std::multiset<int64_t> state(p.numbers.begin(), p.numbers.end());
  int steps = 0;
  for (const std::string& line : lines) {
    std::smatch m;
    if (!std::regex_match(line, m, step)) continue;
    for (int g : {1, 3}) {
      auto it = state.find(std::stoll(m[g]));
      ASSERT_NE(it, state.end()) << line << "\n" << text;
      state.erase(it);
    }
    state.insert(std::stoll(m[4]));
    std::multiset<int64_t> listed;
    std::string list = m[5];
    for (size_t a = 0; a < list.size();) {
      size_t b = list.find(' ', a);
      listed.insert(std::stoll(list.substr(a, b - a)));
      a = b == std::string::npos ? list.size() : b + 1;
    }
    EXPECT_EQ(listed, state) << line;
    ++steps;
  }
  EXPECT_GE(steps, 1) << text;
  EXPECT_EQ(state.count(p.target), 1u) << text;
  EXPECT_EQ(lines.back(), "So " + AnswerText(p) + "=" + std::to_string(p.target) + ".");
}

// Token estimate for a tokenizer that isolates every digit (words and punctuation runs, with one
// leading space, as single tokens).
int EstimateTokens(const std::string& s) {
  auto letter = [](char c) { return isalpha(static_cast<unsigned char>(c)) != 0; };
  auto digit = [](char c) { return isdigit(static_cast<unsigned char>(c)) != 0; };
  auto space = [](char c) { return c == ' ' || c == '\n'; };
  int n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    if (digit(s[i])) {
      ++i;
      continue;
    }
    if (s[i] == ' ' && i + 1 < s.size() && !space(s[i + 1]) && !digit(s[i + 1])) ++i;
    if (letter(s[i])) {
      while (i < s.size() && letter(s[i])) ++i;
    } else if (space(s[i])) {
      while (i < s.size() && space(s[i])) ++i;
    } else {
      while (i < s.size() && !letter(s[i]) && !digit(s[i]) && !space(s[i])) ++i;
      while (i < s.size() && s[i] == '\n') ++i;
    }
  }
  return n;
}

void CheckTrace(const Problem& p, int min_equations = 1) {
  const std::string w = WorkedSolution(p);
  for (char c : w) ASSERT_TRUE(c > 0 && static_cast<unsigned char>(c) < 128) << "non-ASCII in\n" << w;
  EXPECT_GE(CheckEquations(w), min_equations) << w;
  CheckColumnBlocks(w);
  CheckDivisionBlocks(w);
  if (p.task == "countdown") CheckCountdownStates(p, w);
  const std::string r = R1Response(p);
  EXPECT_EQ(r, "<think>\n" + w + "\n</think>\n\n<answer>" + AnswerText(p) + "</answer>");
  Verdict v = Verify(p, r);
  EXPECT_TRUE(v.correct) << r;
  EXPECT_TRUE(v.formatted) << r;
  EXPECT_EQ(v.extracted, AnswerText(p));
}

Problem Make(const std::string& task, const std::string& prompt, const std::string& answer) {
  Problem p;
  p.task = task;
  p.prompt = prompt;
  p.answer = answer;
  return p;
}

TEST(WorkedSolution, GeneratedProblemsAreCorrect) {
  for (const std::string& task : BuiltinTasks()) {
    for (Split split : {Split::kTrain, Split::kDev, Split::kTest}) {
      Result<std::vector<Problem>> ps = GenerateProblems(task, split, split == Split::kTrain ? 2000 : 300, 11);
      ASSERT_TRUE(ps.ok());
      size_t max_chars = 0;
      int max_tokens = 0;
      double total_tokens = 0;
      for (const Problem& p : *ps) {
        CheckTrace(p);
        if (HasFailure()) return;
        const std::string w = WorkedSolution(p);
        max_chars = std::max(max_chars, w.size());
        max_tokens = std::max(max_tokens, EstimateTokens(w));
        total_tokens += EstimateTokens(w);
      }
      if (split == Split::kTrain) {
        std::printf("%-10s worked solution: max %zu chars, ~%d tokens max, ~%.0f tokens mean\n", task.c_str(),
                    max_chars, max_tokens, total_tokens / ps->size());
        // Bounds on the longest trace (999*99-like products; |a| >= 10 with |x| near 50), so that
        // prompt + trace fit the tiny model's context.
        const int bound = task == "arithmetic" ? 380 : task == "linear" ? 310 : 200;
        EXPECT_LE(max_tokens, bound) << task;
      }
    }
  }
}

TEST(WorkedSolution, ColumnBlocksAreChecked) {
  // The checker must see the blocks (a regex drifting from the format would pass vacuously).
  EXPECT_EQ(CheckColumnBlocks(WorkedSolution(Make("arithmetic", "What is 999 * 99?", "98901"))), 3);
  EXPECT_EQ(CheckColumnBlocks(WorkedSolution(Make("arithmetic", "What is 4 - 962?", "-958"))), 1);
  EXPECT_EQ(CheckColumnBlocks(WorkedSolution(Make("linear", "Solve for x: -4x - 84 = 16.", "-25"))), 1);
  EXPECT_EQ(CheckDivisionBlocks(WorkedSolution(Make("linear", "Solve for x: -4x - 84 = 16.", "-25"))), 1);
  EXPECT_EQ(CheckDivisionBlocks(WorkedSolution(Make("linear", "Solve for x: 11x - 18 = 169.", "17"))), 1);
}

TEST(WorkedSolution, EdgeCases) {
  const std::vector<Problem> problems = {
      Make("arithmetic", "What is 0 + 0?", "0"),           Make("arithmetic", "What is 9999 + 9999?", "19998"),
      Make("arithmetic", "What is 0 - 9999?", "-9999"),    Make("arithmetic", "What is 1000 - 1?", "999"),
      Make("arithmetic", "What is 1000 - 998?", "2"),      Make("arithmetic", "What is 5 - 5?", "0"),
      Make("arithmetic", "What is 2 * 2?", "4"),           Make("arithmetic", "What is 999 * 99?", "98901"),
      Make("arithmetic", "What is 738 * 90?", "66420"),    Make("arithmetic", "What is 10 * 10?", "100"),
      Make("arithmetic", "What is 123 * 4005?", "492615"), Make("arithmetic", "What is 7 * 0?", "0"),
      Make("linear", "Solve for x: x + 0 = 16.", "16"),   Make("linear", "Solve for x: -x + 7 = 0.", "7"),
      Make("linear", "Solve for x: -x - 99 = -49.", "-50"), Make("linear", "Solve for x: 7x + 5 = 5.", "0"),
      Make("linear", "Solve for x: 12x + 99 = -501.", "-50"), Make("linear", "Solve for x: -12x - 99 = 501.", "-50"),
      Make("linear", "Solve for x: -3x + 0 = -150.", "50"), Make("linear", "Solve for x: 10x - 1 = 499.", "50"),
  };
  for (const Problem& p : problems) {
    SCOPED_TRACE(p.prompt);
    Result<Problem> checked = ProblemFromJson(ProblemToJson(p));  // the stored answers are right
    ASSERT_TRUE(checked.ok()) << checked.status().ToString();
    CheckTrace(p, /*min_equations=*/0);  // "x + 0 = 16" needs none
  }
}

TEST(WorkedSolution, CountdownFromFiles) {
  // Stored answers from users may use parentheses, fractions on the way, or not use every number.
  struct Case {
    std::vector<int64_t> numbers;
    int64_t target;
    std::string answer;
  };
  for (const Case& c : std::vector<Case>{{{4, 5, 25, 100}, 500, "(25-5)/4*100"},
                                         {{4, 5, 25, 100}, 125, "5/4*100"},
                                         {{1, 2, 3}, 9, "(1+2)*3"},
                                         {{3, 7, 25, 100}, 93, "100 - 7"},
                                         {{25, 25, 3}, 50, "25+25"},
                                         {{6, 75}, 81, "75+6 = 81"}}) {
    Problem p = Make("countdown", "make it", c.answer);
    p.numbers = c.numbers;
    p.target = c.target;
    SCOPED_TRACE(c.answer);
    ASSERT_TRUE(ProblemFromJson(ProblemToJson(p)).ok());
    const std::string w = WorkedSolution(p);
    EXPECT_GE(CheckEquations(w), 2) << w;
    EXPECT_TRUE(Verify(p, R1Response(p)).correct) << R1Response(p);
  }
}

TEST(WorkedSolution, ExactFormat) {
  // The format is a contract with the SFT data and the pretraining corpus: pin one of each.
  EXPECT_EQ(WorkedSolution(Make("arithmetic", "What is 4738 + 962?", "5700")),
            "Add 4738+962:\n4738+962: 8+2+0=10 -> 0\n473+96: 3+6+1=10 -> 00\n47+9: 7+9+1=17 -> 700\n"
            "4+0: 4+0+1=5 -> 5700\n4738+962=5700");
  EXPECT_EQ(WorkedSolution(Make("arithmetic", "What is 4 - 962?", "-958")),
            "962 is more than 4, so 4-962=-(962-4).\nSubtract 962-4:\n962-4: 12-4-0=8 -> 8\n96-0: 6-0-1=5 -> 58\n"
            "9-0: 9-0-0=9 -> 958\n962-4=958\n4-962=-958");
  EXPECT_EQ(WorkedSolution(Make("arithmetic", "What is 738 * 96?", "70848")),
            "Multiply 738*6:\n738*6: 8*6+0=48 -> 8\n73*6: 3*6+4=22 -> 28\n7*6: 7*6+2=44 -> 428\n"
            "0*6: 0*6+4=4 -> 4428\n738*6=4428\n"
            "Multiply 738*9:\n738*9: 8*9+0=72 -> 2\n73*9: 3*9+7=34 -> 42\n7*9: 7*9+3=66 -> 642\n"
            "0*9: 0*9+6=6 -> 6642\n738*9=6642, so 738*90=66420\n"
            "Add 4428+66420:\n4428+66420: 8+0+0=8 -> 8\n442+6642: 2+2+0=4 -> 48\n44+664: 4+4+0=8 -> 848\n"
            "4+66: 4+6+0=10 -> 0848\n0+6: 0+6+1=7 -> 70848\n4428+66420=70848\n738*96=70848");
  EXPECT_EQ(WorkedSolution(Make("linear", "Solve for x: -4x - 84 = 16.", "-25")),
            "Add 84 to both sides: -4x=16+84.\nAdd 16+84:\n16+84: 6+4+0=10 -> 0\n1+8: 1+8+1=10 -> 00\n"
            "0+0: 0+0+1=1 -> 100\n16+84=100\n-4x=100\nDivide both sides by -4: x=100/(-4).\n"
            "Signs differ, so x is negative.\nDivide 100/4:\n100 r0: 1/4=0 r1 -> 0\n00 r1: 10/4=2 r2 -> 02\n"
            "0 r2: 20/4=5 r0 -> 025\n100/4=25\nSo x=-25.");
  Problem c = Make("countdown", "p", "(75*4-8)/2");
  c.numbers = {2, 4, 8, 75};
  c.target = 146;
  EXPECT_EQ(WorkedSolution(c),
            "Numbers: 2 4 8 75. Target: 146.\nTry 75+8=83. 83 is 63 below 146. Drop it.\n"
            "75*4=300. Left: 2 8 300. 300 is 154 above 146.\n300-8=292. Left: 2 292. 292 is 146 above 146.\n"
            "292/2=146. Left: 146. 146 is the target.\nSo (75*4-8)/2=146.");
}

TEST(WorkedSolution, LargeAndInvalidInputsDoNotCrash) {
  // Nine-digit operands are the most the prompt parser takes: products still fit int64.
  Problem big = Make("arithmetic", "What is 999999999 * 999999999?", "999999998000000001");
  ASSERT_TRUE(ProblemFromJson(ProblemToJson(big)).ok());
  CheckTrace(big);
  Problem sum = Make("arithmetic", "What is 999999999 + 999999999?", "1999999998");
  CheckTrace(sum);
  // Longer operands: not parsed, so the generic trace (and no overflow).
  Problem huge = Make("arithmetic", "What is 99999999999999 * 99999999999999?", "1");
  EXPECT_EQ(WorkedSolution(huge), "The answer is 1.");
  // A linear equation without an integer solution (only reachable by building a Problem by hand).
  EXPECT_EQ(WorkedSolution(Make("linear", "Solve for x: 2x + 1 = 8.", "3")), "2x=7 has no integer solution.");
  EXPECT_FALSE(ProblemFromJson(ProblemToJson(Make("linear", "Solve for x: 2x + 1 = 8.", "3"))).ok());
  // Countdown with 18-digit numbers (the longest literal).
  const int64_t n18 = 400000000000000000;
  Problem c = Make("countdown", "p", "400000000000000000*400000000000000000");
  c.numbers = {n18, n18};
  c.target = 1;
  EXPECT_FALSE(Verify(c, R1Response(c)).correct);  // overflow: never right
  Problem d = Make("countdown", "p", "400000000000000000/400000000000000000");
  d.numbers = {n18, n18};
  d.target = 1;
  EXPECT_TRUE(Verify(d, R1Response(d)).correct) << R1Response(d);
  d.target = 2;  // an invalid problem (the answer does not make the target): no trace claims it does
  EXPECT_EQ(WorkedSolution(d), "The answer is 400000000000000000/400000000000000000.");
  // A distance to the target that overflows int64 is left out.
  Problem e = Make("countdown", "p", "1-400000000000000000*22");
  e.numbers = {1, 22, n18};
  e.target = -8799999999999999999;
  EXPECT_TRUE(Verify(e, R1Response(e)).correct) << R1Response(e);
  EXPECT_NE(WorkedSolution(e).find("400000000000000000*22=8800000000000000000. Left: 1 8800000000000000000.\n"),
            std::string::npos)
      << WorkedSolution(e);
}

TEST(WorkedSolution, OtherTasksFallBack) {
  Problem p = Make("trivia", "Capital of France?", " Paris ");
  EXPECT_EQ(WorkedSolution(p), "The answer is Paris.");
  EXPECT_EQ(R1Response(p), "<think>\nThe answer is Paris.\n</think>\n\n<answer>Paris</answer>");
  EXPECT_TRUE(Verify(p, R1Response(p)).correct);
  // A built-in task in its own wording still gets a valid response.
  Problem q = Make("arithmetic", "Add two and three.", "5.0");
  EXPECT_EQ(AnswerText(q), "5");
  EXPECT_TRUE(Verify(q, R1Response(q)).correct);
}

TEST(PretrainingCorpus, FormatSharesAndTrainOnly) {
  const std::vector<std::string> docs = PretrainingCorpus(300, 5);
  ASSERT_EQ(docs.size(), 300u);
  EXPECT_EQ(docs, PretrainingCorpus(300, 5));
  EXPECT_NE(docs, PretrainingCorpus(300, 6));
  static const std::regex doc(R"(^Question: (.*)\nReasoning:\n([\s\S]*)\nAnswer: (.*)\n$)");
  static const std::regex countdown(R"(^Use the numbers (\d+), (\d+), (\d+) and (\d+) to make (\d+)\..*$)");
  std::map<std::string, int> per_task;
  std::set<std::string> prompts;
  for (const std::string& d : docs) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(d, m, doc)) << d;
    Problem p;
    p.prompt = m[1];
    p.task = p.prompt.rfind("What is", 0) == 0 ? "arithmetic" : p.prompt.rfind("Solve", 0) == 0 ? "linear" : "countdown";
    std::smatch c;
    if (p.task == "countdown") {
      ASSERT_TRUE(std::regex_match(p.prompt, c, countdown));
      for (int i = 1; i <= 4; ++i) p.numbers.push_back(std::stoll(c[i]));
      p.target = std::stoll(c[5]);
    }
    p.answer = m[3];
    EXPECT_EQ(ProblemSplit(p), Split::kTrain) << p.prompt;
    EXPECT_EQ(m[2].str(), WorkedSolution(p));
    EXPECT_TRUE(Verify(p, "<answer>" + p.answer + "</answer>").correct) << d;
    ++per_task[p.task];
    prompts.insert(p.prompt);
  }
  EXPECT_EQ(per_task["arithmetic"], 100);
  EXPECT_EQ(per_task["linear"], 100);
  EXPECT_EQ(per_task["countdown"], 100);
  EXPECT_EQ(prompts.size(), docs.size());
  EXPECT_TRUE(PretrainingCorpus(0, 1).empty());
  EXPECT_EQ(PretrainingCorpus(4, 1).size(), 4u);
}


TEST(FactDrills, EveryLineIsATrueFactInTheBlocksFormat) {
  static const std::regex add(R"(^(\d)\+(\d)\+([01])=(\d+)$)"), sub(R"(^(\d+)-(\d)-([01])=(\d)$)"),
      mul(R"(^(\d)\*(\d)\+(\d)=(\d+)$)"), div(R"(^(\d+)/(\d+)=(\d) r(\d+)$)");
  const std::vector<std::string> docs = FactDrills(200, 3);
  ASSERT_EQ(docs.size(), 200u);
  EXPECT_EQ(docs, FactDrills(200, 3));
  EXPECT_NE(docs, FactDrills(200, 4));
  std::map<char, int> kinds;
  for (const std::string& doc : docs) {
    const std::vector<std::string> lines = Lines(doc);
    ASSERT_EQ(lines.front(), "Facts:");
    for (size_t i = 1; i < lines.size(); ++i) {
      if (lines[i].empty()) continue;  // the final newline
      std::smatch m;
      const std::string& l = lines[i];
      if (std::regex_match(l, m, add)) {
        EXPECT_EQ(std::stoi(m[4]), std::stoi(m[1]) + std::stoi(m[2]) + std::stoi(m[3])) << l;
        ++kinds['+'];
      } else if (std::regex_match(l, m, sub)) {
        const int top = std::stoi(m[1]), y = std::stoi(m[2]), b = std::stoi(m[3]);
        EXPECT_TRUE(top <= 9 ? top >= y + b : top - 10 < y + b) << "borrow only when needed: " << l;
        EXPECT_EQ(std::stoi(m[4]), top - y - b) << l;
        ++kinds['-'];
      } else if (std::regex_match(l, m, mul)) {
        EXPECT_LT(std::stoi(m[3]), std::stoi(m[2])) << "a carry into x*d is below d: " << l;
        EXPECT_EQ(std::stoi(m[4]), std::stoi(m[1]) * std::stoi(m[2]) + std::stoi(m[3])) << l;
        ++kinds['*'];
      } else if (std::regex_match(l, m, div)) {
        const int64_t n = std::stoll(m[1]), d = std::stoll(m[2]);
        EXPECT_TRUE(d >= 2 && d <= 12 && n < 10 * d) << "one quotient digit: " << l;
        EXPECT_EQ(std::stoll(m[3]), n / d) << l;
        EXPECT_EQ(std::stoll(m[4]), n % d) << l;
        ++kinds['/'];
      } else {
        ADD_FAILURE() << "not a fact line: '" << l << "'";
      }
    }
  }
  for (char k : {'+', '-', '*', '/'}) EXPECT_GT(kinds[k], 500) << k;
  // The drills are the very strings the blocks write.
  EXPECT_EQ(AddFact(7, 9, 1), "7+9+1=17");
  EXPECT_EQ(SubtractFact(3, 6, 0), "13-6-0=7");
  EXPECT_EQ(MultiplyFact(3, 6, 4), "3*6+4=22");
  EXPECT_EQ(DivideFact(20, 4), "20/4=5 r0");
}
}  // namespace
}  // namespace gorae::tasks
