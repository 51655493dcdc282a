// BindingTable snapshots: every record present at BeginSnapshot stays
// readable until EndSnapshot, however the table changes meanwhile.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/binding_table.h"
#include "tests/unit/store/bind_for_test.h"

namespace locus::store {
namespace {

TEST(BindingTableSnapshot, ErasedRecordsStayValidUntilTheSnapshotEnds) {
  BindingTable table(1000);
  for (int i = 0; i < 1000; ++i) Bind(table, "sip:u" + std::to_string(i) + "@x", 2000 + i);
  std::vector<const AorRecord*> snapshot = table.BeginSnapshot();
  ASSERT_EQ(snapshot.size(), 1000u);
  // Meanwhile: half removed, a quarter expired, many new (rehashing the set).
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(table.RemoveAor("sip:u" + std::to_string(i) + "@x"));
  table.Expire(2749, [](const AorRecord&, const Binding&) {});
  for (int i = 0; i < 5000; ++i) Bind(table, "sip:new" + std::to_string(i) + "@x", 9000);
  EXPECT_EQ(table.aor_count(), 250u + 5000u);
  EXPECT_EQ(table.binding_count(), 250u + 5000u);
  int live = 0;
  for (const AorRecord* record : snapshot) {
    ASSERT_TRUE(record->key().starts_with("sip:u"));  // still readable
    if (record->erased()) {
      EXPECT_TRUE(record->bindings().empty());
      EXPECT_EQ(table.Find(record->key()), nullptr);
    } else {
      EXPECT_EQ(table.Find(record->key()), record);
      ++live;
    }
  }
  EXPECT_EQ(live, 250);
  table.EndSnapshot();
  EXPECT_EQ(table.open_snapshots(), 0u);
}

TEST(BindingTableSnapshot, WithoutSnapshotsRecordsAreFreedAtOnce) {
  BindingTable table(1000);
  Bind(table, "sip:a@x", 2000);
  {
    std::vector<const AorRecord*> outer = table.BeginSnapshot();
    std::vector<const AorRecord*> inner = table.BeginSnapshot();
    ASSERT_TRUE(table.RemoveAor("sip:a@x"));
    table.EndSnapshot();
    EXPECT_TRUE(outer[0]->erased());  // the outer snapshot still holds it
    table.EndSnapshot();
  }
  Bind(table, "sip:a@x", 2000);
  EXPECT_EQ(table.binding_count(), 1u);
  EXPECT_FALSE(table.Find("sip:a@x")->erased());
}

}  // namespace
}  // namespace locus::store
