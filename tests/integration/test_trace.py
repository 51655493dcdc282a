#!/usr/bin/env python3
"""Message capture (docs/operations.md), against real daemons on loopback:

  Hep         locusd --hep sends every message it receives and every answer it
              sends to a UDP socket of this test, which decodes the HEPv3
              packets itself: header, every chunk, addresses and ports of both
              ends, IP family and protocol (UDP, TCP, IPv6), time, capture id,
              and the payload byte for byte the request sent or the response
              received -- exactly once each, hand-offs between shards included;
              the hep_packets counter agrees.
  Trace       `locusctl trace --aor A` shows A's requests and locusd's answers,
              byte for byte, and nothing of other AORs; --source IP only what
              came from and went to IP; filters are checked; at most 8 traces
              at once; a flood is bounded (200 copies a second per shard) and
              what was not shown is counted and announced.

Usage: test_trace.py --locusd PATH --locusctl PATH [unittest arguments]
Bounded: every test by LocusTestCase's alarm, every wait by a timeout.
"""

import ipaddress
import json
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, Locusd, TcpClient, UdpClient  # noqa: E402

RATE = 200  # MessageTap::kTraceRatePerSecond


def decode_hep3(data):
    """A HEPv3 packet -> {chunk type: value bytes}; fails on anything malformed
    (wrong magic or length, a chunk running past the end, a vendor other than
    0, a chunk twice)."""
    if data[:4] != b"HEP3":
        raise AssertionError("not HEP3: %r" % data[:16])
    (total,) = struct.unpack("!H", data[4:6])
    if total != len(data):
        raise AssertionError("HEP length %d, datagram %d bytes" % (total, len(data)))
    chunks = {}
    at = 6
    while at < len(data):
        if at + 6 > len(data):
            raise AssertionError("truncated chunk header at %d" % at)
        vendor, kind, length = struct.unpack("!HHH", data[at:at + 6])
        if vendor != 0 or length < 6 or at + length > len(data):
            raise AssertionError("bad chunk at %d: vendor %d type %d length %d" % (at, vendor, kind, length))
        if kind in chunks:
            raise AssertionError("chunk %d twice" % kind)
        chunks[kind] = data[at + 6:at + length]
        at += length
    return chunks


class HepPacket:
    def __init__(self, data):
        c = decode_hep3(data)
        self.chunks = c
        self.family = c[1][0]
        self.protocol = c[2][0]
        if self.family == socket.AF_INET:
            self.src = str(ipaddress.IPv4Address(c[3]))
            self.dst = str(ipaddress.IPv4Address(c[4]))
        else:
            self.src = str(ipaddress.IPv6Address(c[5]))
            self.dst = str(ipaddress.IPv6Address(c[6]))
        (self.src_port,) = struct.unpack("!H", c[7])
        (self.dst_port,) = struct.unpack("!H", c[8])
        (seconds,) = struct.unpack("!I", c[9])
        (micros,) = struct.unpack("!I", c[10])
        self.time = seconds + micros / 1e6
        self.proto_type = c[11][0]
        (self.capture_id,) = struct.unpack("!I", c[12])
        self.payload = c[15]
        for kind, size in ((1, 1), (2, 1), (7, 2), (8, 2), (9, 4), (10, 4), (11, 1), (12, 4)):
            if len(c[kind]) != size:
                raise AssertionError("chunk %d has %d bytes" % (kind, len(c[kind])))
        if micros >= 1000000:
            raise AssertionError("microseconds %d" % micros)


class HepCollector:
    """A UDP socket standing for the capture server; collects packets in a
    thread."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((h.LOOPBACK4, 0))
        self.port = self.sock.getsockname()[1]
        self.packets = []
        self.errors = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                data = self.sock.recv(70000)
            except socket.timeout:
                continue
            try:
                self.packets.append(HepPacket(data))
            except Exception as e:  # noqa: BLE001 -- reported by the test
                self.errors.append("%s: %r" % (e, data[:80]))

    def wait_for(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.packets) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.packets)

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


class Hep(LocusTestCase):

    def test_every_message_once_byte_for_byte(self):
        collector = HepCollector()
        self.addCleanup(collector.close)
        ipv6 = h.ipv6_available()
        port = h.free_port_dual() if ipv6 else h.free_port()
        udp = ["127.0.0.1:%d" % port] + (["[::1]:%d" % port] if ipv6 else [])
        d = Locusd(["--shards=2", "--hep=127.0.0.1:%d" % collector.port, "--hep_capture_id=2001",
                    "--udp=" + ",".join(udp), "--tcp=127.0.0.1:%d" % port], port=port, admin=True)
        with d:
            readiness = len(collector.wait_for(2, timeout=2))  # the harness's OPTIONS and answer
            start = time.time()
            exchanges = []  # (transport, client address, request bytes, response bytes)
            with UdpClient(d.udp_addr) as u:
                for i in range(40):  # AORs of both shards: hand-offs
                    user = h.unique_user("hep")
                    req = u.register(user=user, contacts=["<sip:%s@127.0.0.1:%d>" % (user, 6000 + i)])
                    resp = u.request(req, retransmit=False)
                    self.assertEqual(resp.status, 200)
                    exchanges.append(("udp", ("127.0.0.1", u.local_port), req.to_bytes(), resp.raw))
            with TcpClient(d.tcp_addr) as t:
                user = h.unique_user("heptcp")
                req = t.register(user=user, contacts=["<sip:%s@127.0.0.1:6100;transport=tcp>" % user])
                resp = t.request(req)
                self.assertEqual(resp.status, 200)
                exchanges.append(("tcp", ("127.0.0.1", t.local_port), req.to_bytes(), resp.raw))
            if ipv6:
                with UdpClient(("::1", port)) as u6:
                    user = h.unique_user("hep6")
                    req = u6.register(user=user, contacts=["<sip:%s@[::1]:6200>" % user])
                    resp = u6.request(req, retransmit=False)
                    self.assertEqual(resp.status, 200)
                    exchanges.append(("udp6", ("::1", u6.local_port), req.to_bytes(), resp.raw))
            end = time.time()
            expected = readiness + 2 * len(exchanges)
            packets = collector.wait_for(expected)
            time.sleep(0.3)  # nothing more may come
            packets = list(collector.packets)
            with d.admin() as a:
                stats = a.stats()
        d.cleanup()
        self.assertEqual(collector.errors, [])
        self.assertEqual(len(packets), expected, "HEP packets: %d, expected %d" % (len(packets), expected))
        self.assertEqual(h.counters(stats)["hep_packets"], expected)
        self.assertEqual(h.counters(stats)["hep_errors"], 0)
        by_payload = {}
        for p in packets:
            self.assertNotIn(p.payload, by_payload, "a message exported twice")
            by_payload[p.payload] = p
            self.assertEqual(p.proto_type, 1)
            self.assertEqual(p.capture_id, 2001)
        for kind, (client_ip, client_port), request, response in exchanges:
            family = socket.AF_INET6 if kind == "udp6" else socket.AF_INET
            server_ip = "::1" if kind == "udp6" else "127.0.0.1"
            protocol = socket.IPPROTO_TCP if kind == "tcp" else socket.IPPROTO_UDP
            got_in = by_payload.get(request)
            got_out = by_payload.get(response)
            self.assertIsNotNone(got_in, "request not exported:\n%s" % request.decode())
            self.assertIsNotNone(got_out, "response not exported:\n%s" % response.decode())
            for p, src, dst in ((got_in, (client_ip, client_port), (server_ip, port)),
                                (got_out, (server_ip, port), (client_ip, client_port))):
                self.assertEqual((p.family, p.protocol), (family, protocol), kind)
                self.assertEqual((p.src, p.src_port), src, kind)
                self.assertEqual((p.dst, p.dst_port), dst, kind)
                self.assertTrue(start - 1 <= p.time <= end + 1, (start, p.time, end))
            self.assertLessEqual(got_in.time, got_out.time)

    def test_unreachable_capture_server_costs_nothing_but_a_count(self):
        # A port nobody listens on: the sends fail (ICMP) and are counted;
        # SIP is answered all the same.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((h.LOOPBACK4, 0))
            dead = s.getsockname()[1]
        with Locusd(["--shards=1", "--hep=127.0.0.1:%d" % dead], admin=True) as d:
            with UdpClient(d.udp_addr) as u:
                for i in range(20):
                    user = h.unique_user("dead")
                    resp = u.request(u.register(user=user, contacts=["<sip:%s@127.0.0.1:%d>" % (user, 6300 + i)]))
                    self.assertEqual(resp.status, 200)
            with d.admin() as a:
                c = h.wait_stats(a, lambda st: h.counters(st)["hep_packets"] + h.counters(st)["hep_errors"] >= 42)
            self.assertGreater(h.counters(c)["hep_errors"], 0)
        d.cleanup()

    def test_bad_hep_settings(self):
        code, err = h.run_locusd_expecting_exit(["--udp=127.0.0.1:%d" % h.free_port(), "--hep=nowhere"])
        self.assertEqual(code, 2, err)
        code, err = h.run_locusd_expecting_exit(["--udp=127.0.0.1:%d" % h.free_port(), "--tcp=",
                                                 "--hep=no-such-host.invalid:9060"])
        self.assertEqual(code, 1, err)
        self.assertIn("cannot resolve no-such-host.invalid:9060", err)


class Tracer:
    """`locusctl trace ...` running in the background; its lines in a queue."""

    def __init__(self, daemon, args, json_output=True):
        argv = [h.LOCUSCTL, "--socket=" + daemon.admin_socket] + (["--json"] if json_output else [])
        self.proc = subprocess.Popen(argv + ["trace"] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                     preexec_fn=h._die_with_parent)
        self.lines = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout=3.0):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def started(self):
        first = self.next(timeout=5)
        if first is None or not json.loads(first).get("tracing"):
            raise AssertionError("trace did not start: %r %s" % (first, self.proc.stderr.read()))

    def drain(self, quiet=0.5):
        """Every line until none comes for `quiet` seconds."""
        out = []
        while True:
            line = self.next(timeout=quiet)
            if line is None:
                return out
            out.append(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.thread.join(2)
        self.proc.stdout.close()
        self.proc.stderr.close()


def traced_messages(lines):
    return [json.loads(x) for x in lines if '"message"' in x]


class Trace(LocusTestCase):

    def wait_traced(self, tracer, client, user):
        """Sends OPTIONS-like REGISTER queries for user until one shows in the
        trace: the shards have the tracer's filter from then on."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            resp = client.request(client.register(user=user))
            self.assertEqual(resp.status, 200)
            if any(m["aor"].startswith("sip:%s@" % user) for m in traced_messages(tracer.drain(0.2))):
                return
        self.fail("the trace never started showing messages")

    def test_aor_and_source_filters(self):
        ipv6 = h.ipv6_available()
        port = h.free_port_dual() if ipv6 else h.free_port()
        udp = ["127.0.0.1:%d" % port] + (["[::1]:%d" % port] if ipv6 else [])
        with Locusd(["--shards=2", "--udp=" + ",".join(udp)], port=port, admin=True) as d:
            alice, bob = h.unique_user("alice"), h.unique_user("bob")
            tracer = Tracer(d, ["--aor", "sip:%s@EXAMPLE.com;transport=udp" % alice])
            self.addCleanup(tracer.stop)
            tracer.started()
            with UdpClient(d.udp_addr) as u:
                self.wait_traced(tracer, u, alice)
                sent = {}
                for user in (alice, bob, alice, bob):
                    req = u.register(user=user, contacts=["<sip:%s@127.0.0.1:6400>" % user])
                    resp = u.request(req, retransmit=False)
                    self.assertEqual(resp.status, 200)
                    sent.setdefault(user, []).append((req.to_bytes(), resp.raw))
                shown = traced_messages(tracer.drain())
            self.assertEqual(len(shown), 4, shown)  # alice's two requests and two answers
            want = [x for pair in sent[alice] for x in pair]
            self.assertEqual([m["message"].encode() for m in shown], want)
            for m, direction in zip(shown, ("in", "out", "in", "out")):
                self.assertEqual(m["direction"], direction)
                self.assertEqual(m["aor"], "sip:%s@example.com" % alice)
                self.assertEqual(m["transport"], "UDP")
                self.assertEqual(m["peer"], "127.0.0.1:%d" % u.local_port)
                self.assertEqual(m["local"], "127.0.0.1:%d" % port)
            tracer.stop()
            if ipv6:
                carol = h.unique_user("carol")
                tracer = Tracer(d, ["--source", "[::1]"])
                self.addCleanup(tracer.stop)
                tracer.started()
                with UdpClient(("::1", port)) as u6, UdpClient(d.udp_addr) as u4:
                    self.wait_traced(tracer, u6, carol)
                    for client in (u4, u6, u4):
                        resp = client.request(client.register(user=carol, contacts=["<sip:%s@h:1>" % carol]))
                        self.assertEqual(resp.status, 200)
                    shown = traced_messages(tracer.drain())
                self.assertEqual(len(shown), 2, shown)
                self.assertEqual({m["peer"] for m in shown}, {"[::1]:%d" % u6.local_port})
        d.cleanup()

    def test_human_output(self):
        with Locusd(["--shards=1"], admin=True) as d:
            dave = h.unique_user("dave")
            tracer = Tracer(d, ["--aor=sip:%s@example.com" % dave], json_output=False)
            self.addCleanup(tracer.stop)
            self.assertIsNone(tracer.next(timeout=0.5))  # the banner goes to stderr
            with UdpClient(d.udp_addr) as u:
                # Until the shard has the filter, REGISTERs go untraced.
                deadline = time.monotonic() + 5
                text = []
                while time.monotonic() < deadline and not any(x.startswith("SIP/2.0 200") for x in text):
                    resp = u.request(u.register(user=dave, contacts=["<sip:%s@127.0.0.1:6500>" % dave]),
                                     retransmit=False)
                    self.assertEqual(resp.status, 200)
                    text += tracer.drain(0.3)
            self.assertTrue(any(x.startswith("REGISTER sip:example.com SIP/2.0") for x in text), text)
            self.assertTrue(any(" received UDP 127.0.0.1:%d -> 127.0.0.1:%d  sip:%s@example.com"
                                % (u.local_port, d.port, dave) in x for x in text), text)
            self.assertTrue(any(" sent UDP 127.0.0.1:%d -> 127.0.0.1:%d" % (d.port, u.local_port) in x
                                for x in text), text)
            self.assertFalse(any("\r" in x for x in text))
        d.cleanup()

    def test_bad_filters_and_too_many_tracers(self):
        with Locusd(["--shards=1"], admin=True) as d:
            for args, says in ((["--aor", "mailto:a@example.com"], "not a sip or sips URI"),
                               (["--source", "999.1.1.1"], "not an IPv4 or IPv6 address"),
                               (["--source"], "needs a value"),
                               (["--frob=1"], "unknown option --frob")):
                p = h.run_locusctl(["trace"] + args, d.admin_socket)
                self.assertIn(p.returncode, (1, 2), p)
                self.assertIn(says, p.stderr)
            admins = [d.admin() for _ in range(9)]
            try:
                for a in admins[:8]:
                    self.assertTrue(a.request({"cmd": "trace"})["tracing"])
                answer = admins[8].request({"cmd": "trace"})
                self.assertFalse(answer["ok"])
                self.assertIn("too many traces", answer["error"])
                admins[0].close()
                deadline = time.monotonic() + 3
                while True:
                    answer = admins[8].request({"cmd": "trace"})
                    if answer["ok"] or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                self.assertTrue(answer["ok"], answer)
            finally:
                for a in admins:
                    a.close()
            with d.admin() as a:
                self.assertTrue(a.request({"cmd": "health"})["ok"])
        d.cleanup()

    def test_a_flood_is_bounded_and_counted(self):
        with Locusd(["--shards=1"], admin=True) as d:
            tracer = Tracer(d, [])
            self.addCleanup(tracer.stop)
            tracer.started()
            clients = [UdpClient(d.udp_addr) for _ in range(8)]
            try:
                self.wait_traced(tracer, clients[0], h.unique_user("probe"))
                admin = d.admin()
                self.addCleanup(admin.close)
                before = h.counters(admin.stats())
                started = time.monotonic()
                requests = [(c, c.options()) for c in clients for _ in range(250)]
                h.udp_exchange(requests, window=64)
                elapsed = time.monotonic() - started
                lines = tracer.drain(1.0)
            finally:
                for c in clients:
                    c.close()
            after = h.counters(admin.stats())
        d.cleanup()
        shown = len(traced_messages(lines))
        announced = sum(json.loads(x)["dropped"] for x in lines if '"dropped"' in x)
        dropped = after["trace_dropped"] - before["trace_dropped"]
        messages = 2 * len(requests)
        # Every message was either shown or dropped, and the drops were counted.
        self.assertEqual(shown + dropped, messages, (shown, dropped, announced))
        self.assertGreater(dropped, 0)
        self.assertLessEqual(announced, dropped)
        self.assertGreater(announced, 0)
        # The bound: a burst of RATE, then RATE a second.
        self.assertLessEqual(shown, RATE * (elapsed + 1.5) + RATE, (shown, elapsed))


if __name__ == "__main__":
    _, rest = h.parse_args()
    if not h.LOCUSCTL:
        sys.stderr.write("SKIP: no locusctl given\n")
        sys.exit(h.SKIP_EXIT_CODE)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
