// Verifiable tasks for the R1 recipe: problem generators with disjoint train / dev / test splits,
// answer extraction and verification, problem JSONL files, and worked reasoning traces.
//
// A response is expected in the R1 format: reasoning inside <think>...</think>, then the final
// answer as <answer>...</answer> or \boxed{...}. Verification never trusts the response: numbers
// are parsed and normalised, countdown expressions are parsed and evaluated exactly (rational
// arithmetic, no eval, bounded length and depth).
//
// No function here keeps shared mutable state: all are safe to call from several threads at
// once (the file functions on different paths).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace gorae::tasks {

// One problem. `task` is a built-in task name (arithmetic, linear, countdown) or any other name
// a user chooses; other tasks are verified by comparing numbers with `answer`.
struct Problem {
  std::string task;
  std::string prompt;                // the user message
  std::string answer;                // reference answer (for countdown: one solution expression)
  std::vector<int64_t> numbers;      // countdown: the numbers that may be used
  int64_t target = 0;                // countdown: the value to reach
  nlohmann::json extra = nlohmann::json::object();  // other fields of a JSONL line, kept as read
};

// Three disjoint splits of every built-in task: train (to learn from), dev (to choose settings
// on: the in-training evaluation of grpo, any tuning) and test (to report; nothing is tuned on it).
enum class Split { kTrain, kDev, kTest };
Result<Split> ParseSplit(const std::string& name);  // "train" | "dev" | "test"
const char* SplitName(Split s);

// The built-in task names, in report order: arithmetic, linear, countdown.
const std::vector<std::string>& BuiltinTasks();

// How operands are drawn. kTask: the task's own distribution (uniform over the ranges above;
// evaluation always uses it). kShortOperands (arithmetic only; the other tasks ignore it): first
// a number of digits, uniformly, then the operand of that length, over the same ranges. Short
// sums come up as often as long ones: a curriculum for training data, since a 4-digit sum
// repeats the steps a 1-digit sum teaches.
enum class Sampling { kTask, kShortOperands };

// n distinct problems of a built-in task from the given split, deterministic in seed. Problems of
// different splits never coincide, whatever the seeds (a problem's split is a hash of its
// canonical form). Unknown task: InvalidArgument naming it.
Result<std::vector<Problem>> GenerateProblems(const std::string& task, Split split, int64_t n, uint64_t seed,
                                              Sampling sampling = Sampling::kTask);

// Problem files: one JSON object per line, {"task", "prompt", "answer", ...task fields}.
// Errors name the file and line. Writing is atomic (temporary file, then rename).
Result<std::vector<Problem>> ReadProblems(const std::string& path);
Status WriteProblems(const std::string& path, const std::vector<Problem>& problems);
nlohmann::json ProblemToJson(const Problem& p);
Result<Problem> ProblemFromJson(const nlohmann::json& j);  // checks fields and that the answer parses

// The final answer text of a response: the content of the last <answer>...</answer>, else of the
// last \boxed{...} (balanced braces), after </think> when there is one. nullopt when absent.
std::optional<std::string> ExtractAnswer(std::string_view response);

// Whether a response has the R1 format: one <think>...</think> block first, then an answer in
// <answer> tags or \boxed{}, nothing but whitespace around.
bool HasR1Format(std::string_view response);

struct Verdict {
  bool correct = false;   // the extracted answer is right
  bool formatted = false; // HasR1Format
  std::string extracted;  // the extracted answer text ("" when none)
};
Verdict Verify(const Problem& p, std::string_view response);

// The canonical answer text of a problem for training targets (the integer; for countdown the
// stored solution expression without whitespace or an "= target" suffix; otherwise the trimmed
// answer).
std::string AnswerText(const Problem& p);

// A worked solution, step by step, small enough for a tiny model to learn: the text that goes
// inside <think>...</think> (no tags).
std::string WorkedSolution(const Problem& p);

// A full R1-format response: "<think>\n" + WorkedSolution + "\n</think>\n\n<answer>" +
// AnswerText + "</answer>".
std::string R1Response(const Problem& p);

// Plain-text pretraining documents (not chat format), one per problem:
//   "Question: {prompt}\nReasoning:\n{WorkedSolution}\nAnswer: {AnswerText}\n"
// over train-split problems of the three built-in tasks in equal shares (interleaved arithmetic,
// linear, countdown), deterministic in seed. Never contains a dev or test problem.
std::vector<std::string> PretrainingCorpus(int64_t documents, uint64_t seed, Sampling sampling = Sampling::kTask);

// Drill documents of the one-digit facts the worked solutions are built from, written exactly as
// in the column blocks: "Facts:\n" then 24 lines such as "7+9+1=17", "13-6-0=7", "3*6+4=22",
// "20/4=5 r0" (random digits, carries and remainders that can occur). A model that knows its
// tables before it meets them inside long traces learns the traces faster, as children do.
std::vector<std::string> FactDrills(int64_t documents, uint64_t seed);

// ---- Lower-level pieces (used by the functions above; exposed for tests and tools) ----

// The split of any problem: a hash of its canonical form (task and prompt; countdown: the sorted
// numbers and the target), about 10% dev and 10% test.
Split ProblemSplit(const Problem& p);

// An exact rational number num/den with den > 0, in lowest terms.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;
  bool operator==(const Rational&) const = default;
};

// A number in an answer: surrounding whitespace, one trailing period and an "x =" prefix are
// ignored; accepts an optional sign, digits with optional thousands commas ("1,234"), an optional
// decimal part ("936.0", "0.25") or a fraction ("10/2"). Rejects exponents ("1e5"), trailing
// text ("12abc"), more than 18 digits. nullopt when the text is not such a number.
std::optional<Rational> ParseNumber(std::string_view text);

// The exact value of a countdown expression: integers from `numbers` (each used at most as often
// as it appears there), + - * /, parentheses; no unary minus or plus; at most 200 characters
// and 32 nested parentheses. Division by zero, int64 overflow, a number not available, or
// malformed text give InvalidArgument saying why (never a crash).
Result<Rational> EvaluateCountdown(std::string_view expression, const std::vector<int64_t>& numbers);

// Whether `answer` solves the countdown problem: it evaluates exactly to target. An "= N" suffix
// is allowed when N is the target ("25*4-1 = 99").
bool CountdownSolves(std::string_view answer, const std::vector<int64_t>& numbers, int64_t target);

}  // namespace gorae::tasks
