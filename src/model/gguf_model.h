// GGUF models as llama.cpp's convert_hf_to_gguf.py writes them: architectures `llama`, `qwen2`
// and `deepseek2`. The metadata becomes a ModelConfig; the tensors are bound through weights.cc's
// name table (VisitWeights), each Hugging Face name translated to its GGUF name here, so there is
// still one list of the tensors a config needs. Quantized matrices are used in place in the
// mapping (Matrix::quant); see docs/gguf.md.
//
// llama.cpp's conventions that differ from Hugging Face's, and what gorae does with them:
// - `llama`: the converter permutes the rows of attn_q / attn_k (and their biases) within each
//   head so that ggml's interleaved RoPE equals HF's rotate-half. gorae runs rotate-half, so the
//   loader un-permutes those rows (rows are whole blocks, so this is a copy of row bytes) and the
//   converter permutes them. `qwen2` is not permuted (llama.cpp uses NEOX rope there).
// - llama3 rope scaling is stored as a tensor `rope_freqs.weight` (one divisor per frequency),
//   not as metadata: GgufModel::rope_freq_factors.
// - MoE experts are 3-D tensors (ffn_gate_exps: ne = [hidden, moe_inter, experts]); expert e is
//   a slice of it, still in place.
// - deepseek2 `attn_kv_b`: newer converters replace it by attn_k_b (per head, transposed) and
//   attn_v_b; the loader then rebuilds kv_b in fp32 from those two.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/gguf.h"
#include "model/config.h"
#include "model/weights.h"

namespace gorae {

struct GgufModel {
  std::unique_ptr<GgufFile> file;
  ModelConfig config;
  ModelWeights weights;                  // matrices point into `file`, `owned` or `repacked`
  std::vector<float> rope_freq_factors;  // (rope_dim / 2) divisors of inv_freq; empty if none
  std::deque<std::vector<uint8_t>> owned;  // re-ordered q/k rows, rebuilt kv_b (stable addresses)
  std::vector<std::unique_ptr<uint8_t[]>> repacked;  // matrices in the kernels' layout (kForKernels)
  size_t repacked_bytes = 0;
};

// What the loader does with the layout of quantized matrices.
enum class GgufLayout {
  // Every matrix as the file stores it (QuantLayout::kGgml): for reading the weights back out
  // (gorae convert) and for tests that decode them.
  kAsStored,
  // For inference: each K-quant matrix that only Linear reads is copied, once, into the layout the
  // current SIMD level multiplies fastest (FastestLayout, kernels/cpu/quant_dot.h), and its file
  // pages are released (madvise) so memory does not double. The embedding (row lookups) and kv_b
  // (decoded to fp32) stay as stored; a tied lm_head gets its own copy beside the embedding.
  kForKernels,
};

// Opens, reads the config, binds every tensor (declared shapes checked). Errors name the file
// and the key or tensor; an unknown architecture or a type without kernels is Unsupported.
Result<std::unique_ptr<GgufModel>> LoadGgufModel(const std::string& path, GgufLayout layout = GgufLayout::kAsStored);

// The llama.cpp architecture name for a config: "llama", "qwen2" or "deepseek2".
const char* GgufArchitecture(const ModelConfig& c);

// A Hugging Face tensor name as llama.cpp names it. Expert tensors of MoE layers live in one 3-D
// tensor per layer and projection; `expert` is then their index in it, else -1.
struct GgufTensorName {
  std::string name;
  int64_t expert = -1;
};
Result<GgufTensorName> HfToGgufName(const std::string& hf_name);

// Writes the Hugging Face model in model_dir as a GGUF file at `out` (atomically), matrices in
// `type` (F32, F16, Q8_0, Q4_0, Q4_K, Q6_K; rows not a multiple of its block fall back to Q8_0,
// then F16; vectors and the MoE router stay F32). Returns a summary: "llama, 7 F32, 12 Q8_0".
// Configs llama.cpp's keys cannot express (moe_layer_freq != 1, YaRN mscale != mscale_all_dim)
// are Unsupported errors.
Result<std::string> ConvertToGguf(const std::string& model_dir, const std::string& out, GgmlType type);

// llama.cpp's row order for llama's q/k projections (rows = heads * head_dim, any row width in
// bytes): within each head, row 2j + s of the GGUF tensor is row s * head_dim/2 + j of HF's.
// `to_gguf` false applies the inverse. Works on weights (row_bytes = a row) and biases (4 bytes).
void PermuteLlamaRows(const uint8_t* src, uint8_t* dst, int64_t heads, int64_t head_dim, size_t row_bytes,
                      bool to_gguf);

}  // namespace gorae
