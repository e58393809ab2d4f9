// `gorae sft`: supervised fine-tuning on conversations, with the loss on the assistant's tokens.
//
// Data: JSONL, one conversation per line:
//   {"messages": [{"role": "system" | "user" | "assistant", "content": "...",
//                  "reasoning_content": "..." (optional, assistant only)}, ...]}
// Each conversation is rendered with the model's own chat template (tokenizer_config.json) and
// tokenized; the loss counts exactly the tokens of the assistant turns: for the gorae and
// DeepSeek-V3 templates, everything after an assistant turn's '<｜Assistant｜>' up to and
// including its '<｜end▁of▁sentence｜>' (with the gorae template, the "<think>\n...\n</think>\n\n"
// of reasoning_content too). The spans are found by rendering prefixes: the conversation up to
// the turn with the generation prompt, then with the turn; both must be token prefixes of the
// whole conversation, or the example is refused (the template is not prefix-stable, e.g. the
// DeepSeek-R1 template, whose history drops what its generation prompt opens with).
//
// Training: examples longer than `seq` tokens are cut to `seq` (counted and reported; one left
// with no assistant token is skipped). Each epoch shuffles the examples with the seeded data RNG;
// a micro-batch is the next `batch` examples, padded to the longest of them (padding has loss
// weight 0; it comes after every real token, so causal attention never lets a real token see
// it). A step is `accum` micro-batches, each the token mean of its assistant targets, weighted
// 1 / accum. AdamW, clipping, schedules, MTP and balancing are those of pretraining (see
// pretrain.h); MTP modules present in the model are kept and trained with weight mtp_lambda.
//
// OUT/checkpoint is a model directory (checkpoint.h) that `gorae generate --model
// OUT/checkpoint --chat ...` and `gorae sft --model OUT/checkpoint` load; OUT/tokenizer holds
// the model's tokenizer files, OUT/metrics.jsonl one line per step, OUT/loss.svg the curves.
// --resume continues OUT/checkpoint exactly (data order included): the conversations are read
// again and must render to the same tokens (a fingerprint in trainer_state.json says so).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/tokenizer.h"
#include "train/data_parallel.h"
#include "train/optimizer.h"

namespace gorae::train {

struct Conversation {
  std::vector<tokenizer::ChatMessage> messages;
  std::string source;  // for messages: "FILE:LINE", or what the caller names it
};

// Checks one conversation object ({"messages": [...]}) and converts it. Errors start "where: ".
Result<Conversation> ParseConversation(const nlohmann::json& j, const std::string& where);

// Reads JSONL conversation files (blank lines skipped). Errors name the file and 1-based line:
// malformed JSON, no "messages" array, a role other than system/user/assistant, a non-string
// content, reasoning_content outside an assistant message, no assistant message.
Result<std::vector<Conversation>> ReadConversations(const std::vector<std::string>& files);

// A rendered conversation: its tokens and, per token, whether the loss counts it.
struct SftExample {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> train;  // 1: a token of an assistant turn (a target to learn), 0: context
  std::string source;
};

// Renders a conversation with the tokenizer's chat template and marks the assistant tokens
// (see the top of this file). The conversation is checked as ParseConversation does.
Result<SftExample> RenderForSft(const tokenizer::Tokenizer& tok, const Conversation& conv);

struct SftOptions {
  std::string model;                        // model directory (config.json, safetensors, tokenizer)
  std::vector<std::string> data;            // JSONL conversation files
  std::vector<Conversation> conversations;  // in-memory conversations, after those of the files
  std::string out;
  double epochs = 1.0;   // passes over the training conversations (when steps == 0)
  int64_t steps = 0;     // > 0: optimizer steps, overriding epochs
  bool resume = false;
  uint64_t seed = 1;     // data order (the model's weights come from --model)
  int64_t batch = 8;     // conversations per micro-batch
  int64_t accum = 1;     // micro-batches per step
  int64_t seq = 1024;    // most tokens per conversation; longer ones are cut
  double lr = 1e-4;
  double min_lr_ratio = 0.1;
  int64_t warmup = -1;   // -1: 5% of steps
  std::string schedule = "cosine";
  double wsd_decay_fraction = 0.2;
  AdamWOptions adamw;
  double clip = 1.0;
  double mtp_lambda = 0.1;      // weight of the MTP losses when the model has MTP modules
  double bias_gamma = 0.0;      // aux-loss-free bias step (V3 ends pretraining with 0)
  double balance_alpha = 1e-4;  // sequence-wise balance loss (0: off)
  double val_fraction = 0.05;   // every k-th conversation (k = round(1 / fraction)) is held out
  int64_t eval_every = 25;
  int64_t save_every = 100;
  int threads = 0;
  ParallelOptions parallel;  // under mpirun (data_parallel.h); any value on resume
  bool progress = true;
  int64_t stop_after = 0;       // > 0: stop (with a checkpoint) after this many steps this run

  // What trainer_state.json keeps (everything but the in-memory conversations and the
  // per-run knobs threads, progress, stop_after).
  nlohmann::json ToJson() const;
  // `where` names the object in errors ("DIR/trainer_state.json: options").
  static Result<SftOptions> FromJson(const nlohmann::json& j, std::string_view where);
};

Status RunSft(const SftOptions& options);

}  // namespace gorae::train
