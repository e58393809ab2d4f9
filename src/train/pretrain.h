// `gorae pretrain`: the pretraining loop.
//
// Per step: `accum` micro-batches of B random windows of T + 1 tokens, forward + backward
// (gradients of loss / accum accumulate), global-norm clipping, AdamW with the scheduled
// learning rate, then the aux-loss-free router-bias update from the step's expert loads.
// Every step appends one JSON line to OUT/metrics.jsonl; validation loss (main next-token CE on
// the held-out shard) every eval_every steps and at the end; checkpoints (OUT/checkpoint,
// see checkpoint.h) every save_every steps and at the end; OUT/loss.svg plots the curves.
//
// Under mpirun -np N, each rank runs its rows of every global micro-batch (data_parallel.h); rank
// 0 alone prints and writes OUT. OUT must be on a filesystem every rank sees.
//
// --resume continues from OUT/checkpoint with the options saved there (only steps may grow):
// parameters, AdamW moments, the data RNG and the router biases are restored, so the loss curve
// equals that of an uninterrupted run. A NaN/inf loss stops the run before the update, leaving
// the last checkpoint as it was.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "train/data_parallel.h"
#include "train/optimizer.h"

namespace gorae::train {

struct PretrainOptions {
  std::string config = "tiny";  // preset (tiny, small, v2-lite, v3) or config.json path
  int64_t layers = 0;           // override num_hidden_layers (0: keep)
  int64_t moe_nodes = 0;        // > 0: node-limited routing over this many nodes (ModelConfig::moe_nodes)
  int64_t moe_node_limit = 0;   // nodes a token may reach
  std::string tokenizer_dir;
  std::vector<std::string> data;
  int64_t synthetic = 0;        // > 0: train on this many built-in reasoning documents
  std::string out;
  int64_t steps = 100;
  bool resume = false;
  uint64_t seed = 1;
  int64_t batch = 8;            // sequences per micro-batch
  int64_t seq = 64;             // tokens per sequence
  int64_t accum = 1;            // micro-batches per step
  double lr = 3e-3;
  double min_lr_ratio = 0.1;
  int64_t warmup = -1;          // -1: 5% of steps
  std::string schedule = "cosine";
  double wsd_decay_fraction = 0.2;
  AdamWOptions adamw;
  double clip = 1.0;            // global gradient norm (0: off)
  int64_t mtp_depth = -1;       // -1: the config file's num_nextn_predict_layers, or 1 for presets
  double mtp_lambda = 0.3;
  double bias_gamma = 1e-3;     // aux-loss-free bias step (0: off)
  double balance_alpha = 1e-4;  // sequence-wise balance loss (0: off)
  int64_t eval_every = 25;
  int64_t eval_batches = 8;
  int64_t save_every = 100;
  double val_fraction = 0.05;
  int threads = 0;
  ParallelOptions parallel;     // under mpirun: ZeRO stage, bucket size (any value on resume)
  bool progress = true;
  int64_t stop_after = 0;       // > 0: stop (with a checkpoint) after this many steps this run

  nlohmann::json ToJson() const;
  // `where` names the object in errors ("DIR/trainer_state.json: options").
  static Result<PretrainOptions> FromJson(const nlohmann::json& j, std::string_view where);
};

Status RunPretrain(const PretrainOptions& options);

}  // namespace gorae::train
