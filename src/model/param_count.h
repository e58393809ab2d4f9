// Parameter counts of a DeepSeek-V2/V3 architecture, from its config alone.
#pragma once

#include <cstdint>

#include "model/config.h"

namespace gorae {

struct ParamCounts {
  int64_t total = 0;       // every weight the forward pass uses (MTP layers excluded)
  int64_t activated = 0;   // per token: all but the routed experts a token does not visit
  int64_t embedding = 0;   // embed_tokens (+ lm_head when untied)
  int64_t attention = 0;   // all layers' MLA
  int64_t dense_mlp = 0;   // dense layers' MLPs
  int64_t routed_experts = 0;
  int64_t shared_experts = 0;
  int64_t routers = 0;     // gate weights and biases
  int64_t norms = 0;
};

ParamCounts CountParams(const ModelConfig& c);

}  // namespace gorae
