// Typed field readers for config.json, shared by the per-architecture config parsers. Missing or
// null fields keep the caller's default (unless required); a wrong type names the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gorae::config_json {

Status GetInt(const nlohmann::json& j, const char* key, int64_t* out, bool required, const std::string& src);
Status GetDouble(const nlohmann::json& j, const char* key, double* out, const std::string& src);
Status GetBool(const nlohmann::json& j, const char* key, bool* out, const std::string& src);
Status GetString(const nlohmann::json& j, const char* key, std::string* out, const std::string& src);
// bos_token_id (a number) and eos_token_id (a number or a list of numbers).
Status GetSpecialTokens(const nlohmann::json& j, int64_t* bos, std::vector<int64_t>* eos, const std::string& src);

}  // namespace gorae::config_json
