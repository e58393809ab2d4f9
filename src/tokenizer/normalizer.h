// Normalizers of tokenizer.json. Supported: null, Sequence, NFC (Qwen2). The Unicode tables
// for NFC are generated from Python's unicodedata by tools/tokenizer_gen_nfc.py.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace gorae::tokenizer {

struct Normalizer {
  enum class Kind { kNfc };
  std::vector<Kind> steps;

  static Result<Normalizer> FromJson(const nlohmann::json& j, const std::string& where);
  bool empty() const { return steps.empty(); }
  // Returns the normalized text (valid UTF-8 in, valid UTF-8 out).
  std::string Apply(std::string_view text) const;
};

// Unicode Normalization Form C.
std::string ToNfc(std::string_view text);

}  // namespace gorae::tokenizer
