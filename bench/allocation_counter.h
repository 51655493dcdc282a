// Counts the heap allocations made by the calling thread, so a benchmark can
// report allocations per parse. See allocation_counter.cc for how malloc is
// intercepted.
#ifndef LOCUS_BENCH_ALLOCATION_COUNTER_H_
#define LOCUS_BENCH_ALLOCATION_COUNTER_H_

#include <cstdint>

namespace locus::bench {

// Calls to malloc, calloc and realloc made by this thread since it started,
// operator new included (it allocates through malloc). Only differences
// between two readings are meaningful.
uint64_t ThreadAllocationCount();

}  // namespace locus::bench

#endif  // LOCUS_BENCH_ALLOCATION_COUNTER_H_
