// Unicode Normalization Form C (UAX #15): full canonical decomposition, canonical ordering of
// combining marks, then canonical composition. Tables: nfc_tables.inc (generated).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace gorae::tokenizer {
namespace {

#include "tokenizer/nfc_tables.inc"

// Hangul syllables compose and decompose by arithmetic (Unicode 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

uint32_t CombiningClass(uint32_t cp) {
  if (cp < 0x300) return 0;
  auto* end = kCccTable + sizeof(kCccTable) / sizeof(kCccTable[0]);
  auto* it = std::lower_bound(kCccTable, end, cp, [](const uint32_t* e, uint32_t v) { return e[0] < v; });
  return (it != end && (*it)[0] == cp) ? (*it)[1] : 0;
}

void Decompose(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out->push_back(kTBase + s % kTCount);
    return;
  }
  if (cp >= 0xC0) {
    auto* end = kDecompTable + sizeof(kDecompTable) / sizeof(kDecompTable[0]);
    auto* it = std::lower_bound(kDecompTable, end, cp, [](const uint32_t* e, uint32_t v) { return e[0] < v; });
    if (it != end && (*it)[0] == cp) {
      Decompose((*it)[1], out);
      if ((*it)[2]) Decompose((*it)[2], out);
      return;
    }
  }
  out->push_back(cp);
}

// The primary composite of (a, b), or 0.
uint32_t Compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  auto* end = kComposeTable + sizeof(kComposeTable) / sizeof(kComposeTable[0]);
  auto* it = std::lower_bound(kComposeTable, end, std::make_pair(a, b), [](const uint32_t* e, std::pair<uint32_t, uint32_t> v) {
    return e[0] != v.first ? e[0] < v.first : e[1] < v.second;
  });
  return (it != end && (*it)[0] == a && (*it)[1] == b) ? (*it)[2] : 0;
}

}  // namespace

std::string ToNfc(std::string_view text) {
  // Text made only of code points below U+0300 is already NFC (no combining marks, no
  // decomposable-and-recomposable sequences), which covers ASCII and most Latin text.
  bool simple = true;
  for (size_t i = 0; i < text.size() && simple;) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) { ++i; continue; }
    simple = NextCodePoint(text, &i) < 0x300;
  }
  if (simple) return std::string(text);

  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) Decompose(NextCodePoint(text, &i), &cps);
  // Canonical ordering: stable-sort each run of non-starters by combining class.
  for (size_t i = 0; i < cps.size();) {
    if (CombiningClass(cps[i]) == 0) { ++i; continue; }
    size_t j = i;
    while (j < cps.size() && CombiningClass(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j,
                     [](uint32_t a, uint32_t b) { return CombiningClass(a) < CombiningClass(b); });
    i = j;
  }
  // Canonical composition: each character joins the last starter unless blocked by a mark of
  // the same or higher class in between.
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  int starter = -1;
  uint32_t last_ccc = 0;
  for (uint32_t cp : cps) {
    uint32_t ccc = CombiningClass(cp);
    if (starter >= 0) {
      bool blocked = static_cast<size_t>(starter) + 1 < out.size() && (last_ccc == 0 || last_ccc >= ccc);
      if (!blocked) {
        if (uint32_t c = Compose(out[starter], cp)) {
          out[starter] = c;
          continue;
        }
      }
    }
    if (ccc == 0) {
      starter = static_cast<int>(out.size());
      last_ccc = 0;
    } else {
      last_ccc = ccc;
    }
    out.push_back(cp);
  }
  std::string s;
  s.reserve(text.size());
  for (uint32_t cp : out) AppendUtf8(cp, &s);
  return s;
}

}  // namespace gorae::tokenizer
