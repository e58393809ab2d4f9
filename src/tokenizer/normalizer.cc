#include "tokenizer/normalizer.h"

#include <nlohmann/json.hpp>

namespace gorae::tokenizer {
namespace {

Status AddSteps(const nlohmann::json& j, const std::string& where, Normalizer* n) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return InvalidArgument("{}: expected an object with a string \"type\"", where);
  const std::string type = j["type"].get<std::string>();
  if (type == "Sequence") {
    if (!j.contains("normalizers") || !j["normalizers"].is_array())
      return InvalidArgument("{}.normalizers: expected an array", where);
    size_t i = 0;
    for (const auto& sub : j["normalizers"])
      GORAE_RETURN_IF_ERROR(AddSteps(sub, fmt::format("{}.normalizers[{}]", where, i++), n));
    return Status::Ok();
  }
  if (type == "NFC") {
    n->steps.push_back(Normalizer::Kind::kNfc);
    return Status::Ok();
  }
  return Unsupported("{}: normalizer type '{}' is not supported (supported: Sequence, NFC)", where, type);
}

}  // namespace

Result<Normalizer> Normalizer::FromJson(const nlohmann::json& j, const std::string& where) {
  Normalizer n;
  if (j.is_null()) return n;
  GORAE_RETURN_IF_ERROR(AddSteps(j, where, &n));
  return n;
}

std::string Normalizer::Apply(std::string_view text) const {
  std::string s(text);
  for (Kind k : steps) {
    if (k == Kind::kNfc) s = ToNfc(s);
  }
  return s;
}

}  // namespace gorae::tokenizer
