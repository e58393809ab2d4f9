// `gorae convert` in both directions: a Hugging Face model directory -> GGUF (llama.cpp's names
// and keys, model/gguf_model.h's ConvertToGguf), and GGUF -> a Hugging Face directory.
//
// The model layer knows no tokenizer: the CLI adds the tokenizer keys through
// HfToGgufOptions::add_metadata and writes tokenizer.json beside a converted-back model
// (tokenizer/gguf_tokenizer.h).
#pragma once

#include <functional>
#include <string>

#include "core/status.h"
#include "io/gguf.h"
#include "model/config.h"
#include "tensor/dtype.h"

namespace gorae {

struct HfToGgufOptions {
  GgmlType type = GgmlType::kF16;  // matrices: F32, F16, Q8_0, Q4_0, Q4_K, Q6_K
  // Called after the model's metadata and tensors are added, before the file is written; keys it
  // sets replace the model's (e.g. tokenizer.ggml.bos_token_id). May be empty.
  std::function<Status(const ModelConfig&, GgufWriter&)> add_metadata;
};

// ConvertToGguf of gguf_model.h with extra metadata. Returns the same summary.
Result<std::string> ConvertToGguf(const std::string& model_dir, const std::string& out, const HfToGgufOptions& options);

// Writes the model of a GGUF file (llama, qwen2, deepseek2; any type gorae reads) as a Hugging
// Face directory: out_dir/config.json and out_dir/model.safetensors with every tensor under
// its Hugging Face name, dequantized to `dtype` (F32 or BF16); llama's q/k rows back in HF order.
// Files with llama3 rope scaling (tensor rope_freqs.weight) are Unsupported: config.json's
// rope_scaling cannot be recovered from the divisors. The whole model is held in memory.
// Returns a summary: "llama, 12 tensors, F32".
Result<std::string> ConvertGgufToHf(const std::string& gguf_path, const std::string& out_dir, DType dtype);

}  // namespace gorae
