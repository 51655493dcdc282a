// What parsing costs a REGISTER handed from the shard that received it to the
// shard that owns its AOR (docs/architecture.md, "Hand-off"), step by step, on
// one core. The receiving shard parses and reads only the To to route (AorOfTo)
// instead of validating; it writes its parse as offsets (Encode), and the
// owner reads them back (Decode) instead of parsing again. The steps that
// were done before, twice per handed-off REGISTER, are here too: ParseMessage,
// and ValidateMessage with the AOR of the validated To.
//   taskset -c 1 build/release/bench/handoff_bench
#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <string_view>

#include "parser/aor.h"
#include "parser/contact.h"
#include "parser/message.h"
#include "parser/message_offsets.h"
#include "parser/validate.h"

namespace {

using namespace locus::sip;

// A softphone's REGISTER, as the engine receives them.
constexpr std::string_view kRegister =
    "REGISTER sip:sip.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.44:5060;rport;branch=z9hG4bKPj3f1b0c4e2a\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:bob@sip.example.com>;tag=8c1e6f0a\r\n"
    "To: <sip:bob@sip.example.com>\r\n"
    "Call-ID: 6b2f1d0e9a8c4b7e\r\n"
    "CSeq: 2 REGISTER\r\n"
    "User-Agent: softphone/2.1\r\n"
    "Contact: <sip:bob@192.0.2.44:5060;ob>;reg-id=1;"
    "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"\r\n"
    "Expires: 600\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    "Supported: outbound, path, gruu\r\n"
    "Content-Length: 0\r\n\r\n";

void BM_ParseMessage(benchmark::State& state) {
  for (auto _ : state) {
    Message message;
    benchmark::DoNotOptimize(ParseMessage(kRegister, {}, &message).ok());
    benchmark::DoNotOptimize(message);
  }
}

void BM_ValidateAndAor(benchmark::State& state) {
  Message message;
  ParseMessage(kRegister, {}, &message);
  CoreHeaders core;
  std::array<Contact, 16> contacts;
  for (auto _ : state) {
    CanonicalAor aor;
    benchmark::DoNotOptimize(ValidateMessage(message, &core, contacts).ok() &&
                             CanonicalizeAor(core.to.uri, &aor).ok());
    benchmark::DoNotOptimize(aor);
  }
}

void BM_AorOfTo(benchmark::State& state) {
  Message message;
  ParseMessage(kRegister, {}, &message);
  for (auto _ : state) {
    CanonicalAor aor;
    benchmark::DoNotOptimize(AorOfTo(message, &aor).ok());
    benchmark::DoNotOptimize(aor);
  }
}

void BM_Encode(benchmark::State& state) {
  Message message;
  ParseMessage(kRegister, {}, &message);
  std::array<char, kMaxMessageOffsetsSize> record;
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeMessageOffsets(message, kRegister, record));
    benchmark::ClobberMemory();
  }
}

void BM_Decode(benchmark::State& state) {
  Message parsed;
  ParseMessage(kRegister, {}, &parsed);
  std::array<char, kMaxMessageOffsetsSize> buffer;
  const std::string_view record(buffer.data(), EncodeMessageOffsets(parsed, kRegister, buffer));
  const std::string copy(kRegister);
  for (auto _ : state) {
    Message message;
    benchmark::DoNotOptimize(DecodeMessageOffsets(record, copy, &message));
    benchmark::DoNotOptimize(message);
  }
}

BENCHMARK(BM_ParseMessage);
BENCHMARK(BM_ValidateAndAor);
BENCHMARK(BM_AorOfTo);
BENCHMARK(BM_Encode);
BENCHMARK(BM_Decode);

}  // namespace

BENCHMARK_MAIN();
