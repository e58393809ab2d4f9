// Grammar-constrained decoding: a context-free grammar in GBNF (llama.cpp's notation, which
// users of local servers already write), a matcher that follows the text generated so far,
// and the mask of the tokens that may come next.
//
//   root   ::= "{" ws pair ("," ws pair)* "}"      rules: name ::= alternatives; start: root
//   pair   ::= str ws ":" ws [0-9]+                 "literal" (\n \t \r \" \\ \xHH \uHHHH),
//   str    ::= "\"" [^"\\]* "\""                    [a-z] classes, [^...] negated, . any,
//   ws     ::= [ \t\n]{0,4}                         ( ) | * + ? {m} {m,} {m,n}, # comments
//
// The grammar is over Unicode code points; tokens are byte strings, so a token may end inside a
// character (its bytes are held until the character is complete). The matcher keeps the set of
// pushdown stacks the text so far can be in, like an Earley/GLR parser without left recursion
// (refused at parse time). Repetition is expanded into right-recursive helper rules, {m,n} into
// nested optionals, so that bounded counts do not multiply the stacks.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"

namespace gorae {

struct GrammarElement {
  enum Kind : uint8_t { kChars, kRule, kEnd };  // kEnd closes an alternative
  Kind kind = kEnd;
  bool negated = false;                               // kChars: [^...]
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // kChars: inclusive code point ranges
  int rule = -1;                                      // kRule
  bool Matches(uint32_t cp) const;
};

class Grammar {
 public:
  // Parses GBNF; InvalidArgument naming the line and what is wrong (an undefined rule, no
  // root, a left-recursive rule, a rule that can match nothing at all). `root`: the start rule.
  static Result<std::shared_ptr<const Grammar>> Parse(std::string_view gbnf, std::string_view root = "root");

  using Alternative = std::vector<GrammarElement>;  // ends with a kEnd element
  const std::vector<std::vector<Alternative>>& rules() const { return rules_; }
  int root() const { return root_; }
  const std::string& rule_name(int r) const { return names_[static_cast<size_t>(r)]; }

 private:
  friend class GbnfParser;
  std::vector<std::vector<Alternative>> rules_;
  std::vector<std::string> names_;
  int root_ = -1;
};

// Follows text through a grammar. Copyable: the state is the set of stacks and the bytes of
// an unfinished character.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar);

  // Whether `bytes` can come next (the whole of them), and then moving past them.
  bool Accepts(std::string_view bytes) const;
  void Advance(std::string_view bytes);
  // The text so far is a complete sentence of the grammar (the answer may end here).
  bool CanEnd() const;
  // Nothing can follow and it cannot end either (only after an Advance that was not accepted).
  bool dead() const { return stacks_.empty(); }
  // A key of the state, equal for states that accept the same continuations.
  std::string StateKey() const;

 private:
  using Stack = std::vector<const GrammarElement*>;
  // The stacks after `bytes`, or false if some byte cannot continue any stack.
  bool Step(std::string_view bytes, std::vector<Stack>* stacks, std::string* partial) const;
  std::shared_ptr<const Grammar> grammar_;
  std::vector<Stack> stacks_;  // each top is a kChars element; an empty stack: complete
  std::string partial_;        // leading bytes of a character not yet complete
  friend class GrammarConstraint;
};

// The tokens of a vocabulary as the grammar sees them: their bytes, and which ids end the
// answer (allowed only where the grammar can end) or may never appear (other special tokens).
class GrammarVocab {
 public:
  enum class Kind : uint8_t { kText, kEnd, kNever };
  GrammarVocab(std::vector<std::string> bytes, std::vector<Kind> kinds);
  size_t size() const { return bytes_.size(); }
  const std::string& bytes(int id) const { return bytes_[static_cast<size_t>(id)]; }
  Kind kind(int id) const { return kinds_[static_cast<size_t>(id)]; }

 private:
  friend class GrammarConstraint;
  struct Node {
    std::vector<std::pair<uint8_t, int>> children;  // byte -> node, sorted
    std::vector<int> ids;                           // tokens whose bytes end here
  };
  std::vector<std::string> bytes_;
  std::vector<Kind> kinds_;
  std::vector<Node> trie_;  // node 0 is the root (the empty prefix)
};

// A grammar over a vocabulary, shared by the sequences of one request: which tokens may come
// next from a matcher's state. Masks are computed by walking the token trie against the state
// (a prefix that no stack accepts cuts its whole subtree) and cached per state, since the same
// states come back (inside a string, between items). Thread-safe.
class GrammarConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const GrammarVocab> vocab);
  GrammarMatcher NewMatcher() const { return GrammarMatcher(grammar_); }
  bool Allows(const GrammarMatcher& m, int id) const;
  // One flag per id of the vocabulary: may it come next?
  std::shared_ptr<const std::vector<bool>> Mask(const GrammarMatcher& m) const;
  // Moves the matcher past token `id` (end tokens move nothing).
  void Advance(GrammarMatcher& m, int id) const;
  const GrammarVocab& vocab() const { return *vocab_; }

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const GrammarVocab> vocab_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const std::vector<bool>>> masks_;
};

}  // namespace gorae
