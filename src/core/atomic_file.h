// Whole-file writes that never leave a half-written file behind: the contents go to PATH.tmp,
// which is then renamed over PATH (atomic on POSIX file systems).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace gorae {

Status WriteFileAtomic(const std::string& path, std::string_view contents);

// fsync of a file or a directory: its data (or, for a directory, its entries: renames) are on the
// disk before anything that follows. A rename is atomic but not durable without it: after a power
// loss the new name could point at a file whose blocks were never written.
Status SyncToDisk(const std::string& path);
// SyncToDisk of the directory holding `path` (after renaming something into it).
Status SyncParentDir(const std::string& path);

}  // namespace gorae
