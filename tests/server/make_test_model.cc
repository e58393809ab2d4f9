// server_test_model OUT_DIR [gorae|r1|v3|qwen2_5 [PRESET [F32|BF16]]]: writes the model the server
// tests (and bench/server) run against: a tokenizer trained by gorae on the repository's test
// corpus (vocab 512) with gorae's chat template, or with "r1" DeepSeek-R1's (its generation
// prompt opens "<think>"), "v3" DeepSeek-V3's or "qwen2_5" Qwen2.5's (the last three render
// tools), and a random DeepSeek-V3-shaped model of a preset ("tiny" by default) whose vocabulary
// and end-of-sequence id match it.
// Random weights give random text: the tests check the protocol, not the words.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/presets.h"
#include "model/random_init.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/trainer.h"

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Fail(const gorae::Status& s) {
  std::fprintf(stderr, "server_test_model: %s\n", s.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: server_test_model OUT_DIR [gorae|r1|v3|qwen2_5 [PRESET [F32|BF16]]]\n");
    return 2;
  }
  const std::string out = argv[1];
  const std::string template_name = argc > 2 ? argv[2] : "gorae";
  // The template files in tests/tokenizer/data/ (gorae's own is what the trainer writes). The
  // tool markers of Qwen2.5 and DeepSeek are not in this tokenizer's vocabulary: they stay text.
  std::string template_file;
  if (template_name == "r1") template_file = "deepseek_r1.jinja";
  if (template_name == "v3") template_file = "deepseek_v3.jinja";
  if (template_name == "qwen2_5") template_file = "qwen2_5.jinja";
  if (template_file.empty() && template_name != "gorae") {
    std::fprintf(stderr, "server_test_model: unknown template '%s'\n", template_name.c_str());
    return 2;
  }
  const std::string preset = argc > 3 ? argv[3] : "tiny";
  gorae::DType dtype = gorae::DType::kF32;
  if (argc > 4 && !gorae::ParseDType(argv[4], &dtype)) {
    std::fprintf(stderr, "server_test_model: unknown dtype '%s'\n", argv[4]);
    return 2;
  }
  const std::string data = std::string(GORAE_SOURCE_DIR) + "/tests/tokenizer/data/";

  gorae::tokenizer::TrainerOptions t;
  t.files = {data + "train_corpus.txt"};
  t.vocab_size = 512;
  t.out_dir = out;
  t.progress = false;
  if (auto s = gorae::tokenizer::TrainTokenizer(t); !s.ok()) return Fail(s);

  if (!template_file.empty()) {
    const std::string path = out + "/tokenizer_config.json";
    nlohmann::json config = nlohmann::json::parse(Slurp(path));
    config["chat_template"] = Slurp(data + template_file);
    std::ofstream(path) << config.dump(2);
  }
  auto tok = gorae::tokenizer::Tokenizer::Load(out);
  if (!tok.ok()) return Fail(tok.status());
  if (!(*tok)->chat_template().ok()) return Fail((*tok)->chat_template().status());

  auto config = gorae::PresetConfig(preset);
  if (!config.ok()) return Fail(config.status());
  config->vocab_size = (*tok)->vocab_size();
  config->bos_token_id = (*tok)->bos_id();
  config->eos_token_ids = {(*tok)->eot_id()};
  // Room for answers far longer than a test reads (the chat test's Ctrl-C needs an answer that
  // cannot finish while the test is not reading the terminal); RoPE angles are computed per
  // position, so this costs nothing until used.
  config->max_position_embeddings = std::max<int64_t>(config->max_position_embeddings, 1 << 16);
  if (auto s = gorae::WriteRandomModel(out, *config, dtype, /*seed=*/7); !s.ok()) return Fail(s);
  std::printf("%s\n", out.c_str());
  return 0;
}
