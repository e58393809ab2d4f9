// gorae convert: a Hugging Face safetensors model directory -> a GGUF file with llama.cpp's
// tensor names and metadata keys, matrices quantized to --type (model/gguf_model.h).
#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "cli/commands.h"
#include "model/gguf_model.h"

namespace gorae::cli {

namespace {

struct ConvertOptions {
  std::string model_dir;
  std::string out;
  std::string type = "F16";
};

int RunConvert(const ConvertOptions& o) {
  static const std::map<std::string, GgmlType> kTypes = {{"F32", GgmlType::kF32},   {"F16", GgmlType::kF16},
                                                         {"Q8_0", GgmlType::kQ8_0}, {"Q4_0", GgmlType::kQ4_0},
                                                         {"Q4_K", GgmlType::kQ4_K}, {"Q6_K", GgmlType::kQ6_K}};
  const auto type = kTypes.find(o.type);
  if (type == kTypes.end()) return ReportError(fmt::format("--type '{}': use F32, F16, Q8_0, Q4_0, Q4_K or Q6_K", o.type));
  auto summary = ConvertToGguf(o.model_dir, o.out, type->second);
  if (!summary.ok()) return ReportError(summary.status().message());
  std::printf("wrote %s (%s)\n", o.out.c_str(), summary->c_str());
  return 0;
}

}  // namespace

void AddConvertCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "convert a Hugging Face model directory to a GGUF file");
  cmd->add_option("--model", opts->model_dir, "model directory (config.json + *.safetensors)")->required();
  cmd->add_option("--out", opts->out, "output .gguf file")->required();
  cmd->add_option("--type", opts->type, "matrix type: F32, F16, Q8_0, Q4_0, Q4_K, Q6_K (default F16)");
  cmd->callback([opts, exit_code] { *exit_code = RunConvert(*opts); });
}

}  // namespace gorae::cli
