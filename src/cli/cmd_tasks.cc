// gorae tasks: problems of the built-in verifiable tasks as JSONL files: problems for
// `gorae eval` / `gorae grpo --data`, cold-start conversations for `gorae sft`, or plain
// worked-solution documents for `gorae pretrain`.
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tasks/tasks.h"

namespace gorae::cli {

namespace {

struct TasksOptions {
  std::string task = "arithmetic,linear,countdown", split = "train", format = "problems", out;
  int64_t n = 100;
  uint64_t seed = 1;
};

int RunTasks(const TasksOptions& o) {
  auto split = tasks::ParseSplit(o.split);
  if (!split.ok()) return ReportError(split.status().message());
  std::vector<tasks::Problem> problems;
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
  if (o.format == "problems") {
    const Status s = tasks::WriteProblems(o.out, problems);
    if (!s.ok()) return ReportError(s.message());
  } else {
    std::string text;
    for (const tasks::Problem& p : problems) {
      nlohmann::json j;
      if (o.format == "sft") {
        j["messages"] = {{{"role", "user"}, {"content", p.prompt}},
                         {{"role", "assistant"},
                          {"reasoning_content", tasks::WorkedSolution(p)},
                          {"content", "<answer>" + tasks::AnswerText(p) + "</answer>"}}};
      } else {
        j["text"] = "Question: " + p.prompt + "\nReasoning:\n" + tasks::WorkedSolution(p) + "\nAnswer: " +
                    tasks::AnswerText(p) + "\n";
      }
      text += j.dump() + "\n";
    }
    const std::string tmp = o.out + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << text;
      if (!f.flush()) return ReportError("cannot write '" + tmp + "'");
    }
    if (std::rename(tmp.c_str(), o.out.c_str()) != 0) return ReportError("cannot rename '" + tmp + "' to '" + o.out + "'");
  }
  std::fprintf(stderr, "wrote %zu %s to %s\n", problems.size(), o.format.c_str(), o.out.c_str());
  return 0;
}

}  // namespace

void AddTasksCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<TasksOptions>();
  auto* cmd = app.add_subcommand("tasks", "write problems of the built-in verifiable tasks as JSONL");
  cmd->add_option("--task", o->task, "tasks, comma-separated")->capture_default_str();
  cmd->add_option("--split", o->split, "train, dev or test")->capture_default_str();
  cmd->add_option("--n", o->n, "problems per task")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "generator seed")->capture_default_str();
  cmd->add_option("--format", o->format,
                  "problems ({task, prompt, answer, ...}), sft (cold-start conversations) or text (pretraining documents)")
      ->capture_default_str()
      ->check(CLI::IsMember({"problems", "sft", "text"}));
  cmd->add_option("--out", o->out, "output JSONL file")->required();
  cmd->callback([o, exit_code] { *exit_code = RunTasks(*o); });
}

}  // namespace gorae::cli
