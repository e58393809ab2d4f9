#include "train/expert_exchange.h"

#include <chrono>
#include <cstring>

namespace gorae::train {

namespace {

size_t Sz(int64_t n) { return static_cast<size_t>(n); }

using Clock = std::chrono::steady_clock;
ExchangeStats stats;  // the compute thread alone exchanges rows

// The float all-to-all of a dispatch or combine, counted in the stats.
void AllToAllRows(dist::Communicator& comm, const std::vector<float>& send, const std::vector<int64_t>& send_counts,
                  std::vector<float>& recv, const std::vector<int64_t>& recv_counts) {
  const auto t0 = Clock::now();
  comm.AllToAllV(send.data(), send_counts, recv.data(), recv_counts, dist::DType::kF32);
  stats.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  for (int r = 0; r < comm.size(); ++r) {
    if (r != comm.rank()) stats.bytes += send_counts[Sz(r)] * static_cast<int64_t>(sizeof(float));
  }
}

}  // namespace

ExchangeStats TakeExchangeStats() {
  const ExchangeStats s = stats;
  stats = {};
  return s;
}

std::vector<std::vector<float>> DispatchToExperts(const ExpertShard& ep, int64_t experts, int64_t D,
                                                  const std::vector<std::vector<float>>& rows, ExpertCounts* counts) {
  dist::Communicator& comm = *ep.comm;
  const int R = comm.size();
  const int64_t per = experts / R, local = ep.end - ep.begin;
  // 1. Row counts: to rank d, the counts of d's experts.
  std::vector<int64_t> send_n(Sz(experts)), recv_n(Sz(per * R));
  for (int64_t e = 0; e < experts; ++e) send_n[Sz(e)] = static_cast<int64_t>(rows[Sz(e)].size()) / D;
  comm.AllToAllV(send_n.data(), std::vector<int64_t>(Sz(R), per), recv_n.data(), std::vector<int64_t>(Sz(R), per),
                 dist::DType::kI64);
  counts->assign(Sz(local), std::vector<int64_t>(Sz(R), 0));
  for (int s = 0; s < R; ++s) {
    for (int64_t le = 0; le < local; ++le) (*counts)[Sz(le)][Sz(s)] = recv_n[Sz(s * per + le)];
  }
  // 2. The rows, expert by expert within each destination.
  std::vector<int64_t> send_counts(Sz(R), 0), recv_counts(Sz(R), 0);
  std::vector<float> send;
  for (int64_t e = 0; e < experts; ++e) {
    send.insert(send.end(), rows[Sz(e)].begin(), rows[Sz(e)].end());
    send_counts[Sz(e / per)] += static_cast<int64_t>(rows[Sz(e)].size());
  }
  int64_t total = 0;
  for (int s = 0; s < R; ++s) {
    for (int64_t le = 0; le < local; ++le) recv_counts[Sz(s)] += (*counts)[Sz(le)][Sz(s)] * D;
    total += recv_counts[Sz(s)];
  }
  std::vector<float> recv(Sz(total));
  AllToAllRows(comm, send, send_counts, recv, recv_counts);
  // 3. Regroup by expert: source s's block holds its rows for each of this rank's experts in turn.
  std::vector<std::vector<float>> owned(Sz(local));
  int64_t at = 0;
  for (int s = 0; s < R; ++s) {
    for (int64_t le = 0; le < local; ++le) {
      const int64_t n = (*counts)[Sz(le)][Sz(s)] * D;
      owned[Sz(le)].insert(owned[Sz(le)].end(), recv.begin() + at, recv.begin() + at + n);
      at += n;
    }
  }
  return owned;
}

std::vector<std::vector<float>> CombineFromExperts(const ExpertShard& ep, int64_t experts, int64_t D,
                                                   const std::vector<std::vector<float>>& owned,
                                                   const ExpertCounts& counts, const std::vector<int64_t>& sent_rows) {
  dist::Communicator& comm = *ep.comm;
  const int R = comm.size();
  const int64_t per = experts / R, local = ep.end - ep.begin;
  // Back to each source s: for each of this rank's experts, the rows that came from s.
  std::vector<int64_t> send_counts(Sz(R), 0), recv_counts(Sz(R), 0), offset(Sz(local), 0);
  std::vector<float> send;
  for (int s = 0; s < R; ++s) {
    for (int64_t le = 0; le < local; ++le) {
      const int64_t n = counts[Sz(le)][Sz(s)] * D;
      send.insert(send.end(), owned[Sz(le)].begin() + offset[Sz(le)], owned[Sz(le)].begin() + offset[Sz(le)] + n);
      offset[Sz(le)] += n;
      send_counts[Sz(s)] += n;
    }
  }
  int64_t total = 0;
  for (int64_t e = 0; e < experts; ++e) {
    recv_counts[Sz(e / per)] += sent_rows[Sz(e)] * D;
    total += sent_rows[Sz(e)] * D;
  }
  std::vector<float> recv(Sz(total));
  AllToAllRows(comm, send, send_counts, recv, recv_counts);
  std::vector<std::vector<float>> rows(Sz(experts));
  int64_t at = 0;
  for (int64_t e = 0; e < experts; ++e) {
    const int64_t n = sent_rows[Sz(e)] * D;
    rows[Sz(e)].assign(recv.begin() + at, recv.begin() + at + n);
    at += n;
  }
  return rows;
}

}  // namespace gorae::train
