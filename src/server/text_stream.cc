#include "server/text_stream.h"

#include <algorithm>

namespace gorae::server {

namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Length of the longest suffix of `text` that is a proper prefix of `word`: those bytes may be
// the beginning of `word` and must be held back.
size_t PartialSuffix(std::string_view text, std::string_view word) {
  const size_t max = std::min(text.size(), word.size() - 1);
  for (size_t n = max; n > 0; --n) {
    if (text.substr(text.size() - n) == word.substr(0, n)) return n;
  }
  return 0;
}

size_t TrailingSpace(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && IsSpace(text[text.size() - 1 - n])) ++n;
  return n;
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

std::string StopMatcher::Push(std::string_view piece) {
  if (stopped_) return {};
  held_.append(piece);
  // The earliest match wins (a later-listed stop string may match earlier in the text).
  size_t cut = std::string::npos;
  for (const auto& s : stops_) cut = std::min(cut, held_.find(s));
  if (cut != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, cut);
    held_.clear();
    return out;
  }
  size_t keep = 0;
  for (const auto& s : stops_) keep = std::max(keep, PartialSuffix(held_, s));
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::Finish() {
  std::string out;
  if (!stopped_) out.swap(held_);
  held_.clear();
  return out;
}

ReasoningSplitter::ReasoningSplitter(bool starts_in_reasoning)
    : state_(starts_in_reasoning ? State::kReasoningStart : State::kUndecided) {}

SplitDelta ReasoningSplitter::Push(std::string_view piece) {
  held_.append(piece);
  SplitDelta d;
  // Each pass either changes state or returns, so this loop ends: a block can open and close
  // (and the content begin) within one piece.
  for (int pass = 0; pass < 8; ++pass) {
    switch (state_) {
      case State::kUndecided: {
        size_t lead = 0;
        while (lead < held_.size() && IsSpace(held_[lead])) ++lead;
        std::string_view rest = std::string_view(held_).substr(lead);
        if (rest.size() >= kOpen.size() && rest.substr(0, kOpen.size()) == kOpen) {
          held_.erase(0, lead + kOpen.size());
          state_ = State::kReasoningStart;
          continue;
        }
        if (rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) return d;  // undecided yet
        state_ = State::kContent;
        continue;
      }
      case State::kReasoningStart:
      case State::kContentStart: {
        size_t lead = 0;
        while (lead < held_.size() && IsSpace(held_[lead])) ++lead;
        held_.erase(0, lead);
        if (held_.empty()) return d;
        state_ = state_ == State::kReasoningStart ? State::kReasoning : State::kContent;
        continue;
      }
      case State::kReasoning: {
        const size_t close = held_.find(kClose);
        if (close != std::string::npos) {
          std::string_view before = std::string_view(held_).substr(0, close);
          d.reasoning.append(before.substr(0, before.size() - TrailingSpace(before)));
          held_.erase(0, close + kClose.size());
          state_ = State::kContentStart;
          continue;
        }
        // Hold back a possible partial "</think>" and the whitespace before it.
        std::string_view text = held_;
        size_t keep = PartialSuffix(text, kClose);
        keep += TrailingSpace(text.substr(0, text.size() - keep));
        d.reasoning.append(text.substr(0, text.size() - keep));
        held_.erase(0, held_.size() - keep);
        return d;
      }
      case State::kContent:
        d.content.append(held_);
        held_.clear();
        return d;
    }
  }
  return d;
}

SplitDelta ReasoningSplitter::Finish() {
  SplitDelta d;
  switch (state_) {
    case State::kUndecided:
    case State::kContent:
      d.content.swap(held_);
      break;
    case State::kReasoning: {
      // An unclosed block: the held bytes were a partial tag or trailing whitespace.
      std::string_view text = held_;
      d.reasoning.append(text.substr(0, text.size() - TrailingSpace(text)));
      break;
    }
    case State::kReasoningStart:
    case State::kContentStart:
      break;  // only whitespace was held
  }
  held_.clear();
  return d;
}

bool PromptOpensReasoning(std::string_view prompt) {
  prompt = prompt.substr(0, prompt.size() - TrailingSpace(prompt));
  return prompt.size() >= kOpen.size() && prompt.substr(prompt.size() - kOpen.size()) == kOpen;
}

}  // namespace gorae::server
