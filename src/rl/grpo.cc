#include "rl/grpo.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "core/json_field.h"
#include "core/threads.h"
#include "dist/comm.h"
#include "rl/chat_io.h"
#include "rl/eval.h"
#include "rl/grpo_parallel.h"
#include "rl/grpo_step.h"
#include "rl/rollout.h"
#include "tasks/statements.h"
#include "tasks/tasks.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/loop_common.h"
#include "train/model_step.h"
#include "train/plot.h"

namespace gorae::rl {

namespace fs = std::filesystem;
using train::TrainModel;

nlohmann::json GrpoOptions::ToJson() const {
  return {{"model", model}, {"tasks", tasks}, {"data", data}, {"steps", steps}, {"prompts", prompts},
          {"group", group}, {"max_new_tokens", max_new_tokens}, {"temperature", temperature}, {"top_p", top_p},
          {"lr", lr}, {"warmup", warmup}, {"beta1", adamw.beta1}, {"beta2", adamw.beta2}, {"adam_eps", adamw.eps},
          {"weight_decay", adamw.weight_decay}, {"clip", clip}, {"eps_low", eps_low}, {"eps_high", eps_high},
          {"beta", beta}, {"loss", loss}, {"scale_rewards", scale_rewards}, {"mu", mu}, {"micro_batch", micro_batch},
          {"dynamic_sampling", dynamic_sampling},
          {"accuracy_weight", accuracy_weight}, {"format_weight", format_weight},
          {"step_weight", step_weight}, {"ref_reset_every", ref_reset_every},
          {"eval_every", eval_every}, {"eval_n", eval_n}, {"save_every", save_every}, {"seed", seed}};
}

Result<GrpoOptions> GrpoOptions::FromJson(const nlohmann::json& j, std::string_view where) {
  GrpoOptions o;
  JsonFields f(j, std::string(where));
  train::ReadOptimizerOptions(f, o);
  f.Required("model", &o.model)
      .Required("tasks", &o.tasks)
      .Required("data", &o.data)
      .Required("prompts", &o.prompts)
      .Required("group", &o.group)
      .Required("max_new_tokens", &o.max_new_tokens)
      .Required("temperature", &o.temperature)
      .Required("top_p", &o.top_p)
      .Required("eps_low", &o.eps_low)
      .Required("eps_high", &o.eps_high)
      .Required("beta", &o.beta)
      .Required("loss", &o.loss)
      .Required("scale_rewards", &o.scale_rewards)
      .Required("mu", &o.mu)
      .Required("micro_batch", &o.micro_batch)
      .Optional("dynamic_sampling", &o.dynamic_sampling)  // absent in checkpoints before it
      .Required("accuracy_weight", &o.accuracy_weight)
      .Required("format_weight", &o.format_weight)
      .Optional("step_weight", &o.step_weight)  // absent in checkpoints before it
      .Required("ref_reset_every", &o.ref_reset_every)
      .Required("eval_n", &o.eval_n);
  if (!f.status().ok()) return Corruption("{}", f.status().message());
  return o;
}

namespace {

Status CheckOptions(const GrpoOptions& o) {
  if (o.model.empty()) return InvalidArgument("--model DIR is required");
  if (o.out.empty()) return InvalidArgument("--out DIR is required");
  if (o.group < 2) {
    return InvalidArgument("--group must be at least 2, got {}: GRPO compares the completions of a group", o.group);
  }
  if (o.steps <= 0 || o.prompts <= 0 || o.max_new_tokens <= 0 || o.mu <= 0 || o.micro_batch <= 0) {
    return InvalidArgument("--steps, --prompts, --max-new-tokens, --mu and --micro-batch must be positive");
  }
  if (o.dynamic_sampling < 0) {
    return InvalidArgument("--dynamic-sampling must be >= 0 (0: off), got {}", o.dynamic_sampling);
  }
  if (!(o.temperature > 0)) return InvalidArgument("--temperature must be > 0 for GRPO sampling, got {}", o.temperature);
  if (!(o.top_p > 0 && o.top_p <= 1)) return InvalidArgument("--top-p must be in (0, 1], got {}", o.top_p);
  if (!(o.lr > 0) || o.warmup < 0) return InvalidArgument("--lr must be > 0 and --warmup >= 0");
  if (o.eps_low < 0 || o.eps_low >= 1 || o.eps_high < 0) {
    return InvalidArgument("--eps-low must be in [0, 1) and --eps-high >= 0");
  }
  if (o.beta < 0 || o.clip < 0) return InvalidArgument("--beta and --clip must be >= 0");
  if (o.step_weight < 0) return InvalidArgument("--step-weight must be >= 0 (a penalty), got {}", o.step_weight);
  if (o.ref_reset_every < 0 || o.eval_every < 0 || o.eval_n <= 0 || o.save_every <= 0) {
    return InvalidArgument("--ref-reset-every, --eval-every must be >= 0; --eval-n, --save-every positive");
  }
  if (o.data.empty() && o.tasks.empty()) return InvalidArgument("give --task NAMES or --data FILE.jsonl");
  GORAE_RETURN_IF_ERROR(ParseLossAggregation(o.loss).status());
  GORAE_RETURN_IF_ERROR(ParseRewardScaling(o.scale_rewards).status());
  return Status::Ok();
}

uint64_t Mix(uint64_t a, uint64_t b) {
  train::Rng r{a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e5ull)};
  return r.Next();
}

// The problems of each step, a pure function of (options, step) so a resumed run sees the same.
class ProblemSource {
 public:
  static Result<ProblemSource> Make(const GrpoOptions& o) {
    ProblemSource s;
    s.o_ = &o;
    if (!o.data.empty()) {
      GORAE_ASSIGN_OR_RETURN(s.file_, tasks::ReadProblems(o.data));
      if (s.file_.empty()) return InvalidArgument("{}: no problems", o.data);
    } else {
      for (const std::string& t : o.tasks) GORAE_RETURN_IF_ERROR(tasks::GenerateProblems(t, tasks::Split::kTrain, 1, 1).status());
    }
    return s;
  }

  // Round 0 is the step's batch; rounds 1, 2, ... (dynamic sampling) are further batches.
  Result<std::vector<tasks::Problem>> Step(int64_t step, int64_t round) const {
    std::vector<tasks::Problem> out;
    const int64_t P = o_->prompts;
    if (!file_.empty()) {
      const int64_t n = static_cast<int64_t>(file_.size());
      if (round > 0) {
        // Extra batches draw at random, leaving the epochs of round 0 as they are.
        train::Rng r{Mix(Mix(o_->seed, static_cast<uint64_t>(step)), static_cast<uint64_t>(round))};
        for (int64_t i = 0; i < P; ++i) out.push_back(file_[r.Below(static_cast<uint64_t>(n))]);
        return out;
      }
      // Epochs over a seeded permutation of the file.
      for (int64_t i = step * P; i < (step + 1) * P; ++i) {
        const int64_t epoch = i / n, at = i % n;
        out.push_back(file_[static_cast<size_t>(Permutation(epoch, n)[static_cast<size_t>(at)])]);
      }
      return out;
    }
    const int64_t T = static_cast<int64_t>(o_->tasks.size());
    const uint64_t seed = round == 0 ? o_->seed : Mix(o_->seed, 0xd1a0000 + static_cast<uint64_t>(round));
    for (int64_t t = 0; t < T; ++t) {
      const int64_t count = P / T + (t < P % T ? 1 : 0);
      if (count == 0) continue;
      GORAE_ASSIGN_OR_RETURN(auto ps, tasks::GenerateProblems(o_->tasks[static_cast<size_t>(t)], tasks::Split::kTrain,
                                                              count, Mix(seed, static_cast<uint64_t>(step * T + t))));
      out.insert(out.end(), ps.begin(), ps.end());
    }
    return out;
  }

 private:
  std::vector<int64_t> Permutation(int64_t epoch, int64_t n) const {
    std::vector<int64_t> p(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
    train::Rng r{Mix(o_->seed, static_cast<uint64_t>(epoch) + 7)};
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[r.Below(static_cast<uint64_t>(i + 1))]);
    return p;
  }
  const GrpoOptions* o_ = nullptr;
  std::vector<tasks::Problem> file_;
};


// Samples G completions of each problem, verifies them and appends the groups to *out: every
// group, or with dynamic sampling only those whose rewards differ.
Status SampleRound(const Model& inference, const ChatCodec& codec, const std::vector<tasks::Problem>& problems,
                   const GrpoOptions& o, const RolloutOptions& ro, StepSamples* out) {
  std::vector<std::vector<int>> prompts;
  for (const tasks::Problem& p : problems) {
    GORAE_ASSIGN_OR_RETURN(auto ids, EncodeUserPrompt(codec, p.prompt));
    prompts.push_back(std::move(ids));
  }
  GORAE_ASSIGN_OR_RETURN(auto rollouts, RunRollouts(inference, prompts, o.group, ro));
  const size_t G = static_cast<size_t>(o.group);
  out->kept_per_round.push_back(0);
  for (size_t first = 0; first < rollouts.size(); first += G) {
    std::vector<Sequence> group(G);
    std::vector<double> rewards(G);
    for (size_t k = 0; k < G; ++k) {
      const Rollout& r = rollouts[first + k];
      const tasks::Problem& p = problems[static_cast<size_t>(r.prompt_index)];
      out->gen_tokens += static_cast<int64_t>(r.tokens.size());
      tasks::Verdict v;
      tasks::StatementCount statements;
      if (r.error.empty()) {
        auto text = CompletionText(codec, r.tokens);
        if (text.ok()) {
          v = tasks::Verify(p, *text);
          statements = tasks::CheckStatements(*text);
        }
      } else {
        ++out->failed;
      }
      rewards[k] = o.accuracy_weight * v.correct + o.format_weight * v.formatted - o.step_weight * statements.wrong;
      out->wrong_statements += statements.wrong;
      out->all_rewards.push_back(rewards[k]);
      out->correct += v.correct;
      out->formatted += v.formatted;
      out->per_task[p.task].first += v.correct;
      out->per_task[p.task].second += 1;
      Sequence& s = group[k];
      s.tokens = prompts[static_cast<size_t>(r.prompt_index)];
      s.prompt_len = static_cast<int64_t>(s.tokens.size());
      s.tokens.insert(s.tokens.end(), r.tokens.begin(), r.tokens.end());
      s.mask = r.mask;
      s.old_logp.assign(r.tokens.size(), 0.0f);
      s.ref_logp.assign(r.tokens.size(), 0.0f);
    }
    ++out->groups;
    const bool differ = std::any_of(rewards.begin(), rewards.end(), [&](double x) { return x != rewards[0]; });
    if (o.dynamic_sampling > 0 && !differ) continue;
    ++out->kept_groups;
    ++out->kept_per_round.back();
    for (size_t k = 0; k < G; ++k) {
      out->seqs.push_back(std::move(group[k]));
      out->rewards.push_back(rewards[k]);
    }
  }
  return Status::Ok();
}

// Copies every parameter of `from` into `to` (same config).
void CopyParams(const TrainModel& from, TrainModel& to) {
  const auto& src = from.tensors();
  auto& dst = to.tensors();
  for (size_t k = 0; k < src.size(); ++k) std::copy(src[k].param, src[k].param + src[k].n, dst[k].param);
}

class GrpoProgress {
 public:
  GrpoProgress(bool enabled, int64_t first, int64_t total)
      : enabled_(enabled), tty_(isatty(STDERR_FILENO)), first_(first), total_(total),
        start_(std::chrono::steady_clock::now()) {}
  void Update(int64_t step, double reward, double acc, double len, double tok_s) {
    if (!enabled_) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double eta = elapsed / static_cast<double>(step - first_) * static_cast<double>(total_ - step);
    const int width = 20, filled = static_cast<int>(width * step / std::max<int64_t>(total_, 1));
    const std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.');
    std::fprintf(stderr, "%s[%s] step %lld/%lld  reward %.3f  acc %.3f  len %.0f  %.0f tok/s  ETA %s%s",
                 tty_ ? "\r" : "", bar.c_str(), static_cast<long long>(step), static_cast<long long>(total_), reward, acc,
                 len, tok_s, train::FormatDuration(eta).c_str(), tty_ ? "\033[K" : "\n");
    open_ = tty_;
  }
  void Break() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }

 private:
  bool enabled_, tty_, open_ = false;
  int64_t first_, total_;
  std::chrono::steady_clock::time_point start_;
};

Status WriteGrpoPlot(const std::string& out_dir) {
  std::ifstream in(out_dir + "/metrics.jsonl");
  train::Series reward{"reward (train batch)", "#1f77b4", {}}, acc{"accuracy (train batch)", "#ff7f0e", {}},
      dev{"accuracy (dev split)", "#2ca02c", {}};
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("step")) continue;
    const double step = j["step"].get<double>();
    if (j.contains("reward_mean")) reward.points.push_back({step, j["reward_mean"].get<double>()});
    if (j.contains("accuracy")) acc.points.push_back({step, j["accuracy"].get<double>()});
    if (j.contains("dev_accuracy")) dev.points.push_back({step, j["dev_accuracy"].get<double>()});
  }
  std::vector<train::Series> series = {reward, acc};
  if (!dev.points.empty()) series.push_back(dev);
  return train::WriteLossPlot(out_dir + "/grpo.svg", "gorae grpo: reward and accuracy per step", series);
}

// Problems for evaluation during training: eval_n per task of the dev split (built-in tasks
// only), the split settings are chosen on; the test split is left for reporting.
Result<std::vector<tasks::Problem>> DevProblems(const GrpoOptions& o) {
  std::vector<tasks::Problem> out;
  if (!o.data.empty()) return out;
  for (const std::string& t : o.tasks) {
    GORAE_ASSIGN_OR_RETURN(auto ps, tasks::GenerateProblems(t, tasks::Split::kDev, o.eval_n, o.seed + 1000));
    out.insert(out.end(), ps.begin(), ps.end());
  }
  return out;
}

}  // namespace

Status RunGrpo(const GrpoOptions& cli) {
  GrpoOptions o = cli;
  if (cli.out.empty()) return InvalidArgument("--out DIR is required");
  const std::string ckpt_dir = cli.out + "/checkpoint", ref_dir = cli.out + "/reference";
  const std::string metrics_path = cli.out + "/metrics.jsonl";
  train::LoadedCheckpoint ck;
  if (cli.resume) {
    GORAE_ASSIGN_OR_RETURN(ck, train::LoadCheckpointMeta(ckpt_dir));
    GORAE_ASSIGN_OR_RETURN(o, GrpoOptions::FromJson(ck.trainer_state["options"], ck.dir + "/trainer_state.json: options"));
    o.out = cli.out;
    o.steps = std::max(cli.steps, o.steps);
    o.threads = cli.threads;
    o.parallel = cli.parallel;
    o.progress = cli.progress;
    o.stop_after = cli.stop_after;
  } else if (fs::exists(ckpt_dir)) {
    return InvalidArgument("'{}' already holds a checkpoint: pass --resume to continue it, or choose another --out",
                           cli.out);
  }
  GORAE_RETURN_IF_ERROR(CheckOptions(o));
  GORAE_RETURN_IF_ERROR(dist::CheckSameOnAllRanks("the grpo options", o.ToJson().dump()));
  if (o.parallel.expert_parallel > 1) {
    return Unsupported("--expert-parallel is supported by pretrain only so far (grpo's ranks hold different numbers of "
                       "sequences, and every rank must join every all-to-all)");
  }
  SetNumThreads(o.threads);
  const LossAggregation aggregation = *ParseLossAggregation(o.loss);
  const RewardScaling scaling = *ParseRewardScaling(o.scale_rewards);
  GORAE_ASSIGN_OR_RETURN(ProblemSource source, ProblemSource::Make(o));
  GORAE_ASSIGN_OR_RETURN(std::vector<tasks::Problem> dev, DevProblems(o));

  // Policy, optimizer, reference.
  const std::string policy_dir = cli.resume ? ck.dir : o.model;
  GORAE_ASSIGN_OR_RETURN(auto policy, train::LoadModelForTraining(policy_dir));
  const ModelConfig& config = policy->config();
  GORAE_ASSIGN_OR_RETURN(ChatCodec codec, LoadChatCodec(policy_dir, config.eos_token_ids));
  if (codec.tok->vocab_size() > config.vocab_size) {
    return InvalidArgument("'{}': the tokenizer has {} tokens but the model's vocab_size is {}", policy_dir,
                           codec.tok->vocab_size(), config.vocab_size);
  }
  train::AdamWState full_opt = train::NewAdamWState(*policy);
  int64_t step = 0;
  if (cli.resume) {
    GORAE_RETURN_IF_ERROR(train::LoadCheckpointWeights(ck, *policy, full_opt));
    step = ck.step;
    GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] { return train::TrimMetrics(metrics_path, step); }));
    fmt::print(stderr, "resumed from {} at step {}\n", ck.dir, step);
  }
  std::unique_ptr<TrainModel> ref;
  if (o.beta > 0) {
    const bool saved_ref = cli.resume && o.ref_reset_every > 0 && fs::exists(ref_dir + "/config.json");
    GORAE_ASSIGN_OR_RETURN(ref, train::LoadModelForTraining(saved_ref ? ref_dir : o.model));
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return IOError("cannot create '{}': {}", o.out, ec.message());
  if (!cli.resume && dist::IsRoot()) std::ofstream(metrics_path, std::ios::trunc);
  GORAE_ASSIGN_OR_RETURN(std::unique_ptr<train::GradReducer> reducer, train::MakeGradReducer(*policy, o.parallel));
  train::AdamWState opt = train::RankOptimizerState(reducer.get(), full_opt);
  full_opt = {};
  const int pad_id = codec.tok->pad_id() >= 0 ? codec.tok->pad_id() : codec.stop_ids[0];
  GrpoLossConfig lc{o.eps_low, o.eps_high, o.beta, aggregation, o.max_new_tokens};

  auto save = [&]() -> Status {
    nlohmann::json state = {{"step", step}, {"rng_state", 0}, {"options", o.ToJson()}};
    return train::SaveFromRoot(reducer.get(), opt, [&](const train::AdamWState& full) {
      return train::SaveCheckpoint(ckpt_dir, *policy, full, state, policy_dir);
    });
  };
  auto evaluate = [&](nlohmann::ordered_json& m) -> Status {
    if (dev.empty()) return Status::Ok();
    GORAE_ASSIGN_OR_RETURN(auto inference, policy->InferenceModel());
    EvalOptions eo;
    eo.max_new_tokens = o.max_new_tokens;
    GORAE_ASSIGN_OR_RETURN(EvalReport rep, EvaluateOnRanks(*inference, codec, dev, eo));
    m["dev_accuracy"] = rep.accuracy;
    for (const TaskScore& s : rep.per_task) m["dev"][s.task] = s.pass1;
    return Status::Ok();
  };

  fmt::print(stderr, "{}\n", train::DescribeModel(*policy));
  fmt::print(stderr, "grpo: {} steps x {} prompts x {} completions, loss {}, beta {}, mu {}, lr {}\n", o.steps,
             o.prompts, o.group, o.loss, o.beta, o.mu, o.lr);
  if (reducer) {
    fmt::print(stderr, "data parallel: {} ranks split the {} groups of each round, ZeRO stage {}\n",
               dist::World().size(), o.prompts, reducer->zero_stage());
  }
  std::ofstream metrics;
  if (dist::IsRoot()) metrics.open(metrics_path, std::ios::app);
  const int64_t first_step = step;
  GrpoProgress progress(o.progress && dist::IsRoot(), first_step, o.steps);
  train::ModelStep runner(*policy);
  if (reducer) runner.SetBlockDoneHook([&](int64_t block) { reducer->BlockDone(block); });
  dist::Communicator& world = dist::World();
  while (step < o.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    nlohmann::ordered_json m;
    m["step"] = step + 1;
    if (o.eval_every > 0 && step == first_step && step == 0) {
      GORAE_RETURN_IF_ERROR(evaluate(m));
    }

    // 1. Rollouts from the current policy, verified; with dynamic sampling, further batches
    // until P groups with differing rewards are kept.
    GORAE_ASSIGN_OR_RETURN(auto inference, policy->InferenceModel());
    RolloutOptions ro;
    ro.max_new_tokens = o.max_new_tokens;
    ro.sampler.temperature = o.temperature;
    ro.sampler.top_p = o.top_p;
    ro.stop_ids = codec.stop_ids;
    ro.logprob_temperature = o.temperature;
    ro.vocab_limit = codec.tok->vocab_size();
    // Each rank rolls out its share of every round's problems, seeded by their global positions.
    StepSamples sampled;
    const int64_t rounds = std::max<int64_t>(1, o.dynamic_sampling);
    for (int64_t round = 0, kept = 0; round < rounds && kept < o.prompts; ++round) {
      GORAE_ASSIGN_OR_RETURN(auto problems, source.Step(step, round));
      const auto [p0, p1] = dist::ShareOf(static_cast<int64_t>(problems.size()), world.rank(), world.size());
      const std::vector<tasks::Problem> mine(problems.begin() + p0, problems.begin() + p1);
      const uint64_t step_seed = Mix(o.seed, static_cast<uint64_t>(step) + 0x5eed);
      ro.sampler.seed = (round == 0 ? step_seed : Mix(step_seed, static_cast<uint64_t>(round))) +
                        static_cast<uint64_t>(p0 * o.group);
      Status st = mine.empty() ? Status::Ok() : SampleRound(*inference, codec, mine, o, ro, &sampled);
      if (mine.empty()) sampled.kept_per_round.push_back(0);
      if (world.SumInt(st.ok() ? 0 : 1) > 0) {
        return st.ok() ? Status(StatusCode::kInternal, fmt::format("step {}: sampling failed on another rank", step + 1)) : st;
      }
      kept = world.SumInt(sampled.kept_groups);
    }
    if (o.dynamic_sampling > 0) KeepFirstGroups(sampled, o.prompts, o.group);
    const int64_t kept_groups = GatherTallies(sampled);
    std::vector<Sequence>& seqs = sampled.seqs;
    const double rollout_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // 2. Advantages and the loss aggregation's token weights.
    // The aggregation normalises over the whole step: global sequence and token counts.
    const size_t N = seqs.size();  // this rank's
    int64_t counted_tokens = 0;
    for (const Sequence& s : seqs) {
      for (uint8_t x : s.mask) counted_tokens += x;
    }
    counted_tokens = world.SumInt(counted_tokens);
    const int64_t global_n = world.SumInt(static_cast<int64_t>(N));
    const std::vector<double> adv = RankAdvantages(sampled.rewards, o.group, scaling);
    for (size_t k = 0; k < N; ++k) {
      int64_t n = 0;
      for (uint8_t x : seqs[k].mask) n += x;
      seqs[k].advantage = adv[k];
      seqs[k].weight = TokenWeight(aggregation, n, global_n, counted_tokens, o.max_new_tokens);
    }

    // 3. Reference and sampling-policy log-probabilities, then mu passes of the GRPO update.
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<std::vector<Sequence*>> micro;
    for (size_t k = 0; k < N; k += static_cast<size_t>(o.micro_batch)) {
      std::vector<Sequence*> mb;
      for (size_t i = k; i < std::min(N, k + static_cast<size_t>(o.micro_batch)); ++i) mb.push_back(&seqs[i]);
      micro.push_back(std::move(mb));
    }
    const bool use_ref = ref != nullptr, use_old = o.mu > 1;
    for (const auto& mb : micro) {
      if (use_ref) GORAE_RETURN_IF_ERROR(RecordLogProbs(*ref, mb, pad_id, o.temperature, /*ref=*/true));
      if (use_old) GORAE_RETURN_IF_ERROR(RecordLogProbs(*policy, mb, pad_id, o.temperature, /*ref=*/false));
    }
    PassStats first;
    double grad_norm = 0.0;
    const double lr = o.warmup > 0 ? o.lr * std::min(1.0, static_cast<double>(step + 1) / o.warmup) : o.lr;
    // With dynamic sampling a step may keep no group at all: then there is nothing to update.
    for (int64_t pass = 0; pass < o.mu && global_n > 0; ++pass) {
      PassStats ps;
      policy->ZeroGrad();
      Status failed = Status::Ok();
      for (size_t i = 0; i < micro.size() && failed.ok(); ++i) {
        if (reducer && i + 1 == micro.size()) reducer->Arm(config.num_hidden_layers);  // GRPO runs no MTP module
        failed = GrpoForwardBackward(runner, micro[i], pad_id, o.temperature, lc, use_old, use_ref, &ps);
      }
      if (reducer) reducer->Finish();
      if (world.SumInt(failed.ok() ? 0 : 1) > 0) {
        return failed.ok() ? Status(StatusCode::kInternal, fmt::format("step {}: the update failed on another rank", step + 1))
                           : failed;
      }
      AllReducePassStats(ps);
      if (pass == 0) first = ps;
      GORAE_ASSIGN_OR_RETURN(grad_norm, train::GuardedOptimizerStep(*policy, opt, o.adamw, lr, o.clip, ps.loss,
                                                                    step + 1, ckpt_dir, reducer.get()));
    }
    if (reducer) reducer->TakeStats();
    if (o.ref_reset_every > 0 && ref && (step + 1) % o.ref_reset_every == 0) {
      CopyParams(*policy, *ref);
      GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] {
        train::AdamWState none = train::NewAdamWState(*ref);
        return train::SaveCheckpoint(ref_dir, *ref, none, {{"step", step + 1}}, policy_dir);
      }));
    }
    ++step;
    const auto t2 = std::chrono::steady_clock::now();
    const double update_s = std::chrono::duration<double>(t2 - t1).count();
    const double step_s = std::chrono::duration<double>(t2 - t0).count();

    // 4. Metrics, evaluation, checkpoint.
    const double sampled_n = static_cast<double>(std::max<size_t>(sampled.all_rewards.size(), 1));
    double mean = 0.0, var = 0.0;
    for (double r : sampled.all_rewards) mean += r;
    mean /= sampled_n;
    for (double r : sampled.all_rewards) var += (r - mean) * (r - mean);
    const double tokens = static_cast<double>(std::max<int64_t>(first.tokens, 1));
    m["reward_mean"] = mean;
    m["reward_std"] = std::sqrt(var / sampled_n);
    m["accuracy"] = static_cast<double>(sampled.correct) / sampled_n;
    m["format"] = static_cast<double>(sampled.formatted) / sampled_n;
    for (const auto& [task, rt] : sampled.per_task) {
      m["task_accuracy"][task] = static_cast<double>(rt.first) / static_cast<double>(rt.second);
    }
    m["response_length"] = static_cast<double>(sampled.gen_tokens) / sampled_n;
    m["wrong_statements"] = static_cast<double>(sampled.wrong_statements) / sampled_n;
    if (o.dynamic_sampling > 0) {
      m["groups_sampled"] = sampled.groups;
      m["groups_kept"] = kept_groups;
    }
    if (world.size() > 1) m["ranks"] = world.size();
    m["loss"] = first.loss;
    m["kl"] = first.kl / tokens;
    m["clip_fraction"] = static_cast<double>(first.clipped) / tokens;
    m["entropy"] = first.entropy / tokens;
    m["grad_norm"] = grad_norm;
    m["lr"] = lr;
    m["failed_rollouts"] = sampled.failed;
    m["rollout_tokens"] = sampled.gen_tokens;
    m["rollout_s"] = rollout_s;
    m["rollout_tokens_per_s"] = static_cast<double>(sampled.gen_tokens) / rollout_s;
    m["update_s"] = update_s;
    m["step_s"] = step_s;
    if (o.eval_every > 0 && (step % o.eval_every == 0 || step == o.steps)) GORAE_RETURN_IF_ERROR(evaluate(m));
    if (dist::IsRoot()) {
      metrics << m.dump() << "\n";
      metrics.flush();
    }
    progress.Update(step, mean, m["accuracy"].get<double>(), m["response_length"].get<double>(),
                    static_cast<double>(sampled.gen_tokens) / rollout_s);
    const bool stopping = o.stop_after > 0 && step - first_step >= o.stop_after;
    if (step % o.save_every == 0 || step == o.steps || stopping) {
      GORAE_RETURN_IF_ERROR(save());
      GORAE_RETURN_IF_ERROR(dist::RunOnRoot([&] { return WriteGrpoPlot(o.out); }));
    }
    if (stopping) break;
  }
  progress.Break();
  fmt::print(stderr, "done: step {}, checkpoint {}, metrics {}, plot {}/grpo.svg\n", step, ckpt_dir, metrics_path,
             o.out);
  return Status::Ok();
}

}  // namespace gorae::rl
