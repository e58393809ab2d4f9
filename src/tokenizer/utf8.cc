#include "tokenizer/utf8.h"

namespace gorae::tokenizer {

namespace {

// What a lead byte c >= 0x80 allows, per the Unicode table of well-formed byte sequences: the
// sequence length and the range of the second byte (which rules out overlongs and
// surrogates). False if c cannot start a sequence.
bool LeadByteRule(unsigned char c, size_t* len, unsigned char* lo, unsigned char* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    *len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    *len = 3;
    if (c == 0xE0) *lo = 0xA0;
    if (c == 0xED) *hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    *len = 4;
    if (c == 0xF0) *lo = 0x90;
    if (c == 0xF4) *hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

}  // namespace

size_t ValidSequenceLength(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  unsigned char c = p[i];
  if (c < 0x80) return 1;
  unsigned char lo, hi;
  size_t len;
  if (!LeadByteRule(c, &len, &lo, &hi)) return 0;
  if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return 0;
  }
  return len;
}

size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Fast path over ASCII, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    size_t len = ValidSequenceLength(s, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

uint32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + *i;
  uint32_t c = p[0];
  if (c < 0x80) {
    *i += 1;
    return c;
  }
  if (c < 0xE0) {
    *i += 2;
    return ((c & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c < 0xF0) {
    *i += 3;
    return ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  *i += 4;
  return ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the longest prefix of s[i..] that is a valid start of a sequence (a "maximal
// subpart"), at least 1. Rust replaces each such subpart with a single U+FFFD.
static size_t MaximalInvalidSubpart(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  unsigned char c = p[i];
  unsigned char lo, hi;
  size_t len;
  if (!LeadByteRule(c, &len, &lo, &hi)) return 1;
  size_t k = 1;
  if (i + k < n && p[i + k] >= lo && p[i + k] <= hi) {
    ++k;
    while (k < len && i + k < n && (p[i + k] & 0xC0) == 0x80) ++k;
  }
  return k;
}

std::string ToValidUtf8Lossy(std::string_view bytes) {
  if (FindInvalidUtf8(bytes) == std::string_view::npos) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + 8);
  size_t i = 0;
  while (i < bytes.size()) {
    size_t len = ValidSequenceLength(bytes, i);
    if (len > 0) {
      out.append(bytes.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      i += MaximalInvalidSubpart(bytes, i);
    }
  }
  return out;
}

size_t IncompleteUtf8Tail(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end, and check
  // that what is there so far is a valid prefix.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    size_t i = n - back;
    if (MaximalInvalidSubpart(s, i) == back) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      size_t need = c > 0xF4 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      if (need > back) return back;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) break;  // a lead byte: stop
  }
  return 0;
}

bool IsUnicodeWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace gorae::tokenizer
