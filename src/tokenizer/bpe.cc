#include "tokenizer/bpe.h"

#include <algorithm>
#include <atomic>
#include <queue>

#include <nlohmann/json.hpp>

#include "core/json_field.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace gorae::tokenizer {

namespace {

// Per-thread cache of piece -> ids: text repeats its words, and a hit skips the merge loop.
// Tagged with the model's uid (not its address, which a later model could reuse); a thread
// that alternates between models just refills it.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
struct PieceCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
};
constexpr size_t kCacheMaxPiece = 64;      // longer pieces are rare and cheap to skip
constexpr size_t kCacheMaxEntries = 1 << 16;
std::atomic<uint64_t> next_model_uid{1};

}  // namespace

void MergeMap::Reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  keys_.assign(cap, kEmpty);
  values_.assign(cap, 0);
  mask_ = cap - 1;
  size_ = 0;
}

bool MergeMap::Insert(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  const uint64_t key = Key(left, right);
  for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_) {
    if (keys_[i] == key) return false;
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      values_[i] = (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(merged);
      ++size_;
      return true;
    }
  }
}

Result<BpeModel> BpeModel::FromJson(const nlohmann::json& j, const std::string& where, bool byte_level) {
  BpeModel m;
  m.uid_ = next_model_uid.fetch_add(1);
  m.byte_level_ = byte_level;
  if (!j.is_object()) return InvalidArgument("{}: expected an object", where);
  std::string type = "BPE";
  GORAE_RETURN_IF_ERROR(ReadOptionalField(j, "type", where, &type));
  if (type != "BPE")
    return Unsupported("{}.type: model '{}' is not supported (only BPE)", where, type);
  double dropout = 0.0;
  GORAE_RETURN_IF_ERROR(ReadOptionalField(j, "dropout", where, &dropout));
  if (dropout != 0.0)
    return Unsupported("{}.dropout: BPE dropout is not supported for inference", where);
  if (!j.contains("vocab") || !j["vocab"].is_object())
    return InvalidArgument("{}.vocab: expected an object of token -> id", where);
  if (!j.contains("merges") || !j["merges"].is_array())
    return InvalidArgument("{}.merges: expected an array", where);

  // Vocabulary.
  const auto& vocab = j["vocab"];
  m.token_to_id_.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > 100'000'000)
      return InvalidArgument("{}.vocab['{}']: expected a non-negative integer id", where, it.key());
    int32_t id = it.value().get<int32_t>();
    if (static_cast<size_t>(id) >= m.id_to_token_.size()) m.id_to_token_.resize(id + 1);
    m.id_to_token_[id] = it.key();
    m.token_to_id_[it.key()] = id;
  }

  // Merges: "a b" strings (older files) or ["a", "b"] pairs (tokenizers >= 0.20).
  const auto& merges = j["merges"];
  m.merges_.Reserve(merges.size());
  int32_t rank = 0;
  std::string merged;
  for (const auto& e : merges) {
    std::string a, b;
    if (e.is_string()) {
      const std::string& s = e.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos)
        return InvalidArgument("{}.merges[{}]: expected \"left right\", got '{}'", where, rank, s);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      return InvalidArgument("{}.merges[{}]: expected a string or a pair of strings", where, rank);
    }
    auto ia = m.token_to_id_.find(a), ib = m.token_to_id_.find(b);
    merged = a + b;
    auto im = m.token_to_id_.find(merged);
    if (ia == m.token_to_id_.end() || ib == m.token_to_id_.end() || im == m.token_to_id_.end())
      return InvalidArgument("{}.merges[{}]: '{}' + '{}' uses a token missing from the vocab", where,
                             rank, a, b);
    m.merges_.Insert(ia->second, ib->second, rank, im->second);  // later duplicates never win
    ++rank;
  }

  GORAE_RETURN_IF_ERROR(ReadOptionalField(j, "ignore_merges", where, &m.ignore_merges_));
  GORAE_RETURN_IF_ERROR(ReadOptionalField(j, "fuse_unk", where, &m.fuse_unk_));
  if (j.contains("unk_token") && j["unk_token"].is_string()) {
    auto it = m.token_to_id_.find(j["unk_token"].get<std::string>());
    if (it == m.token_to_id_.end())
      return InvalidArgument("{}.unk_token: '{}' is not in the vocab", where, j["unk_token"].get<std::string>());
    m.unk_id_ = it->second;
  }
  if (j.contains("continuing_subword_prefix") && j["continuing_subword_prefix"].is_string())
    m.continuing_subword_prefix_ = j["continuing_subword_prefix"].get<std::string>();
  if (j.contains("end_of_word_suffix") && j["end_of_word_suffix"].is_string())
    m.end_of_word_suffix_ = j["end_of_word_suffix"].get<std::string>();
  if (byte_level && (!m.continuing_subword_prefix_.empty() || !m.end_of_word_suffix_.empty()))
    return Unsupported("{}: continuing_subword_prefix/end_of_word_suffix with ByteLevel", where);

  if (byte_level) {
    for (int b = 0; b < 256; ++b) {
      std::string s;
      AppendUtf8(ByteToCodePoint(static_cast<uint8_t>(b)), &s);
      auto it = m.token_to_id_.find(s);
      m.byte_ids_[b] = it == m.token_to_id_.end() ? -1 : it->second;
    }
    if (m.ignore_merges_) {
      for (const auto& [tok, id] : m.token_to_id_) {
        if (auto raw = ByteLevelToBytes(tok)) m.raw_to_id_.emplace(*raw, id);
      }
    }
  }
  return m;
}


void BpeModel::EncodePiece(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.size() > kCacheMaxPiece) return EncodeUncached(piece, out);
  thread_local PieceCache cache;
  if (cache.owner != uid_) {
    cache.map.clear();
    cache.owner = uid_;
  }
  auto it = cache.map.find(piece);
  if (it != cache.map.end()) {
    out->insert(out->end(), it->second.begin(), it->second.end());
    return;
  }
  size_t start = out->size();
  EncodeUncached(piece, out);
  if (cache.map.size() >= kCacheMaxEntries) cache.map.clear();
  cache.map.emplace(std::string(piece), std::vector<int32_t>(out->begin() + start, out->end()));
}

void BpeModel::EncodeUncached(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.empty()) return;
  std::vector<int32_t> syms;
  syms.reserve(piece.size());
  if (byte_level_) {
    if (ignore_merges_) {
      auto it = raw_to_id_.find(std::string(piece));
      if (it != raw_to_id_.end()) {
        out->push_back(it->second);
        return;
      }
    }
    bool prev_unk = false;
    for (unsigned char c : piece) {
      int32_t id = byte_ids_[c];
      if (id < 0) {
        // A byte without a vocab entry: unk (fused if asked), or dropped like `tokenizers`.
        if (unk_id_ >= 0 && !(fuse_unk_ && prev_unk)) syms.push_back(unk_id_);
        prev_unk = true;
        continue;
      }
      prev_unk = false;
      syms.push_back(id);
    }
  } else {
    if (ignore_merges_) {
      auto it = token_to_id_.find(std::string(piece));
      if (it != token_to_id_.end()) {
        out->push_back(it->second);
        return;
      }
    }
    size_t i = 0;
    bool prev_unk = false;
    std::string sym;
    while (i < piece.size()) {
      size_t start = i;
      NextCodePoint(piece, &i);
      sym.clear();
      if (start > 0) sym += continuing_subword_prefix_;
      sym.append(piece.substr(start, i - start));
      if (i == piece.size()) sym += end_of_word_suffix_;
      auto it = token_to_id_.find(sym);
      if (it == token_to_id_.end()) {
        if (unk_id_ >= 0 && !(fuse_unk_ && prev_unk)) syms.push_back(unk_id_);
        prev_unk = true;
        continue;
      }
      prev_unk = false;
      syms.push_back(it->second);
    }
  }
  if (syms.size() > 64) {
    MergeLong(&syms);
  } else {
    Merge(&syms);
  }
  out->insert(out->end(), syms.begin(), syms.end());
}

// Short pieces: keep the rank of every adjacent pair in an array; each step takes the leftmost
// lowest rank, merges, and refreshes only the two neighbouring ranks.
void BpeModel::Merge(std::vector<int32_t>* symsp) const {
  std::vector<int32_t>& syms = *symsp;
  size_t n = syms.size();
  if (n < 2) return;
  uint64_t ranks[256];  // (rank << 32 | merged) of pair (i, i+1), kNone if no merge
  for (size_t i = 0; i + 1 < n; ++i) ranks[i] = merges_.Find(syms[i], syms[i + 1]);
  while (n > 1) {
    uint64_t best = MergeMap::kNone;
    size_t bi = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (ranks[i] < best) {  // ranks compare first because they sit in the high bits
        best = ranks[i];
        bi = i;
      }
    }
    if (best == MergeMap::kNone) break;
    syms[bi] = static_cast<int32_t>(best & 0xffffffffu);
    for (size_t k = bi + 1; k + 1 < n; ++k) syms[k] = syms[k + 1];
    for (size_t k = bi + 1; k + 2 < n; ++k) ranks[k] = ranks[k + 1];
    --n;
    if (bi > 0) ranks[bi - 1] = merges_.Find(syms[bi - 1], syms[bi]);
    if (bi + 1 < n) ranks[bi] = merges_.Find(syms[bi], syms[bi + 1]);
  }
  syms.resize(n);
}

// Long pieces: a heap of (rank, position) over a linked list of symbols, with stale entries
// skipped when popped (the method of `tokenizers`' Word::merge_all). O(n log n).
void BpeModel::MergeLong(std::vector<int32_t>* symsp) const {
  std::vector<int32_t>& syms = *symsp;
  const int n = static_cast<int>(syms.size());
  std::vector<int> prev(n), next(n);
  std::vector<char> alive(n, 1);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Entry {
    uint64_t rank_merged;
    int pos, left, right;
    bool operator>(const Entry& o) const {
      uint64_t r = rank_merged >> 32, orank = o.rank_merged >> 32;
      return r != orank ? r > orank : pos > o.pos;
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto push = [&](int i) {
    int j = next[i];
    if (j < 0) return;
    uint64_t v = merges_.Find(syms[i], syms[j]);
    if (v != MergeMap::kNone) heap.push({v, i, syms[i], syms[j]});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Entry e = heap.top();
    heap.pop();
    int i = e.pos;
    if (!alive[i] || next[i] < 0 || syms[i] != e.left || syms[next[i]] != e.right) continue;
    int j = next[i];
    syms[i] = static_cast<int32_t>(e.rank_merged & 0xffffffffu);
    alive[j] = 0;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    if (prev[i] >= 0) push(prev[i]);
    push(i);
  }
  std::vector<int32_t> out;
  for (int i = 0; i >= 0 && i < n; i = next[i]) out.push_back(syms[i]);
  syms.swap(out);
}

}  // namespace gorae::tokenizer
