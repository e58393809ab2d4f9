#include "cli/parallel_options.h"

namespace gorae::cli {

void AddParallelOptions(CLI::App* cmd, train::ParallelOptions* o) {
  cmd->add_option("--zero", o->zero, "under mpirun: ZeRO stage, 1 shards the AdamW moments over the ranks")
      ->capture_default_str();
  cmd->add_option("--bucket-mb", o->bucket_mb, "under mpirun: MiB of gradients per overlapped all-reduce")
      ->capture_default_str();
  cmd->add_option("--expert-parallel", o->expert_parallel,
                  "under mpirun (pretrain): split the routed experts over groups of E ranks (E divides the ranks)");
}

}  // namespace gorae::cli
