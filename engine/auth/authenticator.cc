#include "engine/auth/authenticator.h"

#include <cstring>

#include "engine/text.h"
#include "parser/digest.h"
#include "parser/scan.h"

namespace locus::engine {
namespace {

std::string SourceKey(const Endpoint& source) {
  const store::SourceAddress a = source.ToSource();
  return Cat("a:", std::string_view(reinterpret_cast<const char*>(a.ip.data()), a.family == 4 ? 4 : 16));
}

}  // namespace

Authenticator::Authenticator(AuthPolicy policy, const NonceService* nonces, FailureTable* failures,
                             ShardCounters& counters, int shard)
    : policy_(std::move(policy)), nonces_(nonces), failures_(failures), counters_(counters),
      salt_(static_cast<uint32_t>(shard) << 24) {}

void Authenticator::AppendChallenges(bool stale, uint32_t now, std::string* out) {
  // RFC 8760 section 2.4: one challenge per algorithm, preferred first, each
  // with its own nonce.
  for (DigestAlgorithm algorithm : policy_.algorithms) {
    char nonce[NonceService::kNonceSize];
    salt_ = (salt_ & 0xFF000000u) | ((salt_ + 1) & 0x00FFFFFFu);
    out->append("WWW-Authenticate: Digest realm=\"");
    out->append(policy_.realm);
    out->append("\", nonce=\"");
    out->append(nonces_->Make(now, salt_, nonce));
    out->append("\", algorithm=");
    out->append(DigestAlgorithmName(algorithm));
    out->append(", qop=\"auth\"");
    if (stale) out->append(", stale=true");
    out->append("\r\n");
  }
}

bool Authenticator::LockedOut(const std::string& key, uint32_t now, uint32_t* retry_after) const {
  if (policy_.max_failures == 0) return false;  // no lockouts configured
  return failures_->Count(key, now, retry_after) >= policy_.max_failures;
}

void Authenticator::CountFailure(const std::string& key, uint32_t now) {
  if (policy_.max_failures != 0) failures_->Fail(key, now);
}

AuthDecision Authenticator::Fail(const std::string& user_key, const std::string& source_key,
                                 uint32_t now) {
  counters_.auth_failures.Add();
  if (!user_key.empty()) CountFailure(user_key, now);
  CountFailure(source_key, now);
  return {AuthDecision::Kind::kChallenge, false, "Unauthorized", 0};
}

AuthDecision Authenticator::Check(const sip::Message& request, std::string_view canonical_aor,
                                  const Endpoint& source, uint32_t now) {
  if (now - last_sweep_ >= 10) Sweep(now);
  const std::string source_key = SourceKey(source);
  uint32_t retry_after = 0;
  if (LockedOut(source_key, now, &retry_after)) {
    counters_.auth_locked_out.Add();
    return {AuthDecision::Kind::kLockedOut, false, "Too Many Failed Attempts", retry_after};
  }
  // Section 22.4: the credentials whose realm is ours (others belong to
  // proxies on the way).
  sip::DigestParams params;
  bool found = false;
  for (const sip::HeaderField& field : request.headers()) {
    if (field.id != sip::HeaderId::kAuthorization) continue;
    sip::DigestParams candidate;
    if (!sip::ParseDigest(field.value(), sip::HeaderId::kAuthorization, &candidate).ok()) {
      counters_.auth_malformed.Add();
      return {AuthDecision::Kind::kBadRequest, false, "Malformed Authorization header", 0};
    }
    if (sip::EqualsIgnoreCase(candidate.scheme, "Digest") && candidate.realm == policy_.realm) {
      params = candidate;
      found = true;
      break;
    }
  }
  if (!found) return {AuthDecision::Kind::kChallenge, false, "Unauthorized", 0};
  if (params.username.empty() || params.nonce.empty() || params.uri.empty() ||
      params.response.empty() || params.qop.empty() || params.nc.empty() || params.cnonce.empty()) {
    counters_.auth_malformed.Add();
    return {AuthDecision::Kind::kBadRequest, false,
            "Authorization lacks username, nonce, uri, response, qop, nc or cnonce", 0};
  }
  if (!sip::EqualsIgnoreCase(params.qop, "auth")) {
    return Fail({}, source_key, now);  // we offered qop="auth" only
  }
  DigestAlgorithm algorithm = DigestAlgorithm::kMd5;  // RFC 7616 3.4.1: absent means MD5
  if (!params.algorithm.empty() && !ParseDigestAlgorithm(params.algorithm, &algorithm)) {
    return Fail({}, source_key, now);
  }
  bool offered = false;
  for (DigestAlgorithm a : policy_.algorithms) offered = offered || a == algorithm;
  if (!offered) return Fail({}, source_key, now);
  uint32_t nc = 0;
  if (params.nc.size() != 8 || !ParseHex32(params.nc, &nc)) {
    counters_.auth_malformed.Add();
    return {AuthDecision::Kind::kBadRequest, false, "Authorization nc is not 8 hex digits", 0};
  }
  // RFC 2617 section 3.2.2.5: the digest-uri names the Request-URI.
  if (params.uri != request.request_uri()) {
    counters_.auth_malformed.Add();
    return {AuthDecision::Kind::kBadRequest, false, "Authorization uri differs from the Request-URI", 0};
  }
  const std::string user_key = Cat("u:", params.username, "\n", params.realm);
  if (LockedOut(user_key, now, &retry_after)) {
    counters_.auth_locked_out.Add();
    return {AuthDecision::Kind::kLockedOut, false, "Too Many Failed Attempts", retry_after};
  }
  const UserEntry* user = users_ ? users_->Find(params.username, params.realm) : nullptr;
  if (user == nullptr || user->Ha1(algorithm).empty()) return Fail(user_key, source_key, now);

  uint32_t issued = 0;
  const NonceService::Verdict nonce = nonces_->Check(params.nonce, now, &issued);
  if (nonce == NonceService::Verdict::kInvalid) return Fail(user_key, source_key, now);
  const HexDigest expected =
      ComputeResponse(algorithm, user->Ha1(algorithm), params.nonce, params.nc, params.cnonce,
                      params.qop, request.method_name(), params.uri);
  if (!(expected == params.response)) return Fail(user_key, source_key, now);
  if (nonce == NonceService::Verdict::kStale) {
    // Right password, old nonce: ask again with stale=true (RFC 2617 3.2.1).
    counters_.auth_stale.Add();
    return {AuthDecision::Kind::kChallenge, true, "Unauthorized (stale nonce)", 0};
  }
  // Replay protection: every use of a nonce carries a higher nonce-count.
  auto [it, inserted] = nonce_counts_.try_emplace(std::string(params.nonce), NonceState{issued, 0});
  if (!inserted && nc <= it->second.max_nc) {
    counters_.auth_replays.Add();
    return {AuthDecision::Kind::kChallenge, false, "Unauthorized (nonce-count replayed)", 0};
  }
  if (inserted && nonce_counts_.size() > kMaxTrackedNonces) {
    // Too many live nonces to remember: this one is refused rather than
    // left open to replay; the client gets a fresh challenge.
    nonce_counts_.erase(it);
    return {AuthDecision::Kind::kChallenge, true, "Unauthorized", 0};
  }
  it->second.max_nc = nc;
  // Step 4: may this user touch this AOR?
  if (!user->MayRegister(canonical_aor)) {
    counters_.auth_forbidden.Add();
    return {AuthDecision::Kind::kForbidden, false, "Forbidden (user may not register this AOR)", 0};
  }
  counters_.auth_successes.Add();
  return {AuthDecision::Kind::kAllow, false, "", 0};
}

void Authenticator::Sweep(uint32_t now) {
  last_sweep_ = now;
  const uint32_t lifetime = nonces_->lifetime();
  absl::erase_if(nonce_counts_, [&](const auto& entry) { return now - entry.second.issued > lifetime + 5; });
}

}  // namespace locus::engine
