#!/usr/bin/env python3
"""locusd's HTTP endpoint (docs/operations.md), against real daemons on loopback:

  Routes      GET /metrics, /health, /ready and /v1/aors/{aor} answer what the
              admin socket answers: /metrics parsed back and compared number by
              number with the admin `stats` of an idle daemon, lookups of AORs on
              both shards compared with the admin `lookup`; HEAD; keep-alive.
  Refusals    other methods get 405 with Allow, unknown paths 404, a bad AOR
              400, a request body 413, an over-long URL 414 and over-long
              headers 431 -- and the daemon goes on answering.
  Idle        300 connections that send nothing: at most 256 are held, the
              rest wait in the listen queue; the held ones are closed after the
              idle timeout and the next request is served; memory stays bounded
              and SIP and the admin socket are answered meanwhile.
  Start-up    /ready and /health say 503 while the bindings are restored
              (the start is held on a FIFO standing for the nonce secret), 200
              once locusd listens; an HTTP address in use stops the start
              (exit 1).

Usage: test_http.py --locusd PATH [unittest arguments]
Bounded: every test by LocusTestCase's alarm, every wait by a timeout.
"""

import http.client
import json
import os
import select
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, Locusd, SharedDaemonCase, UdpClient  # noqa: E402

MAX_CONNECTIONS = 256  # HttpEndpoint::kMaxConnections
IDLE_TIMEOUT = 5       # HttpEndpoint::kIdleTimeoutS


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def accepted_connections(port):
    """Established TCP connections on loopback whose local port is `port` and
    that a process holds (inode set): the ones locusd accepted, not those
    still waiting in its listen queue."""
    count = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] != "0":
                count += 1
    return count


def register(addr, user, contacts, domain="example.com"):
    with UdpClient(addr) as u:
        resp = u.request(u.register(user=user, domain=domain, contacts=contacts, expires=3600))
        if resp.status != 200:
            raise AssertionError("REGISTER answered %d:\n%s" % (resp.status, resp.dump()))


class Routes(SharedDaemonCase):
    """One daemon (two shards, HTTP on a free loopback port) for every route."""

    @classmethod
    def setUpClass(cls):
        cls.http_port = h.free_port()
        cls.daemon = Locusd(["--shards=2", "--http=127.0.0.1:%d" % cls.http_port], admin=True)
        cls.daemon.__enter__()
        cls.http = ("127.0.0.1", cls.http_port)

    def test_metrics_are_the_admin_numbers(self):
        users = [h.unique_user("m") for _ in range(24)]
        for i, user in enumerate(users):
            register(self.daemon.udp_addr, user, ["<sip:%s@127.0.0.1:%d>" % (user, 7000 + i)])
        for _ in range(3):
            before = h.quiet_stats(self.admin)
            status, headers, body = h.http_request(self.http, "/metrics")
            after = self.admin.stats()
            if before["shards"] == after["shards"]:
                break
        else:
            self.fail("stats kept moving without traffic")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        types, samples = h.parse_prometheus(body.decode())
        checked = 0
        for shard in range(2):
            lab = (("shard", str(shard)),)
            for name, value in h.counters(before, shard).items():
                self.assertEqual(types.get("locus_%s_total" % name), "counter", name)
                self.assertEqual(samples.get(("locus_%s_total" % name, lab)), value, name)
                checked += 1
            for name, value in before["shards"][shard]["gauges"].items():
                self.assertEqual(types.get("locus_" + name), "gauge", name)
                self.assertEqual(samples.get(("locus_" + name, lab)), value, name)
                checked += 1
            lat = before["shards"][shard]["latency"]
            self.assertEqual(samples.get(("locus_request_latency_seconds_count", lab)), lat["count"])
            for q, key in (("0.5", "p50_us"), ("0.9", "p90_us"), ("0.99", "p99_us"), ("0.999", "p999_us")):
                v = samples.get(("locus_request_latency_seconds", tuple(sorted(lab + (("quantile", q),)))))
                self.assertAlmostEqual(v, lat[key] / 1e6, places=6)
        self.assertGreater(checked, 100)
        self.assertEqual(samples[("locus_shards", ())], 2)
        self.assertGreaterEqual(h.counters(before)["requests_register"], 24)
        self.assertEqual(sum(v for (n, _), v in samples.items() if n == "locus_requests_register_total"),
                         h.counters(before)["requests_register"])
        # locusctl metrics prints the very same text (one writer in locusd).
        if h.LOCUSCTL:
            text = h.run_locusctl(["metrics"], self.daemon.admin_socket).stdout
            from_admin = h.parse_prometheus(text)[1]
            # The uptime ticks between the two reads; every other series is still.
            uptime = ("locus_uptime_seconds", ())
            self.assertLessEqual(from_admin.pop(uptime) - samples[uptime], 2)
            self.assertEqual(from_admin, {k: v for k, v in samples.items() if k != uptime})

    def test_health_and_ready(self):
        status, body = h.http_json(self.http, "/health")
        self.assertEqual(status, 200)
        self.assertEqual(body, self.admin.request({"cmd": "health"}))
        self.assertEqual(h.http_json(self.http, "/ready"), (200, {"ready": True}))

    def test_lookup_is_the_admin_lookup(self):
        # AORs on both shards (12 at random: both get some), one with two
        # contacts and a q.
        for i in range(12):
            user = h.unique_user("l")
            contacts = ["<sip:%s@127.0.0.1:%d>" % (user, 8000 + i)]
            if i == 0:
                contacts.append("<sip:%s@[::1]:5099>;q=0.5" % user)
            register(self.daemon.udp_addr, user, contacts)
            aor = "sip:%s@example.com" % user
            admin = self.admin.request({"cmd": "lookup", "aor": aor})
            for path in ("/v1/aors/" + aor, "/v1/aors/sip%3A" + user + "%40example.com",
                         "/v1/aors/%s@EXAMPLE.com" % user):
                status, body = h.http_json(self.http, path)
                self.assertEqual(status, 200, body)
                self.assertEqual(body["aor"], admin["aor"])
                self.assertEqual(len(body["bindings"]), len(contacts))
                for got, want in zip(body["bindings"], admin["bindings"]):
                    self.assertLessEqual(abs(got.pop("expires") - want["expires"]), 1)
                    want = dict(want)
                    want.pop("expires")
                    self.assertEqual(got, want)
        for shard in range(2):
            self.assertGreater(self.admin.stats()["shards"][shard]["gauges"]["aors"], 0)
        status, body = h.http_json(self.http, "/v1/aors/sip:nobody@example.com")
        self.assertEqual((status, body["bindings"]), (200, []))

    def test_lookups_in_parallel(self):
        user = h.unique_user("p")
        register(self.daemon.udp_addr, user, ["<sip:%s@127.0.0.1:9000>" % user])
        results = []

        def ask():
            for _ in range(10):
                results.append(h.http_json(self.http, "/v1/aors/sip:%s@example.com" % user))

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual(len(results), 80)
        for status, body in results:
            self.assertEqual(status, 200)
            self.assertEqual([b["contact"] for b in body["bindings"]], ["sip:%s@127.0.0.1:9000" % user])

    def test_keep_alive_and_head(self):
        conn = http.client.HTTPConnection(*self.http, timeout=5)
        try:
            for path in ("/ready", "/health", "/metrics", "/v1/aors/sip:ka@example.com", "/nope"):
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                self.assertIn(resp.status, (200, 404), path)
                self.assertNotEqual((resp.getheader("Connection") or "").lower(), "close", path)
            conn.request("HEAD", "/metrics")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.read(), b"")
            self.assertGreater(int(resp.getheader("Content-Length")), 1000)
        finally:
            conn.close()

    def test_methods_and_paths(self):
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            status, headers, body = h.http_request(self.http, "/metrics", method=method)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers.get("allow"), "GET, HEAD", method)
            self.assertFalse(json.loads(body)["ok"])
        status, _, _ = h.http_request(self.http, "/health", method="POST", body=b"x" * 100000)
        self.assertEqual(status, 405)
        for path in ("/", "/metrics/", "/metricsx", "/v1/aors/", "/v1/aors", "/v2/aors/sip:a@b",
                     "/health?x", "/../etc/passwd"):
            status, _, body = h.http_request(self.http, path)
            if path == "/health?x":  # the query is not part of the path
                self.assertEqual(status, 200, path)
                continue
            self.assertEqual(status, 404, "%s: %r" % (path, body))
        for bad in ("sip:", "sip:@", "mailto:a@example.com", "a%20b@example.com", "sip:a@[::1"):
            status, body = h.http_json(self.http, "/v1/aors/" + bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("not a sip or sips URI", body["error"])

    def test_oversized_requests(self):
        status, _, _ = h.http_request(self.http, "/metrics", headers={"Content-Length": "5"}, body=b"12345")
        self.assertEqual(status, 413)
        status, _, _ = h.http_request(self.http, "/v1/aors/sip:" + "a" * 20000 + "@example.com")
        self.assertEqual(status, 414)
        status, _, _ = h.http_request(self.http, "/metrics", headers={"X-Big": "b" * 20000})
        self.assertEqual(status, 431)
        many = {"X-H%d" % i: "v" * 100 for i in range(300)}
        status, _, _ = h.http_request(self.http, "/metrics", headers=many)
        self.assertEqual(status, 431)
        # Garbage instead of HTTP: answered 400 or closed, never a hang.
        with socket.create_connection(self.http, timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n")
            data = s.recv(4096)
            self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 400"), data[:100])
        self.assertEqual(h.http_json(self.http, "/ready")[0], 200)

    def test_idle_connections_are_bounded(self):
        """300 connections that send nothing: locusd holds at most 256 (the
        rest wait in the kernel's listen queue), closes them after the idle
        timeout, and serves the next request then; SIP and the admin socket
        are answered meanwhile, and memory stays bounded."""
        pid = self.daemon.proc.pid
        rss_before = rss_kib(pid)
        conns = []
        try:
            started = time.monotonic()
            for _ in range(300):
                conns.append(socket.create_connection(self.http, timeout=5))
            deadline = time.monotonic() + 3
            while accepted_connections(self.http_port) < MAX_CONNECTIONS and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # and no more than that
            self.assertEqual(accepted_connections(self.http_port), MAX_CONNECTIONS)
            rss_idle = rss_kib(pid)
            user = h.unique_user("idle")
            register(self.daemon.udp_addr, user, ["<sip:%s@127.0.0.1:9100>" % user])
            self.assertTrue(self.admin.request({"cmd": "health"})["ok"])
            # A request now waits for a free slot: the idle ones time out.
            answer = []
            t = threading.Thread(target=lambda: answer.append(h.http_json(self.http, "/ready", timeout=20)))
            t.start()
            t.join(IDLE_TIMEOUT + 8)
            self.assertEqual(answer, [(200, {"ready": True})])
            self.assertLess(time.monotonic() - started, IDLE_TIMEOUT + 8)
            # The first 256 are closed by locusd (EOF) within the idle timeout
            # of their accept, none gets a byte. Those accepted last may still
            # be open when the request above is served.
            open_conns = set(conns[:MAX_CONNECTIONS])
            deadline = time.monotonic() + IDLE_TIMEOUT + 5
            while open_conns and time.monotonic() < deadline:
                readable, _, _ = select.select(list(open_conns), [], [], 0.5)
                for c in readable:
                    try:
                        self.assertEqual(c.recv(1), b"")
                    except ConnectionResetError:
                        pass
                    open_conns.discard(c)
            self.assertEqual(len(open_conns), 0)
            sys.stderr.write("rss: %d KiB before, %d KiB with %d idle HTTP connections\n"
                             % (rss_before, rss_idle, MAX_CONNECTIONS))
            self.assertLess(rss_idle - rss_before, 32 * 1024)
        finally:
            for c in conns:
                c.close()
        self.assertEqual(h.http_json(self.http, "/ready")[0], 200)


class StartUp(LocusTestCase):
    """/ready before and after the restore; an HTTP address in use."""

    def test_ready_says_503_until_restored_and_listening(self):
        http_port = h.free_port()
        http = ("127.0.0.1", http_port)
        d = Locusd(["--shards=2", "--http=127.0.0.1:%d" % http_port, "--auth",
                    "--users_file=users.json", "--data_dir=data"])
        with open(os.path.join(d.cwd, "users.json"), "w") as f:
            json.dump({"users": [{"username": "alice", "password": "secret"}]}, f)
        # The nonce secret is read once the HTTP endpoint listens and before
        # the shards restore and open their sockets: as a FIFO it holds the
        # start until the test writes it.
        os.makedirs(os.path.join(d.cwd, "data"))
        fifo = os.path.join(d.cwd, "data", "auth.secret")
        os.mkfifo(fifo)
        d.start()
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    status, body = h.http_json(http, "/ready", timeout=1)
                    break
                except OSError:
                    self.assertIsNone(d.proc.poll(), d.stderr_text())
                    self.assertLess(time.monotonic(), deadline, "no HTTP endpoint:\n" + d.stderr_text())
                    time.sleep(0.05)
            self.assertEqual(status, 503)
            self.assertEqual(body["ready"], False)
            self.assertIn("restoring", body["reason"])
            status, body = h.http_json(http, "/health")
            self.assertEqual((status, body["status"]), (503, "starting"))
            status, body = h.http_json(http, "/v1/aors/sip:a@example.com")
            self.assertEqual(status, 503)
            status, _, text = h.http_request(http, "/metrics")
            self.assertEqual(status, 200)
            self.assertIn(b"locus_requests_register_total{shard=\"1\"} 0", text)
            self.assertNotIn("listening on", d.stderr_text())
            with UdpClient(d.udp_addr) as u:  # nothing listens for SIP yet
                u.send(u.options())
                self.assertIsNone(u.recv(timeout=0.3))
            with open(fifo, "w") as f:
                f.write("ab" * 32 + "\n")
            d.wait_ready()
            self.assertEqual(h.http_json(http, "/ready"), (200, {"ready": True}))
            self.assertEqual(h.http_json(http, "/health")[0], 200)
            d.stop()
        finally:
            d.kill()
            d.cleanup()

    def test_http_address_in_use_stops_the_start(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            sip = h.free_port()
            code, err = h.run_locusd_expecting_exit(
                ["--udp=127.0.0.1:%d" % sip, "--tcp=", "--http=127.0.0.1:%d" % port])
            self.assertEqual(code, 1, err)
            self.assertIn("http: bind 127.0.0.1:%d" % port, err)
        code, err = h.run_locusd_expecting_exit(["--udp=127.0.0.1:%d" % sip, "--http=localhost:80"])
        self.assertEqual(code, 2, err)
        self.assertIn("http", err)


if __name__ == "__main__":
    h.run_unittests()
