#include "dist/comm.h"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "dist/launcher.h"

namespace gorae::dist {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
  }
  return 1;
}

namespace {

class DoneRequest final : public Request {
 public:
  bool Test() override { return true; }
  void Wait() override {}
};

// One rank: every collective is the identity (or a copy from input to output).
class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void AllReduceSum(void*, int64_t, DType) override {}
  std::unique_ptr<Request> IAllReduceSum(void*, int64_t, DType) override { return std::make_unique<DoneRequest>(); }
  void ReduceScatterSum(const void* in, void* out, const std::vector<int64_t>& counts, DType t) override {
    Copy(out, in, counts.at(0), t);
  }
  std::unique_ptr<Request> IReduceScatterSum(const void* in, void* out, const std::vector<int64_t>& counts,
                                             DType t) override {
    ReduceScatterSum(in, out, counts, t);
    return std::make_unique<DoneRequest>();
  }
  void AllGatherV(const void* in, void* out, const std::vector<int64_t>& counts, DType t) override {
    Copy(out, in, counts.at(0), t);
  }
  std::unique_ptr<Request> IAllGatherV(const void* in, void* out, const std::vector<int64_t>& counts,
                                       DType t) override {
    AllGatherV(in, out, counts, t);
    return std::make_unique<DoneRequest>();
  }
  void AllToAllV(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                 const std::vector<int64_t>& recv_counts, DType t) override {
    Copy(recv, send, std::min(send_counts.at(0), recv_counts.at(0)), t);
  }
  void Broadcast(void*, int64_t, DType, int) override {}
  void Barrier() override {}
  std::unique_ptr<Communicator> Split(int, int) override { return std::make_unique<SingleCommunicator>(); }

 private:
  static void Copy(void* out, const void* in, int64_t n, DType t) {
    if (n > 0 && out != in) std::memmove(out, in, static_cast<size_t>(n) * DTypeSize(t));
  }
};

std::unique_ptr<Communicator>& WorldSlot() {
  static std::unique_ptr<Communicator> world = std::make_unique<SingleCommunicator>();
  return world;
}

}  // namespace

Communicator& World() { return *WorldSlot(); }

std::vector<int64_t> Communicator::AllGatherInt(int64_t x) {
  std::vector<int64_t> all(static_cast<size_t>(size()));
  AllGatherV(&x, all.data(), std::vector<int64_t>(all.size(), 1), DType::kI64);
  return all;
}

std::vector<std::string> Communicator::AllGatherString(const std::string& s) {
  const std::vector<int64_t> lengths = AllGatherInt(static_cast<int64_t>(s.size()));
  int64_t total = 0;
  for (int64_t n : lengths) total += n;
  std::string joined(static_cast<size_t>(total), '\0');
  AllGatherV(s.data(), joined.data(), lengths, DType::kU8);
  std::vector<std::string> out;
  int64_t at = 0;
  for (int64_t n : lengths) {
    out.push_back(joined.substr(static_cast<size_t>(at), static_cast<size_t>(n)));
    at += n;
  }
  return out;
}

void Communicator::BroadcastString(std::string& s, int root) {
  int64_t n = static_cast<int64_t>(s.size());
  Broadcast(&n, 1, DType::kI64, root);
  s.resize(static_cast<size_t>(n));
  Broadcast(s.data(), n, DType::kU8, root);
}

Status CheckSameOnAllRanks(const std::string& what, const std::string& value) {
  Communicator& w = World();
  if (w.size() == 1) return Status::Ok();
  const std::vector<std::string> all = w.AllGatherString(value);
  std::string differ;
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) differ += fmt::format("{}{}", differ.empty() ? "" : ", ", r);
  }
  if (differ.empty()) return Status::Ok();
  return InvalidArgument("{} differs between ranks: rank(s) {} do not match rank 0; every rank must run the same", what,
                         differ);
}

Status RunOnRoot(const std::function<Status()>& fn) {
  Communicator& w = World();
  Status s = w.rank() == 0 ? fn() : Status::Ok();
  if (w.size() == 1) return s;
  int64_t code = static_cast<int64_t>(s.code());
  std::string message = s.message();
  w.Broadcast(&code, 1, DType::kI64, 0);
  w.BroadcastString(message, 0);
  return code == 0 ? Status::Ok() : Status(static_cast<StatusCode>(code), message);
}

std::pair<int64_t, int64_t> ShareOf(int64_t n, int rank, int size) {
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

Status InitWorld(int* argc, char*** argv) {
  const LaunchInfo launch = DetectLauncher();
  if (!launch.launched || launch.size <= 1) return Status::Ok();
  GORAE_ASSIGN_OR_RETURN(WorldSlot(), MakeMpiWorld(argc, argv));
  return Status::Ok();
}

bool ConcurrentCallsAllowed() { return World().backend() != "mpi" || MpiThreadMultiple(); }

void FinalizeWorld() {
  if (World().backend() == "mpi") FinalizeMpi();
}

void AbortWorld(int code) {
  if (World().backend() == "mpi") AbortMpi(code);
  std::exit(code);
}

}  // namespace gorae::dist
