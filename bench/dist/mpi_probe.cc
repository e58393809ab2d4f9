// Plain MPI probes, run with 2 ranks: point-to-point bandwidth (ping-pong of one message size,
// rank 0 <-> rank 1) and MPI_Allreduce of the same size, with its bus bandwidth (the NCCL-tests
// convention: algorithm bandwidth x 2 (n - 1) / n, what each link carries in a ring).
// Usage: mpirun -np 2 mpi_probe BYTES [REPEATS]; prints one JSON line on rank 0.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const long bytes = argc > 1 ? std::atol(argv[1]) : (1 << 22);
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 20;
  const int n = static_cast<int>(bytes / 4);
  std::vector<float> buf(static_cast<size_t>(n), 1.0f);
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };

  // Ping-pong between ranks 0 and 1: one-way time = round trip / 2.
  double p2p = 0.0;
  if (size >= 2) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = now();
    for (int i = 0; i < repeats; ++i) {
      if (rank == 0) {
        MPI_Send(buf.data(), n, MPI_FLOAT, 1, 0, MPI_COMM_WORLD);
        MPI_Recv(buf.data(), n, MPI_FLOAT, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else if (rank == 1) {
        MPI_Recv(buf.data(), n, MPI_FLOAT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(buf.data(), n, MPI_FLOAT, 0, 0, MPI_COMM_WORLD);
      }
    }
    p2p = seconds(t0, now()) / (2.0 * repeats);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t1 = now();
  for (int i = 0; i < repeats; ++i) MPI_Allreduce(MPI_IN_PLACE, buf.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  const double ar = seconds(t1, now()) / repeats;
  if (rank == 0) {
    const double algbw = static_cast<double>(bytes) / ar / 1e9;
    std::printf("{\"bytes\": %ld, \"ranks\": %d, \"p2p_seconds\": %.6g, \"p2p_gb_per_s\": %.4g, "
                "\"allreduce_seconds\": %.6g, \"allreduce_busbw_gb_per_s\": %.4g}\n",
                bytes, size, p2p, p2p > 0 ? static_cast<double>(bytes) / p2p / 1e9 : 0.0, ar,
                algbw * 2.0 * (size - 1) / size);
  }
  MPI_Finalize();
  return 0;
}
