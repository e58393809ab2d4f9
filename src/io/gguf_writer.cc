// GGUF writer (version 3): metadata entries are encoded as they are set; Write lays out the tensor
// infos with aligned offsets, then streams header, metadata, infos, padding and tensor bytes to a
// temporary file that is renamed over the destination only once everything is written.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "io/gguf.h"

namespace gorae {

namespace {

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void PutString(std::string* out, const std::string& s) {
  Put<uint64_t>(out, s.size());
  out->append(s);
}
template <typename T>
std::string Scalar(GgufType type, T v) {
  std::string out;
  Put<uint32_t>(&out, static_cast<uint32_t>(type));
  Put<T>(&out, v);
  return out;
}

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void GgufWriter::SetRaw(const std::string& key, std::string encoded) {
  for (Entry& e : entries_) {
    if (e.key == key) {  // setting a key again replaces its value, keeping its position
      e.bytes = std::move(encoded);
      return;
    }
  }
  entries_.push_back({key, std::move(encoded)});
}

void GgufWriter::SetU8(const std::string& k, uint8_t v) { SetRaw(k, Scalar(GgufType::kU8, v)); }
void GgufWriter::SetI8(const std::string& k, int8_t v) { SetRaw(k, Scalar(GgufType::kI8, v)); }
void GgufWriter::SetU16(const std::string& k, uint16_t v) { SetRaw(k, Scalar(GgufType::kU16, v)); }
void GgufWriter::SetI16(const std::string& k, int16_t v) { SetRaw(k, Scalar(GgufType::kI16, v)); }
void GgufWriter::SetU32(const std::string& k, uint32_t v) { SetRaw(k, Scalar(GgufType::kU32, v)); }
void GgufWriter::SetI32(const std::string& k, int32_t v) { SetRaw(k, Scalar(GgufType::kI32, v)); }
void GgufWriter::SetU64(const std::string& k, uint64_t v) { SetRaw(k, Scalar(GgufType::kU64, v)); }
void GgufWriter::SetI64(const std::string& k, int64_t v) { SetRaw(k, Scalar(GgufType::kI64, v)); }
void GgufWriter::SetF32(const std::string& k, float v) { SetRaw(k, Scalar(GgufType::kF32, v)); }
void GgufWriter::SetF64(const std::string& k, double v) { SetRaw(k, Scalar(GgufType::kF64, v)); }
void GgufWriter::SetBool(const std::string& k, bool v) { SetRaw(k, Scalar(GgufType::kBool, static_cast<uint8_t>(v))); }

void GgufWriter::SetString(const std::string& k, const std::string& v) {
  std::string out;
  Put<uint32_t>(&out, static_cast<uint32_t>(GgufType::kString));
  PutString(&out, v);
  SetRaw(k, std::move(out));
}

void GgufWriter::SetStringArray(const std::string& k, const std::vector<std::string>& v) {
  std::string out;
  Put<uint32_t>(&out, static_cast<uint32_t>(GgufType::kArray));
  Put<uint32_t>(&out, static_cast<uint32_t>(GgufType::kString));
  Put<uint64_t>(&out, v.size());
  for (const std::string& s : v) PutString(&out, s);
  SetRaw(k, std::move(out));
}

void GgufWriter::SetIntArray(const std::string& k, GgufType et, const std::vector<int64_t>& v) {
  std::string out;
  Put<uint32_t>(&out, static_cast<uint32_t>(GgufType::kArray));
  Put<uint32_t>(&out, static_cast<uint32_t>(et));
  Put<uint64_t>(&out, v.size());
  for (int64_t x : v) {
    switch (et) {
      case GgufType::kU8: case GgufType::kBool: Put<uint8_t>(&out, static_cast<uint8_t>(x)); break;
      case GgufType::kI8: Put<int8_t>(&out, static_cast<int8_t>(x)); break;
      case GgufType::kU16: Put<uint16_t>(&out, static_cast<uint16_t>(x)); break;
      case GgufType::kI16: Put<int16_t>(&out, static_cast<int16_t>(x)); break;
      case GgufType::kU32: Put<uint32_t>(&out, static_cast<uint32_t>(x)); break;
      case GgufType::kI32: Put<int32_t>(&out, static_cast<int32_t>(x)); break;
      case GgufType::kU64: Put<uint64_t>(&out, static_cast<uint64_t>(x)); break;
      default: Put<int64_t>(&out, x); break;
    }
  }
  SetRaw(k, std::move(out));
}

void GgufWriter::SetF32Array(const std::string& k, const std::vector<float>& v) {
  std::string out;
  Put<uint32_t>(&out, static_cast<uint32_t>(GgufType::kArray));
  Put<uint32_t>(&out, static_cast<uint32_t>(GgufType::kF32));
  Put<uint64_t>(&out, v.size());
  for (float x : v) Put<float>(&out, x);
  SetRaw(k, std::move(out));
}

void GgufWriter::SetAlignment(uint32_t alignment) {
  alignment_ = alignment;
  SetU32("general.alignment", alignment);
}

Status GgufWriter::AddTensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                             const void* data, size_t nbytes) {
  const GgmlTypeInfo info = GetGgmlTypeInfo(type);
  if (info.name == nullptr) return InvalidArgument("tensor '{}': unknown ggml type {}", name, static_cast<uint32_t>(type));
  if (ne.empty() || ne.size() > 4) return InvalidArgument("tensor '{}': {} dimensions (1 to 4 allowed)", name, ne.size());
  int64_t numel = 1;
  for (int64_t d : ne) {
    if (d < 0) return InvalidArgument("tensor '{}': negative dimension {}", name, d);
    numel *= d;
  }
  if (ne[0] % info.block_elems != 0)
    return InvalidArgument("tensor '{}': ne[0] = {} is not a multiple of the {} block size {}", name, ne[0], info.name, info.block_elems);
  const size_t expected = static_cast<size_t>(numel / info.block_elems) * info.block_bytes;
  if (nbytes != expected) return InvalidArgument("tensor '{}': {} bytes given, {} {} elements take {}", name, nbytes, numel, info.name, expected);
  for (const PendingTensor& t : tensors_) {
    if (t.name == name) return InvalidArgument("tensor '{}' added twice", name);
  }
  tensors_.push_back({name, type, ne, data, nbytes});
  return Status::Ok();
}

Status GgufWriter::Write(const std::string& path) const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) return InvalidArgument("{}: alignment {} is not a power of two", path, alignment_);
  std::string head;
  head.append("GGUF", 4);
  Put<uint32_t>(&head, 3);
  Put<uint64_t>(&head, tensors_.size());
  Put<uint64_t>(&head, entries_.size());
  for (const Entry& e : entries_) {
    PutString(&head, e.key);
    head.append(e.bytes);
  }
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  for (const PendingTensor& t : tensors_) {
    PutString(&head, t.name);
    Put<uint32_t>(&head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) Put<uint64_t>(&head, static_cast<uint64_t>(d));
    Put<uint32_t>(&head, static_cast<uint32_t>(t.type));
    Put<uint64_t>(&head, data_bytes);
    offsets.push_back(data_bytes);
    data_bytes = AlignUp(data_bytes + t.nbytes, alignment_);
  }
  head.resize(AlignUp(head.size(), alignment_), '\0');

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return IOError("cannot create '{}': {}", tmp, std::strerror(errno));
  bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size();
  static const char kZeros[256] = {};
  uint64_t pos = 0;
  for (size_t i = 0; ok && i < tensors_.size(); ++i) {
    const PendingTensor& t = tensors_[i];
    ok = t.nbytes == 0 || std::fwrite(t.data, 1, t.nbytes, f) == t.nbytes;
    pos = offsets[i] + t.nbytes;
    for (uint64_t pad = AlignUp(pos, alignment_) - pos; ok && pad > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(pad, sizeof(kZeros)));
      ok = std::fwrite(kZeros, 1, n, f) == n;
      pad -= n;
    }
  }
  const int write_errno = errno;
  ok = (std::fflush(f) == 0) && ok;
  ok = (::fsync(::fileno(f)) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return IOError("cannot write '{}': {}", tmp, std::strerror(write_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    return IOError("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace gorae
