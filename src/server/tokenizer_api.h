// The tokenizer over HTTP, in the shapes evaluation harnesses and llama.cpp clients use:
//   POST /tokenize        {"prompt" | "content": text, "add_special_tokens" | "add_special": bool,
//                          "with_pieces": bool} or {"messages": [...], "add_generation_prompt": bool}
//                         -> {"tokens": [ids] (or [{"id", "piece"}] with_pieces), "count", "max_model_len"}
//   POST /detokenize      {"tokens": [ids]} -> {"prompt": text, "content": text}
//   GET  /tokenizer_info  -> {"bos_token", "eos_token", "pad_token", "chat_template", "model_max_length", ...}
// vLLM's names ("prompt", "add_special_tokens", default true) and llama.cpp's ("content",
// "add_special", default false) are both accepted, each with its own server's default, so that
// clients written for either get what they expect. Adding special tokens means the BOS first.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace gorae::server {

Result<nlohmann::json> Tokenize(const tokenizer::Tokenizer& tok, const nlohmann::json& body, int64_t context);
Result<nlohmann::json> Detokenize(const tokenizer::Tokenizer& tok, const nlohmann::json& body);
nlohmann::json TokenizerInfo(const tokenizer::Tokenizer& tok, int64_t context);

}  // namespace gorae::server
