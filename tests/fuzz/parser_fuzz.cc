// libFuzzer target: every entry point of the parser on hostile bytes. Built
// with -fsanitize=fuzzer,address,undefined; any crash, out-of-bounds read,
// leak or undefined behaviour is a finding. Seeded with tests/data/messages.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parser/aor.h"
#include "parser/contact.h"
#include "parser/digest.h"
#include "parser/element_cursor.h"
#include "parser/message.h"
#include "parser/uri_compare.h"
#include "parser/validate.h"

using namespace locus::sip;

namespace {

void ExerciseMessage(const Message& message) {
  CoreHeaders core;
  if (!ValidateMessage(message, &core).ok()) return;
  CanonicalAor aor;
  (void)CanonicalizeAor(core.to.uri, &aor);
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
  if (ParseMessage(bytes, datagram, &message).ok()) ExerciseMessage(message);

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
