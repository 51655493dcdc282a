#!/usr/bin/env python3
"""locusd's durability: the bindings journal, snapshots and start-up
restore, against real daemons on loopback, each in a working directory of its
own (data under var/locus/bindings):

  Crash          --durability=sync, 2 shards: ~3,000 AORs behaving like phones
                 (one request at a time each: register, refresh, change or add
                 a contact, unregister one or all) from 8 UDP sockets; SIGKILL
                 under load; after the restart every acknowledged state is there
                 exactly (contacts, remaining expiry, Call-ID, CSeq), requests in
                 flight at the kill show the state before or after, nothing else.
  CleanRestart   SIGTERM then restart: everything back with the right remaining
                 expiry, except bindings that lapsed while locusd was down.
  TornTail       one shard, 40 records written one by one: the journal cut at
                 record boundaries and inside records (header and payload), and
                 single bytes flipped; every start restores exactly the records
                 before the damage, warns "is damaged at byte <offset>", cuts the
                 file back; new records after the cut are read on the next start;
                 damage in a journal discards the later journals too.
  FaultInjection --journal_fault_file: sync REGISTERs get 500 + Retry-After: 5 and
                 change nothing (counters, log once per shard per burst), 200
                 again once the file is gone; SIGKILL keeps exactly the
                 acknowledged state. An admin remove answered ok while writes
                 fail must not be undone behind the operator's back.
  Async          --durability=async: acknowledged changes survive SIGKILL after
                 a flush, SIGTERM flushes at once; a failed flush makes changing
                 REGISTERs 500 until a retry succeeds.
  ShardCount     2 -> 1 -> 3 shards on the same data directory: every binding
                 survives (dump and a lookup of every AOR), CURRENT and one
                 generation directory.
  Snapshots      admin "snapshot" under load (files afterwards, SIGKILL restore);
                 --snapshot_journal_size makes snapshots by themselves.
  Off            --durability=off: no bindings directory, nothing restored.
  AdminRemove    a removed AOR or contact stays removed after SIGKILL (with
                 --data_dir).

Usage: test_durability.py --locusd PATH [unittest arguments, e.g. -k TornTail]
Bounded: every test by LocusTestCase's alarm, every wait by a timeout, every
load by a count and a time. Traffic goes to 127.0.0.1 only.
"""

import collections
import os
import random
import re
import secrets
import select
import shutil
import struct
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, Locusd, UdpClient, counters  # noqa: E402

POLICY = ["--min_expires=60", "--default_expires=3600", "--max_expires=7200"]
# Remaining expiry after a restart, compared with the acknowledged one minus
# the time elapsed: whole seconds on the daemon's side, receive times here.
EXPIRY_TOLERANCE = 2.0

DAMAGED = re.compile(r"is damaged at byte (\d+)")
WRITE_FAILED = re.compile(r"shard (\d+): journal write failed")
WRITES_AGAIN = re.compile(r"shard (\d+): journal writes succeed again")
FILE_NAME = re.compile(r"^(\d+)-(\d{6})\.(journal|snapshot)(\.tmp)?$")


# ---------------------------------------------------------------------------
# Files


def bindings_dir(cwd, data_dir="var/locus"):
    return os.path.join(cwd, data_dir, "bindings")


def read_current(cwd):
    """CURRENT as (generation, shards)."""
    with open(os.path.join(bindings_dir(cwd), "CURRENT")) as f:
        text = f.read()
    m = re.fullmatch(r"(\d+) (\d+)\n", text)
    if not m:
        raise AssertionError("CURRENT is %r, not '<generation> <shards>\\n'" % text)
    return int(m.group(1)), int(m.group(2))


def generation_files(cwd):
    """{shard: {"journal": [seq...], "snapshot": [seq...], "tmp": [name...]}} of the
    current generation directory; other names under "other"."""
    gen, _ = read_current(cwd)
    gen_dir = os.path.join(bindings_dir(cwd), "gen-%d" % gen)
    out = collections.defaultdict(lambda: {"journal": [], "snapshot": [], "tmp": []})
    for name in sorted(os.listdir(gen_dir)):
        m = FILE_NAME.match(name)
        if not m:
            out["other"]["tmp"].append(name)
            continue
        entry = out[int(m.group(1))]
        if m.group(4):
            entry["tmp"].append(name)
        else:
            entry[m.group(3)].append(int(m.group(2)))
    return dict(out)


_CRC32C = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def parse_payload(p):
    """An AOR-state record's payload as (aor, [binding dict])."""
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from(fmt, p, pos)
        pos += struct.calcsize(fmt)
        return values

    def string():
        nonlocal pos
        (n,) = take("<H")
        value = p[pos:pos + n]
        if len(value) != n:
            raise AssertionError("string runs past the payload")
        pos += n
        return value.decode("utf-8", "replace")

    aor = string()
    (count,) = take("<H")
    bindings = []
    for _ in range(count):
        b = dict(contact=string(), call_id=string(), user_agent=string(), instance=string(),
                 path=string())
        (b["cseq"], b["expires_at"], b["registered_at"], b["refreshed_at"],
         b["reg_id"]) = take("<5I")
        b["q"], b["has_q"], b["transport"], b["family"], b["port"] = take("<HBBBH")
        b["address"] = p[pos:pos + 16]
        pos += 16
        bindings.append(b)
    if pos != len(p):
        raise AssertionError("payload of %d bytes, %d parsed" % (len(p), pos))
    return aor, bindings


def parse_records(data):
    """Every record of a journal or snapshot file: [(offset, length, aor, bindings)].
    Fails on a torn or corrupt record."""
    out = []
    off = 0
    while off < len(data):
        if off + 8 > len(data):
            raise AssertionError("torn header at %d" % off)
        size, crc = struct.unpack_from("<II", data, off)
        payload = data[off + 8:off + 8 + size]
        if len(payload) != size:
            raise AssertionError("torn payload at %d" % off)
        if crc32c(payload) != crc:
            raise AssertionError("CRC-32C mismatch at %d" % off)
        aor, bindings = parse_payload(payload)
        out.append((off, 8 + size, aor, bindings))
        off += 8 + size
    return out


# ---------------------------------------------------------------------------
# User agents and their acknowledged state


class Ua:
    """One AOR as one client keeps it: a Call-ID, a CSeq counter, and the
    bindings its last 200 listed, as {contact uri: (deadline, cseq)} where the
    deadline is time.monotonic() of expiry."""

    def __init__(self, user, domain):
        self.user = user
        self.domain = domain
        self.aor = "sip:%s@%s" % (user, domain)
        self.call_id = h.new_call_id()
        self.cseq = 0
        self.next_contact = 0
        self.acked = {}
        self.inflight = None  # Inflight, while a request waits for its answer

    def new_contact(self):
        k = self.next_contact
        self.next_contact += 1
        return "sip:%s-c%d@127.0.0.1:%d" % (self.user, k, 20000 + k)

    def request(self, client, changes=(), star=False, now=None):
        """A REGISTER with one Contact per (uri, expires) of changes, or
        Contact: * with Expires: 0; also returns the state it would leave."""
        self.cseq += 1
        now = time.monotonic() if now is None else now
        if star:
            req = client.register(user=self.user, domain=self.domain, contacts=["*"], expires=0,
                                  call_id=self.call_id, cseq=self.cseq)
            return req, {}
        contacts = ["<%s>;expires=%d" % (uri, e) for uri, e in changes]
        req = client.register(user=self.user, domain=self.domain, contacts=contacts,
                              call_id=self.call_id, cseq=self.cseq)
        expected = dict(self.acked)
        for uri, e in changes:
            if e == 0:
                expected.pop(uri, None)
            else:
                expected[uri] = (now + e, self.cseq)
        return req, expected

    def ack(self, resp, t, expected):
        """Takes a 200 as the acknowledged state; returns an error text when
        its contacts are not the ones the request should have left."""
        got = {}
        for c in resp.contacts():
            if c.expires is None:
                return "%s: contact without expires in:\n%s" % (self.aor, resp.dump())
            got[c.uri] = c.expires
        if set(got) != set(expected):
            return "%s: 200 lists %s, expected %s" % (self.aor, sorted(got), sorted(expected))
        # Contacts this request did not touch keep their CSeq.
        self.acked = {uri: (t + e, expected[uri][1]) for uri, e in got.items()}
        return None


class Inflight:
    __slots__ = ("req", "data", "branch", "cseq", "expected", "sent", "next_send", "interval",
                 "client", "op")

    def __init__(self, client, req, cseq, expected, op, now):
        self.client = client
        self.req = req
        self.data = req.to_bytes()
        self.branch = req.branch
        self.cseq = cseq
        self.expected = expected
        self.op = op
        self.sent = now
        self.interval = 0.5
        self.next_send = now + self.interval


def state_error(ua, expected, got, now, tolerance=EXPIRY_TOLERANCE):
    """None when got ({contact: dump/lookup binding}) is exactly expected
    ({contact: (deadline, cseq)}) at time now, else what differs."""
    if set(got) != set(expected):
        return "%s: contacts %s, expected %s" % (ua.aor, sorted(got), sorted(expected))
    for uri, (deadline, cseq) in expected.items():
        b = got[uri]
        left = deadline - now
        if abs(b["expires"] - left) > tolerance:
            return "%s: %s expires in %d s, expected %.1f" % (ua.aor, uri, b["expires"], left)
        if b.get("call_id") != ua.call_id:
            return "%s: %s has Call-ID %r, expected %r" % (ua.aor, uri, b.get("call_id"),
                                                          ua.call_id)
        if cseq is not None and b.get("cseq") != cseq:
            return "%s: %s has CSeq %r, expected %d" % (ua.aor, uri, b.get("cseq"), cseq)
    return None


# ---------------------------------------------------------------------------
# The test base


class DurabilityCase(LocusTestCase):
    """Helpers: working directories, daemons started on them (several in turn
    on one directory, each with its own stderr file), admin connections,
    registrations that keep the acknowledged state, state checks."""

    timeout = 60

    def setUp(self):
        super().setUp()
        self._starts = collections.Counter()
        self.clients = []

    def workdir(self):
        path = tempfile.mkdtemp(prefix="locus-dur-")
        if os.environ.get("LOCUS_KEEP_TMP") != "1":
            self.addCleanup(shutil.rmtree, path, True)
        return path

    def start(self, cwd, flags):
        """A ready locusd on cwd (admin socket cwd/admin.sock); killed at the
        end of the test if still running."""
        self._starts[cwd] += 1
        d = Locusd(POLICY + list(flags), cwd=cwd, admin=True)
        d.stderr_path = os.path.join(cwd, "locusd-%d.stderr" % self._starts[cwd])
        d.start()
        self.addCleanup(self._reap, d)
        try:
            d.wait_ready()
        except BaseException:
            d.kill()
            raise
        return d

    @staticmethod
    def _reap(d):
        """Kills d if still running; reports a daemon that died on its own."""
        if d.proc is not None and d.proc.poll() is not None and d.returncode is None:
            sys.stderr.write("\nlocusd died on its own (exit %s):\n%s\n"
                             % (d.proc.returncode, d._describe()))
        d.kill()

    def admin(self, d):
        a = d.admin(timeout=10.0)
        self.addCleanup(a.close)
        return a

    def udp_clients(self, d, n):
        out = [UdpClient(d.udp_addr) for _ in range(n)]
        for c in out:
            self.addCleanup(c.close)
        return out

    def apply(self, d, jobs, sockets=8, window=48, expect=200):
        """jobs: [(ua, changes, star)]; sends one REGISTER per job (each ua once
        per call), all from `sockets` sockets, and checks every answer has
        status `expect`. A 200 becomes the ua's acknowledged state. Returns
        the responses."""
        clients = self.udp_clients(d, sockets)
        reqs, meta = [], []
        now = time.monotonic()
        for k, (ua, changes, star) in enumerate(jobs):
            c = clients[k % sockets]
            req, expected = ua.request(c, changes, star, now)
            reqs.append((c, req))
            meta.append((ua, expected))
        answers = h.udp_exchange(reqs, window=window, with_times=True)
        for (ua, expected), (resp, t) in zip(meta, answers):
            self.assertEqual(resp.status, expect, "%s: expected %d, got:\n%s"
                             % (ua.aor, expect, resp.dump()))
            if resp.status == 200:
                err = ua.ack(resp, t, expected)
                self.assertIsNone(err, err)
        for c in clients:
            c.close()
        return [resp for resp, _ in answers]

    def register_new(self, d, uas, expires=3600, **kw):
        """Registers one new contact for each ua."""
        return self.apply(d, [(ua, [(ua.new_contact(), expires)], False) for ua in uas], **kw)

    def register_one(self, client, ua, changes=(), star=False, expect=200):
        """One REGISTER, waiting for its answer (Timer E retransmissions)."""
        req, expected = ua.request(client, changes, star)
        resp = client.request(req, timeout=5.0)
        expect = expect if isinstance(expect, tuple) else (expect,)
        self.assertIn(resp.status, expect, "%s: expected %s, got:\n%s"
                      % (ua.aor, expect, resp.dump()))
        if resp.status == 200:
            err = ua.ack(resp, time.monotonic(), expected)
            self.assertIsNone(err, err)
        return resp

    def dump_state(self, admin):
        """{aor: {contact: binding}} of a full dump, and the time it was taken."""
        t0 = time.monotonic()
        bindings, final = admin.dump(timeout=30.0)
        t1 = time.monotonic()
        self.assertTrue(final.get("ok"), final)
        self.assertEqual(final.get("count"), len(bindings), final)
        state = {}
        for b in bindings:
            per = state.setdefault(b["aor"], {})
            self.assertNotIn(b["contact"], per, "binding listed twice: %r" % b)
            per[b["contact"]] = b
        return state, (t0 + t1) / 2

    def lookup(self, admin, aor):
        answer = admin.ok({"cmd": "lookup", "aor": aor})
        return {b["contact"]: b for b in answer["bindings"]}

    def assertExactly(self, admin, uas, absent=(), lookups=True, others=()):
        """The daemon holds exactly the acknowledged state of uas (a dump,
        and each AOR looked up), and nothing else; `absent` are Uas that must
        have no binding, `others` AORs that must be there (in any state)."""
        state, now = self.dump_state(admin)
        errors = []
        known = {ua.aor for ua in uas}
        others = set(others)
        for aor in state:
            if aor not in known and aor not in others:
                errors.append("%s is there, never acknowledged: %r" % (aor, state[aor]))
        for aor in sorted(others - set(state))[:20]:
            errors.append("%s is missing" % aor)
        for ua in uas:
            err = state_error(ua, ua.acked, state.get(ua.aor, {}), now)
            if err:
                errors.append("dump: " + err)
        if lookups:
            for ua in list(uas) + list(absent):
                t = time.monotonic()
                want = ua.acked if ua.aor in known else {}
                err = state_error(ua, want, self.lookup(admin, ua.aor), t)
                if err:
                    errors.append("lookup: " + err)
        if errors:
            self.fail("%d differences, first ones:\n%s" % (len(errors), "\n".join(errors[:15])))
        return state


def uas_for(prefix, n, domain):
    run = secrets.token_hex(3)
    return [Ua("%s%d-%s" % (prefix, i, run), domain) for i in range(n)]


# ---------------------------------------------------------------------------
# 1. SIGKILL under load


class Crash(DurabilityCase):
    PHONES = 3000
    SOCKETS = 8
    WINDOW = 200
    BURST = 800           # requests sent right before the kill
    KILL_AFTER = 1.0      # seconds of load before the SIGKILL
    MIN_ACKED = 500       # 200s needed before the kill, else the test proves nothing
    MAX_LOAD_SECONDS = 10.0
    FLAGS = ["--shards=2", "--durability=sync"]

    def next_request(self, ua, client, rng, now):
        cur = ua.acked
        e = rng.randrange(600, 3600)
        if not cur:
            op = "register"
        else:
            r = rng.random()
            if r < 0.45:
                op = "refresh"
            elif r < 0.65:
                op = "change"
            elif r < 0.75 and len(cur) < 3:
                op = "add"
            elif r < 0.88:
                op = "unregister_all"
            else:
                op = "unregister_one"
        star = False
        if op in ("register", "add"):
            changes = [(ua.new_contact(), e)]
        elif op == "refresh":
            changes = [(uri, e + k) for k, uri in enumerate(sorted(cur))]
        elif op == "change":
            changes = [(rng.choice(sorted(cur)), 0), (ua.new_contact(), e)]
        elif op == "unregister_one":
            changes = [(rng.choice(sorted(cur)), 0)]
        else:
            changes, star = [], True
        req, expected = ua.request(client, changes, star, now)
        return Inflight(client, req, ua.cseq, expected, op, now)

    def run_load(self, d, phones, rng):
        """Drives the phones until KILL_AFTER s and MIN_ACKED 200s, SIGKILLs d,
        then reads the answers already sent for 0.5 s. Returns a summary."""
        clients = self.udp_clients(d, self.SOCKETS)
        for c in clients:
            c.sock.setblocking(False)
        by_fd = {c.sock.fileno(): c for c in clients}
        idle = collections.deque(phones)
        pending = {}  # branch -> phone
        errors = []
        acked = collections.Counter()
        sent = collections.Counter()
        start = time.monotonic()
        killed_at = None
        acked_at_kill = 0
        last_scan = start
        while True:
            now = time.monotonic()
            if killed_at is None:
                while len(pending) < self.WINDOW and idle:
                    ua = idle.popleft()
                    c = clients[ua.index % self.SOCKETS]
                    ua.inflight = self.next_request(ua, c, rng, now)
                    c.sock.sendto(ua.inflight.data, c.server)
                    pending[ua.inflight.branch] = ua
                    sent[ua.inflight.op] += 1
                if now - last_scan >= 0.05:  # Timer E
                    last_scan = now
                    for ua in pending.values():
                        f = ua.inflight
                        if now >= f.next_send:
                            f.client.sock.sendto(f.data, f.client.server)
                            f.interval = min(f.interval * 2, 4.0)
                            f.next_send = now + f.interval
                total = sum(acked.values())
                if (now - start >= self.KILL_AFTER and total >= self.MIN_ACKED) or \
                        now - start > self.MAX_LOAD_SECONDS:
                    oldest = max((now - p.inflight.sent for p in pending.values()), default=0)
                    # A burst of requests (built first, then sent as fast as
                    # possible) right before the kill: some not yet read by
                    # locusd, some applied but not yet durable, some durable
                    # but not yet answered.
                    burst = []
                    for _ in range(min(self.BURST, len(idle))):
                        ua = idle.popleft()
                        c = clients[ua.index % self.SOCKETS]
                        ua.inflight = self.next_request(ua, c, rng, now)
                        pending[ua.inflight.branch] = ua
                        sent[ua.inflight.op] += 1
                        burst.append((c.sock, ua.inflight.data, c.server))
                    for sock, data, server in burst:
                        sock.sendto(data, server)
                    d.kill()
                    killed_at = time.monotonic()
                    acked_at_kill = total
                    continue
            elif now - killed_at >= 0.5:
                break
            r, _, _ = select.select(list(by_fd), [], [], 0.01)
            for fd in r:
                c = by_fd[fd]
                while True:
                    try:
                        data = c.sock.recv(65536)
                    except (BlockingIOError, ConnectionRefusedError):
                        break
                    resp = h.parse_response(data)
                    if resp is None:
                        errors.append("not a SIP response: %r" % data[:200])
                        continue
                    if resp.status < 200:
                        continue
                    ua = pending.pop(resp.branch, None)
                    if ua is None:
                        continue  # the answer to a retransmission
                    f = ua.inflight
                    if resp.status != 200:
                        errors.append("%s (%s): %d %s" % (ua.aor, f.op, resp.status, resp.reason))
                        continue  # stays "in flight": either state is allowed
                    err = ua.ack(resp, time.monotonic(), f.expected)
                    if err:
                        errors.append(err)
                    ua.inflight = None
                    acked[f.op] += 1
                    if killed_at is None:
                        idle.append(ua)
        for c in clients:
            c.close()
        return dict(errors=errors, acked=acked, sent=sent, acked_at_kill=acked_at_kill,
                    in_flight=[ua for ua in phones if ua.inflight is not None],
                    load_seconds=killed_at - start, oldest_outstanding=oldest)

    def check_restored(self, admin, phones, summary):
        """Every phone shows its acknowledged state, or, if its last request
        was in flight at the kill, the state that request would leave; no
        other AOR exists. Then takes what each in-flight phone shows as its
        acknowledged state."""
        state, now = self.dump_state(admin)
        errors = []
        known = {ua.aor for ua in phones}
        for aor in state:
            if aor not in known:
                errors.append("%s is there but was never sent: %r" % (aor, state[aor]))
        took_new = []
        for ua in phones:
            got = state.get(ua.aor, {})
            err = state_error(ua, ua.acked, got, now)
            if err and ua.inflight is not None:
                err2 = state_error(ua, ua.inflight.expected, got, now)
                if err2 is None:
                    took_new.append(ua)
                    err = None
                else:
                    err = "%s (in flight: %s; %s)" % (err, ua.inflight.op, err2)
            if err:
                errors.append(err)
        print("  after the restart: %d AORs, %d bindings; of the %d AORs in flight at the "
              "kill, %d show the new state" % (len(state), sum(len(v) for v in state.values()),
                                                len(summary["in_flight"]), len(took_new)),
              flush=True)
        if errors:
            self.fail("%d AORs differ from what was acknowledged, first ones:\n%s"
                      % (len(errors), "\n".join(errors[:15])))
        for ua in took_new:
            ua.acked = ua.inflight.expected
        for ua in phones:
            ua.inflight = None

    def test_sigkill_under_load_keeps_every_acknowledged_state(self):
        # Two rounds on the same data: the second crash is replayed from the
        # first run's journals (cut back where torn) and the second run's.
        cwd = self.workdir()
        d = self.start(cwd, self.FLAGS)
        phones = uas_for("ph", self.PHONES, "crash.test")
        for i, ua in enumerate(phones):
            ua.index = i
        rng = random.Random(0xC4A54)
        rng.shuffle(phones)
        for _ in range(2):
            summary = self.run_load(d, phones, rng)
            print("\n  crash load: %.2f s, %d requests sent %s, %d acknowledged before the kill, "
                  "%d in total %s, %d in flight at the kill"
                  % (summary["load_seconds"], sum(summary["sent"].values()),
                     dict(summary["sent"]), summary["acked_at_kill"],
                     sum(summary["acked"].values()), dict(summary["acked"]),
                     len(summary["in_flight"])), flush=True)
            if summary["errors"]:
                self.fail("%d answers were not the expected 200s, first ones:\n%s"
                          % (len(summary["errors"]), "\n".join(summary["errors"][:15])))
            self.assertGreaterEqual(summary["acked_at_kill"], self.MIN_ACKED,
                                    "only %d 200s within %.0f s of load: too few to test a crash"
                                    % (summary["acked_at_kill"], self.MAX_LOAD_SECONDS))
            for op in ("register", "refresh", "change", "unregister_all"):
                self.assertGreater(summary["acked"][op], 0, "no %s acknowledged: %r"
                                   % (op, dict(summary["acked"])))
            self.assertLess(summary["oldest_outstanding"], 3.0,
                            "a request was outstanding %.1f s at the kill (locusd stopped "
                            "answering?)" % summary["oldest_outstanding"])
            d = self.start(cwd, self.FLAGS)
            self.check_restored(self.admin(d), phones, summary)

        # The restored Call-ID and CSeq are in force: the same CSeq again is
        # out of order (400), the next one is accepted.
        c = self.udp_clients(d, 1)[0]
        checked = 0
        for ua in phones:
            if checked == 3:
                break
            if not ua.acked or any(cseq != ua.cseq for _, cseq in ua.acked.values()):
                continue
            changes = [(uri, 1800) for uri in sorted(ua.acked)]
            ua.cseq -= 1
            self.register_one(c, ua, changes, expect=400)
            self.register_one(c, ua, changes, expect=200)
            checked += 1
        self.assertEqual(checked, 3)
        d.stop()


# ---------------------------------------------------------------------------
# 2. Clean restart


class CleanRestart(DurabilityCase):
    FLAGS = ["--shards=2", "--min_expires=1"]

    def test_sigterm_restores_everything_but_what_lapsed_meanwhile(self):
        cwd = self.workdir()
        d = self.start(cwd, self.FLAGS)
        admin = self.admin(d)
        long_uas = uas_for("long", 30, "clean.test")
        short_uas = uas_for("short", 20, "clean.test")
        mixed = uas_for("mixed", 10, "clean.test")
        self.register_new(d, long_uas[:15], expires=300)
        self.register_new(d, long_uas[15:], expires=5000)
        self.register_new(d, short_uas, expires=2)
        # Mixed: one binding that lapses, one that stays.
        self.apply(d, [(ua, [(ua.new_contact(), 2), (ua.new_contact(), 900)], False)
                       for ua in mixed])
        registered = time.monotonic()
        self.assertEqual(h.counters(admin.stats())["journal_failures"], 0)
        d.stop()

        # Down for longer than the short registrations.
        time.sleep(max(0.0, registered + 3.2 - time.monotonic()))
        d2 = self.start(cwd, self.FLAGS)
        admin = self.admin(d2)
        for ua in short_uas:
            ua.acked = {}
        for ua in mixed:
            ua.acked = {uri: v for uri, v in ua.acked.items() if v[0] > time.monotonic()}
            self.assertEqual(len(ua.acked), 1)
        self.assertExactly(admin, long_uas + mixed, absent=short_uas)
        stats = h.wait_stats(admin, lambda s: s["totals"]["gauges"]["bindings"] == 40)
        self.assertEqual(stats["totals"]["gauges"]["bindings"], 40, stats["totals"]["gauges"])
        self.assertEqual(stats["totals"]["gauges"]["aors"], 40, stats["totals"]["gauges"])
        d2.stop()


# ---------------------------------------------------------------------------
# 3. Torn and corrupt journals


class TornTail(DurabilityCase):
    K = 40
    FLAGS = ["--shards=1"]

    def copy_data(self, src):
        cwd = self.workdir()
        shutil.copytree(os.path.join(src, "var"), os.path.join(cwd, "var"))
        return cwd

    def journal(self, cwd, seq=1):
        return os.path.join(bindings_dir(cwd), "gen-1", "0-%06d.journal" % seq)

    def check_start(self, src, name, mutate, intact, damaged_at):
        """Copies src's data, mutate(journal path), starts locusd on it and
        checks it restores exactly the first `intact` AORs, warns about the
        damage at byte damaged_at (None: no warning), and cut the journal
        back. Returns the running daemon and its working directory."""
        cwd = self.copy_data(src)
        mutate(self.journal(cwd))
        d = self.start(cwd, self.FLAGS)
        admin = self.admin(d)
        state, now = self.dump_state(admin)
        want = {ua.aor: ua for ua in self.uas[:intact]}
        context = "%s: expected the first %d AORs" % (name, intact)
        self.assertEqual(sorted(state), sorted(want), context)
        for aor, ua in want.items():
            err = state_error(ua, ua.acked, state[aor], now)
            self.assertIsNone(err, "%s: %s" % (context, err))
        warnings = [int(m.group(1)) for m in DAMAGED.finditer(d.stderr_text())]
        if damaged_at is None:
            self.assertEqual(warnings, [], "%s: a damage warning for an intact journal:\n%s"
                             % (name, d.stderr_text()))
        else:
            self.assertEqual(warnings, [damaged_at], "%s: expected one 'is damaged at byte %d'"
                             " warning:\n%s" % (name, damaged_at, d.stderr_text()))
        self.assertEqual(os.path.getsize(self.journal(cwd)), self.bounds[intact],
                         "%s: the journal is not cut back to its intact records" % name)
        return d, cwd

    def test_cut_and_corrupt_journals(self):
        src = self.workdir()
        d = self.start(src, self.FLAGS)
        self.uas = uas_for("torn", self.K, "torn.test")
        c = self.udp_clients(d, 1)[0]
        for i, ua in enumerate(self.uas):  # one record each
            self.register_one(c, ua, [(ua.new_contact(), 1000 + 10 * i)])
        d.stop()

        # The journal holds the K records, in order, in the documented format.
        files = generation_files(src)
        self.assertEqual(files, {0: {"journal": [1], "snapshot": [], "tmp": []}}, files)
        with open(self.journal(src), "rb") as f:
            data = f.read()
        records = parse_records(data)
        self.assertEqual([r[2] for r in records], [ua.aor for ua in self.uas])
        wall = time.time()
        for (off, length, aor, bindings), (i, ua) in zip(records, enumerate(self.uas)):
            self.assertEqual(len(bindings), 1)
            b = bindings[0]
            self.assertEqual(b["contact"], next(iter(ua.acked)))
            self.assertEqual(b["call_id"], ua.call_id)
            self.assertEqual(b["cseq"], 1)
            self.assertEqual(b["expires_at"] - b["registered_at"], 1000 + 10 * i, b)
            self.assertLess(abs(b["registered_at"] - wall), 30, b)
            self.assertEqual(b["registered_at"], b["refreshed_at"], b)
            self.assertEqual(b["port"], c.local_port, b)
            self.assertIn(b"\x7f\x00\x00\x01", b["address"], b)
        self.bounds = [r[0] for r in records] + [len(data)]
        lengths = [r[1] for r in records]
        b = self.bounds

        def cut(size):
            return lambda path: os.truncate(path, size)

        def flip(offset):
            def mutate(path):
                with open(path, "r+b") as f:
                    f.seek(offset)
                    byte = f.read(1)[0]
                    f.seek(offset)
                    f.write(bytes([byte ^ 0xFF]))
            return mutate

        cases = []
        for i in (0, 1, 2, 13, 27, 39, 40):  # record boundaries: nothing damaged
            cases.append(("cut at boundary %d" % i, cut(b[i]), i, None))
        for i, inside in ((5, 1), (10, 4), (15, 7)):  # inside the 8-byte header
            cases.append(("cut %d bytes into record %d" % (inside, i), cut(b[i] + inside), i, b[i]))
        for i, inside in ((20, 8), (25, 8 + (lengths[25] - 8) // 2), (39, lengths[39] - 1)):
            cases.append(("cut %d bytes into record %d" % (inside, i), cut(b[i] + inside), i, b[i]))
        for i, inside in ((0, 0), (7, 5), (12, 8), (18, 13), (22, 3), (30, lengths[30] - 1),
                          (39, lengths[39] // 2)):
            cases.append(("byte %d of record %d flipped" % (inside, i), flip(b[i] + inside), i, b[i]))
        self.assertLessEqual(len(cases) + 3, 25)  # daemon starts in this test

        repair = None
        for name, mutate, intact, damaged_at in cases:
            d, cwd = self.check_start(src, name, mutate, intact, damaged_at)
            if name == "byte 13 of record 18 flipped":
                repair = (d, cwd)  # kept running for the repair check below
            else:
                d.stop()

        # The cut made room: records appended after it are read next time.
        d, cwd = repair
        new = uas_for("after", 5, "torn.test")
        c = self.udp_clients(d, 1)[0]
        for ua in new:
            self.register_one(c, ua, [(ua.new_contact(), 3600)])
        d.stop()
        self.assertEqual(os.path.getsize(self.journal(cwd)), b[18])
        with open(self.journal(cwd, 2), "rb") as f:
            self.assertEqual(len(parse_records(f.read())), 5)
        d = self.start(cwd, self.FLAGS)
        self.assertExactly(self.admin(d), self.uas[:18] + new, absent=self.uas[18:])
        self.assertNotIn("is damaged", d.stderr_text())
        d.stop()

        # Damage in a journal with a later one behind it: the later journal's
        # records come after the damage, so they are discarded with it.
        cwd2 = self.copy_data(cwd)
        flip(b[10] + 9)(self.journal(cwd2))
        d = self.start(cwd2, self.FLAGS)
        self.assertExactly(self.admin(d), self.uas[:10], absent=self.uas[10:] + new)
        self.assertEqual([int(m.group(1)) for m in DAMAGED.finditer(d.stderr_text())], [b[10]],
                         d.stderr_text())
        self.assertEqual(os.path.getsize(self.journal(cwd2)), b[10])
        self.assertFalse(os.path.exists(self.journal(cwd2, 2)),
                         "the journal after the damaged one is still there: %r"
                         % generation_files(cwd2))
        d.stop()


# ---------------------------------------------------------------------------
# 4. Journal write failures, sync mode


class FaultInjection(DurabilityCase):

    def test_failed_writes_answer_500_and_change_nothing(self):
        cwd = self.workdir()
        fault = os.path.join(cwd, "fault")
        flags = ["--shards=2", "--durability=sync", "--journal_fault_file=" + fault]
        d = self.start(cwd, flags)
        admin = self.admin(d)
        olds = uas_for("old", 30, "fault.test")
        self.register_new(d, olds, expires=3600)
        before = h.wait_stats(admin, lambda s: s["totals"]["gauges"]["bindings"] == 30)

        open(fault, "w").close()
        news = uas_for("new", 10, "fault.test")

        def changing_jobs():
            jobs = [(ua, [(ua.new_contact(), 3600)], False) for ua in news]
            jobs += [(ua, [(uri, 1800) for uri in ua.acked], False) for ua in olds[0:5]]
            jobs += [(ua, [(ua.new_contact(), 1200)], False) for ua in olds[5:10]]
            jobs += [(ua, [(next(iter(ua.acked)), 0), (ua.new_contact(), 1200)], False)
                     for ua in olds[10:13]]
            jobs += [(ua, [], True) for ua in olds[13:16]]
            return jobs

        jobs = changing_jobs()
        answers = self.apply(d, jobs, expect=500)
        for resp in answers:
            self.assertEqual(resp.get("Retry-After"), "5", resp.dump())
        # A second burst, one request at a time: more failed groups, still one
        # log line per shard.
        second = uas_for("second", 6, "fault.test")
        c = self.udp_clients(d, 1)[0]
        for ua in second:
            resp = self.register_one(c, ua, [(ua.new_contact(), 3600)], expect=500)
            self.assertEqual(resp.get("Retry-After"), "5", resp.dump())
        refused = len(jobs) + len(second)

        # A query changes nothing and is answered.
        q = c.register(user=olds[0].user, domain=olds[0].domain, contacts=[])
        resp = c.request(q, timeout=5.0)
        self.assertEqual(resp.status, 200, resp.dump())
        self.assertEqual([x.uri for x in resp.contacts()], list(olds[0].acked), resp.dump())

        self.assertExactly(admin, olds, absent=news + second)
        after = admin.stats()

        def delta(name):
            return counters(after)[name] - counters(before)[name]

        self.assertGreater(delta("journal_failures"), 0)
        self.assertGreaterEqual(delta("journal_undone"), refused)
        self.assertEqual(delta("responses_500"), refused)
        for name in ("bindings_created", "bindings_refreshed", "bindings_removed",
                     "journal_commits"):
            self.assertEqual(delta(name), 0, "%s moved while every write failed" % name)
        self.assertEqual(after["totals"]["gauges"]["bindings"], 30)
        failed = collections.Counter(int(m.group(1)) for m in WRITE_FAILED.finditer(d.stderr_text()))
        self.assertTrue(failed, "no 'journal write failed' in the log:\n" + d.stderr_text())
        self.assertTrue(all(n == 1 for n in failed.values()),
                        "'journal write failed' more than once per shard in one burst: %r\n%s"
                        % (dict(failed), d.stderr_text()))

        # The disk recovers: the same changes are taken now.
        os.unlink(fault)
        self.apply(d, changing_jobs(), expect=200)
        for ua in second:
            self.register_one(c, ua, [(ua.new_contact(), 3600)])
        again = collections.Counter(int(m.group(1)) for m in WRITES_AGAIN.finditer(d.stderr_text()))
        self.assertEqual(set(again), set(failed), "'journal writes succeed again' per shard:\n%s"
                         % d.stderr_text())
        final = admin.stats()
        self.assertEqual(counters(final)["bindings_created"] - counters(after)["bindings_created"],
                         len(news) + 5 + 3 + len(second))
        self.assertExactly(admin, olds + news + second)

        d.kill()
        d2 = self.start(cwd, ["--shards=2", "--durability=sync"])
        self.assertExactly(self.admin(d2), olds + news + second)
        d2.stop()


    def test_admin_remove_while_writes_fail(self):
        # An admin remove is journaled like a REGISTER. While writes fail, its
        # answer must say what happened: refused ({"ok": false}), or removed --
        # and then the AOR is gone, now and after a restart.
        cwd = self.workdir()
        fault = os.path.join(cwd, "fault")
        flags = ["--shards=2", "--durability=sync", "--journal_fault_file=" + fault]
        d = self.start(cwd, flags)
        admin = self.admin(d)
        uas = uas_for("rmf", 6, "fault.test")
        self.register_new(d, uas)
        open(fault, "w").close()
        answers = {}
        for ua in uas[:3]:
            answers[ua.aor] = answer = admin.request({"cmd": "remove", "aor": ua.aor})
            if answer.get("ok") is True:
                self.assertEqual(answer.get("removed"), 1, answer)
                ua.acked = {}
            else:
                self.assertIn("error", answer)
        time.sleep(0.3)  # the group holding the removes has been tried
        self.assertTrue(WRITE_FAILED.search(d.stderr_text()), d.stderr_text())
        errors = []
        for ua in uas[:3]:
            left = self.lookup(admin, ua.aor)
            if answers[ua.aor].get("ok") is True and left:
                errors.append("%s: remove answered %r, but 0.3 s later lookup shows %s"
                              % (ua.aor, answers[ua.aor], sorted(left)))
        if errors:
            self.fail("an admin remove answered ok while the journal failed was undone:\n"
                      + "\n".join(errors))
        os.unlink(fault)
        after = uas_for("rmf-after", 4, "fault.test")
        self.register_new(d, after)
        d.kill()
        d2 = self.start(cwd, flags)
        self.assertExactly(self.admin(d2), uas + after)
        d2.stop()


# ---------------------------------------------------------------------------
# 5. Async mode


class Async(DurabilityCase):
    FLAGS = ["--shards=2", "--durability=async"]

    def test_acknowledged_then_flushed_survives_sigkill(self):
        cwd = self.workdir()
        d = self.start(cwd, self.FLAGS)
        uas = uas_for("as", 300, "async.test")
        self.register_new(d, uas)
        self.apply(d, [(ua, [(uri, 900) for uri in ua.acked], False) for ua in uas[:100]])
        self.apply(d, [(ua, [], True) for ua in uas[100:120]])
        time.sleep(0.5)
        d.kill()
        d2 = self.start(cwd, self.FLAGS)
        self.assertExactly(self.admin(d2), uas)
        d2.stop()

    def test_sigterm_flushes_what_is_pending(self):
        cwd = self.workdir()
        flags = self.FLAGS + ["--async_flush_interval=10000"]
        d = self.start(cwd, flags)
        uas = uas_for("term", 100, "async.test")
        self.register_new(d, uas)
        d.stop()  # at once: only the final flush writes them
        d2 = self.start(cwd, flags)
        self.assertExactly(self.admin(d2), uas)
        d2.stop()

    def test_failed_flush_refuses_changes_until_a_retry_succeeds(self):
        cwd = self.workdir()
        fault = os.path.join(cwd, "fault")
        d = self.start(cwd, self.FLAGS + ["--journal_fault_file=" + fault])
        admin = self.admin(d)
        uas = uas_for("af", 20, "async.test")
        self.register_new(d, uas)
        c = self.udp_clients(d, 1)[0]

        open(fault, "w").close()
        # Each shard finds out at its own next write: changes go on being
        # taken (200 at once) until then. Early changes until both have failed.
        early = []
        for k in range(20):
            if all(counters(admin.stats(), i)["journal_failures"] > 0 for i in range(2)):
                break
            ua = Ua("early%d-%s" % (k, secrets.token_hex(3)), "async.test")
            if self.register_one(c, ua, [(ua.new_contact(), 3600)], expect=(200, 500)).status == 200:
                early.append(ua)
            time.sleep(0.15)
        stats = admin.stats()
        for i in range(2):
            self.assertGreater(counters(stats, i)["journal_failures"], 0, "shard %d" % i)
        self.assertTrue(early, "no change was taken before the first failed flush")
        refused = uas_for("refused", 5, "async.test")
        for ua in refused:
            resp = self.register_one(c, ua, [(ua.new_contact(), 3600)], expect=500)
            self.assertEqual(resp.get("Retry-After"), "5", resp.dump())
        self.register_one(c, uas[0], [(uri, 600) for uri in uas[0].acked], expect=500)
        self.register_one(c, uas[1], [], star=True, expect=500)
        q = c.register(user=uas[2].user, domain=uas[2].domain, contacts=[])
        self.assertEqual(c.request(q, timeout=5.0).status, 200)
        self.assertExactly(admin, uas + early, absent=refused)
        self.assertTrue(WRITE_FAILED.search(d.stderr_text()), d.stderr_text())

        os.unlink(fault)
        deadline = time.monotonic() + 3.0
        while not WRITES_AGAIN.search(d.stderr_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        for ua in refused:
            self.register_one(c, ua, [(ua.new_contact(), 3600)])
        self.register_one(c, uas[0], [(uri, 600) for uri in uas[0].acked])
        self.register_one(c, uas[1], [], star=True)
        time.sleep(0.5)
        d.kill()
        d2 = self.start(cwd, self.FLAGS)
        self.assertExactly(self.admin(d2), uas + early + refused)
        d2.stop()


# ---------------------------------------------------------------------------
# 6. Another shard count on the same data


class ShardCount(DurabilityCase):

    def test_two_then_one_then_three_shards(self):
        cwd = self.workdir()
        d = self.start(cwd, ["--shards=2"])
        uas = uas_for("sc", 1000, "shards.test")
        self.register_new(d, uas)
        d.stop()
        self.assertEqual(read_current(cwd), (1, 2))

        d = self.start(cwd, ["--shards=1"])
        self.assertExactly(self.admin(d), uas)
        gen, shards = read_current(cwd)
        self.assertEqual((gen, shards), (2, 1))
        self.assertEqual(sorted(os.listdir(bindings_dir(cwd))), ["CURRENT", "gen-2"])
        # Changes on top of the new generation.
        self.apply(d, [(ua, [(uri, 1800) for uri in ua.acked], False) for ua in uas[:100]])
        self.apply(d, [(ua, [(next(iter(ua.acked)), 0), (ua.new_contact(), 2400)], False)
                       for ua in uas[100:150]])
        self.apply(d, [(ua, [], True) for ua in uas[150:170]])
        more = uas_for("sc-more", 100, "shards.test")
        self.register_new(d, more)
        d.stop()

        d = self.start(cwd, ["--shards=3"])
        admin = self.admin(d)
        self.assertExactly(admin, uas + more)
        self.assertEqual(read_current(cwd), (3, 3))
        self.assertEqual(sorted(os.listdir(bindings_dir(cwd))), ["CURRENT", "gen-3"])
        files = generation_files(cwd)
        self.assertEqual(sorted(files), [0, 1, 2], files)
        self.assertEqual(h.wait_stats(admin, lambda s: s["totals"]["gauges"]["bindings"] == 1080)
                         ["totals"]["gauges"]["bindings"], 1080)
        # The owners answer REGISTERs for the AORs they got.
        self.apply(d, [(ua, [(uri, 1000) for uri in ua.acked], False) for ua in uas[:60]])
        d.kill()
        d = self.start(cwd, ["--shards=3"])
        self.assertExactly(self.admin(d), uas + more)
        d.stop()


# ---------------------------------------------------------------------------
# 7. Snapshots


class Snapshots(DurabilityCase):
    FLAGS = ["--shards=2"]

    def test_admin_snapshot_under_load(self):
        cwd = self.workdir()
        d = self.start(cwd, self.FLAGS)
        admin = self.admin(d)
        uas = uas_for("sn", 600, "snap.test")
        self.register_new(d, uas)
        self.apply(d, [(ua, [], True) for ua in uas[:50]])  # removed AORs in the journal
        base = admin.stats()
        load = h.SipLoad(d.udp_addr, domain="snapload.test", max_requests=1500, max_seconds=15.0,
                         pause=0.001)
        with load:
            self.assertTrue(load.wait_for(50, timeout=5.0), load.failures)
            answer = admin.ok({"cmd": "snapshot"})
            self.assertEqual(answer.get("shards"), 2, answer)
            stats = h.wait_stats(admin, lambda s: all(
                counters(s, i)["snapshots"] > counters(base, i)["snapshots"] for i in range(2)),
                timeout=10.0)
            self.assertTrue(load.wait_for(50, timeout=5.0), load.failures)
        self.assertEqual(load.failures, [])
        for i in range(2):
            self.assertEqual(counters(stats, i)["snapshots"], counters(base, i)["snapshots"] + 1,
                             "shard %d" % i)
            self.assertEqual(counters(stats, i)["snapshot_failures"], 0)
        files = generation_files(cwd)
        self.assertEqual(sorted(files), [0, 1], files)
        for i in range(2):
            self.assertEqual(len(files[i]["snapshot"]), 1, files)
            self.assertEqual(files[i]["tmp"], [], files)
            snap = files[i]["snapshot"][0]
            self.assertTrue(all(j >= snap for j in files[i]["journal"]), files)
            self.assertIn(snap, files[i]["journal"], files)

        d.kill()
        d2 = self.start(cwd, self.FLAGS)
        admin = self.admin(d2)
        loaded = {"sip:%s@snapload.test" % u for u in load.users}
        self.assertGreater(len(loaded), 100)
        state = self.assertExactly(admin, uas, others=loaded)
        self.assertEqual(set(state), {ua.aor for ua in uas[50:]} | loaded)
        d2.stop()

    def test_snapshots_start_by_themselves(self):
        cwd = self.workdir()
        flags = self.FLAGS + ["--snapshot_journal_size=65536"]
        d = self.start(cwd, flags)
        admin = self.admin(d)
        uas = uas_for("auto", 2000, "autosnap.test")
        self.register_new(d, uas)
        self.apply(d, [(ua, [(uri, 1500) for uri in ua.acked], False) for ua in uas[:600]])
        stats = h.wait_stats(admin, lambda s: all(counters(s, i)["snapshots"] > 0
                                                  for i in range(2)), timeout=5.0)
        for i in range(2):
            self.assertGreater(counters(stats, i)["snapshots"], 0, "shard %d" % i)
        files = generation_files(cwd)
        for i in range(2):
            self.assertTrue(files[i]["snapshot"], files)
        d.kill()
        d2 = self.start(cwd, flags)
        self.assertExactly(self.admin(d2), uas)
        d2.stop()


# ---------------------------------------------------------------------------
# 8. Durability off, 9. admin remove


class Off(DurabilityCase):

    def test_no_files_nothing_restored(self):
        cwd = self.workdir()
        flags = ["--shards=2", "--durability=off"]
        d = self.start(cwd, flags)
        admin = self.admin(d)
        uas = uas_for("off", 20, "off.test")
        self.register_new(d, uas)
        self.assertExactly(admin, uas)
        self.assertFalse(os.path.exists(bindings_dir(cwd)))
        stats = counters(admin.stats())
        self.assertEqual(stats["journal_commits"], 0)
        self.assertEqual(stats["journal_bytes"], 0)
        self.assertEqual(stats["bindings_created"], 20)
        d.stop()
        self.assertFalse(os.path.exists(bindings_dir(cwd)))
        d2 = self.start(cwd, flags)
        for ua in uas:
            ua.acked = {}
        self.assertExactly(self.admin(d2), [], absent=uas)
        d2.stop()
        self.assertFalse(os.path.exists(bindings_dir(cwd)))


class AdminRemove(DurabilityCase):

    def test_removed_stays_removed_after_sigkill(self):
        cwd = self.workdir()
        flags = ["--shards=2", "--data_dir=" + os.path.join(cwd, "state")]
        d = self.start(cwd, flags)
        admin = self.admin(d)
        uas = uas_for("rm", 20, "remove.test")
        self.apply(d, [(ua, [(ua.new_contact(), 3600), (ua.new_contact(), 3000)], False)
                       for ua in uas])
        for ua in uas[:5]:
            self.assertEqual(admin.ok({"cmd": "remove", "aor": ua.aor})["removed"], 2)
            ua.acked = {}
        for ua in uas[5:10]:
            gone = sorted(ua.acked)[1]
            self.assertEqual(admin.ok({"cmd": "remove", "aor": ua.aor, "contact": gone})
                             ["removed"], 1)
            del ua.acked[gone]
        # The answer does not wait for the journal; its group is written
        # within a loop turn.
        time.sleep(0.5)
        d.kill()
        self.assertFalse(os.path.exists(bindings_dir(cwd)))
        self.assertTrue(os.path.isdir(bindings_dir(cwd, "state")))
        d2 = self.start(cwd, flags)
        self.assertExactly(self.admin(d2), uas[5:], absent=uas[:5])
        d2.stop()


def main():
    _, rest = h.parse_args()
    prog = unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
