#include "engine/command_line.h"

#include <string_view>

#include "engine/config.h"
#include "engine/text.h"
#include "simdjson.h"

namespace locus::engine {
namespace {

constexpr size_t kHelpColumn = 32;  // where the help text of a flag starts
constexpr size_t kWidth = 80;

const SettingInfo* FindSetting(std::string_view name) {
  for (const SettingInfo& setting : Settings()) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

bool IsBoolean(const SettingInfo& setting) { return setting.placeholder == "true|false"; }

// Appends "  --flag" and its help, words wrapped at kWidth, continuation
// lines indented to kHelpColumn.
void AppendOption(std::string_view flag, std::string_view help, std::string* out) {
  std::string line = Cat("  ", flag);
  if (line.size() + 2 > kHelpColumn) {
    out->append(line);
    out->push_back('\n');
    line.clear();
  }
  line.resize(kHelpColumn, ' ');
  bool first_word = true;
  while (!help.empty()) {
    const size_t space = help.find(' ');
    const std::string_view word = help.substr(0, space);
    help = space == std::string_view::npos ? std::string_view() : help.substr(space + 1);
    if (!first_word && line.size() + 1 + word.size() > kWidth) {
      out->append(line);
      out->push_back('\n');
      line.assign(kHelpColumn, ' ');
      first_word = true;
    }
    if (!first_word) line.push_back(' ');
    line.append(word);
    first_word = false;
  }
  out->append(line);
  out->push_back('\n');
}

}  // namespace

std::string DefaultText(const SettingInfo& setting) {
  const std::string json = Cat("{\"v\":", setting.json_value(Config::Defaults()), "}");
  simdjson::dom::parser parser;
  simdjson::dom::element value;
  if (parser.parse(json).get(value) || value["v"].get(value)) return "?";
  std::string text;
  switch (value.type()) {
    case simdjson::dom::element_type::STRING:
      text = std::string(std::string_view(value));
      break;
    case simdjson::dom::element_type::ARRAY: {
      std::vector<std::string> items;
      for (simdjson::dom::element item : value.get_array()) {
        std::string_view s;
        if (!item.get(s)) items.emplace_back(s);
      }
      text = Join(items, ",");
      break;
    }
    default:
      text = simdjson::to_string(value);
  }
  return text.empty() ? "none" : text;
}

absl::StatusOr<CommandLine> ParseCommandLine(int argc, const char* const* argv) {
  CommandLine out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) return absl::InvalidArgumentError(Cat("unexpected argument '", argv[i + 1], "'"));
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(Cat("unexpected argument '", arg, "'"));
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const bool has_value = eq != std::string_view::npos;
    std::string value(has_value ? arg.substr(eq + 1) : std::string_view());
    if (name == "help" || name == "version") {
      if (has_value) return absl::InvalidArgumentError(Cat("--", name, " takes no value"));
      (name == "help" ? out.help : out.version) = true;
      continue;
    }
    const SettingInfo* setting = name == "config" ? nullptr : FindSetting(name);
    if (name != "config" && setting == nullptr) {
      return absl::InvalidArgumentError(Cat("unknown flag --", name, " (see --help)"));
    }
    if (!has_value) {
      if (setting != nullptr && IsBoolean(*setting)) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(Cat("--", name, " needs a value"));
      }
    }
    if (name == "config") {
      if (value.empty()) return absl::InvalidArgumentError("--config needs a file");
      out.config_file = value;
    } else {
      out.settings.emplace_back(std::string(name), std::move(value));
    }
  }
  return out;
}

std::string HelpText() {
  std::string out =
      "Usage: locusd [--config=FILE] [--SETTING=VALUE]...\n"
      "The locus SIP registrar: binds addresses-of-record to the contacts user agents\n"
      "register (RFC 3261 section 10), keeps the bindings durably and answers with the\n"
      "current list. Settings come from the defaults shown below, then the JSON file\n"
      "given with --config (keys as the flag names), then the flags: a flag wins over\n"
      "the file. Each flag is --NAME=VALUE or --NAME VALUE; lists are comma-separated.\n"
      "\n"
      "General:\n";
  AppendOption("--config=FILE", "JSON configuration file; keys that start with _ are comments", &out);
  AppendOption("--help", "print this help and exit", &out);
  AppendOption("--version", "print the version and exit", &out);
  for (SettingGroup group :
       {SettingGroup::kListening, SettingGroup::kTls, SettingGroup::kRegistrar,
        SettingGroup::kAuthentication, SettingGroup::kDurability, SettingGroup::kObservability,
        SettingGroup::kLimits}) {
    out.append(Cat("\n", SettingGroupTitle(group), ":\n"));
    for (const SettingInfo& setting : Settings()) {
      if (setting.group != group) continue;
      AppendOption(Cat("--", setting.name, "=", setting.placeholder),
                   Cat(setting.help, " (default: ", DefaultText(setting), ")"), &out);
    }
  }
  out.append(
      "\n"
      "Signals: SIGTERM or SIGINT drain and stop. Exit status: 0 after a clean stop,\n"
      "1 when start-up fails (e.g. an address in use), 2 for an invalid configuration.\n"
      "Under systemd (Type=notify) locusd reports READY=1 once restored and listening,\n"
      "STOPPING=1, and WATCHDOG=1 while every shard's loop turns.\n"
      "\n"
      "See also locusctl(1), docs/configuration.md and docs/operations.md.\n");
  return out;
}

}  // namespace locus::engine
