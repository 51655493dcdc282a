// How an AOR's state lives in Redis, and the commands that read and commit
// it. One key per canonical AOR, "locus:aor:<aor>", holding a hash of two
// fields: `v`, the version, and `r`, the AOR's record (the journal's
// AOR-state record, store/journal_record.h, CRC included). A missing key
// is an AOR without bindings, version 0.
//
// A commit is a compare-and-set run inside Redis by the function
// `locus_cas2` of the library `locus_v2` (loaded with FUNCTION LOAD REPLACE
// on every master a connection reaches; Redis replicates and persists
// functions): it writes the new record only when the stored version is the
// one the decision was made on, and answers the new version; otherwise it
// answers the stored version and record, so the caller can decide again
// without another round trip. A record with no bindings deletes the key;
// otherwise the key expires (PEXPIREAT) with its last binding.
//
// The AOR's turn: a committer that lost a race may ask, with its conflict,
// for the next commit (fields `t`, its id, and `tu`, the turn's end). Until
// it commits or the turn ends, other committers' compare-and-sets are
// refused as conflicts, so two nodes writing one AOR take turns instead of
// one of them losing every race. A committer that asks for no turn never
// holds one, and a turn lasts at most the milliseconds it asked for.
//
// Versions are never reused, even after the key was deleted or expired:
// each commit's version is the larger of the old one + 1 and the master's
// clock in microseconds. A cache that saw version N of an AOR can
// therefore never mistake a later state for the one it saw.
#ifndef LOCUS_ENGINE_CLUSTER_AOR_STORE_H_
#define LOCUS_ENGINE_CLUSTER_AOR_STORE_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/aor_record.h"
#include "store/binding.h"

struct redisReply;

namespace locus::engine::cluster {

inline constexpr std::string_view kAorKeyPrefix = "locus:aor:";
inline constexpr std::string_view kFunctionLibraryName = "locus_v2";
inline constexpr std::string_view kCasFunctionName = "locus_cas2";

// The Lua source given to FUNCTION LOAD REPLACE.
std::string_view FunctionLibrary();

// An AOR's state as Redis holds it.
struct StoredAor {
  uint64_t version = 0;  // 0: no key, no bindings
  std::vector<store::Binding> bindings;
};

// HMGET <key> v r. Assign() reuses the command's memory.
class ReadCommand {
 public:
  ReadCommand() = default;
  explicit ReadCommand(store::AorKey aor) { Assign(aor); }
  ReadCommand(const ReadCommand&) = delete;
  ReadCommand& operator=(const ReadCommand&) = delete;
  void Assign(store::AorKey aor);
  std::span<const std::string_view> args() const { return args_; }
  std::string_view key() const { return key_; }

 private:
  std::string key_;
  std::array<std::string_view, 4> args_;
};

// FCALL locus_cas2 1 <key> <expected version> <record or ""> <expiry, ms>
//   <committer id> <turn, ms>. Assign() reuses the command's memory.
class CasCommand {
 public:
  CasCommand() = default;
  // `bindings` empty: the AOR has none left (the key is deleted).
  // `committer`: who commits (the same id for all of one shard's commits);
  // `turn_ms` > 0: on a conflict, hold the AOR's next turn that long.
  CasCommand(store::AorKey aor, uint64_t expected_version, std::span<const store::Binding> bindings,
             std::string_view committer = "", uint32_t turn_ms = 0) {
    Assign(aor, expected_version, bindings, committer, turn_ms);
  }
  CasCommand(const CasCommand&) = delete;
  CasCommand& operator=(const CasCommand&) = delete;
  void Assign(store::AorKey aor, uint64_t expected_version, std::span<const store::Binding> bindings,
              std::string_view committer = "", uint32_t turn_ms = 0);
  std::span<const std::string_view> args() const { return args_; }
  std::string_view key() const { return key_; }

 private:
  std::string key_;
  std::string version_;
  std::string record_;
  std::string expiry_ms_;
  std::string committer_;
  std::string turn_ms_;
  std::array<std::string_view, 9> args_;
};

// The state in an HMGET reply. Fails on a malformed or corrupt value, or a
// record of another AOR.
absl::Status DecodeRead(const redisReply& reply, store::AorKey aor, StoredAor* out);

enum class CasOutcome : uint8_t {
  kCommitted,  // out->version is the new version (0: the key was deleted)
  kConflict,   // decided on a stale state: *out is the state in Redis
  kTurnHeld,   // another committer holds the AOR's turn for *turn_left_ms
               // more: *out is the state in Redis
};

// A locus_cas2 reply (bindings untouched when committed).
absl::StatusOr<CasOutcome> DecodeCas(const redisReply& reply, store::AorKey aor, StoredAor* out,
                                     uint32_t* turn_left_ms);

}  // namespace locus::engine::cluster

#endif  // LOCUS_ENGINE_CLUSTER_AOR_STORE_H_
