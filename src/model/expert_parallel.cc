#include "model/expert_parallel.h"

namespace gorae {

Result<ExpertShard> MakeExpertShard(const ModelConfig& c, int ep) {
  ExpertShard s;
  if (ep <= 1) return s;
  dist::Communicator& w = dist::World();
  if (w.size() != ep) {
    return InvalidArgument("--expert-parallel {} needs a job of {} ranks (mpirun -np {}), this one has {}", ep, ep, ep,
                           w.size());
  }
  if (c.n_routed_experts <= 0) return InvalidArgument("--expert-parallel {}: the model has no routed experts", ep);
  if (c.n_routed_experts % ep != 0) {
    return InvalidArgument("--expert-parallel {} does not divide the model's {} routed experts", ep, c.n_routed_experts);
  }
  const int64_t per = c.n_routed_experts / ep;
  s.begin = per * w.rank();
  s.end = s.begin + per;
  s.comm = &w;
  return s;
}

}  // namespace gorae
