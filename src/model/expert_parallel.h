// Expert parallelism for inference (mpirun -np N gorae logits|generate|serve --expert-parallel N):
// the routed experts of every MoE layer are split over the N ranks, each mapping and keeping only
// its own, so a model whose experts do not fit one machine's memory runs across several.
//
// Every rank holds the rest of the model (attention, dense layers, shared experts, router) and
// runs the same forward passes on the same tokens: rank 0 runs the command, and before each
// forward it broadcasts the step (sequences, their cache positions, tokens) to the other ranks,
// which follow it in Model::FollowLeader with caches of their own. In each MoE layer a rank
// computes its experts' weighted outputs for the tokens routed to them (rank 0 adds the shared
// experts) and one all-reduce sums the ranks' parts: the same sum one process forms, in another
// order. With every token on every rank this is the all-to-all of training with the routing
// known everywhere, so nothing but the (tokens, hidden) partial outputs crosses the network.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "dist/comm.h"
#include "model/config.h"

namespace gorae {

struct ExpertShard {
  int64_t begin = 0, end = 0;          // the routed experts [begin, end) held by this rank
  dist::Communicator* comm = nullptr;  // null: one process holds every expert
  bool active() const { return comm != nullptr && comm->size() > 1; }
  bool holds(int64_t e) const { return !active() || (e >= begin && e < end); }
};

// The shard of this rank of the world for --expert-parallel ep (0 or 1: none). Refused unless
// the job has exactly ep ranks and ep divides the routed experts.
Result<ExpertShard> MakeExpertShard(const ModelConfig& c, int ep);

}  // namespace gorae
