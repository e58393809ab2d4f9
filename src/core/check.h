// GORAE_CHECK: internal invariants (programming errors), not user input. A failed check prints
// file:line and the message, then aborts. User input errors travel as Status (status.h).
#pragma once

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#define GORAE_CHECK(cond, ...)                                                          \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: check failed: %s %s\n", __FILE__, __LINE__, #cond,  \
                   ::fmt::format("" __VA_ARGS__).c_str());                              \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
