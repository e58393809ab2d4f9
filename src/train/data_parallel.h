// Data parallelism: which rows of each micro-batch this rank computes, and how the ranks'
// gradients become one (DeepSeek-V3 trains with ZeRO-1 data parallelism, V3 report sec. 3.2).
//
// Every rank holds the whole model and draws the same global micro-batches from the same seeded
// RNG; rank r runs rows ShareOf(B, r, N) of each. The losses are normalised by the global batch's
// target counts (Objective::main_denominator), and the balance loss by its sequence count, so the
// ranks' gradients *sum* to the single-process gradient: --batch and --accum keep their meaning
// as the global batch, and N ranks give one process's result up to the order of float sums.
//
// Gradients are summed over ranks in buckets of consecutive blocks, in the order the backward
// completes them. On the step's last micro-batch each bucket is handed, as soon as its blocks'
// gradients are final (ModelStep::SetBlockDoneHook), to a communication thread that packs it and
// runs a non-blocking all-reduce (or, with ZeRO-1, a reduce-scatter), polling it to completion
// while the backward goes on; Finish() sends the rest (embedding, head, final norm) and waits.
//
// Expert parallelism (`--expert-parallel E`, E dividing N): ranks r with the same r / E form an
// expert-parallel group; rank r holds experts [k (r % E), k (r % E + 1)) of every MoE layer
// (k = experts / E) and computes them on the rows of its whole group (expert_exchange.h). Attention,
// dense layers, shared experts and the router stay data-parallel over all N ranks. An expert's
// gradient is reduced only among the N / E ranks holding it (r % E equal); the global gradient
// norm adds each expert once. Checkpoints gather every expert from its holder in group 0.
//
// ZeRO stage 1 (`--zero 1`): rank r owns slice ShareOf(n_b, r, N) of every bucket b. The AdamW
// moments exist only for owned slices; the reduce-scatter leaves each rank the summed gradient of
// its slices; the global gradient norm is a sum of the ranks' shares; each rank updates its slices
// and an all-gather brings every rank the whole updated parameters. Checkpoints hold the full
// moments (GatherOptimizerState), so a run resumes on any number of ranks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"
#include "dist/comm.h"
#include "train/model_step.h"
#include "train/optimizer.h"
#include "train/train_model.h"

namespace gorae::train {

// How a training loop runs over several ranks (the CLI's --zero and --bucket-mb).
struct ParallelOptions {
  int zero = 0;             // ZeRO stage: 0 (replicated AdamW) or 1 (sharded moments)
  double bucket_mb = 4.0;   // gradient bucket size for the overlapped reduction
  int expert_parallel = 0;  // E > 1: routed experts split over groups of E ranks (pretrain)
};

class GradReducer;

// The reducer for this job: none for one rank (nothing to reduce), else over World().
Result<std::unique_ptr<GradReducer>> MakeGradReducer(TrainModel& model, const ParallelOptions& o);

// The optimizer state this rank keeps, from the full state (fresh or loaded): the same with no
// reducer or ZeRO 0, this rank's slices with ZeRO-1.
AdamWState RankOptimizerState(const GradReducer* reducer, const AdamWState& full);

// Writes a checkpoint once: gathers ZeRO-1 moments, and expert-parallel experts with their moments,
// from the ranks that hold them, then rank 0 alone calls save(full state); every rank returns its
// status.
Status SaveFromRoot(GradReducer* reducer, AdamWState& opt, const std::function<Status(const AdamWState& full)>& save);

// Rows [b0, b1) of a batch.
Batch SliceRows(const Batch& batch, int64_t b0, int64_t b1);

// The objective for a rank's rows of `global`: the global target counts of the main CE and of
// each of `depth` MTP depths as denominators, and the balance-loss alpha scaled by the rank's
// share of the sequences.
Objective RankObjective(const Objective& base, const Batch& global, int64_t rows, int64_t depth);

// Sums router statistics over the ranks (loads, token counts, entropy and balance-loss sums).
void AllReduceMoeStats(dist::Communicator& comm, std::vector<MoeStats>& stats);

struct CommStats {
  int64_t bytes = 0;             // gradient bytes sent into collectives this step (per rank)
  double comm_seconds = 0.0;     // time from a bucket's launch to its completion, summed
  double exposed_seconds = 0.0;  // time Finish() waited after the backward was done
  double optimizer_comm_seconds = 0.0;  // ZeRO-1: the parameter all-gather
  int64_t all_to_all_bytes = 0;         // expert parallelism: rows sent to other ranks (dispatch + combine)
  double all_to_all_seconds = 0.0;
};

class GradReducer {
 public:
  // Buckets the trainable tensors of `model` by block in backward order, up to bucket_bytes each.
  // With expert_parallel > 1, splits `comm` into the expert groups and sets the model's shard.
  GradReducer(TrainModel& model, dist::Communicator& comm, int zero_stage, int64_t bucket_bytes,
              int expert_parallel = 0);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  int zero_stage() const { return zero_; }
  size_t num_buckets() const { return buckets_.size(); }

  // The next backward is the step's last micro-batch: buckets are sent as their blocks finish.
  // blocks_run: how many blocks (main layers, then MTP modules) that backward runs; the others
  // (MTP modules whose loss weight is 0) count as finished.
  void Arm(int64_t blocks_run);
  // ModelStep's block-done hook.
  void BlockDone(int64_t block);
  // Sends what is left and waits for every bucket. After it, without ZeRO every rank's model
  // gradients are the global sums; with ZeRO-1 the owned slices of the buckets hold them.
  void Finish();

  // ZeRO-1, after Finish: the global gradient norm (the ranks' shares of the squares summed).
  double ShardedGradNorm();
  // Expert parallelism, after Finish: the global gradient norm (each expert counted once).
  double ExpertParallelGradNorm();
  bool expert_parallel() const { return ep_comm_ != nullptr; }
  // Expert parallelism: every rank gets every expert's parameters and moments from its holder in
  // group 0 (collective), so that rank 0 can write them all.
  void GatherExperts(AdamWState& opt);
  // ZeRO-1: scales the owned gradients by grad_scale, applies AdamW to the owned slices with the
  // sharded moments `opt` (NewShardedState / ShardOptimizerState), then all-gathers the updated
  // parameters so every rank holds them all.
  void ShardedAdamW(AdamWState& opt, const AdamWOptions& adamw, double lr, float grad_scale);

  // ZeRO-1: the full moments (every rank gets them) from the ranks' slices, for a checkpoint.
  AdamWState GatherOptimizerState(const AdamWState& sharded) const;
  // ZeRO-1: this rank's slices of a full AdamWState (a loaded checkpoint's).
  AdamWState ShardOptimizerState(const AdamWState& full) const;
  // ZeRO-1: zeroed moments for this rank's slices.
  AdamWState NewShardedState() const;

  // Resets and returns this step's communication figures.
  CommStats TakeStats();

 private:
  struct Segment {   // one whole tensor in a bucket
    size_t tensor;   // index into model.tensors()
    int64_t n;
    int64_t at;      // offset in the bucket
  };
  struct Bucket {
    dist::Communicator* comm = nullptr;  // the world, or the ranks holding the same experts
    bool experts = false;                // holds routed-expert tensors
    std::vector<Segment> segments;
    std::vector<int64_t> blocks;  // blocks whose completion it waits for (empty: the rest)
    int64_t n = 0;
    std::vector<float> buffer;    // (n) packed gradients (ZeRO-1: then packed parameters)
    std::vector<float> owned;     // ZeRO-1: (own_end - own_begin) summed gradients of the owned slice
    std::vector<int64_t> shares;  // ZeRO-1: slice size per rank
    int64_t own_begin = 0, own_end = 0;
    int pending = 0;              // blocks not yet done this step
    bool ready = false;
  };
  // Marks a bucket ready and queues every ready bucket in index order: all ranks must start the
  // same collectives in the same order, whatever order their blocks finish in.
  void MarkReady(size_t bucket);
  void CommLoop();
  void RunBucket(Bucket& b);
  // Calls fn(tensor, first value in the tensor, first value in the slice, count) for the parts of
  // the bucket's tensors that fall in its values [begin, end).
  template <typename Fn>
  void ForEachInRange(const Bucket& b, int64_t begin, int64_t end, Fn fn) const;

  TrainModel& model_;
  dist::Communicator& comm_;
  int zero_ = 0;
  std::unique_ptr<dist::Communicator> ep_comm_, expert_dp_;  // expert parallelism's groups
  int64_t experts_per_rank_ = 0;
  bool overlap_ = true;  // buckets start during the backward (else all at Finish)
  std::vector<Bucket> buckets_;
  std::map<int64_t, std::vector<size_t>> block_buckets_;  // block -> the buckets waiting for it
  bool armed_ = false;
  size_t next_to_send_ = 0;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<size_t> queue_;
  int in_flight_ = 0;
  bool stop_ = false;
  CommStats stats_;
};

}  // namespace gorae::train
