// gorae grpo: reinforcement learning with verifiable rewards (see src/rl/grpo.h).
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/parallel_options.h"
#include "rl/grpo.h"

namespace gorae::cli {

void AddGrpoCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("grpo", "GRPO on verifiable rewards (the DeepSeek-R1 recipe)");
  auto o = std::make_shared<rl::GrpoOptions>();
  auto task_list = std::make_shared<std::string>("arithmetic,linear,countdown");
  cmd->add_option("--model", o->model, "starting policy: a model directory with tokenizer and chat template")->required();
  cmd->add_option("--out", o->out, "output directory (checkpoint/, metrics.jsonl, grpo.svg)")->required();
  cmd->add_option("--task", *task_list, "built-in tasks, comma-separated")->capture_default_str();
  cmd->add_option("--data", o->data, "JSONL problems ({\"task\", \"prompt\", \"answer\"}) instead of --task");
  cmd->add_option("--steps", o->steps, "GRPO steps")->capture_default_str();
  cmd->add_option("--prompts", o->prompts, "problems per step")->capture_default_str();
  cmd->add_option("--group", o->group, "completions per problem, G >= 2")->capture_default_str();
  cmd->add_option("--max-new-tokens", o->max_new_tokens, "completion length limit")->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "sampling temperature")->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "nucleus sampling mass")->capture_default_str();
  cmd->add_option("--lr", o->lr, "learning rate (constant after warmup)")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "linear warmup steps")->capture_default_str();
  cmd->add_option("--weight-decay", o->adamw.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  cmd->add_option("--clip", o->clip, "global gradient-norm clip (0: off)")->capture_default_str();
  cmd->add_option("--eps-low", o->eps_low, "ratio clip below: 1 - eps_low")->capture_default_str();
  cmd->add_option("--eps-high", o->eps_high, "ratio clip above: 1 + eps_high (DAPO clip-higher: 0.28)")->capture_default_str();
  cmd->add_option("--beta", o->beta, "KL coefficient to the reference model (0: no reference)")->capture_default_str();
  cmd->add_option("--loss", o->loss, "loss aggregation: grpo, dr_grpo, dapo")->capture_default_str();
  cmd->add_option("--scale-rewards", o->scale_rewards, "advantage scaling: group, batch, none")->capture_default_str();
  cmd->add_option("--mu", o->mu, "update passes over each batch")->capture_default_str();
  cmd->add_option("--micro-batch", o->micro_batch, "sequences per forward/backward")->capture_default_str();
  cmd->add_option("--dynamic-sampling", o->dynamic_sampling,
                  "DAPO dynamic sampling: drop groups whose rewards are all equal and sample up to N batches of "
                  "problems per step to keep --prompts groups (0: off)")
      ->capture_default_str();
  cmd->add_option("--accuracy-weight", o->accuracy_weight, "reward for a verified answer")->capture_default_str();
  cmd->add_option("--format-weight", o->format_weight, "reward for the R1 format")->capture_default_str();
  cmd->add_option("--step-weight", o->step_weight,
                  "penalty per wrong arithmetic statement (\"11-6-0=4\") in a response (0: off)")
      ->capture_default_str();
  cmd->add_option("--ref-reset-every", o->ref_reset_every, "reset the reference to the policy every N steps (0: never)")
      ->capture_default_str();
  cmd->add_option("--eval-every", o->eval_every, "dev-split accuracy every N steps (0: off)")->capture_default_str();
  cmd->add_option("--eval-n", o->eval_n, "dev-split problems per task")->capture_default_str();
  cmd->add_option("--save-every", o->save_every, "checkpoint every N steps")->capture_default_str();
  cmd->add_option("--seed", o->seed, "problem and sampling seed")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all)");
  cmd->add_flag("--resume", o->resume, "continue OUT/checkpoint with its saved options");
  AddParallelOptions(cmd, &o->parallel);
  cmd->add_option("--stop-after", o->stop_after, "stop (with a checkpoint) after N steps of this run");
  cmd->add_flag("!--no-progress", o->progress, "no progress line");
  cmd->callback([o, task_list, exit_code] {
    o->tasks.clear();
    std::stringstream ss(*task_list);
    for (std::string t; std::getline(ss, t, ',');) {
      if (!t.empty()) o->tasks.push_back(t);
    }
    const Status s = rl::RunGrpo(*o);
    *exit_code = s.ok() ? 0 : ReportError(s.message());
  });
}

}  // namespace gorae::cli
