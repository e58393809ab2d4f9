// UTF-8 helpers shared by the tokenizer: validation, code point iteration, and the lossy
// conversion that Hugging Face `tokenizers` applies when decoding (Rust's
// String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gorae::tokenizer {

// Returns the byte offset of the first invalid UTF-8 sequence in `s`, or npos if `s` is valid.
// Surrogates (U+D800..U+DFFF), overlong forms and values above U+10FFFF are invalid.
size_t FindInvalidUtf8(std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are not a
// complete valid sequence. Used both for validation and for decoding one code point.
size_t ValidSequenceLength(std::string_view s, size_t i);

// Decodes the code point at s[i] (which must start a valid sequence) and advances i.
uint32_t NextCodePoint(std::string_view s, size_t* i);

// Appends the UTF-8 encoding of code point cp to out.
void AppendUtf8(uint32_t cp, std::string* out);

// Replaces invalid sequences with U+FFFD exactly as Rust's String::from_utf8_lossy does.
std::string ToValidUtf8Lossy(std::string_view bytes);

// Number of bytes at the end of `s` that form the start of a multi-byte sequence which could
// still be completed by more bytes (0..3). A streaming decoder holds these back.
size_t IncompleteUtf8Tail(std::string_view s);

// Unicode White_Space property (Rust char::is_whitespace), used for lstrip/rstrip.
bool IsUnicodeWhitespace(uint32_t cp);

}  // namespace gorae::tokenizer
