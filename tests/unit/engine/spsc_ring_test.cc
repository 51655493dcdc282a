#include "engine/spsc_ring.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace locus::engine {
namespace {

TEST(SpscRing, KeepsOrderAcrossTheWrap) {
  SpscRing ring(4096);
  int next_pop = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string payload(1 + (i * 53) % 700, static_cast<char>('a' + i % 26));
    while (!ring.TryPush(std::to_string(i) + ":", payload)) {
      std::string_view record;
      ASSERT_TRUE(ring.Peek(&record));  // full means something to pop
      ASSERT_EQ(record.substr(0, record.find(':')), std::to_string(next_pop));
      ring.Pop();
      ++next_pop;
    }
  }
  std::string_view record;
  while (ring.Peek(&record)) {
    EXPECT_EQ(record.substr(0, record.find(':')), std::to_string(next_pop));
    ring.Pop();
    ++next_pop;
  }
  EXPECT_EQ(next_pop, 1000);
}

TEST(SpscRing, ARecordIsItsPartsInOrder) {
  SpscRing ring(4096);
  ASSERT_TRUE(ring.TryPush("head|", "payload|", "trailer"));
  ASSERT_TRUE(ring.TryPush("h", "", "t"));
  std::string_view record;
  ASSERT_TRUE(ring.Peek(&record));
  EXPECT_EQ(record, "head|payload|trailer");
  ring.Pop();
  ASSERT_TRUE(ring.Peek(&record));
  EXPECT_EQ(record, "ht");
  ring.Pop();
  EXPECT_FALSE(ring.Peek(&record));
}

TEST(SpscRing, FullRingRefusesAndNeverOverwrites) {
  SpscRing ring(4096);
  int pushed = 0;
  while (ring.TryPush("h", std::string(100, 'x'))) ++pushed;
  EXPECT_GT(pushed, 30);
  EXPECT_LE(pushed, 4096 / 112);
  EXPECT_FALSE(ring.TryPush("", std::string(ring.max_record() + 1, 'y')));
  std::string_view record;
  int popped = 0;
  while (ring.Peek(&record)) {
    ASSERT_EQ(record.size(), 101u);
    ring.Pop();
    ++popped;
  }
  EXPECT_EQ(popped, pushed);
}

TEST(SpscRing, TwoThreadsPassEveryRecordIntact) {
  SpscRing ring(1 << 16);
  constexpr int kRecords = 200000;
  std::thread producer([&] {
    for (int i = 0; i < kRecords; ++i) {
      const std::string header = std::to_string(i);
      const std::string payload(i % 300, static_cast<char>(i % 251));
      while (!ring.TryPush(header + "|", payload)) std::this_thread::yield();
    }
  });
  int expected = 0;
  std::string_view record;
  while (expected < kRecords) {
    if (!ring.Peek(&record)) {
      std::this_thread::yield();
      continue;
    }
    const size_t bar = record.find('|');
    ASSERT_EQ(record.substr(0, bar), std::to_string(expected));
    const std::string_view payload = record.substr(bar + 1);
    ASSERT_EQ(payload.size(), static_cast<size_t>(expected % 300));
    for (char c : payload) ASSERT_EQ(c, static_cast<char>(expected % 251));
    ring.Pop();
    ++expected;
  }
  producer.join();
  EXPECT_FALSE(ring.Peek(&record));
}

}  // namespace
}  // namespace locus::engine
