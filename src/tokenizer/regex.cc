#include "tokenizer/regex.h"

#include <algorithm>
#include <cctype>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace gorae::tokenizer {
namespace {

// Oniguruma (which `tokenizers` uses) and PCRE2 differ in two places that real patterns hit:
//  - \uHHHH is Oniguruma syntax; PCRE2 spells it \x{HHHH}.
//  - \s: Oniguruma's Unicode \s is [\t-\r\x85] + Zs/Zl/Zp; PCRE2's also takes U+180E (via \h),
//    so \s and \S are spelled out. (\S inside a [...] class cannot be spelled out and is kept.)
std::string TranslateOniguruma(std::string_view p) {
  static constexpr std::string_view kSpaceSet = "\\t-\\r\\x{85}\\p{Z}";
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[i + 1];
      if (n == 'u' && i + 6 <= p.size() &&
          std::all_of(p.begin() + i + 2, p.begin() + i + 6, [](char h) { return std::isxdigit(static_cast<unsigned char>(h)); })) {
        out += "\\x{";
        out.append(p.substr(i + 2, 4));
        out += "}";
        i += 5;
        continue;
      }
      if (n == 's') {
        if (in_class) {
          out += kSpaceSet;
        } else {
          out += "[";
          out += kSpaceSet;
          out += "]";
        }
        ++i;
        continue;
      }
      if (n == 'S' && !in_class) {
        out += "[^";
        out += kSpaceSet;
        out += "]";
        ++i;
        continue;
      }
      out.push_back(c);
      out.push_back(n);
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
  }
  return out;
}

struct MatchData {
  pcre2_match_data* md = pcre2_match_data_create(32, nullptr);
  pcre2_match_context* mc = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
  MatchData() { pcre2_jit_stack_assign(mc, nullptr, stack); }
  ~MatchData() {
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_jit_stack_free(stack);
  }
};

MatchData& ThreadMatchData() {
  thread_local MatchData data;
  return data;
}

}  // namespace

Result<std::shared_ptr<const Regex>> Regex::Compile(std::string_view pattern, bool literal) {
  std::string translated = literal ? std::string(pattern) : TranslateOniguruma(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2_LITERAL rejects PCRE2_UCP (meaningless for a literal string).
  uint32_t options = PCRE2_UTF | PCRE2_NO_UTF_CHECK | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(error, buf, sizeof(buf));
    return InvalidArgument("regex '{}': {} at offset {}", std::string(pattern),
                           reinterpret_cast<const char*>(buf), offset);
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is absent
  std::shared_ptr<Regex> re(new Regex());
  re->pattern_ = std::string(pattern);
  re->code_ = code;
  return std::shared_ptr<const Regex>(std::move(re));
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

Status Regex::FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* out) const {
  MatchData& data = ThreadMatchData();
  auto* code = static_cast<pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, data.md, data.mc);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(rc, buf, sizeof(buf));
      return Status(StatusCode::kInternal,
                    fmt::format("regex '{}' failed at byte {} of a {}-byte piece: {}", pattern_, pos,
                                text.size(), reinterpret_cast<const char*>(buf)));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    size_t b = ov[0], e = ov[1];
    out->emplace_back(b, e);
    if (e > b) {
      pos = e;
    } else {
      // Empty match: step over one whole UTF-8 character.
      if (e >= text.size()) break;
      pos = e + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
  return Status::Ok();
}

}  // namespace gorae::tokenizer
