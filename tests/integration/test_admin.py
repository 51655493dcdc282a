#!/usr/bin/env python3
"""locusd's admin socket and locusctl (docs/admin.md), against real daemons
with two shards on loopback:

  Counters    every counter moves exactly as the traffic sent says (requests by
              method, responses by status, binding changes, parse errors,
              retransmissions, hand-offs, UDP and TCP traffic, TCP connections)
              and the latency histogram counts every response sent.
  Bindings    lookup returns every field of a binding; AORs are canonicalized;
              dump lists every binding exactly once (several chunks per shard),
              with --domain and --prefix filters; remove of one contact or a
              whole AOR is visible in the next REGISTER's 200.
  Robustness  malformed requests get errors on a connection that stays usable;
              over-long lines, vanishing and slow dump readers, too many
              clients; a background REGISTER loop keeps getting 200s.
  Locusctl    every command as an operator runs it; metrics parsed back as
              Prometheus text and compared with the JSON stats; exit codes.
  SocketFile  mode 0660, one live daemon per socket, a stale socket replaced.

Usage: test_admin.py --locusd PATH --locusctl PATH [unittest arguments, e.g. -k Dump]
Bounded: every test by LocusTestCase's alarm, every wait by a timeout.
"""

import json
import os
import re
import secrets
import stat
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import SharedDaemonCase, counters  # noqa: E402
from locus_harness import (AdminClosed, LocusTestCase, Locusd, TcpClient,  # noqa: E402
                           UdpClient)

POLICY = ["--shards=2", "--min_expires=60", "--default_expires=3600", "--max_expires=7200",
          "--max_contacts=16"]

# The counters and gauges docs/admin.md lists, in its order.
DOC_COUNTERS = """requests_received handed_off handoffs_received responses_sent parse_errors
responses_ignored retransmissions_absorbed retransmissions_before_answer queue_overflows send_errors udp_packets_in
udp_bytes_in udp_packets_out udp_bytes_out tcp_bytes_in tcp_bytes_out tcp_accepted tcp_closed
tcp_refused tcp_request_timeouts tls_handshakes tls_handshake_failures tls_handshake_timeouts tls_refused ws_upgrades
ws_upgrade_failures requests_register requests_options requests_cancel requests_ack requests_invite
requests_other lookups invite_retransmissions acks_absorbed stun_requests stun_invalid
bindings_created bindings_refreshed bindings_removed bindings_expired capacity_refused
auth_challenges
auth_successes auth_failures auth_stale auth_replays auth_forbidden auth_malformed auth_locked_out
auth_certificates
journal_commits journal_bytes journal_failures journal_undone snapshots snapshot_failures
cluster_commits cluster_conflicts cluster_turn_waits cluster_failures cluster_waiting_refused cluster_reads
cluster_invalidations cluster_unanswerable
hep_packets hep_errors trace_dropped
responses_200 responses_302 responses_400 responses_401 responses_403 responses_404 responses_405
responses_416 responses_420 responses_423 responses_439 responses_480 responses_481 responses_500
responses_503 responses_513 responses_other""".split()
DOC_GAUGES = ["aors", "bindings", "tcp_connections", "tls_connections", "ws_connections",
              "wss_connections"]
BINDING_KEYS = {"aor", "contact", "expires", "call_id", "cseq", "source", "transport",
                "user_agent", "registered_at", "refreshed_at"}


# ---------------------------------------------------------------------------
# Helpers


def start_daemon(flags=()):
    d = Locusd(POLICY + list(flags), admin=True)
    d.__enter__()
    return d



def gauges(stats, shard=None):
    return (stats["totals"] if shard is None else stats["shards"][shard])["gauges"]


def latency(stats, shard=None):
    return (stats["totals"] if shard is None else stats["shards"][shard])["latency"]


def delta(after, before, name, shard=None):
    return counters(after, shard)[name] - counters(before, shard)[name]


def gauge_delta(after, before, name, shard=None):
    return gauges(after, shard)[name] - gauges(before, shard)[name]


def contact_uri(tag, i):
    return "sip:%s%d@127.0.0.1:%d" % (tag, i, 20000 + i % 40000)


def register_bulk(server, items, sockets=16, window=48):
    """items: list of (user, domain, [contact values]). Registers each once
    (expires 3600) from `sockets` UDP sockets; every answer must be a 200.
    Returns the list of (client, Request) sent."""
    clients = [UdpClient(server) for _ in range(sockets)]
    try:
        reqs = []
        for k, (user, domain, contacts) in enumerate(items):
            c = clients[k % sockets]
            reqs.append((c, c.register(user=user, domain=domain, contacts=contacts, expires=3600)))
        answers = h.udp_exchange(reqs, window=window, give_up=10.0)
        for (c, req), resp in zip(reqs, answers):
            if resp.status != 200:
                raise AssertionError("REGISTER answered %d:\n%s" % (resp.status, resp.dump()))
        return reqs
    finally:
        for c in clients:
            c.close()


class AdminCase(SharedDaemonCase):
    """A test class with a daemon of its own (setUpClass), an admin connection
    per test, and helpers."""

    daemon_flags = ()
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = start_daemon(cls.daemon_flags)
        try:
            cls.prepare()
        except BaseException:
            cls.daemon.kill()
            cls.daemon.cleanup()
            raise

    @classmethod
    def prepare(cls):
        pass

    def udp(self):
        c = UdpClient(self.daemon.udp_addr)
        self.addCleanup(c.close)
        return c

    def assertLatencyCountsResponses(self, stats):
        """docs/admin.md: the latency histogram counts every response (receive
        to send), i.e. what responses_sent counts, per shard and in total."""
        for shard in [None] + list(range(stats["shard_count"])):
            self.assertEqual(latency(stats, shard)["count"], counters(stats, shard)["responses_sent"],
                             "shard %s: latency count != responses_sent: %s"
                             % (shard, json.dumps(stats["shards"])))

    def assertBindingShape(self, b):
        missing = BINDING_KEYS - set(b)
        self.assertFalse(missing, "binding without %s: %r" % (sorted(missing), b))
        self.assertIsInstance(b["expires"], int)
        self.assertIsInstance(b["cseq"], int)


# ---------------------------------------------------------------------------
# 1. Counters


class Counters(AdminCase):
    N = 500
    SOCKETS = 16

    def test_register_refresh_remove_counted_exactly(self):
        n, k = self.N, self.N // 2
        clients = [self.udp() for _ in range(self.SOCKETS)]
        run = secrets.token_hex(3)
        users = ["cnt%d-%s" % (i, run) for i in range(n)]
        call_ids = [h.new_call_id() for _ in range(n)]

        def regs(cseq, expires, count):
            out = []
            for i in range(count):
                c = clients[i % self.SOCKETS]
                out.append((c, c.register(user=users[i], domain="count.test", call_id=call_ids[i],
                                          cseq=cseq, contacts=["<%s>" % contact_uri("cnt", i)],
                                          expires=expires)))
            return out

        def check_answers(answers, phase, listed):
            for i, resp in enumerate(answers):
                self.assertEqual(resp.status, 200, "%s %d:\n%s" % (phase, i, resp.dump()))
                self.assertEqual([c.uri for c in resp.contacts()],
                                 [contact_uri("cnt", i)] if listed else [], resp.dump())

        base = h.quiet_stats(self.admin)
        self.assertLatencyCountsResponses(base)

        # N new AORs, each sent exactly once.
        check_answers(h.udp_exchange(regs(1, 3600, n), window=32), "register", True)
        s1 = h.wait_stats(self.admin, lambda s: gauge_delta(s, base, "bindings") == n
                          and delta(s, base, "udp_packets_out") == n)
        for name, want in [("requests_received", n), ("requests_register", n),
                           ("responses_200", n), ("responses_sent", n), ("bindings_created", n),
                           ("bindings_refreshed", 0), ("bindings_removed", 0),
                           ("udp_packets_in", n), ("udp_packets_out", n), ("parse_errors", 0),
                           ("retransmissions_absorbed", 0), ("requests_options", 0),
                           ("responses_other", 0), ("queue_overflows", 0), ("send_errors", 0)]:
            self.assertEqual(delta(s1, base, name), want, "%s after %d REGISTERs" % (name, n))
        self.assertEqual(gauge_delta(s1, base, "bindings"), n)
        self.assertEqual(gauge_delta(s1, base, "aors"), n)
        self.assertEqual(sum(delta(s1, base, "requests_received", i) for i in range(2)), n)
        self.assertGreater(delta(s1, base, "handed_off"), 0, "no request was handed off")
        self.assertEqual(delta(s1, base, "handed_off"), delta(s1, base, "handoffs_received"))
        for i in range(2):
            other = 1 - i
            ctx = "shard %d: %s" % (i, json.dumps(s1["shards"][i]))
            self.assertGreater(delta(s1, base, "requests_received", i), 0, ctx)
            # Counted by method where received, by status where sent (the owner).
            self.assertEqual(delta(s1, base, "requests_register", i),
                             delta(s1, base, "requests_received", i), ctx)
            self.assertEqual(delta(s1, base, "handoffs_received", i),
                             delta(s1, base, "handed_off", other), ctx)
            self.assertEqual(delta(s1, base, "responses_200", i),
                             delta(s1, base, "bindings_created", i), ctx)
            self.assertEqual(gauge_delta(s1, base, "bindings", i),
                             delta(s1, base, "bindings_created", i), ctx)
            self.assertEqual(delta(s1, base, "bindings_created", i),
                             delta(s1, base, "requests_received", i)
                             - delta(s1, base, "handed_off", i)
                             + delta(s1, base, "handoffs_received", i), ctx)
        self.assertLatencyCountsResponses(s1)

        # N refreshes: same Call-ID, higher CSeq, same contact.
        check_answers(h.udp_exchange(regs(2, 3600, n), window=32), "refresh", True)
        s2 = h.wait_stats(self.admin, lambda s: delta(s, s1, "udp_packets_out") == n)
        for name, want in [("requests_register", n), ("responses_200", n),
                           ("bindings_refreshed", n), ("bindings_created", 0),
                           ("bindings_removed", 0)]:
            self.assertEqual(delta(s2, s1, name), want, "%s after %d refreshes" % (name, n))
        self.assertEqual(gauge_delta(s2, s1, "bindings"), 0)
        self.assertEqual(gauge_delta(s2, s1, "aors"), 0)

        # K removals (Expires: 0): AORs without bindings are gone too.
        check_answers(h.udp_exchange(regs(3, 0, k), window=32), "remove", False)
        s3 = h.wait_stats(self.admin, lambda s: gauge_delta(s, s1, "bindings") == -k
                          and delta(s, s2, "udp_packets_out") == k)
        for name, want in [("requests_register", k), ("responses_200", k),
                           ("bindings_removed", k), ("bindings_created", 0),
                           ("bindings_refreshed", 0)]:
            self.assertEqual(delta(s3, s2, name), want, "%s after %d removals" % (name, k))
        self.assertEqual(gauges(s3)["bindings"] - gauges(base)["bindings"], n - k)
        self.assertEqual(gauges(s3)["aors"] - gauges(base)["aors"], n - k)
        self.assertLatencyCountsResponses(s3)

    def test_options_counted(self):
        m = 12
        clients = [self.udp() for _ in range(4)]
        base = h.quiet_stats(self.admin)
        reqs = [(clients[i % 4], clients[i % 4].options()) for i in range(m)]
        for resp in h.udp_exchange(reqs):
            self.assertEqual(resp.status, 200, resp.dump())
        after = h.wait_stats(self.admin, lambda s: delta(s, base, "udp_packets_out") == m)
        for name, want in [("requests_options", m), ("requests_received", m), ("responses_200", m),
                           ("responses_sent", m), ("requests_register", 0),
                           ("bindings_created", 0)]:
            self.assertEqual(delta(after, base, name), want, name)
        self.assertLatencyCountsResponses(after)

    def test_garbage_datagrams_are_parse_errors(self):
        clients = [self.udp() for _ in range(3)]
        rnd = h.random.Random(5)
        garbage = [bytes(rnd.randrange(1, 256) for _ in range(200)) for _ in range(3)]
        garbage += [b"hello world\r\n\r\n", b"this is not SIP", b"@@@@ @@@ @@\r\nX: y\r\n\r\n"]
        base = h.quiet_stats(self.admin)
        for j, g in enumerate(garbage):
            clients[j % 3].send(g)
        # An OPTIONS from each socket after its garbage: answered, the garbage
        # before it has been read by the same shard.
        for c in clients:
            self.assertEqual(c.request(c.options(), retransmit=False).status, 200)
        after = h.wait_stats(self.admin, lambda s: delta(s, base, "parse_errors") >= len(garbage)
                             and delta(s, base, "udp_packets_out") == 3)
        for name, want in [("parse_errors", len(garbage)), ("udp_packets_in", len(garbage) + 3),
                           ("requests_received", 3), ("requests_options", 3),
                           ("responses_sent", 3), ("responses_ignored", 0)]:
            self.assertEqual(delta(after, base, name), want, name)
        # A SIP response sent to a registrar is counted, not answered.
        c = clients[0]
        c.send(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\nFrom: <sip:a@b>;tag=1\r\n"
               b"To: <sip:a@b>;tag=2\r\nCall-ID: x@y\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
               % (c.local_port, h.new_branch().encode()))
        self.assertEqual(c.request(c.options(), retransmit=False).status, 200)
        after2 = h.wait_stats(self.admin, lambda s: delta(s, after, "responses_ignored") >= 1)
        self.assertEqual(delta(after2, after, "responses_ignored"), 1)
        self.assertEqual(delta(after2, after, "parse_errors"), 0)

    def test_retransmission_absorbed(self):
        r = 4
        c = self.udp()
        base = h.quiet_stats(self.admin)
        for i in range(r):
            user = h.unique_user("rtx")
            req = c.register(user=user, domain="count.test",
                             contacts=["<sip:%s@127.0.0.1:5999>" % user], expires=600)
            first = c.request(req, retransmit=False)
            self.assertEqual(first.status, 200, first.dump())
            c.send(req)  # the same bytes again
            second = c.wait_for(req, timeout=4.0)
            self.assertIsNotNone(second, "no answer to the retransmission")
            self.assertEqual((second.status, second.tag()), (200, first.tag()), second.dump())
        after = h.wait_stats(self.admin, lambda s: delta(s, base, "udp_packets_out") == 2 * r)
        for name, want in [("retransmissions_absorbed", r), ("responses_sent", 2 * r),
                           ("responses_200", r), ("requests_received", 2 * r),
                           ("requests_register", 2 * r), ("bindings_created", r),
                           ("bindings_refreshed", 0)]:
            self.assertEqual(delta(after, base, name), want, name)
        self.assertLatencyCountsResponses(after)

    def test_tcp_connections(self):
        conns = 3
        base = h.quiet_stats(self.admin)
        clients = []
        sent = received = 0
        try:
            for j in range(conns):
                t = TcpClient(self.daemon.tcp_addr)
                clients.append(t)
                user = h.unique_user("tcp")
                req = t.register(user=user, domain="count.test",
                                 contacts=["<sip:%s@127.0.0.1:5998;transport=tcp>" % user],
                                 expires=600)
                resp = t.request(req)
                self.assertEqual(resp.status, 200, resp.dump())
                sent += len(req.to_bytes())
                received += len(resp.raw)
            mid = h.wait_stats(self.admin, lambda s: gauge_delta(s, base, "tcp_connections") == conns
                               and delta(s, base, "tcp_bytes_out") == received)
            for name, want in [("tcp_accepted", conns), ("tcp_closed", 0),
                               ("tcp_bytes_in", sent), ("tcp_bytes_out", received),
                               ("requests_register", conns), ("responses_200", conns),
                               ("bindings_created", conns), ("udp_packets_in", 0)]:
                self.assertEqual(delta(mid, base, name), want, name)
            self.assertEqual(gauge_delta(mid, base, "tcp_connections"), conns)
            self.assertEqual(sum(s["tcp_connections"] for s in self.admin.ok({"cmd": "shards"})["shards"])
                             - gauges(base)["tcp_connections"], conns)
        finally:
            for t in clients:
                t.close()
        end = h.wait_stats(self.admin, lambda s: gauges(s)["tcp_connections"] == gauges(base)["tcp_connections"]
                           and delta(s, base, "tcp_closed") == conns)
        self.assertEqual(delta(end, base, "tcp_closed"), conns)
        self.assertEqual(gauges(end)["tcp_connections"], gauges(base)["tcp_connections"])
        self.assertLatencyCountsResponses(end)

    def test_shards_agree_with_stats(self):
        stats = h.quiet_stats(self.admin)
        shards = self.admin.ok({"cmd": "shards"})["shards"]
        self.assertEqual([s["shard"] for s in shards], [0, 1])
        for s in shards:
            i = s["shard"]
            self.assertEqual(s["requests_received"], counters(stats, i)["requests_received"])
            self.assertEqual(s["handed_off"], counters(stats, i)["handed_off"])
            self.assertEqual(s["aors"], gauges(stats, i)["aors"])
            self.assertEqual(s["bindings"], gauges(stats, i)["bindings"])
            self.assertLess(s["heartbeat_age_ms"], 2000)
        self.assertEqual(set(counters(stats)), set(DOC_COUNTERS), "counters differ from docs/admin.md")
        self.assertEqual(set(gauges(stats)), set(DOC_GAUGES))
        for name in DOC_COUNTERS:
            self.assertEqual(counters(stats)[name], sum(counters(stats, i)[name] for i in range(2)), name)


# ---------------------------------------------------------------------------
# 2. lookup, dump, remove


class Bindings(AdminCase):
    BULK = 4000
    model = None  # {canonical aor: {contact: q or None}}
    bulk = None   # the AORs registered by prepare()

    @classmethod
    def prepare(cls):
        cls.model = {}
        items = []
        for i in range(cls.BULK):
            user = ("+1415555%04d" % i) if i % 10 == 0 else "bk%d" % i
            domain = "other.test" if i % 4 == 1 else "example.com"
            contacts = {contact_uri("bk", i): None}
            if i % 7 == 0:
                contacts["sip:bk%d-b@127.0.0.1:%d" % (i, 30000 + i)] = 0.5
            values = [("<%s>;q=0.5" % u) if q else "<%s>" % u for u, q in contacts.items()]
            items.append((user, domain, values))
            cls.model["sip:%s@%s" % (user, domain)] = contacts
        register_bulk(cls.daemon.udp_addr, items)
        cls.bulk = set(cls.model)

    def expected_pairs(self, keep=lambda aor: True):
        return sorted((aor, uri) for aor, cs in self.model.items() if keep(aor) for uri in cs)

    def dump_pairs(self, **filters):
        bindings, final = self.admin.dump(**filters)
        self.assertEqual(final.get("ok"), True, final)
        self.assertEqual(final.get("done"), True, final)
        self.assertEqual(final.get("count"), len(bindings), "final count vs lines: %r" % final)
        pairs = [(b["aor"], b["contact"]) for b in bindings]
        dupes = sorted({p for p in pairs if pairs.count(p) > 1}) if len(set(pairs)) != len(pairs) else []
        self.assertEqual(dupes, [], "bindings dumped more than once")
        for b in bindings[:50]:
            self.assertBindingShape(b)
        return sorted(pairs), bindings

    def test_dump_every_binding_once(self):
        pairs, bindings = self.dump_pairs()
        want = self.expected_pairs()
        self.assertGreater(len(want), 4 * 1000, "not enough bindings for several chunks per shard")
        missing = sorted(set(want) - set(pairs))
        extra = sorted(set(pairs) - set(want))
        self.assertEqual((missing[:5], extra[:5], len(missing), len(extra)), ([], [], 0, 0))
        stats = self.admin.stats()
        self.assertEqual(gauges(stats)["bindings"], len(pairs))
        for b in bindings:
            if b["aor"] not in self.bulk:
                continue
            self.assertTrue(3590 <= b["expires"] <= 3600, b)
            self.assertEqual(b["transport"], "UDP", b)
            self.assertEqual(b.get("q"), self.model[b["aor"]][b["contact"]], b)

    def test_dump_domain_filter(self):
        want = self.expected_pairs(lambda aor: aor.endswith("@other.test"))
        self.assertGreater(len(want), 900)
        pairs, _ = self.dump_pairs(domain="other.test")
        self.assertEqual(pairs, want)
        pairs, _ = self.dump_pairs(domain="OTHER.Test")  # host names are case-insensitive
        self.assertEqual(pairs, want)
        pairs, _ = self.dump_pairs(domain="nowhere.test")
        self.assertEqual(pairs, [])

    def test_dump_prefix_filter(self):
        for prefix in ("sip:+1415555", "sip:+14155550", "sip:bk3", "sip:zzz"):
            want = self.expected_pairs(lambda aor: aor.startswith(prefix))
            pairs, _ = self.dump_pairs(prefix=prefix)
            self.assertEqual(pairs, want, "prefix %s" % prefix)
        self.assertGreater(len(self.expected_pairs(lambda aor: aor.startswith("sip:+1415555"))), 400)

    def test_lookup_every_field(self):
        udp = self.udp()
        user = h.unique_user("fields")
        aor = "sip:%s@example.com" % user
        f1 = "sip:f1-%s@127.0.0.1:5071;transport=udp" % user
        f2 = "sip:f2-%s@127.0.0.1:5072;ob" % user
        instance = '"<urn:uuid:00000000-0000-1000-8000-%012x>"' % h.random.getrandbits(48)
        call_id = h.new_call_id()
        ua = "locus-test/1.0 (admin \u00e9)"
        t0 = time.time()
        resp = udp.request(udp.register(
            user=user, call_id=call_id, cseq=7, expires=1800,
            contacts=["<%s>;q=0.7;expires=600" % f1,
                      "<%s>;+sip.instance=%s;reg-id=1" % (f2, instance)],
            extra=[("User-Agent", ua), ("Supported", "path, outbound"),
                   ("Path", "<sip:edge.example.com;lr>")]), retransmit=False)
        self.assertEqual(resp.status, 200, resp.dump())
        answer = self.admin.ok({"cmd": "lookup", "aor": aor})
        t1 = time.time()
        self.assertEqual(answer["aor"], aor)
        got = {b["contact"]: b for b in answer["bindings"]}
        self.assertEqual(sorted(got), sorted([f1, f2]), answer)
        for uri, granted in ((f1, 600), (f2, 1800)):
            b = got[uri]
            self.assertBindingShape(b)
            self.assertEqual(b["aor"], aor)
            self.assertTrue(granted - 5 < b["expires"] <= granted, "%s: expires %r, granted %d"
                            % (uri, b["expires"], granted))
            self.assertEqual(b["call_id"], call_id)
            self.assertEqual(b["cseq"], 7)
            self.assertEqual(b["source"], "127.0.0.1:%d" % udp.local_port)
            self.assertEqual(b["transport"], "UDP")
            self.assertEqual(b["user_agent"], ua)
            self.assertTrue(int(t0) - 1 <= b["registered_at"] <= t1 + 1, b)
            self.assertTrue(int(t0) - 1 <= b["refreshed_at"] <= t1 + 1, b)
            self.assertIn("edge.example.com", b.get("path", ""), b)
        self.assertEqual(got[f1].get("q"), 0.7, got[f1])
        self.assertNotIn("q", got[f2], "q only when given: %r" % got[f2])
        self.assertIn(instance.strip('"<>'), got[f2].get("instance", ""), got[f2])
        self.assertEqual(got[f2].get("reg_id"), 1, got[f2])
        self.assertNotIn("instance", got[f1])
        self.assertNotIn("reg_id", got[f1])

        # A refresh of f1 over TCP: transport, source, CSeq and refreshed_at follow.
        time.sleep(1.1)
        with TcpClient(self.daemon.tcp_addr) as tcp:
            resp = tcp.request(tcp.register(user=user, call_id=call_id, cseq=8,
                                            contacts=["<%s>;expires=900" % f1],
                                            extra=[("User-Agent", "other-ua/2")]))
            self.assertEqual(resp.status, 200, resp.dump())
            b = {x["contact"]: x for x in self.admin.ok({"cmd": "lookup", "aor": aor})["bindings"]}[f1]
            self.assertEqual(b["transport"], "TCP", b)
            self.assertEqual(b["source"], "127.0.0.1:%d" % tcp.local_port, b)
            self.assertEqual(b["cseq"], 8, b)
            self.assertEqual(b["user_agent"], "other-ua/2", b)
            self.assertTrue(895 < b["expires"] <= 900, b)
            self.assertEqual(b["registered_at"], got[f1]["registered_at"], b)
            self.assertGreater(b["refreshed_at"], got[f1]["refreshed_at"], b)
        self.model[aor] = {f1: 0.7, f2: None}

    def test_invalid_utf8_becomes_replacement_character(self):
        udp = self.udp()
        user = h.unique_user("utf")
        uri = "sip:%s@127.0.0.1:5081" % user
        req = udp.register(user=user, domain="utf.test", contacts=["<%s>" % uri], expires=600,
                           extra=[("User-Agent", "ua-MARK-x \u00e9")])
        data = req.to_bytes().replace(b"MARK", b"\xff\xfe\xc3")
        udp.send(data)
        resp = udp.wait_for(req, timeout=4.0)
        self.assertIsNotNone(resp, "no answer to a REGISTER with a non-UTF-8 User-Agent")
        self.assertEqual(resp.status, 200, resp.dump())
        self.model["sip:%s@utf.test" % user] = {uri: None}
        # read_json decodes strictly: an answer that is not UTF-8 fails here.
        b = self.admin.ok({"cmd": "lookup", "aor": "sip:%s@utf.test" % user})["bindings"][0]
        ua = b["user_agent"]
        self.assertTrue(ua.startswith("ua-") and ua.endswith("-x \u00e9"), repr(ua))
        self.assertIn("\ufffd", ua, "invalid bytes should become U+FFFD: %r" % ua)
        self.assertNotIn("\udcff", ua)
        bindings, final = self.admin.dump(domain="utf.test")
        self.assertEqual([x["user_agent"] for x in bindings], [ua])
        p = h.run_locusctl(["lookup", "sip:%s@utf.test" % user], self.daemon.admin_socket)
        self.assertEqual(p.returncode, 0, p)

    def test_lookup_canonical_forms(self):
        udp = self.udp()
        user = "Canon-%s" % secrets.token_hex(3)
        uri = "sip:c-%s@127.0.0.1:5080" % user
        self.assertEqual(udp.request(udp.register(user=user, contacts=["<%s>" % uri], expires=600),
                                     retransmit=False).status, 200)
        self.model["sip:%s@example.com" % user] = {uri: None}
        canonical = "sip:%s@example.com" % user
        for form in (canonical, "sip:%s@EXAMPLE.COM" % user, "sip:%s@Example.Com;transport=udp" % user,
                     "sip:%s@example.com;transport=tcp;lr" % user):
            answer = self.admin.ok({"cmd": "lookup", "aor": form})
            self.assertEqual(answer["aor"], canonical, form)
            self.assertEqual([b["contact"] for b in answer["bindings"]], [uri], form)
        # The user part is case-sensitive: another AOR, without bindings.
        answer = self.admin.ok({"cmd": "lookup", "aor": "sip:%s@example.com" % user.lower()})
        self.assertEqual(answer["bindings"], [], answer)
        # Every bulk AOR of a sample (both shards) with exactly its contacts.
        aors = sorted(a for a in self.model if a.startswith(("sip:bk", "sip:+1415")))[::20]
        for aor in aors:
            answer = self.admin.ok({"cmd": "lookup", "aor": aor})
            self.assertEqual(sorted(b["contact"] for b in answer["bindings"]),
                             sorted(self.model[aor]), aor)

    def test_remove_contact_then_aor(self):
        udp = self.udp()
        user = h.unique_user("rm")
        aor = "sip:%s@rm.test" % user
        c1 = "sip:rm1@host.example.com:5071"
        c2 = "sip:rm2@127.0.0.1:5072;transport=udp"
        c3 = "sip:rm3@127.0.0.1:5073"
        resp = udp.request(udp.register(user=user, domain="rm.test",
                                        contacts=["<%s>" % c for c in (c1, c2, c3)], expires=600),
                           retransmit=False)
        self.assertEqual(resp.status, 200, resp.dump())
        base = h.quiet_stats(self.admin)

        def listed():
            r = udp.request(udp.register(user=user, domain="rm.test"), retransmit=False)
            self.assertEqual(r.status, 200, r.dump())
            return sorted(c.uri for c in r.contacts())

        def remove(aor_text, contact=None):
            req = {"cmd": "remove", "aor": aor_text}
            if contact is not None:
                req["contact"] = contact
            return self.admin.ok(req)["removed"]

        # Equal by section 19.1.4 (host case), not byte-equal.
        self.assertEqual(remove(aor, "sip:rm1@HOST.Example.COM:5071"), 1)
        self.assertEqual(listed(), sorted([c2, c3]))
        self.assertEqual(remove(aor, c2), 1)
        self.assertEqual(listed(), [c3])
        self.assertEqual(remove(aor, "sip:rm9@127.0.0.1:5079"), 0)
        # Not equal by section 19.1.4: the user part is case-sensitive, and a
        # transport parameter in one URI only makes them differ.
        self.assertEqual(remove(aor, "sip:RM3@127.0.0.1:5073"), 0)
        self.assertEqual(remove(aor, "sip:rm3@127.0.0.1:5073;transport=tcp"), 0)
        self.assertEqual(listed(), [c3])
        # The whole AOR, named in another form of it.
        self.assertEqual(remove("sip:%s@RM.test;transport=udp" % user), 1)
        self.assertEqual(listed(), [])
        self.assertEqual(self.admin.ok({"cmd": "lookup", "aor": aor})["bindings"], [])
        self.assertEqual(remove(aor), 0)
        self.assertEqual(remove("sip:nobody-%s@rm.test" % secrets.token_hex(4)), 0)
        self.assertEqual(remove("sip:nobody-%s@rm.test" % secrets.token_hex(4), c1), 0)
        after = h.wait_stats(self.admin, lambda s: gauge_delta(s, base, "bindings") == -3)
        self.assertEqual(delta(after, base, "bindings_removed"), 3)
        self.assertEqual(gauge_delta(after, base, "bindings"), -3)
        self.assertEqual(gauge_delta(after, base, "aors"), -1)

        # A bulk AOR with two bindings removed whole; the dump no longer has it.
        victim = "sip:bk7@example.com"
        self.assertEqual(len(self.model[victim]), 2)
        self.assertEqual(remove(victim), 2)
        del self.model[victim]
        pairs, _ = self.dump_pairs(prefix="sip:bk7@")
        self.assertEqual(pairs, [])


# ---------------------------------------------------------------------------
# 3. Malformed requests and misbehaving clients, SIP unaffected


class Robustness(AdminCase):
    BULK = 3000

    @classmethod
    def prepare(cls):
        register_bulk(cls.daemon.udp_addr,
                      [("rb%d" % i, "bulk.test", ["<%s>" % contact_uri("rb", i)])
                       for i in range(cls.BULK)])

    def setUp(self):
        super().setUp()
        self.load = h.SipLoad(self.daemon.udp_addr, domain="load-%s.test" % secrets.token_hex(3),
                              max_requests=4000, max_seconds=25.0)
        self.load.start()
        self.addCleanup(self.load.stop)
        self.assertTrue(self.load.wait_for(3, timeout=5.0), "background REGISTERs not answered")

    def assertSipKeptGoing(self):
        self.assertTrue(self.load.wait_for(10, timeout=5.0),
                        "background REGISTER loop stalled: %r" % self.load.failures[:3])
        self.load.stop()
        self.assertEqual(self.load.failures, [], "background REGISTERs failed")
        self.assertGreater(self.load.ok, 10)

    def assertError(self, answer, request):
        self.assertIs(answer.get("ok"), False, "request %r answered %r" % (request, answer))
        self.assertIsInstance(answer.get("error"), str, answer)
        self.assertTrue(answer["error"], answer)

    BAD = [
        (b"this is not json", True),
        (b"{\"cmd\":\"version\"", True),          # unterminated
        (b"{\"cmd\":\"ver\xffsion\"}", True),     # not UTF-8
        (b"[1,2,3]", True),                        # not an object
        (b"\"version\"", True),
        (b"42", True),
        (b"{}", True),                             # no cmd
        (b"{\"aor\":\"sip:a@example.com\"}", True),
        (b"{\"cmd\":5}", True),                    # cmd not a string
        (b"{\"cmd\":\"frobnicate\"}", True),       # unknown command
        (b"{\"cmd\":\"lookup\"}", False),          # lookup without aor
        (b"{\"cmd\":\"lookup\",\"aor\":42}", False),
        (b"{\"cmd\":\"lookup\",\"aor\":\"tel:+14155551212\"}", False),
        (b"{\"cmd\":\"lookup\",\"aor\":\"not a uri at all\"}", False),
        (b"{\"cmd\":\"remove\"}", False),
        (b"{\"cmd\":\"remove\",\"aor\":\"tel:+14155551212\"}", False),
    ]

    def test_malformed_requests_get_errors_connection_stays(self):
        before = self.admin.stats()["admin_malformed_requests"]
        for request, _ in self.BAD:
            self.admin.send(request)
            self.assertError(self.admin.read_json(), request)
            answer = self.admin.request({"cmd": "version"})
            self.assertEqual(answer.get("ok"), True, "after %r: %r" % (request, answer))
        malformed = self.admin.stats()["admin_malformed_requests"] - before
        self.assertGreaterEqual(malformed, sum(1 for _, m in self.BAD if m),
                                "admin_malformed_requests does not count malformed requests")
        # Pipelined on one connection: answered in order.
        batch = []
        for request, _ in self.BAD:
            batch += [request, b"{\"cmd\":\"health\"}"]
        self.admin.send_raw(b"\n".join(batch) + b"\n")
        for k, request in enumerate(batch):
            answer = self.admin.read_json()
            if k % 2:
                self.assertEqual(answer.get("status"), "ok", "answer %d: %r" % (k, answer))
            else:
                self.assertError(answer, request)
        # Blank lines and CRLF line ends are tolerated.
        self.admin.send_raw(b"\n\r\n{\"cmd\":\"version\"}\r\n")
        self.assertEqual(self.admin.read_json().get("version"), "0.1.0")
        self.assertSipKeptGoing()

    def test_overlong_line_without_newline_closes(self):
        other = self.daemon.admin()
        self.addCleanup(other.close)
        try:
            self.admin.send_raw(b"{\"cmd\":\"version\",\"pad\":\"" + b"x" * (100 << 10))
        except (BrokenPipeError, ConnectionResetError):
            pass  # locusd closed after 64 KiB, before the rest was sent: as it should
        self.assertError(self.admin.read_json(), "100 KiB without newline")
        self.assertTrue(self.admin.wait_closed(3.0), "connection not closed after an over-long line")
        self.assertEqual(other.request({"cmd": "version"}).get("ok"), True)
        self.assertSipKeptGoing()

    def test_overlong_line_with_newline_closes(self):
        # docs/admin.md: "a request line over 64 KiB gets an error and the
        # connection is closed" -- also when its newline arrives with it.
        near = b"{\"cmd\":\"version\",\"pad\":\"" + b"x" * (60 << 10) + b"\"}"
        self.assertEqual(self.admin.request(near).get("ok"), True, "a 60 KiB request is allowed")
        over = b"{\"cmd\":\"version\",\"pad\":\"" + b"x" * (70 << 10) + b"\"}\n"
        # 60 KiB first (read by locusd: under the limit, no answer yet), then
        # the rest of the line with its newline in one piece.
        self.admin.send_raw(over[:60 << 10])
        time.sleep(0.3)
        self.admin.send_raw(over[60 << 10:])
        answer = self.admin.read_json()
        self.assertError(answer, "a 70 KiB request line")
        self.assertTrue(self.admin.wait_closed(3.0),
                        "a 70 KiB request line (newline included) was answered %r but the "
                        "connection stayed open" % answer)
        self.assertSipKeptGoing()

    def test_client_vanishing_mid_dump(self):
        for read_lines in (0, 3, 400, 2500):
            quitter = self.daemon.admin()
            quitter.send({"cmd": "dump"})
            for _ in range(read_lines):
                quitter.read_line()
            quitter.close()
            # SIP right after: a REGISTER of a new AOR answered promptly.
            udp = self.udp()
            resp = udp.request(udp.register(contacts=["<sip:v@127.0.0.1:5090>"], expires=600),
                               timeout=2.0)
            self.assertEqual(resp.status, 200, resp.dump())
        with self.daemon.admin() as fresh:
            bindings, final = fresh.dump(domain="bulk.test")
            self.assertEqual(final.get("ok"), True, final)
            self.assertEqual(final.get("count"), self.BULK, final)
            self.assertEqual(sorted({b["aor"] for b in bindings}),
                             sorted("sip:rb%d@bulk.test" % i for i in range(self.BULK)))
        # No snapshot request left behind in the shards' admin queues.
        deadline = time.monotonic() + 2.0
        while True:
            answer = self.admin.ok({"cmd": "shards"})
            if [s["admin_queue_bytes"] for s in answer["shards"]] == [0, 0]:
                break
            self.assertLess(time.monotonic(), deadline, "admin queues not drained: %r" % answer)
            time.sleep(0.05)
        self.assertSipKeptGoing()

    def test_slow_dump_reader_stalls_nothing(self):
        slow = self.daemon.admin(timeout=15.0)
        self.addCleanup(slow.close)
        slow.send({"cmd": "dump", "domain": "bulk.test"})
        time.sleep(0.3)
        # While it reads nothing: SIP is answered, other admin clients are served.
        self.assertTrue(self.load.wait_for(10, timeout=3.0), "SIP stalled by an unread dump")
        t = time.monotonic()
        self.assertEqual(self.admin.request({"cmd": "lookup", "aor": "sip:rb1@bulk.test"})
                         ["bindings"][0]["contact"], contact_uri("rb", 1))
        self.admin.stats()
        with self.daemon.admin() as other:
            _, final = other.dump(prefix="sip:rb2999@")
            self.assertEqual(final.get("count"), 1, final)
        self.assertLess(time.monotonic() - t, 3.0, "admin answers slow while a dump waits")
        bindings = []
        while True:
            obj = slow.read_json(10.0)
            if "ok" in obj:
                break
            bindings.append(obj)
        self.assertEqual(obj.get("count"), self.BULK, obj)
        self.assertEqual(len({b["aor"] for b in bindings}), self.BULK)
        self.assertSipKeptGoing()

    def test_unread_answers_over_8mib_disconnect(self):
        size = len(json.dumps(self.admin.stats())) + 1
        n = (14 << 20) // size + 1  # 14 MiB of answers: over 8 MiB beyond any socket buffer
        hog = self.daemon.admin()
        self.addCleanup(hog.close)
        try:
            hog.send_raw(b'{"cmd":"stats"}\n' * n)
        except OSError:
            pass  # already disconnected while sending
        time.sleep(0.5)
        # Others are served meanwhile.
        self.assertEqual(self.admin.request({"cmd": "version"}).get("ok"), True)
        answers = 0
        deadline = time.monotonic() + 10.0
        try:
            while answers < n:
                self.assertLess(time.monotonic(), deadline, "neither all answers nor a disconnect")
                hog.read_line(5.0)
                answers += 1
        except AdminClosed:
            pass
        self.assertLess(answers, n, "a client with %d MiB of unread answers was not disconnected"
                        % ((n * size) >> 20))
        self.assertSipKeptGoing()

    def test_too_many_clients(self):
        self.admin.close()  # all 64 slots for this test's clients
        time.sleep(0.3)  # connections of earlier tests noticed as closed
        clients = []
        try:
            for i in range(64):
                c = self.daemon.admin()
                clients.append(c)
                self.assertEqual(c.request({"cmd": "version"}).get("ok"), True, "client %d" % (i + 1))
            extra = self.daemon.admin()
            clients.append(extra)
            try:
                # Answered at once, before it asks anything.
                answer = extra.read_json(3.0)
            except AdminClosed:
                self.fail("the 65th client was closed without an error answer")
            self.assertError(answer, "65th client")
            self.assertTrue(extra.wait_closed(2.0), "the 65th client was not closed")
            # The 64 keep working; once one leaves, a new client is served.
            self.assertEqual(clients[10].request({"cmd": "health"}).get("ok"), True)
            clients[0].close()
            deadline = time.monotonic() + 3.0
            while True:
                late = self.daemon.admin()
                clients.append(late)
                try:
                    answer = late.request({"cmd": "version"})
                except AdminClosed:
                    answer = None
                if answer is not None and answer.get("ok") is True:
                    break
                self.assertLess(time.monotonic(), deadline,
                                "no client admitted after one of 64 left: %r" % answer)
                time.sleep(0.1)
        finally:
            for c in clients:
                c.close()
        self.assertSipKeptGoing()


# ---------------------------------------------------------------------------
# 4. locusctl


class Locusctl(AdminCase):

    @classmethod
    def prepare(cls):
        items = [("ctl%d" % i, "example.com", ["<%s>" % contact_uri("ctl", i)]) for i in range(30)]
        items += [("oth%d" % i, "other.test", ["<%s>;q=0.5" % contact_uri("oth", i)])
                  for i in range(10)]
        register_bulk(cls.daemon.udp_addr, items, sockets=4)

    def ctl(self, *args, rc=0, timeout=10.0):
        p = h.run_locusctl(list(args), self.daemon.admin_socket, timeout=timeout)
        if rc is not None:
            self.assertEqual(p.returncode, rc, "locusctl %s: exit %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        return p

    def test_stats_human_and_json(self):
        stats = h.quiet_stats(self.admin)
        human = self.ctl("stats").stdout
        self.assertEqual(self.admin.stats()["totals"], stats["totals"], "stats moved without traffic")
        self.assertEqual(self.ctl("stats").stdout.splitlines()[1:], human.splitlines()[1:],
                         "stats moved without traffic")
        shown = dict((m.group(1), int(m.group(2)))
                     for m in re.finditer(r"(?m)^(\w+)\s+(\d+)\s*$", human))
        for name in DOC_COUNTERS:
            self.assertEqual(shown.get(name), counters(stats)[name], "%s in:\n%s" % (name, human))
        for name in DOC_GAUGES:
            self.assertEqual(shown.get(name), gauges(stats)[name], "%s in:\n%s" % (name, human))
        self.assertEqual(shown["bindings"], 40)
        self.assertRegex(human, r"2 shard")
        self.assertRegex(human, r"latency")

        js = json.loads(self.ctl("--json", "stats").stdout)
        self.assertIs(js["ok"], True)
        self.assertEqual(js["shard_count"], 2)
        self.assertEqual([s["shard"] for s in js["shards"]], [0, 1])
        self.assertEqual(js["totals"]["counters"], counters(stats))
        self.assertEqual(set(js["totals"]["latency"]), {"count", "sum_us", "p50_us", "p90_us", "p99_us", "p999_us"})
        for key in ("uptime_s", "admin_malformed_requests"):
            self.assertIn(key, js)

    def test_lookup(self):
        out = self.ctl("lookup", "sip:ctl3@EXAMPLE.com").stdout
        self.assertIn("sip:ctl3@example.com: 1 binding(s)", out)
        self.assertIn(contact_uri("ctl", 3), out)
        js = json.loads(self.ctl("--json", "lookup", "sip:oth2@other.test").stdout)
        self.assertEqual([(b["contact"], b["q"], b["transport"]) for b in js["bindings"]],
                         [(contact_uri("oth", 2), 0.5, "UDP")])
        self.assertIn("0 binding(s)", self.ctl("lookup", "sip:nobody@example.com").stdout)
        p = self.ctl("lookup", "tel:+14155551212", rc=1)
        self.assertIn("tel:+14155551212", p.stderr)
        self.ctl("lookup", rc=2)  # usage

    def test_dump(self):
        out = self.ctl("dump").stdout.splitlines()
        self.assertRegex(out[0], r"AOR\s+CONTACT\s+EXPIRES")
        self.assertEqual(out[-1], "40 binding(s)")
        rows = out[1:-1]
        self.assertEqual(len(rows), 40, out)
        for i in range(30):
            self.assertEqual(sum(1 for r in rows if contact_uri("ctl", i) + " " in r + " "), 1, i)
        lines = self.ctl("--json", "dump").stdout.splitlines()
        objs = [json.loads(x) for x in lines]
        self.assertEqual(objs[-1], {"ok": True, "done": True, "count": 40})
        self.assertEqual(len({(o["aor"], o["contact"]) for o in objs[:-1]}), 40)
        objs = [json.loads(x) for x in self.ctl("--json", "dump", "--domain=other.test").stdout.splitlines()]
        self.assertEqual(sorted(o["aor"] for o in objs[:-1]),
                         sorted("sip:oth%d@other.test" % i for i in range(10)))
        objs = [json.loads(x) for x in self.ctl("--json", "dump", "--prefix=sip:ctl1").stdout.splitlines()]
        self.assertEqual(sorted(o["aor"] for o in objs[:-1]),
                         sorted("sip:ctl%d@example.com" % i for i in [1] + list(range(10, 20))))
        self.assertEqual(objs[-1]["count"], 11)

    def test_remove(self):
        udp = self.udp()
        user = h.unique_user("ctlrm")
        c1, c2 = "sip:a-%s@127.0.0.1:5101" % user, "sip:b-%s@127.0.0.1:5102" % user
        self.assertEqual(udp.request(udp.register(user=user, contacts=["<%s>" % c1, "<%s>" % c2],
                                                  expires=600), retransmit=False).status, 200)
        aor = "sip:%s@example.com" % user
        self.assertIn("removed 1 binding(s)", self.ctl("remove", aor, c1).stdout)
        js = json.loads(self.ctl("--json", "lookup", aor).stdout)
        self.assertEqual([b["contact"] for b in js["bindings"]], [c2])
        self.assertIn("removed 1 binding(s)", self.ctl("remove", aor).stdout)
        self.assertEqual(json.loads(self.ctl("--json", "remove", aor).stdout), {"ok": True, "removed": 0})
        resp = udp.request(udp.register(user=user), retransmit=False)
        self.assertEqual((resp.status, resp.contacts()), (200, []), resp.dump())
        self.ctl("remove", rc=2)

    def test_shards(self):
        out = self.ctl("shards").stdout.splitlines()
        self.assertRegex(out[0], r"SHARD\s+CPU")
        rows = [r.split() for r in out[1:] if r.strip()]
        self.assertEqual([r[0] for r in rows], ["0", "1"], out)
        stats = h.quiet_stats(self.admin)
        self.assertEqual([int(r[2]) for r in rows],
                         [counters(stats, i)["requests_received"] for i in range(2)], out)
        self.assertEqual(sum(int(r[5]) for r in rows), 40)  # BINDINGS column
        js = json.loads(self.ctl("--json", "shards").stdout)
        self.assertEqual(len(js["shards"]), 2)
        for s in js["shards"]:
            self.assertEqual(set(s), {"shard", "cpu_seconds", "requests_received", "handed_off", "aors",
                                      "bindings", "tcp_connections", "heartbeat_age_ms",
                                      "handoff_queue_bytes", "admin_queue_bytes"})

    def test_health_version_config(self):
        self.assertIn("ok", self.ctl("health").stdout)
        js = json.loads(self.ctl("--json", "health").stdout)
        self.assertEqual(js, {"ok": True, "status": "ok", "shards": 2})
        self.assertIn("0.1.0", self.ctl("version").stdout)
        js = json.loads(self.ctl("--json", "version").stdout)
        self.assertEqual((js["ok"], js["version"]), (True, "0.1.0"))
        self.assertIn("locus", js["server"])
        cfg = json.loads(self.ctl("--json", "config").stdout)["config"]
        self.assertEqual(cfg["shards"], 2)
        self.assertEqual(cfg["min_expires"], 60)
        self.assertEqual(cfg["max_contacts"], 16)
        self.assertIn("127.0.0.1:%d" % self.daemon.port, cfg["udp"])
        self.assertIn("127.0.0.1:%d" % self.daemon.port, cfg["tcp"])
        self.assertEqual(cfg["admin_socket"], self.daemon.admin_socket)
        self.assertEqual(json.loads(self.ctl("config").stdout)["config"], cfg)

    def test_config_keys_and_defaults_as_documented(self):
        """docs/admin.md: config answers "the effective configuration, keys as in
        configuration.md"; settings not given on the command line show the
        documented defaults."""
        doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                           "configuration.md")
        with open(doc, encoding="utf-8") as f:
            rows = re.findall(r"(?m)^\| `(\w+)` \| ([^|]*) \|", f.read())
        documented = {name: default.strip() for name, default in rows}
        self.assertIn("shards", documented)
        cfg = json.loads(self.ctl("--json", "config").stdout)["config"]
        self.assertEqual(sorted(set(cfg) - set(documented)), [],
                         "config keys not in docs/configuration.md")
        self.assertEqual(sorted(set(documented) - set(cfg)), [],
                         "documented settings missing from config")
        given = {f.split("=", 1)[0][2:] for f in self.daemon.flags}
        for name, default in documented.items():
            if name in given or name not in cfg:
                continue
            value = cfg[name]
            m = re.match(r"^`([^`]*)`$", default)
            if default == "empty":
                self.assertIn(value, ([], ""), name)
            elif m and isinstance(value, bool):
                self.assertEqual(json.dumps(value), m.group(1), name)
            elif m and isinstance(value, int):
                self.assertEqual(value, int(m.group(1)), name)
            elif m:
                self.assertEqual(value, m.group(1), name)

    def test_stats_watch(self):
        argv = [h.LOCUSCTL, "--socket=" + self.daemon.admin_socket]
        procs = [subprocess.Popen(argv + extra + ["stats", "--watch", "--interval=1", "--count=2"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  preexec_fn=h._die_with_parent)
                 for extra in ([], ["--json"])]
        try:
            started = time.monotonic()
            time.sleep(0.8)  # after both took their first sample, well before their last
            c = self.udp()
            reqs = [(c, c.register(user=h.unique_user("watch"), contacts=["<sip:w@127.0.0.1:5111>"],
                                   expires=600)) for _ in range(40)]
            self.assertTrue(all(r.status == 200 for r in h.udp_exchange(reqs)))
            outs = [p.communicate(timeout=10) for p in procs]
            elapsed = time.monotonic() - started
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
        for p, (out, err) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, "stdout %r stderr %r" % (out, err))
        self.assertLess(elapsed, 6.0, "stats --watch --count=2 did not end by itself in time")
        lines = [x for x in outs[0][0].splitlines() if x.strip()]
        self.assertIn("req/s", lines[0])
        rates = [x.split() for x in lines[1:]]
        self.assertEqual(len(rates), 2, lines)
        for r in rates:
            self.assertEqual(len(r), 8, r)
            for v in r:
                float(v)
        js = [json.loads(x) for x in outs[1][0].splitlines() if x.strip()]
        self.assertEqual(len(js), 2, outs[1][0])
        self.assertEqual(sum(x["requests_per_s"] for x in js), 40, js)
        self.assertEqual(sum(x["ok_per_s"] for x in js), 40, js)
        self.assertEqual(sum(float(r[0]) for r in rates), 40, lines)
        self.assertEqual(js[-1]["bindings"], gauges(self.admin.stats())["bindings"])

    def test_metrics(self):
        for _ in range(3):
            before = h.quiet_stats(self.admin)
            text = self.ctl("metrics").stdout
            after = self.admin.stats()
            if before["shards"] == after["shards"]:
                break
        else:
            self.fail("stats kept moving without traffic")
        types, samples = h.parse_prometheus(text)
        for (name, _), _ in samples.items():
            self.assertTrue(name.startswith("locus_"), name)
        for name, kind in types.items():
            if kind == "counter":
                self.assertTrue(name.endswith("_total"), name)
        for shard in range(2):
            lab = (("shard", str(shard)),)
            for name, value in counters(before, shard).items():
                key = ("locus_%s_total" % name, lab)
                self.assertEqual(types.get(key[0]), "counter", key)
                self.assertEqual(samples.get(key), value, key)
            for name, value in gauges(before, shard).items():
                key = ("locus_%s" % name, lab)
                self.assertEqual(types.get(key[0]), "gauge", key)
                self.assertEqual(samples.get(key), value, key)
            self.assertEqual(samples.get(("locus_request_latency_seconds_count", lab)),
                             latency(before, shard)["count"])
            for q, key in (("0.5", "p50_us"), ("0.9", "p90_us"), ("0.99", "p99_us"), ("0.999", "p999_us")):
                v = samples.get(("locus_request_latency_seconds", tuple(sorted(lab + (("quantile", q),)))))
                self.assertIsNotNone(v, "quantile %s of shard %d" % (q, shard))
                self.assertAlmostEqual(v, latency(before, shard)[key] / 1e6, places=6)
        self.assertEqual(types.get("locus_request_latency_seconds"), "summary")
        self.assertGreater(counters(before)["requests_register"], 0)
        self.assertIn("locus_uptime_seconds", {k[0] for k in samples})

    def test_errors_and_usage(self):
        missing = os.path.join(self.daemon.cwd, "no-such-dir", "admin.sock")
        p = h.run_locusctl(["health"], missing)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn(missing, p.stderr)
        p = h.run_locusctl(["stats"], os.path.join(self.daemon.cwd, "locusd.stderr"))  # not a socket
        self.assertEqual(p.returncode, 2, p)
        self.assertTrue(p.stderr.strip())
        self.assertEqual(h.run_locusctl([], self.daemon.admin_socket).returncode, 2)
        self.assertEqual(self.ctl("frobnicate", rc=2).returncode, 2)


class LocusctlDaemonGone(LocusTestCase):

    def test_health_after_stop(self):
        d = Locusd(["--shards=1"], admin=True)
        try:
            with d:
                p = h.run_locusctl(["health"], d.admin_socket)
                self.assertEqual(p.returncode, 0, p)
                self.assertIn("ok", p.stdout)
                d.stop()
            p = h.run_locusctl(["health"], d.admin_socket)
            self.assertEqual(p.returncode, 2, p)
            self.assertIn(d.admin_socket, p.stderr)
        finally:
            d.kill()
            d.cleanup()


# ---------------------------------------------------------------------------
# 5. The socket file


class SocketFile(LocusTestCase):

    def daemon(self, flags=(), **kw):
        d = Locusd(list(flags), **kw)
        self.addCleanup(d.cleanup)
        self.addCleanup(d.kill)
        return d

    def test_mode_and_one_daemon_per_socket(self):
        first = self.daemon(["--shards=2"], admin=True)
        with first:
            st = os.stat(first.admin_socket)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o660, oct(st.st_mode))
            port = h.free_port()
            code, err = h.run_locusd_expecting_exit(
                ["--shards=1", "--udp=127.0.0.1:%d" % port, "--tcp=127.0.0.1:%d" % port,
                 "--admin_socket=" + first.admin_socket], timeout=8.0)
            self.assertEqual(code, 1, "a second locusd on a live admin socket: exit %s\n%s" % (code, err))
            self.assertIn(first.admin_socket, err)
            # The first daemon keeps its socket and answers there.
            with first.admin() as a:
                self.assertEqual(a.request({"cmd": "health"}).get("ok"), True)
            c = UdpClient(first.udp_addr)
            try:
                self.assertEqual(c.request(c.options()).status, 200)
            finally:
                c.close()

    def test_stale_socket_replaced_after_kill9(self):
        first = self.daemon(["--shards=2"], admin=True)
        first.start()
        first.wait_ready()
        with first.admin() as a:
            a.ok({"cmd": "version"})
        first.kill()  # SIGKILL: the socket file stays
        self.assertEqual(first.returncode, -9)
        self.assertTrue(stat.S_ISSOCK(os.stat(first.admin_socket).st_mode), "no stale socket file")
        second = self.daemon(["--shards=2", "--admin_socket=" + first.admin_socket])
        with second:
            with second.admin() as a:
                self.assertEqual(a.ok({"cmd": "version"})["version"], "0.1.0")
            self.assertEqual(stat.S_IMODE(os.stat(first.admin_socket).st_mode), 0o660)
            p = h.run_locusctl(["health"], first.admin_socket)
            self.assertEqual(p.returncode, 0, p)

    def test_default_socket_paths(self):
        plain = self.daemon(["--shards=1"])
        with plain:
            path = os.path.join(plain.cwd, "var", "locus", "admin.sock")
            self.assertEqual(plain.admin_socket, path)
            self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
            # locusctl's default socket is var/locus/admin.sock under its cwd.
            p = h.run_locusctl(["version"], None, cwd=plain.cwd)
            self.assertEqual(p.returncode, 0, p)
            self.assertIn("0.1.0", p.stdout)
        data_dir = os.path.join(plain.cwd, "data")
        with_dir = self.daemon(["--shards=1", "--data_dir=" + data_dir])
        with with_dir:
            self.assertTrue(stat.S_ISSOCK(os.stat(os.path.join(data_dir, "admin.sock")).st_mode))
            p = h.run_locusctl(["--json", "config"], os.path.join(data_dir, "admin.sock"))
            self.assertEqual(p.returncode, 0, p)
            self.assertEqual(json.loads(p.stdout)["config"]["admin_socket"],
                             os.path.join(data_dir, "admin.sock"))


def main():
    _, rest = h.parse_args()
    if not h.LOCUSCTL:
        sys.stderr.write("no locusctl given (pass --locusctl PATH or set LOCUSCTL)\n")
        return 2
    if not os.access(h.LOCUSCTL, os.X_OK):
        sys.stderr.write("SKIP: locusctl not built: %s\n" % h.LOCUSCTL)
        return h.SKIP_EXIT_CODE
    h.random.seed(0x10C05)
    prog = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
