// The OpenAI shapes of token log-probabilities (infer/logprobs.h computes them):
//   chat:        choices[].logprobs = {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}
//   completions: choices[].logprobs = {"tokens", "token_logprobs", "top_logprobs", "text_offset"},
//                four lists with one entry per token; with echo the prompt's tokens come first,
//                and the first of them (nothing predicts it) has null logprob and alternatives.
// A token's text is its bytes; one that is not valid UTF-8 alone (part of a character) is
// written "bytes:\xe2\x80" as OpenAI does, and chat's "bytes" gives the exact bytes.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "infer/logprobs.h"
#include "tokenizer/tokenizer.h"

namespace gorae::server {

nlohmann::json ChatLogprobEntry(const tokenizer::Tokenizer& tok, const TokenLogprob& lp);

// The completions lists, built token by token; streamed chunks take the entries since the last.
class LegacyLogprobs {
 public:
  explicit LegacyLogprobs(const tokenizer::Tokenizer& tok) : tok_(&tok) {}
  void AddUnpredicted(int id);  // the first token of a prompt
  void Add(const TokenLogprob& lp);
  size_t size() const { return tokens_.size(); }
  // The lists of entries [from, size()).
  nlohmann::json ToJson(size_t from = 0) const;

 private:
  void AddText(int id);
  const tokenizer::Tokenizer* tok_;
  nlohmann::json tokens_ = nlohmann::json::array();
  nlohmann::json token_logprobs_ = nlohmann::json::array();
  nlohmann::json top_logprobs_ = nlohmann::json::array();
  nlohmann::json text_offset_ = nlohmann::json::array();
  int64_t chars_ = 0;  // characters of the text so far (text_offset counts characters, as OpenAI's)
};

}  // namespace gorae::server
