// locusd's command line: one flag per setting of Settings() (--NAME=VALUE or
// --NAME VALUE; a true|false setting alone means true), --config=FILE,
// --help and --version. The help lists the settings by topic, each with its
// default as Config::Defaults() has it, so it cannot drift from the code.
#ifndef LOCUS_ENGINE_COMMAND_LINE_H_
#define LOCUS_ENGINE_COMMAND_LINE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config.h"

namespace locus::engine {

struct CommandLine {
  bool help = false;
  bool version = false;
  std::string config_file;  // empty: none
  // Settings given, in the order given (a later one wins).
  std::vector<std::pair<std::string, std::string>> settings;
};

// InvalidArgument for an unknown flag, a stray argument or a missing value.
absl::StatusOr<CommandLine> ParseCommandLine(int argc, const char* const* argv);

// `locusd --help`: usage, then the settings by topic with their defaults.
std::string HelpText();

// The default of one setting as --help shows it: lists comma-separated,
// "none" when empty.
std::string DefaultText(const SettingInfo& setting);

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_COMMAND_LINE_H_
