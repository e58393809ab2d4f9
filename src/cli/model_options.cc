#include "cli/model_options.h"

#include <filesystem>

#include "cli/commands.h"
#include "core/threads.h"
#include "tokenizer/gguf_tokenizer.h"

namespace gorae::cli {

void ModelOptions::AddTo(CLI::App* cmd, bool with_mla) {
  cmd->add_option("--model", model_dir, "model directory (config.json + safetensors) or a .gguf file")->required();
  cmd->add_option("--threads", threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  if (with_mla) {
    cmd->add_option("--mla", mla, "attention cache layout: naive (full K/V) or absorbed (latent only)")
        ->check(CLI::IsMember({"naive", "absorbed"}));
    cmd->add_option("--expert-parallel", expert_parallel,
                    "under mpirun -np N: split the routed experts over the N ranks (each holds 1/N)")
        ->check(CLI::NonNegativeNumber);
  }
}

int FollowIfExpertRank(const Model& model) {
  auto followed = model.FollowLeader();
  if (!followed.ok()) return ReportError(followed.status().message());
  return *followed ? 0 : -1;
}

Result<std::unique_ptr<Model>> ModelOptions::Load() const {
  SetNumThreads(threads);
  return Model::Load(model_dir, expert_parallel);
}

Result<std::shared_ptr<const tokenizer::Tokenizer>> ModelOptions::LoadTokenizer() const {
  return LoadModelTokenizer(model_dir);
}

Result<std::shared_ptr<const tokenizer::Tokenizer>> LoadModelTokenizer(const std::string& model_path) {
  namespace fs = std::filesystem;
  if (!(model_path.ends_with(".gguf") && fs::is_regular_file(model_path))) {
    return tokenizer::Tokenizer::Load(model_path);
  }
  const fs::path dir = fs::path(model_path).parent_path();
  const std::string beside = (dir.empty() ? fs::path(".") : dir).string();
  if (fs::exists(beside + "/tokenizer.json")) return tokenizer::Tokenizer::Load(beside);
  auto tok = tokenizer::LoadGgufTokenizer(model_path);
  if (!tok.ok() && tok.status().code() == StatusCode::kNotFound) {
    return Status(StatusCode::kNotFound,
                  fmt::format("{} (and no tokenizer.json in '{}')", tok.status().message(), beside));
  }
  return tok;
}

}  // namespace gorae::cli
