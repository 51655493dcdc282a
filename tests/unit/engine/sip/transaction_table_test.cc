#include "engine/sip/transaction_table.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

TEST(TransactionTable, FindsUntilTimerJThenForgets) {
  TransactionTable table(16, 1 << 20);
  ASSERT_TRUE(table.Insert("k1", "response one", 1000));
  ASSERT_TRUE(table.Find("k1", 999).has_value());
  EXPECT_EQ(*table.Find("k1", 999), "response one");
  EXPECT_FALSE(table.Find("k1", 1000).has_value());  // expired, even before Expire()
  EXPECT_FALSE(table.Find("k2", 0).has_value());
  table.Expire(1000);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.bytes(), 0u);
}

// `prefix` then `i` in decimal. Appended, not written "key" + std::to_string(i):
// GCC 12 at -O3 warns (-Wrestrict, wrongly) about the insert operator+ makes.
std::string Numbered(std::string_view prefix, int i) {
  std::string text(prefix);
  text += std::to_string(i);
  return text;
}

TEST(TransactionTable, EntryBoundEvictsTheOldest) {
  TransactionTable table(4, 1 << 20);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(table.Insert(Numbered("key", i), Numbered("r", i), 100 + i));
  }
  EXPECT_EQ(table.size(), 4u);
  EXPECT_EQ(table.evicted_early(), 2u);
  EXPECT_FALSE(table.Find("key0", 0).has_value());
  EXPECT_FALSE(table.Find("key1", 0).has_value());
  for (int i = 2; i < 6; ++i) {
    auto hit = table.Find(Numbered("key", i), 0);
    ASSERT_TRUE(hit.has_value()) << i;
    EXPECT_EQ(*hit, Numbered("r", i));
  }
}

TEST(TransactionTable, ByteBoundWrapsTheArenaAndKeepsEveryLiveEntryIntact) {
  // 1 MiB arena, responses of varying size: the arena wraps many times.
  TransactionTable table(100000, 1 << 20);
  uint64_t t = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "branch-" + std::to_string(i);
    const std::string response(100 + (i * 37) % 900, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(table.Insert(key, response, ++t + 1000000));
    ASSERT_LE(table.bytes(), size_t{1} << 20);
    // The newest entries are always there and intact.
    for (int back = 0; back < 5 && back <= i; ++back) {
      const int j = i - back;
      auto hit = table.Find("branch-" + std::to_string(j), t);
      ASSERT_TRUE(hit.has_value()) << j;
      ASSERT_EQ(hit->size(), 100u + (j * 37) % 900) << j;
      ASSERT_EQ((*hit)[0], static_cast<char>('a' + j % 26));
    }
  }
  EXPECT_GT(table.evicted_early(), 0u);
  EXPECT_FALSE(table.Find("branch-0", t).has_value());
}

TEST(TransactionTable, ReinsertedKeyIsNotForgottenWhenItsStaleEntryIsDropped) {
  TransactionTable table(16, 1 << 20);
  ASSERT_TRUE(table.Insert("k", "old", 10));
  ASSERT_TRUE(table.Insert("k", "new", 50));  // the old one had expired at 20
  table.Expire(20);                           // drops the stale entry
  ASSERT_TRUE(table.Find("k", 20).has_value());
  EXPECT_EQ(*table.Find("k", 20), "new");
}

TEST(TransactionTable, RefusesAnEntryLargerThanAQuarterOfTheArena) {
  TransactionTable table(16, 1 << 20);
  EXPECT_FALSE(table.Insert("k", std::string(300000, 'x'), 10));
  EXPECT_EQ(table.too_large(), 1u);
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace locus::engine
