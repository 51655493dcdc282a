// Allocation counting for glibc (written against 2.36), dynamically linked.
//
// libosip2 and sofia-sip are shared libraries; they (and libc itself, e.g. in
// strdup) call malloc through the dynamic linker. `-Wl,--wrap=malloc` only
// rewrites references resolved when this executable is linked, so it would
// miss every allocation those libraries make, and glibc removed
// __malloc_hook in 2.34. What glibc supports instead is replacing malloc by
// ELF symbol interposition: malloc, free, calloc and realloc defined in the
// executable are found before libc's by every shared object. The definitions
// below count, then forward to __libc_malloc and friends, the exported entry
// points of glibc's own allocator. The memalign family is not replaced: it
// still works (its blocks are freed by __libc_free) but is not counted; none
// of the parsers measured here uses it.
//
// operator new and delete are replaced as well, so C++ allocations are
// counted whatever libstdc++ does internally. They allocate through malloc
// and only malloc counts, so each `new` counts once.
#include "bench/allocation_counter.h"

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

// Static TLS of the executable itself: reaching it never allocates, so it is
// safe to touch inside malloc.
constinit thread_local uint64_t t_allocations = 0;

}  // namespace

extern "C" {

void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* block, size_t size);
void __libc_free(void* block);

void* malloc(size_t size) noexcept {
  ++t_allocations;
  return __libc_malloc(size);
}

void* calloc(size_t count, size_t size) noexcept {
  ++t_allocations;
  return __libc_calloc(count, size);
}

void* realloc(void* block, size_t size) noexcept {
  ++t_allocations;
  return __libc_realloc(block, size);
}

void free(void* block) noexcept { __libc_free(block); }

}  // extern "C"

void* operator new(std::size_t size) {
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}

void* operator new[](std::size_t size) { return ::operator new(size); }

void operator delete(void* block) noexcept { std::free(block); }
void operator delete[](void* block) noexcept { std::free(block); }
void operator delete(void* block, std::size_t) noexcept { std::free(block); }
void operator delete[](void* block, std::size_t) noexcept { std::free(block); }

namespace locus::bench {

uint64_t ThreadAllocationCount() { return t_allocations; }

}  // namespace locus::bench
