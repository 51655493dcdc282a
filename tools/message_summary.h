// What locus makes of one captured message, as one JSON object: the verdict
// and the key fields (method or status, Request-URI, To URI, canonical AOR,
// Call-ID, CSeq, top Via branch, every Contact with expires and q). Shared by
// the locus-parse tool and the corpus test, so both say the same thing.
#ifndef LOCUS_TOOLS_MESSAGE_SUMMARY_H_
#define LOCUS_TOOLS_MESSAGE_SUMMARY_H_

#include <string>
#include <string_view>

namespace locus::tools {

// Parses `bytes` as one datagram-framed message (the size limit is the
// parser's default) and returns the JSON object, without a trailing newline.
// *valid tells whether the message parsed and validated.
std::string SummarizeMessage(std::string_view bytes, bool* valid);

}  // namespace locus::tools

#endif  // LOCUS_TOOLS_MESSAGE_SUMMARY_H_
