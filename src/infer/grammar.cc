#include "infer/grammar.h"

#include <algorithm>

namespace gorae {

bool GrammarElement::Matches(uint32_t cp) const {
  bool in = false;
  for (const auto& [lo, hi] : ranges) {
    if (cp >= lo && cp <= hi) {
      in = true;
      break;
    }
  }
  return in != negated;
}

namespace {

using Stack = std::vector<const GrammarElement*>;

// Expands `s` until its top is a character element (kept in `out`) or it is empty (complete:
// kept too). A rule reference is replaced by its continuation and each alternative pushed; a
// continuation that is the end of its alternative is dropped first, so that right recursion
// (repetition) does not grow the stack.
void Expand(const Grammar& g, Stack s, std::vector<Stack>* out, int depth = 0) {
  if (depth > 2000) return;  // unreachable without left recursion, which Parse refuses
  while (!s.empty()) {
    const GrammarElement* e = s.back();
    if (e->kind == GrammarElement::kEnd) {
      s.pop_back();
      continue;
    }
    if (e->kind == GrammarElement::kChars) break;
    s.pop_back();
    if ((e + 1)->kind != GrammarElement::kEnd) s.push_back(e + 1);
    const auto& alts = g.rules()[static_cast<size_t>(e->rule)];
    for (size_t a = 0; a + 1 < alts.size(); ++a) {
      Stack t = s;
      t.push_back(alts[a].data());
      Expand(g, std::move(t), out, depth + 1);
    }
    s.push_back(alts.back().data());  // the last alternative continues in this loop
  }
  out->push_back(std::move(s));
}

void Dedupe(std::vector<Stack>* stacks) {
  std::sort(stacks->begin(), stacks->end());
  stacks->erase(std::unique(stacks->begin(), stacks->end()), stacks->end());
}

int Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 6) return lead >= 0xC2 ? 2 : 0;  // C0, C1: overlong
  if ((lead >> 4) == 14) return 3;
  if ((lead >> 3) == 30) return lead <= 0xF4 ? 4 : 0;
  return 0;
}

// The code points an unfinished character could become: [lo, hi].
std::pair<uint32_t, uint32_t> CompletionsOf(const std::string& partial, int length) {
  auto decode = [&](unsigned char fill) {
    uint32_t cp = static_cast<unsigned char>(partial[0]) & (length == 1 ? 0x7F : (0x7F >> length));
    for (int k = 1; k < length; ++k) {
      const unsigned char c = k < static_cast<int>(partial.size()) ? static_cast<unsigned char>(partial[k]) : fill;
      cp = (cp << 6) | (c & 0x3F);
    }
    return cp;
  };
  // The smallest code point each length may encode (shorter forms are overlong, invalid).
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  return {std::max(decode(0x80), kMin[length]), std::min<uint32_t>(decode(0xBF), 0x10FFFF)};
}

bool CouldMatch(const GrammarElement& e, uint32_t lo, uint32_t hi) {
  if (e.negated) {  // fails only if one excluded range covers all of [lo, hi]
    for (const auto& [a, b] : e.ranges) {
      if (a <= lo && hi <= b) return false;
    }
    return true;
  }
  for (const auto& [a, b] : e.ranges) {
    if (a <= hi && lo <= b) return true;
  }
  return false;
}

constexpr size_t kMaxStacks = 4096;  // an ambiguity bound; JSON grammars stay in the tens

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  const auto& alts = grammar_->rules()[static_cast<size_t>(grammar_->root())];
  for (const auto& alt : alts) Expand(*grammar_, Stack{alt.data()}, &stacks_);
  Dedupe(&stacks_);
}

bool GrammarMatcher::Step(std::string_view bytes, std::vector<Stack>* stacks, std::string* partial) const {
  for (char byte : bytes) {
    partial->push_back(byte);
    const int length = Utf8Length(static_cast<unsigned char>((*partial)[0]));
    if (length == 0) return false;
    if (partial->size() > 1 && (static_cast<unsigned char>(byte) & 0xC0) != 0x80) return false;
    if (static_cast<int>(partial->size()) < length) continue;
    const uint32_t cp = CompletionsOf(*partial, length).first;
    if ((length == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (length == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;  // overlong, surrogate, or past Unicode
    }
    partial->clear();
    std::vector<Stack> next;
    for (const Stack& s : *stacks) {
      if (s.empty() || !s.back()->Matches(cp)) continue;
      Stack t = s;
      t.back() = s.back() + 1;
      Expand(*grammar_, std::move(t), &next);
    }
    if (next.empty()) return false;
    Dedupe(&next);
    if (next.size() > kMaxStacks) next.resize(kMaxStacks);
    *stacks = std::move(next);
  }
  if (partial->empty()) return true;
  // An unfinished character: some stack must accept a character it could complete to.
  const auto [lo, hi] = CompletionsOf(*partial, Utf8Length(static_cast<unsigned char>((*partial)[0])));
  if (lo > hi) return false;  // these bytes start no valid character (E0 81: overlong)
  if (lo >= 0xD800 && hi <= 0xDFFF) return false;  // only surrogates (ED A0..BF): never valid
  return std::any_of(stacks->begin(), stacks->end(),
                     [&, lo = lo, hi = hi](const Stack& s) { return !s.empty() && CouldMatch(*s.back(), lo, hi); });
}

bool GrammarMatcher::Accepts(std::string_view bytes) const {
  if (bytes.empty()) return false;
  std::vector<Stack> stacks = stacks_;
  std::string partial = partial_;
  return Step(bytes, &stacks, &partial);
}

void GrammarMatcher::Advance(std::string_view bytes) {
  if (!Step(bytes, &stacks_, &partial_)) stacks_.clear();
}

bool GrammarMatcher::CanEnd() const {
  return partial_.empty() && std::any_of(stacks_.begin(), stacks_.end(), [](const Stack& s) { return s.empty(); });
}

std::string GrammarMatcher::StateKey() const {
  std::string key = partial_;
  key.push_back('\0');
  for (const Stack& s : stacks_) {
    key.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(s[0]));
    key.push_back('|');
  }
  return key;
}

GrammarVocab::GrammarVocab(std::vector<std::string> bytes, std::vector<Kind> kinds)
    : bytes_(std::move(bytes)), kinds_(std::move(kinds)) {
  kinds_.resize(bytes_.size(), Kind::kNever);
  trie_.emplace_back();
  for (size_t id = 0; id < bytes_.size(); ++id) {
    if (kinds_[id] != Kind::kText || bytes_[id].empty()) continue;
    int node = 0;
    for (char c : bytes_[id]) {
      const uint8_t b = static_cast<uint8_t>(c);
      auto& ch = trie_[static_cast<size_t>(node)].children;
      auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, 0),
                                 [](const auto& x, const auto& y) { return x.first < y.first; });
      if (it != ch.end() && it->first == b) {
        node = it->second;
      } else {
        const int fresh = static_cast<int>(trie_.size());
        ch.insert(it, {b, fresh});
        trie_.emplace_back();  // invalidates `ch`: not used after this
        node = fresh;
      }
    }
    trie_[static_cast<size_t>(node)].ids.push_back(static_cast<int>(id));
  }
}

GrammarConstraint::GrammarConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const GrammarVocab> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)) {}

bool GrammarConstraint::Allows(const GrammarMatcher& m, int id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_->size()) return false;
  switch (vocab_->kind(id)) {
    case GrammarVocab::Kind::kEnd: return m.CanEnd();
    case GrammarVocab::Kind::kNever: return false;
    case GrammarVocab::Kind::kText: return m.Accepts(vocab_->bytes(id));
  }
  return false;
}

void GrammarConstraint::Advance(GrammarMatcher& m, int id) const {
  if (id >= 0 && static_cast<size_t>(id) < vocab_->size() && vocab_->kind(id) == GrammarVocab::Kind::kText) {
    m.Advance(vocab_->bytes(id));
  }
}

std::shared_ptr<const std::vector<bool>> GrammarConstraint::Mask(const GrammarMatcher& m) const {
  const std::string key = m.StateKey();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = masks_.find(key); it != masks_.end()) return it->second;
  }
  auto mask = std::make_shared<std::vector<bool>>(vocab_->size(), false);
  const bool can_end = m.CanEnd();
  for (size_t id = 0; id < vocab_->size(); ++id) {
    if (vocab_->kinds_[id] == GrammarVocab::Kind::kEnd) (*mask)[id] = can_end;
  }
  // Depth-first over the trie: a node is reached only if its bytes continue the state, so a
  // prefix nothing accepts cuts all the tokens that start with it.
  struct Frame {
    int node;
    std::vector<GrammarMatcher::Stack> stacks;
    std::string partial;
  };
  std::vector<Frame> todo;
  todo.push_back({0, m.stacks_, m.partial_});
  while (!todo.empty()) {
    Frame f = std::move(todo.back());
    todo.pop_back();
    const GrammarVocab::Node& node = vocab_->trie_[static_cast<size_t>(f.node)];
    if (f.node != 0) {
      for (int id : node.ids) (*mask)[static_cast<size_t>(id)] = true;
    }
    for (const auto& [byte, child] : node.children) {
      Frame next{child, f.stacks, f.partial};
      const char c = static_cast<char>(byte);
      if (m.Step(std::string_view(&c, 1), &next.stacks, &next.partial)) todo.push_back(std::move(next));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (masks_.size() >= 512) masks_.clear();  // a bound on memory: states recur, so refill is cheap
  masks_.emplace(key, mask);
  return mask;
}

}  // namespace gorae
