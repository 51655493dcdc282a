#include "parser/aor.h"

#include "parser/name_addr.h"
#include "parser/scan.h"

namespace locus::sip {
namespace {

class Writer {
 public:
  Writer(char* data, size_t capacity) : data_(data), capacity_(capacity) {}
  void Put(char c) {
    if (size_ < capacity_) {
      data_[size_] = c;
    } else {
      overflow_ = true;
    }
    ++size_;
  }
  void Put(std::string_view s) {
    for (char c : s) Put(c);
  }
  void PutLower(std::string_view s) {
    for (char c : s) Put(ToLower(c));
  }
  void PutUnescaped(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {  // escapes were validated by ParseUri
        Put(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
        i += 2;
      } else {
        Put(s[i]);
      }
    }
  }
  size_t size() const { return size_; }
  bool overflow() const { return overflow_; }

 private:
  char* data_;
  size_t capacity_;
  size_t size_ = 0;
  bool overflow_ = false;
};

}  // namespace

ParseError CanonicalizeAor(const Uri& uri, CanonicalAor* out) {
  out->size_ = 0;
  if (!uri.is_sip()) return HeaderError(HeaderId::kTo, "address-of-record is not a sip or sips URI");
  Writer w(out->data_, CanonicalAor::kCapacity);
  w.Put(uri.scheme == UriScheme::kSips ? "sips:" : "sip:");
  if (uri.has_user) {
    w.PutUnescaped(uri.user);  // escapes decoded (10.3 step 5)
    w.Put('@');
  }
  w.PutLower(uri.host);
  if (uri.has_port) {
    char digits[6];
    int n = 0;
    unsigned port = uri.port;
    do {
      digits[n++] = static_cast<char>('0' + port % 10);
      port /= 10;
    } while (port != 0);
    w.Put(':');
    while (n > 0) w.Put(digits[--n]);
  }
  if (w.overflow()) return HeaderError(HeaderId::kTo, "address-of-record is too long");
  out->size_ = w.size();
  return kParseOk;
}

ParseError AorOfTo(const Message& message, CanonicalAor* out) {
  const HeaderField* to = message.Find(HeaderId::kTo);
  if (to == nullptr) return MakeError(ErrorCode::kMissingHeader, "no To", HeaderId::kTo);
  NameAddr value;
  if (const ParseError error = ParseNameAddrUncheckedParams(to->value(), HeaderId::kTo, &value);
      !error.ok()) {
    return error;
  }
  return CanonicalizeAor(value.uri, out);
}

}  // namespace locus::sip
