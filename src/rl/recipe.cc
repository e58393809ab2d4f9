#include "rl/recipe.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/threads.h"
#include "io/mapped_file.h"
#include "model/presets.h"
#include "model/random_init.h"
#include "model/transformer.h"
#include "rl/chat_io.h"
#include "rl/eval.h"
#include "rl/grpo.h"
#include "rl/rollout.h"
#include "tasks/tasks.h"
#include "tokenizer/trainer.h"
#include "train/pretrain.h"
#include "train/sft.h"

namespace gorae::rl {

namespace fs = std::filesystem;

namespace {

// The sizes of every stage. The defaults fit the whole recipe in about 15 minutes on 2 cores
// (measured stage by stage, docs/r1.md); a --sizes file scales them for other machines.
struct Scale {
  int64_t corpus_docs = 16000;
  int64_t fact_drills = 4000;     // drill documents of one-digit facts mixed into the corpus (tasks.h FactDrills)
  int64_t short_operands = 1;  // 1: corpus and SFT arithmetic with operand lengths uniform (tasks.h Sampling)
  int64_t vocab = 384;
  int64_t hidden = 128;
  int64_t layers = 4;
  int64_t pretrain_steps = 800, pretrain_batch = 16, pretrain_seq = 256;
  double pretrain_lr = 3e-3;
  int64_t sft_per_task = 300, sft_steps = 80, sft_batch = 16;
  double sft_lr = 1e-3;
  // GRPO: 16 groups of 8 completions per step at temperature 0.6 (at 1.0 a 180-token trace
  // almost never survives sampling), kept by dynamic sampling from up to 3 batches (about 2 in 3
  // groups are all wrong: they teach nothing), token-level (dapo) loss, no KL term. Without
  // dynamic sampling, learning rates of 6e-5 and more lowered the dev-split accuracy; with it, 6e-5
  // raised it by 7 points in 30 steps (docs/r1.md).
  int64_t grpo_steps = 30, grpo_prompts = 16, grpo_group = 8, grpo_dynamic_sampling = 3, grpo_eval_every = 10;
  double grpo_lr = 6e-5, grpo_beta = 0.0, grpo_temperature = 0.6;
  int64_t max_new_tokens = 384;  // the longest trace (a 999*99-like product) is about 360 tokens
  int64_t eval_n = 100;  // test-split problems per task (one standard error of an accuracy near 25%: 2.5 points)
};

#define GORAE_SCALE_FIELDS(X)                                                                               \
  X(corpus_docs) X(fact_drills) X(short_operands) X(vocab) X(hidden) X(layers) X(pretrain_steps) X(pretrain_batch) X(pretrain_seq) X(pretrain_lr) \
  X(sft_per_task) X(sft_steps) X(sft_batch) X(sft_lr) X(grpo_steps) X(grpo_prompts) X(grpo_group)             \
  X(grpo_dynamic_sampling) X(grpo_eval_every) X(grpo_lr) X(grpo_beta) X(grpo_temperature) X(max_new_tokens) X(eval_n)

nlohmann::ordered_json ScaleToJson(const Scale& s) {
  nlohmann::ordered_json j;
#define X(f) j[#f] = s.f;
  GORAE_SCALE_FIELDS(X)
#undef X
  return j;
}

Result<Scale> ScaleFromFile(const std::string& path, Scale s) {
  GORAE_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return InvalidArgument("{}: not a JSON object", path);
  const nlohmann::ordered_json known = ScaleToJson(s);
  for (const auto& [key, value] : j.items()) {
    if (!known.contains(key)) return InvalidArgument("{}: unknown size '{}' (known: {})", path, key, known.dump());
    if (!value.is_number()) return InvalidArgument("{}: '{}' must be a number", path, key);
  }
#define X(f) \
  if (j.contains(#f)) s.f = j[#f].get<decltype(s.f)>();
  GORAE_SCALE_FIELDS(X)
#undef X
  return s;
}

Scale QuickScale() {
  Scale s;
  s.corpus_docs = 300;
  s.fact_drills = 20;
  s.vocab = 300;
  s.pretrain_steps = 4;
  s.pretrain_batch = 4;
  s.pretrain_seq = 64;
  s.sft_per_task = 8;
  s.sft_steps = 2;
  s.sft_batch = 4;
  s.grpo_steps = 2;
  s.grpo_prompts = 3;
  s.grpo_group = 2;
  s.grpo_eval_every = 1;
  s.max_new_tokens = 24;
  s.eval_n = 2;
  return s;
}

// The demo's model: DeepSeek-V3's structure (MLA with low-rank q, sigmoid noaux_tc routing over
// expert groups, a shared expert, a dense first layer, MTP) at a size 2 cores train in minutes.
ModelConfig DemoModelConfig(const Scale& s, int64_t vocab, int bos, int eos) {
  ModelConfig c = *PresetConfig("tiny", 0);
  c.vocab_size = (vocab + 63) / 64 * 64;
  const int64_t h = s.hidden;
  c.hidden_size = h;
  c.intermediate_size = 3 * h;
  c.moe_intermediate_size = 3 * h / 4;
  c.num_hidden_layers = s.layers;
  c.num_attention_heads = 4;
  c.q_lora_rank = 3 * h / 4;
  c.kv_lora_rank = h / 2;
  c.qk_nope_head_dim = h / 4;
  c.qk_rope_head_dim = h / 8;
  c.v_head_dim = h / 4;
  c.n_routed_experts = 8;
  c.num_experts_per_tok = 2;
  c.n_group = 4;
  c.topk_group = 2;
  c.max_position_embeddings = 1024;
  c.bos_token_id = bos;
  c.eos_token_ids = {eos};
  return c;
}

Status WriteText(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return IOError("cannot write '{}'", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return IOError("cannot rename '{}' to '{}': {}", tmp, path, ec.message());
  return Status::Ok();
}

// OUT/<stage> -> runs/<stage>/checkpoint, so every stage's model is one directory name.
Status LinkStage(const std::string& out, const std::string& stage) {
  const fs::path link = fs::path(out) / stage;
  std::error_code ec;
  fs::remove(link, ec);
  fs::create_directory_symlink(fs::path("runs") / stage / "checkpoint", link, ec);
  if (ec) return IOError("cannot link '{}' to runs/{}/checkpoint: {}", link.string(), stage, ec.message());
  return Status::Ok();
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct StageRow {
  std::string stage;
  EvalReport report;
  double seconds = 0.0;
};

// Evaluates a stage's model on the test problems and prints one line of its scores, so the
// demo shows progress as it goes (the report card at the end has them all).
Result<EvalReport> EvaluateStage(const std::string& stage, const std::string& model_dir,
                                 const std::vector<tasks::Problem>& test, const Scale& s, bool progress) {
  GORAE_ASSIGN_OR_RETURN(auto model, Model::Load(model_dir));
  GORAE_ASSIGN_OR_RETURN(ChatCodec codec, LoadChatCodec(model_dir, model->config().eos_token_ids));
  EvalOptions eo;
  eo.max_new_tokens = static_cast<int>(s.max_new_tokens);
  eo.progress = progress;
  GORAE_ASSIGN_OR_RETURN(EvalReport r, Evaluate(*model, codec, test, eo));
  std::string line = fmt::format("   test accuracy of {}: {:.1f}% (+- {:.1f})", stage, 100 * r.accuracy, 100 * r.StandardError());
  for (const TaskScore& t : r.per_task) line += fmt::format(", {} {:.1f}%", t.task, 100 * t.pass1);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  return r;
}

std::string ReportCard(const std::vector<StageRow>& rows) {
  std::string s = fmt::format("| {:<5} | {:>10} | {:>7} | {:>9} | {:>6} | {:>9} | {:>11} | {:>8} |\n", "stage",
                              "arithmetic", "linear", "countdown", "all", "std error", "mean length", "time");
  s += "|-------|------------|---------|-----------|--------|-----------|-------------|----------|\n";
  for (const StageRow& r : rows) {
    auto acc = [&](const std::string& task) {
      for (const TaskScore& t : r.report.per_task) {
        if (t.task == task) return fmt::format("{:.1f}%", 100 * t.pass1);
      }
      return std::string("-");
    };
    s += fmt::format("| {:<5} | {:>10} | {:>7} | {:>9} | {:>5.1f}% | {:>9} | {:>11.1f} | {:>7.0f}s |\n", r.stage,
                     acc("arithmetic"), acc("linear"), acc("countdown"), 100 * r.report.accuracy,
                     fmt::format("{:.1f}", 100 * r.report.StandardError()), r.report.mean_length, r.seconds);
  }
  return s;
}

}  // namespace

std::string RecipeSizesJson() { return ScaleToJson(Scale{}).dump(2); }

Status RunRecipe(const RecipeOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  Scale s = o.quick ? QuickScale() : Scale{};
  if (!o.sizes.empty()) {
    GORAE_ASSIGN_OR_RETURN(s, ScaleFromFile(o.sizes, s));
  }
  SetNumThreads(o.threads);
  const std::string out = o.out, runs = o.out + "/runs", data = o.out + "/data", tok_dir = o.out + "/tokenizer";
  std::error_code ec;
  fs::create_directories(runs, ec);
  fs::create_directories(data, ec);
  if (ec) return IOError("cannot create '{}': {}", runs, ec.message());
  for (const char* stage : {"base", "sft", "grpo"}) {
    if (fs::exists(runs + "/" + stage)) {
      return InvalidArgument("'{}' already holds a demo run ({}/{}); remove it or pass another --out", out, runs, stage);
    }
  }
  std::printf("gorae demo: the DeepSeek-R1 recipe on built-in verifiable tasks, in %s\n\n", out.c_str());

  // 1. Corpus and cold-start data.
  std::printf("1. corpus: %lld worked solutions (arithmetic, linear equations, countdown) and %lld fact drills\n",
              static_cast<long long>(s.corpus_docs), static_cast<long long>(s.fact_drills));
  const tasks::Sampling sampling = s.short_operands != 0 ? tasks::Sampling::kShortOperands : tasks::Sampling::kTask;
  std::vector<std::string> corpus = tasks::PretrainingCorpus(s.corpus_docs, o.seed, sampling);
  if (s.fact_drills > 0) {
    // Spread the drills evenly through the documents (pretraining reads them in order).
    const std::vector<std::string> drills = tasks::FactDrills(s.fact_drills, o.seed);
    std::vector<std::string> mixed;
    mixed.reserve(corpus.size() + drills.size());
    const size_t total = corpus.size() + drills.size();
    for (size_t i = 0, c = 0, d = 0; i < total; ++i) {
      const bool take_drill = d < drills.size() && (c == corpus.size() || d * total <= i * drills.size());
      mixed.push_back(take_drill ? drills[d++] : corpus[c++]);
    }
    corpus = std::move(mixed);
  }
  std::string jsonl, text;
  for (const std::string& d : corpus) {
    jsonl += nlohmann::json({{"text", d}}).dump() + "\n";
    text += d + "\n\n";
  }
  std::vector<train::Conversation> cold;
  for (const std::string& task : tasks::BuiltinTasks()) {
    GORAE_ASSIGN_OR_RETURN(auto problems, tasks::GenerateProblems(task, tasks::Split::kTrain, s.sft_per_task, o.seed + 17, sampling));
    for (const tasks::Problem& p : problems) {
      train::Conversation c;
      c.messages = {{"user", p.prompt, std::nullopt},
                    {"assistant", "<answer>" + tasks::AnswerText(p) + "</answer>", tasks::WorkedSolution(p)}};
      c.source = "cold-start " + task;
      text += tasks::R1Response(p) + "\n\n";  // so the tokenizer sees the answer format too
      cold.push_back(std::move(c));
    }
  }
  GORAE_RETURN_IF_ERROR(WriteText(data + "/corpus.jsonl", jsonl));
  GORAE_RETURN_IF_ERROR(WriteText(data + "/tokenizer_corpus.txt", text));

  // 2. Tokenizer.
  auto t0 = std::chrono::steady_clock::now();
  tokenizer::TrainerOptions to;
  to.files = {data + "/tokenizer_corpus.txt"};
  to.vocab_size = static_cast<int>(s.vocab);
  to.out_dir = tok_dir;
  to.split_digits = true;
  to.threads = o.threads;
  to.progress = o.progress;
  GORAE_RETURN_IF_ERROR(tokenizer::TrainTokenizer(to));
  GORAE_ASSIGN_OR_RETURN(auto tok, tokenizer::Tokenizer::Load(tok_dir));
  std::printf("2. tokenizer: %d tokens, digits one by one (%.1fs)\n", tok->vocab_size(), Seconds(t0));

  // 3. Pretraining.
  t0 = std::chrono::steady_clock::now();
  const ModelConfig config = DemoModelConfig(s, tok->vocab_size(), tok->bos_id(), tok->eos_id());
  nlohmann::ordered_json cj = ModelConfigToJson(config);
  cj["num_nextn_predict_layers"] = 1;
  GORAE_RETURN_IF_ERROR(WriteText(data + "/model_config.json", cj.dump(2) + "\n"));
  train::PretrainOptions po;
  po.config = data + "/model_config.json";
  po.tokenizer_dir = tok_dir;
  po.data = {data + "/corpus.jsonl"};
  po.out = runs + "/base";
  po.steps = s.pretrain_steps;
  po.batch = s.pretrain_batch;
  po.seq = s.pretrain_seq;
  po.lr = s.pretrain_lr;
  po.seed = o.seed;
  po.threads = o.threads;
  po.progress = o.progress;
  po.eval_every = std::max<int64_t>(1, s.pretrain_steps / 10);
  po.save_every = s.pretrain_steps;
  std::printf("3. pretraining a DeepSeekMoE model (MLA, 8 routed + 1 shared experts, MTP): %lld steps of %lld x %lld tokens\n",
              static_cast<long long>(po.steps), static_cast<long long>(po.batch), static_cast<long long>(po.seq));
  std::fflush(stdout);
  GORAE_RETURN_IF_ERROR(train::RunPretrain(po));
  GORAE_RETURN_IF_ERROR(LinkStage(out, "base"));
  const double base_s = Seconds(t0);

  // Test problems, the same for every stage: the report's figures. The demo's settings were
  // chosen on the dev split (GRPO's curve below), never on these.
  std::vector<tasks::Problem> test;
  for (const std::string& task : tasks::BuiltinTasks()) {
    GORAE_ASSIGN_OR_RETURN(auto ps, tasks::GenerateProblems(task, tasks::Split::kTest, s.eval_n, o.seed + 2000));
    test.insert(test.end(), ps.begin(), ps.end());
  }
  std::vector<StageRow> rows;
  GORAE_ASSIGN_OR_RETURN(EvalReport base_eval, EvaluateStage("base", out + "/base", test, s, o.progress));
  rows.push_back({"base", base_eval, base_s});

  // 4. SFT on cold-start traces.
  std::string policy = out + "/base";
  if (!o.zero) {
    t0 = std::chrono::steady_clock::now();
    train::SftOptions so;
    so.model = out + "/base";
    so.conversations = cold;
    so.out = runs + "/sft";
    so.steps = s.sft_steps;
    so.batch = s.sft_batch;
    so.seq = s.max_new_tokens + 64;
    so.lr = s.sft_lr;
    so.seed = o.seed;
    so.threads = o.threads;
    so.progress = o.progress;
    so.save_every = s.sft_steps;
    so.eval_every = std::max<int64_t>(1, s.sft_steps / 5);
    std::printf("4. SFT on %zu cold-start R1-format traces: %lld steps\n", cold.size(), static_cast<long long>(so.steps));
    std::fflush(stdout);
    GORAE_RETURN_IF_ERROR(train::RunSft(so));
    GORAE_RETURN_IF_ERROR(LinkStage(out, "sft"));
    const double sft_s = Seconds(t0);
    GORAE_ASSIGN_OR_RETURN(EvalReport sft_eval, EvaluateStage("sft", out + "/sft", test, s, o.progress));
    rows.push_back({"sft", sft_eval, sft_s});
    policy = out + "/sft";
  }

  // 5. GRPO.
  t0 = std::chrono::steady_clock::now();
  GrpoOptions go;
  go.model = policy;
  go.out = runs + "/grpo";
  go.steps = s.grpo_steps;
  go.prompts = s.grpo_prompts;
  go.group = s.grpo_group;
  go.dynamic_sampling = s.grpo_dynamic_sampling;
  go.max_new_tokens = static_cast<int>(s.max_new_tokens);
  go.beta = s.grpo_beta;
  go.temperature = static_cast<float>(s.grpo_temperature);
  go.loss = "dapo";
  go.lr = s.grpo_lr;
  go.eval_every = s.grpo_eval_every;
  go.eval_n = s.eval_n;  // the curve in grpo.svg: the dev split, where settings are chosen
  go.save_every = s.grpo_steps;
  go.seed = o.seed;
  go.threads = o.threads;
  go.progress = o.progress;
  std::printf("%d. GRPO%s: %lld steps x %lld groups of %lld completions (dynamic sampling: up to %lld batches), "
              "rewards accuracy + format\n",
              o.zero ? 4 : 5, o.zero ? " (R1-Zero: from the base model)" : "", static_cast<long long>(go.steps),
              static_cast<long long>(go.prompts), static_cast<long long>(go.group),
              static_cast<long long>(std::max<int64_t>(1, go.dynamic_sampling)));
  std::fflush(stdout);
  GORAE_RETURN_IF_ERROR(RunGrpo(go));
  GORAE_RETURN_IF_ERROR(LinkStage(out, "grpo"));
  const double grpo_s = Seconds(t0);
  GORAE_ASSIGN_OR_RETURN(EvalReport grpo_eval, EvaluateStage("grpo", out + "/grpo", test, s, o.progress));
  rows.push_back({"grpo", grpo_eval, grpo_s});

  // 6. Report card, and the final model answering a question.
  const std::string card = ReportCard(rows);
  std::printf("\ntest-split accuracy (pass@1, greedy, %lld problems per task, %lld in all; binomial standard "
              "error in points):\n\n%s\n",
              static_cast<long long>(s.eval_n), static_cast<long long>(test.size()), card.c_str());
  GORAE_ASSIGN_OR_RETURN(auto model, Model::Load(out + "/grpo"));
  GORAE_ASSIGN_OR_RETURN(ChatCodec codec, LoadChatCodec(out + "/grpo", model->config().eos_token_ids));
  const std::string question = "What is 347 + 589?";
  GORAE_ASSIGN_OR_RETURN(auto prompt, EncodeUserPrompt(codec, question));
  RolloutOptions ro;
  ro.max_new_tokens = static_cast<int>(s.max_new_tokens);
  ro.sampler.temperature = 0;  // greedy
  ro.stop_ids = codec.stop_ids;
  ro.vocab_limit = codec.tok->vocab_size();
  GORAE_ASSIGN_OR_RETURN(auto gen, RunRollouts(*model, {prompt}, 1, ro));
  GORAE_ASSIGN_OR_RETURN(std::string answer, CompletionText(codec, gen[0].tokens));
  tasks::Problem p;
  p.task = "arithmetic";
  p.prompt = question;
  p.answer = "936";
  const tasks::Verdict v = tasks::Verify(p, answer);
  std::printf("the final model, asked \"%s\":\n%s\n(%s, %s)\n\n", question.c_str(), answer.c_str(),
              v.formatted ? "R1 format" : "NOT in the R1 format", v.correct ? "correct" : "wrong");

  const std::string md = fmt::format(
      "# gorae demo report\n\nTest-split accuracy (pass@1, greedy, {} problems per task, {} in all; binomial standard "
      "error in points). The settings were chosen on the dev split; nothing was tuned on the test split.\n\n{}\n"
      "Plots: runs/base/loss.svg (pretraining), {}runs/grpo/grpo.svg (GRPO reward and accuracy).\n\n"
      "The final model, asked \"{}\":\n\n```\n{}\n```\n",
      s.eval_n, test.size(), card, o.zero ? "" : "runs/sft/loss.svg (SFT), ", question, answer);
  GORAE_RETURN_IF_ERROR(WriteText(out + "/report.md", md));
  std::printf("total %.0fs. Models: %s/base%s, %s/grpo; report %s/report.md; plots %s/runs/*/*.svg\n", Seconds(start),
              out.c_str(), o.zero ? "" : fmt::format(", {}/sft", out).c_str(), out.c_str(), out.c_str(), out.c_str());
  std::printf("next: gorae generate --model %s/grpo --chat \"What is 12 * 34?\"\n", out.c_str());
  return Status::Ok();
}

}  // namespace gorae::rl
