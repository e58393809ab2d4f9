// The all-to-all of expert-parallel training (DeepSeek-V3 sec. 3.2): each rank routes its own
// tokens, sends every routed row to the rank holding its expert (dispatch), the owner runs its
// experts on the rows of all the group's ranks, and the outputs travel back (combine). The
// backward sends the output gradients like the dispatch and the input gradients like the combine.
//
// Rows are exchanged per expert, in expert order; at the owner, an expert's rows are those of
// the group's ranks in rank order, so with data-parallel rows in rank order an expert sees its
// tokens in the order one process gives them.
#pragma once

#include <cstdint>
#include <vector>

#include "model/expert_parallel.h"

namespace gorae::train {

// What crossed the network, per owned expert: rows from each rank of the group.
using ExpertCounts = std::vector<std::vector<int64_t>>;  // [local expert][source rank]

// Dispatch: rows[e] (n_e, D) for every expert e (this rank's tokens routed to e). Returns, per
// expert this rank holds, the rows of all the group's ranks (sources in rank order), and fills
// *counts with how many came from each source.
std::vector<std::vector<float>> DispatchToExperts(const ExpertShard& ep, int64_t experts, int64_t D,
                                                  const std::vector<std::vector<float>>& rows, ExpertCounts* counts);

// Combine: the reverse of a dispatch with these counts. owned[le] holds, per expert this rank
// holds, rows in dispatch order; returns rows[e] (n_e, D) for every expert e, n_e as dispatched.
std::vector<std::vector<float>> CombineFromExperts(const ExpertShard& ep, int64_t experts, int64_t D,
                                                   const std::vector<std::vector<float>>& owned,
                                                   const ExpertCounts& counts, const std::vector<int64_t>& sent_rows);

// Bytes this process sent to other ranks in dispatches and combines, and the time they took,
// since the last call (for the step metrics).
struct ExchangeStats {
  int64_t bytes = 0;
  double seconds = 0.0;
};
ExchangeStats TakeExchangeStats();

}  // namespace gorae::train
