// Training data: documents -> token shards on disk -> fixed-length batches.
//
// Token shard file (little-endian), memory-mapped for training:
//   offset 0   8 bytes  magic "GORAETOK"
//   offset 8   u32      version (1)
//   offset 12  u32      reserved (0)
//   offset 16  u64      vocab_size of the tokenizer that wrote it
//   offset 24  u64      num_tokens
//   offset 32  u64      num_documents
//   offset 40  u32[num_tokens] token ids
// Documents are packed back to back, each as [BOS] tokens EOS (BOS when the tokenizer has one),
// so sequences cut from the stream carry the document boundaries as tokens. Attention is not
// masked at boundaries (as in GPT-2/llm.c style packing); the EOS teaches the model where one
// document ends.
//
// Documents: a .jsonl file gives one document per line (the "text" field of each object);
// any other file is UTF-8 text split into documents at blank lines. The held-out split takes
// every k-th document (k = round(1 / val_fraction)); with a single document, the last
// val_fraction of its tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/mapped_file.h"
#include "train/model_step.h"
#include "tokenizer/tokenizer.h"

namespace gorae::train {

// Reads documents from text and JSONL files. Errors name the file and line.
Result<std::vector<std::string>> ReadDocuments(const std::vector<std::string>& files);

// Writes a shard atomically (temporary file + rename).
Status WriteTokenShard(const std::string& path, int64_t vocab_size, const std::vector<uint32_t>& tokens,
                       int64_t num_documents);

class TokenShard {
 public:
  // Maps and validates a shard (magic, version, size, every id < vocab_size).
  static Result<std::unique_ptr<TokenShard>> Open(const std::string& path);
  const uint32_t* tokens() const { return tokens_; }
  int64_t size() const { return size_; }
  int64_t vocab_size() const { return vocab_; }
  int64_t documents() const { return docs_; }
  const std::string& path() const { return file_->path(); }

 private:
  std::unique_ptr<MappedFile> file_;
  const uint32_t* tokens_ = nullptr;
  int64_t size_ = 0, vocab_ = 0, docs_ = 0;
};

// Tokenizes documents and writes OUT_DIR/train.bin and OUT_DIR/val.bin.
struct ShardSummary {
  int64_t train_tokens = 0, val_tokens = 0, train_docs = 0, val_docs = 0;
};
Result<ShardSummary> BuildShards(const std::vector<std::string>& documents, const tokenizer::Tokenizer& tok,
                                 double val_fraction, const std::string& out_dir);

// splitmix64: the data order's random state (saved in checkpoints, so resume is exact).
struct Rng {
  uint64_t state = 0;
  uint64_t Next();
  uint64_t Below(uint64_t n) { return Next() % n; }
};

// B random windows of T + 1 tokens (inputs and next-token targets), all targets counted.
Batch SampleBatch(const TokenShard& shard, int64_t B, int64_t T, Rng& rng);
// Up to max_batches batches of consecutive non-overlapping windows from the shard's start
// (the fixed validation set).
std::vector<Batch> SequentialBatches(const TokenShard& shard, int64_t B, int64_t T, int64_t max_batches);

// The built-in corpus of worked reasoning for the demo: multi-digit addition with carries,
// linear equations solved step by step, and countdown (reach a target with + - *), each
// document a problem, its worked steps and the answer. Deterministic in seed.
std::vector<std::string> SyntheticReasoningCorpus(int64_t documents, uint64_t seed);

}  // namespace gorae::train
