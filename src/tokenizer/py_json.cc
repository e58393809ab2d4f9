#include "tokenizer/py_json.h"

#include <cmath>

#include <fmt/format.h>

namespace gorae::tokenizer {

namespace {

void DumpString(const std::string& s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20) {
          *out += fmt::format("\\u{:04x}", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// indent < 0: one line (", " and ": "); else json.dumps(indent=N): one item per line, nested
// N spaces deeper, "," ending lines, and empty containers still written "{}" / "[]".
void Dump(const nlohmann::ordered_json& v, int indent, int depth, std::string* out) {
  auto newline = [&](int level) {
    out->push_back('\n');
    out->append(static_cast<size_t>(indent * level), ' ');
  };
  const char* item_sep = indent < 0 ? ", " : ",";
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, x] : v.items()) {
        if (!first) *out += item_sep;
        first = false;
        if (indent >= 0) newline(depth + 1);
        DumpString(k, out);
        *out += ": ";
        Dump(x, indent, depth + 1, out);
      }
      if (indent >= 0 && !v.empty()) newline(depth);
      out->push_back('}');
      return;
    }
    case nlohmann::json::value_t::array: {
      out->push_back('[');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) *out += item_sep;
        if (indent >= 0) newline(depth + 1);
        Dump(v[i], indent, depth + 1, out);
      }
      if (indent >= 0 && !v.empty()) newline(depth);
      out->push_back(']');
      return;
    }
    case nlohmann::json::value_t::string: DumpString(v.get<std::string>(), out); return;
    case nlohmann::json::value_t::boolean: *out += v.get<bool>() ? "true" : "false"; return;
    case nlohmann::json::value_t::null: *out += "null"; return;
    case nlohmann::json::value_t::number_float: {
      const double d = v.get<double>();
      if (std::isnan(d)) {
        *out += "NaN";
      } else if (std::isinf(d)) {
        *out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        // Python's repr: the shortest round-trip digits, and always a '.' or an exponent.
        std::string r = fmt::format("{}", d);
        if (r.find_first_of(".en") == std::string::npos) r += ".0";
        *out += r;
      }
      return;
    }
    default: *out += v.dump(); return;  // integers
  }
}

}  // namespace

std::string PyJsonDumps(const nlohmann::ordered_json& value, int indent) {
  std::string out;
  Dump(value, indent, 0, &out);
  return out;
}

}  // namespace gorae::tokenizer
