// Safetensors checkpoints, memory-mapped.
//
// File layout (https://github.com/huggingface/safetensors, little-endian):
//   u64 N                       length of the JSON header
//   N bytes of JSON             {"name": {"dtype": "BF16", "shape": [r, c], "data_offsets": [b, e]},
//                                ..., "__metadata__": {...}}   (offsets relative to the data section)
//   data section                the tensors' raw bytes
//
// A model directory holds either one `model.safetensors` or shards listed by
// `model.safetensors.index.json` ({"weight_map": {"tensor name": "shard file"}}).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/mapped_file.h"
#include "tensor/dtype.h"

namespace gorae {

struct TensorView {
  std::string name;
  std::string dtype_name;       // as written in the file ("BF16", "F8_E4M3", "I64", ...)
  bool dtype_known = false;     // dtype_name is one of gorae's DTypes
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  const std::string* file = nullptr;  // path of the file holding it (for error messages)

  int64_t numel() const;
  std::string ShapeString() const;
};

class SafetensorsFile {
 public:
  // Maps the file and validates its header: sizes, offsets inside the file, dtype * shape ==
  // byte length. Errors name the file and the tensor.
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::string& path() const { return file_->path(); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
};

// All tensors of a model directory (single file or sharded).
class Checkpoint {
 public:
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& model_dir);

  // nullptr if absent.
  const TensorView* Find(const std::string& name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return index_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

// Writes tensors (all F32/BF16/F16/F8_E4M3 payloads given as raw bytes) to `path` atomically:
// a temporary file in the same directory, then rename.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;  // numel * DTypeSize(dtype) bytes
};
Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors);

}  // namespace gorae
