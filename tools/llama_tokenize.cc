// llama_tokenize GGUF JSONL [bos]: tokenizes the "text" of each JSONL line with llama.cpp's own
// tokenizer (the vocabulary of GGUF only, special tokens parsed, BOS only with "bos") and prints
// {"ids": [...]} per line. The peer for gorae's GGUF tokenizer (tools/gguf_tokenizer_golden.py
// --llama-cpp-ids); built against the llama.cpp of tools/build_llama_cpp.sh:
//
//   L=/work/llama.cpp-src/llama_cpp_python-*/vendor/llama.cpp
//   g++ -std=c++17 -O1 -I $L/include -I $L/ggml/include tools/llama_tokenize.cc -o /tmp/llama_tokenize \
//       -L/work/llama.cpp-build/bin -lllama -Wl,-rpath,/work/llama.cpp-build/bin
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llama.h"

static void Quiet(ggml_log_level, const char*, void*) {}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: llama_tokenize GGUF JSONL [bos]\n");
    return 2;
  }
  llama_log_set(Quiet, nullptr);
  llama_backend_init();
  llama_model_params params = llama_model_default_params();
  params.vocab_only = true;
  llama_model* model = llama_model_load_from_file(argv[1], params);
  if (model == nullptr) {
    std::fprintf(stderr, "llama_tokenize: cannot load %s\n", argv[1]);
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const bool add_special = argc > 3 && std::string(argv[3]) == "bos";
  std::ifstream in(argv[2]);
  std::string line;
  while (std::getline(in, line)) {
    const std::string text = nlohmann::json::parse(line)["text"].get<std::string>();
    std::vector<llama_token> ids(text.size() * 4 + 16);
    const int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                                 static_cast<int32_t>(ids.size()), add_special, /*parse_special=*/true);
    if (n < 0) {
      std::fprintf(stderr, "llama_tokenize: failed on line '%s'\n", line.c_str());
      return 1;
    }
    ids.resize(n);
    std::printf("%s\n", nlohmann::json{{"ids", ids}}.dump().c_str());
  }
  llama_model_free(model);
  return 0;
}
