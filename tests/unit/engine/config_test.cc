#include "engine/config.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "simdjson.h"

namespace locus::engine {
namespace {

TEST(Config, DefaultsListenOnLoopback5060) {
  const Config config = Config::Defaults();
  ASSERT_EQ(config.udp.size(), 1u);
  EXPECT_EQ(config.udp[0].ToString(), "127.0.0.1:5060");
  EXPECT_EQ(config.tcp[0].ToString(), "127.0.0.1:5060");
  EXPECT_EQ(config.policy.min_expires, 60u);
  EXPECT_EQ(config.policy.default_expires, 3600u);
  EXPECT_EQ(config.policy.max_expires, 7200u);
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(Config, SettingsParseAndRejectWithTheirName) {
  Config config = Config::Defaults();
  EXPECT_TRUE(ApplySetting("udp", "127.0.0.1:5070, [::1]:5070", &config).ok());
  ASSERT_EQ(config.udp.size(), 2u);
  EXPECT_EQ(config.udp[1].ToString(), "[::1]:5070");
  EXPECT_TRUE(ApplySetting("tcp", "", &config).ok());
  EXPECT_TRUE(config.tcp.empty());
  EXPECT_TRUE(ApplySetting("domains", "Example.COM,b.net", &config).ok());
  EXPECT_EQ(config.domains[0], "example.com");

  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"udp", "127.0.0.1"}, {"udp", "::1:5060"}, {"udp", "127.0.0.1:0"},
           {"udp", "127.0.0.1:70000"}, {"shards", "-1"}, {"shards", "x"},
           {"min_expires", "1e3"}, {"max_message_size", "100"}, {"force_rport", "yes"},
           {"log_level", "loud"}, {"domains", "a b"}, {"nonsense", "1"}}) {
    const absl::Status status = ApplySetting(name, value, &config);
    EXPECT_FALSE(status.ok()) << name << "=" << value;
    EXPECT_NE(std::string(status.message()).find(name), std::string::npos) << status.message();
  }
}

TEST(Config, ExpiryBoundsMustBeOrdered) {
  Config config = Config::Defaults();
  ASSERT_TRUE(ApplySetting("min_expires", "4000", &config).ok());
  EXPECT_FALSE(ValidateConfig(config).ok());
}

TEST(Config, JsonFileSetsEverySettingKind) {
  const std::string path = ::testing::TempDir() + "/locus_config_test.json";
  std::ofstream(path) << R"({"udp": ["127.0.0.1:5099"], "tcp": [], "shards": 2,
      "domains": ["example.com"], "max_contacts": 4, "force_rport": true, "log_level": "debug"})";
  Config config = Config::Defaults();
  ASSERT_TRUE(ApplyJsonFile(path, &config).ok());
  EXPECT_EQ(config.udp[0].port(), 5099);
  EXPECT_TRUE(config.tcp.empty());
  EXPECT_EQ(config.shards, 2);
  EXPECT_EQ(config.policy.max_contacts, 4u);
  EXPECT_TRUE(config.force_rport);
  EXPECT_EQ(config.log_level, LogLevel::kDebug);

  std::ofstream(path) << R"({"udp": ["127.0.0.1:5099"], "colour": "blue"})";
  EXPECT_FALSE(ApplyJsonFile(path, &config).ok());
  std::ofstream(path) << R"({"udp": )";
  EXPECT_FALSE(ApplyJsonFile(path, &config).ok());
  EXPECT_FALSE(ApplyJsonFile(path + ".missing", &config).ok());
  std::remove(path.c_str());
}


TEST(Config, JsonKeysStartingWithUnderscoreAreComments) {
  const std::string path = ::testing::TempDir() + "/locus_config_comment_test.json";
  std::ofstream(path) << R"({"_comment": "listen where phones reach us", "udp": ["127.0.0.1:5098"],
      "_": ["lines", "of", "text"], "_max_contacts": 99})";
  Config config = Config::Defaults();
  ASSERT_TRUE(ApplyJsonFile(path, &config).ok());
  EXPECT_EQ(config.udp[0].port(), 5098);
  EXPECT_EQ(config.policy.max_contacts, 16u);  // a commented-out setting stays off
  std::ofstream(path) << R"({"comment": "no underscore: an unknown setting"})";
  EXPECT_FALSE(ApplyJsonFile(path, &config).ok());
  std::remove(path.c_str());
}

TEST(Config, ObservabilitySettings) {
  Config config = Config::Defaults();
  EXPECT_FALSE(config.http.valid());  // off by default
  EXPECT_TRUE(config.hep.empty());
  ASSERT_TRUE(ApplySetting("http", "127.0.0.1:9060", &config).ok());
  EXPECT_EQ(config.http.ToString(), "127.0.0.1:9060");
  ASSERT_TRUE(ApplySetting("http", "", &config).ok());
  EXPECT_FALSE(config.http.valid());
  for (const char* hep : {"127.0.0.1:9060", "[::1]:9060", "homer.example.net:9060"}) {
    EXPECT_TRUE(ApplySetting("hep", hep, &config).ok()) << hep;
    EXPECT_EQ(config.hep, hep);
  }
  ASSERT_TRUE(ApplySetting("log_format", "json", &config).ok());
  EXPECT_EQ(config.log_format, LogFormat::kJson);
  ASSERT_TRUE(ApplySetting("hep_capture_id", "2001", &config).ok());
  EXPECT_EQ(config.hep_capture_id, 2001u);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"http", "localhost:9060"}, {"http", "127.0.0.1"}, {"hep", "homer"}, {"hep", "homer:0"},
           {"hep", "ho mer:9060"}, {"hep", ":9060"}, {"log_format", "xml"}, {"hep_capture_id", "-1"}}) {
    const absl::Status status = ApplySetting(name, value, &config);
    EXPECT_FALSE(status.ok()) << name << "=" << value;
    EXPECT_NE(std::string(status.message()).find(name), std::string::npos) << status.message();
  }
}

// The settings table, the parsers and the JSON of `config` agree: one row
// per setting, named once; every row's value is valid JSON and a key of
// ConfigToJson in table order; and each default, written back through its
// parser, gives the same configuration (so --help's defaults are real ones).
TEST(Config, TableParsersAndJsonAgree) {
  const Config defaults = Config::Defaults();
  const std::string json = ConfigToJson(defaults);
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  ASSERT_FALSE(parser.parse(json).get(object)) << json;
  std::vector<std::string> keys;
  for (auto [key, value] : object) keys.emplace_back(key);
  std::vector<std::string> names;
  std::set<std::string> unique;
  for (const SettingInfo& s : Settings()) {
    names.emplace_back(s.name);
    EXPECT_TRUE(unique.insert(std::string(s.name)).second) << s.name << " twice";
    EXPECT_FALSE(s.help.empty()) << s.name;
    EXPECT_FALSE(s.placeholder.empty()) << s.name;
    EXPECT_NE(SettingGroupTitle(s.group), "Other") << s.name;
  }
  EXPECT_EQ(keys, names);
  for (const SettingInfo& s : Settings()) {
    if (s.name == "auth_secret") continue;  // shown as where it is kept, never the value
    simdjson::dom::element value;
    ASSERT_FALSE(object[s.name].get(value));
    std::string text;
    if (value.is_string()) {
      text = std::string(std::string_view(value));
    } else if (value.is_array()) {
      for (simdjson::dom::element item : value.get_array()) {
        if (!text.empty()) text += ",";
        text += std::string(std::string_view(item));
      }
    } else {
      text = simdjson::to_string(value);
    }
    Config written = defaults;
    const absl::Status status = ApplySetting(s.name, text, &written);
    EXPECT_TRUE(status.ok()) << s.name << "=" << text << ": " << status.message();
    EXPECT_EQ(ConfigToJson(written), json) << s.name << "=" << text;
  }
  // Every row has a parser, and a value its parser refuses names the row.
  for (const SettingInfo& s : Settings()) {
    Config config = defaults;
    const absl::Status status = ApplySetting(s.name, "\x01 not a value \x01", &config);
    if (!status.ok()) {
      EXPECT_NE(std::string(status.message()).find(s.name), std::string::npos) << status.message();
      EXPECT_EQ(std::string(status.message()).find("unknown setting"), std::string::npos) << s.name;
    }
  }
}

}  // namespace
}  // namespace locus::engine
