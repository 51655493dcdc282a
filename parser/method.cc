#include "parser/method.h"

#include <cstring>

namespace locus::sip {
namespace {

constexpr std::string_view kMethodNames[] = {
    "",          "REGISTER", "INVITE", "ACK",     "BYE",  "CANCEL", "OPTIONS", "SUBSCRIBE",
    "NOTIFY",    "PUBLISH",  "MESSAGE", "INFO",   "PRACK", "UPDATE", "REFER",
};

}  // namespace

Method LookupMethod(std::string_view name) {
  // REGISTER first, in one 8-byte comparison: nearly every request a
  // registrar sees is one.
  if (name.size() == 8 && std::memcmp(name.data(), "REGISTER", 8) == 0) return Method::kRegister;
  for (size_t i = 1; i < std::size(kMethodNames); ++i) {
    if (kMethodNames[i] == name) return static_cast<Method>(i);
  }
  return Method::kOther;
}

std::string_view MethodName(Method method) {
  const size_t i = static_cast<size_t>(method);
  return i < std::size(kMethodNames) ? kMethodNames[i] : std::string_view();
}

}  // namespace locus::sip
