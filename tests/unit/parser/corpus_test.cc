// Runs the parser over every message in tests/data/messages and checks the
// verdict and key fields against NAME.expect.json (each key present there
// must equal the one locus-parse reports).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tools/message_summary.h"

namespace locus {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Deep equality of two JSON values; numbers compare as doubles.
bool JsonEqual(simdjson::dom::element a, simdjson::dom::element b) {
  using simdjson::dom::element_type;
  const bool a_number = a.is_number();
  if (a_number || b.is_number()) return a_number && b.is_number() && double(a) == double(b);
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case element_type::STRING: return std::string_view(a) == std::string_view(b);
    case element_type::BOOL: return bool(a) == bool(b);
    case element_type::NULL_VALUE: return true;
    case element_type::ARRAY: {
      simdjson::dom::array x = a;
      simdjson::dom::array y = b;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!JsonEqual(x.at(i).value(), y.at(i).value())) return false;
      }
      return true;
    }
    case element_type::OBJECT: {
      simdjson::dom::object x = a;
      simdjson::dom::object y = b;
      if (x.size() != y.size()) return false;
      for (auto [key, value] : x) {
        simdjson::dom::element other;
        if (y.at_key(key).get(other) != simdjson::SUCCESS || !JsonEqual(value, other)) return false;
      }
      return true;
    }
    default: return false;
  }
}

std::vector<fs::path> CorpusFiles() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(LOCUS_CORPUS_DIR)) {
    if (entry.path().extension() == ".sip") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Corpus, HasAtLeastSixtyMessages) { EXPECT_GE(CorpusFiles().size(), 60u); }

TEST(Corpus, EveryMessageMatchesItsExpectation) {
  simdjson::dom::parser expect_parser;
  simdjson::dom::parser actual_parser;
  for (const fs::path& sip : CorpusFiles()) {
    SCOPED_TRACE(sip.filename().string());
    fs::path expect_path = sip;
    expect_path.replace_extension(".expect.json");
    ASSERT_TRUE(fs::exists(expect_path)) << "no " << expect_path;
    bool valid = false;
    const std::string summary = tools::SummarizeMessage(ReadFile(sip), &valid);
    simdjson::dom::element actual;
    ASSERT_EQ(actual_parser.parse(summary).get(actual), simdjson::SUCCESS) << summary;
    simdjson::dom::element expected;
    ASSERT_EQ(expect_parser.load(expect_path.string()).get(expected), simdjson::SUCCESS);
    simdjson::dom::object expected_object = expected;
    for (auto [key, value] : expected_object) {
      simdjson::dom::element got;
      if (actual.at_key(key).get(got) != simdjson::SUCCESS) {
        ADD_FAILURE() << "missing key " << key << " in " << summary;
        continue;
      }
      EXPECT_TRUE(JsonEqual(value, got)) << "key " << key << ": expected " << simdjson::to_string(value)
                                         << ", got " << simdjson::to_string(got);
    }
  }
}

}  // namespace
}  // namespace locus
