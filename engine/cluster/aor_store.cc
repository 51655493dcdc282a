#include "engine/cluster/aor_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

#include "engine/text.h"
#include "store/journal_record.h"

namespace locus::engine::cluster {
namespace {

// Lua numbers are doubles: versions (microseconds since 1970, about 2^51
// today) stay exact below 2^53, and are written with %.0f, never tostring.
constexpr std::string_view kLibrary = R"lua(#!lua name=locus_v2
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function next_version(old, now)
  if now > old then return now end
  return old + 1
end

-- keys[1]: an AOR's key; args: expected version, record ('' = none left),
-- expiry of the last binding in ms since 1970, the committer's id, how long
-- in ms the committer holds the AOR's turn after a conflict (0: it asks for
-- none). Fields: v version, r record, t turn holder, tu turn's end (us).
local function cas(keys, args)
  local current = redis.call('HMGET', keys[1], 'v', 'r', 't', 'tu')
  local version = tonumber(current[1]) or 0
  local now = now_us()
  local turn_end = tonumber(current[4]) or 0
  if current[3] and current[3] ~= args[4] and turn_end > now then
    return {string.format('%.0f', version), current[2], math.floor((turn_end - now) / 1000) + 1}
  end
  if version ~= tonumber(args[1]) then
    local turn_ms = tonumber(args[5]) or 0
    if turn_ms > 0 then
      redis.call('HSET', keys[1], 't', args[4], 'tu', string.format('%.0f', now + turn_ms * 1000))
      if not current[1] then redis.call('PEXPIRE', keys[1], turn_ms) end
    end
    return {string.format('%.0f', version), current[2]}
  end
  if args[2] == '' then
    redis.call('DEL', keys[1])
    return 0
  end
  local new_version = next_version(version, now)
  redis.call('HSET', keys[1], 'v', string.format('%.0f', new_version), 'r', args[2])
  if current[3] then redis.call('HDEL', keys[1], 't', 'tu') end
  redis.call('PEXPIREAT', keys[1], args[3])
  return new_version
end

redis.register_function('locus_cas2', cas)
)lua";

bool ParseVersion(std::string_view text, uint64_t* version) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *version);
  return error == std::errc() && end == text.data() + text.size();
}

// Fills `out` from a version and a record, either of them a nil reply.
absl::Status DecodeState(const redisReply& version, const redisReply& record, store::AorKey aor,
                         StoredAor* out) {
  out->bindings.clear();
  if (version.type == REDIS_REPLY_NIL && record.type == REDIS_REPLY_NIL) {
    out->version = 0;
    return absl::OkStatus();
  }
  if (version.type != REDIS_REPLY_STRING || record.type != REDIS_REPLY_STRING ||
      !ParseVersion(std::string_view(version.str, version.len), &out->version) || out->version == 0) {
    return absl::DataLossError(Cat("Redis: malformed state of ", aor));
  }
  store::RecordReader reader(std::string_view(record.str, record.len));
  std::string stored_aor;
  if (!reader.Next(&stored_aor, &out->bindings) || stored_aor != aor ||
      reader.valid_bytes() != record.len) {
    return absl::DataLossError(Cat("Redis: corrupt record of ", aor));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view FunctionLibrary() { return kLibrary; }

void ReadCommand::Assign(store::AorKey aor) {
  key_.assign(kAorKeyPrefix).append(aor);
  args_ = {"HMGET", key_, "v", "r"};
}

void CasCommand::Assign(store::AorKey aor, uint64_t expected_version,
                        std::span<const store::Binding> bindings, std::string_view committer,
                        uint32_t turn_ms) {
  key_.assign(kAorKeyPrefix).append(aor);
  version_.clear();
  AppendUint(expected_version, &version_);
  record_.clear();
  uint32_t last_expiry = 0;
  if (!bindings.empty()) {
    store::AppendAorState(aor, bindings, &record_);
    for (const store::Binding& binding : bindings) last_expiry = std::max(last_expiry, binding.expires_at);
  }
  expiry_ms_.clear();
  AppendUint(uint64_t{last_expiry} * 1000, &expiry_ms_);
  committer_.assign(committer);
  turn_ms_.clear();
  AppendUint(turn_ms, &turn_ms_);
  args_ = {"FCALL", kCasFunctionName, "1", key_, version_, record_, expiry_ms_, committer_, turn_ms_};
}

absl::Status DecodeRead(const redisReply& reply, store::AorKey aor, StoredAor* out) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2) {
    return absl::DataLossError(Cat("Redis: unexpected reply reading ", aor));
  }
  return DecodeState(*reply.element[0], *reply.element[1], aor, out);
}

absl::StatusOr<CasOutcome> DecodeCas(const redisReply& reply, store::AorKey aor, StoredAor* out,
                                     uint32_t* turn_left_ms) {
  *turn_left_ms = 0;
  if (reply.type == REDIS_REPLY_INTEGER && reply.integer >= 0) {
    out->version = static_cast<uint64_t>(reply.integer);
    return CasOutcome::kCommitted;
  }
  if (reply.type == REDIS_REPLY_ARRAY && (reply.elements == 2 || reply.elements == 3)) {
    CasOutcome outcome = CasOutcome::kConflict;
    if (reply.elements == 3) {
      const redisReply& left = *reply.element[2];
      if (left.type != REDIS_REPLY_INTEGER || left.integer < 0) {
        return absl::DataLossError(Cat("Redis: unexpected reply committing ", aor));
      }
      outcome = CasOutcome::kTurnHeld;
      *turn_left_ms = static_cast<uint32_t>(std::min<long long>(left.integer, UINT32_MAX));
    }
    const redisReply& version = *reply.element[0];
    if (version.type == REDIS_REPLY_STRING && std::string_view(version.str, version.len) == "0" &&
        reply.element[1]->type == REDIS_REPLY_NIL) {
      out->version = 0;
      out->bindings.clear();
      return outcome;
    }
    absl::Status status = DecodeState(version, *reply.element[1], aor, out);
    if (!status.ok()) return status;
    return outcome;
  }
  if (reply.type == REDIS_REPLY_ERROR) {
    return absl::UnavailableError(Cat("Redis: ", std::string_view(reply.str, reply.len)));
  }
  return absl::DataLossError(Cat("Redis: unexpected reply committing ", aor));
}

}  // namespace locus::engine::cluster
