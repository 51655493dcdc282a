// Differential fuzzer: the live parser (parser/, namespace locus::sip)
// against the parser at an earlier git revision, extracted by
// tools/parser-diff-fuzz (refparser/, namespace locus::sipref). Both run on
// the same bytes; every observable result of the public API is recorded as a
// trace (trace.h) by the same code, battery.inc, compiled once per namespace.
// Any difference is printed (what, and both values) and the process traps.
// Not part of the CMake build: tools/parser-diff-fuzz builds and runs it.
//
// String views are compared as offset + size inside the fuzz input (both
// parsers see the same buffer); empty views only by being empty; text that
// does not point into the input (CanonicalAor, Describe, names) by value.
// PARSER_DIFF_DUMP (any value) in the environment prints the reference trace
// of every input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "parser/aor.h"
#include "parser/contact.h"
#include "parser/digest.h"
#include "parser/element_cursor.h"
#include "parser/error.h"
#include "parser/header_id.h"
#include "parser/message.h"
#include "parser/method.h"
#include "parser/name_addr.h"
#include "parser/params.h"
#include "parser/scalar_headers.h"
#include "parser/scan.h"
#include "parser/uri.h"
#include "parser/uri_compare.h"
#include "parser/validate.h"
#include "parser/via.h"

#include "refparser/aor.h"
#include "refparser/contact.h"
#include "refparser/digest.h"
#include "refparser/element_cursor.h"
#include "refparser/error.h"
#include "refparser/header_id.h"
#include "refparser/message.h"
#include "refparser/method.h"
#include "refparser/name_addr.h"
#include "refparser/params.h"
#include "refparser/scalar_headers.h"
#include "refparser/scan.h"
#include "refparser/uri.h"
#include "refparser/uri_compare.h"
#include "refparser/validate.h"
#include "refparser/via.h"

#include "trace.h"

namespace live_battery {
namespace P = ::locus::sip;
#include "battery.inc"
}  // namespace live_battery

namespace ref_battery {
namespace P = ::locus::sipref;
#include "battery.inc"
}  // namespace ref_battery

namespace {

parser_diff::Trace* live_trace = nullptr;
parser_diff::Trace* ref_trace = nullptr;
bool dump = false;  // PARSER_DIFF_DUMP set

void Dump(std::string_view input) {
  for (const parser_diff::Entry& e : ref_trace->entries()) {
    std::fprintf(stderr, "%s = %s\n", parser_diff::Label(e).c_str(), parser_diff::Value(e, input).c_str());
  }
  std::fprintf(stderr, "(%zu entries)\n", ref_trace->entries().size());
}

void Compare(std::string_view input) {
  const long at = parser_diff::FirstDifference(*live_trace, *ref_trace);
  if (at < 0) return;
  parser_diff::ReportDifference(*live_trace, *ref_trace, at, input);
  std::fflush(stderr);
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dump = std::getenv("PARSER_DIFF_DUMP") != nullptr;
  live_trace = new parser_diff::Trace;
  ref_trace = new parser_diff::Trace;
  live_trace->Reset(nullptr, 0);
  ref_trace->Reset(nullptr, 0);
  live_battery::RunStatic(*live_trace);
  ref_battery::RunStatic(*ref_trace);
  Compare("(static checks: tables, constants, names)");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  live_trace->Reset(bytes.data(), bytes.size());
  ref_trace->Reset(bytes.data(), bytes.size());
  live_battery::RunAll(*live_trace, bytes);
  ref_battery::RunAll(*ref_trace, bytes);
  if (dump) Dump(bytes);
  Compare(bytes);
  return 0;
}
