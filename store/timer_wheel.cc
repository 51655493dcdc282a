#include "store/timer_wheel.h"

#include <bit>

namespace locus::store {
namespace {

constexpr uint64_t kSlotMask = TimerWheel::kSlotsPerLevel - 1;

// Level of a timer expiring at `expiry` when time is `now` (expiry > now): the
// base-64 digit of the highest bit in which they differ.
inline int LevelOf(uint64_t expiry, uint64_t now) {
  return (63 - std::countl_zero(expiry ^ now)) / TimerWheel::kBitsPerLevel;
}

inline int SlotOf(uint64_t expiry, int level) {
  return static_cast<int>((expiry >> (level * TimerWheel::kBitsPerLevel)) & kSlotMask);
}

}  // namespace

TimerWheel::TimerWheel(uint64_t now)
    : now_(now), heads_(std::make_unique<TimerNode[]>(kLevels * kSlotsPerLevel)) {
  for (int i = 0; i < kLevels * kSlotsPerLevel; ++i) {
    heads_[i].prev = heads_[i].next = &heads_[i];
  }
  due_.prev = due_.next = &due_;
}

TimerWheel::~TimerWheel() = default;

uint64_t TimerWheel::SlotStart(int level, int slot) const {
  const int shift = level * kBitsPerLevel;
  const int above = shift + kBitsPerLevel;
  const uint64_t high = above >= 64 ? 0 : now_ & (~uint64_t{0} << above);
  return high | (static_cast<uint64_t>(slot) << shift);
}

void TimerWheel::Insert(TimerNode* node) {
  const uint64_t expiry = node->expiry;
  if (expiry <= now_) {
    LinkBack(&due_, node);
    return;
  }
  const int level = LevelOf(expiry, now_);
  const int slot = SlotOf(expiry, level);
  LinkBack(Head(level, slot), node);
  slot_bits_[level] |= uint64_t{1} << slot;
  level_bits_ |= uint32_t{1} << level;
}

void TimerWheel::Schedule(TimerNode* node, uint64_t expiry) {
  if (node->scheduled()) Cancel(node);
  node->expiry = expiry;
  Insert(node);
  ++size_;
}

void TimerWheel::Cancel(TimerNode* node) {
  if (!node->scheduled()) return;
  Unlink(node);
  --size_;
  const uint64_t expiry = node->expiry;
  // Where the node was is a function of its expiry and now_ (see the header):
  // the due list holds expiry <= now_, and every other timer sits at the level
  // of the highest digit in which its expiry differs from now_.
  if (expiry <= now_) return;
  const int level = LevelOf(expiry, now_);
  const int slot = SlotOf(expiry, level);
  TimerNode* head = Head(level, slot);
  if (head->next == head) {
    slot_bits_[level] &= ~(uint64_t{1} << slot);
    if (slot_bits_[level] == 0) level_bits_ &= ~(uint32_t{1} << level);
  }
}

void TimerWheel::Clear() {
  auto drop_all = [](TimerNode* head) {
    TimerNode* node = head->next;
    while (node != head) {
      TimerNode* next = node->next;
      node->prev = node->next = nullptr;
      node = next;
    }
    head->prev = head->next = head;
  };
  drop_all(&due_);
  for (int level = 0; level < kLevels; ++level) {
    for (uint64_t bits = slot_bits_[level]; bits != 0; bits &= bits - 1) {
      drop_all(Head(level, std::countr_zero(bits)));
    }
    slot_bits_[level] = 0;
  }
  level_bits_ = 0;
  size_ = 0;
}

std::optional<uint64_t> TimerWheel::NextExpiryBound() const {
  if (due_.next != &due_) return now_;
  if (level_bits_ == 0) return std::nullopt;
  const int level = std::countr_zero(level_bits_);
  return SlotStart(level, std::countr_zero(slot_bits_[level]));
}

bool TimerWheel::CollectDue(uint64_t target) {
  while (due_.next == &due_) {
    // The lowest non-empty level holds the earliest timers: every timer of level
    // k agrees with now_ in digit k+1 and above, where those of higher levels
    // are later. Within it, occupied slots are all later than now_'s digit.
    if (level_bits_ == 0) {
      now_ = target;
      return false;
    }
    const int level = std::countr_zero(level_bits_);
    const int slot = std::countr_zero(slot_bits_[level]);
    const uint64_t start = SlotStart(level, slot);
    if (start > target) {
      // Nothing fires by `target`, and every timer still agrees with `target`
      // above its level and is later in its digit, so the layout stays valid.
      now_ = target;
      return false;
    }
    now_ = start;
    ++counters_.slots_visited;
    slot_bits_[level] &= ~(uint64_t{1} << slot);
    if (slot_bits_[level] == 0) level_bits_ &= ~(uint32_t{1} << level);
    TimerNode* head = Head(level, slot);
    TimerNode* first = head->next;
    TimerNode* last = head->prev;
    head->prev = head->next = head;
    if (level == 0) {
      // Every timer of a level-0 slot expires exactly at its first tick: splice
      // the whole list onto the (empty) due list.
      first->prev = &due_;
      last->next = &due_;
      due_.next = first;
      due_.prev = last;
      return true;
    }
    // Cascade: relink each timer relative to the new now_. They all agree with
    // now_ in digit `level` and above, so each lands lower or on the due list.
    last->next = nullptr;
    for (TimerNode* node = first; node != nullptr;) {
      TimerNode* next = node->next;
      Insert(node);
      ++counters_.timers_cascaded;
      node = next;
    }
  }
  return true;
}

}  // namespace locus::store
