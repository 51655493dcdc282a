// Direct, self-syncing writes of the journal: a file opened with O_DIRECT and
// written with RWF_DSYNC is durable when each write completes, without a
// separate fdatasync and without the page cache. On a file whose blocks are
// already written (the journal's zeroed tail) such a write is an overwrite:
// the device is asked to write and flush those blocks only, which costs a
// fraction of a buffered write + fdatasync (on this project's test VM about a
// third of the CPU and two thirds of the latency, see docs/durability.md).
//
// Direct writes must start and end on block boundaries and come from aligned
// memory: the writer keeps the file's last, partial block (kDirectBlock
// bytes at most) and writes it again, with the new records after it and
// zeros up to the next boundary. Rewriting acknowledged bytes with the same
// bytes is safe even when the write is torn: either version of each sector
// holds them.
#ifndef LOCUS_ENGINE_DURABILITY_DIRECT_WRITES_H_
#define LOCUS_ENGINE_DURABILITY_DIRECT_WRITES_H_

#include <cstddef>
#include <cstdint>

namespace locus::engine {

// The block that direct journal writes are aligned to (offset, length and
// memory); file systems whose direct I/O needs more do not get direct writes.
constexpr uint64_t kDirectBlock = 4096;

constexpr uint64_t AlignDown(uint64_t n) { return n & ~(kDirectBlock - 1); }
constexpr uint64_t AlignUp(uint64_t n) { return AlignDown(n + kDirectBlock - 1); }

// Switches `fd` to O_DIRECT when its file system supports direct I/O at
// kDirectBlock alignment (statx STATX_DIOALIGN); false leaves it buffered.
bool EnableDirectWrites(int fd);
// Switches `fd` back to buffered writes; false when fcntl fails.
bool DisableDirectWrites(int fd);

// A growable buffer aligned to kDirectBlock, for direct writes.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer();

  // At least `bytes` of capacity (contents not kept); false when out of memory.
  bool Reserve(size_t bytes);
  // Gives the memory back.
  void Release();
  char* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace locus::engine

#endif  // LOCUS_ENGINE_DURABILITY_DIRECT_WRITES_H_
