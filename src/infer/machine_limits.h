// What this machine can do at best, so benchmarks can say how close gorae gets:
// the BLAS sgemm rate and the memory read bandwidth, measured on the spot.
#pragma once

namespace gorae {

// GFLOP/s of a square n x n x n sgemm through BLAS with the current thread count (best of reps).
double MeasureSgemmGflops(int n = 1536, int reps = 3);

// GB/s reading a buffer much larger than the caches with all threads (best of reps).
double MeasureReadBandwidthGBs(double gib = 1.0, int reps = 3);

}  // namespace gorae
