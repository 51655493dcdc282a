#include "engine/durability/direct_writes.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>

namespace locus::engine {

bool EnableDirectWrites(int fd) {
  struct statx info {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &info) != 0) return false;
  if ((info.stx_mask & STATX_DIOALIGN) == 0) return false;
  const uint32_t offset_align = info.stx_dio_offset_align;
  const uint32_t memory_align = info.stx_dio_mem_align;
  if (offset_align == 0 || memory_align == 0) return false;  // no direct I/O here
  if (kDirectBlock % offset_align != 0 || kDirectBlock % memory_align != 0) return false;
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
}

bool DisableDirectWrites(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_DIRECT) == 0;
}

AlignedBuffer::~AlignedBuffer() { Release(); }

bool AlignedBuffer::Reserve(size_t bytes) {
  if (bytes <= capacity_) return true;
  size_t capacity = capacity_ == 0 ? 64 * 1024 : capacity_;
  while (capacity < bytes) capacity *= 2;
  void* memory = nullptr;
  if (posix_memalign(&memory, kDirectBlock, capacity) != 0) return false;
  Release();
  data_ = static_cast<char*>(memory);
  capacity_ = capacity;
  return true;
}

void AlignedBuffer::Release() {
  free(data_);
  data_ = nullptr;
  capacity_ = 0;
}

}  // namespace locus::engine
