#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "dist/job.h"

namespace gorae::cli {

int ReportError(const std::string& message) {
  dist::PrintError(message);
  return 1;
}

}  // namespace gorae::cli
