// Options shared by the commands that run a model: --model, --threads, --mla; and how such a
// command finds the model's tokenizer.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace gorae::cli {

struct ModelOptions {
  std::string model_dir;
  int threads = 0;
  std::string mla = "absorbed";
  int expert_parallel = 0;  // > 1: under mpirun -np N, each rank holds 1/N of the routed experts

  // Adds --model (required), --threads and, if with_mla, --mla and --expert-parallel to `cmd`.
  void AddTo(CLI::App* cmd, bool with_mla);
  MlaMode mla_mode() const { return mla == "naive" ? MlaMode::kNaive : MlaMode::kAbsorbed; }
  // Sets the thread count and loads the model; errors name the file or field.
  Result<std::unique_ptr<Model>> Load() const;
  // The tokenizer of --model (LoadModelTokenizer).
  Result<std::shared_ptr<const tokenizer::Tokenizer>> LoadTokenizer() const;
};

// Under --expert-parallel, every rank but 0 follows rank 0's forward passes (Model::FollowLeader)
// and then has nothing left to do: returns its exit code. -1 on rank 0 or without EP: go on.
int FollowIfExpertRank(const Model& model);

// The tokenizer for a model path: a directory's tokenizer.json (+ tokenizer_config.json); for a
// .gguf file, the tokenizer.json beside it when there is one, else the tokenizer stored in the
// file's metadata (tokenizer/gguf_tokenizer.h). Errors name the files looked at.
Result<std::shared_ptr<const tokenizer::Tokenizer>> LoadModelTokenizer(const std::string& model_path);

}  // namespace gorae::cli
