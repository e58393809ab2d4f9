// Evaluation on verifiable problems: pass@1 with greedy decoding, and with k > 1 samples at a
// temperature also pass@k (any of the k right) and maj@k (the most frequent extracted answer,
// ties to the earliest, is right); mean response length in tokens and the share of responses in
// the R1 format.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/transformer.h"
#include "rl/chat_io.h"
#include "tasks/tasks.h"

namespace gorae::rl {

struct EvalOptions {
  int samples = 1;              // k
  float temperature = 0.6f;     // for the k samples (pass@1 is always greedy)
  float top_p = 0.95f;
  int max_new_tokens = 512;
  int64_t max_batch = 64;
  uint64_t seed = 1;
  bool progress = false;        // a progress bar on stderr
};

struct TaskScore {
  std::string task;
  int64_t n = 0;
  double pass1 = 0.0;           // greedy
  double pass_k = 0.0, maj_k = 0.0;  // samples > 1 only
  double format = 0.0;          // share of greedy responses in the R1 format
  double mean_length = 0.0;     // greedy response tokens
};

// One problem's greedy response, for reading what the model did.
struct ProblemResponse {
  const tasks::Problem* problem = nullptr;  // into the problems given to Evaluate
  std::string response;                     // decoded completion text
  tasks::Verdict verdict;
  int64_t tokens = 0;
  std::string finish;                       // "stop", "length" or the rollout's error
};

struct EvalReport {
  std::vector<TaskScore> per_task;  // in order of first appearance
  std::vector<ProblemResponse> responses;  // greedy, in the order of the problems
  double accuracy = 0.0;            // pass@1 over all problems
  double mean_length = 0.0;
  int64_t n = 0;
  int samples = 1;
  // The standard error of `accuracy` as a binomial proportion over the n problems: the
  // uncertainty a figure reported from this evaluation carries.
  double StandardError() const;
  // {"accuracy", "accuracy_se", "per_task": {task: {"pass@1", ["pass@k", "maj@k"], "format",
  //  "mean_length", "n"}}, "n", "mean_length"}
  nlohmann::ordered_json ToJson() const;
  // A table, one row per task and a total row.
  std::string Table() const;
};

// JSONL, a line per problem: {"task", "prompt", "answer", "response", "extracted", "correct",
// "formatted", "tokens", "finish"}, written atomically.
Status WriteResponses(const std::string& path, const EvalReport& report);

Result<EvalReport> Evaluate(const Model& model, const ChatCodec& codec, const std::vector<tasks::Problem>& problems,
                            const EvalOptions& options);

}  // namespace gorae::rl
