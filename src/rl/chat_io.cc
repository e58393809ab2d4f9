#include "rl/chat_io.h"

#include <algorithm>
#include <filesystem>

namespace gorae::rl {

Result<ChatCodec> LoadChatCodec(const std::string& model_dir, const std::vector<int64_t>& model_eos_ids) {
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "tokenizer.json")) {
    return InvalidArgument("'{}' has no tokenizer.json: the R1 recipe needs the model's tokenizer and chat template",
                           model_dir);
  }
  ChatCodec c;
  GORAE_ASSIGN_OR_RETURN(c.tok, tokenizer::Tokenizer::Load(model_dir));
  if (!c.tok->chat_template().ok()) {
    return InvalidArgument("{}/tokenizer_config.json: no chat template gorae can render ({})", model_dir,
                           c.tok->chat_template().status().message());
  }
  for (int64_t id : model_eos_ids) c.stop_ids.push_back(static_cast<int>(id));
  for (int id : {c.tok->eot_id(), c.tok->eos_id()}) {
    if (id >= 0 && std::find(c.stop_ids.begin(), c.stop_ids.end(), id) == c.stop_ids.end()) c.stop_ids.push_back(id);
  }
  if (c.stop_ids.empty()) return InvalidArgument("'{}': the tokenizer has no end-of-turn token", model_dir);
  GORAE_ASSIGN_OR_RETURN(std::string probe, c.tok->RenderChat({{"user", "x", std::nullopt}}, true));
  constexpr std::string_view kThink = "<think>\n";
  if (probe.size() >= kThink.size() && probe.compare(probe.size() - kThink.size(), kThink.size(), kThink) == 0) {
    c.answer_prefix = std::string(kThink);
  }
  return c;
}

Result<std::vector<int>> EncodeUserPrompt(const ChatCodec& codec, const std::string& prompt) {
  GORAE_ASSIGN_OR_RETURN(std::string text, codec.tok->RenderChat({{"user", prompt, std::nullopt}}, true));
  // The templates write BOS themselves.
  GORAE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, codec.tok->Encode(text, /*add_bos=*/false));
  return std::vector<int>(ids.begin(), ids.end());
}

Result<std::string> CompletionText(const ChatCodec& codec, std::span<const int> tokens) {
  if (!tokens.empty() &&
      std::find(codec.stop_ids.begin(), codec.stop_ids.end(), tokens.back()) != codec.stop_ids.end()) {
    tokens = tokens.first(tokens.size() - 1);
  }
  std::vector<int32_t> ids(tokens.begin(), tokens.end());
  GORAE_ASSIGN_OR_RETURN(std::string text, codec.tok->Decode(ids, /*skip_special=*/false));
  return codec.answer_prefix + text;
}

}  // namespace gorae::rl
