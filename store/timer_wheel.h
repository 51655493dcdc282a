// A hierarchical timing wheel over intrusive, caller-owned timer nodes.
//
// The wheel has no clock. Time is a uint64_t tick count that the caller moves
// forward with Advance(); the unit is the caller's (seconds for binding expiry,
// milliseconds for transaction timers). Every tick value is valid, so a timer can
// be armed up to 2^64-1 ticks ahead.
//
// Timers are intrusive: the caller embeds a TimerNode in its own object and hands
// the wheel a pointer to it. The wheel never allocates per timer; its slot arrays
// are allocated once, by the constructor. A wheel belongs to one thread.
//
// Layout. A tick is read as 11 base-64 digits (6 bits each; the top digit has 4
// bits). Level k has 64 slots, one per value of digit k. A timer whose expiry e
// is later than now() lives at the level of the highest digit in which e and
// now() differ, in the slot named by e's digit there. So level 0 holds the timers
// of the current 64-tick block, one exact tick per slot, and a slot of level k
// holds timers that agree with now() above digit k and are later in digit k. A
// timer with e <= now() is on the due list. Each level keeps a 64-bit bitmap of
// its non-empty slots, and the wheel a bitmap of its non-empty levels, so the next
// slot to visit is found with two count-trailing-zeros whatever the distance.
// When time reaches the first tick of a level-k slot (k > 0), the slot is
// cascaded: its timers are relinked one or more levels lower (or onto the due
// list when their expiry is that tick).
//
// Cost. Schedule, Cancel, size() and NextExpiryBound() are O(1): a few bit
// operations and a doubly-linked list splice. Advance(t) costs
// O(1 + slots visited + timers fired + timers cascaded); empty slots and empty
// ticks cost nothing, so a jump of 10^9 ticks over a wheel holding n timers visits
// at most 11n slots, and over an empty wheel none. Each cascade moves a timer
// strictly down a level, so a timer is relinked at most 10 times in its life
// (about log64 of the distance at which it was armed), each a constant-time
// splice. Counters (below) expose these numbers.
//
// Memory: 24 bytes per timer, inside the caller's object; 11 x 64 list heads of
// 24 bytes (about 17 KB) per wheel.
#ifndef LOCUS_STORE_TIMER_WHEEL_H_
#define LOCUS_STORE_TIMER_WHEEL_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace locus::store {

// One timer, embedded in the object it belongs to. While scheduled(), prev and
// next belong to the wheel and must not be written; expiry may be read (it is
// the tick the timer was last armed for) but is written only by Schedule. An
// object whose node is armed must Cancel it before the object is destroyed or
// moved (or be destroyed from inside its own on_expire call, which has disarmed
// it). A node is in at most one wheel at a time.
struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t expiry = 0;  // absolute tick, set by TimerWheel::Schedule

  bool scheduled() const { return next != nullptr; }
};

class TimerWheel {
 public:
  // Running totals since construction, for tests and diagnostics.
  struct Counters {
    uint64_t slots_visited = 0;    // non-empty slots fired or cascaded by Advance
    uint64_t timers_cascaded = 0;  // timers relinked to a lower level
    uint64_t timers_fired = 0;     // on_expire calls
  };

  // `now` is the current tick.
  explicit TimerWheel(uint64_t now);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  // Does not touch nodes still armed: their owners may be destroyed before or
  // after the wheel but must not pass them to it again (call Clear() first to
  // leave them disarmed).
  ~TimerWheel();

  // Arms `node` to fire at tick `expiry`; an armed node is first disarmed (moved).
  // An expiry <= now() fires on the next Advance (or, when armed from inside an
  // on_expire call, later in the same Advance), as if it were now().
  void Schedule(TimerNode* node, uint64_t expiry);

  // Disarms `node`; a no-op when it is not armed.
  void Cancel(TimerNode* node);

  // Disarms every timer without firing it. O(armed timers).
  void Clear();

  // Moves time to `now` (never backwards: an earlier value is taken as now()) and
  // calls on_expire(TimerNode*) once for every timer whose expiry is <= now, in
  // non-decreasing expiry order (a timer armed with an expiry already past counts
  // as expiring at the now() of its Schedule call). The node is disarmed before
  // the call, and during it now() is the tick being fired (== node->expiry except
  // for such past timers). The callback may Schedule or Cancel any node of this
  // wheel, including the one it got, and may destroy the object holding it; it
  // must not call Advance. A timer it arms for a tick <= now fires in this same
  // Advance, so a callback that always re-arms at now() never returns.
  // On return every armed timer has an expiry > now().
  template <typename OnExpire>
  void Advance(uint64_t now, OnExpire&& on_expire);
  // Advance, calling on_expire at most `limit` times, so that a burst of
  // timers due together is spread over several calls. Returns false when
  // timers due by `now` are left: now() is then their tick, they sit on the
  // due list (NextExpiryBound() is now()), and the next Advance or
  // AdvanceAtMost fires them first. Armed, cancelled or re-armed meanwhile,
  // they behave as any timer.
  template <typename OnExpire>
  bool AdvanceAtMost(uint64_t now, size_t limit, OnExpire&& on_expire);

  uint64_t now() const { return now_; }
  size_t size() const { return size_; }  // armed timers
  bool empty() const { return size_ == 0; }

  // The earliest tick at which a timer may fire, so an event loop can sleep until
  // then; nullopt when no timer is armed. Never later than the true next expiry,
  // and exact when it is within the current 64-tick block; otherwise it is the
  // first tick of the slot that holds it, and Advance-ing to it narrows the
  // bound (at most 10 such steps reach any timer). now() when a timer is due.
  std::optional<uint64_t> NextExpiryBound() const;

  const Counters& counters() const { return counters_; }

  static constexpr int kBitsPerLevel = 6;
  static constexpr int kSlotsPerLevel = 1 << kBitsPerLevel;
  static constexpr int kLevels = (64 + kBitsPerLevel - 1) / kBitsPerLevel;  // 11

 private:
  // Links `node` at the tail of the circular list headed by `head`.
  static void LinkBack(TimerNode* head, TimerNode* node) {
    TimerNode* tail = head->prev;
    node->prev = tail;
    node->next = head;
    tail->next = node;
    head->prev = node;
  }
  static void Unlink(TimerNode* node) {
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = nullptr;
    node->next = nullptr;
  }

  TimerNode* Head(int level, int slot) { return &heads_[level * kSlotsPerLevel + slot]; }
  // First tick of `slot` at `level`, given now_.
  uint64_t SlotStart(int level, int slot) const;
  // Links an unlinked node where its expiry belongs relative to now_.
  void Insert(TimerNode* node);
  // Runs the wheel towards `target` until the due list is not empty (returns
  // true, now_ at the tick of those timers) or nothing is due by `target`
  // (returns false, now_ == target).
  bool CollectDue(uint64_t target);

  uint64_t now_;
  size_t size_ = 0;
  uint32_t level_bits_ = 0;             // bit k: level k has a non-empty slot
  uint64_t slot_bits_[kLevels] = {};    // bit s of [k]: slot s of level k is non-empty
  std::unique_ptr<TimerNode[]> heads_;  // kLevels * kSlotsPerLevel list heads
  TimerNode due_;                       // head of the due list
  Counters counters_;
  bool advancing_ = false;
};

template <typename OnExpire>
void TimerWheel::Advance(uint64_t now, OnExpire&& on_expire) {
  AdvanceAtMost(now, SIZE_MAX, on_expire);
}

template <typename OnExpire>
bool TimerWheel::AdvanceAtMost(uint64_t now, size_t limit, OnExpire&& on_expire) {
  assert(!advancing_ && "TimerWheel::Advance called from its own callback");
  struct Reset {
    bool* flag;
    ~Reset() { *flag = false; }
  } reset{&advancing_};  // also when on_expire throws: the wheel stays usable
  advancing_ = true;
  if (now < now_) now = now_;
  size_t fired = 0;
  while (CollectDue(now)) {
    while (due_.next != &due_) {
      if (fired == limit) return false;
      TimerNode* node = due_.next;
      Unlink(node);
      --size_;
      ++counters_.timers_fired;
      ++fired;
      on_expire(node);
    }
  }
  return true;
}

}  // namespace locus::store

#endif  // LOCUS_STORE_TIMER_WHEEL_H_
