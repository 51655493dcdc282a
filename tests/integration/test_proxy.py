#!/usr/bin/env python3
"""A real proxy in front of locus: Kamailio (tests/integration/proxy/
kamailio.cfg) uses locusd as its location service. SIPp's "bob" registers
through the proxy, then answers; SIPp's "alice" calls sip:bob@example.com
through the proxy, which asks locusd (302), follows the redirect to bob, and
the call completes (200, ACK, BYE, 200). Twice: bob registered straight
through the proxy's core port, then through its edge port, which adds a Path
-- the 302 then carries that Path as a Route header, and the call must reach
bob through the edge.

Usage: test_proxy.py --locusd PATH --sipp PATH [--locusctl PATH]
Skipped (exit 77) when kamailio is not installed. Bounded: every process has
a time limit and is stopped by PID.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, Locusd, counters  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY_DIR = os.path.join(HERE, "proxy")
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
SIPP_TIMEOUT = 15  # seconds, each SIPp's own -timeout


class Kamailio:
    def __init__(self, work, locus_port):
        self.work = work
        self.edge_port = h.free_port()
        self.core_port = h.free_port()
        template = open(os.path.join(PROXY_DIR, "kamailio.cfg")).read()
        self.cfg = os.path.join(work, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(template.replace("@EDGE_PORT@", str(self.edge_port))
                    .replace("@CORE_PORT@", str(self.core_port))
                    .replace("@LOCUS_PORT@", str(locus_port)))
        self.log_path = os.path.join(work, "kamailio.log")
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [KAMAILIO, "-f", self.cfg, "-DD", "-E", "-m", "32", "-M", "8", "-w", self.work],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=h._die_with_parent)
        # Ready when it answers: an OPTIONS through the core port reaches
        # locusd and comes back.
        deadline = time.monotonic() + 10
        with h.UdpClient(("127.0.0.1", self.core_port)) as probe:
            while True:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("kamailio did not start:\n" + self.text()[-3000:])
                req = probe.options()
                probe.send(req)
                resp = probe.wait_for(req, timeout=0.3)
                if resp is not None and resp.status == 200:
                    return

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def sipp(work, name, port, scenario, target):
    """Runs one SIPp (one call) from 127.0.0.1:port; returns the Popen."""
    cmd = [h.SIPP, target, "-sf", os.path.join(PROXY_DIR, scenario), "-m", "1",
           "-i", "127.0.0.1", "-p", str(port), "-t", "u1", "-nostdin",
           "-timeout", "%ds" % SIPP_TIMEOUT, "-timeout_error", "-max_recv_loops", "1000",
           "-trace_msg", "-message_file", os.path.join(work, name + ".msg"),
           "-trace_err", "-error_file", os.path.join(work, name + ".err")]
    out = open(os.path.join(work, name + ".out"), "wb")
    return subprocess.Popen(cmd, cwd=work, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, preexec_fn=h._die_with_parent)


def wait_ok(test, proc, work, name):
    try:
        rc = proc.wait(SIPP_TIMEOUT + 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    if rc != 0:
        def tail(suffix):
            try:
                with open(os.path.join(work, name + suffix), errors="replace") as f:
                    return f.read()[-2500:]
            except OSError:
                return "(none)"
        test.fail("SIPp %s exit %s\n--- screen\n%s\n--- errors\n%s\n--- messages\n%s"
                  % (name, rc, tail(".out"), tail(".err"), tail(".msg")))


class ProxyInFront(LocusTestCase):
    timeout = 120

    def setUp(self):
        super().setUp()
        if not os.access(KAMAILIO, os.X_OK):
            self.skipTest("kamailio not installed (tools/bootstrap installs it)")
        self.work = tempfile.mkdtemp(prefix="locus-proxy-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.locusd = Locusd(["--shards=2"], admin=True)
        self.locusd.__enter__()
        self.addCleanup(self.locusd.__exit__, None, None, None)
        self.proxy = Kamailio(self.work, self.locusd.port)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.admin = self.locusd.admin()
        self.addCleanup(self.admin.close)

    def call_bob(self, register_port, name):
        bob_port = h.free_port()
        reg = sipp(self.work, name + "-register", bob_port, "uas_register.xml",
                   "127.0.0.1:%d" % register_port)
        wait_ok(self, reg, self.work, name + "-register")
        lookup = self.admin.ok({"cmd": "lookup", "aor": "sip:bob@example.com"})
        self.assertEqual([b["contact"] for b in lookup["bindings"]],
                         ["sip:bob@127.0.0.1:%d" % bob_port], lookup)
        answer = sipp(self.work, name + "-bob", bob_port, "uas_answer.xml",
                      "127.0.0.1:%d" % self.proxy.core_port)
        time.sleep(0.3)  # bob listens
        call = sipp(self.work, name + "-alice", h.free_port(), "uac_call.xml",
                    "127.0.0.1:%d" % self.proxy.core_port)
        wait_ok(self, call, self.work, name + "-alice")
        wait_ok(self, answer, self.work, name + "-bob")
        with open(os.path.join(self.work, name + "-bob.msg"), errors="replace") as f:
            invite = re.search(r"INVITE sip:.*?\r?\n\r?\n", f.read(), re.S)
        self.assertIsNotNone(invite, "bob's trace has no INVITE")
        return lookup["bindings"][0], invite.group(0)

    def test_a_call_follows_the_redirect(self):
        binding, invite = self.call_bob(self.proxy.core_port, "direct")
        self.assertNotIn("path", binding)
        self.assertNotIn("X-Edge", invite)
        stats = counters(self.admin.ok({"cmd": "stats"}))
        self.assertGreaterEqual(stats["responses_302"], 1)
        self.assertGreaterEqual(stats["acks_absorbed"], 1)  # the proxy's ACK of the 302

    def test_a_call_to_a_path_registered_binding_goes_through_the_path(self):
        binding, invite = self.call_bob(self.proxy.edge_port, "path")
        self.assertIn("127.0.0.1:%d" % self.proxy.edge_port, binding.get("path", ""), binding)
        self.assertIn("X-Edge: yes", invite)
        self.assertIn("following the binding's Path", self.proxy.text())


def main():
    _, rest = h.parse_args()
    if not h.SIPP or not os.access(h.SIPP, os.X_OK):
        print("SKIP: sipp not found", file=sys.stderr)
        sys.exit(h.SKIP_EXIT_CODE)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
