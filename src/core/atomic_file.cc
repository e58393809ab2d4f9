#include "core/atomic_file.h"

#include <cstdio>
#include <fstream>

namespace gorae {

Status WriteFileAtomic(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IOError("cannot write '{}'", tmp);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return IOError("cannot write '{}'", tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return IOError("cannot rename '{}' to '{}'", tmp, path);
  }
  return Status::Ok();
}

}  // namespace gorae
