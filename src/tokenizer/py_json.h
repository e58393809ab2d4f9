// JSON written as Python's json.dumps(x, ensure_ascii=False) writes it: ", " and ": "
// separators, keys in their given order, non-ASCII characters as they are, control characters
// escaped. This is what the `tojson` filter of Hugging Face chat templates produces, so tool
// definitions and tool-call arguments rendered into a prompt match the model's training text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace gorae::tokenizer {

// indent >= 0: as json.dumps(x, ensure_ascii=False, indent=indent) (the template's tojson(indent=4)).
std::string PyJsonDumps(const nlohmann::ordered_json& value, int indent = -1);

}  // namespace gorae::tokenizer
