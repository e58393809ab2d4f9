// The process's part in a job of several ranks: joining it, keeping rank 0 the only voice, and
// leaving it so that no rank is left waiting.
#pragma once

#include <string>

#include "core/status.h"

namespace gorae::dist {

// InitWorld, then on ranks other than 0 sends stdout and stderr to /dev/null (rank 0 alone
// prints progress and results), and refuses a job whose ranks run different gorae binaries.
Status JoinJob(int* argc, char*** argv);

// Writes "gorae: error: ..." (with the rank, from ranks other than 0) to the real stderr.
void PrintError(const std::string& message);

// The end of main: with several ranks, a failure on any one ends them all (MPI_Abort) so none
// waits in a collective for a rank that has left; success finalizes. Returns the exit code.
int LeaveJob(int exit_code);

}  // namespace gorae::dist
