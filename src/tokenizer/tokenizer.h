// gorae's tokenizer: Hugging Face `tokenizer.json` (byte-level BPE) and the chat template of
// `tokenizer_config.json`, token-exact with the Python `tokenizers` library.
//
// Typical use (the engine sees only ids; text goes through here):
//
//   GORAE_ASSIGN_OR_RETURN(auto tok, gorae::tokenizer::Tokenizer::Load("/models/deepseek-v3"));
//   GORAE_ASSIGN_OR_RETURN(std::string prompt, tok->RenderChat(messages, /*add_generation_prompt=*/true));
//   GORAE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok->Encode(prompt));   // template has BOS
//   gorae::tokenizer::StreamDecoder stream(*tok);
//   for (int32_t id : generated) { if (id == tok->eot_id()) break; fputs(stream.Push(id)->c_str(), stdout); }
//   fputs(stream.Flush().c_str(), stdout);
//
// Pipeline of Encode (as in `tokenizers`): added tokens with normalized=false are cut out of
// the raw text; the rest is normalized (NFC if configured); added tokens with normalized=true
// are cut out of that; what remains is pre-tokenized (Split regexes, Digits, ByteLevel) and each
// piece is BPE-merged.
//
// Thread safety: a loaded Tokenizer is immutable; all const methods may be called from any
// number of threads at once. StreamDecoder is a small per-stream object (not shared).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/added_vocab.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace gorae::tokenizer {

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json (special-token names,
  // chat template). Errors name the file and the field.
  static Result<std::shared_ptr<const Tokenizer>> Load(const std::string& model_dir);
  // Same from file contents; `name` is used in error messages. `config_json` may be empty.
  static Result<std::shared_ptr<const Tokenizer>> FromJson(std::string_view tokenizer_json,
                                                           std::string_view config_json,
                                                           const std::string& name);

  // Encodes UTF-8 text (InvalidArgument with the byte offset if it is not valid UTF-8).
  // Special tokens written in the text are recognised. With add_bos the BOS id is put first
  // (when the tokenizer has one); that is what `transformers` does for DeepSeek
  // (add_bos_token) and Llama 3 (post-processor template).
  Result<std::vector<int32_t>> Encode(std::string_view text, bool add_bos = false) const;
  // Encodes many texts on `num_threads` threads (0: all cores). Output i belongs to texts[i].
  Result<std::vector<std::vector<int32_t>>> EncodeBatch(const std::vector<std::string>& texts,
                                                        bool add_bos, int num_threads = 0) const;

  // Decodes ids to text as `tokenizers`' decode(ids, skip_special_tokens) does: byte-level
  // bytes are joined and invalid UTF-8 becomes U+FFFD. InvalidArgument for an unknown id.
  Result<std::string> Decode(std::span<const int32_t> ids, bool skip_special = false) const;
  // The raw bytes of one token (may be an incomplete UTF-8 sequence).
  Result<std::string_view> TokenBytes(int32_t id) const;

  // One more than the largest id (model vocabulary and added tokens).
  int32_t vocab_size() const { return static_cast<int32_t>(id_bytes_.size()); }
  // The id of a token given its text as stored (added-token content or vocab entry).
  std::optional<int32_t> TokenToId(std::string_view token) const;
  bool IsSpecial(int32_t id) const;
  bool IsValidId(int32_t id) const;
  const std::vector<AddedToken>& added_tokens() const { return added_; }

  // Special ids, -1 when the tokenizer has none. eot_id() ends an assistant turn (the EOS of
  // DeepSeek models; <|eot_id|> / <|im_end|> when the vocabulary has them).
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }
  int32_t pad_id() const { return pad_id_; }

  // Renders a conversation with the model's chat template (see chat_template.h). Unsupported
  // if tokenizer_config.json has no template or one gorae does not know.
  // `tools`: tool definitions as the template's tojson writes them (chat_template.h).
  Result<std::string> RenderChat(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 const std::vector<std::string>& tools = {}) const;
  // The template kind, or the reason there is none.
  const Result<ChatTemplateKind>& chat_template() const { return chat_template_; }
  // The template's Jinja text as tokenizer_config.json gives it ("" when there is none).
  const std::string& chat_template_text() const { return chat_template_text_; }

  const BpeModel& model() const { return model_; }

 private:
  Tokenizer() = default;
  Status Init(std::string_view tokenizer_json, std::string_view config_json, const std::string& name);
  Status EncodePlain(std::string_view text, std::vector<int32_t>* out) const;
  Status EncodeNormalized(std::string_view text, std::vector<int32_t>* out) const;

  BpeModel model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  std::vector<AddedToken> added_;
  AddedTokenMatcher raw_matcher_;         // added tokens with normalized=false
  AddedTokenMatcher normalized_matcher_;  // added tokens with normalized=true
  std::vector<std::string> id_bytes_;     // what each id decodes to; empty + !valid for gaps
  std::vector<uint8_t> id_flags_;         // bit 0: valid id, bit 1: special
  int32_t bos_id_ = -1, eos_id_ = -1, eot_id_ = -1, pad_id_ = -1;
  std::string bos_token_, eos_token_;
  Result<ChatTemplateKind> chat_template_ = Status(StatusCode::kNotFound, "no chat_template");
  std::string chat_template_text_;  // the Jinja text (kChatML reads its default system message)
};

// Turns a stream of ids into text as it arrives. Push returns only complete UTF-8: bytes of a
// character split across tokens are held until the character is complete. The concatenation
// of all Push results and the final Flush equals Decode(all ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tok_(tokenizer), skip_special_(skip_special) {}
  // Adds one id; returns the newly completed text (often empty). InvalidArgument for a bad id.
  Result<std::string> Push(int32_t id);
  // Returns the held-back bytes (an unfinished character becomes U+FFFD) and resets.
  std::string Flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::string pending_;  // raw bytes not yet returned
};

}  // namespace gorae::tokenizer
