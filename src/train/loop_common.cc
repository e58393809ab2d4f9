#include "train/loop_common.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "train/balance.h"
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
  double sum = 0.0, count = 0.0;
  for (const Batch& b : batches) {
    auto r = step.Run(b, obj, 1.0, /*backward=*/false, nullptr);
    if (!r.ok()) return std::nan("");
    sum += r->ce * static_cast<double>(r->targets);
    count += static_cast<double>(r->targets);
  }
  return count > 0 ? sum / count : std::nan("");
}

Result<double> GuardedOptimizerStep(TrainModel& model, AdamWState& opt, const AdamWOptions& adamw, double lr,
                                    double clip, double loss, int64_t step, const std::string& ckpt_dir) {
  if (!std::isfinite(loss)) {
    return Status(StatusCode::kInternal,
                  fmt::format("the loss is {} at step {}: stopping before the update (the last checkpoint in '{}' "
                              "is kept); try a lower --lr",
                              loss, step, ckpt_dir));
  }
  const double norm = GradNorm(model);
  if (!std::isfinite(norm)) {
    return Status(StatusCode::kInternal,
                  fmt::format("the gradient norm is {} at step {} (loss {}): stopping before the update (the last "
                              "checkpoint in '{}' is kept); try a lower --lr",
                              norm, step, loss, ckpt_dir));
  }
  if (clip > 0 && norm > clip) ScaleGrads(model, static_cast<float>(clip / norm));
  AdamWUpdate(model, opt, adamw, lr);
  return norm;
}

Result<StepReport> TrainOneStep(TrainModel& model, ModelStep& runner, AdamWState& opt, const StepSettings& s,
                                const std::function<Batch()>& next_batch, int64_t step_number,
                                const std::string& ckpt_dir) {
  const auto& blocks = runner.MoeBlocks();
  const int64_t depth = model.mtp_depth();
  StepReport rep;
  rep.stats.resize(blocks.size());
  rep.mtp.assign(static_cast<size_t>(depth), 0.0);
  model.ZeroGrad();
  for (int64_t a = 0; a < s.accum; ++a) {
    const Batch batch = next_batch();
    GORAE_ASSIGN_OR_RETURN(StepLosses r,
                           runner.Run(batch, s.objective, 1.0 / static_cast<double>(s.accum), true, &rep.stats));
    rep.loss += r.loss / s.accum, rep.ce += r.ce / s.accum, rep.balance += r.balance / s.accum;
    for (int64_t k = 0; k < depth; ++k) rep.mtp[k] += r.mtp[k] / s.accum;
  }
  rep.lr = s.lr;
  GORAE_ASSIGN_OR_RETURN(rep.grad_norm,
                         GuardedOptimizerStep(model, opt, s.adamw, s.lr, s.clip, rep.loss, step_number, ckpt_dir));
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
