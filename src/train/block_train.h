// One decoder block for training (main layers and MTP modules alike):
//   h_mid = h_in + MLA(RMSNorm(h_in));  h_out = h_mid + FFN(RMSNorm(h_mid)),  FFN = MLP or MoE.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "train/attention_train.h"
#include "train/ffn_train.h"

namespace gorae::train {

struct BlockActs {
  std::vector<float> h_in;        // (N, hidden)
  std::vector<float> x1, rstd1;   // (N, hidden), (N): input norm
  MlaActs attn;
  std::vector<float> h_mid;       // (N, hidden)
  std::vector<float> x2, rstd2;   // (N, hidden), (N): post-attention norm
  MlpActs mlp;                    // dense layers
  MoeActs moe;                    // MoE layers
};

// h (B*T, hidden) is updated in place from h_in to h_out. For MoE layers the router's
// statistics go to *stats and alpha * balance loss is added to *balance_loss.
void BlockTrainForward(float* h, BlockActs& acts, const LayerWeights& w, const ModelConfig& c, const RopeCache& rope,
                       int64_t B, int64_t T, double alpha, MoeStats* stats, double* balance_loss,
                       const ExpertShard& ep = {});

// d_h (B*T, hidden): gradient wrt h_out on entry, wrt h_in on return. Weight gradients
// accumulate into g.
void BlockTrainBackward(float* d_h, LayerWeights& g, const BlockActs& acts, const LayerWeights& w,
                        const ModelConfig& c, const RopeCache& rope, int64_t B, int64_t T, double alpha,
                        double loss_scale, const ExpertShard& ep = {});

}  // namespace gorae::train
