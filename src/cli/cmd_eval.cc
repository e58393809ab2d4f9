// gorae eval: accuracy on verifiable problems (see src/rl/eval.h). The last stdout line is one
// JSON object: {"accuracy", "per_task", "n", "mean_length"}.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/threads.h"
#include "rl/eval.h"

namespace gorae::cli {

namespace {

struct EvalCliOptions {
  std::string model_dir, data, task, split = "dev", responses;
  int64_t n = 50;
  uint64_t seed = 1;
  int threads = 0;
  bool progress = true;
  rl::EvalOptions eval;
};

int RunEval(EvalCliOptions& o) {
  SetNumThreads(o.threads);
  std::vector<tasks::Problem> problems;
  if (!o.data.empty() == !o.task.empty()) return ReportError("give either --data FILE.jsonl or --task NAME(S)");
  if (!o.data.empty()) {
    auto p = tasks::ReadProblems(o.data);
    if (!p.ok()) return ReportError(p.status().message());
    problems = std::move(*p);
  } else {
    auto split = tasks::ParseSplit(o.split);
    if (!split.ok()) return ReportError(split.status().message());
    for (size_t start = 0; start <= o.task.size();) {
      size_t end = o.task.find(',', start);
      if (end == std::string::npos) end = o.task.size();
      const std::string name = o.task.substr(start, end - start);
      start = end + 1;
      if (name.empty()) continue;
      auto p = tasks::GenerateProblems(name, *split, o.n, o.seed);
      if (!p.ok()) return ReportError(p.status().message());
      problems.insert(problems.end(), p->begin(), p->end());
    }
  }
  auto model = Model::Load(o.model_dir);
  if (!model.ok()) return ReportError(model.status().message());
  auto codec = rl::LoadChatCodec(o.model_dir, (*model)->config().eos_token_ids);
  if (!codec.ok()) return ReportError(codec.status().message());
  o.eval.progress = o.progress;
  auto report = rl::Evaluate(**model, *codec, problems, o.eval);
  if (!report.ok()) return ReportError(report.status().message());
  if (!o.responses.empty()) {
    const Status st = rl::WriteResponses(o.responses, *report);
    if (!st.ok()) return ReportError(st.message());
  }
  std::printf("%s", report->Table().c_str());
  std::printf("%s\n", report->ToJson().dump().c_str());
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<EvalCliOptions>();
  auto* cmd = app.add_subcommand("eval", "accuracy on verifiable problems (pass@1 greedy, pass@k, maj@k)");
  cmd->add_option("--model", o->model_dir, "model directory with tokenizer and chat template")->required();
  cmd->add_option("--data", o->data, "JSONL problems ({\"task\", \"prompt\", \"answer\", ...})");
  cmd->add_option("--task", o->task, "built-in tasks instead of --data: arithmetic,linear,countdown");
  cmd->add_option("--split", o->split, "split of the built-in tasks: train, dev (choose settings on it) or test (report it)")->capture_default_str();
  cmd->add_option("--n", o->n, "problems per built-in task")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--samples", o->eval.samples, "k samples per problem for pass@k and maj@k")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", o->eval.temperature, "temperature of the k samples")->capture_default_str();
  cmd->add_option("--top-p", o->eval.top_p, "nucleus mass of the k samples")->capture_default_str();
  cmd->add_option("--max-new-tokens", o->eval.max_new_tokens, "response length limit")->capture_default_str();
  cmd->add_option("--seed", o->seed, "problem seed (built-in tasks) and sampling seed")->capture_default_str();
  cmd->add_option("--responses", o->responses, "write each problem's greedy response and verdict here (JSONL)");
  cmd->add_option("--threads", o->threads, "CPU threads (0: all)");
  cmd->add_flag("!--no-progress", o->progress, "no progress line");
  cmd->callback([o, exit_code] {
    o->eval.seed = o->seed;
    *exit_code = RunEval(*o);
  });
}

}  // namespace gorae::cli
