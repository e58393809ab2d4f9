#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace gorae::tokenizer {
namespace {

// Bytes that GPT-2 keeps as themselves: '!'..'~', '¡'..'¬', '®'..'ÿ'.
bool IsKeptByte(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Tables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 0x144> from_cp{};  // every alphabet code point is below U+0144
  Tables() {
    from_cp.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      to_cp[b] = IsKeptByte(b) ? b : 0x100 + next++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

uint32_t ByteToCodePoint(uint8_t b) { return GetTables().to_cp[b]; }

std::optional<uint8_t> CodePointToByte(uint32_t cp) {
  const Tables& t = GetTables();
  if (cp >= t.from_cp.size() || t.from_cp[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(t.from_cp[cp]);
}

std::string BytesToByteLevel(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) AppendUtf8(ByteToCodePoint(b), &out);
  return out;
}

std::optional<std::string> ByteLevelToBytes(std::string_view text) {
  if (FindInvalidUtf8(text) != std::string_view::npos) return std::nullopt;
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto b = CodePointToByte(NextCodePoint(text, &i));
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

}  // namespace gorae::tokenizer
