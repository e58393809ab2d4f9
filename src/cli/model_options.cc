#include "cli/model_options.h"

#include "core/threads.h"

namespace gorae::cli {

void ModelOptions::AddTo(CLI::App* cmd, bool with_mla) {
  cmd->add_option("--model", model_dir, "model directory (config.json + safetensors)")->required();
  cmd->add_option("--threads", threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  if (with_mla) {
    cmd->add_option("--mla", mla, "attention cache layout: naive (full K/V) or absorbed (latent only)")
        ->check(CLI::IsMember({"naive", "absorbed"}));
  }
}

Result<std::unique_ptr<Model>> ModelOptions::Load() const {
  SetNumThreads(threads);
  return Model::Load(model_dir);
}

}  // namespace gorae::cli
