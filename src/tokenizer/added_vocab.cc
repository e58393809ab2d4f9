#include "tokenizer/added_vocab.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace gorae::tokenizer {
namespace {

// Byte length of the trailing whitespace of s (for lstrip).
size_t TrailingWhitespace(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!IsUnicodeWhitespace(NextCodePoint(s, &i))) break;
    end = start;
  }
  return s.size() - end;
}

// Byte length of the leading whitespace of s (for rstrip).
size_t LeadingWhitespace(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    if (!IsUnicodeWhitespace(NextCodePoint(s, &j))) break;
    i = j;
  }
  return i;
}

// Rust char::is_alphanumeric, approximated by ASCII letters/digits and any non-ASCII letter-ish
// byte; only used for single_word tokens, which none of the supported tokenizers declare.
bool IsWordChar(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  return !IsUnicodeWhitespace(cp);
}

}  // namespace

void AddedTokenMatcher::Build(const std::vector<const AddedToken*>& tokens) {
  tokens_ = tokens;
  nodes_.assign(1, Node());
  std::fill(std::begin(root_children_), std::end(root_children_), -1);
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& s = tokens_[t]->pattern.empty() ? tokens_[t]->content : tokens_[t]->pattern;
    if (s.empty()) continue;
    int32_t node = 0;
    for (unsigned char c : s) {
      int32_t child = Child(node, c);
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        if (node == 0) {
          root_children_[c] = child;
        } else {
          auto& ch = nodes_[node].children;
          ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(c, int32_t{-1})),
                    {c, child});
        }
      }
      node = child;
    }
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(t);  // first wins
  }
}

int32_t AddedTokenMatcher::Child(int32_t node, unsigned char c) const {
  if (node == 0) return root_children_[c];
  for (auto [b, child] : nodes_[node].children) {
    if (b == c) return child;
    if (b > c) break;
  }
  return -1;
}

int32_t AddedTokenMatcher::LongestAt(std::string_view text, size_t pos, size_t* len) const {
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    node = Child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      *len = i + 1 - pos;
    }
  }
  return best;
}

void AddedTokenMatcher::Split(std::string_view text, std::vector<Segment>* out) const {
  size_t start_offset = 0;  // end of the last emitted segment
  size_t pos = 0;
  while (pos < text.size()) {
    if (root_children_[static_cast<unsigned char>(text[pos])] < 0) {
      ++pos;
      continue;
    }
    size_t len = 0;
    int32_t t = LongestAt(text, pos, &len);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = *tokens_[t];
    size_t start = pos, stop = pos + len;
    if (tok.single_word) {
      bool start_ok = true, stop_ok = true;
      if (start > 0) {
        size_t p = start - 1;
        while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
        start_ok = !IsWordChar(NextCodePoint(text, &p));
      }
      if (stop < text.size()) {
        size_t p = stop;
        stop_ok = !IsWordChar(NextCodePoint(text, &p));
      }
      if (!start_ok || !stop_ok) {
        pos = stop;  // the automaton resumes after a rejected match, as find_iter does
        continue;
      }
    }
    if (tok.lstrip) start = std::max(start - TrailingWhitespace(text.substr(0, start)), start_offset);
    if (tok.rstrip) stop += LeadingWhitespace(text.substr(stop));
    if (start_offset < start) out->push_back({text.substr(start_offset, start - start_offset), -1});
    out->push_back({text.substr(start, stop - start), tok.id});
    start_offset = stop;
    pos = stop;
  }
  if (start_offset < text.size()) out->push_back({text.substr(start_offset), -1});
}

}  // namespace gorae::tokenizer
