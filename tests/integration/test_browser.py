#!/usr/bin/env python3
"""A WebRTC phone in a real browser: headless Chromium runs JsSIP (the npm
package, bundled with esbuild), driven by playwright-core
(tests/browser/register.mjs). It registers over WSS to a real locusd (a
certificate this test makes with openssl), shows the 200; the binding is read
back through the admin socket (transport WSS, a .invalid Contact); then the
phone unregisters and the binding is gone.

Usage: test_browser.py --locusd PATH
Skipped (exit 77) when Chromium, node or the npm packages (tools/bootstrap
installs them in tests/browser/node_modules) are missing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, Locusd  # noqa: E402
from test_tls import make_pki  # noqa: E402

BROWSER_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                            "browser"))
NODE_MODULES = os.path.join(BROWSER_DIR, "node_modules")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NODE = shutil.which("node")


class BrowserPhone(LocusTestCase):
    timeout = 90

    def setUp(self):
        super().setUp()
        missing = [what for what, path in (("chromium", CHROMIUM), ("node", NODE),
                                           ("jssip", os.path.join(NODE_MODULES, "jssip")),
                                           ("playwright-core", os.path.join(NODE_MODULES, "playwright-core")),
                                           ("esbuild", os.path.join(NODE_MODULES, ".bin", "esbuild")))
                   if not path or not os.path.exists(path)]
        if missing:
            self.skipTest("missing: %s (tools/bootstrap installs them)" % ", ".join(missing))
        self.work = tempfile.mkdtemp(prefix="locus-browser-")
        self.addCleanup(shutil.rmtree, self.work, True)
        pki = make_pki(self.work)
        self.wss_port = h.free_port()
        self.daemon = Locusd(["--shards=2", "--wss=127.0.0.1:%d" % self.wss_port,
                              "--tls_cert=" + pki["server"] + ".pem",
                              "--tls_key=" + pki["server"] + ".key"], admin=True)
        self.daemon.__enter__()
        self.addCleanup(self.daemon.__exit__, None, None, None)
        self.admin = self.daemon.admin()
        self.addCleanup(self.admin.close)
        self.bundle = os.path.join(self.work, "jssip.js")
        subprocess.run([os.path.join(NODE_MODULES, ".bin", "esbuild"),
                        os.path.join(NODE_MODULES, "jssip", "lib-es5", "JsSIP.js"), "--bundle",
                        "--format=iife", "--global-name=JsSIP", "--outfile=" + self.bundle],
                       check=True, capture_output=True, timeout=60)

    def lookup(self, user):
        return self.admin.ok({"cmd": "lookup", "aor": "sip:%s@example.com" % user})["bindings"]

    def test_jssip_registers_over_wss_and_unregisters(self):
        user = h.unique_user("webrtc")
        proc = subprocess.Popen([NODE, os.path.join(BROWSER_DIR, "register.mjs"),
                                 "wss://127.0.0.1:%d" % self.wss_port, "sip:%s@example.com" % user,
                                 self.bundle, CHROMIUM],
                                cwd=BROWSER_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=h._die_with_parent)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def event():
            line = proc.stdout.readline()
            if not line:
                proc.wait(10)
                self.fail("the browser driver exited %s: %s" % (proc.returncode, proc.stderr.read()[-3000:]))
            return json.loads(line)

        registered = event()
        self.assertEqual(registered["event"], "registered")
        self.assertEqual(registered["status"], 200, registered)
        self.assertTrue(registered["shown"].startswith("registered: 200"), registered)
        bindings = self.lookup(user)
        self.assertEqual(len(bindings), 1, bindings)
        self.assertEqual(bindings[0]["transport"], "WSS")
        self.assertIn(".invalid", bindings[0]["contact"])
        proc.stdin.write("unregister\n")
        proc.stdin.flush()
        self.assertEqual(event()["event"], "unregistered")
        proc.stdin.close()
        proc.wait(20)
        proc.stdout.close()
        proc.stderr.close()
        self.assertEqual(self.lookup(user), [])


if __name__ == "__main__":
    h.run_unittests()
