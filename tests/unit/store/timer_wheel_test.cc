// TimerWheel: exact firing at every level boundary, cancel and re-schedule
// (also from inside the callback), far-future timers, ordering, the cost of
// large jumps, and two randomized comparisons against a std::multimap.
#include "store/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <utility>
#include <vector>

namespace locus::store {
namespace {

constexpr uint64_t kMaxTick = std::numeric_limits<uint64_t>::max();

// A test object with an embedded node, recording when it fired.
struct Timer {
  TimerNode node;
  int id = 0;
  int fired = 0;
  uint64_t fired_at = 0;
};

Timer* Of(TimerNode* node) { return reinterpret_cast<Timer*>(node); }
static_assert(offsetof(Timer, node) == 0);

// Advances and records what fired, checking that each timer fires at now().
struct Recorder {
  std::vector<Timer*> fired;
  void operator()(TimerWheel& wheel, uint64_t now) {
    wheel.Advance(now, [&](TimerNode* node) {
      Timer* t = Of(node);
      EXPECT_FALSE(node->scheduled());
      ++t->fired;
      t->fired_at = wheel.now();
      fired.push_back(t);
    });
  }
};

// ---------------------------------------------------------------------------
// Basics

TEST(TimerWheelBasics, NodeIsThreeWords) { EXPECT_EQ(sizeof(TimerNode), 24u); }

TEST(TimerWheelBasics, EmptyWheel) {
  TimerWheel wheel(1000);
  EXPECT_EQ(wheel.now(), 1000u);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_TRUE(wheel.empty());
  EXPECT_EQ(wheel.NextExpiryBound(), std::nullopt);
  Recorder advance;
  advance(wheel, 5000);
  EXPECT_EQ(wheel.now(), 5000u);
  EXPECT_TRUE(advance.fired.empty());
  EXPECT_EQ(wheel.counters().slots_visited, 0u);
}

TEST(TimerWheelBasics, NowNeverGoesBackwards) {
  TimerWheel wheel(100);
  Timer t;
  wheel.Schedule(&t.node, 150);
  Recorder advance;
  advance(wheel, 50);
  EXPECT_EQ(wheel.now(), 100u);
  EXPECT_TRUE(advance.fired.empty());
  advance(wheel, 149);
  advance(wheel, 120);
  EXPECT_EQ(wheel.now(), 149u);
  EXPECT_EQ(t.fired, 0);
  advance(wheel, 150);
  EXPECT_EQ(t.fired, 1);
  EXPECT_EQ(t.fired_at, 150u);
}

TEST(TimerWheelBasics, ScheduledFlagAndSize) {
  TimerWheel wheel(0);
  Timer a, b;
  EXPECT_FALSE(a.node.scheduled());
  wheel.Schedule(&a.node, 10);
  wheel.Schedule(&b.node, 1 << 20);
  EXPECT_TRUE(a.node.scheduled());
  EXPECT_EQ(a.node.expiry, 10u);
  EXPECT_EQ(wheel.size(), 2u);
  Recorder advance;
  advance(wheel, 10);
  EXPECT_FALSE(a.node.scheduled());
  EXPECT_TRUE(b.node.scheduled());
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(wheel.counters().timers_fired, 1u);
}

TEST(TimerWheelBasics, ClearDisarmsWithoutFiring) {
  TimerWheel wheel(0);
  std::vector<Timer> timers(300);
  for (size_t i = 0; i < timers.size(); ++i) {
    wheel.Schedule(&timers[i].node, i * i * i * 977);  // every level, and one due (i == 0)
  }
  wheel.Clear();
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.NextExpiryBound(), std::nullopt);
  for (const Timer& t : timers) EXPECT_FALSE(t.node.scheduled());
  Recorder advance;
  advance(wheel, kMaxTick);
  EXPECT_TRUE(advance.fired.empty());
  // The nodes and the wheel are reusable.
  wheel.Schedule(&timers[5].node, kMaxTick);
  EXPECT_EQ(wheel.size(), 1u);
  wheel.Cancel(&timers[5].node);
}

// ---------------------------------------------------------------------------
// Exact expiry

TEST(TimerWheelExpiry, FiresAtExpiryNotBefore) {
  TimerWheel wheel(0);
  Timer t;
  wheel.Schedule(&t.node, 100);
  Recorder advance;
  advance(wheel, 99);
  EXPECT_EQ(t.fired, 0);
  advance(wheel, 100);
  EXPECT_EQ(t.fired, 1);
  EXPECT_EQ(t.fired_at, 100u);
  advance(wheel, 1000);
  EXPECT_EQ(t.fired, 1);
}

TEST(TimerWheelExpiry, AdvanceAtMostSpreadsABurstOverCalls) {
  TimerWheel wheel(0);
  std::vector<Timer> timers(10);
  for (int i = 0; i < 10; ++i) {
    timers[i].id = i;
    wheel.Schedule(&timers[i].node, i < 7 ? 5000 : 5000 + 64 * 64);  // 7 due together, 3 later
  }
  std::vector<int> order;
  auto record = [&](TimerNode* node) {
    ++Of(node)->fired;
    Of(node)->fired_at = wheel.now();
    order.push_back(Of(node)->id);
  };
  EXPECT_FALSE(wheel.AdvanceAtMost(9000, 3, record));
  EXPECT_EQ(order.size(), 3u);
  // The rest of the burst waits on the due list, at its own tick.
  EXPECT_EQ(wheel.now(), 5000u);
  EXPECT_EQ(wheel.NextExpiryBound(), 5000u);
  EXPECT_EQ(wheel.size(), 7u);
  // One of them is cancelled, another re-armed for later, meanwhile.
  wheel.Cancel(&timers[6].node);
  wheel.Schedule(&timers[5].node, 20000);
  EXPECT_FALSE(wheel.AdvanceAtMost(9000, 1, record));
  EXPECT_TRUE(wheel.AdvanceAtMost(9000, 100, record));
  EXPECT_EQ(order.size(), 5u);  // 0..4: 5 re-armed, 6 cancelled
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(timers[i].fired, 1) << i;
    EXPECT_EQ(timers[i].fired_at, 5000u);
  }
  EXPECT_EQ(wheel.now(), 9000u);
  // A limit that is not reached leaves nothing due.
  EXPECT_TRUE(wheel.AdvanceAtMost(30000, 100, record));
  EXPECT_EQ(timers[5].fired, 1);
  EXPECT_EQ(timers[5].fired_at, 20000u);
  for (int i = 7; i < 10; ++i) EXPECT_EQ(timers[i].fired, 1) << i;
  EXPECT_EQ(timers[6].fired, 0);
  EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheelExpiry, ExpiryEqualToNowFiresOnNextAdvance) {
  TimerWheel wheel(500);
  Timer t;
  wheel.Schedule(&t.node, 500);
  EXPECT_EQ(wheel.NextExpiryBound(), 500u);
  Recorder advance;
  advance(wheel, 500);  // the same tick is enough
  EXPECT_EQ(t.fired, 1);
  EXPECT_EQ(t.fired_at, 500u);
  EXPECT_EQ(wheel.now(), 500u);
}

TEST(TimerWheelExpiry, ExpiryInThePastFiresOnNextAdvance) {
  TimerWheel wheel(500);
  Timer a, b, c;
  wheel.Schedule(&a.node, 499);
  wheel.Schedule(&b.node, 0);
  wheel.Schedule(&c.node, 501);
  EXPECT_EQ(wheel.NextExpiryBound(), 500u);
  Recorder advance;
  advance(wheel, 10);  // earlier than now(): time stays, due timers still fire
  EXPECT_EQ(wheel.now(), 500u);
  ASSERT_EQ(advance.fired.size(), 2u);
  EXPECT_EQ(advance.fired[0], &a);  // past timers fire in Schedule order, at now()
  EXPECT_EQ(advance.fired[1], &b);
  EXPECT_EQ(a.fired_at, 500u);
  EXPECT_EQ(c.fired, 0);
  EXPECT_EQ(wheel.NextExpiryBound(), 501u);
  advance(wheel, 501);
  EXPECT_EQ(c.fired, 1);
}

// Deltas around every level boundary, from several starting ticks.
std::vector<uint64_t> BoundaryDeltas() {
  std::vector<uint64_t> deltas = {1, 2};
  for (int k = 1; k <= 10; ++k) {
    const uint64_t p = uint64_t{1} << (6 * k);
    deltas.insert(deltas.end(), {p - 1, p, p + 1});
  }
  deltas.insert(deltas.end(), {uint64_t{1} << 62, (uint64_t{1} << 63) - 1, uint64_t{1} << 63,
                               (uint64_t{1} << 63) + 1, kMaxTick - 1});
  return deltas;
}

const uint64_t kBases[] = {0,
                           1,
                           63,
                           64,
                           4095,
                           4096,
                           123456789,
                           (uint64_t{1} << 32) - 1,
                           (uint64_t{1} << 40) + 17,
                           (uint64_t{1} << 60) - 3,
                           kMaxTick - (uint64_t{1} << 41)};

TEST(TimerWheelExpiry, EveryLevelBoundaryStepByStep) {
  for (uint64_t base : kBases) {
    for (uint64_t delta : BoundaryDeltas()) {
      if (delta > kMaxTick - base) continue;
      const uint64_t e = base + delta;
      SCOPED_TRACE(testing::Message() << "base " << base << " delta " << delta);
      TimerWheel wheel(base);
      Timer t;
      wheel.Schedule(&t.node, e);
      Recorder advance;
      if (delta > 2) advance(wheel, e - 2);
      advance(wheel, e - 1);
      EXPECT_EQ(t.fired, 0);
      advance(wheel, e);
      ASSERT_EQ(t.fired, 1);
      EXPECT_EQ(t.fired_at, e);
      if (e < kMaxTick) advance(wheel, e + 1);
      EXPECT_EQ(t.fired, 1);
      EXPECT_TRUE(wheel.empty());
    }
  }
}

TEST(TimerWheelExpiry, EveryLevelBoundaryInOneJump) {
  for (uint64_t base : kBases) {
    for (uint64_t delta : BoundaryDeltas()) {
      if (delta > kMaxTick - base) continue;
      const uint64_t e = base + delta;
      SCOPED_TRACE(testing::Message() << "base " << base << " delta " << delta);
      TimerWheel wheel(base);
      Timer t;
      wheel.Schedule(&t.node, e);
      Recorder advance;
      advance(wheel, kMaxTick);
      ASSERT_EQ(t.fired, 1);
      EXPECT_EQ(t.fired_at, e);  // now() inside the callback is the timer's tick
      EXPECT_LE(wheel.counters().slots_visited, 11u);
    }
  }
}

TEST(TimerWheelExpiry, NextExpiryBoundLoopReachesEveryBoundary) {
  for (uint64_t base : kBases) {
    for (uint64_t delta : BoundaryDeltas()) {
      if (delta > kMaxTick - base) continue;
      const uint64_t e = base + delta;
      SCOPED_TRACE(testing::Message() << "base " << base << " delta " << delta);
      TimerWheel wheel(base);
      Timer t;
      wheel.Schedule(&t.node, e);
      Recorder advance;
      int wakeups = 0;
      while (std::optional<uint64_t> bound = wheel.NextExpiryBound()) {
        ASSERT_LE(*bound, e);
        ASSERT_GE(*bound, wheel.now());
        ASSERT_EQ(t.fired, 0);
        advance(wheel, *bound);
        ++wakeups;
      }
      EXPECT_EQ(t.fired, 1);
      EXPECT_EQ(t.fired_at, e);
      EXPECT_LE(wakeups, 11);
    }
  }
}

TEST(TimerWheelExpiry, ManyBoundaryTimersTickByTick) {
  // One wheel, timers at 1..4200 and around 64^2 ahead of several nows; time moves one
  // tick at a time, and each timer must fire in exactly the Advance reaching its tick.
  TimerWheel wheel(0);
  std::vector<Timer> timers(4300);
  for (size_t i = 0; i < timers.size(); ++i) {
    timers[i].id = static_cast<int>(i);
    wheel.Schedule(&timers[i].node, i + 1);
  }
  Recorder advance;
  for (uint64_t now = 1; now <= timers.size(); ++now) {
    advance.fired.clear();
    advance(wheel, now);
    ASSERT_EQ(advance.fired.size(), 1u) << now;
    EXPECT_EQ(advance.fired[0]->node.expiry, now);
    EXPECT_EQ(advance.fired[0]->fired_at, now);
  }
}

TEST(TimerWheelExpiry, MaxTick) {
  TimerWheel wheel(kMaxTick - 1);
  Timer a, b;
  wheel.Schedule(&a.node, kMaxTick);
  wheel.Schedule(&b.node, kMaxTick - 1);
  Recorder advance;
  advance(wheel, kMaxTick);
  ASSERT_EQ(advance.fired.size(), 2u);
  EXPECT_EQ(advance.fired[0], &b);
  EXPECT_EQ(advance.fired[1], &a);
  EXPECT_EQ(a.fired_at, kMaxTick);
  EXPECT_EQ(wheel.now(), kMaxTick);
}

// ---------------------------------------------------------------------------
// Cancel

TEST(TimerWheelCancel, BeforeFiring) {
  TimerWheel wheel(0);
  Timer a, b, c;
  wheel.Schedule(&a.node, 10);
  wheel.Schedule(&b.node, 10);
  wheel.Schedule(&c.node, 5000);
  wheel.Cancel(&a.node);
  wheel.Cancel(&c.node);
  EXPECT_FALSE(a.node.scheduled());
  EXPECT_EQ(wheel.size(), 1u);
  Recorder advance;
  advance(wheel, 100000);
  ASSERT_EQ(advance.fired.size(), 1u);
  EXPECT_EQ(advance.fired[0], &b);
  EXPECT_EQ(a.fired + c.fired, 0);
}

TEST(TimerWheelCancel, LastTimerOfSlotsAtEveryLevel) {
  // Cancelling the only timer of a slot must clear the slot's bit: afterwards
  // the wheel reports nothing to wait for and a jump visits no slot.
  TimerWheel wheel(7);
  std::vector<Timer> timers(11);
  for (int k = 0; k < 11; ++k) wheel.Schedule(&timers[k].node, 7 + (uint64_t{3} << (6 * k)));
  for (Timer& t : timers) wheel.Cancel(&t.node);
  EXPECT_EQ(wheel.NextExpiryBound(), std::nullopt);
  Recorder advance;
  advance(wheel, kMaxTick);
  EXPECT_EQ(wheel.counters().slots_visited, 0u);
  EXPECT_TRUE(advance.fired.empty());
}

TEST(TimerWheelCancel, AfterPartialCascade) {
  // A timer that was cascaded down some levels is still found by Cancel.
  TimerWheel wheel(0);
  Timer a, b;
  wheel.Schedule(&a.node, 300000);
  wheel.Schedule(&b.node, 300001);
  Recorder advance;
  advance(wheel, 299990);
  wheel.Cancel(&a.node);
  EXPECT_EQ(wheel.size(), 1u);
  advance(wheel, 400000);
  ASSERT_EQ(advance.fired.size(), 1u);
  EXPECT_EQ(advance.fired[0], &b);
  EXPECT_EQ(b.fired_at, 300001u);
}

TEST(TimerWheelCancel, UnarmedIsNoop) {
  TimerWheel wheel(0);
  Timer a, b;
  wheel.Cancel(&a.node);
  EXPECT_EQ(wheel.size(), 0u);
  wheel.Schedule(&b.node, 3);
  wheel.Cancel(&b.node);
  wheel.Cancel(&b.node);  // twice
  EXPECT_EQ(wheel.size(), 0u);
  Recorder advance;
  advance(wheel, 10);
  wheel.Cancel(&b.node);
  EXPECT_TRUE(advance.fired.empty());
}

TEST(TimerWheelCancel, FiredNodeIsUnarmed) {
  TimerWheel wheel(0);
  Timer a;
  wheel.Schedule(&a.node, 3);
  wheel.Advance(10, [&](TimerNode* node) {
    wheel.Cancel(node);  // already disarmed: no-op
    EXPECT_EQ(wheel.size(), 0u);
  });
  wheel.Cancel(&a.node);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelCancel, FromCallbackSameTick) {
  TimerWheel wheel(0);
  Timer a, b, c;
  wheel.Schedule(&a.node, 10);
  wheel.Schedule(&b.node, 10);
  wheel.Schedule(&c.node, 10);
  std::vector<TimerNode*> fired;
  wheel.Advance(10, [&](TimerNode* node) {
    fired.push_back(node);
    // Whichever fires first cancels the other two.
    for (Timer* t : {&a, &b, &c}) wheel.Cancel(&t->node);
  });
  EXPECT_EQ(fired.size(), 1u);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelCancel, FromCallbackLaterTickSameAdvance) {
  TimerWheel wheel(0);
  Timer a, b, c;
  wheel.Schedule(&a.node, 10);
  wheel.Schedule(&b.node, 70);    // another level when a fires
  wheel.Schedule(&c.node, 5000);  // cancelled by b
  std::vector<TimerNode*> fired;
  wheel.Advance(100000, [&](TimerNode* node) {
    fired.push_back(node);
    if (node == &a.node) wheel.Cancel(&b.node);
  });
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0], &a.node);
  EXPECT_EQ(fired[1], &c.node);
}

TEST(TimerWheelCancel, FromCallbackAfterCascade) {
  // b and c sit in one high-level slot; when it is cascaded they land in different
  // level-0 slots, and b's callback cancels c there.
  TimerWheel wheel(0);
  Timer b, c;
  wheel.Schedule(&b.node, 262144 + 5);
  wheel.Schedule(&c.node, 262144 + 9);
  std::vector<TimerNode*> fired;
  wheel.Advance(kMaxTick, [&](TimerNode* node) {
    fired.push_back(node);
    wheel.Cancel(&c.node);
  });
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], &b.node);
}

TEST(TimerWheelCallback, MayDestroyTheOwner) {
  TimerWheel wheel(0);
  std::vector<std::unique_ptr<Timer>> owned;
  for (int i = 0; i < 100; ++i) {
    owned.push_back(std::make_unique<Timer>());
    owned.back()->id = i;
    wheel.Schedule(&owned.back()->node, 1 + static_cast<uint64_t>(i % 7) * 1000);
  }
  int fired = 0;
  wheel.Advance(kMaxTick, [&](TimerNode* node) {
    owned[static_cast<size_t>(Of(node)->id)].reset();  // ASan catches a later touch
    ++fired;
  });
  EXPECT_EQ(fired, 100);
}

// ---------------------------------------------------------------------------
// Re-schedule

TEST(TimerWheelReschedule, Earlier) {
  TimerWheel wheel(0);
  Timer t;
  wheel.Schedule(&t.node, 100000);
  wheel.Schedule(&t.node, 50);
  EXPECT_EQ(wheel.size(), 1u);
  Recorder advance;
  advance(wheel, 49);
  EXPECT_EQ(t.fired, 0);
  advance(wheel, 200000);
  EXPECT_EQ(t.fired, 1);
  EXPECT_EQ(t.fired_at, 50u);
}

TEST(TimerWheelReschedule, Later) {
  TimerWheel wheel(0);
  Timer t;
  wheel.Schedule(&t.node, 50);
  wheel.Schedule(&t.node, 100000);
  Recorder advance;
  advance(wheel, 99999);
  EXPECT_EQ(t.fired, 0);
  advance(wheel, 100000);
  EXPECT_EQ(t.fired, 1);
  EXPECT_EQ(t.fired_at, 100000u);
}

TEST(TimerWheelReschedule, SameSlotAndSameExpiry) {
  TimerWheel wheel(0);
  Timer t;
  wheel.Schedule(&t.node, 5000);
  wheel.Schedule(&t.node, 5000);
  wheel.Schedule(&t.node, 5001);
  EXPECT_EQ(wheel.size(), 1u);
  Recorder advance;
  advance(wheel, 5000);
  EXPECT_EQ(t.fired, 0);
  advance(wheel, 5001);
  EXPECT_EQ(t.fired, 1);
}

TEST(TimerWheelReschedule, AfterPartialAdvance) {
  TimerWheel wheel(0);
  Timer t;
  wheel.Schedule(&t.node, 1 << 20);
  Recorder advance;
  advance(wheel, (1 << 20) - 10);  // cascaded down to level 0
  wheel.Schedule(&t.node, 1 << 30);
  advance(wheel, 1 << 21);
  EXPECT_EQ(t.fired, 0);
  advance(wheel, 1 << 30);
  EXPECT_EQ(t.fired, 1);
  EXPECT_EQ(t.fired_at, uint64_t{1} << 30);
}

TEST(TimerWheelReschedule, PeriodicFromCallback) {
  TimerWheel wheel(0);
  Timer t;
  wheel.Schedule(&t.node, 7);
  std::vector<uint64_t> at;
  wheel.Advance(100, [&](TimerNode* node) {
    EXPECT_EQ(wheel.now(), node->expiry);
    at.push_back(wheel.now());
    wheel.Schedule(node, wheel.now() + 7);
  });
  ASSERT_EQ(at.size(), 14u);
  for (size_t i = 0; i < at.size(); ++i) EXPECT_EQ(at[i], 7 * (i + 1));
  EXPECT_TRUE(t.node.scheduled());
  EXPECT_EQ(t.node.expiry, 105u);
}

TEST(TimerWheelReschedule, OtherNodeFromCallback) {
  TimerWheel wheel(0);
  Timer a, b, c;
  wheel.Schedule(&a.node, 10);
  wheel.Schedule(&b.node, 1000);
  std::vector<std::pair<TimerNode*, uint64_t>> fired;
  wheel.Advance(2000, [&](TimerNode* node) {
    fired.emplace_back(node, wheel.now());
    if (node == &a.node) {
      wheel.Schedule(&b.node, 20);    // earlier
      wheel.Schedule(&c.node, 1500);  // new
    }
  });
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], std::make_pair(&a.node, uint64_t{10}));
  EXPECT_EQ(fired[1], std::make_pair(&b.node, uint64_t{20}));
  EXPECT_EQ(fired[2], std::make_pair(&c.node, uint64_t{1500}));
}

TEST(TimerWheelReschedule, ToNowFromCallbackFiresInTheSameAdvance) {
  TimerWheel wheel(0);
  Timer a, b;
  wheel.Schedule(&a.node, 10);
  wheel.Schedule(&b.node, 11);
  std::vector<std::pair<TimerNode*, uint64_t>> fired;
  wheel.Advance(11, [&](TimerNode* node) {
    fired.emplace_back(node, wheel.now());
    if (fired.size() == 1) wheel.Schedule(node, 3);  // already past: due at now() == 10
  });
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], std::make_pair(&a.node, uint64_t{10}));
  EXPECT_EQ(fired[1], std::make_pair(&a.node, uint64_t{10}));
  EXPECT_EQ(fired[2], std::make_pair(&b.node, uint64_t{11}));
}

// ---------------------------------------------------------------------------
// Far future

TEST(TimerWheelFarFuture, TwoToThe32And40Ahead) {
  const uint64_t start = 1'700'000'000;
  TimerWheel wheel(start);
  Timer a, b, c;
  const uint64_t ea = start + (uint64_t{1} << 32);
  const uint64_t eb = start + (uint64_t{1} << 40);
  const uint64_t ec = start + (uint64_t{1} << 40) + 1;
  wheel.Schedule(&a.node, ea);
  wheel.Schedule(&b.node, eb);
  wheel.Schedule(&c.node, ec);
  Recorder advance;
  advance(wheel, ea - 1);
  EXPECT_EQ(a.fired, 0);
  advance(wheel, ea);
  EXPECT_EQ(a.fired, 1);
  EXPECT_EQ(a.fired_at, ea);
  advance(wheel, eb - 1);
  EXPECT_EQ(b.fired, 0);
  advance(wheel, ec + 1000);
  EXPECT_EQ(b.fired_at, eb);
  EXPECT_EQ(c.fired_at, ec);
  ASSERT_EQ(advance.fired.size(), 3u);
  EXPECT_EQ(advance.fired[1], &b);
  // Three timers, each cascaded at most 10 times.
  EXPECT_LE(wheel.counters().slots_visited, 3u * 11);
}

TEST(TimerWheelFarFuture, LargeJumpVisitsFewSlots) {
  std::mt19937_64 rng(7);
  const uint64_t start = 12345;
  TimerWheel wheel(start);
  std::vector<Timer> timers(5);
  for (Timer& t : timers) wheel.Schedule(&t.node, start + 1 + rng() % 1'000'000'000);
  Recorder advance;
  advance(wheel, start + 1'000'000'000);
  for (Timer& t : timers) {
    EXPECT_EQ(t.fired, 1);
    EXPECT_EQ(t.fired_at, t.node.expiry);
  }
  // One iteration per non-empty slot visited, never one per tick.
  EXPECT_LE(wheel.counters().slots_visited, timers.size() * 11);
  EXPECT_LE(wheel.counters().timers_cascaded, timers.size() * 10);
}

TEST(TimerWheelFarFuture, JumpOverEmptyWheelVisitsNothing) {
  TimerWheel wheel(0);
  Recorder advance;
  advance(wheel, uint64_t{1} << 63);
  EXPECT_EQ(wheel.counters().slots_visited, 0u);
  EXPECT_EQ(wheel.now(), uint64_t{1} << 63);
}

// ---------------------------------------------------------------------------
// Ordering

TEST(TimerWheelOrder, NonDecreasingWithinOneAdvance) {
  std::mt19937_64 rng(11);
  TimerWheel wheel(1000);
  std::vector<Timer> timers(20000);
  for (Timer& t : timers) {
    const int bits = static_cast<int>(rng() % 40);
    wheel.Schedule(&t.node, 1001 + (rng() & ((uint64_t{1} << bits) - 1)));
  }
  Recorder advance;
  advance(wheel, kMaxTick);
  ASSERT_EQ(advance.fired.size(), timers.size());
  for (size_t i = 1; i < advance.fired.size(); ++i) {
    ASSERT_LE(advance.fired[i - 1]->node.expiry, advance.fired[i]->node.expiry) << i;
  }
  for (const Timer& t : timers) EXPECT_EQ(t.fired_at, t.node.expiry);
}

// ---------------------------------------------------------------------------
// Against a reference

// The reference: every armed timer keyed by when it must fire (its expiry, or the
// now() of its Schedule call when that was later), with the iterator kept per
// timer for cancel.
class Reference {
 public:
  using Map = std::multimap<uint64_t, size_t>;
  explicit Reference(size_t n) : where_(n), armed_(n, false) {}

  void Schedule(size_t i, uint64_t due) {
    Cancel(i);
    where_[i] = map_.emplace(due, i);
    armed_[i] = true;
  }
  void Cancel(size_t i) {
    if (!armed_[i]) return;
    map_.erase(where_[i]);
    armed_[i] = false;
  }
  bool armed(size_t i) const { return armed_[i]; }
  uint64_t due(size_t i) const { return where_[i]->first; }
  const Map& map() const { return map_; }

 private:
  Map map_;
  std::vector<Map::iterator> where_;
  std::vector<bool> armed_;
};

TEST(TimerWheelReference, MillionTimers) {
  constexpr size_t kCount = 1'000'000;
  std::mt19937_64 rng(20240601);
  const uint64_t start = 1'000'000;
  TimerWheel wheel(start);
  std::vector<Timer> timers(kCount);
  Reference ref(kCount);
  uint64_t last = start;
  for (size_t i = 0; i < kCount; ++i) {
    timers[i].id = static_cast<int>(i);
    const uint64_t r = rng() % 10;
    const int bits = r == 0 ? 44 : r < 3 ? 32 : 20;  // mostly near, some 2^32, a few far
    const uint64_t ahead = rng() % (uint64_t{1} << bits);
    const uint64_t e = start + ahead;  // ahead == 0: due at once
    wheel.Schedule(&timers[i].node, e);
    ref.Schedule(i, e);
    last = std::max(last, e);
  }
  std::vector<size_t> order(kCount);
  for (size_t i = 0; i < kCount; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t j = 0; j < kCount / 3; ++j) {
    wheel.Cancel(&timers[order[j]].node);
    ref.Cancel(order[j]);
  }
  ASSERT_EQ(wheel.size(), ref.map().size());

  uint64_t previous = 0;
  size_t fired = 0;
  size_t advances = 0;
  while (wheel.now() < last) {
    // Steps of random magnitude: from single ticks to 2^40.
    const int bits = static_cast<int>(rng() % 41);
    const uint64_t step = 1 + (rng() & ((uint64_t{1} << bits) - 1));
    const uint64_t target = std::min(last, wheel.now() + step);
    ++advances;
    wheel.Advance(target, [&](TimerNode* node) {
      Timer* t = Of(node);
      const size_t i = static_cast<size_t>(t->id);
      ASSERT_TRUE(ref.armed(i));
      ASSERT_EQ(t->fired, 0);
      // Exactly at its tick, and nothing earlier is left.
      ASSERT_EQ(wheel.now(), node->expiry);
      ASSERT_EQ(ref.map().begin()->first, node->expiry);
      ASSERT_LE(previous, node->expiry);
      previous = node->expiry;
      ++t->fired;
      ++fired;
      ref.Cancel(i);
    });
    ASSERT_EQ(wheel.now(), target);
    ASSERT_EQ(wheel.size(), ref.map().size());
    if (!ref.map().empty()) {
      ASSERT_GT(ref.map().begin()->first, target);
      ASSERT_LE(*wheel.NextExpiryBound(), ref.map().begin()->first);
    }
  }
  EXPECT_TRUE(ref.map().empty());
  EXPECT_EQ(fired, kCount - kCount / 3);
  // The first third of `order` was cancelled; all others fired once.
  for (size_t j = 0; j < kCount; ++j) {
    ASSERT_EQ(timers[order[j]].fired, j < kCount / 3 ? 0 : 1) << order[j];
  }
  EXPECT_EQ(wheel.counters().timers_fired, kCount - kCount / 3);
  std::printf("[          ] %zu advances, %llu slots visited, %llu timers cascaded\n", advances,
              static_cast<unsigned long long>(wheel.counters().slots_visited),
              static_cast<unsigned long long>(wheel.counters().timers_cascaded));
}

TEST(TimerWheelReference, RandomInterleavedOperations) {
  constexpr size_t kTimers = 3000;
  constexpr int kOperations = 300'000;
  std::mt19937_64 rng(42);
  const uint64_t start = (uint64_t{1} << 36) - 5000;  // crosses high-level boundaries early
  TimerWheel wheel(start);
  std::vector<Timer> timers(kTimers);
  for (size_t i = 0; i < kTimers; ++i) timers[i].id = static_cast<int>(i);
  Reference ref(kTimers);

  auto random_expiry = [&]() -> uint64_t {
    const uint64_t now = wheel.now();
    switch (rng() % 16) {
      case 0:
        return now - std::min<uint64_t>(now, rng() % 100);  // past or now
      case 1:
        return now;
      case 2:
        return now + (rng() % (uint64_t{1} << 40));
      case 3:
      case 4:
        return now + (rng() % (uint64_t{1} << 24));
      case 5:
      case 6:
      case 7:
        return now + (rng() % 5000);
      default:
        return now + 1 + (rng() % 130);
    }
  };
  auto schedule = [&](size_t i) {
    const uint64_t e = random_expiry();
    wheel.Schedule(&timers[i].node, e);
    ref.Schedule(i, std::max(e, wheel.now()));
  };
  auto cancel = [&](size_t i) {
    wheel.Cancel(&timers[i].node);
    ref.Cancel(i);
  };

  uint64_t fired = 0;
  for (int op = 0; op < kOperations; ++op) {
    const uint64_t r = rng() % 100;
    if (r < 45) {
      schedule(rng() % kTimers);
    } else if (r < 65) {
      cancel(rng() % kTimers);
    } else {
      uint64_t target;
      const uint64_t how = rng() % 10;
      const std::optional<uint64_t> bound = wheel.NextExpiryBound();
      if (how == 0 && bound) {
        target = *bound;
      } else if (how == 1) {
        target = wheel.now() - std::min<uint64_t>(wheel.now(), rng() % 10);  // backwards
      } else if (how == 2) {
        target = wheel.now() + (rng() % (uint64_t{1} << 30));
      } else {
        target = wheel.now() + (rng() % 200);
      }
      const uint64_t expected_now = std::max(target, wheel.now());
      wheel.Advance(target, [&](TimerNode* node) {
        const size_t i = static_cast<size_t>(Of(node)->id);
        ASSERT_TRUE(ref.armed(i));
        ASSERT_FALSE(node->scheduled());
        // Fires at its due tick, which is the earliest one armed.
        ASSERT_EQ(ref.due(i), wheel.now());
        ASSERT_EQ(ref.map().begin()->first, wheel.now());
        ASSERT_LE(wheel.now(), expected_now);
        ref.Cancel(i);
        ++fired;
        // Sometimes act on the wheel from the callback.
        const uint64_t act = rng() % 10;
        if (act == 0) {
          const uint64_t e = wheel.now() + 1 + rng() % 300;  // re-arm itself, later
          wheel.Schedule(node, e);
          ref.Schedule(i, e);
        } else if (act == 1) {
          cancel(rng() % kTimers);
        } else if (act == 2) {
          const size_t j = rng() % kTimers;
          const uint64_t e = wheel.now() + rng() % 300;  // may be now(): fires in this Advance
          wheel.Schedule(&timers[j].node, e);
          ref.Schedule(j, e);
        }
      });
      ASSERT_EQ(wheel.now(), expected_now);
      if (!ref.map().empty()) {
        ASSERT_GT(ref.map().begin()->first, expected_now);
      }
    }
    ASSERT_EQ(wheel.size(), ref.map().size()) << "op " << op;
    const std::optional<uint64_t> bound = wheel.NextExpiryBound();
    ASSERT_EQ(bound.has_value(), !ref.map().empty());
    if (bound) {
      ASSERT_GE(*bound, wheel.now());
      ASSERT_LE(*bound, ref.map().begin()->first);
    }
  }
  EXPECT_EQ(wheel.counters().timers_fired, fired);
  EXPECT_GT(fired, 50'000u);  // the mix really fires timers
}

}  // namespace
}  // namespace locus::store
