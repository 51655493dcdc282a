// The hash that assigns an AOR to its shard. Unlike absl::Hash, which is
// seeded per process, it gives the same value in every run and every build,
// so the AORs of a shard's durable files belong to the same shard after a
// restart with the same shard count (ARCHITECTURE sections 3 and 6).
#ifndef LOCUS_STORE_AOR_HASH_H_
#define LOCUS_STORE_AOR_HASH_H_

#include <cstdint>
#include <cstring>
#include <string_view>

namespace locus::store {

// 64-bit multiply-xorshift over 8-byte words; well mixed in every bit.
inline uint64_t StableAorHash(std::string_view key) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (key.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, key.data() + i, 8);
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, key.data() + i, key.size() - i);
  h = (h ^ tail) * kMul;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

// The shard, of `shard_count`, that owns a canonical AOR.
inline int OwnerShardOf(std::string_view canonical_aor, int shard_count) {
  if (shard_count <= 1) return 0;
  return static_cast<int>(StableAorHash(canonical_aor) % static_cast<uint64_t>(shard_count));
}

}  // namespace locus::store

#endif  // LOCUS_STORE_AOR_HASH_H_
