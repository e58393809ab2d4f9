// Whole-file writes that never leave a half-written file behind: the contents go to PATH.tmp,
// which is then renamed over PATH (atomic on POSIX file systems).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace gorae {

Status WriteFileAtomic(const std::string& path, std::string_view contents);

}  // namespace gorae
