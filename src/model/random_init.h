// Writes a model directory with random weights: config.json + model.safetensors in the
// Hugging Face layout. For tests, benchmarks at real layer shapes, and pretraining from scratch.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/config.h"
#include "tensor/dtype.h"

namespace gorae {

// config.json for a config (only the fields gorae reads, with their HF names).
nlohmann::ordered_json ModelConfigToJson(const ModelConfig& c);

// Matrices are uniform with std 1/sqrt(in_features) (embedding: std 1), norms 1 +- 0.1, router
// biases +- 0.1. Matrices are stored in `dtype`; with F8_E4M3 they get 128x128 block scales and
// vectors are stored as BF16 (the DeepSeek-V3 release's layout). Writes atomically per file.
Status WriteRandomModel(const std::string& dir, const ModelConfig& config, DType dtype, uint64_t seed);

}  // namespace gorae
