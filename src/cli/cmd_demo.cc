// gorae demo: the DeepSeek-R1 recipe end to end on built-in verifiable tasks (src/rl/recipe.h):
// tokenizer, pretraining, SFT on cold-start traces, GRPO, test-split evaluation and a report card.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "rl/recipe.h"

namespace gorae::cli {

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<rl::RecipeOptions>();
  CLI::App* cmd = app.add_subcommand("demo", "the R1 recipe end to end: pretrain, SFT, GRPO, evaluate");
  cmd->add_option("--out", o->out, "where every stage's model, metrics and plots go")->capture_default_str();
  cmd->add_flag("--zero", o->zero, "R1-Zero: GRPO straight from the pretrained model, no SFT");
  cmd->add_flag("--quick", o->quick, "a few steps of every stage: checks the pipeline, learns nothing");
  cmd->add_option("--sizes", o->sizes, "JSON file overriding stage sizes (see --print-sizes)");
  auto print_sizes = std::make_shared<bool>(false);
  cmd->add_flag("--print-sizes", *print_sizes, "print the default stage sizes as JSON and exit");
  cmd->add_option("--seed", o->seed, "seed of data, initialisation and sampling")->capture_default_str();
  cmd->add_option("--threads", o->threads, "threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("!--no-progress", o->progress, "no progress bars");
  cmd->callback([o, print_sizes, exit_code] {
    if (*print_sizes) {
      std::printf("%s\n", rl::RecipeSizesJson().c_str());
      return;
    }
    const Status s = rl::RunRecipe(*o);
    *exit_code = s.ok() ? 0 : ReportError(s.message());
  });
}

}  // namespace gorae::cli
