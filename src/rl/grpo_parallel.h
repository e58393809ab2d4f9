// GRPO over several ranks (mpirun -np N gorae grpo ...): the ranks split each sampling round's
// problems (a group stays on one rank, so its advantages need no communication beyond the
// batch-wide reward scale), roll out and verify their groups, and train on them with the
// data-parallel gradient reducer. The tallies below make every rank see the step's global
// figures; with one rank each is the identity.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rl/eval.h"
#include "rl/grpo_loss.h"
#include "rl/grpo_step.h"

namespace gorae::rl {

// What a step's sampling produced: the groups kept for the update, as sequences, and tallies
// over every completion sampled, kept or not (what the policy does, for the metrics).
struct StepSamples {
  std::vector<Sequence> seqs;       // G per kept group, in order (this rank's groups)
  std::vector<double> rewards;      // of seqs
  int64_t kept_groups = 0;
  std::vector<int64_t> kept_per_round;  // this rank's kept groups of each round
  std::vector<double> all_rewards;  // of every completion sampled
  int64_t groups = 0, correct = 0, formatted = 0, gen_tokens = 0, failed = 0, wrong_statements = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> per_task;  // task -> (right, total)
};

// Keeps the first `prompts` kept groups of the step in global order (round by round, ranks in
// order, as one process orders them) and drops the rest from this rank's sequences.
void KeepFirstGroups(StepSamples& s, int64_t prompts, int64_t group);

// Sums the tallies over the ranks and gathers every rank's sampled rewards (rank order); the
// sequences stay where they are. Returns the step's global number of kept groups.
int64_t GatherTallies(StepSamples& s);

// The advantages of this rank's sequences, computed over the whole step's kept rewards (batch
// reward scaling needs them all).
std::vector<double> RankAdvantages(const std::vector<double>& rewards, int64_t group, RewardScaling scaling);

// Sums pass statistics over the ranks.
void AllReducePassStats(PassStats& p);

// Held-out evaluation with the problems split over the ranks: per-task counts are summed, so the
// report's accuracy, per-task pass@1 and mean length are those of all the problems.
Result<EvalReport> EvaluateOnRanks(const Model& model, const ChatCodec& codec, const std::vector<tasks::Problem>& problems,
                                   const EvalOptions& options);

}  // namespace gorae::rl
