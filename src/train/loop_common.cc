#include "train/loop_common.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "train/balance.h"
#include "train/expert_exchange.h"
#include "train/plot.h"

namespace gorae::train {

std::string FormatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{}:{:02}", t / 60, t % 60);
}

Status TrimMetrics(const std::string& path, int64_t last_step) {
  std::ifstream in(path);
  if (!in) return Status::Ok();
  std::string line, kept;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
        j["step"].get<int64_t>() <= last_step) {
      kept += line + "\n";
    }
  }
  GORAE_RETURN_IF_ERROR(WriteFileAtomic(path, kept));
  return Status::Ok();
}

Status WriteMetricsPlot(const std::string& out_dir, const std::string& title) {
  std::ifstream in(out_dir + "/metrics.jsonl");
  Series train{"train loss", "#1f77b4", {}}, val{"validation loss", "#d62728", {}};
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number()) continue;
    if (j.contains("ce") && j["ce"].is_number()) train.points.emplace_back(j["step"].get<double>(), j["ce"].get<double>());
    if (j.contains("val_loss") && j["val_loss"].is_number()) {
      val.points.emplace_back(j["step"].get<double>(), j["val_loss"].get<double>());
    }
  }
  return WriteLossPlot(out_dir + "/loss.svg", title, {train, val});
}

double ValidationLoss(ModelStep& step, const std::vector<Batch>& batches, const Objective& obj) {
  dist::Communicator& comm = dist::World();
  std::vector<double> acc(3, 0.0);  // sum of ce * targets, targets, failures
  for (const Batch& b : batches) {
    const auto [b0, b1] = dist::ShareOf(b.B, comm.rank(), comm.size());
    if (b1 == b0) continue;
    const Objective rank_obj = RankObjective(obj, b, b1 - b0, step.model().mtp_depth());
    auto r = step.Run(SliceRows(b, b0, b1), rank_obj, 1.0, /*backward=*/false, nullptr);
    if (!r.ok()) {
      acc[2] += 1;
      continue;
    }
    // r->ce is this rank's share of the batch's mean: times the batch's targets, its share of the sum.
    acc[0] += r->ce * rank_obj.main_denominator;
    double targets = 0.0;
    for (float m : b.mask) targets += m;
    if (b0 == 0) acc[1] += targets;
  }
  comm.AllReduceSum(acc);
  return acc[2] == 0 && acc[1] > 0 ? acc[0] / acc[1] : std::nan("");
}

Result<double> GuardedOptimizerStep(TrainModel& model, AdamWState& opt, const AdamWOptions& adamw, double lr,
                                    double clip, double loss, int64_t step, const std::string& ckpt_dir,
                                    GradReducer* reducer) {
  if (!std::isfinite(loss)) {
    return Status(StatusCode::kInternal,
                  fmt::format("the loss is {} at step {}: stopping before the update (the last checkpoint in '{}' "
                              "is kept); try a lower --lr",
                              loss, step, ckpt_dir));
  }
  const bool sharded = reducer != nullptr && reducer->zero_stage() > 0;
  const double norm = sharded                                        ? reducer->ShardedGradNorm()
                      : reducer != nullptr && reducer->expert_parallel() ? reducer->ExpertParallelGradNorm()
                                                                         : GradNorm(model);
  if (!std::isfinite(norm)) {
    return Status(StatusCode::kInternal,
                  fmt::format("the gradient norm is {} at step {} (loss {}): stopping before the update (the last "
                              "checkpoint in '{}' is kept); try a lower --lr",
                              norm, step, loss, ckpt_dir));
  }
  const float scale = clip > 0 && norm > clip ? static_cast<float>(clip / norm) : 1.0f;
  if (sharded) {
    reducer->ShardedAdamW(opt, adamw, lr, scale);
    return norm;
  }
  if (scale != 1.0f) ScaleGrads(model, scale);
  AdamWUpdate(model, opt, adamw, lr);
  return norm;
}

Result<StepReport> TrainOneStep(TrainModel& model, ModelStep& runner, AdamWState& opt, const StepSettings& s,
                                const std::function<Batch()>& next_batch, int64_t step_number,
                                const std::string& ckpt_dir, GradReducer* reducer) {
  dist::Communicator& comm = dist::World();
  const auto& blocks = runner.MoeBlocks();
  const int64_t depth = model.mtp_depth();
  StepReport rep;
  rep.stats.resize(blocks.size());
  for (MoeStats& st : rep.stats) st.Reset(model.config().n_routed_experts);
  rep.mtp.assign(static_cast<size_t>(depth), 0.0);
  model.ZeroGrad();
  TakeExchangeStats();  // this step's all-to-alls only (not the validation forward's before it)
  if (reducer != nullptr) runner.SetBlockDoneHook([reducer](int64_t block) { reducer->BlockDone(block); });
  Status failed = Status::Ok();
  for (int64_t a = 0; a < s.accum; ++a) {
    const Batch batch = next_batch();
    const auto [b0, b1] = dist::ShareOf(batch.B, comm.rank(), comm.size());
    if (reducer != nullptr && a + 1 == s.accum) {
      reducer->Arm(model.config().num_hidden_layers + (s.objective.mtp_lambda == 0.0 ? 0 : depth));
    }
    if (b1 == b0 || !failed.ok()) continue;  // no rows here: this rank adds nothing but joins the reduction
    const Objective obj = RankObjective(s.objective, batch, b1 - b0, depth);
    auto r = runner.Run(SliceRows(batch, b0, b1), obj, 1.0 / static_cast<double>(s.accum), true, &rep.stats);
    if (!r.ok()) {
      failed = r.status();  // every rank still joins the collectives below, so none is left waiting
      continue;
    }
    rep.loss += r->loss / s.accum, rep.ce += r->ce / s.accum, rep.balance += r->balance / s.accum;
    for (int64_t k = 0; k < depth; ++k) rep.mtp[k] += r->mtp[k] / s.accum;
  }
  if (reducer != nullptr) {
    reducer->Finish();
    runner.SetBlockDoneHook(nullptr);
    rep.comm = reducer->TakeStats();
  }
  // The ranks' shares of the losses and statistics add up to the global batch's.
  std::vector<double> sums = {rep.loss, rep.ce, rep.balance, failed.ok() ? 0.0 : 1.0};
  sums.insert(sums.end(), rep.mtp.begin(), rep.mtp.end());
  comm.AllReduceSum(sums);
  AllReduceMoeStats(comm, rep.stats);
  if (!failed.ok()) return failed;
  if (sums[3] > 0) return Status(StatusCode::kInternal, fmt::format("step {} failed on another rank", step_number));
  rep.loss = sums[0], rep.ce = sums[1], rep.balance = sums[2];
  for (int64_t k = 0; k < depth; ++k) rep.mtp[k] = sums[4 + k];
  rep.lr = s.lr;
  GORAE_ASSIGN_OR_RETURN(rep.grad_norm, GuardedOptimizerStep(model, opt, s.adamw, s.lr, s.clip, rep.loss, step_number,
                                                             ckpt_dir, reducer));
  if (reducer != nullptr) {
    rep.comm.optimizer_comm_seconds = reducer->TakeStats().optimizer_comm_seconds;
    const ExchangeStats a2a = TakeExchangeStats();
    rep.comm.all_to_all_bytes = a2a.bytes, rep.comm.all_to_all_seconds = a2a.seconds;
  }
  UpdateRouterBias(model, blocks, rep.stats, s.bias_gamma);
  return rep;
}

nlohmann::ordered_json StepMetrics(const TrainModel& model, const ModelStep& runner, const StepReport& r,
                                   int64_t step, double tokens_per_s, int64_t tokens, double bias_gamma) {
  nlohmann::ordered_json m;
  m["step"] = step;
  m["loss"] = r.loss;
  m["ce"] = r.ce;
  if (model.mtp_depth() > 0) m["mtp_ce"] = r.mtp;
  m["balance_loss"] = r.balance;
  m["lr"] = r.lr;
  m["grad_norm"] = r.grad_norm;
  m["tokens_per_s"] = tokens_per_s;
  m["tokens"] = tokens;
  if (dist::World().size() > 1) {
    m["ranks"] = dist::World().size();
    m["comm"] = {{"bytes", r.comm.bytes}, {"seconds", r.comm.comm_seconds}, {"exposed_seconds", r.comm.exposed_seconds},
                 {"optimizer_seconds", r.comm.optimizer_comm_seconds}};
    if (model.expert_shard().active()) {
      m["comm"]["all_to_all_bytes"] = r.comm.all_to_all_bytes;
      m["comm"]["all_to_all_seconds"] = r.comm.all_to_all_seconds;
    }
  }
  if (!runner.MoeBlocks().empty()) {
    m["bias_gamma"] = bias_gamma;
    m["moe"] = MoeMetrics(runner.MoeBlocks(), r.stats, model.config().num_experts_per_tok);
  }
  return m;
}

std::string DescribeModel(const TrainModel& model) {
  const ModelConfig& c = model.config();
  return fmt::format("model: {} layers + {} MTP, hidden {}, {} routed experts (top {}), vocab {}, {:.2f}M parameters",
                     c.num_hidden_layers, model.mtp_depth(), c.hidden_size, c.n_routed_experts, c.num_experts_per_tok,
                     c.vocab_size, static_cast<double>(model.NumParams()) / 1e6);
}

ProgressLine::ProgressLine(bool enabled, int64_t first_step, int64_t total_steps)
    : enabled_(enabled),
      tty_(isatty(fileno(stderr)) != 0),
      first_step_(first_step),
      total_(total_steps),
      start_(std::chrono::steady_clock::now()) {}

void ProgressLine::Update(int64_t step, double loss, double val_loss, double lr, double tokens_per_s) {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = elapsed / static_cast<double>(step - first_step_) * static_cast<double>(total_ - step);
  const int width = 24, filled = static_cast<int>(width * step / total_);
  fmt::print(stderr, "{}[{}{}] step {}/{} loss {:.4f} val {:.4f} lr {:.2e} {:.0f} tok/s ETA {}{}", tty_ ? "\r" : "",
             std::string(filled, '#'), std::string(width - filled, '.'), step, total_, loss, val_loss, lr,
             tokens_per_s, FormatDuration(eta), tty_ ? "" : "\n");
  open_ = tty_;
}

void ProgressLine::Break() {
  if (open_) fmt::print(stderr, "\n");
  open_ = false;
}

}  // namespace gorae::train
