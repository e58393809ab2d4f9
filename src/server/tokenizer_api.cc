#include "server/tokenizer_api.h"

#include <limits>
#include <string>
#include <vector>

#include "server/api_request.h"

namespace gorae::server {

using nlohmann::json;

namespace {

Result<bool> OptionalBool(const json& body, const char* field, bool fallback) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return InvalidArgument("{}: expected a boolean", field);
  return it->get<bool>();
}

json TokenOrNull(const tokenizer::Tokenizer& tok, int32_t id) {
  if (id < 0) return nullptr;
  auto bytes = tok.TokenBytes(id);
  return bytes.ok() ? json(std::string(*bytes)) : json(nullptr);
}

}  // namespace

Result<json> Tokenize(const tokenizer::Tokenizer& tok, const json& body, int64_t context) {
  std::vector<int32_t> ids;
  if (body.contains("messages")) {
    // The chat request's own parser, so a message is read here exactly as the chat route reads it.
    json chat = {{"messages", body["messages"]}};
    GORAE_ASSIGN_OR_RETURN(ChatRequest req, ParseChatRequest(chat));
    GORAE_ASSIGN_OR_RETURN(bool generation_prompt, OptionalBool(body, "add_generation_prompt", true));
    auto text = tok.RenderChat(req.messages, generation_prompt);
    if (!text.ok()) return text.status().WithContext("messages");
    GORAE_ASSIGN_OR_RETURN(ids, tok.Encode(*text));  // the template writes the BOS itself
  } else {
    const bool vllm = body.contains("prompt");
    const char* field = vllm ? "prompt" : "content";
    auto it = body.find(field);
    if (it == body.end()) return InvalidArgument("prompt: required (or \"content\", or \"messages\")");
    if (!it->is_string()) return InvalidArgument("{}: expected a string", field);
    GORAE_ASSIGN_OR_RETURN(bool special, OptionalBool(body, vllm ? "add_special_tokens" : "add_special", vllm));
    auto encoded = tok.Encode(it->get<std::string>(), special);
    if (!encoded.ok()) return encoded.status().WithContext(field);
    ids = std::move(*encoded);
  }
  GORAE_ASSIGN_OR_RETURN(bool pieces, OptionalBool(body, "with_pieces", false));
  json tokens = json::array();
  for (int32_t id : ids) {
    if (pieces) {
      tokens.push_back({{"id", id}, {"piece", TokenOrNull(tok, id)}});
    } else {
      tokens.push_back(id);
    }
  }
  return json{{"tokens", std::move(tokens)}, {"count", ids.size()}, {"max_model_len", context}};
}

Result<json> Detokenize(const tokenizer::Tokenizer& tok, const json& body) {
  auto it = body.find("tokens");
  if (it == body.end()) return InvalidArgument("tokens: required");
  if (!it->is_array()) return InvalidArgument("tokens: expected an array of token ids");
  std::vector<int32_t> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > std::numeric_limits<int32_t>::max() ||
        !tok.IsValidId(static_cast<int32_t>(v.get<int64_t>()))) {
      return InvalidArgument("tokens[{}]: not a token id of this tokenizer (0 to {})", i, tok.vocab_size() - 1);
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  GORAE_ASSIGN_OR_RETURN(std::string text, tok.Decode(ids));
  return json{{"prompt", text}, {"content", text}};
}

json TokenizerInfo(const tokenizer::Tokenizer& tok, int64_t context) {
  json info = {{"tokenizer_class", "gorae"},
               {"bos_token", TokenOrNull(tok, tok.bos_id())},
               {"eos_token", TokenOrNull(tok, tok.eos_id())},
               {"eot_token", TokenOrNull(tok, tok.eot_id())},
               {"pad_token", TokenOrNull(tok, tok.pad_id())},
               {"bos_token_id", tok.bos_id() >= 0 ? json(tok.bos_id()) : json(nullptr)},
               {"eos_token_id", tok.eos_id() >= 0 ? json(tok.eos_id()) : json(nullptr)},
               {"vocab_size", tok.vocab_size()},
               {"model_max_length", context}};
  info["chat_template"] = tok.chat_template_text().empty() ? json(nullptr) : json(tok.chat_template_text());
  return info;
}

}  // namespace gorae::server
