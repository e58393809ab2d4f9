// Optional fields of a JSON file read with their type checked, so that a wrong type is an error
// naming the field ("tokenizer.json: added_tokens[0].special: expected a boolean, got string")
// and not nlohmann's `[json.exception.type_error.302] type must be boolean, but is string`, which
// names neither file nor field.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gorae {

// Sets *out to j[key] when the key is present and not null; leaves *out (the default) otherwise.
// `where` names the object (file and path), the error appends ".key".
template <typename T>
Status ReadOptionalField(const nlohmann::json& j, const char* key, std::string_view where, T* out) {
  if (!j.is_object()) return Status::Ok();
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  bool ok = false;
  const char* expected = "";
  if constexpr (std::is_same_v<T, bool>) {
    ok = it->is_boolean(), expected = "a boolean";
  } else if constexpr (std::is_same_v<T, std::string>) {
    ok = it->is_string(), expected = "a string";
  } else if constexpr (std::is_integral_v<T>) {
    ok = it->is_number_integer(), expected = "an integer";
  } else {
    static_assert(std::is_floating_point_v<T>, "bool, string, integer or floating-point fields");
    ok = it->is_number(), expected = "a number";
  }
  if (!ok) return InvalidArgument("{}.{}: expected {}, got {}", where, key, expected, it->type_name());
  *out = it->get<T>();
  return Status::Ok();
}

}  // namespace gorae
