// locus-parse FILE...: parses each file as one SIP message (bytes exactly as
// in the file) and prints one JSON object per line with what locus makes of
// it. Exit status: 0 when every message is valid, 1 otherwise, 2 when a file
// cannot be read.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "tools/message_summary.h"

namespace {

void PrintFileKey(const std::string& path) {
  std::string escaped;
  for (char c : path) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  std::printf("{\"file\":\"%s\",", escaped.c_str());
}

}  // namespace

constexpr char kUsage[] =
    "Usage: locus-parse FILE...\n"
    "Parses each file as one SIP message (its bytes exactly as in the file, datagram\n"
    "framing) and prints one JSON object per line with what locus makes of it:\n"
    "valid, the error if any (error, error_code, error_header), and the key fields:\n"
    "method or status, Request-URI, To URI, canonical AOR, Call-ID, CSeq, top Via\n"
    "branch, each Contact with its URI, expires and q.\n"
    "\n"
    "Options:\n"
    "  --help       print this help and exit\n"
    "  --version    print the version and exit\n"
    "\n"
    "Exit status: 0 when every message is valid, 1 otherwise, 2 when a file cannot\n"
    "be read or on usage errors.\n";

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("locus-parse %s\n", LOCUS_VERSION);
    return 0;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: locus-parse FILE... (see locus-parse --help)\n");
    return 2;
  }
  int status = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "locus-parse: cannot read %s\n", argv[i]);
      status = 2;
      continue;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool valid = false;
    const std::string summary = locus::tools::SummarizeMessage(bytes, &valid);
    PrintFileKey(argv[i]);
    std::printf("%s\n", summary.c_str() + 1);  // merge after "file"
    if (!valid && status == 0) status = 1;
  }
  return status;
}
