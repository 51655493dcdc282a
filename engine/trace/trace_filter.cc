#include "engine/trace/trace_filter.h"

#include <arpa/inet.h>

#include "engine/text.h"
#include "parser/aor.h"
#include "parser/uri.h"

namespace locus::engine {

absl::StatusOr<TraceFilter> TraceFilter::Make(std::string_view aor, std::string_view ip) {
  TraceFilter filter;
  if (!aor.empty()) {
    sip::Uri uri;
    sip::CanonicalAor canonical;
    if (!sip::ParseUri(aor, sip::HeaderId::kTo, &uri).ok() || !sip::CanonicalizeAor(uri, &canonical).ok()) {
      return absl::InvalidArgumentError(Cat("aor: not a sip or sips URI: ", aor));
    }
    filter.aor = std::string(canonical.view());
  }
  if (!ip.empty()) {
    std::string text(ip);
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    unsigned char bytes[16];
    char out[INET6_ADDRSTRLEN];
    const int family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (text.size() >= INET6_ADDRSTRLEN || inet_pton(family, text.c_str(), bytes) != 1 ||
        inet_ntop(family, bytes, out, sizeof(out)) == nullptr) {
      return absl::InvalidArgumentError(Cat("source: not an IPv4 or IPv6 address: ", ip));
    }
    filter.ip = out;
  }
  return filter;
}

std::string SerializeFilters(const std::vector<TraceFilter>& filters) {
  std::string out;
  for (const TraceFilter& f : filters) out.append(Cat(f.aor, "\t", f.ip, "\n"));
  return out;
}

bool ParseFilters(std::string_view text, std::vector<TraceFilter>* filters) {
  filters->clear();
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) return false;
    const std::string_view line = text.substr(0, end);
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos) return false;
    filters->push_back({std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
    text.remove_prefix(end + 1);
  }
  return true;
}

}  // namespace locus::engine
