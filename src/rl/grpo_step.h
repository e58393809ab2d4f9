// The GRPO update's model side: completions as training sequences, log-probabilities under a
// model (sampling policy, reference), and the forward + backward of the GRPO loss through the
// training engine (ModelStep's per-token weight hook, so the loss is exact and one pass).
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "rl/grpo_loss.h"
#include "train/model_step.h"
#include "train/train_model.h"

namespace gorae::rl {

// One training sequence: prompt + completion, and what the loss needs of its completion tokens.
struct Sequence {
  std::vector<int> tokens;      // prompt + completion
  int64_t prompt_len = 0;
  std::vector<uint8_t> mask;    // per completion token: 1 counts in the loss
  double advantage = 0.0;
  double weight = 0.0;          // aggregation weight of each of its tokens (TokenWeight)
  std::vector<float> old_logp, ref_logp;  // per completion token
};

// Fills s.old_logp (ref false) or s.ref_logp (ref true) of every sequence with the
// log-probabilities log softmax(logits / temperature)[token] of `model` (forward only).
Status RecordLogProbs(train::TrainModel& model, const std::vector<Sequence*>& seqs, int pad_id, double temperature,
                      bool ref);

struct PassStats {
  double loss = 0.0;    // sum of weight * per_token: the loss of the batch once every micro-batch is in
  double kl = 0.0, entropy = 0.0;  // sums over tokens
  int64_t tokens = 0, clipped = 0;
};

// Forward + backward of the GRPO loss over the sequences (one micro-batch): gradients of
// sum_seq weight * sum_tokens per_token accumulate into the model's grads. use_old: the ratio's
// denominator is s.old_logp, else the current log-probability itself (detached: ratio 1, the
// first pass of an on-policy step). use_ref: the KL uses s.ref_logp (needs beta > 0).
Status GrpoForwardBackward(train::ModelStep& runner, const std::vector<Sequence*>& seqs, int pad_id,
                           double temperature, const GrpoLossConfig& lc, bool use_old, bool use_ref,
                           PassStats* stats);

}  // namespace gorae::rl
