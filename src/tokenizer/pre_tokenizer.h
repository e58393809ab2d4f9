// Pre-tokenizers: cut normalized text into the pieces that BPE encodes independently.
// Supported (the ones DeepSeek-V3/R1, Qwen2 and Llama 3 use): Split (regex or literal, all five
// delimiter behaviours, invert), Digits, ByteLevel (prefix space, GPT-2 regex; its byte mapping
// is done by the BPE model, which works on raw bytes). Nested Sequences are flattened.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "tokenizer/regex.h"

namespace gorae::tokenizer {

// How matches of a Split pattern become pieces (names as in tokenizer.json).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel };
  Kind kind = Kind::kSplit;
  // kSplit
  std::shared_ptr<const Regex> regex;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  // kByteLevel
  bool add_prefix_space = false;
  bool use_regex = false;  // split with the GPT-2 pattern (kept in `regex`)
};

// The flattened pre-tokenizer of a tokenizer.json.
struct PreTokenizer {
  std::vector<PreTokenizerStep> steps;
  bool byte_level = false;  // a ByteLevel step is present (it must be the last step)

  // Parses the "pre_tokenizer" field (null allowed). `where` names the field for errors.
  static Result<PreTokenizer> FromJson(const nlohmann::json& j, const std::string& where);

  // Splits `text` and appends non-empty pieces to `out`. Pieces point into `text` or into
  // strings kept in `arena` (ByteLevel's prefix space makes new strings).
  Status Apply(std::string_view text, std::vector<std::string_view>* out,
               std::deque<std::string>* arena) const;
};

// Applies one split step to every piece (exposed for the trainer, which reuses the pipeline).
Status SplitPieces(const Regex& re, SplitBehavior behavior, bool invert,
                 const std::vector<std::string_view>& in, std::vector<std::string_view>* out);

// The GPT-2 pre-tokenizer regex that ByteLevel(use_regex=true) applies.
extern const char kGpt2Pattern[];

}  // namespace gorae::tokenizer
