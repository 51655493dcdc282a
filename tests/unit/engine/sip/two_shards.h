// Two shards' request handlers, each over its own binding table, as two
// shards of one locusd see them: for tests of what reaches an AOR's owner.
#ifndef LOCUS_TESTS_UNIT_ENGINE_SIP_TWO_SHARDS_H_
#define LOCUS_TESTS_UNIT_ENGINE_SIP_TWO_SHARDS_H_

#include <cstdint>
#include <string>

#include "engine/config.h"
#include "engine/counters.h"
#include "engine/endpoint.h"
#include "engine/sip/request_handler.h"
#include "parser/message.h"
#include "store/binding_table.h"

namespace locus::engine {

struct TwoShards {
  explicit TwoShards(uint64_t now)
      : table0(now),
        table1(now),
        shard0(config, 0, 2, 42, table0, c0),
        shard1(config, 1, 2, 42, table1, c1) {
    shard0.SetTime(now, 1);
    shard1.SetTime(now, 1);
    Endpoint::Parse("198.51.100.9:40000", &inbound.source);
  }

  // Handles `message` as received by shard 0, and by shard 1 when shard 0
  // hands it off (then `*handed_off` is set); `*owner` is the one that
  // answered.
  Disposition HandleAtOwner(const sip::Message& message, std::string* response,
                            RequestHandler** owner, bool* handed_off) {
    *owner = &shard0;
    *handed_off = false;
    Disposition d = shard0.Handle(message, inbound, false, response);
    if (d.kind != Disposition::Kind::kHandOff || d.owner != 1) return d;
    *owner = &shard1;
    *handed_off = true;
    return shard1.Handle(message, inbound, true, response);
  }

  Config config = Config::Defaults();
  store::BindingTable table0, table1;
  ShardCounters c0, c1;
  RequestHandler shard0, shard1;
  Inbound inbound;  // from 198.51.100.9:40000
};

}  // namespace locus::engine

#endif  // LOCUS_TESTS_UNIT_ENGINE_SIP_TWO_SHARDS_H_
