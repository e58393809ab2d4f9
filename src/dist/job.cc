#include "dist/job.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "dist/comm.h"

namespace gorae::dist {

namespace {

int error_fd = 2;

// FNV-1a of this process's executable: ranks started from different builds differ here.
std::string BinaryFingerprint() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  uint64_t h = 1469598103934665603ull;
  char buf[1 << 16];
  int64_t size = 0;
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
    size += in.gcount();
  }
  return fmt::format("{:016x}/{}", h, size);
}

}  // namespace

Status JoinJob(int* argc, char*** argv) {
  GORAE_RETURN_IF_ERROR(InitWorld(argc, argv));
  Communicator& w = World();
  if (w.size() == 1) return Status::Ok();
  if (w.rank() != 0) {
    error_fd = dup(2);
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      std::fflush(stdout);
      std::fflush(stderr);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      close(null_fd);
    }
  }
  return CheckSameOnAllRanks("the gorae binary (/proc/self/exe)", BinaryFingerprint());
}

void PrintError(const std::string& message) {
  const std::string line = World().rank() == 0 ? fmt::format("gorae: error: {}\n", message)
                                                : fmt::format("gorae: error (rank {}): {}\n", World().rank(), message);
  std::fflush(stderr);
  const ssize_t ignored = write(error_fd, line.data(), line.size());
  (void)ignored;
}

int LeaveJob(int exit_code) {
  if (World().size() > 1 && exit_code != 0) {
    std::fflush(nullptr);
    AbortWorld(exit_code);
  }
  FinalizeWorld();
  return exit_code;
}

}  // namespace gorae::dist
