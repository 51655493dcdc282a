#include "engine/sip/invite_transactions.h"

#include <algorithm>

namespace locus::engine {

struct InviteTransactions::Entry : store::TimerNode {
  std::string key;
  std::string response;
  Where where;
  bool reliable = false;
  uint64_t interval_ms = kT1Ms;  // Timer G's next interval
  uint64_t give_up_ms = 0;       // Timer H
};

InviteTransactions::InviteTransactions(size_t max_entries, size_t max_bytes, uint64_t now_ms)
    : max_entries_(max_entries), max_bytes_(max_bytes), wheel_(now_ms) {}

InviteTransactions::~InviteTransactions() { wheel_.Clear(); }

bool InviteTransactions::Insert(std::string_view key, std::string_view response, bool reliable,
                                const Where& where, uint64_t now_ms) {
  if (index_.contains(key)) return true;  // a retransmission raced its own answer
  const size_t size = key.size() + response.size();
  if (index_.size() >= max_entries_ || bytes_ + size > max_bytes_) {
    ++refused_;
    return false;
  }
  Entry* e;
  if (free_.empty()) {
    entries_.push_back(std::make_unique<Entry>());
    e = entries_.back().get();
  } else {
    e = free_.back();
    free_.pop_back();
  }
  e->key.assign(key);
  e->response.assign(response);
  e->where = where;
  e->reliable = reliable;
  e->interval_ms = kT1Ms;
  e->give_up_ms = now_ms + kTimerHMs;
  bytes_ += size;
  index_.emplace(e->key, e);
  // Timer G over UDP; over a stream only Timer H, to match ACK and CANCEL.
  wheel_.Schedule(e, reliable ? e->give_up_ms : now_ms + kT1Ms);
  return true;
}

bool InviteTransactions::Find(std::string_view key, std::string_view* response) const {
  const auto it = index_.find(key);
  if (it == index_.end()) return false;
  *response = it->second->response;
  return true;
}

bool InviteTransactions::Acknowledge(std::string_view key) {
  const auto it = index_.find(key);
  if (it == index_.end()) return false;
  Entry* e = it->second;
  wheel_.Cancel(e);
  Remove(e);
  return true;
}

void InviteTransactions::Remove(Entry* e) {
  index_.erase(std::string_view(e->key));
  bytes_ -= e->key.size() + e->response.size();
  free_.push_back(e);
}

void InviteTransactions::Advance(
    uint64_t now_ms, absl::FunctionRef<void(const Where&, std::string_view)> resend) {
  wheel_.Advance(now_ms, [&](store::TimerNode* node) {
    Entry* e = static_cast<Entry*>(node);
    if (now_ms >= e->give_up_ms) {
      Remove(e);  // Timer H: no ACK came
      return;
    }
    resend(e->where, e->response);  // Timer G
    e->interval_ms = std::min(e->interval_ms * 2, kT2Ms);
    wheel_.Schedule(e, std::min(now_ms + e->interval_ms, e->give_up_ms));
  });
}

}  // namespace locus::engine
