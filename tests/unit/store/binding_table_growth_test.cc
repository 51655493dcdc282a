// BindingTable growth: past its room the table moves its records to a table
// twice the size a few per insertion. Every record stays findable, exactly
// once, whatever happens meanwhile (lookups, removals, expiry, snapshots).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "store/binding_table.h"
#include "tests/unit/store/bind_for_test.h"

namespace locus::store {
namespace {

std::string Aor(int i) { return "sip:u" + std::to_string(i) + "@example.com"; }

std::set<std::string> Keys(const BindingTable& table) {
  std::set<std::string> keys;
  size_t visits = 0;
  table.ForEach([&](const AorRecord& r) {
    keys.emplace(r.key());
    ++visits;
  });
  EXPECT_EQ(visits, keys.size()) << "a record visited twice";
  return keys;
}

TEST(BindingTableGrowth, EveryRecordStaysFindableWhileTheTableGrows) {
  BindingTable table(1000);
  int grew = 0;
  for (int i = 0; i < 100000; ++i) {
    const bool before = table.growing();
    Bind(table, Aor(i), 5000);
    if (!before && table.growing()) ++grew;
    if (i % 997 == 0) {
      for (int j = 0; j <= i; j += 101) ASSERT_NE(table.Find(Aor(j)), nullptr) << j << " after " << i;
    }
  }
  EXPECT_GE(grew, 5) << "1,024 doubling to past 100,000";
  EXPECT_EQ(table.aor_count(), 100000u);
  EXPECT_EQ(Keys(table).size(), 100000u);
  // FindOrCreate of an existing AOR finds it, in either table.
  for (int i = 0; i < 100000; i += 7) EXPECT_EQ(table.FindOrCreate(Aor(i)), table.Find(Aor(i)));
  EXPECT_EQ(table.aor_count(), 100000u);
}

TEST(BindingTableGrowth, RemovalsAndExpiryWhileGrowing) {
  BindingTable table(1000);
  for (int i = 0; i < 1024; ++i) Bind(table, Aor(i), 2000 + i % 100);
  Bind(table, Aor(1024), 9000);  // past the room: the move starts
  ASSERT_TRUE(table.growing());
  // Removed from the old table, including where the move stands.
  for (int i = 0; i < 1024; i += 3) ASSERT_TRUE(table.RemoveAor(Aor(i)));
  // Some expire (from either table).
  table.Expire(2049, [](const AorRecord&, const Binding&) {});
  std::set<std::string> expected;
  for (int i = 0; i < 1024; ++i) {
    if (i % 3 != 0 && 2000 + i % 100 > 2049) expected.insert(Aor(i));
  }
  expected.insert(Aor(1024));
  for (int i = 2000; i < 2300; ++i) {
    Bind(table, Aor(i), 9000);
    expected.insert(Aor(i));
  }
  EXPECT_FALSE(table.growing()) << "the move ended";
  EXPECT_EQ(Keys(table), expected);
  EXPECT_EQ(table.aor_count(), expected.size());
  EXPECT_EQ(table.binding_count(), expected.size());
  for (const std::string& aor : expected) EXPECT_NE(table.Find(aor), nullptr);
  for (int i = 0; i < 1024; i += 3) EXPECT_EQ(table.Find(Aor(i)), nullptr);
}

TEST(BindingTableGrowth, AMassExpiryIsSpreadOverCalls) {
  BindingTable table(1000);
  for (int i = 0; i < 5000; ++i) Bind(table, Aor(i), i < 4000 ? 3000 : 3000 + i);
  int expired = 0;
  auto count = [&](const AorRecord&, const Binding&) { ++expired; };
  EXPECT_FALSE(table.ExpireAtMost(3000, 1500, count));
  EXPECT_EQ(expired, 1500);
  EXPECT_EQ(table.aor_count(), 3500u);
  // A refresh meanwhile saves an AOR still waiting for its turn.
  int saved = -1;
  for (int i = 0; i < 4000 && saved < 0; ++i) {
    if (table.Find(Aor(i)) != nullptr) saved = i;
  }
  ASSERT_GE(saved, 0);
  AorRecord* record = table.FindMutable(Aor(saved));
  record->mutable_bindings()[0].expires_at = 9000;
  table.Rearm(record);
  EXPECT_FALSE(table.ExpireAtMost(3000, 1500, count));
  EXPECT_TRUE(table.ExpireAtMost(3001, 1500, count));
  EXPECT_EQ(expired, 3999);
  EXPECT_EQ(table.aor_count(), 1001u);
  EXPECT_EQ(table.binding_count(), 1001u);
  EXPECT_NE(table.Find(Aor(saved)), nullptr);
  for (int i = 4000; i < 5000; ++i) EXPECT_NE(table.Find(Aor(i)), nullptr);
}

TEST(BindingTableGrowth, ASnapshotTakenWhileGrowingHoldsEveryRecord) {
  BindingTable table(1000);
  for (int i = 0; i < 1025; ++i) Bind(table, Aor(i), 9000);
  ASSERT_TRUE(table.growing());
  std::vector<const AorRecord*> snapshot = table.BeginSnapshot();
  EXPECT_EQ(snapshot.size(), 1025u);
  for (int i = 0; i < 1025; i += 2) ASSERT_TRUE(table.RemoveAor(Aor(i)));
  for (int i = 5000; i < 6000; ++i) Bind(table, Aor(i), 9000);
  std::set<std::string> seen;
  for (const AorRecord* record : snapshot) seen.emplace(record->key());  // all still readable
  EXPECT_EQ(seen.size(), 1025u);
  table.EndSnapshot();
  EXPECT_EQ(table.aor_count(), 512u + 1000u);
}

TEST(BindingTableGrowth, ChangesToExistingRecordsFinishTheMoveToo) {
  BindingTable table(1000);
  for (int i = 0; i < 1025; ++i) Bind(table, Aor(i), 9000);
  ASSERT_TRUE(table.growing());
  // No new AOR from now on: refreshes alone move the rest.
  for (int round = 0; round < 200 && table.growing(); ++round) {
    AorRecord* record = table.FindMutable(Aor(round));
    ASSERT_NE(record, nullptr);
    record->mutable_bindings()[0].expires_at = 9500;
    table.Rearm(record);
  }
  EXPECT_FALSE(table.growing());
  EXPECT_EQ(Keys(table).size(), 1025u);
}

TEST(BindingTableGrowth, AReservedTableDoesNotGrowBelowItsRoom) {
  BindingTable table(1000);
  table.Reserve(50000);
  for (int i = 0; i < 50000; ++i) {
    Bind(table, Aor(i), 9000);
    ASSERT_FALSE(table.growing()) << i;
  }
  Bind(table, Aor(50000), 9000);
  EXPECT_TRUE(table.growing());
}

}  // namespace
}  // namespace locus::store
