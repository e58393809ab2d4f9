#include "io/safetensors.h"

#include "core/atomic_file.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

namespace gorae {

namespace {
using json = nlohmann::json;
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // real headers are < 10 MB
}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::ShapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  GORAE_ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(path));
  const size_t size = mapped->size();
  if (size < 8) return Corruption("'{}': file is {} bytes, too short for a safetensors header", path, size);
  uint64_t header_len;
  std::memcpy(&header_len, mapped->data(), 8);
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return Corruption("'{}': header length {} does not fit in the {}-byte file (truncated or not safetensors)", path,
                      header_len, size);
  }
  const char* header = reinterpret_cast<const char*>(mapped->data() + 8);
  json j = json::parse(header, header + header_len, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corruption("'{}': header is not a JSON object", path);

  auto result = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  const uint8_t* data_begin = mapped->data() + 8 + header_len;
  const size_t data_size = size - 8 - header_len;
  for (auto& [name, info] : j.items()) {
    if (name == "__metadata__") continue;
    auto bad = [&](const std::string& what) { return Corruption("'{}': tensor '{}': {}", path, name, what); };
    if (!info.is_object()) return bad("entry is not an object");
    auto dt = info.find("dtype"), sh = info.find("shape"), off = info.find("data_offsets");
    if (dt == info.end() || !dt->is_string()) return bad("missing or non-string 'dtype'");
    if (sh == info.end() || !sh->is_array()) return bad("missing or non-array 'shape'");
    if (off == info.end() || !off->is_array() || off->size() != 2) return bad("'data_offsets' must be [begin, end]");
    TensorView t;
    t.name = name;
    t.dtype_name = dt->get<std::string>();
    t.dtype_known = ParseDType(t.dtype_name, &t.dtype);
    uint64_t numel = 1;
    for (auto& d : *sh) {
      if (!d.is_number_unsigned()) return bad("shape entries must be non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      // A corrupt header must not overflow the size arithmetic below.
      if (dim > (1ull << 40) || (dim != 0 && numel > (1ull << 50) / dim)) return bad("shape is implausibly large");
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) return bad("offsets must be integers");
    const uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (b > e || e > data_size) {
      return bad(fmt::format("data [{}, {}) lies outside the {}-byte data section (truncated file?)", b, e, data_size));
    }
    t.data = data_begin + b;
    t.nbytes = e - b;
    if (t.dtype_known && static_cast<uint64_t>(t.numel()) * DTypeSize(t.dtype) != t.nbytes) {
      return bad(fmt::format("shape {} of {} needs {} bytes, file has {}", t.ShapeString(), t.dtype_name,
                             t.numel() * DTypeSize(t.dtype), t.nbytes));
    }
    result->tensors_.emplace(name, std::move(t));
  }
  result->file_ = std::move(mapped);
  for (auto& [name, t] : result->tensors_) t.file = &result->file_->path();
  return result;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& model_dir) {
  namespace fs = std::filesystem;
  auto ckpt = std::unique_ptr<Checkpoint>(new Checkpoint());
  ckpt->dir_ = model_dir;
  std::vector<std::string> shard_names;
  const std::string index_path = model_dir + "/model.safetensors.index.json";
  if (fs::exists(index_path)) {
    GORAE_ASSIGN_OR_RETURN(std::string text, ReadTextFile(index_path));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Corruption("'{}': not valid JSON", index_path);
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) return Corruption("'{}': missing object 'weight_map'", index_path);
    std::set<std::string> unique;
    for (auto& [name, file] : wm->items()) {
      if (!file.is_string()) return Corruption("'{}': weight_map['{}'] must be a file name", index_path, name);
      unique.insert(file.get<std::string>());
    }
    shard_names.assign(unique.begin(), unique.end());
  } else if (fs::exists(model_dir + "/model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    if (!fs::is_directory(model_dir)) return NotFound("model directory '{}' does not exist", model_dir);
    return NotFound("'{}' has neither model.safetensors nor model.safetensors.index.json", model_dir);
  }
  for (const auto& shard : shard_names) {
    if (shard.find('/') != std::string::npos) return Corruption("shard name '{}' must be a plain file name", shard);
    GORAE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(model_dir + "/" + shard));
    for (auto& [name, t] : file->tensors()) {
      if (!ckpt->index_.emplace(name, &t).second) {
        return Corruption("tensor '{}' appears in two shards ('{}' and '{}')", name, *ckpt->index_[name]->file,
                          file->path());
      }
    }
    ckpt->files_.push_back(std::move(file));
  }
  return ckpt;
}

const TensorView* Checkpoint::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t n = DTypeSize(t.dtype);
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    header[t.name] = {{"dtype", DTypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // data section 8-byte aligned

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IOError("cannot create '{}'", tmp);
    const uint64_t len = h.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& t : tensors) {
      uint64_t n = DTypeSize(t.dtype);
      for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
      out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(n));
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return IOError("write to '{}' failed (disk full?)", tmp);
    }
  }
  if (Status s = SyncToDisk(tmp); !s.ok()) {
    std::remove(tmp.c_str());
    return s;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return IOError("cannot rename '{}' to '{}'", tmp, path);
  }
  return SyncParentDir(path);
}

}  // namespace gorae
