// The GPT-2 byte-level alphabet: every byte 0..255 is shown as one printable code point, so
// that BPE vocabularies can be stored as text. Printable Latin-1 bytes map to themselves; the
// other 68 bytes map to U+0100.. in byte order (space 0x20 becomes U+0120 'Ġ').
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gorae::tokenizer {

// Code point that shows byte b.
uint32_t ByteToCodePoint(uint8_t b);

// The byte a code point stands for, or nullopt if cp is not in the alphabet.
std::optional<uint8_t> CodePointToByte(uint32_t cp);

// Maps raw bytes to their byte-level text (each byte becomes one code point, UTF-8 encoded).
std::string BytesToByteLevel(std::string_view bytes);

// Maps byte-level text back to raw bytes; nullopt if `text` is not valid UTF-8 or holds a code
// point outside the alphabet (such tokens are decoded as their own UTF-8 bytes instead).
std::optional<std::string> ByteLevelToBytes(std::string_view text);

}  // namespace gorae::tokenizer
