// `gorae grpo`: reinforcement learning with verifiable rewards (the DeepSeek-R1 recipe).
//
// Per step: P problems (from the built-in tasks' train split, or a JSONL file), G completions of
// each sampled by the KV-cached engine from the current policy; each completion is verified
// (reward = accuracy_weight * correct + format_weight * R1 format - step_weight * wrong
// statements, tasks/statements.h); group-relative advantages;
// then mu passes over the batch, each a forward + backward of the GRPO loss (rl/grpo_loss.h) in
// micro-batches and one AdamW update. With beta > 0 a frozen reference model (the starting
// policy, optionally reset to the current one every ref_reset_every steps) supplies the k3 KL
// term. The sampling policy's log-probabilities (the ratio's denominator) are those of the
// parameters that sampled, recomputed by the training forward so that the first pass's ratio is 1.
//
// Dynamic sampling (DAPO, dynamic_sampling = R > 0): a group whose G rewards are all equal has
// zero advantages and teaches nothing, yet costs a forward and backward. Such groups are dropped,
// and further batches of P problems are sampled (at most R batches per step) until P groups with
// differing rewards are kept; the update runs on those alone.
//
// Output in OUT: metrics.jsonl (one line per step: rewards, accuracy, length, KL, clip fraction,
// entropy, speed, and dev-split accuracy when evaluated), grpo.svg (reward and accuracy over steps),
// and OUT/checkpoint, an atomic model directory (loadable by every gorae command) with the
// optimizer state, resumable with --resume.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "train/data_parallel.h"
#include "rl/grpo_loss.h"
#include "train/optimizer.h"

namespace gorae::rl {

struct GrpoOptions {
  std::string model;                 // the starting policy (a model directory with a tokenizer)
  std::string out;
  std::vector<std::string> tasks = {"arithmetic", "linear", "countdown"};  // used when data is empty
  std::string data;                  // JSONL problems instead of the built-in tasks
  int64_t steps = 50;
  int64_t prompts = 8;               // problems per step
  int64_t group = 8;                 // completions per problem (G >= 2)
  int max_new_tokens = 256;
  float temperature = 1.0f;
  float top_p = 1.0f;
  double lr = 1e-5;
  int64_t warmup = 0;
  train::AdamWOptions adamw{0.9, 0.99, 1e-8, 0.0};
  double clip = 1.0;                 // global gradient norm
  double eps_low = 0.2, eps_high = 0.2;
  double beta = 0.04;
  std::string loss = "grpo";         // grpo | dr_grpo | dapo
  std::string scale_rewards = "group";
  int64_t mu = 1;                    // passes over each batch
  int64_t micro_batch = 16;          // sequences per forward/backward
  int64_t dynamic_sampling = 0;      // 0: off; R: up to R batches of problems per step (see above)
  double accuracy_weight = 1.0, format_weight = 0.1;
  double step_weight = 0.0;          // penalty per wrong arithmetic statement in a response
  int64_t ref_reset_every = 0;       // 0: never
  int64_t eval_every = 0;            // 0: no dev-split evaluation during training
  int64_t eval_n = 30;               // dev-split problems per task
  int64_t save_every = 25;
  uint64_t seed = 1;
  int threads = 0;
  train::ParallelOptions parallel;   // under mpirun: ranks split each step's groups (data_parallel.h)
  bool progress = true;
  bool resume = false;
  int64_t stop_after = 0;            // > 0: stop (with a checkpoint) after this many steps this run

  nlohmann::json ToJson() const;
  // `where` names the object in errors ("DIR/trainer_state.json: options").
  static Result<GrpoOptions> FromJson(const nlohmann::json& j, std::string_view where);
};

Status RunGrpo(const GrpoOptions& options);

}  // namespace gorae::rl
