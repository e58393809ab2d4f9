// tokenizer_bench --model DIR --docs docs.json [--repeat N] [--threads T] [--ids-out ids.json]
// Encodes a JSON array of documents one at a time on one thread and as a batch on all cores;
// prints one JSON line {"single_mb_s", "batch_mb_s", "threads"} (best of N runs).
// tools/tokenizer_bench.py runs this beside Hugging Face `tokenizers` on the same documents.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

using gorae::tokenizer::Tokenizer;

int main(int argc, char** argv) {
  std::string model, docs_path, ids_out;
  int repeat = 3, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--model") model = argv[i + 1];
    else if (a == "--docs") docs_path = argv[i + 1];
    else if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--ids-out") ids_out = argv[i + 1];
  }
  if (model.empty() || docs_path.empty()) {
    std::fprintf(stderr, "usage: tokenizer_bench --model DIR --docs docs.json [--repeat N] [--threads T] [--ids-out F]\n");
    return 2;
  }
  auto tok = Tokenizer::Load(model);
  if (!tok.ok()) {
    std::fprintf(stderr, "error: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  std::ifstream in(docs_path);
  std::vector<std::string> docs = nlohmann::json::parse(in).get<std::vector<std::string>>();
  size_t total = 0;
  for (const auto& d : docs) total += d.size();
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());

  using Clock = std::chrono::steady_clock;
  // single_cpu: MB per second of this process's CPU time, which other load on a shared machine
  // does not distort (wall-clock MB/s is reported too).
  double best_single = 0, best_batch = 0, best_single_cpu = 0;
  std::vector<std::vector<int32_t>> single_ids;
  for (int r = 0; r < repeat; ++r) {
    auto t0 = Clock::now();
    std::clock_t c0 = std::clock();
    single_ids.clear();
    for (const auto& d : docs) single_ids.push_back((*tok)->Encode(d).value());
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    best_single = std::max(best_single, total / s / 1e6);
    best_single_cpu = std::max(best_single_cpu, total / cpu / 1e6);
    t0 = Clock::now();
    auto batch = (*tok)->EncodeBatch(docs, false, threads);
    s = std::chrono::duration<double>(Clock::now() - t0).count();
    best_batch = std::max(best_batch, total / s / 1e6);
    if (!batch.ok() || *batch != single_ids) {
      std::fprintf(stderr, "error: batch and single encodings differ\n");
      return 1;
    }
  }
  if (!ids_out.empty()) std::ofstream(ids_out) << nlohmann::json(single_ids).dump();
  std::printf("{\"single_mb_s\": %.3f, \"single_cpu_mb_s\": %.3f, \"batch_mb_s\": %.3f, \"threads\": %d, \"bytes\": %zu}\n",
              best_single, best_single_cpu, best_batch, threads, total);
  return 0;
}
