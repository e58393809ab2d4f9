// How this process was started: alone, or as one rank of a job by an MPI launcher.
//
// mpirun/mpiexec (OpenMPI: OMPI_COMM_WORLD_SIZE/RANK; MPICH and Hydra: PMI_SIZE/PMI_RANK) and
// Slurm's srun with PMI or PMIx (PMIX_RANK with SLURM_NTASKS, or PMI_*) each leave their mark in
// the environment. MPI is initialised only when one of them did: a plain `gorae ...` never
// touches MPI, so it runs exactly as a build without MPI does.
#pragma once

#include <memory>

#include "core/status.h"
#include "dist/comm.h"

namespace gorae::dist {

struct LaunchInfo {
  bool launched = false;  // started by an MPI launcher
  int size = 1, rank = 0;
  std::string launcher;   // "mpirun", "pmi", "srun (pmix)"
};

LaunchInfo DetectLauncher();

// The MPI world (mpi_comm.cc); without MPI at build time, an error that says so.
Result<std::unique_ptr<Communicator>> MakeMpiWorld(int* argc, char*** argv);
void FinalizeMpi();
bool MpiThreadMultiple();
[[noreturn]] void AbortMpi(int code);

}  // namespace gorae::dist
