#include "engine/transport/tcp.h"

#include "engine/log.h"
#include "engine/transport/sip_stream_framer.h"

namespace locus::engine {

size_t ConsumeSipStream(StreamConnections& connections, StreamConnection& c,
                        std::string_view all, StreamConnections::MessageSink sink) {
  size_t start = 0;
  while (start < all.size() && !c.closing) {
    const std::string_view data = all.substr(start);
    sip::Message message;
    const StreamFrame frame = NextStreamFrame(data, connections.max_message_size(), &message);
    switch (frame.kind) {
      case StreamFrame::Kind::kNeedMore:
        return start;
      case StreamFrame::Kind::kPing:
        connections.SendBytes(c, "\r\n");
        start += frame.size;
        break;
      case StreamFrame::Kind::kBlank:
        start += frame.size;
        break;
      case StreamFrame::Kind::kBroken:
        connections.counters().parse_errors.Add();
        Log(LogLevel::kDebug, "shard %d: closing stream connection from %s: %s", connections.shard(),
            c.peer.ToString(), sip::Describe(frame.error));
        connections.Close(c);
        return start;
      case StreamFrame::Kind::kMessage:
        sink(message, data.substr(0, frame.size), c);
        start += frame.size;
        break;
    }
  }
  return start;
}

}  // namespace locus::engine
