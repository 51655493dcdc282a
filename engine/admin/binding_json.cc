#include "engine/admin/binding_json.h"

#include <arpa/inet.h>

#include "engine/text.h"

namespace locus::engine {
namespace {

std::string SourceText(const store::SourceAddress& source) {
  char ip[64] = "";
  if (source.family == 4) {
    inet_ntop(AF_INET, source.ip.data(), ip, sizeof(ip));
    return Cat(std::string_view(ip), ":", source.port);
  }
  if (source.family == 6) {
    inet_ntop(AF_INET6, source.ip.data(), ip, sizeof(ip));
    return Cat("[", std::string_view(ip), "]:", source.port);
  }
  return "";
}

}  // namespace

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  out->append(JsonEscape(text));
  out->push_back('"');
}

void AppendBindingJson(const store::AorRecord& record, const store::Binding& b, uint32_t now,
                       std::string* out) {
  out->append("{\"aor\":");
  AppendJsonString(record.key(), out);
  out->append(",\"contact\":");
  AppendJsonString(b.contact(), out);
  out->append(Cat(",\"expires\":", b.expires_at > now ? b.expires_at - now : 0u));
  if (b.has_q) {
    out->append(Cat(",\"q\":", b.q / 1000, ".", static_cast<char>('0' + b.q / 100 % 10),
                    static_cast<char>('0' + b.q / 10 % 10), static_cast<char>('0' + b.q % 10)));
  }
  out->append(",\"call_id\":");
  AppendJsonString(b.call_id(), out);
  out->append(Cat(",\"cseq\":", b.cseq, ",\"source\":"));
  AppendJsonString(SourceText(b.source), out);
  out->append(",\"transport\":");
  AppendJsonString(store::TransportName(b.transport), out);
  out->append(",\"user_agent\":");
  AppendJsonString(b.user_agent(), out);
  if (!b.instance().empty()) {
    out->append(",\"instance\":");
    AppendJsonString(b.instance(), out);
  }
  if (b.reg_id != 0) out->append(Cat(",\"reg_id\":", b.reg_id));
  if (!b.path().empty()) {
    out->append(",\"path\":");
    AppendJsonString(b.path(), out);
  }
  out->append(Cat(",\"registered_at\":", b.registered_at, ",\"refreshed_at\":", b.refreshed_at, "}"));
}

}  // namespace locus::engine
