// The on-disk layout of the durable state (store/durable_files.h): CURRENT,
// which files make up a shard's state, loading them in order, stopping and
// repairing at damage, and one-shot snapshots.
#include "store/durable_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "store/journal_record.h"

namespace locus::store {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/locus-durable-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Binding MakeBinding(std::string_view contact, uint32_t expires_at) {
  Binding b;
  b.AssignText({contact, "call-1", "", "", ""});
  b.cseq = 1;
  b.expires_at = expires_at;
  return b;
}

std::string State(std::string_view aor, std::string_view contact, uint32_t expires_at) {
  std::string out;
  std::vector<Binding> bindings;
  if (!contact.empty()) bindings.push_back(MakeBinding(contact, expires_at));
  AppendAorState(aor, bindings, &out);
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Every record a load delivers: AOR -> contacts, last one wins.
std::map<std::string, std::vector<std::string>> LoadAll(const std::string& dir, int shard,
                                                        bool repair, LoadStats* stats) {
  std::map<std::string, std::vector<std::string>> got;
  absl::StatusOr<ShardFiles> files = ListShardFiles(dir, shard);
  EXPECT_TRUE(files.ok()) << files.status();
  absl::StatusOr<LoadStats> loaded =
      LoadShard(dir, shard, *files, repair, [&](std::string_view aor, std::vector<Binding>&& b) {
        std::vector<std::string>& contacts = got[std::string(aor)];
        contacts.clear();
        for (const Binding& binding : b) contacts.emplace_back(binding.contact());
      });
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (stats != nullptr && loaded.ok()) *stats = *loaded;
  return got;
}

TEST(DurableFiles, CurrentRoundTrip) {
  TempDir dir;
  absl::StatusOr<std::optional<Generation>> none = ReadCurrent(dir.path());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(WriteCurrent(dir.path(), {7, 3}).ok());
  absl::StatusOr<std::optional<Generation>> got = ReadCurrent(dir.path());
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->number, 7u);
  EXPECT_EQ((*got)->shards, 3);
  EXPECT_EQ(ReadFile(dir.path() + "/CURRENT"), "7 3\n");
  EXPECT_FALSE(Exists(dir.path() + "/CURRENT.tmp"));
}

TEST(DurableFiles, GarbledCurrentIsAnError) {
  TempDir dir;
  for (const char* text : {"", "x y\n", "0 2\n", "3 0\n", "3\n"}) {
    WriteFile(dir.path() + "/CURRENT", text);
    EXPECT_FALSE(ReadCurrent(dir.path()).ok()) << "'" << text << "'";
  }
}

TEST(DurableFiles, PathsAreNamedByShardAndNumber) {
  EXPECT_EQ(GenerationDir("/d", 4), "/d/gen-4");
  EXPECT_EQ(SnapshotPath("/d/gen-4", 1, 12), "/d/gen-4/1-000012.snapshot");
  EXPECT_EQ(JournalPath("/d/gen-4", 10, 3), "/d/gen-4/10-000003.journal");
}

TEST(DurableFiles, ListPicksNewestSnapshotAndLaterJournals) {
  TempDir dir;
  const std::string& d = dir.path();
  for (const char* name :
       {"0-000002.journal", "0-000003.snapshot", "0-000003.journal", "0-000004.journal",
        "0-000001.snapshot", "0-000005.snapshot.tmp", "1-000009.journal", "10-000001.journal",
        "0-abc.journal", "notes.txt"}) {
    WriteFile(d + "/" + std::string(name), "");
  }
  absl::StatusOr<ShardFiles> files = ListShardFiles(d, 0);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->snapshot, 3u);
  EXPECT_EQ(files->journals, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(files->last_seq, 4u);
  std::vector<std::string> obsolete = files->obsolete;
  std::sort(obsolete.begin(), obsolete.end());
  EXPECT_EQ(obsolete, (std::vector<std::string>{d + "/0-000001.snapshot", d + "/0-000002.journal",
                                                d + "/0-000005.snapshot.tmp"}));
  absl::StatusOr<ShardFiles> one = ListShardFiles(d, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->snapshot, 0u);
  EXPECT_EQ(one->journals, (std::vector<uint64_t>{9}));
  absl::StatusOr<ShardFiles> ten = ListShardFiles(d, 10);
  ASSERT_TRUE(ten.ok());
  EXPECT_EQ(ten->journals, (std::vector<uint64_t>{1}));
  EXPECT_FALSE(ListShardFiles(d + "/missing", 0).ok());
}

TEST(DurableFiles, BytesCountTheNewestSnapshotAndTheJournalsAfterIt) {
  TempDir dir;
  const std::string& d = dir.path();
  WriteFile(d + "/0-000001.snapshot", std::string(1000, 's'));  // obsolete
  WriteFile(d + "/0-000002.snapshot", std::string(300, 's'));
  WriteFile(d + "/0-000001.journal", std::string(70, 'j'));  // obsolete
  WriteFile(d + "/0-000002.journal", std::string(20, 'j'));
  WriteFile(d + "/0-000003.journal", std::string(5, 'j'));
  WriteFile(d + "/1-000003.journal", std::string(4000, 'j'));  // another shard's
  absl::StatusOr<ShardFiles> files = ListShardFiles(d, 0);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(ShardFilesBytes(d, 0, *files), 325u);
  EXPECT_EQ(ShardFilesBytes(d, 0, ShardFiles{}), 0u);
}

TEST(DurableFiles, LoadReplaysSnapshotThenJournalsInOrder) {
  TempDir dir;
  const std::string& d = dir.path();
  WriteFile(SnapshotPath(d, 0, 2), State("sip:a@x", "sip:a1@h", 9000) + State("sip:b@x", "sip:b1@h", 9000));
  WriteFile(JournalPath(d, 0, 2), State("sip:a@x", "sip:a2@h", 9000) + State("sip:c@x", "sip:c1@h", 9000));
  WriteFile(JournalPath(d, 0, 3), State("sip:b@x", "", 0) + State("sip:a@x", "sip:a3@h", 9000));
  // Older than the snapshot: not read.
  WriteFile(JournalPath(d, 0, 1), State("sip:z@x", "sip:z@h", 9000));
  LoadStats stats;
  const auto got = LoadAll(d, 0, false, &stats);
  EXPECT_EQ(got.at("sip:a@x"), std::vector<std::string>{"sip:a3@h"});
  EXPECT_TRUE(got.at("sip:b@x").empty());
  EXPECT_EQ(got.at("sip:c@x"), std::vector<std::string>{"sip:c1@h"});
  EXPECT_EQ(got.count("sip:z@x"), 0u);
  EXPECT_EQ(stats.records, 6u);
  EXPECT_FALSE(stats.damaged);
  EXPECT_EQ(stats.bytes, ReadFile(SnapshotPath(d, 0, 2)).size() + ReadFile(JournalPath(d, 0, 2)).size() +
                             ReadFile(JournalPath(d, 0, 3)).size());
  EXPECT_EQ(stats.journal_bytes, stats.bytes - ReadFile(SnapshotPath(d, 0, 2)).size());
}

TEST(DurableFiles, DamageStopsTheLoadAndRepairCutsThere) {
  TempDir dir;
  const std::string& d = dir.path();
  const std::string first = State("sip:a@x", "sip:a1@h", 9000);
  const std::string second = State("sip:b@x", "sip:b1@h", 9000);
  std::string damaged = second;
  damaged[damaged.size() - 3] ^= 0x20;
  WriteFile(JournalPath(d, 0, 1), first + damaged + State("sip:c@x", "sip:c1@h", 9000));
  WriteFile(JournalPath(d, 0, 2), State("sip:d@x", "sip:d1@h", 9000));

  LoadStats stats;
  auto got = LoadAll(d, 0, /*repair=*/false, &stats);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_TRUE(stats.damaged);
  EXPECT_EQ(stats.damaged_file, JournalPath(d, 0, 1));
  EXPECT_EQ(stats.damaged_offset, first.size());
  EXPECT_GT(stats.discarded_bytes, damaged.size());
  EXPECT_TRUE(Exists(JournalPath(d, 0, 2)));  // no repair: untouched

  got = LoadAll(d, 0, /*repair=*/true, &stats);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(ReadFile(JournalPath(d, 0, 1)), first);
  EXPECT_FALSE(Exists(JournalPath(d, 0, 2)));
  // Records appended after the cut are read next time.
  WriteFile(JournalPath(d, 0, 3), State("sip:e@x", "sip:e1@h", 9000));
  got = LoadAll(d, 0, true, &stats);
  EXPECT_FALSE(stats.damaged);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got.count("sip:e@x"), 1u);
}

TEST(DurableFiles, TornTailAtEveryOffsetKeepsWholeRecords) {
  TempDir dir;
  const std::string& d = dir.path();
  std::string all;
  std::vector<size_t> ends;
  for (int i = 0; i < 4; ++i) {
    all += State("sip:u" + std::to_string(i) + "@x", "sip:c@h", 9000);
    ends.push_back(all.size());
  }
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    WriteFile(JournalPath(d, 0, 1), all.substr(0, cut));
    LoadStats stats;
    const auto got = LoadAll(d, 0, true, &stats);
    size_t whole = 0;
    while (whole < ends.size() && ends[whole] <= cut) ++whole;
    ASSERT_EQ(got.size(), whole) << "cut at " << cut;
    EXPECT_EQ(stats.damaged, cut != (whole == 0 ? 0 : ends[whole - 1])) << "cut at " << cut;
    EXPECT_EQ(ReadFile(JournalPath(d, 0, 1)).size(), whole == 0 ? 0 : ends[whole - 1]);
  }
}

TEST(DurableFiles, SnapshotFileHoldsLiveAorsOnly) {
  TempDir dir;
  BindingTable table(1000);
  std::vector<Binding> bindings;
  bindings.push_back(MakeBinding("sip:a1@h", 5000));
  ApplyAorState(table, "sip:a@x", std::move(bindings), 1000);
  bindings.clear();
  bindings.push_back(MakeBinding("sip:b1@h", 1500));
  bindings.push_back(MakeBinding("sip:b2@h", 6000));
  ApplyAorState(table, "sip:b@x", std::move(bindings), 1000);
  bindings.clear();
  bindings.push_back(MakeBinding("sip:c1@h", 1200));
  ApplyAorState(table, "sip:c@x", std::move(bindings), 1000);

  // At 1300 c's only binding has lapsed (not yet collected): not written.
  absl::StatusOr<uint64_t> bytes = WriteSnapshotFile(SnapshotPath(dir.path(), 0, 1), table, 1300);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, ReadFile(SnapshotPath(dir.path(), 0, 1)).size());
  EXPECT_FALSE(Exists(SnapshotPath(dir.path(), 0, 1) + ".tmp"));

  BindingTable restored(1600);
  absl::StatusOr<ShardFiles> files = ListShardFiles(dir.path(), 0);
  ASSERT_TRUE(files.ok());
  ASSERT_TRUE(LoadShard(dir.path(), 0, *files, false,
                        [&](std::string_view aor, std::vector<Binding>&& b) {
                          ApplyAorState(restored, aor, std::move(b), 1600);
                        })
                  .ok());
  EXPECT_EQ(restored.aor_count(), 2u);
  ASSERT_NE(restored.Find("sip:b@x"), nullptr);
  ASSERT_EQ(restored.Find("sip:b@x")->bindings().size(), 1u);  // b1 lapsed at 1500
  EXPECT_EQ(restored.Find("sip:b@x")->bindings()[0].contact(), "sip:b2@h");
  EXPECT_EQ(restored.Find("sip:c@x"), nullptr);
}

TEST(DurableFiles, RemoveGenerationDeletesTheDirectory) {
  TempDir dir;
  const std::string gen = GenerationDir(dir.path(), 1);
  ASSERT_EQ(mkdir(gen.c_str(), 0750), 0);
  WriteFile(JournalPath(gen, 0, 1), "x");
  WriteFile(SnapshotPath(gen, 1, 1), "y");
  ASSERT_TRUE(RemoveGeneration(gen).ok());
  EXPECT_FALSE(Exists(gen));
  EXPECT_TRUE(RemoveGeneration(gen).ok());  // already gone
  EXPECT_TRUE(RemoveFile(gen + "/nothing").ok());
}

}  // namespace
}  // namespace locus::store
