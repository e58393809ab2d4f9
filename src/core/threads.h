// Thread count for the CPU kernels. gorae's own kernels use OpenMP; GEMMs go to OpenBLAS,
// which keeps its own pool. Both are set together so the two never oversubscribe the cores.
#pragma once

namespace gorae {

// Sets the worker count for OpenMP regions and for BLAS. n <= 0 means all hardware threads.
// OpenMP keeps this setting per calling thread: a thread that runs the model (e.g. a server's
// engine thread) must call SetNumThreads itself, or its regions use every core.
void SetNumThreads(int n);
int NumThreads();

}  // namespace gorae
