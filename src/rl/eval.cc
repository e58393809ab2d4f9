#include <cmath>
#include "rl/eval.h"

#include <unistd.h>

#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "rl/rollout.h"

namespace gorae::rl {

namespace {

struct Tally {
  int64_t n = 0, pass1 = 0, pass_k = 0, maj_k = 0, formatted = 0, length = 0;
};

// The most frequent non-empty answer (ties: the one seen first) of a problem's samples.
std::string MajorityAnswer(const std::vector<std::string>& answers) {
  std::map<std::string, int> count;
  std::string best;
  int best_count = 0;
  for (const std::string& a : answers) {
    if (a.empty()) continue;
    const int c = ++count[a];
    if (c > best_count) {
      best_count = c;
      best = a;
    }
  }
  return best;
}

// Runs rollouts with a stderr progress line when asked, and only on a terminal: redrawn with
// '\r', it would fill a log file with one copy per decode step.
Result<std::vector<Rollout>> Rollouts(const Model& model, const std::vector<std::vector<int>>& prompts, int64_t group,
                                      const RolloutOptions& ro, bool progress, const char* what) {
  progress = progress && isatty(STDERR_FILENO);
  RolloutProgress report;
  if (progress) {
    report = [what](int64_t done, int64_t total, int64_t tokens) {
      std::fprintf(stderr, "\r%s: %lld/%lld responses, %lld tokens", what, static_cast<long long>(done),
                   static_cast<long long>(total), static_cast<long long>(tokens));
    };
  }
  auto r = RunRollouts(model, prompts, group, ro, report);
  if (progress) std::fprintf(stderr, "\n");
  return r;
}

}  // namespace

Result<EvalReport> Evaluate(const Model& model, const ChatCodec& codec, const std::vector<tasks::Problem>& problems,
                            const EvalOptions& o) {
  if (problems.empty()) return InvalidArgument("no problems to evaluate");
  if (o.samples < 1) return InvalidArgument("--samples must be at least 1, got {}", o.samples);
  std::vector<std::vector<int>> prompts;
  for (const tasks::Problem& p : problems) {
    GORAE_ASSIGN_OR_RETURN(auto ids, EncodeUserPrompt(codec, p.prompt));
    prompts.push_back(std::move(ids));
  }
  RolloutOptions ro;
  ro.max_new_tokens = o.max_new_tokens;
  ro.stop_ids = codec.stop_ids;
  ro.max_batch = o.max_batch;
  ro.vocab_limit = codec.tok->vocab_size();
  ro.sampler.temperature = 0.0f;
  GORAE_ASSIGN_OR_RETURN(auto greedy, Rollouts(model, prompts, 1, ro, o.progress, "greedy"));
  std::vector<Rollout> sampled;
  if (o.samples > 1) {
    ro.sampler.temperature = o.temperature;
    ro.sampler.top_p = o.top_p;
    ro.sampler.seed = o.seed;
    GORAE_ASSIGN_OR_RETURN(sampled, Rollouts(model, prompts, o.samples, ro, o.progress, "sampled"));
  }

  std::vector<std::string> order;
  std::map<std::string, Tally> tally;
  std::vector<ProblemResponse> responses;
  for (size_t i = 0; i < problems.size(); ++i) {
    const tasks::Problem& p = problems[i];
    if (!tally.count(p.task)) order.push_back(p.task);
    Tally& t = tally[p.task];
    ++t.n;
    GORAE_ASSIGN_OR_RETURN(std::string text, CompletionText(codec, greedy[i].tokens));
    const tasks::Verdict v = tasks::Verify(p, text);
    t.pass1 += v.correct;
    t.formatted += v.formatted;
    t.length += static_cast<int64_t>(greedy[i].tokens.size());
    const std::string finish = !greedy[i].error.empty()                    ? greedy[i].error
                               : greedy[i].finish == FinishReason::kStop ? "stop"
                                                                          : "length";
    responses.push_back({&p, text, v, static_cast<int64_t>(greedy[i].tokens.size()), finish});
    if (o.samples > 1) {
      bool any = false;
      std::vector<std::string> answers;
      for (int k = 0; k < o.samples; ++k) {
        const Rollout& r = sampled[i * static_cast<size_t>(o.samples) + static_cast<size_t>(k)];
        GORAE_ASSIGN_OR_RETURN(std::string s, CompletionText(codec, r.tokens));
        const tasks::Verdict sv = tasks::Verify(p, s);
        any = any || sv.correct;
        answers.push_back(sv.extracted);
      }
      t.pass_k += any;
      const std::string maj = MajorityAnswer(answers);
      // The majority answer is right when a response that gave it was verified right.
      bool maj_right = false;
      for (int k = 0; k < o.samples && !maj.empty(); ++k) {
        if (answers[static_cast<size_t>(k)] != maj) continue;
        const Rollout& r = sampled[i * static_cast<size_t>(o.samples) + static_cast<size_t>(k)];
        GORAE_ASSIGN_OR_RETURN(std::string s, CompletionText(codec, r.tokens));
        maj_right = tasks::Verify(p, s).correct;
        break;
      }
      t.maj_k += maj_right;
    }
  }

  EvalReport rep;
  rep.samples = o.samples;
  rep.responses = std::move(responses);
  int64_t right = 0, length = 0;
  for (const std::string& name : order) {
    const Tally& t = tally[name];
    const double n = static_cast<double>(t.n);
    rep.per_task.push_back({name, t.n, t.pass1 / n, t.pass_k / n, t.maj_k / n, t.formatted / n, t.length / n});
    right += t.pass1;
    length += t.length;
    rep.n += t.n;
  }
  rep.accuracy = static_cast<double>(right) / static_cast<double>(rep.n);
  rep.mean_length = static_cast<double>(length) / static_cast<double>(rep.n);
  return rep;
}

Status WriteResponses(const std::string& path, const EvalReport& report) {
  std::string text;
  for (const ProblemResponse& r : report.responses) {
    nlohmann::ordered_json j;
    j["task"] = r.problem->task;
    j["prompt"] = r.problem->prompt;
    j["answer"] = tasks::AnswerText(*r.problem);
    j["response"] = r.response;
    j["extracted"] = r.verdict.extracted;
    j["correct"] = r.verdict.correct;
    j["formatted"] = r.verdict.formatted;
    j["tokens"] = r.tokens;
    j["finish"] = r.finish;
    text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  return WriteFileAtomic(path, text);
}

double EvalReport::StandardError() const {
  return n > 0 ? std::sqrt(accuracy * (1 - accuracy) / static_cast<double>(n)) : 0.0;
}

nlohmann::ordered_json EvalReport::ToJson() const {
  nlohmann::ordered_json per = nlohmann::ordered_json::object();
  for (const TaskScore& s : per_task) {
    nlohmann::ordered_json j;
    j["pass@1"] = s.pass1;
    if (samples > 1) {
      j[fmt::format("pass@{}", samples)] = s.pass_k;
      j[fmt::format("maj@{}", samples)] = s.maj_k;
    }
    j["format"] = s.format;
    j["mean_length"] = s.mean_length;
    j["n"] = s.n;
    per[s.task] = j;
  }
  nlohmann::ordered_json j;
  j["accuracy"] = accuracy;
  j["accuracy_se"] = StandardError();
  j["per_task"] = per;
  j["n"] = n;
  j["mean_length"] = mean_length;
  return j;
}

std::string EvalReport::Table() const {
  std::string head = fmt::format("{:<12} {:>6} {:>8}", "task", "n", "pass@1");
  if (samples > 1) head += fmt::format(" {:>8} {:>8}", fmt::format("pass@{}", samples), fmt::format("maj@{}", samples));
  head += fmt::format(" {:>8} {:>10}\n", "format", "length");
  std::string s = head;
  for (const TaskScore& t : per_task) {
    s += fmt::format("{:<12} {:>6} {:>7.1f}%", t.task, t.n, 100 * t.pass1);
    if (samples > 1) s += fmt::format(" {:>7.1f}% {:>7.1f}%", 100 * t.pass_k, 100 * t.maj_k);
    s += fmt::format(" {:>7.1f}% {:>10.1f}\n", 100 * t.format, t.mean_length);
  }
  s += fmt::format("{:<12} {:>6} {:>7.1f}%", "all", n, 100 * accuracy);
  if (samples > 1) s += fmt::format(" {:>8} {:>8}", "", "");
  s += fmt::format(" {:>8} {:>10.1f}\n", "", mean_length);
  s += fmt::format("(standard error of the overall pass@1: {:.1f} points)\n", 100 * StandardError());
  return s;
}

}  // namespace gorae::rl
