// GGUF: the golden file written by llama.cpp's gguf-py (tools/gguf_make_golden.py) reads back
// value for value and dequantizes to gguf-py's numbers; our writer round-trips everything; and
// truncated, corrupt or unsupported files give errors that name the file and the key or tensor.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "kernels/cpu/quant_dot.h"
#include "tensor/dtype.h"

namespace gorae {
namespace {

// A fresh directory, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gorae_gguf_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

const std::string kGolden = std::string(GORAE_SOURCE_DIR) + "/tests/golden/gguf/golden.gguf";

std::vector<float> AsFloats(const GgufTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  DequantizeRow(t.type, t.data, v.data(), t.numel());
  return v;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// ---- golden file from gguf-py ----

TEST(GgufGolden, Metadata) {
  auto f = GgufFile::Open(kGolden);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 32u);
  EXPECT_EQ(*g.GetString("general.architecture"), "deepseek2");
  EXPECT_EQ(*g.GetString("general.name"), "gorae golden");
  EXPECT_EQ(*g.GetU32("test.u8"), 200u);
  EXPECT_EQ(*g.GetI32("test.i8"), -100);
  EXPECT_EQ(*g.GetU32("test.u16"), 60000u);
  EXPECT_EQ(*g.GetI32("test.i16"), -30000);
  EXPECT_EQ(*g.GetU32("test.u32"), 4000000000u);
  EXPECT_EQ(*g.GetI32("test.i32"), -2000000000);
  EXPECT_EQ(*g.GetU64("test.u64"), (uint64_t{1} << 63) + 5);
  EXPECT_EQ(*g.GetI64("test.i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*g.GetF32("test.f32"), 0.15625f);
  EXPECT_EQ(*g.GetF64("test.f64"), 2.718281828459045);
  EXPECT_TRUE(*g.GetBool("test.bool"));
  EXPECT_EQ(*g.GetString("test.string"), "고래 whale");
  EXPECT_EQ(*g.GetFloatArray("test.f32_array"), (std::vector<float>{1.5f, -2.25f, 3.0f}));
  EXPECT_EQ(*g.GetU32("deepseek2.block_count"), 2u);
  EXPECT_EQ(*g.GetU32("deepseek2.context_length"), 4096u);
  // The tokenizer's keys.
  EXPECT_EQ(*g.GetString("tokenizer.ggml.model"), "gpt2");
  const auto tokens = g.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens.value(), (std::vector<std::string>{"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "a", "b", "ab", "Ġ고래"}));
  EXPECT_EQ(*g.ArrayLength("tokenizer.ggml.tokens"), 6u);
  EXPECT_EQ(*g.GetStringArray("tokenizer.ggml.merges"), (std::vector<std::string>{"a b", "Ġ 고래"}));
  EXPECT_EQ(*g.GetIntArray("tokenizer.ggml.token_type"), (std::vector<int64_t>{3, 3, 1, 1, 1, 1}));
  EXPECT_EQ(*g.GetU32("tokenizer.ggml.bos_token_id"), 0u);
  EXPECT_EQ(*g.GetU32("tokenizer.ggml.eos_token_id"), 1u);
}

TEST(GgufGolden, EveryTypeDequantizesToGgufPy) {
  auto f = GgufFile::Open(kGolden);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  int checked = 0;
  for (const char* name : {"w.Q8_0", "w.Q4_0", "w.Q4_1", "w.Q5_0", "w.Q5_1", "w.Q4_K", "w.Q5_K", "w.Q6_K", "w.F16", "w.BF16"}) {
    auto t = (*f)->Tensor(name);
    auto e = (*f)->Tensor(std::string(name) + ".expected");
    ASSERT_TRUE(t.ok() && e.ok()) << name;
    EXPECT_EQ(std::string(name).substr(2), GgmlTypeName((*t)->type));
    EXPECT_EQ((*e)->type, GgmlType::kF32);
    ASSERT_EQ((*t)->numel(), (*e)->numel());
    const std::vector<float> got = AsFloats(**t), want = AsFloats(**e);
    for (size_t i = 0; i < got.size(); ++i) {
      // Same arithmetic as gguf-py; only an fma contraction may change the last bit.
      ASSERT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-7f) << name << " value " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 10);
}

TEST(GgufGolden, OurQuantizerWritesGgmlBytes) {
  // Q8_0, Q4_0 and Q5_0 follow ggml's reference rounding: same input, same bytes as gguf-py.
  auto f = GgufFile::Open(kGolden);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  for (const char* name : {"w.Q8_0", "w.Q4_0", "w.Q5_0"}) {
    const GgufTensor* t = (*f)->FindTensor(name);
    const GgufTensor* in = (*f)->FindTensor(std::string(name) + ".input");
    ASSERT_TRUE(t && in);
    auto m = (*f)->Matrix(name);
    ASSERT_TRUE(m.ok());
    const std::vector<uint8_t> ours = QuantizeMatrix(t->type, reinterpret_cast<const float*>(in->data), m->rows, m->cols);
    ASSERT_EQ(ours.size(), t->nbytes);
    EXPECT_EQ(std::memcmp(ours.data(), t->data, t->nbytes), 0) << name;
  }
}

TEST(GgufGolden, ShapesAndMatrices) {
  auto f = GgufFile::Open(kGolden);
  ASSERT_TRUE(f.ok());
  const GgufTensor* cube = (*f)->FindTensor("cube.F32");
  ASSERT_NE(cube, nullptr);
  EXPECT_EQ(cube->ShapeString(), "[4, 3, 2]");  // numpy (2, 3, 4): ne[0] is the last axis
  EXPECT_EQ(reinterpret_cast<const float*>(cube->data)[23], 23.0f);
  auto m = (*f)->Matrix("w.Q4_K");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->rows, 2);
  EXPECT_EQ(m->cols, 512);
  const auto not_2d = (*f)->Matrix("norm.F32");
  EXPECT_FALSE(not_2d.ok());
  EXPECT_NE(not_2d.status().message().find("norm.F32"), std::string::npos);
  const auto missing = (*f)->Tensor("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("golden.gguf"), std::string::npos);
}

TEST(GgufGolden, GetterErrorsNameTheKey) {
  auto f = GgufFile::Open(kGolden);
  ASSERT_TRUE(f.ok());
  const GgufFile& g = **f;
  auto wrong = g.GetU32("general.name");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("'general.name' has type string"), std::string::npos) << wrong.status().message();
  EXPECT_FALSE(g.GetU32("test.i8").ok());    // negative into unsigned
  EXPECT_FALSE(g.GetI32("test.u32").ok());   // 4e9 does not fit i32
  EXPECT_FALSE(g.GetI64("test.u64").ok());   // 2^63+5 does not fit i64
  EXPECT_FALSE(g.GetStringArray("tokenizer.ggml.token_type").ok());
  auto absent = g.GetString("tokenizer.chat_template");
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_NE(absent.status().message().find("tokenizer.chat_template"), std::string::npos);
}

// ---- writer round trip ----

struct Built {
  std::vector<float> f32;
  std::vector<uint8_t> q4k, q8, iq;
};

// Writes a file with every value type and a few tensors; returns the tensor data it referenced.
Built WriteSample(const std::string& path, uint32_t alignment) {
  Built b;
  GgufWriter w;
  w.SetString("general.architecture", "deepseek2");
  w.SetU8("k.u8", 7);
  w.SetI8("k.i8", -7);
  w.SetU16("k.u16", 65535);
  w.SetI16("k.i16", -32768);
  w.SetU32("k.u32", 123456789);
  w.SetI32("k.i32", -123456789);
  w.SetU64("k.u64", 1ull << 50);
  w.SetI64("k.i64", -(1ll << 50));
  w.SetF32("k.f32", 1.25f);
  w.SetF64("k.f64", -0.1);
  w.SetBool("k.bool", false);
  w.SetStringArray("k.strings", {"", "x", std::string("nul\0inside", 10)});
  w.SetIntArray("k.i32s", GgufType::kI32, {-1, 0, 1, 2147483647});
  w.SetIntArray("k.u8s", GgufType::kU8, {0, 255});
  w.SetF32Array("k.f32s", {0.5f, -0.5f});
  if (alignment != kGgufDefaultAlignment) w.SetAlignment(alignment);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  b.f32.resize(3 * 5);
  for (float& x : b.f32) x = normal(rng);
  std::vector<float> big(4 * 256);
  for (float& x : big) x = normal(rng);
  b.q4k = QuantizeMatrix(GgmlType::kQ4_K, big.data(), 4, 256);
  b.q8 = QuantizeMatrix(GgmlType::kQ8_0, big.data(), 8, 128);
  b.iq.resize(GgmlRowBytes(GgmlType::kIQ2_XXS, 256) * 2, 0x11);
  EXPECT_TRUE(w.AddTensor("t.f32", GgmlType::kF32, {5, 3}, b.f32.data(), b.f32.size() * 4).ok());
  EXPECT_TRUE(w.AddTensor("t.q4k", GgmlType::kQ4_K, {256, 4}, b.q4k.data(), b.q4k.size()).ok());
  EXPECT_TRUE(w.AddTensor("t.q8", GgmlType::kQ8_0, {128, 8}, b.q8.data(), b.q8.size()).ok());
  EXPECT_TRUE(w.AddTensor("t.iq2", GgmlType::kIQ2_XXS, {256, 2}, b.iq.data(), b.iq.size()).ok());
  const Status s = w.Write(path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return b;
}

TEST(GgufWriter, RoundTripsEverything) {
  TempDir dir;
  for (uint32_t alignment : {32u, 64u}) {
    const std::string path = dir / "rt.gguf";
    const Built b = WriteSample(path, alignment);
    auto f = GgufFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    const GgufFile& g = **f;
    EXPECT_EQ(g.alignment(), alignment);
    EXPECT_EQ(*g.GetString("general.architecture"), "deepseek2");
    EXPECT_EQ(*g.GetU32("k.u8"), 7u);
    EXPECT_EQ(*g.GetI32("k.i8"), -7);
    EXPECT_EQ(*g.GetU32("k.u16"), 65535u);
    EXPECT_EQ(*g.GetI32("k.i16"), -32768);
    EXPECT_EQ(*g.GetU32("k.u32"), 123456789u);
    EXPECT_EQ(*g.GetI32("k.i32"), -123456789);
    EXPECT_EQ(*g.GetU64("k.u64"), 1ull << 50);
    EXPECT_EQ(*g.GetI64("k.i64"), -(1ll << 50));
    EXPECT_EQ(*g.GetF32("k.f32"), 1.25f);
    EXPECT_EQ(*g.GetF64("k.f64"), -0.1);
    EXPECT_FALSE(*g.GetBool("k.bool"));
    EXPECT_EQ(*g.GetStringArray("k.strings"), (std::vector<std::string>{"", "x", std::string("nul\0inside", 10)}));
    EXPECT_EQ(*g.GetIntArray("k.i32s"), (std::vector<int64_t>{-1, 0, 1, 2147483647}));
    EXPECT_EQ(*g.GetIntArray("k.u8s"), (std::vector<int64_t>{0, 255}));
    EXPECT_EQ(*g.GetFloatArray("k.f32s"), (std::vector<float>{0.5f, -0.5f}));
    std::vector<std::string> keys = {"general.architecture", "k.u8", "k.i8", "k.u16", "k.i16", "k.u32", "k.i32",
                                     "k.u64", "k.i64", "k.f32", "k.f64", "k.bool", "k.strings", "k.i32s", "k.u8s", "k.f32s"};
    if (alignment != 32) keys.push_back("general.alignment");
    EXPECT_EQ(g.keys(), keys);
    ASSERT_EQ(g.tensors().size(), 4u);
    const std::pair<const char*, std::pair<const void*, size_t>> expect[] = {
        {"t.f32", {b.f32.data(), b.f32.size() * 4}}, {"t.q4k", {b.q4k.data(), b.q4k.size()}},
        {"t.q8", {b.q8.data(), b.q8.size()}}, {"t.iq2", {b.iq.data(), b.iq.size()}}};
    const std::string bytes = ReadBytes(path);
    for (const auto& [name, data] : expect) {
      const GgufTensor* t = g.FindTensor(name);
      ASSERT_NE(t, nullptr) << name;
      ASSERT_EQ(t->nbytes, data.second) << name;
      EXPECT_EQ(std::memcmp(t->data, data.first, data.second), 0) << name;
      EXPECT_EQ(t->offset % alignment, 0u) << name;
      EXPECT_EQ(static_cast<size_t>(t->data - reinterpret_cast<const uint8_t*>(g.tensors()[0].data)) % alignment, 0u);
    }
    EXPECT_EQ(g.FindTensor("t.f32")->ShapeString(), "[5, 3]");
    EXPECT_EQ(g.FindTensor("t.q4k")->type, GgmlType::kQ4_K);
    // A type gorae can size but not compute with: opens, and says so when used.
    auto iq = g.Matrix("t.iq2");
    ASSERT_FALSE(iq.ok());
    EXPECT_EQ(iq.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(iq.status().message().find("'t.iq2' has type IQ2_XXS"), std::string::npos) << iq.status().message();
    // The file ends right after the last tensor's padding.
    EXPECT_EQ(bytes.size() % alignment, 0u);
    EXPECT_FALSE(std::ifstream(path + ".tmp").good());  // the temporary was renamed away
  }
}

TEST(GgufWriter, RejectsBadTensors) {
  GgufWriter w;
  std::vector<uint8_t> data(1000);
  EXPECT_FALSE(w.AddTensor("a", GgmlType::kQ8_0, {30, 2}, data.data(), 68).ok());  // 30 % 32
  EXPECT_FALSE(w.AddTensor("a", GgmlType::kQ8_0, {32, 2}, data.data(), 67).ok());  // size
  EXPECT_FALSE(w.AddTensor("a", GgmlType::kF32, {1, 1, 1, 1, 1}, data.data(), 4).ok());
  EXPECT_TRUE(w.AddTensor("a", GgmlType::kQ8_0, {32, 2}, data.data(), 68).ok());
  EXPECT_FALSE(w.AddTensor("a", GgmlType::kQ8_0, {32, 2}, data.data(), 68).ok());  // duplicate
  EXPECT_FALSE(w.Write("/nonexistent-dir/x.gguf").ok());
}

// ---- corrupt files ----

// Writes the sample, lets `edit` change its bytes, opens it and returns the error message.
template <typename Edit>
std::string OpenEdited(const TempDir& dir, Edit edit) {
  const std::string path = dir / "edited.gguf";
  WriteSample(path, 32);
  std::string bytes = ReadBytes(path);
  edit(bytes);
  WriteBytes(path, bytes);
  auto f = GgufFile::Open(path);
  if (f.ok()) return "";
  EXPECT_NE(f.status().message().find("edited.gguf"), std::string::npos) << f.status().message();
  return f.status().message();
}

// Position of the first byte after `name`'s string in the file (where its tensor info continues).
size_t After(const std::string& bytes, const std::string& name) {
  std::string encoded(8, '\0');
  const uint64_t len = name.size();
  std::memcpy(encoded.data(), &len, 8);
  encoded += name;
  const size_t at = bytes.find(encoded);
  EXPECT_NE(at, std::string::npos) << name;
  return at + encoded.size();
}
template <typename T>
void Poke(std::string& bytes, size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof(T));
}

TEST(GgufCorrupt, EveryTruncationFailsCleanly) {
  TempDir dir;
  const std::string full_path = dir / "full.gguf";
  WriteSample(full_path, 32);
  const std::string bytes = ReadBytes(full_path);
  // Only the last tensor's padding may go: everything before the end of its data is needed.
  auto full = GgufFile::Open(full_path);
  ASSERT_TRUE(full.ok());
  const GgufTensor& last = (*full)->tensors().back();
  const uint64_t used = last.offset + last.nbytes;
  const size_t data_end = bytes.size() - static_cast<size_t>((used + 31) / 32 * 32) + static_cast<size_t>(used);
  const std::string path = dir / "cut.gguf";
  for (size_t n = 0; n < data_end; n += (n < 200 ? 1 : n < 600 ? 5 : 97)) {
    WriteBytes(path, bytes.substr(0, n));
    auto f = GgufFile::Open(path);
    ASSERT_FALSE(f.ok()) << "prefix of " << n << " bytes opened";
    ASSERT_NE(f.status().message().find("cut.gguf"), std::string::npos) << f.status().message();
  }
}

TEST(GgufCorrupt, TruncatedDataNamesTheTensor) {
  TempDir dir;
  const std::string msg = OpenEdited(dir, [](std::string& b) { b.resize(b.size() - 40); });
  EXPECT_NE(msg.find("tensor 't.iq2'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(GgufCorrupt, HeaderErrors) {
  TempDir dir;
  EXPECT_NE(OpenEdited(dir, [](std::string& b) { b[0] = 'X'; }).find("magic"), std::string::npos);
  EXPECT_NE(OpenEdited(dir, [](std::string& b) { Poke<uint32_t>(b, 4, 1); }).find("version 1"), std::string::npos);
  EXPECT_NE(OpenEdited(dir, [](std::string& b) { Poke<uint32_t>(b, 4, 0x03000000u); }).find("big-endian"), std::string::npos);
  // Counts far beyond the file: an error before any allocation of that size.
  EXPECT_NE(OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, 8, 1ull << 60); }).find("tensor count"), std::string::npos);
  EXPECT_NE(OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, 16, ~0ull); }).find("metadata count"), std::string::npos);
  // First key's length.
  EXPECT_NE(OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, 24, 1ull << 62); }).find("truncated metadata"), std::string::npos);
  // Unknown value type of the first key.
  const std::string msg = OpenEdited(dir, [](std::string& b) { Poke<uint32_t>(b, After(b, "general.architecture"), 77); });
  EXPECT_NE(msg.find("key 'general.architecture': unknown value type 77"), std::string::npos) << msg;
}

TEST(GgufCorrupt, MetadataErrorsNameTheKey) {
  TempDir dir;
  // k.strings: array header = u32 type, u32 elem type, u64 count.
  std::string msg = OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, After(b, "k.strings") + 8, 1ull << 61); });
  EXPECT_NE(msg.find("key 'k.strings'"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, After(b, "k.i32s") + 8, 1ull << 61); });
  EXPECT_NE(msg.find("key 'k.i32s'"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint32_t>(b, After(b, "k.i32s") + 4, static_cast<uint32_t>(GgufType::kArray)); });
  EXPECT_NE(msg.find("arrays of arrays"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint8_t>(b, After(b, "k.bool") + 4, 9); });
  EXPECT_NE(msg.find("key 'k.bool'"), std::string::npos) << msg;
  // Rename k.u8 to k.i8: a duplicate key.
  msg = OpenEdited(dir, [](std::string& b) { b[After(b, "k.u8") - 2] = 'i'; });
  EXPECT_NE(msg.find("duplicate key 'k.i8'"), std::string::npos) << msg;
}

TEST(GgufCorrupt, TensorInfoErrorsNameTheTensor) {
  TempDir dir;
  // t.q8 info: u32 n_dims, u64 ne[2], u32 type, u64 offset.
  std::string msg = OpenEdited(dir, [](std::string& b) { Poke<uint32_t>(b, After(b, "t.q8") + 4 + 16, 99); });
  EXPECT_NE(msg.find("tensor 't.q8': unknown ggml type 99"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint32_t>(b, After(b, "t.q8"), 5); });
  EXPECT_NE(msg.find("tensor 't.q8': 5 dimensions"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, After(b, "t.q8") + 4, 100); });
  EXPECT_NE(msg.find("tensor 't.q8': ne[0] = 100 is not a multiple"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, After(b, "t.q8") + 4 + 8, 1ull << 62); });
  EXPECT_NE(msg.find("tensor 't.q8'"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, After(b, "t.q8") + 4 + 8, ~0ull); });
  EXPECT_NE(msg.find("tensor 't.q8'"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, After(b, "t.q8") + 4 + 16 + 4, 33); });
  EXPECT_NE(msg.find("tensor 't.q8': offset 33 is not a multiple of the alignment 32"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { Poke<uint64_t>(b, After(b, "t.q8") + 4 + 16 + 4, 1ull << 40); });
  EXPECT_NE(msg.find("tensor 't.q8'"), std::string::npos) << msg;
  msg = OpenEdited(dir, [](std::string& b) { b[After(b, "t.q8") - 1] = '4'; });  // t.q4: fine, unique
  EXPECT_EQ(msg, "");
  msg = OpenEdited(dir, [](std::string& b) { std::memcpy(&b[After(b, "t.q4k") - 5], "t.f32", 5); });
  EXPECT_NE(msg.find("duplicate tensor 't.f32'"), std::string::npos) << msg;
}

TEST(GgufCorrupt, RandomByteFlipsNeverCrash) {
  TempDir dir;
  const std::string src = dir / "src.gguf";
  WriteSample(src, 32);
  const std::string bytes = ReadBytes(src);
  const size_t header_end = After(bytes, "t.iq2") + 32;  // flips in the metadata and tensor infos
  std::mt19937 rng(7);
  const std::string path = dir / "flip.gguf";
  int failed = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string b = bytes;
    for (int k = 0; k < 3; ++k) b[rng() % header_end] = static_cast<char>(rng());
    WriteBytes(path, b);
    auto f = GgufFile::Open(path);
    if (!f.ok()) {
      ++failed;
      continue;
    }
    // If it opened, every tensor lies inside the mapping and every getter is safe to call.
    for (const GgufTensor& t : (*f)->tensors()) ASSERT_LE(t.nbytes, bytes.size());
    for (const std::string& k : (*f)->keys()) {
      (void)(*f)->GetStringArray(k);
      (void)(*f)->GetIntArray(k);
      (void)(*f)->GetString(k);
    }
  }
  EXPECT_GT(failed, 50);  // most flips in lengths, types and counts are caught
}

TEST(GgufCorrupt, MissingFile) {
  auto f = GgufFile::Open("/nonexistent/model.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("/nonexistent/model.gguf"), std::string::npos);
}

}  // namespace
}  // namespace gorae
