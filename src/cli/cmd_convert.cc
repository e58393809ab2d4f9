// gorae convert: a Hugging Face model directory -> a GGUF file with llama.cpp's tensor names and
// metadata keys, matrices quantized to --type, and the tokenizer of its tokenizer.json as
// tokenizer.ggml.* keys; or a .gguf file -> a Hugging Face directory (config.json,
// model.safetensors in --type F32/BF16, tokenizer.json + tokenizer_config.json from the GGUF's
// tokenizer), so that either output is self-contained.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.h"
#include "io/gguf.h"
#include "model/gguf_convert.h"
#include "model/gguf_model.h"
#include "core/atomic_file.h"
#include "tokenizer/gguf_tokenizer.h"

namespace gorae::cli {

namespace {

namespace fs = std::filesystem;

struct ConvertOptions {
  std::string model_dir;
  std::string out;
  std::string type;  // default: F16 to GGUF, BF16 to Hugging Face
  bool no_tokenizer = false;
};

bool IsGgufPath(const std::string& path) { return path.ends_with(".gguf") && fs::is_regular_file(path); }


int HfToGguf(const ConvertOptions& o) {
  static const std::map<std::string, GgmlType> kTypes = {{"F32", GgmlType::kF32},   {"F16", GgmlType::kF16},
                                                         {"Q8_0", GgmlType::kQ8_0}, {"Q4_0", GgmlType::kQ4_0},
                                                         {"Q4_K", GgmlType::kQ4_K}, {"Q6_K", GgmlType::kQ6_K}};
  const std::string type_name = o.type.empty() ? "F16" : o.type;
  const auto type = kTypes.find(type_name);
  if (type == kTypes.end()) {
    return ReportError(fmt::format("--type '{}': use F32, F16, Q8_0, Q4_0, Q4_K or Q6_K", type_name));
  }
  HfToGgufOptions opts;
  opts.type = type->second;
  std::string tokenizer_note = "no tokenizer (no tokenizer.json)";
  if (o.no_tokenizer) tokenizer_note = "no tokenizer (--no-tokenizer)";
  if (o.no_tokenizer || !fs::exists(o.model_dir + "/tokenizer.json")) {
    // llama.cpp's vocabulary type "none": it loads the file and runs it from token ids.
    opts.add_metadata = [](const ModelConfig&, GgufWriter& w) -> Status {
      tokenizer::MarkGgufWithoutTokenizer(&w);
      return Status::Ok();
    };
  } else {
    opts.add_metadata = [&](const ModelConfig& c, GgufWriter& w) -> Status {
      tokenizer::GgufTokenizerOptions to;
      to.vocab_size = c.vocab_size;
      to.config_bos_id = c.bos_token_id;
      to.config_eos_id = c.eos_token_ids.empty() ? -1 : c.eos_token_ids[0];
      auto written = tokenizer::AddTokenizerToGguf(o.model_dir, to, &w);
      if (!written.ok()) {
        return Status(written.status().code(),
                      written.status().message() + " (--no-tokenizer converts the model without it)");
      }
      for (const std::string& lost : written->lost) std::fprintf(stderr, "gorae convert: warning: %s\n", lost.c_str());
      tokenizer_note = fmt::format("tokenizer {}, {} tokens, {} merges", written->pre, written->tokens, written->merges);
      return Status::Ok();
    };
  }
  auto summary = ConvertToGguf(o.model_dir, o.out, opts);
  if (!summary.ok()) return ReportError(summary.status().message());
  std::printf("wrote %s (%s; %s)\n", o.out.c_str(), summary->c_str(), tokenizer_note.c_str());
  return 0;
}

int GgufToHf(const ConvertOptions& o) {
  static const std::map<std::string, DType> kTypes = {{"F32", DType::kF32}, {"BF16", DType::kBF16}};
  const std::string type_name = o.type.empty() ? "BF16" : o.type;
  const auto type = kTypes.find(type_name);
  if (type == kTypes.end()) {
    return ReportError(fmt::format("--type '{}': a Hugging Face directory is written in F32 or BF16", type_name));
  }
  // The tokenizer first, so that one gorae cannot read stops the conversion before any output.
  std::optional<tokenizer::HfTokenizerFiles> hf;
  std::string tokenizer_note = "no tokenizer (--no-tokenizer)";
  if (!o.no_tokenizer) {
    auto file = GgufFile::Open(o.model_dir);
    if (!file.ok()) return ReportError(file.status().message());
    if (tokenizer::GgufHasTokenizer(**file)) {
      auto files = tokenizer::GgufToHfTokenizer(**file);
      if (!files.ok()) {
        return ReportError(files.status().message() + " (--no-tokenizer converts the model without it)");
      }
      hf = std::move(*files);
      tokenizer_note = "tokenizer.json, tokenizer_config.json";
    } else {
      tokenizer_note = "no tokenizer in the GGUF file";
    }
  }
  auto summary = ConvertGgufToHf(o.model_dir, o.out, type->second);
  if (!summary.ok()) return ReportError(summary.status().message());
  if (hf) {
    for (const auto& [name, text] : {std::pair{"tokenizer.json", &hf->tokenizer_json},
                                     std::pair{"tokenizer_config.json", &hf->tokenizer_config_json}}) {
      Status s = WriteFileAtomic(o.out + "/" + name, *text);
      if (!s.ok()) return ReportError(s.message());
    }
  }
  std::printf("wrote %s/ (%s; %s)\n", o.out.c_str(), summary->c_str(), tokenizer_note.c_str());
  return 0;
}

int RunConvert(const ConvertOptions& o) { return IsGgufPath(o.model_dir) ? GgufToHf(o) : HfToGguf(o); }

}  // namespace

void AddConvertCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "convert a Hugging Face model directory to a GGUF file, or a GGUF file to a Hugging Face directory");
  cmd->add_option("--model", opts->model_dir, "model directory (config.json + *.safetensors) or a .gguf file")
      ->required();
  cmd->add_option("--out", opts->out, "output .gguf file, or output directory when --model is a .gguf file")
      ->required();
  cmd->add_option("--type", opts->type,
                  "to GGUF, the matrix type: F32, F16, Q8_0, Q4_0, Q4_K, Q6_K (default F16); "
                  "to Hugging Face, the tensor type: F32, BF16 (default BF16)");
  cmd->add_flag("--no-tokenizer", opts->no_tokenizer, "leave the tokenizer out");
  cmd->callback([opts, exit_code] { *exit_code = RunConvert(*opts); });
}

}  // namespace gorae::cli
