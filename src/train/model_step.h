// The whole model's training forward and backward for one micro-batch:
//
//   h = embed(tokens); h = block_l(h) for l < L;                        main model
//   loss_main = CE(lm_head(RMSNorm(h)), next tokens; mask)
//   MTP module k = 1..D (DeepSeek-V3 sec. 2.2), on positions t < T - k:
//     h_k = block_{L+k-1}(eh_proj [enorm(embed(x_{t+k})) | hnorm(h_{k-1}[t])])
//     loss_k = CE(lm_head(shared_head.norm(h_k)), x_{t+k+1}; mask)
//   (embedding and lm_head shared with the main model; the concatenation order, embedding first,
//   is that of the inference code that runs the released V3 MTP weights, e.g. vLLM.)
//   loss = loss_main + lambda / D * sum_k loss_k + alpha * sum_{MoE blocks} balance loss
//
// The cross-entropy is fused with the output head and run in row chunks, so the (tokens,
// vocab) logits are never held at once. Backward mirrors the forward: MTP modules from the
// deepest down (each hands a gradient to the previous depth's hidden state), then the main
// blocks from the top. Parameter gradients accumulate (so micro-batches add up).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/status.h"
#include "train/block_train.h"
#include "train/train_model.h"

namespace gorae::train {

// Fills the loss weights of rows [row0, row0 + n) of the main model's targets from their logits
// (n, vocab), which it may rescale in place (e.g. by 1 / temperature; the weights must then carry
// the chain-rule factor). `weights` arrives holding the batch mask of those rows.
using TokenWeightFn = std::function<void(int64_t row0, int64_t n, float* logits, float* weights)>;

struct Objective {
  double mtp_lambda = 0.3;     // weight of the MTP losses (their mean over depths); 0 skips the MTP modules
  double balance_alpha = 0.0;  // sequence-wise balance loss coefficient (0: off)
  // Policy-gradient objectives (GRPO): when set, the main term is sum_n weight_n * CE_n with the
  // weights from this callback, called once per chunk of rows in order, before that chunk's
  // backward; it is not divided by the mask sum (the weights carry any normalisation). So a
  // callback returning -dL/dlogp(target_n) makes the gradients those of L.
  TokenWeightFn token_weights;
  // A data-parallel rank runs its rows of a global micro-batch: when > 0, the main CE (and each
  // MTP depth's CE) is divided by these global counts of weighted targets instead of the rows'
  // own, so the ranks' losses and gradients add up to the global batch's (data_parallel.h).
  double main_denominator = 0.0;
  std::vector<double> mtp_denominators;  // per depth; used when main_denominator > 0
};

struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int> tokens;  // (B, T + 1): inputs are positions [0, T), main targets [1, T + 1)
  std::vector<float> mask;  // (B, T): loss weight of the target of position t (1 counted, 0 masked)
};

struct StepLosses {
  double loss = 0.0;         // the objective (what the gradients are of, before loss_scale)
  double ce = 0.0;           // main next-token cross-entropy, mean over unmasked targets
  std::vector<double> mtp;   // per MTP depth, mean over its unmasked targets
  double balance = 0.0;      // alpha * balance loss, summed over MoE blocks
  int64_t targets = 0;       // unmasked main targets
};

// Workspace for one model's forward/backward (activations are kept between the two).
class ModelStep {
 public:
  explicit ModelStep(TrainModel& model);

  // Forward of one micro-batch; with backward, also the backward: gradients of
  // loss_scale * loss accumulate into the model's grads. Router statistics of each MoE block
  // (MoeBlocks() order) are added to *stats when given. logits_out (B*T, vocab), when given,
  // receives the main model's logits.
  Result<StepLosses> Run(const Batch& batch, const Objective& obj, double loss_scale, bool backward,
                         std::vector<MoeStats>* stats, float* logits_out = nullptr);

  TrainModel& model() const { return model_; }

  // Called during the backward with the index of a block (into params().layers) whose parameter
  // gradients are complete for this micro-batch: MTP blocks from the deepest (with their
  // module's enorm/hnorm/eh_proj), then the main blocks from the top. The embedding, output head
  // and final norm are complete only when Run returns. The data-parallel gradient reducer starts
  // each bucket's all-reduce from here, overlapping it with the rest of the backward.
  void SetBlockDoneHook(std::function<void(int64_t block)> hook) { block_done_ = std::move(hook); }

  // Indices into params().layers of the MoE blocks: main layers first, then MTP blocks.
  const std::vector<int64_t>& MoeBlocks() const { return moe_blocks_; }

 private:
  struct MtpActs {
    std::vector<float> emb, en, en_rstd;   // (Nk, hidden), (Nk, hidden), (Nk)
    std::vector<float> hprev, hn, hn_rstd; // (Nk, hidden), (Nk, hidden), (Nk)
    std::vector<float> cat;                // (Nk, 2 * hidden)
    BlockActs block;
  };
  TrainModel& model_;
  std::vector<int64_t> moe_blocks_;
  std::vector<BlockActs> blocks_;           // main layers
  std::vector<MtpActs> mtp_;                // per depth
  std::vector<std::vector<float>> hidden_;  // depth 0 (main) .. D: final hidden (B*(T-k), hidden)
  std::vector<std::vector<float>> d_hidden_;
  std::function<void(int64_t)> block_done_;
};

}  // namespace gorae::train
