// libFuzzer target: every entry point of the parser on hostile bytes. Built
// with -fsanitize=fuzzer,address,undefined; any crash, out-of-bounds read,
// leak or undefined behaviour is a finding. Seeded with tests/data/messages.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parser/aor.h"
#include "parser/contact.h"
#include "parser/digest.h"
#include "parser/element_cursor.h"
#include "parser/message.h"
#include "parser/message_offsets.h"
#include "parser/uri_compare.h"
#include "parser/validate.h"

using namespace locus::sip;

namespace {

// The same view of `a` (over `a_bytes`) and `b` (over `b_bytes`): same
// offset, same size.
void CheckSameView(std::string_view a, std::string_view a_bytes, std::string_view b,
                   std::string_view b_bytes) {
  if (a.size() != b.size()) __builtin_trap();
  if (!a.empty() && a.data() - a_bytes.data() != b.data() - b_bytes.data()) __builtin_trap();
}

// Written as offsets and read back over a copy of the bytes, the message is
// the same, view for view.
void CheckOffsets(const Message& message, std::string_view bytes) {
  char record[kMaxMessageOffsetsSize];
  const size_t size = EncodeMessageOffsets(message, bytes, record);
  if (size == 0) return;  // over 65,535 bytes
  const std::string copy(bytes);
  Message back;
  if (!DecodeMessageOffsets({record, size}, copy, &back)) __builtin_trap();
  if (back.is_request() != message.is_request() || back.method() != message.method() ||
      back.status_code() != message.status_code() || back.consumed() != message.consumed() ||
      back.content_length() != message.content_length() || back.counts() != message.counts() ||
      back.headers().size() != message.headers().size()) {
    __builtin_trap();
  }
  CheckSameView(message.method_name(), bytes, back.method_name(), copy);
  CheckSameView(message.request_uri(), bytes, back.request_uri(), copy);
  CheckSameView(message.reason(), bytes, back.reason(), copy);
  CheckSameView(message.body(), bytes, back.body(), copy);
  for (size_t i = 0; i < message.headers().size(); ++i) {
    if (back.headers()[i].id != message.headers()[i].id) __builtin_trap();
    CheckSameView(message.headers()[i].name(), bytes, back.headers()[i].name(), copy);
    CheckSameView(message.headers()[i].value(), bytes, back.headers()[i].value(), copy);
  }
}

void ExerciseMessage(const Message& message) {
  CoreHeaders core;
  if (!ValidateMessage(message, &core).ok()) return;
  CanonicalAor aor;
  // A request goes to a shard by the AOR of its To before it is validated:
  // once validated, its AOR must be that one.
  CanonicalAor routed;
  const bool routable = AorOfTo(message, &routed).ok();
  if (CanonicalizeAor(core.to.uri, &aor).ok() != routable) __builtin_trap();
  if (routable && aor.view() != routed.view()) __builtin_trap();
  (void)UriEquals(core.to.uri, core.from.uri);
  HeaderElements contacts(message, HeaderId::kContact);
  std::string_view element;
  Contact previous;
  bool have_previous = false;
  while (contacts.Next(&element)) {
    Contact contact;
    if (!ParseContact(element, &contact).ok()) __builtin_trap();  // validated above
    if (have_previous && !contact.star && !previous.star) {
      (void)UriEquals(contact.address.uri, previous.address.uri);
    }
    previous = contact;
    have_previous = true;
  }
  if (const HeaderField* auth = message.Find(HeaderId::kAuthorization)) {
    DigestParams digest;
    (void)ParseDigest(auth->value(), HeaderId::kAuthorization, &digest);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Message message;
  ParseOptions datagram;
  if (ParseMessage(bytes, datagram, &message).ok()) {
    ExerciseMessage(message);
    CheckOffsets(message, bytes);
  }

  // Stream framing: parse message after message until the buffer runs out;
  // each step must consume bytes, so the loop always ends.
  ParseOptions stream;
  stream.stream = true;
  stream.max_message_size = 4096;
  std::string_view rest = bytes;
  while (!rest.empty()) {
    const ParseError e = ParseMessage(rest, stream, &message);
    if (e.ok()) {
      ExerciseMessage(message);
      CheckOffsets(message, rest);
    } else if (e.code != ErrorCode::kEmpty) {
      break;
    }
    if (message.consumed() == 0 || message.consumed() > rest.size()) __builtin_trap();
    rest.remove_prefix(message.consumed());
  }

  Uri uri;
  (void)ParseUri(bytes, HeaderId::kNone, &uri);
  return 0;
}
