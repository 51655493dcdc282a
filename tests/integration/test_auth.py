#!/usr/bin/env python3
"""Digest authentication of REGISTERs (RFC 3261 sections 10.3 and
22.4, RFC 2617 qop=auth, RFC 7616/8760) against real daemons on loopback, with
an independent client (hashlib, locus_harness.digest_*). SIPp's own
[authentication] support is exercised by tests/sipp/register_auth.xml
(CTest sipp.register_auth.udp/tcp).

  DigestClient        the client itself against the worked examples of RFC 2617
                      and RFC 7616 (no daemon): failures elsewhere are locusd's.
  Challenges          401 with one WWW-Authenticate per algorithm, preferred
                      first, own nonce each; OPTIONS never challenged.
  Credentials         SHA-256 and MD5 (passwords and HA1s in the users file),
                      UDP and TCP, algorithm absent = MD5; wrong password,
                      unknown user, tampered nonce, qop/algorithm not offered,
                      other realm; 403 for a user not allowed the AOR and
                      third-party registration when allowed; nonce-count
                      replay; any shard accepts any shard's nonce; malformed
                      Authorization headers (400).
  SessAlgorithms      SHA-256-sess and MD5-sess offered and accepted.
  StaleNonce          --nonce_lifetime=1: stale=true on a right answer to an old
                      nonce, then the retry with the new nonce succeeds.
  Lockout             --auth_max_failures=3 --auth_failure_window=2: per user and
                      per source address, 403 Too Many Failed Attempts with
                      Retry-After, recovery after the window.
  LockoutAcrossShards the same limits when the failures fall on AORs owned by
                      different shards (--shards=2).
  Reload              reload_users under a background loop of authenticated
                      REGISTERs: a new user registers, a removed one gets 401,
                      bad files are refused whole and the old users stay.
  NonceSecret         <data_dir>/auth.secret made at first start (0600) and kept:
                      a nonce from before a restart is accepted after it; a
                      configured --auth_secret is shared by two daemons.
  Counters            auth_* counters and responses_401 exact for a scripted run.
  StartUp             a bad users file (or auth setting) at start: exit 2; the
                      start-up log says whether authentication is on.

Every daemon gets --auth_realm explicitly. Usage:
  test_auth.py --locusd PATH [unittest arguments, e.g. -k Lockout]
Bounded: every test by LocusTestCase's alarm, every wait by a timeout; about
15 s in all (the stale nonce, lockout windows and restarts wait for real).
"""

import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import SharedDaemonCase, counters, stop_daemon  # noqa: E402
from locus_harness import (LocusTestCase, Locusd, TcpClient, UdpClient,  # noqa: E402
                           digest_authorization, digest_challenge, digest_challenges,
                           digest_ha1)

REALM = "example.com"
DOMAIN = "example.com"
RURI = "sip:example.com"

PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret",
             "dave": "dave-secret", "multi": "multi-secret", "loader": "loader-secret",
             "frank": "frank-secret"}

AUTH_COUNTERS = ["auth_challenges", "auth_successes", "auth_failures", "auth_stale",
                 "auth_replays", "auth_forbidden", "auth_malformed", "auth_locked_out",
                 "responses_401"]


def user_entry(name, kind="password", aors=None, realm=None):
    """A users-file entry: kind "password" (plaintext), "ha1" (both HA1s) or
    "md5" (ha1_md5 only)."""
    e = {"username": name}
    if realm:
        e["realm"] = realm
    r = realm or REALM
    if kind == "password":
        e["password"] = PASSWORDS[name]
    elif kind == "ha1":
        e["ha1_md5"] = digest_ha1("MD5", name, r, PASSWORDS[name])
        e["ha1_sha256"] = digest_ha1("SHA-256", name, r, PASSWORDS[name]).upper()  # case-free
    elif kind == "md5":
        e["ha1_md5"] = digest_ha1("MD5", name, r, PASSWORDS[name])
    if aors is not None:
        e["aors"] = aors
    return e


MULTI_AORS = ["sip:m%d@example.com" % i for i in range(16)]

# alice: a password and a second (third-party) AOR; bob: HA1s only; carol: an
# MD5 HA1 only; dave: own AOR by default; multi: 16 AORs (spread over shards).
DEFAULT_USERS = [
    user_entry("alice", "password", ["sip:alice@example.com", "sip:desk@example.com"]),
    user_entry("bob", "ha1"),
    user_entry("carol", "md5"),
    user_entry("dave", "password"),
    user_entry("multi", "ha1", MULTI_AORS),
]


def write_users(path, users=None, text=None):
    """Replaces the users file atomically (write, then rename over it)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text if text is not None else json.dumps({"users": users}, indent=1))
    os.replace(tmp, path)


def auth_daemon(users=None, flags=(), shards=2, algorithms="SHA-256,MD5", start=True):
    """A locusd with authentication on, its users file users.json in its own
    working directory, an admin socket there too."""
    d = Locusd(["--shards=%d" % shards, "--auth=true", "--auth_realm=" + REALM,
                "--auth_algorithms=" + algorithms, "--min_expires=60",
                "--max_expires=7200"] + list(flags), admin=True)
    d.users_path = os.path.join(d.cwd, "users.json")
    write_users(d.users_path, DEFAULT_USERS if users is None else users)
    d.flags.append("--users_file=" + d.users_path)
    if start:
        d.__enter__()
    return d



class Ua:
    """One registering UA: a client (UDP or TCP), the AOR it registers (To), its
    own Call-ID and CSeq, one Contact."""

    def __init__(self, client, aor_user, from_user=None, domain=DOMAIN):
        self.client = client
        self.aor_user = aor_user
        self.domain = domain
        self.from_user = from_user or aor_user
        self.call_id = h.new_call_id()
        self.cseq = 0
        self.contact_uri = "sip:%s-%s@%s" % (aor_user, secrets.token_hex(3),
                                             h.hostport(client.local_host, client.local_port))
        self.last = None

    def build(self, auth=None, ruri=None, extra=(), **kw):
        self.cseq += 1
        headers = list(extra)
        if auth is not None:
            headers.append(("Authorization", auth))
        self.last = self.client.register(
            user=self.aor_user, domain=self.domain, contacts=["<%s>" % self.contact_uri],
            expires=600, call_id=self.call_id, cseq=self.cseq, ruri=ruri, extra=headers,
            from_="<sip:%s@%s>;tag=%s" % (self.from_user, self.domain, h.new_tag()), **kw)
        return self.last

    def send(self, auth=None, **kw):
        return self.client.request(self.build(auth, **kw))

    def challenge(self):
        """A REGISTER without credentials; must be answered 401."""
        resp = self.send()
        if resp.status != 401:
            raise AssertionError("REGISTER without credentials: expected 401, got:\n" + resp.dump())
        return resp

    def answer(self, challenge, username, password=None, algorithm=None, **kw):
        """Answers a DigestChallenge (or a 401, taking its challenge for
        algorithm) with username's credentials."""
        if not isinstance(challenge, h.DigestChallenge):
            challenge = digest_challenge(challenge, algorithm or "SHA-256")
        if password is None and "ha1" not in kw:
            password = PASSWORDS[username]
        auth_kw = {k: kw.pop(k) for k in list(kw) if k in (
            "ha1", "nc", "cnonce", "qop", "realm", "nonce", "send_algorithm", "response",
            "omit", "extra", "uri")}
        auth_kw.setdefault("uri", kw.get("ruri") or RURI)
        auth = digest_authorization(challenge, username, password, algorithm=algorithm,
                                    **auth_kw)
        return self.send(auth, **kw)

    def login(self, username, password=None, algorithm="SHA-256", **kw):
        """401, then the answer to its challenge for algorithm: (401, final)."""
        first = self.challenge()
        return first, self.answer(digest_challenge(first, algorithm), username, password,
                                  algorithm=algorithm, **kw)


class AuthCase(SharedDaemonCase):
    """A test class with an authenticating daemon of its own (setUpClass)."""

    users = None            # None: DEFAULT_USERS
    daemon_flags = ("--auth_max_failures=0",)  # failures from 127.0.0.1 never lock out
    shards = 2
    algorithms = "SHA-256,MD5"
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = auth_daemon(cls.users, cls.daemon_flags, cls.shards, cls.algorithms)

    def udp(self, bind=None):
        c = UdpClient(self.daemon.udp_addr, bind=bind)
        self.addCleanup(c.close)
        return c

    def tcp(self):
        c = TcpClient(self.daemon.tcp_addr)
        self.addCleanup(c.close)
        return c

    def ua(self, aor_user, client=None, **kw):
        return Ua(client or self.udp(), aor_user, **kw)

    def stats(self):
        return h.quiet_stats(self.admin)

    def assertDeltas(self, before, expected, names=AUTH_COUNTERS):
        """The auth counters moved exactly as expected ({name: delta}, others 0)."""
        after = h.quiet_stats(self.admin)
        got = {n: counters(after)[n] - counters(before)[n] for n in names}
        want = {n: expected.get(n, 0) for n in names}
        self.assertEqual(got, want, "counter deltas (got vs expected)")
        return after

    def assertChallenges(self, resp, stale=False, algorithms=("SHA-256", "MD5")):
        """401 with exactly one Digest challenge per algorithm, in this order,
        realm, own nonce each, qop="auth", stale=true exactly when stale."""
        self.assertStatus(resp, 401)
        chs = digest_challenges(resp)
        self.assertEqual([c.algorithm for c in chs], list(algorithms),
                         "one challenge per algorithm, preferred first:\n" + resp.dump())
        for c in chs:
            self.assertEqual(c.scheme, "Digest", resp.dump())
            self.assertEqual(c.realm, REALM, resp.dump())
            self.assertIn("realm", c.quoted)
            self.assertTrue(c.nonce, "challenge without nonce:\n" + resp.dump())
            self.assertIn("nonce", c.quoted)
            self.assertEqual(c.qop, "auth", resp.dump())
            self.assertIn("qop", c.quoted, 'qop must be quoted (qop="auth"): ' + c.raw)
            self.assertEqual(c.stale, stale, "stale=%s expected: %s" % (stale, c.raw))
            if not stale:
                self.assertNotIn("stale", c.params, c.raw)
        nonces = [c.nonce for c in chs]
        self.assertEqual(len(set(nonces)), len(nonces), "each challenge has its own nonce")
        return chs

    def assertRegistered(self, resp, ua):
        self.assertStatus(resp, 200)
        self.assertIn(ua.contact_uri, [c.uri for c in resp.contacts()],
                      "the 200 does not list the contact just registered:\n" + resp.dump())
        self.assertEqual(resp.count("WWW-Authenticate"), 0, resp.dump())

    def lookup(self, aor):
        return [b["contact"] for b in self.admin.ok({"cmd": "lookup", "aor": aor})["bindings"]]


# ---------------------------------------------------------------------------
# The client itself


class DigestClient(unittest.TestCase):
    """locus_harness's digest client reproduces the RFCs' worked examples."""

    def test_rfc2617_example(self):
        # RFC 2617 section 3.5 (MD5, qop=auth).
        ha1 = digest_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
        self.assertEqual(h.digest_response("MD5", ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                                           "00000001", "0a4f113b", "auth", "GET",
                                           "/dir/index.html"),
                         "6629fae49393a05397450978507c4ef1")

    def test_rfc7616_examples(self):
        # RFC 7616 section 3.9.1, MD5 and SHA-256.
        args = ("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", "GET", "/dir/index.html")
        for algorithm, want in (("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
                                ("SHA-256", "753927fa0e85d155564e2e272a28d180"
                                            "2ca10daf4496794697cf8db5856cb6c1")):
            ha1 = digest_ha1(algorithm, "Mufasa", "http-auth@example.org", "Circle of Life")
            self.assertEqual(h.digest_response(algorithm, ha1, *args), want, algorithm)

    def test_challenge_parsing(self):
        c = h.DigestChallenge('Digest realm="a, b", nonce="n1", algorithm=SHA-256, qop="auth",'
                              ' stale=true')
        self.assertEqual((c.realm, c.nonce, c.algorithm, c.qop, c.stale),
                         ("a, b", "n1", "SHA-256", "auth", True))


# ---------------------------------------------------------------------------
# Challenges


class Challenges(AuthCase):

    def test_challenge_per_algorithm_preferred_first_udp(self):
        ua = self.ua("alice")
        chs = self.assertChallenges(ua.send())
        self.assertEqual(chs[0].algorithm, "SHA-256")

    def test_challenge_per_algorithm_preferred_first_tcp(self):
        ua = self.ua("alice", client=self.tcp())
        self.assertChallenges(ua.send())

    def test_every_challenge_has_a_fresh_nonce(self):
        ua = self.ua("alice")
        seen = set()
        for _ in range(5):
            for c in digest_challenges(ua.challenge()):
                self.assertNotIn(c.nonce, seen, "a nonce was handed out twice")
                seen.add(c.nonce)

    def test_unknown_aor_is_challenged_too(self):
        # Who asks is established before what is asked for: no hint whether
        # an AOR or user exists.
        self.assertChallenges(self.ua(h.unique_user("nobody")).send())

    def test_options_never_challenged(self):
        c = self.udp()
        for extra in ((), (("Authorization", 'Digest username="alice", realm="example.com", '
                                             'nonce="x", uri="sip:example.com", response="0", '
                                             'qop=auth, nc=00000001, cnonce="c"'),)):
            req = c.options(domain=DOMAIN, extra=extra)
            resp = c.request(req)
            self.assertStatus(resp, 200)
            self.assertEqual(resp.count("WWW-Authenticate"), 0, resp.dump())
        t = self.tcp()
        resp = t.request(t.options(domain=DOMAIN))
        self.assertStatus(resp, 200)
        self.assertEqual(resp.count("WWW-Authenticate"), 0, resp.dump())

    def test_startup_log_says_authentication_on(self):
        self.assertIn("authentication on", self.daemon.stderr_text())


# ---------------------------------------------------------------------------
# Credentials


class Credentials(AuthCase):

    def _login_ok(self, username, algorithm, client=None, aor_user=None):
        ua = self.ua(aor_user or username, client=client, from_user=username)
        first, resp = ua.login(username, algorithm=algorithm)
        self.assertChallenges(first)
        self.assertRegistered(resp, ua)
        return ua

    def test_sha256_udp(self):
        self._login_ok("alice", "SHA-256")

    def test_md5_udp(self):
        self._login_ok("alice", "MD5")

    def test_sha256_tcp(self):
        self._login_ok("alice", "SHA-256", client=self.tcp())

    def test_md5_tcp(self):
        self._login_ok("alice", "MD5", client=self.tcp())

    def test_binding_visible_after_success(self):
        ua = self._login_ok("dave", "SHA-256")
        self.assertIn(ua.contact_uri, self.lookup("sip:dave@example.com"))

    def test_ha1_users_file_entries(self):
        # bob: ha1_md5 and ha1_sha256 (the latter in upper case) instead of a password.
        self._login_ok("bob", "SHA-256")
        self._login_ok("bob", "MD5")

    def test_user_without_sha256_ha1(self):
        # carol has an MD5 HA1 only: a SHA-256 answer cannot be verified.
        ua = self.ua("carol")
        first, resp = ua.login("carol", algorithm="SHA-256")
        self.assertChallenges(resp)
        resp = ua.answer(digest_challenge(ua.challenge(), "MD5"), "carol", algorithm="MD5")
        self.assertRegistered(resp, ua)

    def test_algorithm_absent_means_md5(self):
        ua = self.ua("alice")
        first = ua.challenge()
        # MD5 digest without algorithm=: accepted (RFC 7616 3.4.1 default).
        resp = ua.answer(digest_challenge(first, "MD5"), "alice", algorithm="MD5",
                         send_algorithm=False)
        self.assertRegistered(resp, ua)
        # A SHA-256 digest without algorithm= is checked as MD5: wrong.
        first = ua.challenge()
        resp = ua.answer(digest_challenge(first, "SHA-256"), "alice", algorithm="SHA-256",
                         send_algorithm=False)
        self.assertChallenges(resp)

    def test_wrong_password(self):
        before = self.stats()
        for algorithm in ("SHA-256", "MD5"):
            ua = self.ua("dave")
            _, resp = ua.login("dave", password="not-dave-secret", algorithm=algorithm)
            # A new challenge, not stale: the password was wrong, not the nonce.
            self.assertChallenges(resp)
            self.assertNotIn(ua.contact_uri, self.lookup("sip:dave@example.com"))
        self.assertDeltas(before, {"auth_challenges": 4, "responses_401": 4, "auth_failures": 2})

    def test_unknown_user(self):
        before = self.stats()
        user = h.unique_user("mallory")
        ua = self.ua(user)
        _, resp = ua.login(user, password="anything")
        self.assertChallenges(resp)
        self.assertEqual(self.lookup("sip:%s@example.com" % user), [])
        self.assertDeltas(before, {"auth_challenges": 2, "responses_401": 2, "auth_failures": 1})

    def test_credentials_for_another_realm_ignored(self):
        # Credentials naming another realm are not for us: a plain challenge.
        ua = self.ua("alice")
        first = ua.challenge()
        resp = ua.answer(digest_challenge(first, "SHA-256"), "alice", algorithm="SHA-256",
                         realm="proxy.example.net")
        self.assertChallenges(resp)

    def test_tampered_nonce(self):
        ua = self.ua("alice")
        ch = digest_challenge(ua.challenge(), "SHA-256")
        for i in (0, 20, len(ch.nonce) - 1):  # time, MAC start, MAC end
            flipped = ch.nonce[:i] + ("0" if ch.nonce[i] != "0" else "1") + ch.nonce[i + 1:]
            self.assertChallenges(ua.answer(ch, "alice", algorithm="SHA-256", nonce=flipped))
        for bad in (secrets.token_hex(24), "abc", ch.nonce + "00"):
            self.assertChallenges(ua.answer(ch, "alice", algorithm="SHA-256", nonce=bad))
        # The untouched nonce still works (nothing was consumed).
        self.assertRegistered(ua.answer(ch, "alice", algorithm="SHA-256"), ua)

    def test_qop_or_algorithm_not_offered(self):
        ua = self.ua("alice")
        ch = digest_challenge(ua.challenge(), "MD5")
        # qop=auth-int (not offered): the credentials are no good.
        self.assertChallenges(ua.answer(ch, "alice", algorithm="MD5", qop="auth-int"))
        # MD5-sess and an unknown algorithm: not offered by this daemon.
        self.assertChallenges(ua.answer(ch, "alice", algorithm="MD5-sess"))
        self.assertChallenges(ua.answer(ch, "alice", algorithm="SHA-512-256",
                                        ha1=digest_ha1("SHA-256", "alice", REALM, "x"),
                                        response="0" * 64))

    def test_wrong_user_for_aor_forbidden(self):
        before = self.stats()
        # bob may register sip:bob@example.com only.
        ua = self.ua("alice", from_user="bob")
        _, resp = ua.login("bob", algorithm="SHA-256")
        self.assertStatus(resp, 403)
        self.assertEqual(resp.count("WWW-Authenticate"), 0, resp.dump())
        self.assertNotIn(ua.contact_uri, self.lookup("sip:alice@example.com"))
        # alice may not register bob's AOR either, with either algorithm.
        ua = self.ua("bob", from_user="alice")
        _, resp = ua.login("alice", algorithm="MD5")
        self.assertStatus(resp, 403)
        self.assertNotIn(ua.contact_uri, self.lookup("sip:bob@example.com"))
        self.assertDeltas(before, {"auth_challenges": 2, "responses_401": 2,
                                   "auth_forbidden": 2})

    def test_third_party_registration_allowed(self):
        # alice's users-file entry lists sip:desk@example.com too.
        ua = self.ua("desk", from_user="alice")
        _, resp = ua.login("alice", algorithm="SHA-256")
        self.assertRegistered(resp, ua)
        self.assertIn(ua.contact_uri, self.lookup("sip:desk@example.com"))
        # AORs are compared canonically: user part case-sensitive, host not.
        ua = self.ua("desk", from_user="alice", domain="EXAMPLE.com")
        first = ua.challenge()
        resp = ua.answer(digest_challenge(first, "MD5"), "alice", algorithm="MD5",
                         ruri="sip:EXAMPLE.com")
        self.assertRegistered(resp, ua)
        ua = self.ua("Desk", from_user="alice")
        _, resp = ua.login("alice", algorithm="MD5")
        self.assertStatus(resp, 403)

    def test_replayed_nonce_count(self):
        before = self.stats()
        ua = self.ua("alice")
        ch = digest_challenge(ua.challenge(), "SHA-256")
        self.assertRegistered(ua.answer(ch, "alice", algorithm="SHA-256", nc=1), ua)
        # A retransmission (same branch) is the same transaction: the cached 200.
        again = ua.client.request(ua.last)
        self.assertStatus(again, 200)
        # The same nonce and nc in a new request: a replay.
        resp = ua.answer(ch, "alice", algorithm="SHA-256", nc=1)
        self.assertChallenges(resp)
        # ... also with another cnonce.
        self.assertChallenges(ua.answer(ch, "alice", algorithm="SHA-256", nc=1, cnonce="other"))
        # A higher nonce-count is fine, then not again, nor a lower one.
        self.assertRegistered(ua.answer(ch, "alice", algorithm="SHA-256", nc=2), ua)
        self.assertChallenges(ua.answer(ch, "alice", algorithm="SHA-256", nc=2))
        self.assertChallenges(ua.answer(ch, "alice", algorithm="SHA-256", nc=1))
        self.assertRegistered(ua.answer(ch, "alice", algorithm="SHA-256", nc=0x10), ua)
        # The replays answered with fresh nonces, which work.
        self.assertRegistered(ua.answer(digest_challenge(resp, "MD5"), "alice", algorithm="MD5"),
                              ua)
        self.assertDeltas(before, {"auth_challenges": 5, "responses_401": 5, "auth_replays": 4,
                                   "auth_successes": 4})

    def test_replay_over_tcp(self):
        ua = self.ua("alice", client=self.tcp())
        ch = digest_challenge(ua.challenge(), "MD5")
        self.assertRegistered(ua.answer(ch, "alice", algorithm="MD5", nc=1), ua)
        self.assertChallenges(ua.answer(ch, "alice", algorithm="MD5", nc=1))

    def test_any_shard_accepts_any_nonce(self):
        # One nonce (issued by the shard owning m0) for 16 AORs spread over both
        # shards: stateless nonces verify anywhere.
        before = self.stats()
        c = self.udp()
        ch = digest_challenge(Ua(c, "m0", from_user="multi").challenge(), "SHA-256")
        for i, aor in enumerate(MULTI_AORS):
            ua = Ua(c, aor[4:aor.index("@")], from_user="multi")
            self.assertRegistered(ua.answer(ch, "multi", algorithm="SHA-256", nc=i + 1), ua)
        after = self.stats()
        per_shard = [counters(after, s)["auth_successes"] - counters(before, s)["auth_successes"]
                     for s in range(2)]
        self.assertEqual(sum(per_shard), 16)
        self.assertTrue(all(n > 0 for n in per_shard),
                        "16 AORs all on one shard? successes per shard %s" % per_shard)

    def malformed_cases(self, ch):
        """(label, Authorization value) pairs, each malformed in one way, for
        the SHA-256 challenge ch (otherwise right for alice)."""
        good = digest_authorization(ch, "alice", PASSWORDS["alice"], uri=RURI)

        def params(**changes):
            # good with parameters replaced (value None: left out).
            kw = {"uri": RURI}
            kw.update({k: v for k, v in changes.items() if v is not None})
            return digest_authorization(ch, "alice", PASSWORDS["alice"],
                                        omit=[k for k, v in changes.items() if v is None], **kw)

        unparseable = [
            ("no parameters", "Digest"),
            ("no scheme", 'username="alice", realm="example.com"'),
            ("unterminated quote", good + ', opaque="abc'),
            ("no comma between parameters", good.replace(", uri=", " uri=")),
            ("parameter without value", good + ", opaque="),
            ("parameter twice", good + ', nonce="%s"' % ch.nonce),
        ]
        incomplete = [
            ("no username", params(username=None)),
            ("no nonce", params(nonce=None)),
            ("no uri", params(uri=None)),
            ("no response", params(response=None)),
            ("no qop", params(qop=None)),
            ("no nc", params(nc=None)),
            ("no cnonce", params(cnonce=None)),
            ("uri of another host", params(uri="sip:other.example.com")),
            ("uri differing in case from the Request-URI", params(uri="sip:EXAMPLE.com")),
            ("uri with a port the Request-URI lacks", params(uri="sip:example.com:5060")),
            ("nc of 1 digit", params(nc="1")),
            ("nc of 7 digits", params(nc="0000001")),
            ("nc of 9 digits", params(nc="000000001")),
            ("nc not hex", params(nc="0000000g")),
        ]
        return good, unparseable, incomplete

    def test_malformed_authorization_400(self):
        ua = self.ua("alice")
        ch = digest_challenge(ua.challenge(), "SHA-256")
        good, unparseable, incomplete = self.malformed_cases(ch)
        for label, value in unparseable + incomplete:
            resp = ua.send(value)
            self.assertEqual(resp.status, 400, "%s: expected 400 for Authorization: %s\n%s"
                             % (label, value, resp.dump()))
            self.assertTrue(resp.reason.strip(), "400 without a reason phrase")
            self.assertEqual(resp.count("WWW-Authenticate"), 0, resp.dump())
        self.assertNotIn(ua.contact_uri, self.lookup("sip:alice@example.com"))
        # Well-formed again: the nonce was never consumed.
        self.assertRegistered(ua.send(good), ua)

    def test_malformed_authorization_counted(self):
        # Every malformed Authorization answered 400 counts in auth_malformed
        # (and in nothing else of the auth_* counters).
        ua = self.ua("alice")
        ch = digest_challenge(ua.challenge(), "SHA-256")
        _, unparseable, incomplete = self.malformed_cases(ch)
        for kind, cases in (("incomplete or inconsistent", incomplete),
                            ("unparseable", unparseable)):
            before = self.stats()
            for _, value in cases:
                self.assertStatus(ua.send(value), 400)
            after = h.quiet_stats(self.admin)
            got = {n: counters(after)[n] - counters(before)[n] for n in AUTH_COUNTERS}
            self.assertEqual(got, dict({n: 0 for n in AUTH_COUNTERS}, auth_malformed=len(cases)),
                             "%s Authorization headers (%s): auth_* counter deltas"
                             % (kind, ", ".join(label for label, _ in cases)))

    def test_uri_must_be_request_uri_as_written(self):
        # A Request-URI with parameters: the digest uri is the whole of it.
        ruri = "sip:example.com;transport=udp"
        ua = self.ua("alice")
        first = ua.challenge()
        resp = ua.answer(digest_challenge(first, "SHA-256"), "alice", algorithm="SHA-256",
                         ruri=ruri)
        self.assertRegistered(resp, ua)
        resp = ua.answer(digest_challenge(ua.challenge(), "SHA-256"), "alice",
                         algorithm="SHA-256", ruri=ruri, uri=RURI)
        self.assertStatus(resp, 400)


# ---------------------------------------------------------------------------
# -sess algorithms


class SessAlgorithms(AuthCase):
    algorithms = "SHA-256-sess,MD5-sess,SHA-256,MD5"

    def test_four_challenges_in_order_each_accepted(self):
        order = ("SHA-256-sess", "MD5-sess", "SHA-256", "MD5")
        ua = self.ua("alice")
        self.assertChallenges(ua.send(), algorithms=order)
        for username in ("alice", "bob"):  # a password, then HA1s
            for algorithm in order:
                ua = self.ua(username)
                first = ua.challenge()
                self.assertChallenges(first, algorithms=order)
                resp = ua.answer(digest_challenge(first, algorithm), username, algorithm=algorithm)
                self.assertRegistered(resp, ua)

    def test_sess_with_wrong_password(self):
        ua = self.ua("alice")
        first = ua.challenge()
        resp = ua.answer(digest_challenge(first, "SHA-256-sess"), "alice", password="wrong",
                         algorithm="SHA-256-sess")
        self.assertStatus(resp, 401)


# ---------------------------------------------------------------------------
# Stale nonces


class StaleNonce(AuthCase):
    daemon_flags = ("--auth_max_failures=0", "--nonce_lifetime=1")

    def test_stale_then_retry_with_new_nonce(self):
        ua = self.ua("alice")
        old = ua.challenge()
        tcp_ua = self.ua("bob", client=self.tcp())
        tcp_old = tcp_ua.challenge()
        before = self.stats()
        # Lifetime 1 s, whole seconds: older than 1 s is certain after 2.2 s.
        time.sleep(2.2)
        resp = ua.answer(digest_challenge(old, "SHA-256"), "alice", algorithm="SHA-256")
        chs = self.assertChallenges(resp, stale=True)
        self.assertFalse({c.nonce for c in chs} & {c.nonce for c in digest_challenges(old)})
        # A wrong password with the old nonce is a failure, not stale.
        wrong = ua.answer(digest_challenge(old, "MD5"), "alice", password="wrong",
                          algorithm="MD5")
        self.assertChallenges(wrong, stale=False)
        # The retry with the new nonce succeeds (within the 1 s lifetime).
        self.assertRegistered(ua.answer(digest_challenge(resp, "SHA-256"), "alice",
                                        algorithm="SHA-256"), ua)
        # The same over TCP with MD5 (bob: HA1s in the users file).
        resp = tcp_ua.answer(digest_challenge(tcp_old, "MD5"), "bob", algorithm="MD5")
        self.assertChallenges(resp, stale=True)
        self.assertRegistered(tcp_ua.answer(digest_challenge(resp, "MD5"), "bob",
                                            algorithm="MD5"), tcp_ua)
        self.assertDeltas(before, {"auth_challenges": 3, "responses_401": 3, "auth_stale": 2,
                                   "auth_failures": 1, "auth_successes": 2})


# ---------------------------------------------------------------------------
# Lockout


class Lockout(AuthCase):
    shards = 1
    daemon_flags = ("--auth_max_failures=3", "--auth_failure_window=2")

    def src(self, n):
        """A UDP client whose source address is 127.0.0.n (loopback)."""
        return self.udp(bind="127.0.0.%d" % n)

    def fail(self, source, username, aor_user=None, algorithm="SHA-256"):
        ua = Ua(source, aor_user or username, from_user=username)
        _, resp = ua.login(username, password="wrong-%s" % secrets.token_hex(2),
                           algorithm=algorithm)
        self.assertChallenges(resp)

    def assertLockedOut(self, resp, window=2):
        self.assertStatus(resp, 403, "Too Many Failed Attempts")
        retry = resp.get("Retry-After")
        self.assertIsNotNone(retry, "403 Too Many Failed Attempts without Retry-After:\n"
                             + resp.dump())
        self.assertTrue(retry.isdigit() and 1 <= int(retry) <= window,
                        "Retry-After %r not within 1..%d:\n%s" % (retry, window, resp.dump()))
        self.assertEqual(resp.count("WWW-Authenticate"), 0, resp.dump())
        return int(retry)

    def test_user_and_source_lockout_then_recovery(self):
        before = self.stats()
        # carol: two failures now, two more after the window: never locked
        # (only failures within one window count).
        self.fail(self.src(8), "carol", algorithm="MD5")
        self.fail(self.src(9), "carol", algorithm="MD5")

        # Per user: three failures for alice from three addresses (one each).
        for n in (2, 3, 4):
            self.fail(self.src(n), "alice")
        ua = Ua(self.src(5), "alice")
        first = ua.challenge()  # the source is fine: a challenge
        retry_user = self.assertLockedOut(ua.answer(first, "alice", algorithm="SHA-256"))
        retry_user = max(retry_user, self.assertLockedOut(
            ua.answer(digest_challenge(first, "MD5"), "alice", algorithm="MD5")))
        # ... while bob from the same address is fine.
        _, resp = Ua(self.src(5), "bob").login("bob")
        self.assertStatus(resp, 200)

        # Per source: three failures from 127.0.0.6 by three unknown users.
        s6 = self.src(6)
        for _ in range(3):
            self.fail(s6, h.unique_user("guess"))
        bob6 = Ua(s6, "bob")
        retry_source = self.assertLockedOut(bob6.send())  # no credentials: refused too
        self.assertLockedOut(bob6.answer(first, "bob", algorithm="SHA-256"))
        # OPTIONS is never challenged, not even from a locked-out address.
        self.assertStatus(s6.request(s6.options(domain=DOMAIN)), 200)
        # bob from another address is fine.
        _, resp = Ua(self.src(7), "bob").login("bob")
        self.assertStatus(resp, 200)

        # 401s: carol 2x2, alice 3x2, the challenge from .5, bob's login, the
        # guesses 3x2, bob's login from .7.
        stats = self.assertDeltas(before, {
            "auth_challenges": 4 + 6 + 1 + 1 + 6 + 1,
            "responses_401": 4 + 6 + 1 + 1 + 6 + 1,
            "auth_failures": 2 + 3 + 3, "auth_successes": 2, "auth_locked_out": 4})

        # After Retry-After, both are let in again.
        time.sleep(max(retry_user, retry_source) + 0.5)
        _, resp = Ua(self.src(5), "alice").login("alice")
        self.assertStatus(resp, 200)
        _, resp = Ua(s6, "bob").login("bob", algorithm="MD5")
        self.assertStatus(resp, 200)
        # carol's first two failures lie in a window now past.
        self.fail(self.src(10), "carol", algorithm="MD5")
        self.fail(self.src(11), "carol", algorithm="MD5")
        _, resp = Ua(self.src(12), "carol").login("carol", algorithm="MD5")
        self.assertStatus(resp, 200)
        self.assertDeltas(stats, {"auth_challenges": 1 + 1 + 4 + 1,
                                  "responses_401": 1 + 1 + 4 + 1, "auth_failures": 2,
                                  "auth_successes": 3})

    def test_failures_are_401_until_the_limit(self):
        # The first max_failures wrong answers are ordinary 401s with fresh
        # challenges; the next attempt, even with the right password, is 403.
        s = self.src(40)
        user = "dave"
        for _ in range(3):
            self.fail(s, user)
        ua = Ua(self.src(41), user)
        self.assertLockedOut(ua.answer(ua.challenge(), user, algorithm="SHA-256"))


class LockoutAcrossShards(AuthCase):
    """--shards=2: the limits are per user and per source address, whichever
    shard owns the AORs the failures were made against."""
    shards = 2
    daemon_flags = ("--auth_max_failures=3", "--auth_failure_window=60")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Which shard owns which of multi's AORs: a challenge is counted by the
        # shard that answers it.
        cls.by_shard = {0: [], 1: []}
        with cls.daemon.admin() as admin, UdpClient(cls.daemon.udp_addr) as c:
            before = admin.stats()
            for aor in MULTI_AORS:
                want = counters(before)["auth_challenges"] + 1
                Ua(c, aor[4:aor.index("@")]).challenge()
                after = h.wait_stats(admin, lambda st: counters(st)["auth_challenges"] >= want)
                for s in (0, 1):
                    if counters(after, s)["auth_challenges"] > counters(before, s)["auth_challenges"]:
                        cls.by_shard[s].append(aor[4:aor.index("@")])
                before = after

    def setUp(self):
        super().setUp()
        if not (len(self.by_shard[0]) >= 2 and len(self.by_shard[1]) >= 2):
            self.fail("multi's 16 AORs are not spread over both shards: %s" % self.by_shard)

    def test_source_failures_on_both_shards_add_up(self):
        s = self.udp(bind="127.0.0.20")
        a, b = self.by_shard[0][0], self.by_shard[1][0]
        for aor_user in (a, a, b):  # 2 failures on shard 0, 1 on shard 1
            user = h.unique_user("guess")
            _, resp = Ua(s, aor_user, from_user=user).login(user, password="x")
            self.assertStatus(resp, 401)
        # Three failures from this address: locked out, whichever AOR.
        for aor_user in (a, b):
            resp = Ua(s, aor_user).send()
            self.assertStatus(resp, 403, "Too Many Failed Attempts")

    def test_user_failures_on_both_shards_add_up(self):
        a, b = self.by_shard[0][1], self.by_shard[1][1]
        for n, aor_user in ((21, a), (22, a), (23, b)):
            _, resp = Ua(self.udp(bind="127.0.0.%d" % n), aor_user, from_user="multi").login(
                "multi", password="wrong")
            self.assertStatus(resp, 401)
        # Three failures for multi: locked out, whichever AOR.
        for aor_user in (a, b):
            _, resp = Ua(self.udp(bind="127.0.0.24"), aor_user, from_user="multi").login("multi")
            self.assertStatus(resp, 403, "Too Many Failed Attempts")


# ---------------------------------------------------------------------------
# Users-file reload


class Reload(AuthCase):
    users = DEFAULT_USERS + [user_entry("loader", "password")]
    FRANK_AORS = ["sip:f%d@example.com" % i for i in range(8)]

    def reload(self):
        return self.admin.request({"cmd": "reload_users"}, timeout=5.0)

    def login(self, username, aor_user=None, algorithm="SHA-256"):
        ua = self.ua(aor_user or username, from_user=username)
        return ua.login(username, algorithm=algorithm)[1]

    def test_reload_under_traffic(self):
        path = self.daemon.users_path
        with h.AuthSipLoad(self.daemon.udp_addr, "loader", PASSWORDS["loader"],
                           max_seconds=30.0) as load:
            self.assertTrue(load.wait_for(5), "the authenticated load does not get 200s: %s"
                            % load.failures[:5])
            # 1. frank added, bob removed (atomic replace), under load.
            new_users = [u for u in self.users if u["username"] != "bob"] + [
                user_entry("frank", "ha1", self.FRANK_AORS)]
            write_users(path, new_users)
            answer = self.reload()
            self.assertIs(answer.get("ok"), True, answer)
            self.assertEqual(answer.get("users"), len(new_users), answer)
            plaintext = [u["username"] for u in new_users if "password" in u]
            self.assertEqual(len(answer.get("warnings", [])), len(plaintext),
                             "one warning per plaintext password: %r" % answer)
            for name in plaintext:
                self.assertTrue(any(name in w for w in answer["warnings"]), answer)
            self.assertTrue(load.wait_for(3), load.failures[:5])
            for i, aor in enumerate(self.FRANK_AORS):  # both shards took the new file
                resp = self.login("frank", aor[4:aor.index("@")],
                                  "SHA-256" if i % 2 else "MD5")
                self.assertStatus(resp, 200)
            for algorithm in ("SHA-256", "MD5"):
                self.assertChallenges(self.login("bob", algorithm=algorithm))

            # 2. Bad files: each refused whole, the users in force stay.
            bad_files = {
                "not JSON": '{"users": [',
                "no users list": '{"people": []}',
                "users not a list": '{"users": {"username": "x"}}',
                "unknown key": json.dumps({"users": new_users[:1] + [
                    dict(user_entry("bob", "ha1"), admin=True)]}),
                "bad hex": json.dumps({"users": new_users + [
                    dict(user_entry("bob", "ha1"), ha1_md5="0" * 31 + "g")]}),
                "short HA1": json.dumps({"users": new_users + [
                    dict(user_entry("bob", "ha1"), ha1_sha256="ab" * 31)]}),
                "duplicate": json.dumps({"users": new_users + [user_entry("alice", "ha1")]}),
                "no credential": json.dumps({"users": new_users + [{"username": "bob"}]}),
                "bad AOR": json.dumps({"users": new_users + [
                    user_entry("bob", "ha1", ["mailto:bob@example.com"])]}),
                "not a string": json.dumps({"users": new_users + [
                    {"username": "bob", "password": 12345}]}),
            }
            for label, text in bad_files.items():
                # A bad file that does add bob and removes nobody else: if
                # accepted, bob would get in and frank could vanish.
                write_users(path, text=text)
                answer = self.reload()
                self.assertIs(answer.get("ok"), False, "%s: accepted: %r" % (label, answer))
                self.assertTrue(answer.get("error"), "%s: no error text: %r" % (label, answer))
            os.unlink(path)
            answer = self.reload()
            self.assertIs(answer.get("ok"), False, "missing file accepted: %r" % answer)
            self.assertIn("users.json", answer.get("error", ""), answer)
            self.assertTrue(load.wait_for(3), load.failures[:5])
            self.assertStatus(self.login("frank", "f0"), 200)
            self.assertStatus(self.login("alice", "desk"), 200)
            self.assertChallenges(self.login("bob"))

            # 3. The file rewritten in place (not renamed): bob back, frank gone.
            with open(path, "w") as f:
                f.write(json.dumps({"users": self.users}))
            answer = self.reload()
            self.assertIs(answer.get("ok"), True, answer)
            self.assertEqual(answer.get("users"), len(self.users), answer)
            self.assertStatus(self.login("bob", algorithm="MD5"), 200)
            self.assertChallenges(self.login("frank", "f1"))
            self.assertTrue(load.wait_for(3), load.failures[:5])
        self.assertEqual(load.failures, [], "the load saw other answers than 401 then 200")
        self.assertGreater(load.ok, 10)


class ReloadWithAuthOff(LocusTestCase):

    def test_reload_refused_and_startup_warns(self):
        with Locusd(["--shards=1"], admin=True) as d:
            with d.admin() as admin:
                answer = admin.request({"cmd": "reload_users"})
            self.assertIs(answer.get("ok"), False, answer)
            self.assertIn("auth", answer.get("error", ""), answer)
            # Open by default, and it says so.
            c = UdpClient(d.udp_addr)
            try:
                resp = c.request(c.register(contacts=[c.contact("x")], expires=600))
            finally:
                c.close()
            self.assertStatus(resp, 200)
            self.assertIn("authentication off", d.stderr_text())


# ---------------------------------------------------------------------------
# The nonce secret


class NonceSecret(LocusTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="locus-auth-")
        if os.environ.get("LOCUS_KEEP_TMP") != "1":
            self.addCleanup(shutil.rmtree, self.tmp, True)

    def daemon(self, data_dir, flags=()):
        return auth_daemon(flags=["--data_dir=" + data_dir] + list(flags), shards=1)

    def challenges(self, d, n):
        c = UdpClient(d.udp_addr)
        try:
            return [Ua(c, "alice").challenge() for _ in range(n)]
        finally:
            c.close()

    def answer(self, d, first, algorithm="SHA-256"):
        c = UdpClient(d.udp_addr)
        try:
            ua = Ua(c, "alice")
            return ua.answer(digest_challenge(first, algorithm), "alice", algorithm=algorithm)
        finally:
            c.close()

    def test_secret_made_once_and_kept_across_restart(self):
        data = os.path.join(self.tmp, "data")
        d = self.daemon(data)
        try:
            old = self.challenges(d, 2)
            secret_path = os.path.join(data, "auth.secret")
            self.assertTrue(os.path.exists(secret_path), "no %s" % secret_path)
            mode = stat.S_IMODE(os.stat(secret_path).st_mode)
            self.assertEqual(mode & 0o077, 0, "auth.secret readable by others: %o" % mode)
            secret = open(secret_path).read().strip()
            self.assertRegex(secret, r"^[0-9a-f]{64}$")
        finally:
            stop_daemon(d)
        # The same data_dir after a restart: the old nonce is still ours.
        d = self.daemon(data)
        try:
            self.assertStatus(self.answer(d, old[0], "SHA-256"), 200)
            self.assertEqual(open(secret_path).read().strip(), secret, "secret replaced")
        finally:
            stop_daemon(d)
        # Another data_dir, another secret: not our nonce (a failure, not stale).
        d = self.daemon(os.path.join(self.tmp, "other"))
        try:
            resp = self.answer(d, old[1], "MD5")
            self.assertStatus(resp, 401)
            self.assertFalse(any(c.stale for c in digest_challenges(resp)), resp.dump())
        finally:
            stop_daemon(d)

    def test_configured_secret(self):
        secret = secrets.token_hex(32)
        d = self.daemon(os.path.join(self.tmp, "a"), ["--auth_secret=" + secret])
        try:
            old = self.challenges(d, 1)
        finally:
            stop_daemon(d)
        d = self.daemon(os.path.join(self.tmp, "b"), ["--auth_secret=" + secret])
        try:
            self.assertStatus(self.answer(d, old[0], "MD5"), 200)
        finally:
            stop_daemon(d)
        d = self.daemon(os.path.join(self.tmp, "c"), ["--auth_secret=" + secrets.token_hex(32)])
        try:
            self.assertStatus(self.answer(d, old[0], "SHA-256"), 401)
        finally:
            stop_daemon(d)


# ---------------------------------------------------------------------------
# Counters


class Counters(AuthCase):
    daemon_flags = ("--auth_max_failures=3", "--auth_failure_window=60")

    def test_counters_exact(self):
        before = self.stats()
        c = self.udp()
        alice = Ua(c, "alice")
        first = alice.challenge()                                          # 401
        sha = digest_challenge(first, "SHA-256")
        self.assertStatus(alice.answer(sha, "alice", algorithm="SHA-256"), 200)  # success
        self.assertStatus(alice.answer(sha, "alice", algorithm="SHA-256"), 401)  # replay
        self.assertStatus(alice.answer(digest_challenge(first, "MD5"), "alice",
                                       password="wrong", algorithm="MD5"), 401)  # failure
        nobody = h.unique_user("nobody")
        self.assertStatus(Ua(c, nobody).answer(first, nobody, password="x",
                                               algorithm="MD5"), 401)     # failure
        bob = Ua(c, "alice", from_user="bob")
        self.assertStatus(bob.answer(first, "bob", algorithm="SHA-256", nc=7), 403)  # forbidden
        self.assertStatus(alice.answer(first, "alice", algorithm="SHA-256", omit=["cnonce"]),
                          400)                                             # malformed
        self.assertStatus(alice.answer(first, "alice", algorithm="SHA-256", nc="1"), 400)
        s = self.udp(bind="127.0.0.30")
        for _ in range(3):  # against bob's AOR: one shard (LockoutAcrossShards for more)
            user = h.unique_user("guess")
            self.assertStatus(Ua(s, "bob", from_user=user).answer(first, user, password="x"),
                              401)                                         # failures
        self.assertStatus(Ua(s, "bob").answer(first, "bob", algorithm="MD5", nc=9), 403)
        self.assertStatus(Ua(s, "bob").send(), 403)                       # locked out x2
        self.assertStatus(Ua(c, "dave").send(), 401)                      # 127.0.0.1: 2 failures
        stats = self.assertDeltas(before, {
            "auth_challenges": 8, "responses_401": 8, "auth_successes": 1, "auth_failures": 5,
            "auth_replays": 1, "auth_forbidden": 1, "auth_malformed": 2, "auth_locked_out": 2,
            "auth_stale": 0})
        for name in ("responses_400", "responses_403"):
            self.assertEqual(counters(stats)[name] - counters(before)[name],
                             {"responses_400": 2, "responses_403": 3}[name], name)
        # Totals are the sums of the shards.
        for name in AUTH_COUNTERS:
            self.assertEqual(counters(stats)[name],
                             sum(counters(stats, i)[name] for i in range(stats["shard_count"])),
                             name)


# ---------------------------------------------------------------------------
# Start-up


class StartUp(LocusTestCase):

    def run_with_users(self, text, extra=()):
        work = tempfile.mkdtemp(prefix="locusd-auth-cfg-")
        try:
            path = os.path.join(work, "users.json")
            if text is not None:
                with open(path, "w") as f:
                    f.write(text)
            port = h.free_port()
            flags = ["--udp=127.0.0.1:%d" % port, "--tcp=127.0.0.1:%d" % port, "--shards=1",
                     "--auth=true", "--auth_realm=" + REALM, "--users_file=" + path] + list(extra)
            return h.run_locusd_expecting_exit(flags, cwd=work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_bad_users_file_exit_2(self):
        ok = [user_entry("alice", "password")]
        cases = {
            "missing file": None,
            "not JSON": "{users:",
            "empty": "",
            "no users list": "{}",
            "unknown key": json.dumps({"users": [dict(ok[0], role="admin")]}),
            "bad hex": json.dumps({"users": [{"username": "bob", "ha1_md5": "z" * 32}]}),
            "short sha256": json.dumps({"users": [{"username": "bob", "ha1_sha256": "a" * 63}]}),
            "duplicate": json.dumps({"users": ok + ok}),
            "no credential": json.dumps({"users": [{"username": "bob", "aors": []}]}),
            "no username": json.dumps({"users": [{"password": "x"}]}),
            "quote in username": json.dumps({"users": [{"username": 'b"ob', "password": "x"}]}),
            "bad AOR": json.dumps({"users": [dict(ok[0], aors=["not a uri"])]}),
        }
        for label, text in cases.items():
            rc, err = self.run_with_users(text)
            self.assertEqual(rc, 2, "%s: exit %s (expected 2)\n%s" % (label, rc, err))
            self.assertIn("users.json", err, "%s: the error should name the file:\n%s"
                          % (label, err))

    def test_bad_auth_settings_exit_2(self):
        good = json.dumps({"users": [user_entry("alice", "password")]})
        for extra in (["--auth_algorithms=SHA-1"], ["--auth_algorithms="],
                      ["--auth_secret=abc"], ["--auth_secret=" + "g" * 64],
                      ["--nonce_lifetime=0"], ["--auth_failure_window=0"],
                      ["--auth=maybe"]):
            rc, err = self.run_with_users(good, extra)
            self.assertEqual(rc, 2, "%s: exit %s (expected 2)\n%s" % (extra, rc, err))
        # auth on without a users file.
        port = h.free_port()
        rc, err = h.run_locusd_expecting_exit(["--udp=127.0.0.1:%d" % port, "--tcp=",
                                               "--auth=true"])
        self.assertEqual(rc, 2, err)
        self.assertIn("users_file", err)

    def test_good_file_starts_with_plaintext_warning(self):
        d = auth_daemon([user_entry("alice", "password"), user_entry("bob", "ha1")], shards=1,
                        start=False)
        with d:
            pass
        err = d.stderr_text()
        self.assertIn("authentication on", err)
        warnings = [l for l in err.splitlines() if "plaintext" in l]
        self.assertEqual(len(warnings), 1, err)  # alice only
        self.assertIn("alice", warnings[0])
        d.cleanup()


if __name__ == "__main__":
    h.run_unittests()
