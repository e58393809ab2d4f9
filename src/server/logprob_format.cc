#include "server/logprob_format.h"

#include <fmt/format.h>

#include "tokenizer/utf8.h"

namespace gorae::server {

using nlohmann::json;

namespace {

// A token's text; one that is not valid UTF-8 on its own (part of a character) is written as
// OpenAI writes it, "bytes:\xe2\x80", so that different byte tokens stay different strings.
std::string TokenText(const tokenizer::Tokenizer& tok, int id) {
  auto bytes = tok.TokenBytes(id);
  if (!bytes.ok()) return std::string();  // a padded id past the tokenizer: no text
  if (tokenizer::FindInvalidUtf8(*bytes) == std::string_view::npos) return std::string(*bytes);
  std::string out = "bytes:";
  for (unsigned char c : *bytes) out += fmt::format("\\x{:02x}", c);
  return out;
}

std::string TokenBytes(const tokenizer::Tokenizer& tok, int id) {
  auto bytes = tok.TokenBytes(id);
  return bytes.ok() ? std::string(*bytes) : std::string();
}

bool IsContinuationByte(unsigned char c) { return (c & 0xC0) == 0x80; }

json Bytes(const std::string& s) {
  json out = json::array();
  for (unsigned char c : s) out.push_back(static_cast<int>(c));
  return out;
}

}  // namespace

json ChatLogprobEntry(const tokenizer::Tokenizer& tok, const TokenLogprob& lp) {
  json top = json::array();
  for (const auto& [id, logprob] : lp.top) {
    top.push_back({{"token", TokenText(tok, id)}, {"logprob", logprob}, {"bytes", Bytes(TokenBytes(tok, id))}});
  }
  return {{"token", TokenText(tok, lp.id)},
          {"logprob", lp.logprob},
          {"bytes", Bytes(TokenBytes(tok, lp.id))},
          {"top_logprobs", std::move(top)}};
}

void LegacyLogprobs::AddText(int id) {
  const std::string text = TokenBytes(*tok_, id);
  // A token that starts inside a character (its first byte continues one) is placed at it.
  const bool starts_inside = !text.empty() && IsContinuationByte(static_cast<unsigned char>(text[0])) && chars_ > 0;
  text_offset_.push_back(chars_ - (starts_inside ? 1 : 0));
  for (unsigned char c : text) chars_ += IsContinuationByte(c) ? 0 : 1;
  tokens_.push_back(TokenText(*tok_, id));
}

void LegacyLogprobs::AddUnpredicted(int id) {
  AddText(id);
  token_logprobs_.push_back(nullptr);
  top_logprobs_.push_back(nullptr);
}

void LegacyLogprobs::Add(const TokenLogprob& lp) {
  AddText(lp.id);
  token_logprobs_.push_back(lp.logprob);
  json top = json::object();
  for (const auto& [id, logprob] : lp.top) {
    const std::string t = TokenText(*tok_, id);
    if (!top.contains(t)) top[t] = logprob;  // two ids with one text: the likelier one stays
  }
  top_logprobs_.push_back(std::move(top));
}

json LegacyLogprobs::ToJson(size_t from) const {
  auto slice = [from](const json& a) {
    json out = json::array();
    for (size_t i = from; i < a.size(); ++i) out.push_back(a[i]);
    return out;
  };
  return {{"tokens", slice(tokens_)},
          {"token_logprobs", slice(token_logprobs_)},
          {"top_logprobs", slice(top_logprobs_)},
          {"text_offset", slice(text_offset_)}};
}

}  // namespace gorae::server
