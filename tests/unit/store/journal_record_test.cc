// The durable AOR-state records: round trip, torn
// tails cut at every offset, corruption anywhere, expiry on replay.
#include "store/journal_record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace locus::store {
namespace {

Binding MakeBinding(int i, uint32_t expires_at) {
  Binding b;
  b.AssignText({"sip:phone" + std::to_string(i) + "@10.0.0." + std::to_string(i % 250) + ":5060",
                "call-" + std::to_string(i), i % 2 ? "Yealink T46U" : "", i % 3 ? "" : "<urn:uuid:abc>",
                i % 5 ? "" : "<sip:edge.example.com;lr>"});
  b.cseq = 100 + i;
  b.expires_at = expires_at;
  b.registered_at = 1000;
  b.refreshed_at = 1500 + i;
  b.reg_id = i % 3 ? 0 : 1;
  b.q = static_cast<uint16_t>(i % 1000);
  b.has_q = i % 2 == 0;
  b.transport = i % 2 ? Transport::kTcp : Transport::kUdp;
  b.source.family = 4;
  b.source.port = static_cast<uint16_t>(40000 + i);
  b.source.ip = {127, 0, 0, static_cast<uint8_t>(i)};
  return b;
}

void ExpectSame(const Binding& a, const Binding& b) {
  EXPECT_EQ(a.contact(), b.contact());
  EXPECT_EQ(a.call_id(), b.call_id());
  EXPECT_EQ(a.user_agent(), b.user_agent());
  EXPECT_EQ(a.instance(), b.instance());
  EXPECT_EQ(a.path(), b.path());
  EXPECT_EQ(a.cseq, b.cseq);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.registered_at, b.registered_at);
  EXPECT_EQ(a.refreshed_at, b.refreshed_at);
  EXPECT_EQ(a.reg_id, b.reg_id);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.has_q, b.has_q);
  EXPECT_EQ(a.transport, b.transport);
  EXPECT_EQ(a.source, b.source);
}

// Three records: 1, 3 and 0 bindings.
std::string ThreeRecords() {
  std::string out;
  std::vector<Binding> one;
  one.push_back(MakeBinding(1, 9000));
  AppendAorState("sip:alice@example.com", one, &out);
  std::vector<Binding> three;
  for (int i = 2; i < 5; ++i) three.push_back(MakeBinding(i, 9000 + i));
  AppendAorState("sip:bob@example.com", three, &out);
  AppendAorState("sip:carol@example.com", {}, &out);
  return out;
}

TEST(JournalRecord, Crc32cCheckValue) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(JournalRecord, RoundTripKeepsEveryField) {
  const std::string data = ThreeRecords();
  RecordReader reader(data);
  std::string aor;
  std::vector<Binding> bindings;
  ASSERT_TRUE(reader.Next(&aor, &bindings));
  EXPECT_EQ(aor, "sip:alice@example.com");
  ASSERT_EQ(bindings.size(), 1u);
  ExpectSame(bindings[0], MakeBinding(1, 9000));
  ASSERT_TRUE(reader.Next(&aor, &bindings));
  ASSERT_EQ(bindings.size(), 3u);
  for (int i = 0; i < 3; ++i) ExpectSame(bindings[static_cast<size_t>(i)], MakeBinding(i + 2, 9002 + i));
  ASSERT_TRUE(reader.Next(&aor, &bindings));
  EXPECT_EQ(aor, "sip:carol@example.com");
  EXPECT_TRUE(bindings.empty());
  EXPECT_FALSE(reader.Next(&aor, &bindings));
  EXPECT_FALSE(reader.corrupt());
  EXPECT_EQ(reader.valid_bytes(), data.size());
}

TEST(JournalRecord, TornTailAtEveryOffsetKeepsExactlyTheWholeRecordsBeforeIt) {
  const std::string data = ThreeRecords();
  std::vector<size_t> ends;  // where each record ends
  {
    RecordReader reader(data);
    std::string aor;
    std::vector<Binding> bindings;
    while (reader.Next(&aor, &bindings)) ends.push_back(reader.valid_bytes());
  }
  ASSERT_EQ(ends.size(), 3u);
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    RecordReader reader(std::string_view(data).substr(0, cut));
    std::string aor;
    std::vector<Binding> bindings;
    size_t records = 0;
    while (reader.Next(&aor, &bindings)) ++records;
    size_t expected = 0;
    while (expected < ends.size() && ends[expected] <= cut) ++expected;
    ASSERT_EQ(records, expected) << "cut at " << cut;
    ASSERT_EQ(reader.valid_bytes(), expected == 0 ? 0 : ends[expected - 1]) << cut;
    ASSERT_EQ(reader.corrupt(), cut != (expected == 0 ? 0 : ends[expected - 1])) << cut;
  }
}

TEST(JournalRecord, AZeroedTailIsTheEndNotDamage) {
  const std::string data = ThreeRecords();
  auto read = [](const std::string& bytes, size_t* records) {
    RecordReader reader(bytes);
    std::string aor;
    std::vector<Binding> bindings;
    *records = 0;
    while (reader.Next(&aor, &bindings)) ++*records;
    return reader;
  };
  size_t records = 0;
  RecordReader zeroed = read(data + std::string(5000, '\0'), &records);
  EXPECT_EQ(records, 3u);
  EXPECT_FALSE(zeroed.corrupt());
  EXPECT_EQ(zeroed.valid_bytes(), data.size());
  // Anything but zeros after the last record is damage, as before.
  RecordReader dirty = read(data + std::string(100, '\0') + "x" + std::string(100, '\0'), &records);
  EXPECT_EQ(records, 3u);
  EXPECT_TRUE(dirty.corrupt());
  EXPECT_EQ(dirty.valid_bytes(), data.size());
  // A record torn off into zeros (its header written, its payload not).
  RecordReader torn = read(data.substr(0, data.size() - 5) + std::string(500, '\0'), &records);
  EXPECT_EQ(records, 2u);
  EXPECT_TRUE(torn.corrupt());
}

TEST(JournalRecord, CorruptionAnywhereStopsAtTheDamagedRecord) {
  const std::string data = ThreeRecords();
  RecordReader first(data);
  std::string aor;
  std::vector<Binding> bindings;
  ASSERT_TRUE(first.Next(&aor, &bindings));
  const size_t first_end = first.valid_bytes();
  for (size_t at = 0; at < data.size(); ++at) {
    std::string damaged = data;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
    RecordReader reader(damaged);
    size_t records = 0;
    while (reader.Next(&aor, &bindings)) ++records;
    // Every flipped byte is caught (length or CRC), in the record it hits:
    // the records before it are read, none after.
    ASSERT_TRUE(reader.corrupt()) << at;
    if (at < first_end) {
      ASSERT_EQ(records, 0u) << at;
    } else {
      ASSERT_GE(records, 1u) << at;
      ASSERT_LE(records, 2u) << at;
    }
    ASSERT_LE(reader.valid_bytes(), at) << at;  // never past the damage
  }
}

TEST(JournalRecord, ReplayRestoresATableAndDropsWhatExpired) {
  BindingTable table(5000);
  const std::string data = ThreeRecords();
  RecordReader reader(data);
  std::string aor;
  std::vector<Binding> bindings;
  uint32_t now = 9002;  // alice's binding (9000) and one of bob's (9002) have lapsed
  size_t kept = 0;
  while (reader.Next(&aor, &bindings)) kept += ApplyAorState(table, aor, std::move(bindings), now);
  EXPECT_EQ(kept, 2u);
  EXPECT_EQ(table.Find("sip:alice@example.com"), nullptr);
  ASSERT_NE(table.Find("sip:bob@example.com"), nullptr);
  EXPECT_EQ(table.Find("sip:bob@example.com")->bindings().size(), 2u);
  EXPECT_EQ(table.binding_count(), 2u);
  // A later record replaces the AOR's bindings (idempotent replay).
  std::string more;
  std::vector<Binding> one;
  one.push_back(MakeBinding(7, 20000));
  AppendAorState("sip:bob@example.com", one, &more);
  RecordReader again(more);
  ASSERT_TRUE(again.Next(&aor, &bindings));
  ApplyAorState(table, aor, std::move(bindings), now);
  EXPECT_EQ(table.Find("sip:bob@example.com")->bindings().size(), 1u);
  EXPECT_EQ(table.binding_count(), 1u);
}

}  // namespace
}  // namespace locus::store
