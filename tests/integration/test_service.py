#!/usr/bin/env python3
"""locusd as a service, and every program's help (docs/operations.md):

  Notify      locusd started with NOTIFY_SOCKET naming a datagram socket this
              test made (and WATCHDOG_USEC): READY=1 arrives once locusd
              answers SIP, then WATCHDOG=1 again and again, and after SIGTERM
              STOPPING=1 -- in that order; without WATCHDOG_USEC, no WATCHDOG=1.
  Logs        lines carry an ISO 8601 time of their own; under journald (stderr
              is the stream JOURNAL_STREAM names) a syslog priority prefix and
              no time; --log_format=json one JSON object per line.
  Help        locusd, locusctl, regload and locus-parse answer --help and
              --version with exit 0; each help names every option the program
              accepts (locusd: every setting a running daemon reports, under
              its topic, with the default that daemon runs with); locusctl's
              commands refuse options they do not take.

Usage: test_service.py --locusd PATH --locusctl PATH --regload PATH
                       --locus-parse PATH --source-dir DIR [unittest arguments]
Bounded: every test by LocusTestCase's alarm, every wait by a timeout.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, Locusd, UdpClient  # noqa: E402

ARGS = None  # the extra arguments (programs, source directory)


def extra_args(parser):
    parser.add_argument("--regload", default="")
    parser.add_argument("--locus-parse", dest="locus_parse", default="")
    parser.add_argument("--source-dir", dest="source_dir", default="")


def run(argv, timeout=10):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class NotifySocket:
    """A datagram socket standing for systemd's notification socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="locus-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout):
        """The next message as a set of lines, or None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        return data.decode()

    def close(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


class Notify(LocusTestCase):

    def test_ready_watchdog_stopping_in_order(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        d = Locusd(["--shards=2"], admin=True,
                   env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"})
        d.start()
        self.addCleanup(d.cleanup)
        self.addCleanup(d.kill)
        first = notify.next(timeout=10)
        self.assertIsNotNone(first, "no notification within 10 s:\n" + d.stderr_text())
        self.assertIn("READY=1", first.split("\n"), first)
        self.assertIn("STATUS=listening on udp 127.0.0.1:%d" % d.port, first)
        # READY=1 means restored and listening: SIP and the admin socket answer now.
        with UdpClient(d.udp_addr) as u:
            req = u.options()
            u.send(req)
            self.assertIsNotNone(u.wait_for(req, timeout=1.0), "READY=1 before SIP is answered")
        self.assertTrue(d.admin().request({"cmd": "health"})["ok"])
        # WATCHDOG=1 every WATCHDOG_USEC / 2 while the shards turn.
        pings = 0
        deadline = time.monotonic() + 3
        while pings < 4 and time.monotonic() < deadline:
            message = notify.next(timeout=1)
            self.assertIsNotNone(message, "watchdog pings stopped")
            self.assertEqual(message, "WATCHDOG=1")
            pings += 1
        self.assertEqual(pings, 4)
        d.proc.send_signal(signal.SIGTERM)
        rest = []
        while True:
            message = notify.next(timeout=5)
            self.assertIsNotNone(message, "no STOPPING=1 after SIGTERM; got %r" % rest)
            rest.append(message)
            if "STOPPING=1" in message.split("\n"):
                break
            self.assertEqual(message, "WATCHDOG=1")  # one may have been on its way
        self.assertLessEqual(len(rest), 2, rest)
        self.assertEqual(d.proc.wait(5), 0)
        self.assertIsNone(notify.next(timeout=0.2), "a message after STOPPING=1")

    def test_no_watchdog_unless_asked(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        with Locusd(["--shards=1"], env={"NOTIFY_SOCKET": notify.path}) as d:
            self.assertIn("READY=1", notify.next(timeout=5).split("\n"))
            self.assertIsNone(notify.next(timeout=0.5))
        self.assertIn("STOPPING=1", notify.next(timeout=2).split("\n"))
        d.cleanup()


TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class Logs(LocusTestCase):

    def lines(self, d):
        return [line for line in d.stderr_text().splitlines() if line]

    def test_text_lines_are_timed(self):
        with Locusd(["--shards=1"]) as d:
            pass
        lines = self.lines(d)
        self.assertGreater(len(lines), 3)
        for line in lines:
            self.assertRegex(line, "^" + TIME + " locusd: (debug|info|warning|error): ")
        stamp = re.match(TIME, lines[0]).group(0)
        then = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        self.assertLess(abs(then - time.time()), 60)
        d.cleanup()

    def test_journald_times_the_lines_itself(self):
        d = Locusd(["--shards=1"])
        open(d.stderr_path, "wb").close()  # its inode is what journald would name
        st = os.stat(d.stderr_path)
        d.env = {"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}
        with d:
            pass
        lines = self.lines(d)
        self.assertTrue(any(re.match(r"^<6>locusd .* listening on ", x) for x in lines), lines)
        self.assertTrue(any(x.startswith("<4>warning: ") for x in lines), lines)
        for line in lines:
            self.assertRegex(line, r"^<[3467]>")
            self.assertNotRegex(line, TIME)
        d.cleanup()
        # A JOURNAL_STREAM naming another stream (stderr redirected): timed.
        d = Locusd(["--shards=1"], env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino + 1)})
        with d:
            pass
        for line in self.lines(d):
            self.assertRegex(line, "^" + TIME + " locusd: ")
        d.cleanup()

    def test_json_lines(self):
        with Locusd(["--shards=1", "--log_format=json"]) as d:
            pass
        lines = self.lines(d)
        messages = []
        for line in lines:
            obj = json.loads(line)
            self.assertEqual(sorted(obj), ["level", "message", "time"])
            self.assertRegex(obj["time"], "^" + TIME + "$")
            self.assertIn(obj["level"], ("debug", "info", "warning", "error"))
            messages.append(obj["message"])
        self.assertTrue(any("listening on" in m for m in messages), messages)
        self.assertTrue(any(m == "stopped" for m in messages), messages)
        d.cleanup()


def help_options(text):
    """The --options a help text names."""
    return set(re.findall(r"(?<![\w-])--([a-z][a-z0-9_-]*)", text))


class Help(LocusTestCase):

    def source(self, path):
        with open(os.path.join(ARGS.source_dir, path)) as f:
            return f.read()

    def program(self, path, name):
        if not path or not os.access(path, os.X_OK):
            self.skipTest("%s not built here" % name)
        return path

    def check_help_and_version(self, binary, name):
        p = run([binary, "--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("Usage: " + name), p.stdout[:200])
        self.assertEqual(p.stderr, "")
        v = run([binary, "--version"])
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertEqual(v.stdout, "%s 0.1.0\n" % name)
        return p.stdout

    def test_locusd(self):
        text = self.check_help_and_version(h.LOCUSD, "locusd")
        self.assertNotIn("Flags from", text)
        self.assertNotIn("default: ;", text)
        topics = ["General", "Listening", "Registrar", "Authentication", "Durability",
                  "Admin and observability", "Limits"]
        for topic in topics:
            self.assertRegex(text, "(?m)^%s:$" % topic)
        # Every setting a running daemon reports is in the help, with the
        # default it runs with (the flags below aside).
        flags = ["--shards=0"]
        with Locusd(flags, admin=True) as d:
            config = d.admin().request({"cmd": "config"})["config"]
        d.cleanup()
        given = {"udp", "tcp", "admin_socket", "shards"}
        entries = {}
        for m in re.finditer(r"(?ms)^  --([a-z_]+)=\S+\s+(.*?)(?=^  --|^\n|\Z)", text):
            entries[m.group(1)] = " ".join(m.group(2).split())
        self.assertEqual(set(config), set(entries) - {"config"}, "settings and help differ")
        for name, value in config.items():
            m = re.search(r"\(default: (.*)\)$", entries[name])
            self.assertIsNotNone(m, "%s: no default in %r" % (name, entries[name]))
            if name in given:
                continue
            if isinstance(value, list):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            value = str(value) if value != "" else "none"
            self.assertEqual(m.group(1), value, name)
        self.assertEqual(help_options(text) - set(config), {"config", "help", "version"})
        # An unknown flag: exit 2, naming it.
        code, err = h.run_locusd_expecting_exit(["--no_such_setting=1"])
        self.assertEqual(code, 2)
        self.assertIn("--no_such_setting", err)

    def test_locusctl(self):
        binary = self.program(h.LOCUSCTL, "locusctl")
        text = self.check_help_and_version(binary, "locusctl")
        src = self.source("tools/locusctl.cc")
        commands = set(re.findall(r'cmd == "([a-z-]+)"', src))
        options = set(re.findall(r'name == "([a-z-]+)"', src))
        for group in re.findall(r'\{"[a-z]+", \{([^}]*)\}\}', src):
            options |= set(re.findall(r'"([a-z-]+)"', group))
        self.assertGreaterEqual(len(commands), 12)
        self.assertTrue({"watch", "interval", "count", "domain", "prefix", "aor", "source",
                         "socket", "json", "help", "version"} <= options, options)
        for command in commands:
            self.assertRegex(text, r"(?m)^  %s\b" % re.escape(command))
        self.assertEqual(help_options(text), options)
        # A command refuses an option it does not take.
        p = run([binary, "--socket=/nonexistent", "health", "--watch"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option --watch for health", p.stderr)

    def test_regload(self):
        binary = self.program(ARGS.regload, "regload")
        text = self.check_help_and_version(binary, "regload")
        options = set(re.findall(r'name == "([a-z0-9-]+)"', self.source("tools/regload.cc")))
        self.assertGreaterEqual(len(options), 20)
        self.assertEqual(help_options(text), options)
        p = run([binary, "--target=127.0.0.1:1", "--frobnicate=1"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("see regload --help", p.stderr)

    def test_regload_with_and_without_gso_sends_one_datagram_per_request(self):
        # With UDP GSO, runs of equal-length requests leave as one message that
        # the kernel cuts up: locusd must see each as a REGISTER of its own.
        binary = self.program(ARGS.regload, "regload")
        with Locusd(["--shards=1", "--durability=off"], tcp=False, admin=True) as d:
            for offset, gso in ((0, "on"), (2000, "off")):
                p = run([binary, "--target=127.0.0.1:%d" % d.port, "--aors=2000",
                         "--aor-offset=%d" % offset, "--window=256", "--udp-gso=" + gso, "--quiet",
                         "--json"], timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                summary = json.loads(p.stdout.splitlines()[-1])
                self.assertEqual((summary["sent"], summary["ok"], summary["retransmissions"]), (2000, 2000, 0))
                if gso == "on":
                    # Most requests left with others (runs of one length per socket).
                    self.assertGreater(summary["segmented"], 1000, summary)
                else:
                    self.assertEqual(summary["segmented"], 0)
            with d.admin() as admin:
                totals = h.counters(admin.stats())
            self.assertEqual(totals["requests_register"], 4000)
            self.assertEqual(totals["bindings_created"], 4000)

    def test_locus_parse(self):
        binary = self.program(ARGS.locus_parse, "locus-parse")
        text = self.check_help_and_version(binary, "locus-parse")
        options = set(re.findall(r'== "--([a-z-]+)"', self.source("tools/locus_parse.cc")))
        self.assertEqual(options, {"help", "version"})
        self.assertEqual(help_options(text), options)
        self.assertEqual(run([binary]).returncode, 2)


if __name__ == "__main__":
    ARGS, rest = h.parse_args(extra=extra_args)
    h.random.seed(0x10C05)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
