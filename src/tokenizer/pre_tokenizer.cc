#include "tokenizer/pre_tokenizer.h"

#include <nlohmann/json.hpp>

namespace gorae::tokenizer {

const char kGpt2Pattern[] = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

using Span = std::pair<size_t, size_t>;

// Turns the (range, is_match) list of one piece into kept ranges, following the delimiter
// behaviour exactly as `tokenizers` NormalizedString::split does.
void ApplyBehavior(const std::vector<std::pair<Span, bool>>& parts, SplitBehavior behavior,
                   std::vector<Span>* kept) {
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (auto& [span, m] : parts) kept->push_back(span);
      break;
    case SplitBehavior::kRemoved:
      for (auto& [span, m] : parts)
        if (!m) kept->push_back(span);
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (auto& [span, m] : parts) {
        if (m && !previous_match && !kept->empty()) {
          kept->back().second = span.second;
        } else {
          kept->push_back(span);
        }
        previous_match = m;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      // Mirror image of kMergedWithPrevious: walk backwards, then restore order.
      bool previous_match = false;
      std::vector<Span> rev;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->second && !previous_match && !rev.empty()) {
          rev.back().first = it->first.first;
        } else {
          rev.push_back(it->first);
        }
        previous_match = it->second;
      }
      kept->insert(kept->end(), rev.rbegin(), rev.rend());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (auto& [span, m] : parts) {
        if (m && previous_match && !kept->empty()) {
          kept->back().second = span.second;
        } else {
          kept->push_back(span);
        }
        previous_match = m;
      }
      break;
    }
  }
}

Result<SplitBehavior> ParseBehavior(const nlohmann::json& j, const std::string& where) {
  if (!j.is_string()) return InvalidArgument("{}.behavior: expected a string", where);
  const std::string s = j.get<std::string>();
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return InvalidArgument("{}.behavior: unknown value '{}'", where, s);
}

Status AddSteps(const nlohmann::json& j, const std::string& where, PreTokenizer* pt) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    return InvalidArgument("{}: expected an object with a string \"type\"", where);
  const std::string type = j["type"].get<std::string>();
  if (pt->byte_level)
    return Unsupported("{}: a '{}' step after ByteLevel is not supported", where, type);
  if (type == "Sequence") {
    if (!j.contains("pretokenizers") || !j["pretokenizers"].is_array())
      return InvalidArgument("{}.pretokenizers: expected an array", where);
    size_t i = 0;
    for (const auto& sub : j["pretokenizers"]) {
      GORAE_RETURN_IF_ERROR(AddSteps(sub, fmt::format("{}.pretokenizers[{}]", where, i++), pt));
    }
    return Status::Ok();
  }
  PreTokenizerStep step;
  if (type == "Split") {
    if (!j.contains("pattern") || !j["pattern"].is_object())
      return InvalidArgument("{}.pattern: expected {{\"Regex\": ...}} or {{\"String\": ...}}", where);
    const auto& p = j["pattern"];
    bool literal = p.contains("String");
    const auto& text = literal ? p["String"] : p.value("Regex", nlohmann::json());
    if (!text.is_string())
      return InvalidArgument("{}.pattern: expected {{\"Regex\": ...}} or {{\"String\": ...}}", where);
    auto re = Regex::Compile(text.get<std::string>(), literal);
    if (!re.ok()) return re.status().WithContext(where + ".pattern");
    step.regex = *re;
    GORAE_ASSIGN_OR_RETURN(step.behavior, ParseBehavior(j.value("behavior", nlohmann::json()), where));
    step.invert = j.value("invert", false);
  } else if (type == "Digits") {
    // Rust's char::is_numeric is the N category; individual digits are isolated one by one,
    // otherwise runs of digits stay together.
    bool individual = j.value("individual_digits", false);
    auto re = Regex::Compile(individual ? R"(\p{N})" : R"(\p{N}+)", false);
    if (!re.ok()) return re.status();
    step.regex = *re;
    step.behavior = SplitBehavior::kIsolated;
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.add_prefix_space = j.value("add_prefix_space", true);
    step.use_regex = j.value("use_regex", true);
    if (step.use_regex) {
      auto re = Regex::Compile(kGpt2Pattern, false);
      if (!re.ok()) return re.status();
      step.regex = *re;
    }
    pt->byte_level = true;
  } else {
    return Unsupported("{}: pre-tokenizer type '{}' is not supported (supported: Sequence, Split, "
                       "Digits, ByteLevel)", where, type);
  }
  pt->steps.push_back(std::move(step));
  return Status::Ok();
}

}  // namespace

Status SplitPieces(const Regex& re, SplitBehavior behavior, bool invert,
                 const std::vector<std::string_view>& in, std::vector<std::string_view>* out) {
  std::vector<Span> matches;
  std::vector<std::pair<Span, bool>> parts;
  std::vector<Span> kept;
  for (std::string_view piece : in) {
    matches.clear();
    parts.clear();
    kept.clear();
    GORAE_RETURN_IF_ERROR(re.FindAll(piece, &matches));
    size_t prev = 0;
    for (auto [b, e] : matches) {
      if (prev != b) parts.push_back({{prev, b}, invert});
      parts.push_back({{b, e}, !invert});
      prev = e;
    }
    if (prev != piece.size()) parts.push_back({{prev, piece.size()}, invert});
    ApplyBehavior(parts, behavior, &kept);
    for (auto [b, e] : kept) {
      if (e > b) out->push_back(piece.substr(b, e - b));  // empty pieces are dropped
    }
  }
  return Status::Ok();
}

Result<PreTokenizer> PreTokenizer::FromJson(const nlohmann::json& j, const std::string& where) {
  PreTokenizer pt;
  if (j.is_null()) return pt;
  GORAE_RETURN_IF_ERROR(AddSteps(j, where, &pt));
  return pt;
}

Status PreTokenizer::Apply(std::string_view text, std::vector<std::string_view>* out,
                           std::deque<std::string>* arena) const {
  std::vector<std::string_view> cur{text};
  std::vector<std::string_view> next;
  for (const PreTokenizerStep& step : steps) {
    next.clear();
    if (step.kind == PreTokenizerStep::Kind::kSplit) {
      GORAE_RETURN_IF_ERROR(SplitPieces(*step.regex, step.behavior, step.invert, cur, &next));
    } else {
      std::vector<std::string_view> prefixed;
      for (std::string_view piece : cur) {
        if (step.add_prefix_space && (piece.empty() || piece[0] != ' ')) {
          arena->push_back(" " + std::string(piece));
          piece = arena->back();
        }
        prefixed.push_back(piece);
      }
      if (step.use_regex) {
        GORAE_RETURN_IF_ERROR(SplitPieces(*step.regex, SplitBehavior::kIsolated, false, prefixed, &next));
      } else {
        for (auto p : prefixed)
          if (!p.empty()) next.push_back(p);
      }
    }
    cur.swap(next);
  }
  for (auto p : cur)
    if (!p.empty()) out->push_back(p);
  return Status::Ok();
}

}  // namespace gorae::tokenizer
