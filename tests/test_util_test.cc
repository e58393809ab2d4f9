// The shared comparison helper must fail on what a plain running maximum lets through.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "test_util.h"

namespace gorae::testing {
namespace {

TEST(WorstDiff, FindsTheLargestDifferenceAndWhere) {
  const auto w = MaxAbsDiff(std::vector<float>{1, 2, 3}, std::vector<double>{1, 2.5, 2.9});
  EXPECT_DOUBLE_EQ(w.value, 0.5);
  EXPECT_EQ(w.at, 1);
  EXPECT_TRUE(w.finite);
}

TEST(WorstDiff, ANaNOrInfinityNeverPassesABound) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // The pattern this replaces: a NaN leaves the running maximum at 0, so `< 1e-4` passes.
  float old_worst = 0;
  for (float got : {1.0f, nan}) old_worst = std::max(old_worst, std::fabs(1.0f - got));
  EXPECT_LT(old_worst, 1e-4f);
  for (float bad : {nan, inf, -inf}) {
    const auto w = MaxAbsDiff(std::vector<float>{1, 1, 1}, std::vector<float>{1, bad, 1});
    EXPECT_FALSE(w.value < 1e-4) << bad;
    EXPECT_EQ(w.at, 1);
    EXPECT_FALSE(w.finite);
    const auto r = MaxAbsDiff(std::vector<float>{bad}, std::vector<float>{1});  // on the reference side too
    EXPECT_FALSE(r.value < 1e-4) << bad;
  }
}

TEST(WorstDiff, LengthMismatchFails) {
  EXPECT_FALSE(MaxAbsDiff(std::vector<float>{1, 2}, std::vector<float>{1}).value < 1e-4);
}

TEST(SameFileBytes, FailsOnOneChangedByteALengthOrAMissingFile) {
  TempDir d;
  WriteFile(d / "a", "checkpoint bytes");
  WriteFile(d / "b", "checkpoint bytes");
  EXPECT_TRUE(SameFileBytes(d / "a", d / "b"));
  WriteFile(d / "b", "checkpoint bytez");
  const auto changed = SameFileBytes(d / "a", d / "b");
  EXPECT_FALSE(changed);
  EXPECT_NE(std::string(changed.message()).find("byte 15"), std::string::npos) << changed.message();
  WriteFile(d / "b", "checkpoint byte");
  EXPECT_FALSE(SameFileBytes(d / "a", d / "b"));
  EXPECT_FALSE(SameFileBytes(d / "a", d / "missing"));
}

}  // namespace
}  // namespace gorae::testing
