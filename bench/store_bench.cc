// The store on one core with 1,000,000 AORs present: new registrations,
// refreshes, removals and lookups per second, expiry of 1,000,000 bindings,
// and resident memory per binding. Field sizes are those of a carrier's
// phones: E.164 users, IPv4 contacts with transport, a softphone User-Agent.
//
//   taskset -c 1 build/release/bench/store_bench
//
// Linked with jemalloc, the allocator of locusd, configured as locusd
// configures it, so that memory and speed are what the daemon will see.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "store/journal_record.h"
#include "store/registrar.h"

// jemalloc's configuration, as locusd sets it: transparent huge pages for the
// heap, so that random access across millions of records does not pay a TLB
// miss (a nested page walk on a VM) on top of each cache miss.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,metadata_thp:always";
}

namespace locus::store {
namespace {

constexpr uint32_t kNow = 1'800'000'000;
constexpr size_t kPresent = 1'000'000;  // AORs in the table
constexpr size_t kExtra = 1'000'000;    // AORs available for new registrations

size_t ResidentBytes() {
  long pages = 0;
  long resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * 4096;
}

struct Names {
  std::vector<std::string> aor;
  std::vector<std::string> contact;
  std::vector<std::string> call_id;
};

std::string Number(size_t i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%010zu", 4155550000 + i);
  return buf;
}

const Names& AllNames() {
  static const Names names = [] {
    Names n;
    const size_t total = kPresent + kExtra;
    n.aor.reserve(total);
    n.contact.reserve(total);
    n.call_id.reserve(total);
    for (size_t i = 0; i < total; ++i) {
      const std::string user = "+1" + Number(i);
      n.aor.push_back("sip:" + user + "@ims.example.com");
      n.contact.push_back("sip:" + user + "@198.51." + std::to_string(i % 250) + "." +
                          std::to_string(i % 200 + 2) + ":5060;transport=udp");
      n.call_id.push_back("a84b4c76e66710-" + std::to_string(i) + "@198.51.100.23");
    }
    return n;
  }();
  return names;
}

// Registers AOR i (one contact) with the given CSeq and expiry.
RegisterOutcome Register(BindingTable& table, RegistrarScratch& scratch, size_t i, uint32_t cseq,
                         uint32_t expires, uint32_t now = kNow) {
  const Names& n = AllNames();
  static const RegistrarPolicy policy;
  ContactSpec contact;
  contact.uri_text = n.contact[i];
  sip::ParseUri(contact.uri_text, sip::HeaderId::kContact, &contact.uri);
  contact.has_expires = true;
  contact.expires = expires;
  RegisterRequest request;
  request.aor = n.aor[i];
  request.call_id = n.call_id[i];
  request.cseq = cseq;
  request.contacts = {&contact, 1};
  request.user_agent = "Yealink SIP-T46U 108.86.0.45";
  request.source.family = 4;
  request.source.port = 5060;
  return ApplyRegister(table, request, now, policy, scratch);
}

// A table of 1,000,000 AORs of one binding each, built once. `reserve`
// sizes its hash table up front, as locusd does from its configuration.
struct Fixture {
  BindingTable table{kNow};
  RegistrarScratch scratch;
  size_t bytes_per_binding = 0;
  uint32_t cseq = 1;
  explicit Fixture(size_t reserve) {
    AllNames();
    const size_t before = ResidentBytes();
    table.Reserve(reserve);
    for (size_t i = 0; i < kPresent; ++i) Register(table, scratch, i, 1, 3600);
    bytes_per_binding = (ResidentBytes() - before) / kPresent;
  }
};

// For throughput: room for every AOR the benchmarks register.
Fixture& Shared() {
  static Fixture fixture(kPresent + kExtra);
  return fixture;
}

// Resident memory of exactly 1,000,000 AORs with one binding each, in a table
// that grew on demand (no reservation): hash table, records, bindings, timers.
void BM_MemoryPerBinding(benchmark::State& state) {
  static Fixture grown(0);
  for (auto _ : state) benchmark::DoNotOptimize(grown.table.binding_count());
  state.counters["bindings"] = static_cast<double>(grown.table.binding_count());
  state.counters["resident_bytes_per_binding"] = static_cast<double>(grown.bytes_per_binding);
}
BENCHMARK(BM_MemoryPerBinding)->Iterations(1);

void BM_RefreshExisting(benchmark::State& state) {
  Fixture& f = Shared();
  // Names are walked in order (so the harness itself does not miss the
  // cache); the table's hash order is unrelated, so its accesses are random.
  size_t i = 0;
  for (auto _ : state) {
    const RegisterOutcome out = Register(f.table, f.scratch, i, ++f.cseq, 3600);
    i = i + 1 == kPresent ? 0 : i + 1;
    benchmark::DoNotOptimize(out.record);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RefreshExisting);

// As a receive loop sees them: batches of 16 requests, the hash slots of
// each batch prefetched while the previous batch is applied. `op(i)` applies
// the request for AOR i; AORs first..first+count are walked once.
template <typename Op>
void RunBatched(benchmark::State& state, size_t first, size_t count, Op op) {
  constexpr size_t kBatch = 16;
  const Names& n = AllNames();
  BindingTable& table = Shared().table;
  size_t i = 0;
  for (size_t k = 0; k < kBatch; ++k) table.Prefetch(n.aor[first + k]);
  for (auto _ : state) {
    const size_t next = i + kBatch < count ? i + kBatch : 0;
    for (size_t k = 0; k < kBatch && next + k < count; ++k) table.Prefetch(n.aor[first + next + k]);
    for (size_t k = 0; k < kBatch && i + k < count; ++k) op(first + i + k);
    i = next;
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_RefreshBatchedWithPrefetch(benchmark::State& state) {
  Fixture& f = Shared();
  RunBatched(state, 0, kPresent, [&](size_t i) {
    benchmark::DoNotOptimize(Register(f.table, f.scratch, i, ++f.cseq, 3600).record);
  });
}
BENCHMARK(BM_RefreshBatchedWithPrefetch);

void BM_LookupExisting(benchmark::State& state) {
  Fixture& f = Shared();
  const Names& n = AllNames();
  const Binding* found[8];
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(LookupBindings(f.table, n.aor[i], kNow, found));
    i = i + 1 == kPresent ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupExisting);

// New AORs, then removal of the same AORs (expires=0): the table returns to
// 1,000,000 AORs after each pair of runs.
void BM_NewRegistration(benchmark::State& state) {
  Fixture& f = Shared();
  size_t i = kPresent;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Register(f.table, f.scratch, i++, 1, 3600).record);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["aors_after"] = static_cast<double>(f.table.aor_count());
}
BENCHMARK(BM_NewRegistration)->Iterations(kExtra);

void BM_RemoveBinding(benchmark::State& state) {
  Fixture& f = Shared();
  size_t i = kPresent;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Register(f.table, f.scratch, i++, 2, 0).status);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["aors_after"] = static_cast<double>(f.table.aor_count());
}
BENCHMARK(BM_RemoveBinding)->Iterations(kExtra);

// The same two operations in prefetched batches of 16, on the next 1,000,000
// AORs (AORs kPresent..kPresent+kExtra are free again after BM_RemoveBinding).
void BM_NewRegistrationBatchedWithPrefetch(benchmark::State& state) {
  Fixture& f = Shared();
  RunBatched(state, kPresent, kExtra, [&](size_t i) {
    benchmark::DoNotOptimize(Register(f.table, f.scratch, i, 1, 3600).record);
  });
  state.counters["aors_after"] = static_cast<double>(f.table.aor_count());
}
BENCHMARK(BM_NewRegistrationBatchedWithPrefetch)->Iterations(kExtra / 16);

void BM_RemoveBindingBatchedWithPrefetch(benchmark::State& state) {
  Fixture& f = Shared();
  RunBatched(state, kPresent, kExtra, [&](size_t i) {
    benchmark::DoNotOptimize(Register(f.table, f.scratch, i, 2, 0).status);
  });
  state.counters["aors_after"] = static_cast<double>(f.table.aor_count());
}
BENCHMARK(BM_RemoveBindingBatchedWithPrefetch)->Iterations(kExtra / 16);

// Expiry of 1,000,000 bindings that lapse in the same second, on their own
// table: the time is that of one Expire() call.
void BM_Expire1M(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto table = std::make_unique<BindingTable>(kNow);
    RegistrarScratch scratch;
    for (size_t i = 0; i < kPresent; ++i) Register(*table, scratch, i, 1, 600);
    size_t expired = 0;
    state.ResumeTiming();
    table->Expire(kNow + 600, [&](const AorRecord&, const Binding&) { ++expired; });
    state.PauseTiming();
    if (expired != kPresent || table->aor_count() != 0) state.SkipWithError("not all expired");
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kPresent);
}
BENCHMARK(BM_Expire1M)->Iterations(3)->Unit(benchmark::kMillisecond);

// The pause a snapshot costs the shard (durability, admin dump): the record
// pointers of a 1,000,000-AOR table, one pass over its hash slots.
void BM_BeginSnapshot1M(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    std::vector<const AorRecord*> records = f.table.BeginSnapshot();
    benchmark::DoNotOptimize(records.data());
    f.table.EndSnapshot();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(f.table.aor_count()));
}
BENCHMARK(BM_BeginSnapshot1M)->Unit(benchmark::kMillisecond);

// Writing a snapshot: every AOR's state record, in the table's hash order
// (as the journal walks it, 512 KiB per loop turn), with the prefetching the
// journal does. Items: AORs serialized.
void BM_SnapshotRecords1M(benchmark::State& state) {
  Fixture& f = Shared();
  const std::vector<const AorRecord*> records = f.table.BeginSnapshot();
  std::string out;
  out.reserve(1 << 20);
  size_t i = 0;
  for (auto _ : state) {
    if (i + 8 < records.size()) __builtin_prefetch(records[i + 8]);
    if (i + 4 < records.size()) records[i + 4]->bindings()[0].Prefetch();
    const AorRecord* r = records[i];
    AppendAorState(r->key(), {r->bindings().data(), r->bindings().size()}, &out);
    if (out.size() >= (512 << 10)) out.clear();
    i = i + 1 == records.size() ? 0 : i + 1;
  }
  f.table.EndSnapshot();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnapshotRecords1M);

// Start-up: replaying AOR-state records into an empty table (what a restart
// does per record, after reading the file): decode, CRC, insert, arm timer.
void BM_ReplayRecords(benchmark::State& state) {
  const Names& n = AllNames();
  constexpr size_t kRecords = 100000;
  std::string data;
  for (size_t i = 0; i < kRecords; ++i) {
    Binding b;
    b.AssignText({n.contact[i], n.call_id[i], "Yealink SIP-T46U 108.86.0.45", "", ""});
    b.cseq = 1;
    b.expires_at = kNow + 3600;
    AppendAorState(n.aor[i], {&b, 1}, &data);
  }
  std::string aor;
  std::vector<Binding> bindings;
  for (auto _ : state) {
    state.PauseTiming();
    auto table = std::make_unique<BindingTable>(kNow);
    table->Reserve(kRecords);
    state.ResumeTiming();
    RecordReader reader(data);
    while (reader.Next(&aor, &bindings)) ApplyAorState(*table, aor, std::move(bindings), kNow);
    state.PauseTiming();
    if (table->aor_count() != kRecords) state.SkipWithError("not all replayed");
    table.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
}
BENCHMARK(BM_ReplayRecords)->Unit(benchmark::kMillisecond);

// The worst single REGISTER while a table that was not reserved grows from
// empty to 2,000,000 AORs: the growth pause a request can meet.
void BM_WorstRegisterWhileGrowing(benchmark::State& state) {
  AllNames();
  for (auto _ : state) {
    auto table = std::make_unique<BindingTable>(kNow);
    RegistrarScratch scratch;
    uint64_t worst_ns = 0;
    for (size_t i = 0; i < kPresent + kExtra; ++i) {
      const auto start = std::chrono::steady_clock::now();
      Register(*table, scratch, i, 1, 3600);
      const auto took = std::chrono::steady_clock::now() - start;
      worst_ns = std::max<uint64_t>(worst_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
    }
    state.counters["worst_register_us"] = static_cast<double>(worst_ns) / 1000;
  }
}
BENCHMARK(BM_WorstRegisterWhileGrowing)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace locus::store


BENCHMARK_MAIN();
