// Answer extraction, the R1 format check, and verification.
#include <string>

#include "tasks/expr.h"
#include "tasks/rational.h"
#include "tasks/tasks.h"

namespace gorae::tasks {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kAnswerOpen = "<answer>";
constexpr std::string_view kAnswerClose = "</answer>";
constexpr std::string_view kBoxed = "\\boxed{";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// The end (one past the closing brace) of the \boxed{ starting at `at`, or npos if its braces
// never balance.
size_t BoxedEnd(std::string_view s, size_t at) {
  int depth = 0;
  for (size_t i = at + kBoxed.size() - 1; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

// The content of the last <answer>...</answer> in s, if any.
std::optional<std::string_view> LastTagged(std::string_view s) {
  size_t close = s.rfind(kAnswerClose);
  if (close == std::string_view::npos) return std::nullopt;
  size_t open = s.rfind(kAnswerOpen, close);
  if (open == std::string_view::npos) return std::nullopt;
  return s.substr(open + kAnswerOpen.size(), close - open - kAnswerOpen.size());
}

// The content of the last balanced \boxed{...} in s, if any (an unbalanced, e.g. truncated, one
// is passed over in favour of an earlier complete one).
std::optional<std::string_view> LastBoxed(std::string_view s) {
  size_t at = s.size();
  while (at > 0) {
    at = s.rfind(kBoxed, at - 1);
    if (at == std::string_view::npos) break;
    size_t end = BoxedEnd(s, at);
    if (end != std::string_view::npos) return s.substr(at + kBoxed.size(), end - at - kBoxed.size() - 1);
  }
  return std::nullopt;
}

bool IsBuiltinNumeric(const std::string& task) { return task == "arithmetic" || task == "linear"; }

}  // namespace

std::optional<std::string> ExtractAnswer(std::string_view response) {
  size_t think_end = response.rfind(kThinkClose);
  if (think_end != std::string_view::npos) response.remove_prefix(think_end + kThinkClose.size());
  std::optional<std::string_view> a = LastTagged(response);
  if (!a) a = LastBoxed(response);
  if (!a) return std::nullopt;
  return std::string(Trim(*a));
}

bool HasR1Format(std::string_view response) {
  std::string_view s = Trim(response);
  if (s.substr(0, kThinkOpen.size()) != kThinkOpen) return false;
  s.remove_prefix(kThinkOpen.size());
  size_t close = s.find(kThinkClose);
  if (close == std::string_view::npos) return false;
  std::string_view think = s.substr(0, close);
  if (think.find(kThinkOpen) != std::string_view::npos) return false;
  std::string_view rest = Trim(s.substr(close + kThinkClose.size()));
  std::string_view content;
  if (rest.substr(0, kAnswerOpen.size()) == kAnswerOpen) {
    if (rest.size() < kAnswerOpen.size() + kAnswerClose.size()) return false;
    if (rest.substr(rest.size() - kAnswerClose.size()) != kAnswerClose) return false;
    content = rest.substr(kAnswerOpen.size(), rest.size() - kAnswerOpen.size() - kAnswerClose.size());
    if (content.find(kAnswerOpen) != std::string_view::npos || content.find(kAnswerClose) != std::string_view::npos) {
      return false;
    }
  } else if (rest.substr(0, kBoxed.size()) == kBoxed) {
    if (BoxedEnd(rest, 0) != rest.size()) return false;
    content = rest.substr(kBoxed.size(), rest.size() - kBoxed.size() - 1);
  } else {
    return false;
  }
  if (content.find(kThinkOpen) != std::string_view::npos || content.find(kThinkClose) != std::string_view::npos) {
    return false;
  }
  return !Trim(content).empty();
}

Verdict Verify(const Problem& p, std::string_view response) {
  Verdict v;
  v.formatted = HasR1Format(response);
  std::optional<std::string> extracted = ExtractAnswer(response);
  if (!extracted) return v;
  v.extracted = *extracted;
  if (p.task == "countdown") {
    v.correct = CountdownSolves(v.extracted, p.numbers, p.target);
    return v;
  }
  std::optional<Rational> got = ParseNumber(v.extracted);
  std::optional<Rational> want = ParseNumber(p.answer);
  if (IsBuiltinNumeric(p.task)) {
    v.correct = got && want && *got == *want;
  } else if (got && want) {
    v.correct = *got == *want;
  } else {
    v.correct = v.extracted == Trim(p.answer);
  }
  return v;
}

std::string AnswerText(const Problem& p) {
  if (IsBuiltinNumeric(p.task)) {
    std::optional<Rational> r = ParseNumber(p.answer);
    if (r && IsInteger(*r)) return RatToString(*r);
  }
  if (p.task == "countdown") {
    // The expression alone, without whitespace or an "= target" suffix.
    std::string_view a = p.answer;
    if (size_t eq = a.find('='); eq != std::string_view::npos) a = a.substr(0, eq);
    std::string out;
    for (char c : a) {
      if (!IsSpace(c)) out += c;
    }
    return out;
  }
  return std::string(Trim(p.answer));
}

}  // namespace gorae::tasks
