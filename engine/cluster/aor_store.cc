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
constexpr std::string_view kLibrary = R"lua(#!lua name=locus_v1
local function next_version(old)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if now > old then return now end
  return old + 1
end

-- keys[1]: an AOR's key; args: expected version, record ('' = none left),
-- expiry of the last binding in ms since 1970.
local function cas(keys, args)
  local current = redis.call('HMGET', keys[1], 'v', 'r')
  local version = tonumber(current[1]) or 0
  if version ~= tonumber(args[1]) then
    return {string.format('%.0f', version), current[2]}
  end
  if args[2] == '' then
    redis.call('DEL', keys[1])
    return 0
  end
  local new_version = next_version(version)
  redis.call('HSET', keys[1], 'v', string.format('%.0f', new_version), 'r', args[2])
  redis.call('PEXPIREAT', keys[1], args[3])
  return new_version
end

redis.register_function('locus_cas', cas)
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
                        std::span<const store::Binding> bindings) {
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
  args_ = {"FCALL", "locus_cas", "1", key_, version_, record_, expiry_ms_};
}

absl::Status DecodeRead(const redisReply& reply, store::AorKey aor, StoredAor* out) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2) {
    return absl::DataLossError(Cat("Redis: unexpected reply reading ", aor));
  }
  return DecodeState(*reply.element[0], *reply.element[1], aor, out);
}

absl::StatusOr<bool> DecodeCas(const redisReply& reply, store::AorKey aor, StoredAor* out) {
  if (reply.type == REDIS_REPLY_INTEGER && reply.integer >= 0) {
    out->version = static_cast<uint64_t>(reply.integer);
    return true;
  }
  if (reply.type == REDIS_REPLY_ARRAY && reply.elements == 2) {
    const redisReply& version = *reply.element[0];
    if (version.type == REDIS_REPLY_STRING && std::string_view(version.str, version.len) == "0" &&
        reply.element[1]->type == REDIS_REPLY_NIL) {
      out->version = 0;
      out->bindings.clear();
      return false;
    }
    absl::Status status = DecodeState(version, *reply.element[1], aor, out);
    if (!status.ok()) return status;
    return false;
  }
  if (reply.type == REDIS_REPLY_ERROR) {
    return absl::UnavailableError(Cat("Redis: ", std::string_view(reply.str, reply.len)));
  }
  return absl::DataLossError(Cat("Redis: unexpected reply committing ", aor));
}

}  // namespace locus::engine::cluster
