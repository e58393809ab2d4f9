// Turning a stream of generated text pieces into what an OpenAI client sees: stop sequences cut
// the text (the stop string itself is never sent), and DeepSeek-style reasoning is split off
// the answer ("<think>...</think>" goes to reasoning_content, the rest to content).
//
// Both work on text as it streams, so a stop string or a tag may arrive split across pieces:
// each holds back just the bytes that could still turn out to be the start of one, and
// releases them once they cannot (or at Finish).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gorae::server {

// Cuts the text at the first occurrence of any stop string.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Appends a piece; returns the text that is now safe to emit. After a match, returns the
  // text before it and stopped() is true; later pieces are ignored.
  std::string Push(std::string_view piece);
  // Returns whatever is still held back (the stream ended without a match).
  std::string Finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

// What a piece of output text adds to each of the two message fields.
struct SplitDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

// Splits "<think>reasoning</think>answer". Rules (those of DeepSeek's API and of the gorae and
// R1 chat templates):
//  - if the prompt already opened the block (R1's generation prompt ends in "<think>\n"), the
//    output starts inside the reasoning; otherwise the output is reasoning only if it begins
//    with "<think>" (after optional whitespace), and is all content otherwise;
//  - whitespace right after "<think>", right before "</think>" and right after "</think>" is
//    dropped, so a message rendered by the gorae template ("<think>\nR\n</think>\n\nC")
//    splits back into exactly R and C;
//  - a block that never closes is all reasoning.
class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(bool starts_in_reasoning);
  SplitDelta Push(std::string_view piece);
  SplitDelta Finish();

 private:
  enum class State { kUndecided, kReasoningStart, kReasoning, kContentStart, kContent };
  State state_;
  std::string held_;  // bytes not yet assigned to a field
};

// True if the rendered prompt ends inside an open "<think>" block (it ends with "<think>" plus
// optional whitespace), i.e. the model's output starts with reasoning.
bool PromptOpensReasoning(std::string_view prompt);

}  // namespace gorae::server
