#!/usr/bin/env python3
"""Real phones against a real locusd with Digest authentication on (its
default algorithm): baresip (baresip-core) and linphone's CLI (linphonec),
headless, with configurations this test writes. Each registers over UDP and
over TCP, its binding is read back through the admin socket while it is
registered -- with its +sip.instance, and for baresip with outbound
(sipnat=outbound: reg-id, Require: outbound, then STUN keep-alives over UDP)
-- a request to its pub-gruu is redirected to it, and once the phone quits
its binding is gone (it unregistered). baresip's REGISTER with a stray LF in
+sip.instance (its UUID file ending in a newline) gets a 400 that names the
Contact header.

Usage: test_phones.py --locusd PATH [unittest arguments]
Each phone's test is skipped when the phone is not installed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import Locusd, SharedDaemonCase, UdpClient, counters  # noqa: E402

BARESIP = shutil.which("baresip")
LINPHONEC = shutil.which("linphonec")
BARESIP_MODULES = "/usr/lib/baresip/modules"
USERS = [("alice", "alice-secret"), ("bob", "bob-secret"), ("carol", "carol-secret"),
         ("dave", "dave-secret"), ("erin", "erin-secret")]
FLOW_TIMER = 2  # seconds: baresip sends its keep-alives this often


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


class Phones(SharedDaemonCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="locus-phones-")
        users = os.path.join(cls.tmp, "users.json")
        with open(users, "w") as f:
            json.dump({"users": [{"username": u, "realm": "example.com", "password": p}
                                 for u, p in USERS]}, f)
        cls.daemon = Locusd(["--shards=2", "--auth=true", "--users_file=" + users,
                             "--domains=example.com", "--flow_timer=%d" % FLOW_TIMER],
                            admin=True)
        cls.daemon.__enter__()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if os.environ.get("LOCUS_KEEP_TMP") != "1":
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def bindings(self, user):
        return self.admin.ok({"cmd": "lookup", "aor": "sip:%s@example.com" % user})["bindings"]

    def stats(self):
        return counters(self.admin.ok({"cmd": "stats"}))

    def redirected_by_pub_gruu(self, user, instance):
        """An INVITE to the binding's pub-gruu gets a 302 to its contact."""
        pub = "sip:%s@example.com;gr=%s" % (user, instance.strip("<>"))
        with UdpClient(self.daemon.udp_addr) as c:
            resp = c.request(c.register(user="caller", method="INVITE", ruri=pub, to="<%s>" % pub))
        self.assertStatus(resp, 302)
        return [x.uri for x in resp.contacts()]

    # -- baresip ----------------------------------------------------------
    def baresip(self, user, password, transport, uuid_text):
        if BARESIP is None:
            self.skipTest("baresip not installed (tools/bootstrap installs baresip-core)")
        conf = tempfile.mkdtemp(prefix="baresip-", dir=self.tmp)
        with open(os.path.join(conf, "config"), "w") as f:
            f.write("poll_method epoll\nsip_listen 127.0.0.1:%d\nmodule_path %s\n"
                    "module g711.so\nmodule ausine.so\nmodule aufile.so\n"
                    "module_tmp uuid.so\nmodule_tmp account.so\n"
                    "audio_player aufile,/dev/null\naudio_source ausine,440\n"
                    "audio_alert aufile,/dev/null\n" % (h.free_port(), BARESIP_MODULES))
        server = "sip:127.0.0.1:%d;transport=%s" % (self.daemon.port, transport)
        with open(os.path.join(conf, "accounts"), "w") as f:
            f.write('<sip:%s@example.com;transport=%s>;auth_pass=%s;outbound="%s";regint=60;'
                    "sipnat=outbound\n" % (user, transport, password, server))
        with open(os.path.join(conf, "uuid"), "w") as f:
            f.write(uuid_text)
        log = open(os.path.join(conf, "baresip.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([BARESIP, "-f", conf, "-s", "-t", "30"], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=h._die_with_parent)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc, os.path.join(conf, "baresip.log")

    def stop(self, proc):
        proc.send_signal(signal.SIGINT)  # baresip unregisters, then exits
        proc.wait(10)

    def check_baresip(self, user, transport):
        password = dict(USERS)[user]
        instance_uuid = str(uuid.uuid4())
        before = self.stats()
        proc, log = self.baresip(user, password, transport, instance_uuid)
        found = wait(lambda: self.bindings(user), 10, "baresip's binding")
        self.assertEqual(len(found), 1, found)
        b = found[0]
        self.assertEqual(b["transport"], transport.upper())
        self.assertEqual(b["instance"], "<urn:uuid:%s>" % instance_uuid)
        self.assertEqual(b["reg_id"], 1)
        self.assertEqual(self.redirected_by_pub_gruu(user, b["instance"]), [b["contact"]])
        if transport == "udp":
            # Require: outbound made it keep the flow alive with STUN.
            wait(lambda: self.stats()["stun_requests"] > before["stun_requests"], 3 * FLOW_TIMER + 2,
                 "baresip's STUN keep-alives")
        self.stop(proc)
        wait(lambda: not self.bindings(user), 5, "baresip's unregistration")
        with open(log, errors="replace") as f:
            text = f.read()
        self.assertIn("Require: outbound", text)
        self.assertIn("pub-gruu=", text)
        after = self.stats()
        self.assertGreaterEqual(after["auth_successes"] - before["auth_successes"], 2)

    def test_baresip_udp(self):
        self.check_baresip("alice", "udp")

    def test_baresip_tcp(self):
        self.check_baresip("bob", "tcp")

    def test_baresip_stray_lf_in_its_instance_gets_400(self):
        before = self.stats()
        proc, log = self.baresip("carol", dict(USERS)["carol"], "udp", str(uuid.uuid4()) + "\n")
        wait(lambda: self.stats()["responses_400"] > before["responses_400"], 10, "the 400")
        with open(log, errors="replace") as f:
            text = f.read()
        self.assertIn("400 Contact: control character or bare CR/LF in a header line", text)
        self.assertEqual(self.bindings("carol"), [])
        self.stop(proc)

    # -- linphonec --------------------------------------------------------
    def linphonec(self, user, password, transport):
        if LINPHONEC is None:
            self.skipTest("linphonec not installed (tools/bootstrap installs linphone-cli)")
        home = tempfile.mkdtemp(prefix="linphone-", dir=self.tmp)
        os.makedirs(os.path.join(home, ".local", "share", "linphone"))
        rc = os.path.join(home, "linphonerc")
        with open(rc, "w") as f:
            f.write("[sip]\nsip_port=%d\nsip_tcp_port=%d\ndefault_proxy=0\n"
                    "register_only_when_network_is_up=0\n"
                    "[rtp]\naudio_rtp_port=%d\n[sound]\nechocancellation=0\n"
                    "[proxy_0]\nreg_proxy=<sip:127.0.0.1:%d;transport=%s>\n"
                    "reg_identity=sip:%s@example.com\nreg_expires=60\nreg_sendregister=1\npublish=0\n"
                    "[auth_info_0]\nusername=%s\npasswd=%s\nrealm=example.com\ndomain=example.com\n"
                    % (h.free_port(), h.free_port(), h.free_port(), self.daemon.port, transport,
                       user, user, password))
        log = os.path.join(home, "linphone.log")
        env = dict(os.environ, HOME=home)
        proc = subprocess.Popen([LINPHONEC, "-c", rc, "-d", "6", "-l", log], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                preexec_fn=h._die_with_parent)
        self.addCleanup(proc.stdin.close)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc, log

    def check_linphonec(self, user, transport):
        proc, log = self.linphonec(user, dict(USERS)[user], transport)
        found = wait(lambda: self.bindings(user), 10, "linphonec's binding")
        self.assertEqual(len(found), 1, found)
        b = found[0]
        self.assertEqual(b["transport"], transport.upper())
        self.assertTrue(b.get("instance", "").startswith("<urn:uuid:"), b)
        self.assertNotIn("reg_id", b)  # linphone sends +sip.instance without reg-id
        self.assertEqual(self.redirected_by_pub_gruu(user, b["instance"]), [b["contact"]])

        def log_text():
            with open(log, errors="replace") as f:
                return f.read()
        # Registered on its side too before it is told to unregister.
        wait(lambda: "to [LinphoneRegistrationOk]" in log_text(), 5, "linphonec's registered state")
        proc.stdin.write(b"unregister\n")
        proc.stdin.flush()
        wait(lambda: not self.bindings(user), 5, "linphonec's unregistration")
        proc.stdin.write(b"quit\n")
        proc.stdin.flush()
        proc.wait(10)
        text = log_text()
        self.assertIn("Supported: replaces, outbound, gruu", text)
        self.assertIn("temp-gruu=", text)

    def test_linphonec_udp(self):
        self.check_linphonec("dave", "udp")

    def test_linphonec_tcp(self):
        self.check_linphonec("erin", "tcp")


if __name__ == "__main__":
    h.run_unittests()
