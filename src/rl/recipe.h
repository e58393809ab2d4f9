// The whole R1 recipe on the built-in tasks, as `gorae demo` runs it:
//
//   1. corpus     worked solutions of the three tasks' train splits (tasks::PretrainingCorpus)
//   2. tokenizer  byte-level BPE trained on it, digits split one by one
//   3. base       pretrain a small DeepSeekMoE model (MLA + MoE + MTP) on the corpus
//   4. sft        fine-tune on cold-start R1-format conversations (<think> trace, <answer>)
//   5. grpo       GRPO on the three tasks with accuracy + format rewards
//   6. eval       test-split accuracy after every stage, a report card and plots
//
// Each stage leaves a model directory: OUT/base, OUT/sft, OUT/grpo (links to the runs'
// checkpoints under OUT/runs/, whose metrics.jsonl and plots sit beside them). With `zero`,
// GRPO starts from the base model (R1-Zero) and there is no SFT stage.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace gorae::rl {

struct RecipeOptions {
  std::string out = "gorae-demo";
  bool zero = false;      // R1-Zero: GRPO straight from the pretrained model
  bool quick = false;     // a few steps of every stage (a smoke test of the pipeline, not a result)
  std::string sizes;      // JSON file overriding stage sizes (keys of RecipeSizesJson()), e.g. for a slower machine
  int threads = 0;
  uint64_t seed = 1;
  bool progress = true;
};

Status RunRecipe(const RecipeOptions& options);

// The default stage sizes, as the JSON object a --sizes file overrides key by key.
std::string RecipeSizesJson();

}  // namespace gorae::rl
