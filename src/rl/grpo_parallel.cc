#include "rl/grpo_parallel.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "dist/comm.h"

namespace gorae::rl {

namespace {

size_t Sz(int64_t n) { return static_cast<size_t>(n); }

}  // namespace

void KeepFirstGroups(StepSamples& s, int64_t prompts, int64_t group) {
  dist::Communicator& w = dist::World();
  const int R = w.size(), rounds = static_cast<int>(s.kept_per_round.size());
  std::vector<int64_t> all(Sz(static_cast<int64_t>(R) * rounds));  // (rank, round)
  w.AllGatherV(s.kept_per_round.data(), all.data(), std::vector<int64_t>(Sz(R), rounds), dist::DType::kI64);
  int64_t left = prompts, keep = 0;
  for (int round = 0; round < rounds; ++round) {
    for (int r = 0; r < R; ++r) {
      const int64_t take = std::min(left, all[Sz(static_cast<int64_t>(r) * rounds + round)]);
      left -= take;
      if (r == w.rank()) keep += take;
    }
  }
  s.kept_groups = keep;
  s.seqs.resize(Sz(keep * group));
  s.rewards.resize(s.seqs.size());
}

int64_t GatherTallies(StepSamples& s) {
  dist::Communicator& w = dist::World();
  if (w.size() == 1) return s.kept_groups;
  std::vector<int64_t> sums = {s.kept_groups, s.groups, s.correct, s.formatted, s.gen_tokens, s.failed,
                               s.wrong_statements};
  w.AllReduceSum(sums);
  const int64_t kept = sums[0];
  s.groups = sums[1], s.correct = sums[2], s.formatted = sums[3], s.gen_tokens = sums[4], s.failed = sums[5];
  s.wrong_statements = sums[6];
  // Rewards of every completion sampled, rank by rank.
  const std::vector<int64_t> counts = w.AllGatherInt(static_cast<int64_t>(s.all_rewards.size()));
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  std::vector<double> all(Sz(total));
  w.AllGatherV(s.all_rewards.data(), all.data(), counts, dist::DType::kF64);
  s.all_rewards = std::move(all);
  // Per-task tallies: the ranks may have met different tasks.
  nlohmann::json mine = nlohmann::json::object();
  for (const auto& [task, rt] : s.per_task) mine[task] = {rt.first, rt.second};
  s.per_task.clear();
  for (const std::string& text : w.AllGatherString(mine.dump())) {
    const nlohmann::json theirs = nlohmann::json::parse(text);  // kept alive while items() walks it
    for (const auto& [task, rt] : theirs.items()) {
      s.per_task[task].first += rt[0].get<int64_t>();
      s.per_task[task].second += rt[1].get<int64_t>();
    }
  }
  return kept;
}

std::vector<double> RankAdvantages(const std::vector<double>& rewards, int64_t group, RewardScaling scaling) {
  dist::Communicator& w = dist::World();
  if (w.size() == 1) return ComputeAdvantages(rewards, group, scaling);
  const std::vector<int64_t> counts = w.AllGatherInt(static_cast<int64_t>(rewards.size()));
  int64_t total = 0, mine = 0;
  for (int r = 0; r < w.size(); ++r) {
    if (r < w.rank()) mine += counts[Sz(r)];
    total += counts[Sz(r)];
  }
  std::vector<double> all(Sz(total));
  w.AllGatherV(rewards.data(), all.data(), counts, dist::DType::kF64);
  const std::vector<double> adv = ComputeAdvantages(all, group, scaling);
  return {adv.begin() + mine, adv.begin() + mine + static_cast<int64_t>(rewards.size())};
}

void AllReducePassStats(PassStats& p) {
  dist::Communicator& w = dist::World();
  if (w.size() == 1) return;
  std::vector<double> reals = {p.loss, p.kl, p.entropy};
  std::vector<int64_t> ints = {p.tokens, p.clipped};
  w.AllReduceSum(reals);
  w.AllReduceSum(ints);
  p.loss = reals[0], p.kl = reals[1], p.entropy = reals[2];
  p.tokens = ints[0], p.clipped = ints[1];
}

Result<EvalReport> EvaluateOnRanks(const Model& model, const ChatCodec& codec, const std::vector<tasks::Problem>& problems,
                                   const EvalOptions& options) {
  dist::Communicator& w = dist::World();
  if (w.size() == 1) return Evaluate(model, codec, problems, options);
  const auto [p0, p1] = dist::ShareOf(static_cast<int64_t>(problems.size()), w.rank(), w.size());
  const std::vector<tasks::Problem> mine(problems.begin() + p0, problems.begin() + p1);
  nlohmann::json tally = nlohmann::json::array();  // [task, n, correct, formatted, length sum] per task
  Status failed = Status::Ok();
  if (!mine.empty()) {
    auto rep = Evaluate(model, codec, mine, options);
    if (rep.ok()) {
      for (const TaskScore& t : rep->per_task) {
        const double n = static_cast<double>(t.n);
        tally.push_back({t.task, t.n, std::llround(t.pass1 * n), std::llround(t.format * n), t.mean_length * n});
      }
    } else {
      failed = rep.status();
    }
  }
  const std::vector<std::string> all = w.AllGatherString(failed.ok() ? tally.dump() : "!" + failed.message());
  EvalReport out;
  std::map<std::string, size_t> index;
  std::vector<std::pair<int64_t, int64_t>> counts;  // correct, formatted
  std::vector<double> lengths;
  int64_t correct = 0;
  double length = 0.0;
  for (size_t r = 0; r < all.size(); ++r) {
    if (!all[r].empty() && all[r][0] == '!') return Status(StatusCode::kInternal, "rank " + std::to_string(r) + ": " + all[r].substr(1));
    for (const auto& t : nlohmann::json::parse(all[r])) {
      const std::string task = t[0];
      if (!index.count(task)) {
        index[task] = out.per_task.size();
        out.per_task.push_back({});
        out.per_task.back().task = task;
        counts.push_back({0, 0});
        lengths.push_back(0.0);
      }
      const size_t i = index[task];
      out.per_task[i].n += t[1].get<int64_t>();
      counts[i].first += t[2].get<int64_t>();
      counts[i].second += t[3].get<int64_t>();
      lengths[i] += t[4].get<double>();
    }
  }
  for (size_t i = 0; i < out.per_task.size(); ++i) {
    TaskScore& t = out.per_task[i];
    const double n = static_cast<double>(std::max<int64_t>(t.n, 1));
    t.pass1 = static_cast<double>(counts[i].first) / n;
    t.format = static_cast<double>(counts[i].second) / n;
    t.mean_length = lengths[i] / n;
    out.n += t.n;
    correct += counts[i].first;
    length += lengths[i];
  }
  out.accuracy = out.n > 0 ? static_cast<double>(correct) / static_cast<double>(out.n) : 0.0;
  out.mean_length = out.n > 0 ? length / static_cast<double>(out.n) : 0.0;
  return out;
}

}  // namespace gorae::rl
