// GGUF reader: one validating pass over the header, metadata and tensor infos of the mapped file.
// Metadata values are not copied: GgufValue records where each one is, and the getters decode
// from the mapping on demand (a 129k-entry vocabulary costs nothing until asked for).
#include "io/gguf.h"

#include <cstring>
#include <limits>

namespace gorae {

namespace {

constexpr uint32_t kMaxDims = 4;

size_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;  // string, array: variable
  }
}

bool IsInteger(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

bool KnownType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kF64); }

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Bounds-checked sequential reads over the mapping; every failure says what was being read.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  template <typename T>
  bool Read(T* out) {
    if (left() < sizeof(T)) return false;
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Skip(uint64_t n) {
    if (n > left()) return false;
    pos_ += static_cast<size_t>(n);
    return true;
  }
  // A string: u64 length then bytes; *offset is where the length field starts.
  bool ReadString(std::string_view* out) {
    uint64_t len;
    if (!Read(&len) || len > left()) return false;
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

std::string Printable(std::string_view s) {  // keys from a corrupt file may be binary garbage
  std::string out;
  for (char c : s.substr(0, 80)) out += (c >= 32 && c < 127) ? c : '?';
  if (s.size() > 80) out += "...";
  return out;
}

}  // namespace

const char* GgufTypeName(GgufType t) {
  switch (t) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "unknown";
}

std::string GgufTensor::ShapeString() const {
  std::string s = "[";
  for (int i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  GORAE_ASSIGN_OR_RETURN(f->file_, MappedFile::Open(path));
  Status s = f->Parse();
  if (!s.ok()) return s.WithContext(path);
  return f;
}

Status GgufFile::Parse() {
  Cursor c(file_->data(), file_->size());
  char magic[4];
  if (!c.Read(&magic)) return Corruption("not a GGUF file: {} bytes, too short for the header", file_->size());
  if (std::memcmp(magic, "GGUF", 4) != 0) return Corruption("not a GGUF file: magic is not 'GGUF'");
  if (!c.Read(&version_)) return Corruption("truncated header (version)");
  if (version_ != 2 && version_ != 3) {
    // A big-endian file reads as a byte-swapped version.
    if (version_ == 0x02000000u || version_ == 0x03000000u) return Unsupported("big-endian GGUF files are not supported");
    return Unsupported("GGUF version {} (gorae reads versions 2 and 3)", version_);
  }
  uint64_t n_tensors, n_kv;
  if (!c.Read(&n_tensors) || !c.Read(&n_kv)) return Corruption("truncated header (counts)");
  // Smallest encodings: a kv is key length (8) + type (4) + a 1-byte value; a tensor info is name
  // length (8) + n_dims (4) + one dim (8) + type (4) + offset (8). Counts beyond what the file
  // could hold are corrupt, and checking first keeps the reservations below bounded by file size.
  if (n_kv > c.left() / 13) return Corruption("metadata count {} does not fit in a file of {} bytes", n_kv, file_->size());
  if (n_tensors > c.left() / 32) return Corruption("tensor count {} does not fit in a file of {} bytes", n_tensors, file_->size());

  key_order_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string_view key;
    if (!c.ReadString(&key)) return Corruption("truncated metadata: key {} of {}", i, n_kv);
    const std::string k(key);
    uint32_t type;
    if (!c.Read(&type)) return Corruption("key '{}': truncated value type", Printable(k));
    if (!KnownType(type)) return Corruption("key '{}': unknown value type {}", Printable(k), type);
    GgufValue v;
    v.type = static_cast<GgufType>(type);
    if (v.type == GgufType::kArray) {
      uint32_t et;
      if (!c.Read(&et) || !c.Read(&v.count)) return Corruption("key '{}': truncated array header", Printable(k));
      if (!KnownType(et)) return Corruption("key '{}': array of unknown type {}", Printable(k), et);
      v.elem_type = static_cast<GgufType>(et);
      if (v.elem_type == GgufType::kArray) return Unsupported("key '{}': arrays of arrays are not supported", Printable(k));
      v.offset = c.pos();
      if (v.elem_type == GgufType::kString) {
        if (v.count > c.left() / 8) return Corruption("key '{}': {} strings do not fit in the file", Printable(k), v.count);
        for (uint64_t j = 0; j < v.count; ++j) {
          std::string_view s;
          if (!c.ReadString(&s)) return Corruption("key '{}': truncated string {} of {}", Printable(k), j, v.count);
        }
      } else {
        const size_t es = ScalarSize(v.elem_type);
        if (v.count > c.left() / es) return Corruption("key '{}': {} elements of {} do not fit in the file", Printable(k), v.count, GgufTypeName(v.elem_type));
        c.Skip(v.count * es);
      }
    } else {
      v.offset = c.pos();
      if (v.type == GgufType::kString) {
        std::string_view s;
        if (!c.ReadString(&s)) return Corruption("key '{}': truncated string", Printable(k));
      } else if (!c.Skip(ScalarSize(v.type))) {
        return Corruption("key '{}': truncated {}", Printable(k), GgufTypeName(v.type));
      }
      if (v.type == GgufType::kBool && file_->data()[v.offset] > 1) return Corruption("key '{}': bool value {}", Printable(k), file_->data()[v.offset]);
    }
    if (!kv_.emplace(k, v).second) return Corruption("duplicate key '{}'", Printable(k));
    key_order_.push_back(k);
  }

  if (const GgufValue* a = Find("general.alignment")) {
    if (a->type != GgufType::kU32) return Corruption("key 'general.alignment': type {}, expected u32", GgufTypeName(a->type));
    alignment_ = Load<uint32_t>(file_->data() + a->offset);
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) return Corruption("key 'general.alignment': {} is not a power of two", alignment_);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    std::string_view name;
    if (!c.ReadString(&name)) return Corruption("truncated tensor info {} of {}", i, n_tensors);
    GgufTensor t;
    t.name = std::string(name);
    const std::string shown = Printable(t.name);
    uint32_t n_dims;
    if (!c.Read(&n_dims)) return Corruption("tensor '{}': truncated info", shown);
    if (n_dims == 0 || n_dims > kMaxDims) return Corruption("tensor '{}': {} dimensions (1 to {} allowed)", shown, n_dims, kMaxDims);
    t.n_dims = static_cast<int>(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne;
      if (!c.Read(&ne)) return Corruption("tensor '{}': truncated info", shown);
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || (ne != 0 && numel > std::numeric_limits<uint64_t>::max() / 2 / ne))
        return Corruption("tensor '{}': dimension {} = {} overflows", shown, d, ne);
      t.ne[d] = static_cast<int64_t>(ne);
      numel *= ne;
    }
    uint32_t type;
    if (!c.Read(&type) || !c.Read(&t.offset)) return Corruption("tensor '{}': truncated info", shown);
    const GgmlTypeInfo info = GetGgmlTypeInfo(type);
    if (info.name == nullptr) return Unsupported("tensor '{}': unknown ggml type {}", shown, type);
    t.type = static_cast<GgmlType>(type);
    if (t.ne[0] % info.block_elems != 0)
      return Corruption("tensor '{}': ne[0] = {} is not a multiple of the {} block size {}", shown, t.ne[0], info.name, info.block_elems);
    const uint64_t blocks = numel / static_cast<uint64_t>(info.block_elems);
    if (blocks > std::numeric_limits<uint64_t>::max() / info.block_bytes) return Corruption("tensor '{}': size overflows", shown);
    t.nbytes = static_cast<size_t>(blocks * info.block_bytes);
    if (t.offset % alignment_ != 0) return Corruption("tensor '{}': offset {} is not a multiple of the alignment {}", shown, t.offset, alignment_);
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) return Corruption("duplicate tensor '{}'", shown);
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t data_size = data_start <= file_->size() ? file_->size() - data_start : 0;
  for (GgufTensor& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      return Corruption("tensor '{}' ({} {}, {} bytes at data offset {}) runs past the end of the file ({} data bytes): truncated?",
                        Printable(t.name), GgmlTypeName(t.type), t.ShapeString(), t.nbytes, t.offset, data_size);
    }
    t.data = file_->data() + data_start + t.offset;
  }
  return Status::Ok();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

Result<const GgufValue*> GgufFile::Expect(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return NotFound("{}: no metadata key '{}'", path(), key);
  return v;
}

Status GgufFile::TypeError(std::string_view key, const GgufValue& v, const char* wanted) const {
  std::string has = GgufTypeName(v.type);
  if (v.type == GgufType::kArray) has += std::string(" of ") + GgufTypeName(v.elem_type);
  return InvalidArgument("{}: key '{}' has type {}, expected {}", path(), key, has, wanted);
}

std::string_view GgufFile::StringAt(size_t offset) const {
  const uint64_t len = Load<uint64_t>(file_->data() + offset);
  return {reinterpret_cast<const char*>(file_->data() + offset + 8), static_cast<size_t>(len)};
}

namespace {
// Reads an integer scalar of type t at p, widened. u64 values above INT64_MAX come back through
// *big so that range checks see them.
int64_t LoadInteger(GgufType t, const uint8_t* p, uint64_t* big) {
  *big = 0;
  switch (t) {
    case GgufType::kU8: case GgufType::kBool: return Load<uint8_t>(p);
    case GgufType::kI8: return Load<int8_t>(p);
    case GgufType::kU16: return Load<uint16_t>(p);
    case GgufType::kI16: return Load<int16_t>(p);
    case GgufType::kU32: return Load<uint32_t>(p);
    case GgufType::kI32: return Load<int32_t>(p);
    case GgufType::kI64: return Load<int64_t>(p);
    case GgufType::kU64: {
      const uint64_t v = Load<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) *big = v;
      return static_cast<int64_t>(v);
    }
    default: return 0;
  }
}
}  // namespace

Result<int64_t> GgufFile::GetInteger(std::string_view key, int64_t lo, uint64_t hi) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (!IsInteger(v->type)) return TypeError(key, *v, "an integer");
  uint64_t big;
  const int64_t x = LoadInteger(v->type, file_->data() + v->offset, &big);
  if (big != 0 || x < lo || (x > 0 && static_cast<uint64_t>(x) > hi)) {
    return InvalidArgument("{}: key '{}' = {} is out of range", path(), key, big ? std::to_string(big) : std::to_string(x));
  }
  return x;
}

Result<std::string> GgufFile::GetString(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type != GgufType::kString) return TypeError(key, *v, "string");
  return std::string(StringAt(v->offset));
}

Result<uint32_t> GgufFile::GetU32(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(int64_t x, GetInteger(key, 0, std::numeric_limits<uint32_t>::max()));
  return static_cast<uint32_t>(x);
}
Result<int32_t> GgufFile::GetI32(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(int64_t x, GetInteger(key, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
  return static_cast<int32_t>(x);
}
Result<int64_t> GgufFile::GetI64(std::string_view key) const {
  return GetInteger(key, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
}
Result<uint64_t> GgufFile::GetU64(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type == GgufType::kU64) return Load<uint64_t>(file_->data() + v->offset);
  GORAE_ASSIGN_OR_RETURN(int64_t x, GetInteger(key, 0, std::numeric_limits<uint64_t>::max()));
  return static_cast<uint64_t>(x);
}

Result<double> GgufFile::GetF64(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type == GgufType::kF32) return static_cast<double>(Load<float>(file_->data() + v->offset));
  if (v->type == GgufType::kF64) return Load<double>(file_->data() + v->offset);
  return TypeError(key, *v, "f32 or f64");
}
Result<float> GgufFile::GetF32(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(double x, GetF64(key));
  return static_cast<float>(x);
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type != GgufType::kBool) return TypeError(key, *v, "bool");
  return file_->data()[v->offset] != 0;
}

Result<uint64_t> GgufFile::ArrayLength(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type != GgufType::kArray) return TypeError(key, *v, "array");
  return v->count;
}

Result<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) return TypeError(key, *v, "array of string");
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(v->count));  // bounded by the file size at parse time
  size_t off = v->offset;
  for (uint64_t i = 0; i < v->count; ++i) {
    const std::string_view s = StringAt(off);
    out.emplace_back(s);
    off += 8 + s.size();
  }
  return out;
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type != GgufType::kArray || !(IsInteger(v->elem_type) || v->elem_type == GgufType::kBool))
    return TypeError(key, *v, "array of integers");
  const size_t es = ScalarSize(v->elem_type);
  std::vector<int64_t> out(static_cast<size_t>(v->count));
  for (uint64_t i = 0; i < v->count; ++i) {
    uint64_t big;
    out[i] = LoadInteger(v->elem_type, file_->data() + v->offset + i * es, &big);
    if (big != 0) return InvalidArgument("{}: key '{}' element {} = {} does not fit int64", path(), key, i, big);
  }
  return out;
}

Result<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  GORAE_ASSIGN_OR_RETURN(const GgufValue* v, Expect(key));
  if (v->type != GgufType::kArray || (v->elem_type != GgufType::kF32 && v->elem_type != GgufType::kF64))
    return TypeError(key, *v, "array of f32");
  std::vector<float> out(static_cast<size_t>(v->count));
  const uint8_t* p = file_->data() + v->offset;
  for (uint64_t i = 0; i < v->count; ++i) {
    out[i] = v->elem_type == GgufType::kF32 ? Load<float>(p + 4 * i) : static_cast<float>(Load<double>(p + 8 * i));
  }
  return out;
}

const GgufTensor* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<const GgufTensor*> GgufFile::Tensor(std::string_view name) const {
  const GgufTensor* t = FindTensor(name);
  if (t == nullptr) return NotFound("{}: no tensor '{}'", path(), name);
  return t;
}

Result<QuantMatrix> GgufFile::Matrix(std::string_view name) const {
  GORAE_ASSIGN_OR_RETURN(const GgufTensor* t, Tensor(name));
  if (t->n_dims != 2) return InvalidArgument("{}: tensor '{}' has shape {}, expected 2 dimensions", path(), name, t->ShapeString());
  if (!GetGgmlTypeInfo(t->type).computable)
    return Unsupported("{}: tensor '{}' has type {}, which gorae cannot compute with yet", path(), name, GgmlTypeName(t->type));
  return QuantMatrix{t->type, t->ne[1], t->ne[0], t->data};
}

}  // namespace gorae
