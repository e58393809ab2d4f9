// Built-in architecture shapes for benchmarks, demos and pretraining from scratch.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"

namespace gorae {

// "tiny": a few hundred thousand parameters (tests, demo); "small": ~50M parameters with V3's
// structure; "v2-lite": DeepSeek-V2-Lite's real layer dimensions (27 layers, 15.7B parameters);
// "v3": DeepSeek-V3's (61 layers, 671B). `layers` > 0 overrides num_hidden_layers (keeping
// V2-Lite's shapes but few layers makes a model that fits in memory).
Result<ModelConfig> PresetConfig(const std::string& name, int64_t layers = 0);
std::vector<std::string> PresetNames();

}  // namespace gorae
