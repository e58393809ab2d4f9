// Options shared by the commands that run a model: --model, --threads, --mla.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "model/transformer.h"

namespace gorae::cli {

struct ModelOptions {
  std::string model_dir;
  int threads = 0;
  std::string mla = "absorbed";

  // Adds --model (required), --threads and, if with_mla, --mla to `cmd`.
  void AddTo(CLI::App* cmd, bool with_mla);
  MlaMode mla_mode() const { return mla == "naive" ? MlaMode::kNaive : MlaMode::kAbsorbed; }
  // Sets the thread count and loads the model; errors name the file or field.
  Result<std::unique_ptr<Model>> Load() const;
};

}  // namespace gorae::cli
