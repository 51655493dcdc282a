#include "engine/transport/sip_stream_framer.h"

namespace locus::engine {

StreamFrame NextStreamFrame(std::string_view data, size_t max_message_size, sip::Message* message) {
  sip::ParseOptions options;
  options.max_message_size = max_message_size;
  options.stream = true;
  StreamFrame frame;
  frame.error = sip::ParseMessage(data, options, message);
  switch (frame.error.code) {
    case sip::ErrorCode::kNeedMore:
      frame.kind = StreamFrame::Kind::kNeedMore;
      return frame;
    case sip::ErrorCode::kEmpty: {
      size_t crlfs = 0;
      while (crlfs + 1 < data.size() && data[crlfs] == '\r' && data[crlfs + 1] == '\n') crlfs += 2;
      frame.size = crlfs;
      frame.kind = crlfs >= 4   ? StreamFrame::Kind::kPing
                   : crlfs == 0 ? StreamFrame::Kind::kNeedMore  // a lone CR: wait for its LF
                                : StreamFrame::Kind::kBlank;
      return frame;
    }
    default:
      break;
  }
  if (!frame.error.ok()) {
    frame.kind = StreamFrame::Kind::kBroken;
    return frame;
  }
  frame.kind = StreamFrame::Kind::kMessage;
  frame.size = message->consumed();
  return frame;
}

}  // namespace locus::engine
