// SIP request methods (RFC 3261 section 7.1 and extensions). Method names are
// case-sensitive tokens.
#ifndef LOCUS_PARSER_METHOD_H_
#define LOCUS_PARSER_METHOD_H_

#include <cstdint>
#include <string_view>

namespace locus::sip {

enum class Method : uint8_t {
  kOther = 0,  // an extension method locus does not know
  kRegister,
  kInvite,
  kAck,
  kBye,
  kCancel,
  kOptions,
  kSubscribe,
  kNotify,
  kPublish,
  kMessage,
  kInfo,
  kPrack,
  kUpdate,
  kRefer,
};

// Exact, case-sensitive match; kOther for anything else.
Method LookupMethod(std::string_view name);
std::string_view MethodName(Method method);  // "" for kOther

}  // namespace locus::sip

#endif  // LOCUS_PARSER_METHOD_H_
