// The data-parallel flags shared by pretrain, sft and grpo (meaningful under mpirun -np N).
#pragma once

#include <CLI/CLI.hpp>

#include "train/data_parallel.h"

namespace gorae::cli {

void AddParallelOptions(CLI::App* cmd, train::ParallelOptions* o);

}  // namespace gorae::cli
