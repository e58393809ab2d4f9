// GGUF files (llama.cpp's model format): reader (memory-mapped) and writer.
//
// Byte layout, all little-endian, no implicit padding:
//
//   header
//     u8[4]   magic "GGUF"
//     u32     version: 3 (2 has the same layout; 1, with 32-bit counts, is not read)
//     u64     tensor_count
//     u64     metadata_kv_count
//   metadata_kv_count times:
//     string  key                         string = u64 byte length, then the UTF-8 bytes (no NUL)
//     u32     value type                  0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (one
//                                         byte, 0 or 1), 8 string, 9 array, 10 u64, 11 i64, 12 f64
//     value                               scalars as themselves; an array is u32 element type, u64
//                                         count, then the elements (gorae reads no arrays of arrays)
//   tensor_count times (tensor infos):
//     string  name
//     u32     n_dims (1..4)
//     u64     ne[n_dims]                  ne[0] is the innermost, contiguous dimension: a weight of
//                                         PyTorch shape (out, in) has ne = [in, out]
//     u32     ggml type                   tensor/quant.h (F32 0, F16 1, Q4_0 2, ..., Q8_0 8, Q4_K 12,
//                                         Q6_K 14, BF16 30, ...); ne[0] is a multiple of its block size
//     u64     offset                      of the data, from the start of the data section; a multiple
//                                         of the alignment
//   padding with zeros to a multiple of the alignment
//   data section                          each tensor's bytes, rows of ne[0] values in its type, each
//                                         tensor padded to the alignment
//
// The alignment is the u32 key `general.alignment` if present (a power of two), else 32.
//
// The reader checks everything before trusting it: every count and length against the bytes
// left in the file (so a corrupt count gives an error, never a huge allocation), n_dims, the type
// ids, ne[0] against the block size, sizes against overflow, offsets and sizes inside the data
// section, aligned offsets, duplicate keys and names. Errors name the file and the key or tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "io/mapped_file.h"
#include "tensor/quant.h"

namespace gorae {

enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* GgufTypeName(GgufType t);

inline constexpr uint32_t kGgufDefaultAlignment = 32;

struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::kF32;
  int n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] innermost; unused dims are 1
  uint64_t offset = 0;           // from the start of the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping; valid while the GgufFile lives

  int64_t numel() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  std::string ShapeString() const;  // "[ne0, ne1]"
};

// A metadata value as located in the file; read it with GgufFile's typed getters.
struct GgufValue {
  GgufType type = GgufType::kU8;
  GgufType elem_type = GgufType::kU8;  // arrays only
  uint64_t count = 1;                  // arrays: number of elements
  size_t offset = 0;                   // file offset of the value (arrays: of the first element)
};

class GgufFile {
 public:
  // Maps and validates the whole file (metadata and tensor infos; tensor bytes are not read).
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }

  // ---- metadata ----
  const std::vector<std::string>& keys() const { return key_order_; }  // in file order
  const GgufValue* Find(std::string_view key) const;  // nullptr if absent
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Integer getters accept any integer type whose value fits the requested one (files differ in
  // which width they write); otherwise the key must have exactly the requested type.
  Result<std::string> GetString(std::string_view key) const;
  Result<uint32_t> GetU32(std::string_view key) const;
  Result<int32_t> GetI32(std::string_view key) const;
  Result<uint64_t> GetU64(std::string_view key) const;
  Result<int64_t> GetI64(std::string_view key) const;
  Result<float> GetF32(std::string_view key) const;  // f32, or f64 narrowed
  Result<double> GetF64(std::string_view key) const;  // f64 or f32
  Result<bool> GetBool(std::string_view key) const;
  Result<std::vector<std::string>> GetStringArray(std::string_view key) const;
  Result<std::vector<int64_t>> GetIntArray(std::string_view key) const;  // any integer or bool elements
  Result<std::vector<float>> GetFloatArray(std::string_view key) const;  // f32 or f64 elements
  // Number of elements of an array value (without reading them).
  Result<uint64_t> ArrayLength(std::string_view key) const;

  // ---- tensors ----
  const std::vector<GgufTensor>& tensors() const { return tensors_; }  // in file order
  const GgufTensor* FindTensor(std::string_view name) const;        // nullptr if absent
  Result<const GgufTensor*> Tensor(std::string_view name) const;    // NotFound error naming it
  // A 2-D tensor as a weight matrix (rows = ne[1], cols = ne[0]); error if it is not 2-D or gorae
  // has no kernels for its type.
  Result<QuantMatrix> Matrix(std::string_view name) const;

 private:
  GgufFile() = default;
  Status Parse();
  Result<const GgufValue*> Expect(std::string_view key) const;
  Status TypeError(std::string_view key, const GgufValue& v, const char* wanted) const;
  Result<int64_t> GetInteger(std::string_view key, int64_t lo, uint64_t hi) const;
  std::string_view StringAt(size_t offset) const;  // a validated string's bytes

  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  std::vector<std::string> key_order_;
  std::map<std::string, GgufValue, std::less<>> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF file in memory-light form: metadata values are copied, tensor data is referenced
// (the caller keeps it alive until Write returns). Keys and tensors keep the order they were added.
class GgufWriter {
 public:
  void SetU8(const std::string& key, uint8_t v);
  void SetI8(const std::string& key, int8_t v);
  void SetU16(const std::string& key, uint16_t v);
  void SetI16(const std::string& key, int16_t v);
  void SetU32(const std::string& key, uint32_t v);
  void SetI32(const std::string& key, int32_t v);
  void SetU64(const std::string& key, uint64_t v);
  void SetI64(const std::string& key, int64_t v);
  void SetF32(const std::string& key, float v);
  void SetF64(const std::string& key, double v);
  void SetBool(const std::string& key, bool v);
  void SetString(const std::string& key, const std::string& v);
  void SetStringArray(const std::string& key, const std::vector<std::string>& v);
  // Integer arrays in the given element type (kU8..kI64, kBool); values must fit it.
  void SetIntArray(const std::string& key, GgufType elem_type, const std::vector<int64_t>& v);
  void SetF32Array(const std::string& key, const std::vector<float>& v);
  // Sets general.alignment too (a power of two); default 32.
  void SetAlignment(uint32_t alignment);

  // ne[0] innermost (ne = {cols, rows} for a weight matrix); data holds the tensor in type.
  Status AddTensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                   const void* data, size_t nbytes);

  // Writes path.tmp then renames it over path, so readers never see a half-written file.
  Status Write(const std::string& path) const;

 private:
  struct Entry {
    std::string key;
    std::string bytes;  // value type + value, encoded
  };
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    const void* data;
    size_t nbytes;
  };
  void SetRaw(const std::string& key, std::string encoded);
  std::vector<Entry> entries_;
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = kGgufDefaultAlignment;
};

}  // namespace gorae
