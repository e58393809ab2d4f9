// The BPE model of a tokenizer.json: vocabulary, ranked merges, and the merge loop.
//
// In byte-level mode (the tokenizer has a ByteLevel pre-tokenizer) the model works directly on
// raw bytes: the initial symbols of a piece are its bytes, looked up through the byte-level
// alphabet once at load time, so encoding never builds the "Ġ..." strings. Otherwise the
// initial symbols are the piece's UTF-8 characters looked up in the vocabulary.
//
// Merging follows `tokenizers` exactly: repeatedly merge the adjacent pair with the lowest
// merge rank, the leftmost one on ties. Thread safety: immutable after FromJson.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace gorae::tokenizer {

// Open-addressing map from a pair of ids to (rank, merged id); the hot lookup of encoding.
class MergeMap {
 public:
  void Reserve(size_t n);
  // Returns false if the pair is already present.
  bool Insert(int32_t left, int32_t right, int32_t rank, int32_t merged);
  // Returns (rank << 32 | merged) or kNone.
  uint64_t Find(int32_t left, int32_t right) const {
    if (mask_ == 0) return kNone;
    const uint64_t key = Key(left, right);
    for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == kEmpty) return kNone;
    }
  }
  size_t size() const { return size_; }
  static constexpr uint64_t kNone = ~0ull;

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t Key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static size_t Hash(uint64_t k) { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20); }
  std::vector<uint64_t> keys_, values_;
  size_t mask_ = 0, size_ = 0;
};

class BpeModel {
 public:
  // Parses the "model" object (type BPE). `byte_level` selects the byte mode described above.
  static Result<BpeModel> FromJson(const nlohmann::json& j, const std::string& where, bool byte_level);

  // Appends the ids of one pre-tokenized piece to `out`.
  void EncodePiece(std::string_view piece, std::vector<int32_t>* out) const;

  // Vocabulary: id -> token text as stored in the file (byte-level alphabet), and back.
  // Ids may have gaps (id_to_token()[id] empty and has_id false).
  const std::vector<std::string>& id_to_token() const { return id_to_token_; }
  const std::unordered_map<std::string, int32_t>& token_to_id() const { return token_to_id_; }
  size_t merge_count() const { return merges_.size(); }
  bool byte_level() const { return byte_level_; }

 private:
  void EncodeUncached(std::string_view piece, std::vector<int32_t>* out) const;
  void Merge(std::vector<int32_t>* syms) const;
  void MergeLong(std::vector<int32_t>* syms) const;

  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, int32_t> token_to_id_;
  MergeMap merges_;
  bool byte_level_ = false;
  int32_t byte_ids_[256];                                  // byte mode: id of each single byte
  bool ignore_merges_ = false;                             // whole-piece vocab hit wins
  std::unordered_map<std::string, int32_t> raw_to_id_;     // byte mode + ignore_merges only
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  uint64_t uid_ = 0;  // identifies this model to the per-thread piece cache
};

}  // namespace gorae::tokenizer
