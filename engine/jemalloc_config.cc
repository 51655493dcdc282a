// jemalloc's configuration for locusd, read by jemalloc at start-up: the
// binding table is a large, randomly accessed heap, and 4 KiB pages make every
// lookup pay a TLB miss (docs/benchmarks.md: 4x slower lookups without THP).
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's contract.
const char* malloc_conf = "thp:always,metadata_thp:always";
}
