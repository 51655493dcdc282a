#!/usr/bin/env python3
"""locusd's cluster mode (docs/cluster.md): two locusd nodes, one with two
shards and one with one, sharing a real Redis Cluster on loopback as their
store of record (--cluster=<seeds>, no local journal).

  TwoNodes.test_1_bindings_cross_nodes
      REGISTER through node A, then through node B a query REGISTER and
      lookups: B's 200 and 302 list exactly A's contacts; a contact added
      through B: B's 200 and A's 302 list all; a refresh through B of a
      binding A made (same Call-ID, higher CSeq) is in B's 200 and in a
      query REGISTER through A, and A then refuses the old CSeq (400); a
      removal through A of B's contact leaves B's 302; `Contact: *` with
      `Expires: 0` through B leaves no 302 on either node (404: no
      authentication, docs/location-service.md). The cluster_* counters are
      in `stats` and in the metrics text, and move.
  TwoNodes.test_2_two_nodes_hammer_one_aor
      two clients, one per node, each ~150 REGISTERs in a row of its own
      contact on one AOR (own Call-ID, rising CSeq, random expires, sometimes
      0), at the same time: every 200 lists the sender's contact exactly when
      that request's expires is not 0; the final state, queried through both
      nodes, is the one the last acknowledged request of each client implies
      (±2 s on the expiry); 500s only with Retry-After and under 5 %.
  TwoNodes.test_3_node_killed_under_load
      300 fresh AORs registered through node A one at a time; SIGKILL of A
      after ~100 acknowledgements; node B answers every acknowledged AOR with
      a 302 listing its contact.
  RedisDown.test_4a_stand_alone_redis_killed_and_restarted
      --cluster naming one stand-alone Redis: registrations work; the Redis
      SIGKILLed: REGISTERs get 500 with Retry-After within a few seconds, and
      AORs looked up before go on getting their 302, a query REGISTER of an
      AOR the node never saw gets 500 too (not a 200 without bindings); the
      Redis restarted on its port: registrations succeed again by themselves
      within 15 s.
  RedisDown.test_4b_nothing_listening_at_start
      --cluster naming a port where nothing listens: locusd either exits
      naming the address, or starts and answers REGISTERs 500 with
      Retry-After (which one is printed).
  MasterFailover.test_5_master_killed_under_load
      a Redis Cluster of its own (3 masters, 2 replicas each, so that the
      promoted replica still has a replica to WAIT for), both nodes with
      --cluster_ack=replicas: AORs whose slot (CLUSTER KEYSLOT) one master
      serves, registered through both nodes in a loop; that master
      SIGKILLed after some acknowledgements; registrations go on for up to
      15 s: 500s (with Retry-After) only inside one window after the kill
      (printed), and every acknowledged AOR, before and after, is answered
      with its 302 by the other node.

Usage: test_cluster_nodes.py --locusd PATH [unittest arguments, e.g. -k hammer]
Needs redis-server and redis-cli (tools/bootstrap installs redis-server).
Bounded: every test by LocusTestCase's alarm, every wait by a deadline (polled,
never a sleep taken as an assertion), every load by a count and a time.
Traffic goes to 127.0.0.1 only; every process started is stopped by PID.
"""

import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
import redis_harness as rh  # noqa: E402
from locus_harness import Locusd, LocusTestCase, UdpClient, counters  # noqa: E402

DOMAIN = "example.com"      # any domain is served by default (--domains empty)
KEY_PREFIX = "locus:aor:"   # the Redis key of an AOR: this + the canonical AOR
CLUSTER_COUNTERS = ("cluster_commits", "cluster_conflicts", "cluster_turn_waits",
                    "cluster_failures", "cluster_reads", "cluster_invalidations")
# An AOR without bindings, authentication off: 404 (docs/location-service.md;
# 480 only for an AOR of a user the users file knows).
NO_BINDINGS = 404
# How long a change made through one node may take to show on the other (the
# specification: well under 100 ms on loopback).
PROPAGATION = 2.0
EXPIRY_TOLERANCE = 2

# The Redis Cluster shared by TwoNodes (3 masters, 1 replica each).
CLUSTER = None


def setUpModule():
    global CLUSTER
    CLUSTER = rh.RedisCluster(masters=3, replicas=1)
    CLUSTER.__enter__()


def tearDownModule():
    global CLUSTER
    if CLUSTER is not None:
        CLUSTER.stop()
        CLUSTER = None


def log(fmt, *args):
    sys.stderr.write(("\n  " + fmt) % args if args else "\n  " + fmt)
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Redis Cluster's key -> slot rule (CRC16/XMODEM mod 16384, hash tags), checked
# here against CLUSTER KEYSLOT before use.

def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def key_slot(key):
    k = key.encode()
    start = k.find(b"{")
    if start >= 0:
        end = k.find(b"}", start + 1)
        if end > start + 1:
            k = k[start + 1:end]
    return crc16(k) % 16384


def aor_of(user, domain=DOMAIN):
    return "sip:%s@%s" % (user, domain)


def aor_key(user):
    return KEY_PREFIX + aor_of(user)


def cluster_nodes(cluster):
    """CLUSTER NODES from a live server: [(port, flags, [(first, last) slot ranges])]."""
    live = next(s for s in cluster.servers if s.proc.poll() is None)
    nodes = []
    for line in live.cli("CLUSTER", "NODES").splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
        ranges = []
        for r in fields[8:]:
            if r.startswith("["):  # a slot being migrated or imported
                continue
            first, _, last = r.partition("-")
            ranges.append((int(first), int(last or first)))
        nodes.append((port, fields[2], ranges))
    return nodes


def master_of_slot(cluster, slot):
    """The port of the live master serving slot."""
    for port, flags, ranges in cluster_nodes(cluster):
        if "master" in flags and "fail" not in flags and any(a <= slot <= b for a, b in ranges):
            return port, ranges
    raise AssertionError("no live master serves slot %d:\n%s"
                         % (slot, cluster.servers[0].cli("CLUSTER", "NODES")))


# ---------------------------------------------------------------------------
# SIP helpers

def lookup_request(client, user, method="MESSAGE"):
    """A lookup of sip:user@DOMAIN (any method but REGISTER, ACK, CANCEL and
    OPTIONS is one)."""
    uri = aor_of(user)
    return client.register(user="caller", method=method, ruri=uri, to="<%s>" % uri)


def ack_for(inv, resp):
    """The ACK of a non-2xx final response to inv (section 17.1.1.3)."""
    headers = [(n, resp.get("To") if n == "To" else v) for n, v in inv.headers]
    headers = [(n, "%s ACK" % v.split()[0] if n == "CSeq" else v) for n, v in headers]
    return h.Request("ACK", inv.ruri, headers)


def lookup(client, user, method="MESSAGE", timeout=4.0):
    req = lookup_request(client, user, method)
    resp = client.request(req, timeout=timeout)
    if method == "INVITE" and resp.status >= 300:
        client.send(ack_for(req, resp))  # ends Timer G
    return resp


def bindings(resp):
    """{contact URI: expires} of a 200 or 302; None when a URI is listed twice."""
    out = {}
    for c in resp.contacts():
        if c.uri in out:
            return None
        out[c.uri] = c.expires
    return out


def uri_of(contact):
    return contact[contact.index("<") + 1:contact.index(">")]


def retry_after_ok(resp):
    value = resp.get("Retry-After")
    return value is not None and re.match(r"^\d+", value) is not None


def describe(resp):
    return resp.dump() if resp is not None else "(no answer)"


# ---------------------------------------------------------------------------

class ClusterCase(LocusTestCase):
    """Starts locusd nodes on a cluster; each node is stopped with SIGTERM
    (exit 0 required) after the test, unless the test killed it."""

    def setUp(self):
        super().setUp()
        self.waited = []  # seconds each wait_lookup / wait_query polled

    def node(self, shards, seeds=None, extra=(), warm_up=True):
        d = Locusd(["--cluster=" + (seeds or CLUSTER.seeds), "--shards=%d" % shards] + list(extra),
                   admin=True)
        d.killed = False
        d.__enter__()
        self.addCleanup(self._stop_node, d)
        if warm_up:
            self.wait_serving(d)
        return d

    @staticmethod
    def _stop_node(d):
        if d.killed:
            d.kill()
            d.cleanup()
        else:
            h.stop_daemon(d)

    def client(self, node):
        c = UdpClient(node.udp_addr)
        self.addCleanup(c.close)
        return c

    def wait_health(self, node, status, timeout=5.0):
        """Polls the admin `health` until its status is `status`."""
        deadline = time.monotonic() + timeout
        while True:
            with node.admin() as adm:
                health = adm.request({"cmd": "health"})
            if health.get("status") == status:
                return health
            self.assertLess(time.monotonic(), deadline, "health never %s: %s" % (status, health))
            time.sleep(0.1)

    def wait_serving(self, node, timeout=10.0):
        """Registers throw-away AORs until one gets its 200: a node that has
        just started may not have read the slot map yet (its answer is then
        500 with Retry-After, counted and printed)."""
        client = self.client(node)
        deadline = time.monotonic() + timeout
        refused = 0
        while True:
            user = h.unique_user("warm")
            resp = client.request(client.register(user=user, contacts=[client.contact(user)],
                                                  expires=60), timeout=6.0)
            if resp.status == 200:
                break
            self.assertEqual(resp.status, 500, "while starting:\n" + resp.dump())
            self.assertTrue(retry_after_ok(resp), "500 without Retry-After:\n" + resp.dump())
            refused += 1
            self.assertLess(time.monotonic(), deadline,
                            "no 200 within %.0f s of the start\n%s" % (timeout, node._describe()))
            time.sleep(0.05)
        if refused:
            log("node on port %d: %d REGISTERs got 500 before its first 200", node.port, refused)

    def register(self, client, user, contacts, expires=None, call_id=None, cseq=1, status=200):
        resp = client.request(client.register(user=user, contacts=contacts, expires=expires,
                                              call_id=call_id, cseq=cseq))
        self.assertStatus(resp, status)
        return resp

    def cluster_counters(self, node):
        """The cluster_* counters (CLUSTER_COUNTERS) of the node's admin stats (totals)."""
        with node.admin() as admin:
            c = counters(admin.stats())
        missing = [n for n in CLUSTER_COUNTERS if n not in c]
        self.assertEqual(missing, [], "cluster counters missing from stats: %s"
                         % sorted(k for k in c if "cluster" in k))
        return {n: c[n] for n in CLUSTER_COUNTERS}

    def wait_lookup(self, client, user, expected, timeout=PROPAGATION, method="MESSAGE"):
        """Polls lookups of user until the answer is a 302 listing exactly the
        URIs of expected ({uri: (min expires, max expires)}) with their
        expires in range, or NO_BINDINGS when expected is empty. Returns the
        answer; fails with the last one after timeout."""
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        while True:
            resp = lookup(client, user, method)
            problem = self._lookup_problem(resp, expected)
            if problem is None:
                self.waited.append(time.monotonic() - start)
                return resp
            if time.monotonic() > deadline:
                self.fail("lookup of %s through port %d: %s after %.1f s:\n%s"
                          % (aor_of(user), client.server[1], problem,
                             time.monotonic() - start, resp.dump()))
            time.sleep(0.01)

    @staticmethod
    def _lookup_problem(resp, expected):
        if not expected:
            return None if resp.status == NO_BINDINGS else "expected %d" % NO_BINDINGS
        if resp.status != 302:
            return "expected 302 with %s" % sorted(expected)
        got = bindings(resp)
        if got is None:
            return "a contact listed twice"
        if sorted(got) != sorted(expected):
            return "expected exactly %s" % sorted(expected)
        for uri, (lo, hi) in expected.items():
            if got[uri] is None or not lo <= got[uri] <= hi:
                return "%s: expires %r not in [%d, %d]" % (uri, got[uri], lo, hi)
        return None

    def wait_query(self, client, user, expected, timeout=PROPAGATION):
        """Polls query REGISTERs (no Contact) of user until the 200 lists
        exactly expected ({uri: (min, max)}); returns it."""
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        while True:
            resp = client.request(client.register(user=user))
            if resp.status == 200:
                got = bindings(resp)
                ok = got is not None and sorted(got) == sorted(expected) and all(
                    got[u] is not None and lo <= got[u] <= hi for u, (lo, hi) in expected.items())
                if ok:
                    self.waited.append(time.monotonic() - start)
                    return resp
            if time.monotonic() > deadline:
                self.fail("query REGISTER of %s through port %d: expected 200 with %r after "
                          "%.1f s, got:\n%s" % (aor_of(user), client.server[1], expected,
                                                time.monotonic() - start, resp.dump()))
            time.sleep(0.01)

    def check_lookups(self, client, users, contact_of, what):
        """Every user's lookup through client is a 302 listing exactly
        contact_of(user): sent in windows, then a bounded poll of any that
        differ (to tell late from lost)."""
        wrong = {}
        for i in range(0, len(users), 500):
            batch = users[i:i + 500]
            answers = h.udp_exchange([(client, lookup_request(client, u)) for u in batch],
                                     window=32, give_up=10.0)
            for u, resp in zip(batch, answers):
                got = bindings(resp) if resp.status == 302 else None
                if got is None or sorted(got) != [contact_of(u)]:
                    wrong[u] = resp
        late, lost = [], []
        deadline = time.monotonic() + PROPAGATION
        for u in list(wrong):
            while True:
                resp = lookup(client, u)
                if resp.status == 302 and sorted(bindings(resp) or {}) == [contact_of(u)]:
                    late.append(u)
                    break
                if time.monotonic() > deadline:
                    lost.append((u, resp))
                    break
                time.sleep(0.02)
        if late:
            log("%s: %d of %d AORs answered right only on a second look", what, len(late),
                len(users))
        if lost:
            self.fail("%s: %d of %d acknowledged AORs not answered with their contact (first: "
                      "%s)\n%s" % (what, len(lost), len(users), lost[0][0], describe(lost[0][1])))


# ---------------------------------------------------------------------------

class TwoNodes(ClusterCase):
    """Node A (--shards=2) and node B (--shards=1) on the module's cluster."""

    timeout = 60

    def setUp(self):
        super().setUp()
        self.a = self.node(2)
        self.b = self.node(1)
        self.ua = self.client(self.a)
        self.ub = self.client(self.b)

    def test_1_bindings_cross_nodes(self):
        """A REGISTER's effects seen through the other node: lookups (302,
        then 404), the 200 of REGISTERs and queries, refreshes and removals of
        bindings made through the other node; the cluster_* counters."""
        a, b, ua, ub = self.a, self.b, self.ua, self.ub
        before_a, before_b = self.cluster_counters(a), self.cluster_counters(b)
        user = h.unique_user("two")
        ca1 = "<sip:%s@127.0.0.1:7001>" % user
        ca2 = "<sip:%s@127.0.0.1:7002>;q=0.5" % user
        cb = "<sip:%s@127.0.0.1:7003>" % user
        A1, A2, B1 = uri_of(ca1), uri_of(ca2), uri_of(cb)
        call_a, call_b = h.new_call_id(), h.new_call_id()
        full = (3600 - EXPIRY_TOLERANCE - 5, 3600)

        # Through A: two contacts in one REGISTER.
        resp = self.register(ua, user, [ca1, ca2], expires=3600, call_id=call_a, cseq=1)
        self.assertBindings(resp, {A1: full, A2: full})
        # B has never seen the AOR: its query REGISTER reads it.
        self.wait_query(ub, user, {A1: full, A2: full})
        # B's lookups list exactly those (MESSAGE and INVITE).
        resp = self.wait_lookup(ub, user, {A1: full, A2: full})
        self.assertEqual([c.uri for c in resp.contacts()], [A1, A2], "highest q first:\n"
                         + resp.dump())
        self.wait_lookup(ub, user, {A1: full, A2: full}, method="INVITE")

        # Through B: a third contact; B's 200 lists all three, and so does A's 302.
        resp = self.register(ub, user, [cb], expires=3600, call_id=call_b, cseq=1)
        self.assertBindings(resp, {A1: full, A2: full, B1: full})
        self.wait_lookup(ua, user, {A1: full, A2: full, B1: full})

        # Through B: a refresh of A1 (A's Call-ID, a higher CSeq, a new expiry).
        resp = self.register(ub, user, [ca1], expires=1800, call_id=call_a, cseq=2)
        refreshed = (1800 - EXPIRY_TOLERANCE, 1800)
        self.assertBindings(resp, {A1: refreshed, A2: full, B1: full})
        # A's query REGISTER shows the new expiry...
        self.wait_query(ua, user, {A1: refreshed, A2: full, B1: full})
        self.wait_lookup(ua, user, {A1: refreshed, A2: full, B1: full})
        # ...and A refuses the CSeq B already used for that Call-ID (A's own
        # last CSeq for it was 1: only the store's state makes this 400).
        resp = ua.request(ua.register(user=user, contacts=[ca1], expires=900, call_id=call_a,
                                      cseq=2))
        self.assertStatus(resp, 400)
        self.wait_query(ub, user, {A1: refreshed, A2: full, B1: full})

        # Through A: the removal of B's contact (B's Call-ID, higher CSeq).
        resp = self.register(ua, user, [cb + ";expires=0"], call_id=call_b, cseq=2)
        self.assertBindings(resp, {A1: refreshed, A2: full})
        self.wait_lookup(ub, user, {A1: refreshed, A2: full})

        # Through B: everything removed (Contact: *, Expires: 0); no 302 anywhere.
        resp = self.register(ub, user, ["*"], expires=0)
        self.assertEqual(resp.contacts(), [], resp.dump())
        self.wait_lookup(ub, user, {})
        self.wait_lookup(ua, user, {})
        self.wait_lookup(ua, user, {}, method="INVITE")
        resp = ua.request(ua.register(user=user))
        self.assertStatus(resp, 200)
        self.assertEqual(resp.contacts(), [], resp.dump())

        log("%d waits for the other node's view: longest %.1f ms", len(self.waited),
            1000 * max(self.waited))
        # The counters: present on both, in the metrics text too, and moved.
        after_a, after_b = self.cluster_counters(a), self.cluster_counters(b)
        log("node A: %r\n  node B: %r", {k: after_a[k] - before_a[k] for k in after_a},
            {k: after_b[k] - before_b[k] for k in after_b})
        # A committed its REGISTER, the 400 (if decided again) and B1's removal.
        self.assertGreaterEqual(after_a["cluster_commits"] - before_a["cluster_commits"], 2)
        self.assertGreaterEqual(after_b["cluster_commits"] - before_b["cluster_commits"], 3)
        # B had never seen the AOR when it was first looked up there.
        self.assertGreater(after_b["cluster_reads"] - before_b["cluster_reads"], 0)
        # A cached the AOR and B changed it (three times).
        self.assertGreater(after_a["cluster_invalidations"] - before_a["cluster_invalidations"], 0)
        self.assertEqual(after_a["cluster_failures"], before_a["cluster_failures"])
        self.assertEqual(after_b["cluster_failures"], before_b["cluster_failures"])
        with a.admin() as admin:
            text = admin.ok({"cmd": "metrics"})["text"]
        for name in CLUSTER_COUNTERS:
            self.assertIn("locus_%s_total" % name, text, "metrics lack %s" % name)

    def test_2_two_nodes_hammer_one_aor(self):
        """Two clients, one per node, ~150 REGISTERs each of their own
        contact on one AOR, at the same time: each 200 lists the sender's
        contact iff it asked for expires > 0, and the final state is the one
        the last acknowledged request of each client implies."""
        user = h.unique_user("ham")
        before = [self.cluster_counters(n) for n in (self.a, self.b)]
        per_client = 150
        clients = []
        for i, node in enumerate((self.a, self.b)):
            clients.append({"node": node, "name": "AB"[i], "contact":
                            "<sip:%s@127.0.0.1:%d>" % (user, 7100 + i),
                            "call_id": h.new_call_id(), "seed": 1000 + i,
                            "results": [], "error": None})
        go = threading.Event()

        def run(state):
            rng = random.Random(state["seed"])
            client = UdpClient(state["node"].udp_addr)
            try:
                go.wait(5)
                state["started"] = time.monotonic()
                for cseq in range(1, per_client + 1):
                    e = 0 if rng.random() < 0.1 else rng.randint(60, 3600)
                    req = client.register(user=user, contacts=[state["contact"]], expires=e,
                                          call_id=state["call_id"], cseq=cseq)
                    try:
                        resp = client.request(req, timeout=6.0)
                    except AssertionError as exc:
                        state["results"].append((cseq, e, None, time.monotonic()))
                        state["error"] = str(exc).splitlines()[0]
                        return
                    state["results"].append((cseq, e, resp, time.monotonic()))
            except Exception as exc:  # noqa: BLE001 (reported by the main thread)
                state["error"] = repr(exc)
            finally:
                client.close()

        threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in clients]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        go.set()
        for t in threads:
            t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "a client still runs after 30 s")
        log("hammer: %d REGISTERs in %.2f s", sum(len(s["results"]) for s in clients),
            time.monotonic() - t0)
        for s in clients:
            self.assertIsNone(s["error"], "client %s: %s" % (s["name"], s["error"]))
        # The two clients' runs overlapped.
        self.assertLess(max(s["started"] for s in clients),
                        min(s["results"][-1][3] for s in clients), "the clients ran one after "
                        "the other")

        total = 0
        refused = []
        for s in clients:
            self.assertIsNone(s["error"], "client %s: %s" % (s["name"], s["error"]))
            self.assertEqual(len(s["results"]), per_client)
            own = uri_of(s["contact"])
            for cseq, e, resp, _ in s["results"]:
                total += 1
                if resp.status == 500:
                    self.assertTrue(retry_after_ok(resp), "no Retry-After:\n" + resp.dump())
                    refused.append((s["name"], cseq))
                    continue
                self.assertStatus(resp, 200)
                got = bindings(resp)
                self.assertIsNotNone(got, "a contact listed twice:\n" + resp.dump())
                if e > 0:
                    self.assertIn(own, got, "client %s CSeq %d (expires %d): own contact "
                                  "missing:\n%s" % (s["name"], cseq, e, resp.dump()))
                    self.assertTrue(got[own] is not None and e - EXPIRY_TOLERANCE <= got[own] <= e,
                                    "client %s CSeq %d: expires %r, asked %d:\n%s"
                                    % (s["name"], cseq, got[own], e, resp.dump()))
                else:
                    self.assertNotIn(own, got, "client %s CSeq %d (expires 0): own contact still "
                                     "listed:\n%s" % (s["name"], cseq, resp.dump()))
                self.assertTrue(set(got) <= {uri_of(c["contact"]) for c in clients}, resp.dump())
        if refused:
            log("hammer: %d of %d REGISTERs got 500 + Retry-After: %r", len(refused), total,
                refused[:10])
        self.assertLess(len(refused), 0.05 * total, "too many 500s: %r" % refused)

        # The final state, implied by the last 200 of each client.
        def expected_now():
            now = time.monotonic()
            exp = {}
            for s in clients:
                acked = [r for r in s["results"] if r[2].status == 200]
                self.assertTrue(acked, "client %s: no 200 at all" % s["name"])
                _, e, _, at = acked[-1]
                if e > 0:
                    left = e - (now - at)
                    exp[uri_of(s["contact"])] = (int(left) - EXPIRY_TOLERANCE,
                                                  int(left) + EXPIRY_TOLERANCE)
            return exp

        final = {}
        for name, node_client in (("A", self.ua), ("B", self.ub)):
            resp = self.wait_query(node_client, user, expected_now())
            final[name] = bindings(resp)
        self.assertEqual(sorted(final["A"]), sorted(final["B"]), "the nodes differ: %r" % final)
        for uri in final["A"]:
            self.assertLessEqual(abs(final["A"][uri] - final["B"][uri]), EXPIRY_TOLERANCE, final)
        if final["A"]:
            self.wait_lookup(self.ua, user, expected_now())
            self.wait_lookup(self.ub, user, expected_now())
        else:
            self.wait_lookup(self.ua, user, {})
            self.wait_lookup(self.ub, user, {})
        after = [self.cluster_counters(n) for n in (self.a, self.b)]
        moved = {n: sum(x[n] - y[n] for x, y in zip(after, before)) for n in CLUSTER_COUNTERS}
        conflicts, commits = moved["cluster_conflicts"], moved["cluster_commits"]
        log("hammer: final %r; commits %d, conflicts %d, waits for the other's turn %d", final["A"],
            commits, conflicts, moved["cluster_turn_waits"])
        # Each node decides on its cached version while the other commits:
        # with 300 interleaved changes of one AOR, some compare-and-sets fail.
        self.assertGreater(conflicts, 0, "no cluster_conflicts for two nodes hammering one AOR")

    def test_3_node_killed_under_load(self):
        """SIGKILL of node A while it registers fresh AORs one at a time:
        every AOR A acknowledged is answered by node B with its contact."""
        load = h.SipLoad(self.a.udp_addr, domain=DOMAIN, max_requests=300, max_seconds=30.0,
                         timeout=1.0, pause=0.0)
        with load:
            self.assertTrue(load.wait_for(100, timeout=20.0),
                            "fewer than 100 acknowledgements: %d, failures %r"
                            % (load.ok, load.failures[:5]))
            self.a.killed = True
            self.a.kill()
            killed_at = load.ok
        self.assertEqual(self.a.returncode, -9)
        users = list(load.users)
        log("node A killed after %d acknowledgements; %d acknowledged in all, %d failures",
            killed_at, len(users), len(load.failures))
        self.assertGreaterEqual(len(users), 100)
        self.assertLess(len(users), 300, "the kill came after the load ended")
        # Before the kill, nothing failed; after it, nothing answered.
        self.assertTrue(all(f.startswith("no answer") for f in load.failures), load.failures[:5])
        self.check_lookups(self.ub, users, lambda u: "sip:%s@127.0.0.1:5060" % u,
                           "node B after A's SIGKILL")


# ---------------------------------------------------------------------------

class Authentication(ClusterCase):
    """Digest authentication across nodes sharing --auth_secret."""

    timeout = 60

    def test_6_a_challenge_from_one_node_is_answered_on_the_other(self):
        """A 401 from node A answered to node B: 200 (the nonce is the
        shared secret's, not a node's), and node A's lookup then finds the
        binding; a node with another secret asks again (401)."""
        import test_auth as ta
        secret = secrets.token_hex(32)
        work = tempfile.mkdtemp(prefix="cluster-auth-")
        self.addCleanup(shutil.rmtree, work, True)
        users = os.path.join(work, "users.json")
        ta.write_users(users, [ta.user_entry("alice", "password")])
        flags = ["--auth=true", "--auth_realm=" + ta.REALM, "--auth_algorithms=MD5",
                 "--users_file=" + users, "--auth_max_failures=0"]
        a = self.node(2, extra=flags + ["--auth_secret=" + secret], warm_up=False)
        b = self.node(1, extra=flags + ["--auth_secret=" + secret], warm_up=False)
        other = self.node(1, extra=flags + ["--auth_secret=" + secrets.token_hex(32)],
                          warm_up=False)
        ua = ta.Ua(self.client(a), "alice")
        challenge = ta.digest_challenge(ua.challenge(), "MD5")
        # The same UA's next REGISTER, with the answer, through node B.
        ub = ta.Ua(self.client(b), "alice")
        ub.call_id, ub.cseq, ub.contact_uri = ua.call_id, ua.cseq, ua.contact_uri
        deadline = time.monotonic() + 10.0
        while True:  # B may not have read the slot map yet: 500, then 200
            resp = ub.answer(challenge, "alice", algorithm="MD5", nc=ub.cseq)
            if resp.status != 500 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertStatus(resp, 200)
        self.assertIn(ub.contact_uri, resp.get("Contact") or "", resp.dump())
        self.wait_lookup(self.client(a), "alice", {ub.contact_uri: (500, 600)})
        uo = ta.Ua(self.client(other), "alice")
        uo.call_id, uo.cseq = ua.call_id, ub.cseq
        self.assertStatus(uo.answer(challenge, "alice", algorithm="MD5", nc=99), 401)



class RedisDown(ClusterCase):
    """locusd on one stand-alone Redis (no cluster support: it serves every
    slot) that dies and comes back; and on no Redis at all."""

    timeout = 60

    def test_4a_stand_alone_redis_killed_and_restarted(self):
        """Registrations while the Redis lives, 500 with Retry-After once it
        is SIGKILLed (the cached AORs still looked up), 200 again once it is
        back on its port."""
        redis = rh.RedisServer()
        self.addCleanup(redis.stop)
        redis.start()
        d = self.node(2, seeds=redis.address)
        c = self.client(d)
        cached = [h.unique_user("cached") for _ in range(6)]
        for u in cached:
            self.register(c, u, ["<sip:%s@127.0.0.1:7200>" % u], expires=3600)
        for u in cached:  # looked up: in the cache of their shard
            self.wait_lookup(c, u, {"sip:%s@127.0.0.1:7200" % u: (3500, 3600)})
        before = self.cluster_counters(d)

        redis.kill()
        killed = time.monotonic()
        deadline = killed + 10.0
        attempts, refused_user, resp = 0, None, None
        while time.monotonic() < deadline:
            u = h.unique_user("down")
            attempts += 1
            resp = c.request(c.register(user=u, contacts=["<sip:%s@127.0.0.1:7201>" % u],
                                        expires=3600), timeout=8.0)
            if resp.status != 200:
                refused_user = u
                break
            time.sleep(0.05)
        self.assertIsNotNone(refused_user, "REGISTERs still 200 %.0f s after the Redis died"
                             % (time.monotonic() - killed))
        self.assertStatus(resp, 500)
        self.assertTrue(retry_after_ok(resp), "500 without Retry-After:\n" + resp.dump())
        log("Redis killed: first 500 after %.2f s (%d REGISTERs)", time.monotonic() - killed,
            attempts)
        # Later ones too.
        u = h.unique_user("down")
        resp = c.request(c.register(user=u, contacts=["<sip:%s@127.0.0.1:7201>" % u],
                                    expires=3600), timeout=8.0)
        self.assertStatus(resp, 500)
        self.assertTrue(retry_after_ok(resp), resp.dump())
        # Nothing of a refused REGISTER was applied here, and an AOR that is
        # not in the cache is unknown while Redis is down: 500, never "not
        # found" nor a 200 claiming it has no bindings.
        resp = lookup(c, refused_user, timeout=8.0)
        self.assertStatus(resp, 500)
        self.assertTrue(retry_after_ok(resp), resp.dump())
        resp = c.request(c.register(user=h.unique_user("unseen")), timeout=8.0)
        self.assertStatus(resp, 500)
        self.assertTrue(retry_after_ok(resp), resp.dump())
        # The AORs in the cache are still answered.
        for u in cached:
            resp = lookup(c, u, timeout=8.0)
            self.assertStatus(resp, 302)
            self.assertEqual(sorted(bindings(resp)), ["sip:%s@127.0.0.1:7200" % u], resp.dump())
        after = self.cluster_counters(d)
        self.assertGreater(after["cluster_failures"], before["cluster_failures"])
        # health says so (published once a second).
        self.wait_health(d, "degraded")

        # The same Redis back on its port (empty: no persistence).
        redis.start()
        back = time.monotonic()
        deadline = back + 15.0
        refused = 0
        while True:
            u = h.unique_user("back")
            resp = c.request(c.register(user=u, contacts=["<sip:%s@127.0.0.1:7202>" % u],
                                        expires=3600), timeout=8.0)
            if resp.status == 200:
                break
            self.assertStatus(resp, 500)
            self.assertTrue(retry_after_ok(resp), resp.dump())
            refused += 1
            self.assertLess(time.monotonic(), deadline,
                            "REGISTERs still refused 15 s after the Redis came back:\n"
                            + resp.dump())
            time.sleep(0.1)
        log("Redis back: first 200 after %.2f s (%d 500s meanwhile)", time.monotonic() - back,
            refused)
        self.assertBindings(resp, {"sip:%s@127.0.0.1:7202" % u: (3590, 3600)})
        self.wait_health(d, "ok")
        self.assertIn("locus:aor:" + aor_of(u), redis.cli("KEYS", "locus:aor:*"))
        self.wait_lookup(c, u, {"sip:%s@127.0.0.1:7202" % u: (3590, 3600)})

    def test_4b_nothing_listening_at_start(self):
        """--cluster naming a port nobody listens on: locusd exits naming the
        address, or starts and answers REGISTERs 500 with Retry-After."""
        port = h.free_port()
        address = "127.0.0.1:%d" % port
        d = Locusd(["--cluster=" + address, "--shards=1"], admin=True)
        d.killed = False
        d.start()
        self.addCleanup(self._stop_node, d)
        deadline = time.monotonic() + 10.0
        while "listening on" not in d.stderr_text() and d.proc.poll() is None:
            self.assertLess(time.monotonic(), deadline,
                            "neither listening nor exited within 10 s\n" + d._describe())
            time.sleep(0.02)
        if d.proc.poll() is not None:
            d.killed = True  # exited by itself: not stopped again
            d.kill()
            log("locusd with no Redis at %s: exited with %s", address, d.returncode)
            self.assertNotEqual(d.returncode, 0, d._describe())
            self.assertIn(address, d.stderr_text(), "the exit does not name the address\n"
                          + d._describe())
            return
        d.wait_ready()
        c = self.client(d)
        user = h.unique_user("nored")
        resp = c.request(c.register(user=user, contacts=[c.contact(user)], expires=3600),
                         timeout=8.0)
        log("locusd with no Redis at %s: started; REGISTER got %d %s", address, resp.status,
            resp.reason)
        self.assertStatus(resp, 500)
        self.assertTrue(retry_after_ok(resp), "500 without Retry-After:\n" + resp.dump())
        resp = lookup(c, user, timeout=8.0)
        self.assertNotEqual(resp.status, 302, resp.dump())


# ---------------------------------------------------------------------------

class MasterFailover(ClusterCase):
    """A Redis master SIGKILLed under load, both nodes with
    --cluster_ack=replicas, on a cluster of its own: 3 masters with 2
    replicas each, so that the promoted replica still has a replica and a
    WAIT for one can succeed after the failover."""

    timeout = 90
    cluster = None
    ACKS_BEFORE_KILL = 60
    AFTER_KILL = 15.0       # registrations go on at most this long after the kill
    CALM = 2.0              # ... and stop once this long without a 500 (after one)
    REQUEST_TIMEOUT = 8.0

    @classmethod
    def setUpClass(cls):
        cls.cluster = rh.RedisCluster(masters=3, replicas=2)
        cls.cluster.__enter__()

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.stop()
            cls.cluster = None

    def test_5_master_killed_under_load(self):
        """500s (with Retry-After) only within one window after the master's
        SIGKILL; every AOR acknowledged, before or after, answered with its
        302 by the other node."""
        cluster = self.cluster
        flags = ["--cluster_ack=replicas"]
        a = self.node(2, seeds=cluster.seeds, extra=flags)
        b = self.node(1, seeds=cluster.seeds, extra=flags)

        # The master of a probe AOR's slot, as Redis says it.
        probe = h.unique_user("probe")
        slot = int(cluster.servers[0].cli("CLUSTER", "KEYSLOT", aor_key(probe)).strip())
        self.assertEqual(slot, key_slot(aor_key(probe)))
        master_port, ranges = master_of_slot(cluster, slot)
        log("probe %s: slot %d, master on port %d (slots %s)", aor_of(probe), slot, master_port,
            ranges)

        def on_master(prefix):
            while True:
                u = h.unique_user(prefix)
                if any(lo <= key_slot(aor_key(u)) <= hi for lo, hi in ranges):
                    return u

        for _ in range(3):  # the local slot rule against Redis's, on AORs it picks
            u = on_master("chk")
            self.assertEqual(int(cluster.servers[0].cli("CLUSTER", "KEYSLOT", aor_key(u)).strip()),
                             key_slot(aor_key(u)))

        stop = threading.Event()
        lock = threading.Lock()
        results = {"A": [], "B": []}   # (user, sent, answered, status, response)
        errors = []

        def run(node, name):
            client = UdpClient(node.udp_addr)
            try:
                while not stop.is_set():
                    with lock:
                        u = on_master("fo" + name.lower())
                    req = client.register(user=u, contacts=["<sip:%s@127.0.0.1:7300>" % u],
                                          expires=3600)
                    sent = time.monotonic()
                    try:
                        resp = client.request(req, timeout=self.REQUEST_TIMEOUT)
                    except AssertionError as exc:
                        errors.append("%s: %s" % (name, str(exc).splitlines()[0]))
                        results[name].append((u, sent, time.monotonic(), None, None))
                        continue
                    results[name].append((u, sent, time.monotonic(), resp.status, resp))
                    stop.wait(0.005)
            except Exception as exc:  # noqa: BLE001 (reported by the main thread)
                errors.append("%s: %r" % (name, exc))
            finally:
                client.close()

        threads = [threading.Thread(target=run, args=(n, name), daemon=True)
                   for n, name in ((a, "A"), (b, "B"))]
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 15.0
            def acked():
                return [r for r in results["A"] + results["B"] if r[3] == 200]

            while len(acked()) < self.ACKS_BEFORE_KILL:
                self.assertLess(time.monotonic(), deadline, "fewer than %d acknowledgements in "
                                "15 s: %r" % (self.ACKS_BEFORE_KILL, errors[:3]))
                time.sleep(0.01)
            # The key of an acknowledged AOR is on that master.
            key = aor_key(acked()[0][0])
            self.assertEqual(cluster.server_at(master_port).cli("EXISTS", key).strip(), "1",
                             "%s is not on the master of port %d" % (key, master_port))
            victim = cluster.server_at(master_port)
            kill_at = time.monotonic()
            victim.kill()
            while True:
                now = time.monotonic()
                with lock:
                    fails = [r[2] for r in results["A"] + results["B"]
                             if r[3] is not None and r[3] != 200 and r[2] >= kill_at]
                if now - kill_at >= self.AFTER_KILL:
                    break
                if fails and now - max(fails) >= self.CALM:
                    break
                if not fails and now - kill_at >= self.AFTER_KILL / 2:
                    break
                if errors:
                    break
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(self.REQUEST_TIMEOUT + 2)
        end = time.monotonic()
        self.assertFalse(any(t.is_alive() for t in threads), "a load thread still runs")
        self.assertEqual(errors, [], "requests without an answer within %.0f s"
                         % self.REQUEST_TIMEOUT)

        everything = sorted(results["A"] + results["B"], key=lambda r: r[2])
        bad = [r for r in everything if r[3] not in (200, 500)]
        self.assertEqual(bad, [], "answers other than 200 and 500:\n%s"
                         % "\n".join(describe(r[4]) for r in bad[:3]))
        refused = [r for r in everything if r[3] == 500]
        for r in refused:
            self.assertTrue(retry_after_ok(r[4]), "500 without Retry-After:\n" + r[4].dump())
        early = [r for r in refused if r[2] < kill_at]
        self.assertEqual(early, [], "500s before the master was killed:\n%s"
                         % describe(early[0][4] if early else None))
        acked_before = [r for r in everything if r[3] == 200 and r[2] < kill_at]
        acked_after = [r for r in everything if r[3] == 200 and r[2] >= kill_at]
        latency = max(r[2] - r[1] for r in everything)
        if refused:
            first_500, last_500 = refused[0][2] - kill_at, refused[-1][2] - kill_at
            window = last_500 - first_500
            in_window = [r for r in everything if refused[0][2] <= r[2] <= refused[-1][2]]
            log("failover: master on port %d killed; 500s from +%.2f s to +%.2f s after the kill "
                "(window %.2f s): %d 500s, %d 200s inside it; %d acknowledged before, %d after; "
                "slowest answer %.2f s; load ran %.1f s after the kill; masters now %r",
                master_port, first_500, last_500, window, len(refused),
                sum(1 for r in in_window if r[3] == 200), len(acked_before), len(acked_after),
                latency, end - kill_at, cluster.master_ports())
            # One window, ended: the node timeout (2 s), the election, a map read.
            self.assertLess(last_500, 12.0, "500s went on for %.1f s after the kill" % last_500)
            after_window = [r for r in everything if r[2] > refused[-1][2]]
            self.assertTrue(after_window and all(r[3] == 200 for r in after_window),
                            "no 200 after the last 500: the failover was not ridden out")
        else:
            log("failover: master on port %d killed; no 500 at all; %d acknowledged before, %d "
                "after; slowest answer %.2f s; masters now %r", master_port, len(acked_before),
                len(acked_after), latency, cluster.master_ports())
        self.assertGreater(len(acked_after), 0, "nothing acknowledged after the kill")
        self.assertGreaterEqual(len(acked_after), 20, "too few acknowledged after the kill")
        # The load ended in 200s on both nodes.
        for name in ("A", "B"):
            self.assertEqual(results[name][-1][3], 200, "node %s's last REGISTER: %s"
                             % (name, describe(results[name][-1][4])))

        # Every acknowledged AOR, through the other node.
        other = {"A": self.client(b), "B": self.client(a)}
        for name in ("A", "B"):
            users = [r[0] for r in results[name] if r[3] == 200]
            self.check_lookups(other[name], users, lambda u: "sip:%s@127.0.0.1:7300" % u,
                               "AORs acknowledged by node %s, looked up through the other" % name)
        if refused:
            failures = sum(self.cluster_counters(n)["cluster_failures"] for n in (a, b))
            self.assertGreater(failures, 0, "500s given, but no cluster_failures counted")


def load_tests(loader, standard_tests, pattern):
    """The classes in order: MasterFailover last (it kills a Redis master)."""
    suite = unittest.TestSuite()
    for cls in (TwoNodes, Authentication, RedisDown, MasterFailover):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    if rh.REDIS_SERVER is None or rh.REDIS_CLI is None:
        sys.exit("redis-server and redis-cli are needed (tools/bootstrap installs redis-server)")
    h.run_unittests()
