#include "train/block_train.h"

#include "train/ops.h"

namespace gorae::train {

void BlockTrainForward(float* h, BlockActs& a, const LayerWeights& w, const ModelConfig& c, const RopeCache& rope,
                       int64_t B, int64_t T, double alpha, MoeStats* stats, double* balance_loss,
                       const ExpertShard& ep) {
  const int64_t N = B * T, D = c.hidden_size;
  const size_t nd = static_cast<size_t>(N * D);
  const float eps = static_cast<float>(c.rms_norm_eps);
  std::vector<float> y(nd);  // (N, hidden) sub-layer output
  a.h_in.assign(h, h + nd);
  a.x1.resize(nd);
  a.rstd1.resize(static_cast<size_t>(N));
  RmsNormForward(a.x1.data(), a.rstd1.data(), h, w.input_norm.data(), N, D, eps);
  MlaTrainForward(y.data(), a.attn, a.x1.data(), w.attn, c, rope, B, T);
  Accumulate(h, y.data(), N * D);
  a.h_mid.assign(h, h + nd);
  a.x2.resize(nd);
  a.rstd2.resize(static_cast<size_t>(N));
  RmsNormForward(a.x2.data(), a.rstd2.data(), h, w.post_norm.data(), N, D, eps);
  if (w.is_moe) {
    MoeTrainForward(y.data(), a.moe, *stats, balance_loss, a.x2.data(), w.moe, c, B, T, alpha, ep);
  } else {
    MlpTrainForward(y.data(), a.mlp, a.x2.data(), w.mlp, N);
  }
  Accumulate(h, y.data(), N * D);
}

void BlockTrainBackward(float* d_h, LayerWeights& g, const BlockActs& a, const LayerWeights& w,
                        const ModelConfig& c, const RopeCache& rope, int64_t B, int64_t T, double alpha,
                        double loss_scale, const ExpertShard& ep) {
  const int64_t N = B * T, D = c.hidden_size;
  std::vector<float> d_x(static_cast<size_t>(N * D));  // (N, hidden) gradient wrt a norm's output
  if (w.is_moe) {
    MoeTrainBackward(d_x.data(), g.moe, d_h, a.moe, a.x2.data(), w.moe, c, B, T, alpha, loss_scale, ep);
  } else {
    MlpTrainBackward(d_x.data(), g.mlp, d_h, a.mlp, a.x2.data(), w.mlp, N, /*accumulate_d_x=*/false);
  }
  // Residual: d_h already holds d h_mid's direct part; add the path through the norm.
  RmsNormBackward(d_h, g.post_norm.data(), d_x.data(), a.h_mid.data(), w.post_norm.data(), a.rstd2.data(), N, D,
                  /*accumulate_d_x=*/true);
  MlaTrainBackward(d_x.data(), g.attn, d_h, a.attn, a.x1.data(), w.attn, c, rope, B, T);
  RmsNormBackward(d_h, g.input_norm.data(), d_x.data(), a.h_in.data(), w.input_norm.data(), a.rstd1.data(), N, D,
                  /*accumulate_d_x=*/true);
}

}  // namespace gorae::train
