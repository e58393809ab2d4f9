// The text side of one generated sequence: ids -> UTF-8-safe text (StreamDecoder) -> stop
// strings (StopMatcher) -> reasoning/content split (ReasoningSplitter). Used by the HTTP
// server for each choice and by `gorae chat`.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "server/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace gorae::server {

struct ChoiceTextOptions {
  std::vector<std::string> stop;  // stop strings
  std::vector<int> end_ids;       // ids that end the answer (EOS / end of turn); never shown
  bool split_reasoning = false;   // chat: split <think>; completions: all text is content
  bool starts_in_reasoning = false;
};

class ChoiceText {
 public:
  ChoiceText(const tokenizer::Tokenizer& tok, ChoiceTextOptions options);

  // Feeds newly generated ids; returns the text they add. Once stopped() (a stop string or an
  // end id), further ids are ignored. Ids the tokenizer does not know (a model vocabulary
  // padded beyond the tokenizer's) add no text.
  SplitDelta Feed(std::span<const int> ids);
  // The rest of the text, at the end of the sequence (whether stopped or not).
  SplitDelta Finish();
  bool stopped() const { return stopped_; }
  // Ids consumed (counted as completion tokens), the end id included.
  int tokens() const { return tokens_; }
  // Ids consumed whose text is part of the answer: tokens() less an end id (never shown).
  int shown_tokens() const { return tokens_ - (ended_by_id_ ? 1 : 0); }

 private:
  const tokenizer::Tokenizer& tok_;
  ChoiceTextOptions options_;
  tokenizer::StreamDecoder decoder_;
  StopMatcher stop_;
  ReasoningSplitter splitter_;
  bool stopped_ = false;
  bool ended_by_id_ = false;
  bool finished_ = false;
  int tokens_ = 0;
};

void Append(SplitDelta& to, const SplitDelta& more);

}  // namespace gorae::server
