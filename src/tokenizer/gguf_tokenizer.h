// The tokenizer stored in a GGUF file's metadata, as llama.cpp's convert_hf_to_gguf.py writes
// it for a byte-level BPE vocabulary, read into and written from the same Tokenizer that
// tokenizer.json gives.
//
// Keys (llama.cpp's names):
//   tokenizer.ggml.model          string    "gpt2" (byte-level BPE); "llama" (SentencePiece) and
//                                           others are refused by name
//   tokenizer.ggml.pre            string    pre-tokenizer name (table below); absent: "default"
//   tokenizer.ggml.tokens         [string]  one per id, normal tokens in the byte-level alphabet
//                                           ("Ġthe"), added tokens as their text
//   tokenizer.ggml.token_type     [i32]     1 normal, 2 unknown, 3 control, 4 user-defined,
//                                           5 unused, 6 byte; absent: all normal
//   tokenizer.ggml.merges         [string]  "left right", by rank
//   tokenizer.ggml.bos_token_id, eos_token_id, padding_token_id   u32
//   tokenizer.ggml.add_bos_token, add_eos_token                  bool
//   tokenizer.chat_template       string    Jinja text (recognised by chat_template.h)
//
// How the keys become a Tokenizer: normal tokens are the BPE vocabulary; control and unknown
// tokens are special added tokens and user-defined ones non-special added tokens (llama.cpp
// cuts both out of the text before pre-tokenizing, as `tokenizers` does with added tokens);
// unused tokens (the "[PAD123]" fillers up to the model's vocab size) are ids the tokenizer
// never produces and Decode refuses, as with tokenizer.json. The pre-tokenizer name selects
// the same regex splits llama.cpp's llama-vocab.cpp runs for it, in `tokenizers`' spelling:
//
//   deepseek-v3                       DeepSeek-V3/R1: \p{N}{1,3}, CJK/kana runs, then words/punct
//   deepseek-llm                      DeepSeek LLM 7B/67B: six splits
//   qwen2, deepseek-r1-qwen           Qwen2 regex; NFC normalizer, as Qwen2's tokenizer.json has
//                                     (llama.cpp skips NFC: a difference only on non-NFC text)
//   llama-bpe, llama3, llama-v3       Llama 3 regex; whole-word vocab hits skip merging
//                                     (ignore_merges); BOS added unless add_bos_token says no
//   gpt-2, gpt2                       GPT-2's ByteLevel regex
//   default                           llama.cpp's fallback list of four splits
//
// The GGUF writer follows convert_hf_to_gguf.py: ids up to the model's vocab size, missing ones
// "[PAD<id>]" of type unused; an added token is control when it is special or looks special
// ("<|...|>", "<｜...｜>", "<pad>", "<mask>", ...), else user-defined; the pre name is picked by comparing the tokenizer.json pre-tokenizer
// (and normalizer, ignore_merges) with the table above (llama.cpp hashes a test encoding instead);
// special ids come from tokenizer_config.json, then config.json.
//
// What GGUF cannot carry: lstrip/rstrip/single_word of added tokens, and whether a token that
// looks special was special (DeepSeek-V3's "<｜User｜>" is not; in GGUF it is control, so
// Decode(skip_special=true) leaves it out). Encoding and plain decoding are unaffected.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace gorae {
class GgufFile;
class GgufWriter;
}  // namespace gorae

namespace gorae::tokenizer {

// The Hugging Face files that describe the same tokenizer as a GGUF file's metadata.
struct HfTokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};

// Reads the tokenizer.ggml.* keys (strings are read from the mapping, no copy of the file).
// Errors name the file and the key: a missing tokens array, merges that use unknown tokens, a
// token_type array of another length, an unknown pre-tokenizer name, a non-BPE model.
Result<HfTokenizerFiles> GgufToHfTokenizer(const GgufFile& file);

// GgufToHfTokenizer then Tokenizer::FromJson.
Result<std::shared_ptr<const Tokenizer>> LoadGgufTokenizer(const GgufFile& file);
Result<std::shared_ptr<const Tokenizer>> LoadGgufTokenizer(const std::string& gguf_path);

// Whether a GGUF file carries a tokenizer (has tokenizer.ggml.model).
// False also for tokenizer.ggml.model "none" (llama.cpp's files without a vocabulary).
bool GgufHasTokenizer(const GgufFile& file);

// Writes tokenizer.ggml.model = "none": a model llama.cpp runs from token ids, with no vocabulary.
void MarkGgufWithoutTokenizer(GgufWriter* w);

struct GgufTokenizerOptions {
  // The model's vocabulary size (embedding rows): ids past the tokenizer's are written as unused
  // "[PAD<id>]" tokens. 0: the tokenizer's own size. Smaller than the tokenizer: an error.
  int64_t vocab_size = 0;
  // Special ids from config.json, used when tokenizer_config.json names none (-1: none).
  int64_t config_bos_id = -1, config_eos_id = -1, config_pad_id = -1;
};

struct GgufTokenizerWritten {
  std::string pre;                 // the tokenizer.ggml.pre written
  int64_t tokens = 0, merges = 0;  // array lengths
  // What GGUF cannot say and a reader will not reproduce, one line each (an added token's
  // lstrip/rstrip/single_word). Empty for DeepSeek, Qwen2 and Llama 3 tokenizers.
  std::vector<std::string> lost;
};

// Adds the tokenizer.ggml.* keys (and tokenizer.chat_template) for the tokenizer of a
// tokenizer.json (+ tokenizer_config.json, may be empty) to `w`. `name` is used in errors;
// a pre-tokenizer llama.cpp has no name for is an Unsupported error saying so.
Result<GgufTokenizerWritten> AddTokenizerToGguf(std::string_view tokenizer_json, std::string_view config_json,
                                                const GgufTokenizerOptions& options, const std::string& name,
                                                GgufWriter* w);
// Same from DIR/tokenizer.json and DIR/tokenizer_config.json (optional).
Result<GgufTokenizerWritten> AddTokenizerToGguf(const std::string& model_dir, const GgufTokenizerOptions& options,
                                                GgufWriter* w);

// llama.cpp's pre-tokenizer name for a parsed tokenizer.json, or Unsupported saying why none fits.
Result<std::string> GgufPreTokenizerName(const nlohmann::json& tokenizer_json);

}  // namespace gorae::tokenizer
