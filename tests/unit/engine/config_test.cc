#include "engine/config.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace locus::engine
