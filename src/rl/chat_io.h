// Problems in and completions out through a model's tokenizer and chat template: what GRPO and
// evaluation send to the engine and what the verifiers read back.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace gorae::rl {

struct ChatCodec {
  std::shared_ptr<const tokenizer::Tokenizer> tok;
  std::vector<int> stop_ids;  // end of an assistant turn
  // Text the template's generation prompt already opened the answer with (the deepseek-r1
  // template ends it with "<think>\n"); put back in front of a completion before verifying.
  std::string answer_prefix;
};

// Loads DIR's tokenizer and checks it has a chat template gorae renders. Errors name DIR.
Result<ChatCodec> LoadChatCodec(const std::string& model_dir, const std::vector<int64_t>& model_eos_ids);

// The token ids of a one-turn conversation (the user's prompt) with the generation prompt.
Result<std::vector<int>> EncodeUserPrompt(const ChatCodec& codec, const std::string& prompt);

// The completion as text for the verifier: the stop token dropped, special tokens kept
// (<think> is one), answer_prefix in front.
Result<std::string> CompletionText(const ChatCodec& codec, std::span<const int> tokens);

}  // namespace gorae::rl
