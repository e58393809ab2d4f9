// A compiled PCRE2 pattern for pre-tokenizer splits. Hugging Face `tokenizers` uses Oniguruma;
// the patterns real tokenizers ship (Unicode properties, lookaheads, (?i:...)) mean the same in
// PCRE2 with UTF + UCP, after the small syntax translation done in Compile().
//
// Thread safety: a Regex is immutable after Compile and may be used from many threads; match
// scratch space is thread-local.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gorae::tokenizer {

class Regex {
 public:
  // Compiles an Oniguruma-style pattern. `literal` compiles `pattern` as a plain string (the
  // {"String": ...} form of a Split pattern).
  static Result<std::shared_ptr<const Regex>> Compile(std::string_view pattern, bool literal);
  ~Regex();

  // Appends to `out` the [begin, end) byte ranges of successive non-overlapping matches in
  // `text` (which must be valid UTF-8), scanning left to right as Oniguruma's find_iter does.
  // Empty matches are reported (the caller drops them) and the scan moves one character on.
  // Fails only if PCRE2 gives up (a match or stack limit on pathological input), so that a
  // failure is never mistaken for "no more matches".
  Status FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
};

}  // namespace gorae::tokenizer
