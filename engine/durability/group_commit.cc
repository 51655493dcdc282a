#include "engine/durability/group_commit.h"

namespace locus::engine {

GroupCommit::GroupCommit(DurabilityMode mode, uint64_t max_pending_bytes,
                         store::BindingTable& table, ShardCounters& counters)
    : table_(table), counters_(counters), mode_(mode), max_pending_bytes_(max_pending_bytes) {
  NewPending();
}

void GroupCommit::NewPending() {
  pending_ = NewBatch();
  pending_->id = ++group_ids_;
}

CommitBatch* GroupCommit::NewBatch() {
  if (free_.empty()) {
    batches_.push_back(std::make_unique<CommitBatch>());
    return batches_.back().get();
  }
  CommitBatch* batch = free_.back();
  free_.pop_back();
  return batch;
}

bool GroupCommit::Accepting() const {
  if (failing_ && mode_ == DurabilityMode::kAsync) return false;
  uint64_t bytes = pending_->records.size() + pending_->undo.size();
  if (inflight_ != nullptr) bytes += inflight_->records.size() + inflight_->undo.size();
  return bytes < max_pending_bytes_;
}

void GroupCommit::BeforeChange(store::AorKey aor) {
  if (mode_ == DurabilityMode::kSync) pending_->SaveUndo(table_, aor);
}

void GroupCommit::AfterChange(store::AorKey aor, const store::AorRecord* record) {
  CommitBatch::AppendState(aor, record, &pending_->records);
}

void GroupCommit::CountChanges(const store::BindingChanges& changes) {
  if (mode_ == DurabilityMode::kSync) {
    // Counted once durable (a failed group is undone, as if never applied).
    pending_->changes += changes;
  } else {
    counters_.CountBindings(changes);
  }
}

bool GroupCommit::MustHold() const {
  return mode_ == DurabilityMode::kSync && (inflight_ != nullptr || !pending_->records.empty());
}

void GroupCommit::Hold(const ResponseRoute& route, int status, std::string_view key,
                       std::string_view ok, std::string_view fail) {
  pending_->Hold(route, status, key, ok, fail);
}

CommitBatch* GroupCommit::BeginGroup() {
  inflight_ = pending_;
  NewPending();
  return inflight_;
}

void GroupCommit::ReleaseHeld() {
  decided_.emplace_back(pending_, true);
  NewPending();
}

void GroupCommit::GroupCommitted() {
  counters_.CountBindings(inflight_->changes);
  failing_ = false;
  decided_.emplace_back(inflight_, true);
  inflight_ = nullptr;
}

void GroupCommit::GroupFailed(uint32_t now_s) {
  failing_ = true;
  if (mode_ == DurabilityMode::kSync) {
    // Newest first: the pending group's changes were made on top of the
    // failed group's.
    pending_->Undo(table_, now_s);
    inflight_->Undo(table_, now_s);
    counters_.journal_undone.Add(inflight_->undo_offsets.size() + pending_->undo_offsets.size());
    decided_.emplace_back(inflight_, false);
    decided_.emplace_back(pending_, false);
    NewPending();
    inflight_ = nullptr;
    return;
  }
  // Async: the changes stand (their 200s left); the same bytes go first in
  // the next write.
  pending_->records.insert(0, inflight_->records);
  inflight_->Clear();
  free_.push_back(inflight_);
  inflight_ = nullptr;
}

bool GroupCommit::Undecided(uint64_t group) const {
  return (inflight_ != nullptr && inflight_->id <= group) ||
         (pending_->id <= group && !pending_->records.empty());
}

bool GroupCommit::Drained() const {
  return inflight_ == nullptr && pending_->empty() && decided_.empty();
}

void GroupCommit::TakeDecided(absl::FunctionRef<void(const HeldResponse&, std::string_view key,
                                                     std::string_view ok, std::string_view fail,
                                                     bool committed)>
                                  deliver) {
  for (auto& [batch, committed] : decided_) {
    for (const HeldResponse& h : batch->held) {
      deliver(h, batch->key(h), batch->ok(h), batch->fail(h), committed);
    }
    batch->Clear();
    free_.push_back(batch);
  }
  decided_.clear();
}

}  // namespace locus::engine
