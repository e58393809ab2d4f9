// Fields of a JSON file read with their type checked, so that a wrong type is an error naming the
// file and field ("tokenizer.json: added_tokens[0].special: expected a boolean, got string") and
// not nlohmann's `[json.exception.type_error.302] type must be boolean, but is string`, which
// names neither.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gorae {

namespace json_field_detail {

// Whether `v` can be read as a T without loss; *expected names T for the message.
template <typename T>
bool Fits(const nlohmann::json& v, const char** expected) {
  if constexpr (std::is_same_v<T, bool>) {
    *expected = "a boolean";
    return v.is_boolean();
  } else if constexpr (std::is_same_v<T, std::string>) {
    *expected = "a string";
    return v.is_string();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    *expected = "an array of strings";
    if (!v.is_array()) return false;
    for (const auto& e : v) {
      if (!e.is_string()) return false;
    }
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    *expected = std::is_unsigned_v<T> ? "a non-negative integer" : "an integer";
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (!v.is_number_integer()) return false;
    const int64_t x = v.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) return x >= 0;
    return x >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
           x <= static_cast<int64_t>(std::numeric_limits<T>::max());
  } else {
    static_assert(std::is_floating_point_v<T>, "bool, string, string array, integer or floating-point fields");
    *expected = "a number";
    return v.is_number();
  }
}

// "tokenizer.json: added_tokens[0]" + "special" -> "tokenizer.json: added_tokens[0].special";
// a bare file name ("DIR/trainer_state.json") + "step" -> "DIR/trainer_state.json: step".
inline std::string FieldName(std::string_view where, const char* key) {
  const bool file = where.size() >= 5 && where.substr(where.size() - 5) == ".json";
  return std::string(where) + (file ? ": " : ".") + key;
}

template <typename T>
Status Read(const nlohmann::json& v, std::string_view where, const char* key, T* out) {
  const char* expected = "";
  if (!Fits<T>(v, &expected)) {
    if (v.is_number_integer() && std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      return InvalidArgument("{}: {} is out of range for this field", FieldName(where, key), v.dump());
    }
    return InvalidArgument("{}: expected {}, got {}", FieldName(where, key), expected, v.type_name());
  }
  *out = v.get<T>();
  return Status::Ok();
}

}  // namespace json_field_detail

// Sets *out to j[key] when the key is present and not null; leaves *out (the default) otherwise.
// `where` names the object (file and path), the error appends ".key".
template <typename T>
Status ReadOptionalField(const nlohmann::json& j, const char* key, std::string_view where, T* out) {
  if (!j.is_object()) return Status::Ok();
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  return json_field_detail::Read(*it, where, key, out);
}

// As ReadOptionalField, but a missing (or null) key is an error too.
template <typename T>
Status ReadRequiredField(const nlohmann::json& j, const char* key, std::string_view where, T* out) {
  if (!j.is_object()) return InvalidArgument("{}: expected an object, got {}", where, j.type_name());
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return InvalidArgument("{}: missing field '{}'", where, key);
  return json_field_detail::Read(*it, where, key, out);
}

// Reads many fields of one object and keeps the first error, so that a struct's reader is one
// line per field:  JsonFields f(j, "DIR/trainer_state.json: options");
//                  f.Required("lr", &o.lr).Optional("moe_nodes", &o.moe_nodes);
//                  GORAE_RETURN_IF_ERROR(f.status());
class JsonFields {
 public:
  JsonFields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

  template <typename T>
  JsonFields& Required(const char* key, T* out) {
    if (status_.ok()) status_ = ReadRequiredField(j_, key, where_, out);
    return *this;
  }
  template <typename T>
  JsonFields& Optional(const char* key, T* out) {
    if (status_.ok()) status_ = ReadOptionalField(j_, key, where_, out);
    return *this;
  }
  const Status& status() const { return status_; }

 private:
  const nlohmann::json& j_;
  std::string where_;
  Status status_;
};

}  // namespace gorae
