#include "train/pretrain.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/threads.h"
#include "train/balance.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/model_step.h"
#include "train/plot.h"
#include "train/train_model.h"
#include "tokenizer/tokenizer.h"

namespace gorae::train {

namespace fs = std::filesystem;

nlohmann::json PretrainOptions::ToJson() const {
  return {{"config", config}, {"layers", layers}, {"tokenizer_dir", tokenizer_dir}, {"data", data},
          {"synthetic", synthetic}, {"steps", steps}, {"seed", seed}, {"batch", batch}, {"seq", seq},
          {"accum", accum}, {"lr", lr}, {"min_lr_ratio", min_lr_ratio}, {"warmup", warmup}, {"schedule", schedule},
          {"wsd_decay_fraction", wsd_decay_fraction}, {"beta1", adamw.beta1}, {"beta2", adamw.beta2},
          {"adam_eps", adamw.eps}, {"weight_decay", adamw.weight_decay}, {"clip", clip}, {"mtp_depth", mtp_depth},
          {"mtp_lambda", mtp_lambda}, {"bias_gamma", bias_gamma}, {"balance_alpha", balance_alpha},
          {"eval_every", eval_every}, {"eval_batches", eval_batches}, {"save_every", save_every},
          {"val_fraction", val_fraction}};
}

Result<PretrainOptions> PretrainOptions::FromJson(const nlohmann::json& j) {
  PretrainOptions o;
  try {
    o.config = j.at("config");
    o.layers = j.at("layers");
    o.tokenizer_dir = j.at("tokenizer_dir");
    o.data = j.at("data").get<std::vector<std::string>>();
    o.synthetic = j.at("synthetic");
    o.steps = j.at("steps");
    o.seed = j.at("seed");
    o.batch = j.at("batch");
    o.seq = j.at("seq");
    o.accum = j.at("accum");
    o.lr = j.at("lr");
    o.min_lr_ratio = j.at("min_lr_ratio");
    o.warmup = j.at("warmup");
    o.schedule = j.at("schedule");
    o.wsd_decay_fraction = j.at("wsd_decay_fraction");
    o.adamw.beta1 = j.at("beta1");
    o.adamw.beta2 = j.at("beta2");
    o.adamw.eps = j.at("adam_eps");
    o.adamw.weight_decay = j.at("weight_decay");
    o.clip = j.at("clip");
    o.mtp_depth = j.at("mtp_depth");
    o.mtp_lambda = j.at("mtp_lambda");
    o.bias_gamma = j.at("bias_gamma");
    o.balance_alpha = j.at("balance_alpha");
    o.eval_every = j.at("eval_every");
    o.eval_batches = j.at("eval_batches");
    o.save_every = j.at("save_every");
    o.val_fraction = j.at("val_fraction");
  } catch (const nlohmann::json::exception& e) {
    return Corruption("trainer_state.json options: {}", e.what());
  }
  return o;
}

namespace {

Status CheckOptions(const PretrainOptions& o) {
  if (o.steps <= 0) return InvalidArgument("--steps must be positive, got {}", o.steps);
  if (o.batch <= 0 || o.seq <= 1 || o.accum <= 0) {
    return InvalidArgument("--batch, --accum must be positive and --seq > 1 (got {}, {}, {})", o.batch, o.accum, o.seq);
  }
  if (!(o.lr > 0) || o.min_lr_ratio < 0 || o.min_lr_ratio > 1) return InvalidArgument("--lr must be > 0 and --min-lr-ratio in [0, 1]");
  if (o.adamw.beta1 < 0 || o.adamw.beta1 >= 1 || o.adamw.beta2 < 0 || o.adamw.beta2 >= 1 || !(o.adamw.eps > 0)) {
    return InvalidArgument("AdamW needs betas in [0, 1) and eps > 0");
  }
  if (o.clip < 0 || o.bias_gamma < 0 || o.balance_alpha < 0 || o.mtp_lambda < 0 || o.adamw.weight_decay < 0) {
    return InvalidArgument("--clip, --bias-gamma, --balance-alpha, --mtp-lambda, --weight-decay must be >= 0");
  }
  if (o.eval_every <= 0 || o.save_every <= 0 || o.eval_batches <= 0) {
    return InvalidArgument("--eval-every, --save-every, --eval-batches must be positive");
  }
  if (o.tokenizer_dir.empty()) return InvalidArgument("--tokenizer DIR is required");
  if (o.data.empty() && o.synthetic <= 0) return InvalidArgument("give --data FILES... or --synthetic N");
  return Status::Ok();
}

std::string Duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{}:{:02}", t / 60, t % 60);
}

// Keeps the metrics lines of steps <= last_step (a resumed run continues the file).
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
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kept;
    if (!out.flush()) return IOError("cannot write '{}'", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return IOError("cannot rename '{}'", tmp);
  return Status::Ok();
}

Status WritePlot(const std::string& out_dir) {
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
  return WriteLossPlot(out_dir + "/loss.svg", "gorae pretrain: next-token cross-entropy", {train, val});
}

double Validate(ModelStep& step, const std::vector<Batch>& batches, const Objective& obj) {
  double sum = 0.0, count = 0.0;
  for (const Batch& b : batches) {
    auto r = step.Run(b, obj, 1.0, /*backward=*/false, nullptr);
    if (!r.ok()) return std::nan("");
    sum += r->ce * static_cast<double>(r->targets);
    count += static_cast<double>(r->targets);
  }
  return count > 0 ? sum / count : std::nan("");
}

}  // namespace

Status RunPretrain(const PretrainOptions& cli) {
  PretrainOptions o = cli;
  const std::string ckpt_dir = cli.out + "/checkpoint", data_dir = cli.out + "/data";
  const std::string metrics_path = cli.out + "/metrics.jsonl";
  if (cli.out.empty()) return InvalidArgument("--out DIR is required");
  LoadedCheckpoint ck;
  if (cli.resume) {
    GORAE_ASSIGN_OR_RETURN(ck, LoadCheckpointMeta(ckpt_dir));
    GORAE_ASSIGN_OR_RETURN(o, PretrainOptions::FromJson(ck.trainer_state["options"]));
    o.out = cli.out;
    o.steps = std::max(cli.steps, o.steps);  // a resumed run may be extended, never cut below
    o.threads = cli.threads;
    o.progress = cli.progress;
    o.stop_after = cli.stop_after;
  } else if (fs::exists(ckpt_dir)) {
    return InvalidArgument("'{}' already holds a checkpoint: pass --resume to continue it, or choose another --out",
                           cli.out);
  }
  GORAE_RETURN_IF_ERROR(CheckOptions(o));
  SetNumThreads(o.threads);

  GORAE_ASSIGN_OR_RETURN(auto tok, tokenizer::Tokenizer::Load(o.tokenizer_dir));
  // Model config.
  ModelConfig config;
  int64_t depth = o.mtp_depth;
  if (cli.resume) {
    config = ck.config;
    depth = ck.mtp_depth;
  } else {
    GORAE_ASSIGN_OR_RETURN(auto loaded, LoadTrainConfig(o.config));
    config = loaded.first;
    const bool preset = loaded.second < 0 && !fs::exists(o.config);
    if (depth < 0) depth = loaded.second >= 0 ? loaded.second : 1;
    if (o.layers > 0) config.num_hidden_layers = o.layers;
    if (preset) {
      // Presets take their vocabulary from the tokenizer (rounded up to a multiple of 64).
      config.vocab_size = (static_cast<int64_t>(tok->vocab_size()) + 63) / 64 * 64;
      config.bos_token_id = tok->bos_id();
      config.eos_token_ids = {tok->eos_id() >= 0 ? tok->eos_id() : tok->eot_id()};
    }
    GORAE_RETURN_IF_ERROR(ValidateModelConfig(config).WithContext("--config " + o.config));
  }
  if (config.vocab_size < tok->vocab_size()) {
    return InvalidArgument("the tokenizer in '{}' has {} tokens but the model's vocab_size is {}: they must match",
                           o.tokenizer_dir, tok->vocab_size(), config.vocab_size);
  }
  if (config.max_position_embeddings > 0 && o.seq > config.max_position_embeddings) {
    return InvalidArgument("--seq {} is longer than the model's max_position_embeddings {}", o.seq,
                           config.max_position_embeddings);
  }
  if (depth >= o.seq) return InvalidArgument("--mtp-depth {} must be below --seq {}", depth, o.seq);
  GORAE_ASSIGN_OR_RETURN(auto model, TrainModel::Create(config, depth));

  // Data shards.
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return IOError("cannot create '{}': {}", o.out, ec.message());
  if (!cli.resume) {
    std::vector<std::string> docs;
    if (!o.data.empty()) {
      GORAE_ASSIGN_OR_RETURN(docs, ReadDocuments(o.data));
    }
    if (o.synthetic > 0) {
      auto syn = SyntheticReasoningCorpus(o.synthetic, o.seed);
      docs.insert(docs.end(), syn.begin(), syn.end());
    }
    GORAE_ASSIGN_OR_RETURN(ShardSummary sum, BuildShards(docs, *tok, o.val_fraction, data_dir));
    fmt::print(stderr, "data: {} train tokens ({} docs), {} validation tokens ({} docs) -> {}\n", sum.train_tokens,
               sum.train_docs, sum.val_tokens, sum.val_docs, data_dir);
  }
  GORAE_ASSIGN_OR_RETURN(auto train, TokenShard::Open(data_dir + "/train.bin"));
  GORAE_ASSIGN_OR_RETURN(auto val, TokenShard::Open(data_dir + "/val.bin"));
  if (train->size() <= o.seq + 1) {
    return InvalidArgument("the training data has {} tokens: too few for one sequence of {} (+1)", train->size(), o.seq);
  }
  if (train->vocab_size() != tok->vocab_size()) {
    return InvalidArgument("'{}' was written by a tokenizer of {} tokens, the tokenizer has {}", train->path(),
                           train->vocab_size(), tok->vocab_size());
  }
  const std::vector<Batch> val_batches = SequentialBatches(*val, o.batch, o.seq, o.eval_batches);
  if (val_batches.empty()) fmt::print(stderr, "warning: the validation split is shorter than one sequence; no validation loss\n");

  // Parameters and optimizer state.
  AdamWState opt = NewAdamWState(*model);
  int64_t step = 0;
  Rng rng{o.seed * 0x2545f4914f6cdd1dull + 1};
  int64_t tokens_seen = 0;
  if (cli.resume) {
    GORAE_RETURN_IF_ERROR(LoadCheckpointWeights(ck, *model, opt));
    step = ck.trainer_state["step"].get<int64_t>();
    rng.state = ck.trainer_state["rng_state"].get<uint64_t>();
    tokens_seen = ck.trainer_state.value("tokens_seen", int64_t{0});
    GORAE_RETURN_IF_ERROR(TrimMetrics(metrics_path, step));
    fmt::print(stderr, "resumed from {} at step {}\n", ck.dir, step);
  } else {
    model->InitRandom(o.seed);
    std::ofstream(metrics_path, std::ios::trunc);
  }

  GORAE_ASSIGN_OR_RETURN(Schedule kind, ParseSchedule(o.schedule));
  LrSchedule sched{kind, o.lr, o.min_lr_ratio, o.warmup >= 0 ? o.warmup : o.steps / 20, o.steps, o.wsd_decay_fraction};
  const Objective obj{o.mtp_lambda, o.balance_alpha};
  ModelStep runner(*model);
  const auto& blocks = runner.MoeBlocks();
  fmt::print(stderr, "model: {} layers + {} MTP, hidden {}, {} routed experts (top {}), vocab {}, {:.2f}M parameters\n",
             config.num_hidden_layers, depth, config.hidden_size, config.n_routed_experts, config.num_experts_per_tok,
             config.vocab_size, static_cast<double>(model->NumParams()) / 1e6);

  auto save = [&]() -> Status {
    nlohmann::json state = {{"step", step}, {"rng_state", rng.state}, {"tokens_seen", tokens_seen},
                            {"options", o.ToJson()}};
    return SaveCheckpoint(ckpt_dir, *model, opt, state, o.tokenizer_dir);
  };

  std::ofstream metrics(metrics_path, std::ios::app);
  const auto t_start = std::chrono::steady_clock::now();
  const int64_t first_step = step;
  const bool tty = isatty(fileno(stderr));
  double last_val = std::nan("");
  while (step < o.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    model->ZeroGrad();
    std::vector<MoeStats> stats(blocks.size());
    double loss = 0, ce = 0, balance = 0;
    std::vector<double> mtp(static_cast<size_t>(depth), 0.0);
    for (int64_t a = 0; a < o.accum; ++a) {
      const Batch batch = SampleBatch(*train, o.batch, o.seq, rng);
      GORAE_ASSIGN_OR_RETURN(StepLosses r, runner.Run(batch, obj, 1.0 / static_cast<double>(o.accum), true, &stats));
      loss += r.loss / o.accum, ce += r.ce / o.accum, balance += r.balance / o.accum;
      for (int64_t k = 0; k < depth; ++k) mtp[k] += r.mtp[k] / o.accum;
    }
    if (!std::isfinite(loss)) {
      if (tty && o.progress) fmt::print(stderr, "\n");
      return Status(StatusCode::kInternal,
                    fmt::format("the loss is {} at step {}: stopping before the update (the last checkpoint in '{}' "
                                "is kept); try a lower --lr",
                                loss, step + 1, ckpt_dir));
    }
    const double norm = GradNorm(*model);
    if (!std::isfinite(norm)) {
      if (tty && o.progress) fmt::print(stderr, "\n");
      return Status(StatusCode::kInternal,
                    fmt::format("the gradient norm is {} at step {} (loss {}): stopping before the update (the last "
                                "checkpoint in '{}' is kept); try a lower --lr",
                                norm, step + 1, loss, ckpt_dir));
    }
    if (o.clip > 0 && norm > o.clip) ScaleGrads(*model, static_cast<float>(o.clip / norm));
    const double lr = LearningRate(sched, step);
    AdamWUpdate(*model, opt, o.adamw, lr);
    UpdateRouterBias(*model, blocks, stats, o.bias_gamma);
    ++step;
    const int64_t step_tokens = o.batch * o.seq * o.accum;
    tokens_seen += step_tokens;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    nlohmann::ordered_json m;
    m["step"] = step;
    m["loss"] = loss;
    m["ce"] = ce;
    if (depth > 0) m["mtp_ce"] = mtp;
    m["balance_loss"] = balance;
    m["lr"] = lr;
    m["grad_norm"] = norm;
    m["tokens_per_s"] = static_cast<double>(step_tokens) / dt;
    m["tokens"] = tokens_seen;
    if (!blocks.empty()) {
      m["bias_gamma"] = o.bias_gamma;
      m["moe"] = MoeMetrics(blocks, stats, config.num_experts_per_tok);
    }
    if (!val_batches.empty() && (step % o.eval_every == 0 || step == o.steps || step == first_step + 1)) {
      last_val = Validate(runner, val_batches, obj);
      m["val_loss"] = last_val;
    }
    metrics << m.dump() << "\n";
    metrics.flush();

    if (o.progress) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
      const double eta = elapsed / static_cast<double>(step - first_step) * static_cast<double>(o.steps - step);
      const int width = 24, filled = static_cast<int>(width * step / o.steps);
      fmt::print(stderr, "{}[{}{}] step {}/{} loss {:.4f} val {:.4f} lr {:.2e} {:.0f} tok/s ETA {}{}", tty ? "\r" : "",
                 std::string(filled, '#'), std::string(width - filled, '.'), step, o.steps, loss, last_val, lr,
                 static_cast<double>(step_tokens) / dt, Duration(eta), tty ? "" : "\n");
    }
    const bool stopping = o.stop_after > 0 && step - first_step >= o.stop_after;
    if (step % o.save_every == 0 || step == o.steps || stopping) {
      GORAE_RETURN_IF_ERROR(save());
      GORAE_RETURN_IF_ERROR(WritePlot(o.out));
    }
    if (stopping) break;
  }
  if (o.progress && tty) fmt::print(stderr, "\n");
  fmt::print(stderr, "done: step {}, checkpoint {}, metrics {}, plot {}/loss.svg\n", step, ckpt_dir, metrics_path, o.out);
  return Status::Ok();
}

}  // namespace gorae::train
