// The MPI implementation of the communicator (MPI_COMM_WORLD), and the error that a build
// without MPI gives when it is launched as one of several ranks.
#include "dist/launcher.h"

#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#ifdef GORAE_HAVE_MPI
// The C API only: without these, OpenMPI's and MPICH's mpi.h pull in their removed C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

#include "core/check.h"

namespace gorae::dist {

#ifdef GORAE_HAVE_MPI

namespace {

MPI_Datatype ToMpi(DType t) {
  switch (t) {
    case DType::kF32: return MPI_FLOAT;
    case DType::kF64: return MPI_DOUBLE;
    case DType::kI64: return MPI_INT64_T;
    case DType::kU8: return MPI_UNSIGNED_CHAR;
  }
  return MPI_BYTE;
}

// MPI counts are int: larger transfers go in pieces (all-reduce), or are refused (the v-forms,
// whose displacements are int too: 2^31 values per call is far beyond what any caller sends).
constexpr int64_t kMaxPiece = int64_t{1} << 30;

int ToInt(int64_t n) {
  GORAE_CHECK(n >= 0 && n <= std::numeric_limits<int>::max(), "MPI transfer of {} values is too large", n);
  return static_cast<int>(n);
}

struct CountsAndDispls {
  std::vector<int> counts, displs;
  explicit CountsAndDispls(const std::vector<int64_t>& c) {
    int64_t at = 0;
    for (int64_t n : c) {
      counts.push_back(ToInt(n));
      displs.push_back(ToInt(at));
      at += n;
    }
    ToInt(at);
  }
};

class MpiRequest final : public Request {
 public:
  // Keeps the count arrays alive as long as MPI may read them.
  MPI_Request req = MPI_REQUEST_NULL;
  std::unique_ptr<CountsAndDispls> counts;
  bool done = false;
  bool Test() override {
    if (done) return true;
    int flag = 0;
    MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
    done = flag != 0;
    return done;
  }
  void Wait() override {
    if (!done) MPI_Wait(&req, MPI_STATUS_IGNORE);
    done = true;
  }
  ~MpiRequest() override { Wait(); }
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    if (comm_ != MPI_COMM_WORLD) MPI_Comm_free(&comm_);
  }
  std::unique_ptr<Communicator> Split(int color, int key) override {
    MPI_Comm sub = MPI_COMM_NULL;
    MPI_Comm_split(comm_, color, key, &sub);
    return std::make_unique<MpiCommunicator>(sub);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void AllReduceSum(void* data, int64_t count, DType t) override {
    char* p = static_cast<char*>(data);
    for (int64_t at = 0; at < count; at += kMaxPiece) {
      const int64_t n = std::min(kMaxPiece, count - at);
      MPI_Allreduce(MPI_IN_PLACE, p + at * static_cast<int64_t>(DTypeSize(t)), static_cast<int>(n), ToMpi(t), MPI_SUM,
                    comm_);
    }
  }
  std::unique_ptr<Request> IAllReduceSum(void* data, int64_t count, DType t) override {
    auto r = std::make_unique<MpiRequest>();
    MPI_Iallreduce(MPI_IN_PLACE, data, ToInt(count), ToMpi(t), MPI_SUM, comm_, &r->req);
    return r;
  }
  void ReduceScatterSum(const void* in, void* out, const std::vector<int64_t>& counts, DType t) override {
    IReduceScatterSum(in, out, counts, t)->Wait();
  }
  std::unique_ptr<Request> IReduceScatterSum(const void* in, void* out, const std::vector<int64_t>& counts,
                                             DType t) override {
    GORAE_CHECK(static_cast<int>(counts.size()) == size_);
    auto r = std::make_unique<MpiRequest>();
    r->counts = std::make_unique<CountsAndDispls>(counts);
    MPI_Ireduce_scatter(in, out, r->counts->counts.data(), ToMpi(t), MPI_SUM, comm_, &r->req);
    return r;
  }
  void AllGatherV(const void* in, void* out, const std::vector<int64_t>& counts, DType t) override {
    IAllGatherV(in, out, counts, t)->Wait();
  }
  std::unique_ptr<Request> IAllGatherV(const void* in, void* out, const std::vector<int64_t>& counts,
                                       DType t) override {
    GORAE_CHECK(static_cast<int>(counts.size()) == size_);
    auto r = std::make_unique<MpiRequest>();
    r->counts = std::make_unique<CountsAndDispls>(counts);
    MPI_Iallgatherv(in, r->counts->counts[rank_], ToMpi(t), out, r->counts->counts.data(), r->counts->displs.data(),
                    ToMpi(t), comm_, &r->req);
    return r;
  }
  void AllToAllV(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                 const std::vector<int64_t>& recv_counts, DType t) override {
    GORAE_CHECK(static_cast<int>(send_counts.size()) == size_ && static_cast<int>(recv_counts.size()) == size_);
    const CountsAndDispls s(send_counts), r(recv_counts);
    MPI_Alltoallv(send, s.counts.data(), s.displs.data(), ToMpi(t), recv, r.counts.data(), r.displs.data(), ToMpi(t),
                  comm_);
  }
  void Broadcast(void* data, int64_t count, DType t, int root) override {
    MPI_Bcast(data, ToInt(count), ToMpi(t), root, comm_);
  }
  void Barrier() override { MPI_Barrier(comm_); }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

static int thread_level = 0;  // what MPI_Init_thread provided

Result<std::unique_ptr<Communicator>> MakeMpiWorld(int* argc, char*** argv) {
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
  thread_level = provided;
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    return Status(StatusCode::kInternal,
                  fmt::format("this MPI library offers thread level {} but gorae's gradient reducer needs "
                              "MPI_THREAD_SERIALIZED ({})",
                              provided, MPI_THREAD_SERIALIZED));
  }
  return std::unique_ptr<Communicator>(new MpiCommunicator(MPI_COMM_WORLD));
}

void FinalizeMpi() { MPI_Finalize(); }

bool MpiThreadMultiple() { return thread_level >= MPI_THREAD_MULTIPLE; }

void AbortMpi(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

#else  // no MPI at build time

Result<std::unique_ptr<Communicator>> MakeMpiWorld(int*, char***) {
  const LaunchInfo l = DetectLauncher();
  return Status(StatusCode::kUnsupported,
                fmt::format("this gorae was built without MPI but was started by {} as rank {} of {}: install "
                            "libopenmpi-dev (scripts/install_deps.sh) and rebuild",
                            l.launcher, l.rank, l.size));
}

void FinalizeMpi() {}

bool MpiThreadMultiple() { return false; }

void AbortMpi(int code) { std::exit(code); }

#endif

}  // namespace gorae::dist
