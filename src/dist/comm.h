// The communicator: the collectives that data- and expert-parallel code needs, over one engine.
//
// Every process has one world communicator (World()). Launched alone, it is the one-rank
// communicator: rank 0 of 1, every collective a copy, so a single process is the N = 1 case of
// the same code, not a separate path. Launched by mpirun or srun (and built with MPI), it is
// MPI's MPI_COMM_WORLD. An NCCL communicator over device buffers is a third implementation of the
// same interface (docs/distributed.md): callers never name the engine.
//
// Collectives are called by every rank in the same order with matching counts (MPI's rule). A
// failure inside the engine is fatal for the whole job (MPI_ERRORS_ARE_FATAL): a rank that dies
// ends every rank through the launcher instead of leaving the others waiting.
//
// Thread safety: one thread at a time calls into a communicator (MPI_THREAD_SERIALIZED). The
// gradient reducer's communication thread is the only caller while a backward pass runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace gorae::dist {

enum class DType { kF32, kF64, kI64, kU8 };

size_t DTypeSize(DType t);

// A non-blocking collective in flight. Test() drives it (MPI progresses only inside its calls).
class Request {
 public:
  virtual ~Request() = default;
  virtual bool Test() = 0;  // true once complete
  virtual void Wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "single" or "mpi"

  // In place: data[i] = sum over ranks of data[i].
  virtual void AllReduceSum(void* data, int64_t count, DType t) = 0;
  virtual std::unique_ptr<Request> IAllReduceSum(void* data, int64_t count, DType t) = 0;
  // in (sum of counts) summed over ranks; this rank keeps its part (counts[rank()] values) in out.
  virtual void ReduceScatterSum(const void* in, void* out, const std::vector<int64_t>& counts, DType t) = 0;
  virtual std::unique_ptr<Request> IReduceScatterSum(const void* in, void* out, const std::vector<int64_t>& counts,
                                                     DType t) = 0;
  // Rank r contributes counts[r] values; out receives them all in rank order.
  virtual void AllGatherV(const void* in, void* out, const std::vector<int64_t>& counts, DType t) = 0;
  virtual std::unique_ptr<Request> IAllGatherV(const void* in, void* out, const std::vector<int64_t>& counts,
                                               DType t) = 0;
  // send holds send_counts[r] values for each rank r in rank order; recv gets recv_counts[r]
  // values from each rank r in rank order.
  virtual void AllToAllV(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                         const std::vector<int64_t>& recv_counts, DType t) = 0;
  virtual void Broadcast(void* data, int64_t count, DType t, int root) = 0;
  virtual void Barrier() = 0;
  // A communicator over the ranks that pass the same color (collective over this one), ordered
  // by key. Expert parallelism's groups are such splits of the world.
  virtual std::unique_ptr<Communicator> Split(int color, int key) = 0;

  // Typed conveniences.
  void AllReduceSum(std::vector<float>& v) { AllReduceSum(v.data(), static_cast<int64_t>(v.size()), DType::kF32); }
  void AllReduceSum(std::vector<double>& v) { AllReduceSum(v.data(), static_cast<int64_t>(v.size()), DType::kF64); }
  void AllReduceSum(std::vector<int64_t>& v) { AllReduceSum(v.data(), static_cast<int64_t>(v.size()), DType::kI64); }
  double SumDouble(double x) { AllReduceSum(&x, 1, DType::kF64); return x; }
  int64_t SumInt(int64_t x) { AllReduceSum(&x, 1, DType::kI64); return x; }
  // Every rank's value of x, in rank order.
  std::vector<int64_t> AllGatherInt(int64_t x);
  // Every rank's string (any length), in rank order.
  std::vector<std::string> AllGatherString(const std::string& s);
  void BroadcastString(std::string& s, int root);
};

// The process's world communicator (the one-rank communicator until InitWorld found a launcher).
Communicator& World();
inline bool IsRoot() { return World().rank() == 0; }

// Called once at the start of main: joins the MPI job when the process was started by an MPI
// launcher (mpirun/mpiexec, or srun with PMI/PMIx), otherwise keeps the one-rank world. Returns an
// error when the process was launched as one of several ranks but this binary has no MPI.
Status InitWorld(int* argc, char*** argv);
// Whether two threads may be inside the engine at once (MPI_THREAD_MULTIPLE). Expert parallelism
// runs all-to-alls on the compute thread: the gradient reducer overlaps only where this holds.
bool ConcurrentCallsAllowed();
// Called once at the end of main (after the last collective).
void FinalizeWorld();
// Ends every rank of the job at once with exit code `code` (MPI_Abort; plain exit alone).
[[noreturn]] void AbortWorld(int code);

// Fails on every rank, with a message naming the ranks that differ, unless every rank passed
// the same `value` (compared by content). `what` names the value ("the gorae binary", "config").
Status CheckSameOnAllRanks(const std::string& what, const std::string& value);

// Runs fn on rank 0 only (a file write, say) and gives its status to every rank, which wait for
// it: the ranks go on, or fail, together.
Status RunOnRoot(const std::function<Status()>& fn);

// [begin, end) of the rank's share when n items are split as evenly as possible over `size`
// ranks in order (the first n % size ranks get one more).
std::pair<int64_t, int64_t> ShareOf(int64_t n, int rank, int size);

}  // namespace gorae::dist
