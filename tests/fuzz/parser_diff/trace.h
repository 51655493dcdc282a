// Namespace-neutral record of everything one parser (live or reference)
// produced for one input. battery.inc fills one Trace per parser;
// parser_diff_fuzz.cc compares the two entry by entry and reports the first
// difference.
#ifndef LOCUS_TESTS_FUZZ_PARSER_DIFF_TRACE_H_
#define LOCUS_TESTS_FUZZ_PARSER_DIFF_TRACE_H_

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace parser_diff {

enum class Kind : uint8_t {
  kNumber,  // a: the value
  kEmpty,   // an empty string_view (its data() is not compared)
  kView,    // a non-empty view into the input buffer: a = offset, b = size
  kString,  // text not inside the input (owned, static, or elsewhere): s
  kCString, // static NUL-terminated text (error descriptions): c, compared by content
};

struct Entry {
  const char* scope;  // what is being run, e.g. "datagram", "input", "header-value"
  int scope_index;    // e.g. which stream message / header field, -1 if none
  const char* object; // e.g. "ParseVia", "core.to.uri"
  const char* field;  // e.g. "error.code", "host"
  int index;          // list position (element, param, contact), -1 if none
  Kind kind;
  int64_t a;
  int64_t b;
  const char* c;
  std::string s;
};

class Trace {
 public:
  void Reset(const char* base, size_t size) {
    base_ = reinterpret_cast<uintptr_t>(base);
    size_ = size;
    entries_.clear();
    scope_ = "";
    scope_index_ = -1;
  }

  void SetScope(const char* scope, int index = -1) {
    scope_ = scope;
    scope_index_ = index;
  }

  void Num(const char* object, const char* field, int64_t value, int index = -1) {
    Entry& e = Push(object, field, index);
    e.kind = Kind::kNumber;
    e.a = value;
  }

  void View(const char* object, const char* field, std::string_view v, int index = -1) {
    Entry& e = Push(object, field, index);
    if (v.empty()) {
      e.kind = Kind::kEmpty;
      return;
    }
    const uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
    if (p >= base_ && p - base_ <= size_ && v.size() <= size_ - (p - base_)) {
      e.kind = Kind::kView;
      e.a = static_cast<int64_t>(p - base_);
      e.b = static_cast<int64_t>(v.size());
    } else {
      e.kind = Kind::kString;
      e.s.assign(v.data(), v.size());
    }
  }

  // Static NUL-terminated text (it must outlive the trace): compared by content.
  void CStr(const char* object, const char* field, const char* text, int index = -1) {
    Entry& e = Push(object, field, index);
    e.kind = Kind::kCString;
    e.c = text;
  }

  // Owned or static text: compared by value, wherever it lives.
  void Str(const char* object, const char* field, std::string_view v, int index = -1) {
    Entry& e = Push(object, field, index);
    e.kind = Kind::kString;
    e.s.assign(v.data(), v.size());
  }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t input_size() const { return size_; }

 private:
  Entry& Push(const char* object, const char* field, int index) {
    Entry& e = entries_.emplace_back();
    e.scope = scope_;
    e.scope_index = scope_index_;
    e.object = object;
    e.field = field;
    e.index = index;
    e.a = e.b = 0;
    e.c = nullptr;
    return e;
  }

  uintptr_t base_ = 0;
  size_t size_ = 0;
  const char* scope_ = "";
  int scope_index_ = -1;
  std::vector<Entry> entries_;
};

inline bool SameEntry(const Entry& x, const Entry& y) {
  if (x.kind != y.kind) return false;
  switch (x.kind) {
    case Kind::kNumber: return x.a == y.a;
    case Kind::kEmpty: return true;
    case Kind::kView: return x.a == y.a && x.b == y.b;
    case Kind::kString: return x.s == y.s;
    case Kind::kCString:
      return x.c == y.c || (x.c != nullptr && y.c != nullptr && std::strcmp(x.c, y.c) == 0);
  }
  return false;
}

inline bool SameText(const char* a, const char* b) { return a == b || std::strcmp(a, b) == 0; }

inline bool SameLabel(const Entry& x, const Entry& y) {
  return x.scope_index == y.scope_index && x.index == y.index && SameText(x.scope, y.scope) &&
         SameText(x.object, y.object) && SameText(x.field, y.field);
}

inline std::string Printable(std::string_view s, size_t max = 200) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

inline std::string Label(const Entry& e) {
  std::string out = e.scope;
  if (e.scope_index >= 0) out += "#" + std::to_string(e.scope_index);
  out += " / ";
  out += e.object;
  out += ".";
  out += e.field;
  if (e.index >= 0) out += "[" + std::to_string(e.index) + "]";
  return out;
}

inline std::string Value(const Entry& e, std::string_view input) {
  switch (e.kind) {
    case Kind::kNumber: return std::to_string(e.a);
    case Kind::kEmpty: return "<empty view>";
    case Kind::kView:
      return "view@" + std::to_string(e.a) + "+" + std::to_string(e.b) + " \"" +
             Printable(input.substr(static_cast<size_t>(e.a), static_cast<size_t>(e.b))) + "\"";
    case Kind::kString: return "text \"" + Printable(e.s) + "\"";
    case Kind::kCString: return e.c == nullptr ? std::string("(null)") : "text \"" + Printable(e.c) + "\"";
  }
  return "?";
}

// Returns the index of the first differing entry, or -1 when the traces match.
inline long FirstDifference(const Trace& live, const Trace& ref) {
  const auto& x = live.entries();
  const auto& y = ref.entries();
  const size_t n = x.size() < y.size() ? x.size() : y.size();
  for (size_t i = 0; i < n; ++i) {
    if (!SameLabel(x[i], y[i]) || !SameEntry(x[i], y[i])) return static_cast<long>(i);
  }
  if (x.size() != y.size()) return static_cast<long>(n);
  return -1;
}

inline void ReportDifference(const Trace& live, const Trace& ref, long at, std::string_view input) {
  const auto& x = live.entries();
  const auto& y = ref.entries();
  std::fprintf(stderr, "\n==== DIFFERENTIAL MISMATCH (live parser vs reference revision) ====\n");
  std::fprintf(stderr, "input: %zu bytes: \"%s\"\n", input.size(), Printable(input, 300).c_str());
  const size_t i = static_cast<size_t>(at);
  if (i < x.size() && i < y.size()) {
    if (!SameLabel(x[i], y[i])) {
      std::fprintf(stderr, "control flow differs at entry %zu:\n  live: %s = %s\n  ref:  %s = %s\n", i,
                   Label(x[i]).c_str(), Value(x[i], input).c_str(), Label(y[i]).c_str(),
                   Value(y[i], input).c_str());
    } else {
      std::fprintf(stderr, "DIFF at %s\n  live: %s\n  ref:  %s\n", Label(x[i]).c_str(),
                   Value(x[i], input).c_str(), Value(y[i], input).c_str());
    }
  } else if (i < x.size()) {
    std::fprintf(stderr, "live produced more results; first extra: %s = %s\n", Label(x[i]).c_str(),
                 Value(x[i], input).c_str());
  } else {
    std::fprintf(stderr, "reference produced more results; first extra: %s = %s\n", Label(y[i]).c_str(),
                 Value(y[i], input).c_str());
  }
  // The text the differing call was given: the nearest battery input and
  // list element before it, within the same scope.
  const std::vector<Entry>& base = i < y.size() ? y : x;
  const size_t last = i < base.size() ? i : base.size() - 1;
  bool have_input = false;
  bool have_element = false;
  for (size_t k = last + 1; k-- > 0;) {
    const Entry& e = base[k];
    if (!SameText(e.scope, base[last].scope) || e.scope_index != base[last].scope_index) break;
    if (!have_element && k < i && std::strcmp(e.field, "element") == 0) {
      std::fprintf(stderr, "in list element: %s = %s\n", Label(e).c_str(), Value(e, input).c_str());
      have_element = true;
    }
    if (!have_input && std::strcmp(e.field, "battery input") == 0) {
      std::fprintf(stderr, "in battery input: %s = %s\n", Label(e).c_str(), Value(e, input).c_str());
      have_input = true;
      break;
    }
  }
  const size_t from = i >= 8 ? i - 8 : 0;
  std::fprintf(stderr, "context (equal entries before it, reference values):\n");
  for (size_t k = from; k < i && k < y.size(); ++k) {
    std::fprintf(stderr, "    %s = %s\n", Label(y[k]).c_str(), Value(y[k], input).c_str());
  }
  std::fprintf(stderr, "================================================================\n");
}

}  // namespace parser_diff

#endif  // LOCUS_TESTS_FUZZ_PARSER_DIFF_TRACE_H_
