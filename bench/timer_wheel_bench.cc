// timer_wheel_bench: the costs of store/timer_wheel.h that the registrar pays.
//
//   BM_ScheduleCancel/N        arm one node at a random distance, then cancel it,
//                              with N other timers armed (items = pairs).
//   BM_ScheduleWithArmed/N     arm fresh nodes while N timers are armed (items =
//                              Schedule calls; the nodes are cancelled, untimed, in
//                              batches of 4096).
//   BM_RescheduleWithArmed/N   move an armed node to a new random expiry among N
//                              armed timers: a binding refresh (items = calls).
//   BM_AdvanceFire/H/L         Advance in one call over 1,000,000 timers spread over
//                              H ticks ahead; items = timers fired, and per_timer the
//                              cost of one expired timer, cascades included. L=0: the
//                              nodes' memory order is unrelated to their expiries, so
//                              every list step is a cache miss (the usual case for a
//                              large table). L=1: memory order follows expiry order,
//                              the floor set by the wheel's own work.
//   BM_AdvanceTickByTick/H     the L=0 timers fired by Advance(now + 1) per tick, as
//                              an event loop with a millisecond tick would.
//
// The callbacks only count: they do not touch the objects holding the nodes, so
// the misses measured here are the wheel's own; a real callback usually shares
// them (it reads the object anyway).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "store/timer_wheel.h"

namespace {

using locus::store::TimerNode;
using locus::store::TimerWheel;

constexpr uint64_t kStart = 1'700'000'000;

// Random distances below 2^bits, with bits itself uniform in [1, 32]: timers at
// every level, as a mix of transaction timers and binding expiries would be.
std::vector<uint64_t> RandomDistances(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> d(n);
  for (uint64_t& x : d) {
    const int bits = 1 + static_cast<int>(rng() % 32);
    x = 1 + (rng() & ((uint64_t{1} << bits) - 1));
  }
  return d;
}

void ArmBackground(TimerWheel& wheel, std::vector<TimerNode>& nodes) {
  const std::vector<uint64_t> d = RandomDistances(nodes.size(), 1);
  for (size_t i = 0; i < nodes.size(); ++i) wheel.Schedule(&nodes[i], wheel.now() + d[i]);
}

void BM_ScheduleCancel(benchmark::State& state) {
  TimerWheel wheel(kStart);
  std::vector<TimerNode> background(static_cast<size_t>(state.range(0)));
  ArmBackground(wheel, background);
  const std::vector<uint64_t> d = RandomDistances(4096, 2);
  TimerNode node;
  size_t i = 0;
  for (auto _ : state) {
    wheel.Schedule(&node, kStart + d[i++ & 4095]);
    wheel.Cancel(&node);
  }
  benchmark::DoNotOptimize(wheel.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScheduleCancel)->Arg(0)->Arg(1'000'000);

void BM_ScheduleWithArmed(benchmark::State& state) {
  constexpr size_t kBatch = 4096;
  TimerWheel wheel(kStart);
  std::vector<TimerNode> background(static_cast<size_t>(state.range(0)));
  ArmBackground(wheel, background);
  const std::vector<uint64_t> d = RandomDistances(kBatch, 3);
  std::vector<TimerNode> fresh(kBatch);
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) wheel.Schedule(&fresh[i], kStart + d[i]);
    state.PauseTiming();
    for (TimerNode& n : fresh) wheel.Cancel(&n);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_ScheduleWithArmed)->Arg(1'000'000);

void BM_RescheduleWithArmed(benchmark::State& state) {
  TimerWheel wheel(kStart);
  std::vector<TimerNode> armed(static_cast<size_t>(state.range(0)));
  ArmBackground(wheel, armed);
  const std::vector<uint64_t> d = RandomDistances(1 << 16, 4);
  std::mt19937_64 rng(5);
  std::vector<uint32_t> which(1 << 16);
  for (uint32_t& w : which) w = static_cast<uint32_t>(rng() % armed.size());
  size_t i = 0;
  for (auto _ : state) {
    wheel.Schedule(&armed[which[i & 0xFFFF]], kStart + d[i & 0xFFFF]);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RescheduleWithArmed)->Arg(1'000'000);

constexpr size_t kFireCount = 1'000'000;

// Random expiries within `horizon`; with `local`, nodes are assigned them in
// increasing order, so memory order follows firing order (the cache-friendly floor).
void ArmForFiring(TimerWheel& wheel, std::vector<TimerNode>& nodes, uint64_t horizon, bool local) {
  std::mt19937_64 rng(6);
  std::vector<uint64_t> expiry(nodes.size());
  for (uint64_t& e : expiry) e = kStart + 1 + rng() % horizon;
  if (local) std::sort(expiry.begin(), expiry.end());
  for (size_t i = 0; i < nodes.size(); ++i) wheel.Schedule(&nodes[i], expiry[i]);
}

void ReportPerTimer(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFireCount));
  // Seconds per timer, shown with an SI prefix (n = nanoseconds).
  state.counters["per_timer"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kFireCount),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_AdvanceFire(benchmark::State& state) {
  const uint64_t horizon = static_cast<uint64_t>(state.range(0));
  const bool local = state.range(1) != 0;
  std::vector<TimerNode> nodes(kFireCount);
  uint64_t cascaded = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TimerWheel wheel(kStart);
    ArmForFiring(wheel, nodes, horizon, local);
    state.ResumeTiming();
    size_t fired = 0;
    wheel.Advance(kStart + horizon, [&](TimerNode*) { ++fired; });
    benchmark::DoNotOptimize(fired);
    cascaded = wheel.counters().timers_cascaded;
  }
  ReportPerTimer(state);
  state.counters["cascades_per_timer"] = static_cast<double>(cascaded) / kFireCount;
}
BENCHMARK(BM_AdvanceFire)
    ->ArgNames({"horizon", "local"})
    ->ArgsProduct({{1 << 10, 1 << 20, int64_t{1} << 32}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

void BM_AdvanceTickByTick(benchmark::State& state) {
  const uint64_t horizon = static_cast<uint64_t>(state.range(0));
  std::vector<TimerNode> nodes(kFireCount);
  for (auto _ : state) {
    state.PauseTiming();
    TimerWheel wheel(kStart);
    ArmForFiring(wheel, nodes, horizon, false);
    state.ResumeTiming();
    size_t fired = 0;
    for (uint64_t t = kStart + 1; t <= kStart + horizon; ++t) {
      wheel.Advance(t, [&](TimerNode*) { ++fired; });
    }
    benchmark::DoNotOptimize(fired);
  }
  ReportPerTimer(state);
}
BENCHMARK(BM_AdvanceTickByTick)->Arg(1 << 20)->Arg(1 << 24)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
