#include "engine/file_util.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "engine/text.h"

namespace locus::engine {

absl::Status MakeDirectories(const std::string& path) {
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    const std::string prefix = path.substr(0, at);
    if (mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return absl::InternalError(Cat("mkdir ", prefix, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace locus::engine
