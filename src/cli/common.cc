#include <cstdio>
#include <string>

#include "cli/commands.h"

namespace gorae::cli {

int ReportError(const std::string& message) {
  std::fprintf(stderr, "gorae: error: %s\n", message.c_str());
  return 1;
}

}  // namespace gorae::cli
