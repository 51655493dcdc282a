// Redis Cluster's hash slots: which of the 16384 slots a key lives in
// (Redis Cluster specification, "Key distribution model"). The slot is
// CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key modulo
// 16384; when the key holds a hash tag -- a '{' followed later by a '}' with
// at least one byte between them -- only the bytes inside the first such
// pair are hashed. locus's own keys carry no tag, but the rule is applied
// exactly so that our slot always equals the server's CLUSTER KEYSLOT.
#ifndef LOCUS_ENGINE_CLUSTER_HASH_SLOT_H_
#define LOCUS_ENGINE_CLUSTER_HASH_SLOT_H_

#include <cstdint>
#include <string_view>

namespace locus::engine::cluster {

inline constexpr uint16_t kHashSlots = 16384;

// CRC16-CCITT (XMODEM) of `data`.
uint16_t Crc16Xmodem(std::string_view data);

// The slot of `key`, 0..16383.
uint16_t HashSlot(std::string_view key);

}  // namespace locus::engine::cluster

#endif  // LOCUS_ENGINE_CLUSTER_HASH_SLOT_H_
