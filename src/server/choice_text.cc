#include "server/choice_text.h"

#include <algorithm>

namespace gorae::server {

void Append(SplitDelta& to, const SplitDelta& more) {
  to.reasoning += more.reasoning;
  to.content += more.content;
}

ChoiceText::ChoiceText(const tokenizer::Tokenizer& tok, ChoiceTextOptions options)
    : tok_(tok),
      options_(std::move(options)),
      decoder_(tok),
      stop_(options_.stop),
      splitter_(options_.split_reasoning && options_.starts_in_reasoning) {}

SplitDelta ChoiceText::Feed(std::span<const int> ids) {
  SplitDelta out;
  for (int id : ids) {
    if (stopped_ || finished_) break;
    ++tokens_;
    if (std::find(options_.end_ids.begin(), options_.end_ids.end(), id) != options_.end_ids.end()) {
      stopped_ = true;
      ended_by_id_ = true;
      break;
    }
    if (!tok_.IsValidId(id)) continue;
    auto piece = decoder_.Push(id);
    if (!piece.ok()) continue;  // unreachable for valid ids
    std::string text = stop_.Push(*piece);
    if (stop_.stopped()) stopped_ = true;
    if (options_.split_reasoning) {
      Append(out, splitter_.Push(text));
    } else {
      out.content += text;
    }
  }
  return out;
}

SplitDelta ChoiceText::Finish() {
  SplitDelta out;
  if (finished_) return out;
  finished_ = true;
  std::string text;
  // After an end id the decoder may still hold an unfinished character; after a stop string
  // the text past the match is dropped.
  if (!stop_.stopped()) text = stop_.Push(decoder_.Flush());
  if (!stop_.stopped()) text += stop_.Finish();
  if (options_.split_reasoning) {
    Append(out, splitter_.Push(text));
    Append(out, splitter_.Finish());
  } else {
    out.content = std::move(text);
  }
  return out;
}

}  // namespace gorae::server
