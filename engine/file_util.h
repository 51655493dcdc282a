// Directories of the data directory's tree.
#ifndef LOCUS_ENGINE_FILE_UTIL_H_
#define LOCUS_ENGINE_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"

namespace locus::engine {

// mkdir -p: every missing directory of `path` (up to its last '/' when it
// ends with one), mode 0750.
absl::Status MakeDirectories(const std::string& path);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_FILE_UTIL_H_
