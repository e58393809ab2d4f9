// Pieces shared by the training loops (pretrain.cc, sft.cc; grpo.cc too): the options read back
// from trainer_state.json, the optimizer step with its non-finite guards, the progress line, OUT/metrics.jsonl upkeep, OUT/loss.svg, validation loss.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_field.h"
#include "core/status.h"
#include "train/data_parallel.h"
#include "train/model_step.h"
#include "train/optimizer.h"
#include "train/train_model.h"

namespace gorae::train {

// trainer_state.json's "options", read by one list per group of shared fields so that the
// trainers cannot drift apart. Every trainer (pretrain, sft, grpo): the optimizer, its warmup,
// the run's length, seed and checkpoint/eval cadence.
template <typename Options>
void ReadOptimizerOptions(JsonFields& f, Options& o) {
  f.Required("steps", &o.steps)
      .Required("seed", &o.seed)
      .Required("lr", &o.lr)
      .Required("warmup", &o.warmup)
      .Required("beta1", &o.adamw.beta1)
      .Required("beta2", &o.adamw.beta2)
      .Required("adam_eps", &o.adamw.eps)
      .Required("weight_decay", &o.adamw.weight_decay)
      .Required("clip", &o.clip)
      .Required("eval_every", &o.eval_every)
      .Required("save_every", &o.save_every);
}

// The two supervised loops (pretrain, sft): batch shape, schedule, MTP and balancing weights,
// validation share.
template <typename Options>
void ReadSupervisedLoopOptions(JsonFields& f, Options& o) {
  f.Required("batch", &o.batch)
      .Required("accum", &o.accum)
      .Required("seq", &o.seq)
      .Required("min_lr_ratio", &o.min_lr_ratio)
      .Required("schedule", &o.schedule)
      .Required("wsd_decay_fraction", &o.wsd_decay_fraction)
      .Required("mtp_lambda", &o.mtp_lambda)
      .Required("bias_gamma", &o.bias_gamma)
      .Required("balance_alpha", &o.balance_alpha)
      .Required("val_fraction", &o.val_fraction);
}

// "m:ss" or "h:mm:ss"; "?" for a negative or non-finite duration.
std::string FormatDuration(double seconds);

// Keeps the metrics lines of steps <= last_step (a resumed run continues the file).
Status TrimMetrics(const std::string& path, int64_t last_step);

// OUT/loss.svg from OUT/metrics.jsonl: the "ce" of every line and the "val_loss" where present.
Status WriteMetricsPlot(const std::string& out_dir, const std::string& title);

// Token-weighted mean main cross-entropy over the batches (forward only); NaN when they hold no
// counted target or a forward fails. Each rank runs its rows of every batch (data_parallel.h).
double ValidationLoss(ModelStep& step, const std::vector<Batch>& batches, const Objective& obj);

// Guards, clips and updates, once the step's gradients are accumulated: a non-finite loss or
// gradient norm is an error before any parameter changes (naming the 1-based step and the
// checkpoint that stays as it was); otherwise the gradients are clipped to global norm `clip`
// (0: off) and AdamW is applied with learning rate lr. Returns the norm before clipping. With a
// ZeRO-1 reducer, the norm, clipping and update are the sharded ones (opt holds its shards).
Result<double> GuardedOptimizerStep(TrainModel& model, AdamWState& opt, const AdamWOptions& adamw, double lr,
                                    double clip, double loss, int64_t step, const std::string& ckpt_dir,
                                    GradReducer* reducer = nullptr);

// What one optimizer step did (losses are means over its micro-batches).
struct StepReport {
  double loss = 0.0, ce = 0.0, balance = 0.0;
  std::vector<double> mtp;       // per MTP depth
  double lr = 0.0, grad_norm = 0.0;  // grad_norm: before clipping
  std::vector<MoeStats> stats;   // router statistics of the step, ModelStep::MoeBlocks() order
  CommStats comm;                // data parallel: the step's gradient communication
};

struct StepSettings {
  int64_t accum = 1;  // micro-batches per step, each weighted 1 / accum
  Objective objective;
  AdamWOptions adamw;
  double lr = 0.0;
  double clip = 1.0;
  double bias_gamma = 0.0;
};

// One optimizer step: zero the gradients, forward + backward `accum` micro-batches taken from
// next_batch (global micro-batches: this rank runs its rows), GuardedOptimizerStep (step_number is
// 1-based, for its messages), then the aux-loss-free router-bias update from the step's expert
// loads. With several ranks, `reducer` sums the gradients, and the losses and router statistics
// of the report are summed over the ranks, so every rank reports (and balances by) global figures.
Result<StepReport> TrainOneStep(TrainModel& model, ModelStep& runner, AdamWState& opt, const StepSettings& s,
                                const std::function<Batch()>& next_batch, int64_t step_number,
                                const std::string& ckpt_dir, GradReducer* reducer = nullptr);

// The metrics line of a step: step, loss, ce, mtp_ce (with MTP), balance_loss, lr, grad_norm,
// tokens_per_s, tokens, and with MoE blocks bias_gamma and moe (MoeMetrics).
nlohmann::ordered_json StepMetrics(const TrainModel& model, const ModelStep& runner, const StepReport& r,
                                   int64_t step, double tokens_per_s, int64_t tokens, double bias_gamma);

// One-line model description for the log ("model: 2 layers + 1 MTP, hidden 64, ...").
std::string DescribeModel(const TrainModel& model);

// The progress line on stderr: bar, step, loss, validation loss, lr, tokens/s, ETA. On a
// terminal it redraws one line; otherwise one line per step.
class ProgressLine {
 public:
  ProgressLine(bool enabled, int64_t first_step, int64_t total_steps);
  void Update(int64_t step, double loss, double val_loss, double lr, double tokens_per_s);
  // Ends a redrawn line (before an error message or the final summary).
  void Break();

 private:
  bool enabled_, tty_;
  bool open_ = false;
  int64_t first_step_, total_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace gorae::train
