// Byte-level BPE training: `gorae tokenizer train`.
//
// The corpus is pre-tokenized with the DeepSeek-V3 pre-tokenizer (digits in runs of at most 3,
// CJK runs isolated, then the letter/punctuation/whitespace regex), or with split_digits every
// digit on its own (\p{N} pieces, as Qwen2 and Llama 2 do, so numbers are spelled digit by digit
// and no merge ever spans two digits), special tokens are cut out,
// and identical pieces are counted once with a multiplicity. Training then repeats: take the
// most frequent adjacent pair (ties: smaller ids first), add it as a merge, and update only the
// words that contain it, using a pair -> words index and a lazily updated max-heap of pair
// counts, so the cost follows the number of changed symbols rather than vocab x corpus.
//
// Output: OUT/tokenizer.json (loadable by Hugging Face `tokenizers` and by gorae, with the same
// ids) and OUT/tokenizer_config.json (special tokens and gorae's chat template).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace gorae::tokenizer {

struct TrainerOptions {
  std::vector<std::string> files;  // UTF-8 text files
  int vocab_size = 32000;          // including special tokens and the 256 byte tokens
  std::string out_dir;
  int min_frequency = 2;           // stop when the best pair is rarer than this
  int threads = 0;                 // word counting threads (0: all cores)
  bool progress = true;            // progress bar on stderr
  bool split_digits = false;       // one piece per digit instead of runs of up to 3
};

// The special tokens every trained tokenizer gets, in id order from 0: BOS, EOS, pad, the chat
// roles and the reasoning markers (the DeepSeek spellings, so templates and tools carry over).
const std::vector<std::string>& TrainerSpecialTokens();

Status TrainTokenizer(const TrainerOptions& options);

}  // namespace gorae::tokenizer
