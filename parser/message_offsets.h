// A parsed Message written as offsets into the bytes it was parsed from, so
// that the parse survives a copy of those bytes: a shard that hands a request
// to the shard owning its AOR (ARCHITECTURE section 3) sends this record with
// the bytes, and the owner reads the Message back instead of parsing again.
// The record is for the process itself (host byte order, no version): it never
// goes on the network or on disk. Neither function allocates.
#ifndef LOCUS_PARSER_MESSAGE_OFFSETS_H_
#define LOCUS_PARSER_MESSAGE_OFFSETS_H_

#include <cstddef>
#include <span>
#include <string_view>

#include "parser/message.h"

namespace locus::sip {

// The largest record: a fixed part and 10 bytes per header field.
inline constexpr size_t kMaxMessageOffsetsSize = 40 + 10 * Message::kMaxHeaders;

// Writes the record of `message`, parsed from `bytes`, into `out`; returns
// its size, or 0 when it cannot be written: `bytes` longer than 65,535 (the
// offsets are 16 bits), `out` too small, or a view of `message` outside
// `bytes`.
size_t EncodeMessageOffsets(const Message& message, std::string_view bytes, std::span<char> out);

// Reads a record back as a Message whose views point into `bytes`, a copy of
// the bytes it was made from. False, and *out unspecified, when `record` is
// not one for `bytes`: a view past their end, too many fields, an unknown
// header id, a size that does not match.
bool DecodeMessageOffsets(std::string_view record, std::string_view bytes, Message* out);

}  // namespace locus::sip

#endif  // LOCUS_PARSER_MESSAGE_OFFSETS_H_
