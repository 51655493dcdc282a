#include "engine/admin/shard_admin.h"

#include <unistd.h>

#include <cstring>
#include <memory>

#include "engine/admin/binding_json.h"
#include "engine/text.h"
#include "parser/uri.h"
#include "parser/uri_compare.h"

namespace locus::engine {

void ShardAdmin::Connect(SpscRing* in, SpscRing* out, int notify_fd, int wake_fd) {
  in_ = in;
  out_ = out;
  notify_fd_ = notify_fd;
  wake_fd_ = wake_fd;
}

void ShardAdmin::Reply(const AdminHeader& header, std::string_view payload) {
  // The admin thread drains its rings continuously; a full ring means it is
  // gone or stuck, and the answer is dropped (it times the request out).
  if (out_->TryPush(HeaderBytes(header), payload)) replied_ = true;
}

void ShardAdmin::ReplyRemove(uint64_t id, bool committed, uint32_t count, std::string_view ok,
                             std::string_view fail) {
  Reply({id, AdminHeader::kRemove, true, committed ? count : 0}, committed ? ok : fail);
}

void ShardAdmin::ReplyError(const AdminHeader& header, std::string_view error) {
  text_.assign("{\"error\":");
  AppendJsonString(error, &text_);
  text_.push_back('}');
  Reply({header.id, header.op, true, 0}, text_);
}

void ShardAdmin::Notify() {
  if (!replied_) return;
  replied_ = false;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(notify_fd_, &one, sizeof(one));
}

void ShardAdmin::Drain(uint32_t now_s) {
  if (in_ == nullptr) return;
  std::string_view record;
  for (int n = 0; n < 64 && in_->Peek(&record); ++n) {
    const AdminHeader header = ReadAdminHeader(record);
    const std::string_view payload = record.substr(sizeof(AdminHeader));
    switch (header.op) {
      case AdminHeader::kLookup:
        if (cluster_mode_) {
          cluster_requests_.emplace_back(header, std::string(payload));
        } else {
          Lookup(header, payload, now_s);
        }
        break;
      case AdminHeader::kRemove:
        if (cluster_mode_) {
          cluster_requests_.emplace_back(header, std::string(payload));
        } else {
          Remove(header, payload);
        }
        break;
      case AdminHeader::kDump:
        Dump(header, payload, now_s);
        break;
      case AdminHeader::kDumpCancel:
        if (dumps_.erase(header.id) > 0) table_.EndSnapshot();
        break;
      case AdminHeader::kSnapshot:
        if (journal_ != nullptr) journal_->RequestSnapshot();
        break;
      case AdminHeader::kSetTls:
        if (auto tls = TakeShared<TlsContext>(payload); tls != nullptr && streams_ != nullptr) {
          streams_->SetTlsContext(std::move(tls));
        }
        break;
      case AdminHeader::kTraceFilters:
        if (tap_ != nullptr) tap_->SetFilters(payload);
        break;
      case AdminHeader::kSetUsers:
        if (auto users = TakeShared<UserDb>(payload); users != nullptr && auth_ != nullptr) {
          auth_->SetUsers(std::move(users));
        }
        break;
    }
    in_->Pop();
  }
  Notify();
}

void ShardAdmin::Lookup(const AdminHeader& header, std::string_view aor, uint32_t now_s) {
  AdminHeader reply{header.id, header.op, true, 0};
  text_.assign("{\"aor\":");
  AppendJsonString(aor, &text_);
  text_.append(",\"bindings\":[");
  if (const store::AorRecord* record = table_.Find(aor)) {
    for (const store::Binding& b : record->bindings()) {
      if (b.expires_at <= now_s) continue;
      if (reply.count++ > 0) text_.push_back(',');
      AppendBindingJson(*record, b, now_s, &text_);
    }
  }
  text_.append("]}");
  Reply(reply, text_);
}

void ShardAdmin::TakeClusterRequests(
    absl::FunctionRef<void(const AdminHeader&, std::string_view payload)> take) {
  for (const auto& [header, payload] : cluster_requests_) take(header, payload);
  cluster_requests_.clear();
}

uint32_t ShardAdmin::RemoveBindings(std::string_view aor, std::string_view contact) {
  store::AorRecord* record = table_.FindMutable(aor);
  if (record == nullptr) return 0;
  if (contact.empty()) {
    const uint32_t count = static_cast<uint32_t>(record->bindings().size());
    table_.RemoveAor(aor);
    return count;
  }
  uint32_t count = 0;
  sip::Uri wanted;
  const bool parsed = sip::ParseUri(contact, sip::HeaderId::kContact, &wanted).ok();
  const auto& bindings = record->bindings();
  for (size_t i = bindings.size(); i-- > 0;) {
    sip::Uri stored;
    const bool match =
        bindings[i].contact() == contact ||
        (parsed && sip::ParseUri(bindings[i].contact(), sip::HeaderId::kContact, &stored).ok() &&
         sip::UriEquals(stored, wanted));
    if (match) {
      table_.RemoveBinding(record, i);
      ++count;
    }
  }
  if (count > 0) table_.Rearm(record);
  return count;
}

void ShardAdmin::Remove(const AdminHeader& header, std::string_view payload) {
  const std::string_view aor = RemoveAorOf(payload);
  AdminHeader reply{header.id, header.op, true, 0};
  if (journal_ != nullptr && !journal_->Accepting()) {
    Reply(reply, "{\"error\":\"the journal cannot take changes now; try again\"}");
    return;
  }
  if (journal_ != nullptr) journal_->BeforeChange(aor);
  reply.count = RemoveBindings(aor, RemoveContactOf(payload));
  const std::string removed = Cat("{\"removed\":", reply.count, "}");
  if (journal_ == nullptr) {
    counters_.CountBindings({.removed = reply.count});
    Reply(reply, removed);
    return;
  }
  // Journaled like a REGISTER, and in sync mode answered like one: once the
  // group is durable (or, when it failed and was undone, with an error).
  journal_->AfterChange(aor, table_.Find(aor));
  journal_->CountChanges({.removed = reply.count});
  if (journal_->MustHold()) {
    ResponseRoute route;
    route.admin = true;
    route.admin_id = header.id;
    route.admin_count = reply.count;
    journal_->Hold(route, 200, {}, removed,
                   "{\"error\":\"the journal write failed: nothing removed; try again\"}");
    return;
  }
  Reply(reply, removed);
}

void ShardAdmin::Dump(const AdminHeader& header, std::string_view filter, uint32_t now_s) {
  // A chunk per request, so the shard never stalls: the snapshot is taken on
  // the first request, then walked 1,000 bindings (or 256 KiB) at a time.
  constexpr uint32_t kChunkBindings = 1000;
  constexpr size_t kChunkBytes = 256 << 10;
  auto [it, created] = dumps_.try_emplace(header.id);
  DumpState& dump = it->second;
  if (created) dump.records = table_.BeginSnapshot();
  AdminHeader reply{header.id, header.op, false, 0};
  text_.clear();
  while (dump.next < dump.records.size() && reply.count < kChunkBindings &&
         text_.size() < kChunkBytes) {
    const store::AorRecord* record = dump.records[dump.next++];
    if (record->erased() || !DumpFilterMatches(filter, record->key())) continue;
    for (const store::Binding& b : record->bindings()) {
      if (b.expires_at <= now_s) continue;
      AppendBindingJson(*record, b, now_s, &text_);
      text_.push_back('\n');
      ++reply.count;
    }
  }
  if (dump.next >= dump.records.size()) {
    reply.done = true;
    dumps_.erase(it);
    table_.EndSnapshot();
  }
  Reply(reply, text_);
}

}  // namespace locus::engine
