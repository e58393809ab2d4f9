#include "train/pretrain.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/json_field.h"
#include "core/threads.h"
#include "train/checkpoint.h"
#include "train/loop_common.h"
#include "train/data.h"
#include "train/model_step.h"
#include "train/train_model.h"
#include "tokenizer/tokenizer.h"

namespace gorae::train {

namespace fs = std::filesystem;

nlohmann::json PretrainOptions::ToJson() const {
  return {{"config", config}, {"layers", layers}, {"moe_nodes", moe_nodes}, {"moe_node_limit", moe_node_limit},
          {"tokenizer_dir", tokenizer_dir}, {"data", data},
          {"synthetic", synthetic}, {"steps", steps}, {"seed", seed}, {"batch", batch}, {"seq", seq},
          {"accum", accum}, {"lr", lr}, {"min_lr_ratio", min_lr_ratio}, {"warmup", warmup}, {"schedule", schedule},
          {"wsd_decay_fraction", wsd_decay_fraction}, {"beta1", adamw.beta1}, {"beta2", adamw.beta2},
          {"adam_eps", adamw.eps}, {"weight_decay", adamw.weight_decay}, {"clip", clip}, {"mtp_depth", mtp_depth},
          {"mtp_lambda", mtp_lambda}, {"bias_gamma", bias_gamma}, {"balance_alpha", balance_alpha},
          {"eval_every", eval_every}, {"eval_batches", eval_batches}, {"save_every", save_every},
          {"val_fraction", val_fraction}};
}

Result<PretrainOptions> PretrainOptions::FromJson(const nlohmann::json& j, std::string_view where) {
  PretrainOptions o;
  JsonFields f(j, std::string(where));
  ReadOptimizerOptions(f, o);
  ReadSupervisedLoopOptions(f, o);
  f.Required("config", &o.config)
      .Required("layers", &o.layers)
      .Optional("moe_nodes", &o.moe_nodes)  // absent from checkpoints written before these keys
      .Optional("moe_node_limit", &o.moe_node_limit)
      .Required("tokenizer_dir", &o.tokenizer_dir)
      .Required("data", &o.data)
      .Required("synthetic", &o.synthetic)
      .Required("mtp_depth", &o.mtp_depth)
      .Required("eval_batches", &o.eval_batches);
  if (!f.status().ok()) return Corruption("{}", f.status().message());
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

}  // namespace

Status RunPretrain(const PretrainOptions& cli) {
  PretrainOptions o = cli;
  const std::string ckpt_dir = cli.out + "/checkpoint", data_dir = cli.out + "/data";
  const std::string metrics_path = cli.out + "/metrics.jsonl";
  if (cli.out.empty()) return InvalidArgument("--out DIR is required");
  LoadedCheckpoint ck;
  if (cli.resume) {
    GORAE_ASSIGN_OR_RETURN(ck, LoadCheckpointMeta(ckpt_dir));
    GORAE_ASSIGN_OR_RETURN(o, PretrainOptions::FromJson(ck.trainer_state["options"], ck.dir + "/trainer_state.json: options"));
    o.out = cli.out;
    o.steps = std::max(cli.steps, o.steps);  // a resumed run may be extended, never cut below
    o.threads = cli.threads;
    o.parallel = cli.parallel;
    o.progress = cli.progress;
    o.stop_after = cli.stop_after;
  } else if (fs::exists(ckpt_dir)) {
    return InvalidArgument("'{}' already holds a checkpoint: pass --resume to continue it, or choose another --out",
                           cli.out);
  }
  GORAE_RETURN_IF_ERROR(CheckOptions(o));
  GORAE_RETURN_IF_ERROR(dist::CheckSameOnAllRanks("the pretrain options", o.ToJson().dump()));
  if (o.parallel.expert_parallel > 1 && o.batch < dist::World().size()) {
    return InvalidArgument("--expert-parallel needs --batch >= the number of ranks ({} < {}): every rank runs every "
                           "MoE layer's all-to-all, so each needs rows of every micro-batch", o.batch,
                           dist::World().size());
  }
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
    if (o.moe_nodes > 0) config.moe_nodes = o.moe_nodes, config.moe_node_limit = o.moe_node_limit;
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
  auto build_shards = [&]() -> Status {
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
    return Status::Ok();
  };
  if (!cli.resume) GORAE_RETURN_IF_ERROR(dist::RunOnRoot(build_shards));  // the other ranks wait for the shards
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
  AdamWState full_opt = NewAdamWState(*model);
  int64_t step = 0;
  Rng rng{o.seed * 0x2545f4914f6cdd1dull + 1};
  int64_t tokens_seen = 0;
  if (cli.resume) {
    GORAE_RETURN_IF_ERROR(LoadCheckpointWeights(ck, *model, full_opt));
    step = ck.step;
    rng.state = ck.rng_state;
    tokens_seen = ck.tokens_seen;
    GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] { return TrimMetrics(metrics_path, step); }));
    fmt::print(stderr, "resumed from {} at step {}\n", ck.dir, step);
  } else {
    model->InitRandom(o.seed);
    if (dist::IsRoot()) std::ofstream(metrics_path, std::ios::trunc);
  }
  GORAE_ASSIGN_OR_RETURN(std::unique_ptr<GradReducer> reducer, MakeGradReducer(*model, o.parallel));
  AdamWState opt = RankOptimizerState(reducer.get(), full_opt);
  full_opt = {};

  GORAE_ASSIGN_OR_RETURN(Schedule kind, ParseSchedule(o.schedule));
  LrSchedule sched{kind, o.lr, o.min_lr_ratio, o.warmup >= 0 ? o.warmup : o.steps / 20, o.steps, o.wsd_decay_fraction};
  Objective obj;
  obj.mtp_lambda = o.mtp_lambda;
  obj.balance_alpha = o.balance_alpha;
  ModelStep runner(*model);
  StepSettings settings{o.accum, obj, o.adamw, 0.0, o.clip, o.bias_gamma};
  fmt::print(stderr, "{}\n", DescribeModel(*model));
  if (reducer) {
    fmt::print(stderr, "data parallel: {} ranks, {} rows of each {}-sequence micro-batch on rank 0, {} gradient buckets, "
               "ZeRO stage {}{}\n", dist::World().size(), dist::ShareOf(o.batch, 0, dist::World().size()).second, o.batch,
               reducer->num_buckets(), reducer->zero_stage(),
               reducer->expert_parallel() ? fmt::format(", expert parallel over groups of {} ranks ({} experts each)",
                                                        o.parallel.expert_parallel,
                                                        model->config().n_routed_experts / o.parallel.expert_parallel)
                                          : "");
  }

  auto save = [&]() -> Status {
    nlohmann::json state = {{"step", step}, {"rng_state", rng.state}, {"tokens_seen", tokens_seen},
                            {"options", o.ToJson()}};
    return SaveFromRoot(reducer.get(), opt, [&](const AdamWState& full) {
      return SaveCheckpoint(ckpt_dir, *model, full, state, o.tokenizer_dir);
    });
  };

  std::ofstream metrics;
  if (dist::IsRoot()) metrics.open(metrics_path, std::ios::app);
  const int64_t first_step = step;
  ProgressLine progress(o.progress && dist::IsRoot(), first_step, o.steps);
  double last_val = std::nan("");
  while (step < o.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    settings.lr = LearningRate(sched, step);
    auto report = TrainOneStep(*model, runner, opt, settings, [&] { return SampleBatch(*train, o.batch, o.seq, rng); },
                               step + 1, ckpt_dir, reducer.get());
    if (!report.ok()) {
      progress.Break();
      return report.status();
    }
    ++step;
    const int64_t step_tokens = o.batch * o.seq * o.accum;
    tokens_seen += step_tokens;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    nlohmann::ordered_json m =
        StepMetrics(*model, runner, *report, step, static_cast<double>(step_tokens) / dt, tokens_seen, o.bias_gamma);
    if (!val_batches.empty() && (step % o.eval_every == 0 || step == o.steps || step == first_step + 1)) {
      last_val = ValidationLoss(runner, val_batches, obj);
      m["val_loss"] = last_val;
    }
    if (dist::IsRoot()) {
      metrics << m.dump() << "\n";
      metrics.flush();
    }

    progress.Update(step, report->loss, last_val, report->lr, static_cast<double>(step_tokens) / dt);
    const bool stopping = o.stop_after > 0 && step - first_step >= o.stop_after;
    if (step % o.save_every == 0 || step == o.steps || stopping) {
      GORAE_RETURN_IF_ERROR(save());
      GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] {
        return WriteMetricsPlot(o.out, "gorae pretrain: next-token cross-entropy");
      }));
    }
    if (stopping) break;
  }
  progress.Break();
  fmt::print(stderr, "done: step {}, checkpoint {}, metrics {}, plot {}/loss.svg\n", step, ckpt_dir, metrics_path, o.out);
  return Status::Ok();
}

}  // namespace gorae::train
