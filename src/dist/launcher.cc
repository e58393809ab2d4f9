#include "dist/launcher.h"

#include <cstdlib>
#include <string>

namespace gorae::dist {

namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (end != nullptr && *end == '\0' && x >= 0 && x < (1 << 24)) ? static_cast<int>(x) : fallback;
}

}  // namespace

LaunchInfo DetectLauncher() {
  LaunchInfo info;
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
    info = {true, EnvInt("OMPI_COMM_WORLD_SIZE", 1), EnvInt("OMPI_COMM_WORLD_RANK", 0), "mpirun"};
  } else if (std::getenv("PMI_SIZE") != nullptr) {
    info = {true, EnvInt("PMI_SIZE", 1), EnvInt("PMI_RANK", 0), "pmi"};
  } else if (std::getenv("PMIX_RANK") != nullptr && std::getenv("SLURM_NTASKS") != nullptr) {
    info = {true, EnvInt("SLURM_NTASKS", 1), EnvInt("PMIX_RANK", 0), "srun (pmix)"};
  }
  return info;
}

}  // namespace gorae::dist
