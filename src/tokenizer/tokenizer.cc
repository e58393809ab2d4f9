// Encode / decode (the pipeline described in tokenizer.h) and the streaming decoder.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>

#include "tokenizer/utf8.h"

namespace gorae::tokenizer {

// Pre-tokenizes text that holds no added tokens and BPE-encodes each piece.
Status Tokenizer::EncodeNormalized(std::string_view text, std::vector<int32_t>* out) const {
  std::vector<std::string_view> pieces;
  std::deque<std::string> arena;
  GORAE_RETURN_IF_ERROR(pre_tokenizer_.Apply(text, &pieces, &arena));
  for (std::string_view p : pieces) model_.EncodePiece(p, out);
  return Status::Ok();
}

// Normalizes a segment free of raw added tokens, cuts out normalized added tokens, encodes.
Status Tokenizer::EncodePlain(std::string_view text, std::vector<int32_t>* out) const {
  std::string normalized;
  if (!normalizer_.empty()) {
    normalized = normalizer_.Apply(text);
    text = normalized;
  }
  if (normalized_matcher_.empty()) return EncodeNormalized(text, out);
  std::vector<Segment> segs;
  normalized_matcher_.Split(text, &segs);
  for (const Segment& s : segs) {
    if (s.id >= 0) {
      out->push_back(s.id);
    } else {
      GORAE_RETURN_IF_ERROR(EncodeNormalized(s.text, out));
    }
  }
  return Status::Ok();
}

Result<std::vector<int32_t>> Tokenizer::Encode(std::string_view text, bool add_bos) const {
  size_t bad = FindInvalidUtf8(text);
  if (bad != std::string_view::npos)
    return InvalidArgument("input is not valid UTF-8 (byte {} of {}: 0x{:02x})", bad, text.size(),
                           static_cast<unsigned char>(text[bad]));
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  if (raw_matcher_.empty()) {
    GORAE_RETURN_IF_ERROR(EncodePlain(text, &ids));
    return ids;
  }
  std::vector<Segment> segs;
  raw_matcher_.Split(text, &segs);
  for (const Segment& s : segs) {
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      GORAE_RETURN_IF_ERROR(EncodePlain(s.text, &ids));
    }
  }
  return ids;
}

Result<std::vector<std::vector<int32_t>>> Tokenizer::EncodeBatch(const std::vector<std::string>& texts,
                                                                 bool add_bos, int num_threads) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  std::vector<Status> errors(texts.size());
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads = std::min<int>(num_threads, std::max<size_t>(1, texts.size()));
  // Work stealing by index: texts differ in length, so a shared counter balances the load.
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < texts.size();) {
      auto r = Encode(texts[i], add_bos);
      if (r.ok()) {
        out[i] = std::move(r).value();
      } else {
        errors[i] = r.status();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < num_threads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < errors.size(); ++i)
    if (!errors[i].ok()) return errors[i].WithContext(fmt::format("text {}", i));
  return out;
}

bool Tokenizer::IsValidId(int32_t id) const {
  return id >= 0 && id < vocab_size() && (id_flags_[id] & 1);
}

bool Tokenizer::IsSpecial(int32_t id) const { return IsValidId(id) && (id_flags_[id] & 2); }

Result<std::string_view> Tokenizer::TokenBytes(int32_t id) const {
  if (!IsValidId(id))
    return InvalidArgument("token id {} is out of range (vocabulary has ids 0..{})", id, vocab_size() - 1);
  return std::string_view(id_bytes_[id]);
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  for (const auto& a : added_)
    if (a.content == token) return a.id;
  auto it = model_.token_to_id().find(std::string(token));
  if (it != model_.token_to_id().end()) return it->second;
  return std::nullopt;
}

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    GORAE_ASSIGN_OR_RETURN(std::string_view b, TokenBytes(id));
    if (skip_special && IsSpecial(id)) continue;
    bytes.append(b);
  }
  return ToValidUtf8Lossy(bytes);
}

Result<std::string> Tokenizer::RenderChat(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                          const std::vector<std::string>& tools) const {
  if (!chat_template_.ok()) return chat_template_.status();
  return RenderChatTemplate(chat_template_.value(), messages, add_generation_prompt, bos_token_, chat_template_text_,
                            tools);
}

Result<std::string> StreamDecoder::Push(int32_t id) {
  GORAE_ASSIGN_OR_RETURN(std::string_view b, tok_.TokenBytes(id));
  if (skip_special_ && tok_.IsSpecial(id)) return std::string();
  pending_.append(b);
  // Everything but a possibly-unfinished character at the end can go out now. Invalid bytes
  // before it are final, so their U+FFFD is the same as a whole-sequence decode gives.
  size_t keep = IncompleteUtf8Tail(pending_);
  std::string out = ToValidUtf8Lossy(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = ToValidUtf8Lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace gorae::tokenizer
