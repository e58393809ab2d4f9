// Added tokens ("added_tokens" of tokenizer.json): strings such as <｜User｜> that are cut out
// of the text before normalization and pre-tokenization and map straight to one id.
//
// Matching is leftmost-longest, as the Aho-Corasick automaton of `tokenizers` does: at the
// first position where any added token matches, the longest one wins. lstrip/rstrip widen a
// match over neighbouring Unicode whitespace; single_word rejects matches inside a word.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gorae::tokenizer {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;  // matched against normalized text (second pass) instead of raw text
  std::string pattern;      // what is matched: content, normalized when `normalized` (set at load)
};

// A run of text: either plain text to encode (id < 0) or one added token.
struct Segment {
  std::string_view text;
  int32_t id = -1;
};

class AddedTokenMatcher {
 public:
  // `tokens` must outlive the matcher.
  void Build(const std::vector<const AddedToken*>& tokens);
  bool empty() const { return tokens_.empty(); }

  // Splits `text` into plain and added-token segments and appends them to `out` (no empty
  // plain segments).
  void Split(std::string_view text, std::vector<Segment>* out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                        // index into tokens_
  };
  int32_t Child(int32_t node, unsigned char c) const;
  // Longest token starting at text[pos]; returns its index or -1 and sets *len.
  int32_t LongestAt(std::string_view text, size_t pos, size_t* len) const;

  std::vector<const AddedToken*> tokens_;
  std::vector<Node> nodes_;
  int32_t root_children_[256];
};

}  // namespace gorae::tokenizer
