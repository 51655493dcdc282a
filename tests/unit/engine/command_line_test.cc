#include "engine/command_line.h"

#include <algorithm>
#include <string>
#include <vector>

#include "engine/config.h"
#include "gtest/gtest.h"

namespace locus::engine {
namespace {

absl::StatusOr<CommandLine> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "locusd");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(CommandLine, EveryFormOfAFlag) {
  const absl::StatusOr<CommandLine> c = Parse(
      {"--udp=127.0.0.1:5070", "--tcp", "", "-shards=2", "--auth", "--config", "a.json", "--domains",
       "example.com", "--force_rport=false", "--udp=127.0.0.1:5071"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->config_file, "a.json");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"udp", "127.0.0.1:5070"}, {"tcp", ""},          {"shards", "2"},
      {"auth", "true"},          {"domains", "example.com"}, {"force_rport", "false"},
      {"udp", "127.0.0.1:5071"}};
  EXPECT_EQ(c->settings, want);
  EXPECT_FALSE(c->help);
  EXPECT_TRUE(Parse({"--help"})->help);
  EXPECT_TRUE(Parse({"--version"})->version);
}

TEST(CommandLine, ErrorsNameTheProblem) {
  for (const auto& [args, says] : std::vector<std::pair<std::vector<const char*>, std::string>>{
           {{"--no_such_flag=1"}, "unknown flag --no_such_flag"},
           {{"stray"}, "unexpected argument 'stray'"},
           {{"--udp"}, "--udp needs a value"},
           {{"--help=yes"}, "--help takes no value"},
           {{"--config="}, "--config needs a file"},
           {{"--", "x"}, "unexpected argument 'x'"}}) {
    const absl::StatusOr<CommandLine> c = Parse(args);
    ASSERT_FALSE(c.ok()) << says;
    EXPECT_NE(std::string(c.status().message()).find(says), std::string::npos) << c.status().message();
  }
}

// --help lists every setting once, under its topic, with the default
// Config::Defaults() has; and no abseil-style noise.
TEST(CommandLine, HelpListsEverySettingWithItsDefault) {
  const std::string help = HelpText();
  for (const SettingInfo& s : Settings()) {
    const std::string flag = "  --" + std::string(s.name) + "=";
    const size_t at = help.find(flag);
    ASSERT_NE(at, std::string::npos) << s.name;
    EXPECT_EQ(help.find(flag, at + 1), std::string::npos) << s.name << " listed twice";
    // Its topic is the last heading above it: a line at the margin ending in ':'.
    std::string heading;
    for (size_t line = 0; line < at;) {
      const size_t end = help.find('\n', line);
      if (help[line] != ' ' && end > line && help[end - 1] == ':') heading = help.substr(line, end - 1 - line);
      line = end + 1;
    }
    EXPECT_EQ(heading, SettingGroupTitle(s.group)) << s.name;
    // Its default follows before the next flag (the text may wrap).
    const size_t next = help.find("\n  --", at + 1);
    std::string entry = help.substr(at, next - at);
    std::string flat;
    for (char c : entry) {
      if (c == '\n') continue;
      if (c == ' ' && !flat.empty() && flat.back() == ' ') continue;
      flat.push_back(c);
    }
    EXPECT_NE(flat.find("(default: " + DefaultText(s) + ")"), std::string::npos) << flat;
  }
  EXPECT_EQ(DefaultText(*std::find_if(Settings().begin(), Settings().end(),
                                      [](const SettingInfo& s) { return s.name == "min_expires"; })),
            "60");
  EXPECT_EQ(DefaultText(*std::find_if(Settings().begin(), Settings().end(),
                                      [](const SettingInfo& s) { return s.name == "http"; })),
            "none");
  EXPECT_EQ(help.find("Flags from"), std::string::npos);
  EXPECT_EQ(help.find("default: ;"), std::string::npos);
  for (const char* line : {"Usage: locusd", "--config=FILE", "--help", "--version"}) {
    EXPECT_NE(help.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace locus::engine
