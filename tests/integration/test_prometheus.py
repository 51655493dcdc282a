#!/usr/bin/env python3
"""A real Prometheus (Debian's) scraping locusd's HTTP endpoint: started here
on a free loopback port with a one-second scrape of locusd; after a bounded
regload run, its query API must give the locus series with the admin
socket's values (per shard and summed: REGISTERs, 200s, bindings, journal
commits), and every query of the Grafana dashboard (packaging/grafana/
locus.json) must be valid PromQL that finds data. Prometheus is stopped by
its PID; its data lives in a temporary directory.

Usage: test_prometheus.py --locusd PATH --regload PATH --source-dir DIR [unittest arguments]
Skipped (exit 77) without prometheus (tools/bootstrap installs it) or regload.
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
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, Locusd  # noqa: E402

ARGS = None
REGISTERS = 3000


class Prometheus:
    """prometheus on 127.0.0.1:<free port>, scraping `target` every second."""

    def __init__(self, binary, target):
        self.dir = tempfile.mkdtemp(prefix="locus-prometheus-")
        self.port = h.free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: locus\n    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, preexec_fn=h._die_with_parent)

    def get(self, path, timeout=5):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                if self.get("/-/ready", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("prometheus not ready within %d s:\n%s" % (timeout, self.log_text()))
            time.sleep(0.2)

    def query(self, expr):
        """The instant query's result list; fails unless status is success."""
        status, body = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise AssertionError("query %r: %s" % (expr, body[:500]))
        return answer["data"]["result"]

    def log_text(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        if os.environ.get("LOCUS_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def by_shard(result):
    return {r["metric"].get("shard"): float(r["value"][1]) for r in result}


class Scrape(LocusTestCase):
    timeout = 90

    def test_prometheus_sees_the_admin_numbers(self):
        http_port = h.free_port()
        d = Locusd(["--shards=2", "--http=127.0.0.1:%d" % http_port], admin=True)
        with d:
            prom = Prometheus(ARGS.prometheus, "127.0.0.1:%d" % http_port)
            self.addCleanup(prom.stop)
            prom.wait_ready()
            p = subprocess.run([ARGS.regload, "--target=127.0.0.1:%d" % d.port, "--aors=%d" % REGISTERS,
                                "--window=64", "--quiet", "--domain=example.com"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with d.admin() as admin:
                stats = admin.stats()
            totals = h.counters(stats)
            self.assertEqual(totals["requests_register"], REGISTERS)
            # Prometheus has it once a scrape after the run is stored.
            deadline = time.monotonic() + 20
            while True:
                result = prom.query("sum(locus_requests_register_total)")
                if result and float(result[0]["value"][1]) == REGISTERS:
                    break
                self.assertLess(time.monotonic(), deadline,
                                "Prometheus says %r, locusd %d\n%s" % (result, REGISTERS, prom.log_text()))
                time.sleep(0.25)
            self.assertEqual(prom.query('up{job="locus"}')[0]["value"][1], "1")
            for metric, kind in (("locus_requests_register_total", "counters"),
                                 ("locus_responses_200_total", "counters"),
                                 ("locus_bindings_created_total", "counters"),
                                 ("locus_journal_commits_total", "counters"),
                                 ("locus_bindings", "gauges"), ("locus_aors", "gauges")):
                name = metric[len("locus_"):]
                if kind == "counters":
                    name = name[:-len("_total")]
                want = {str(i): float(stats["shards"][i][kind][name]) for i in range(2)}
                self.assertEqual(by_shard(prom.query(metric + '{job="locus"}')), want, metric)
            self.assertEqual(float(prom.query("sum(locus_bindings)")[0]["value"][1]), REGISTERS)
            self.assertGreater(float(prom.query("sum(locus_journal_commits_total)")[0]["value"][1]), 0)
            count = prom.query("sum(locus_request_latency_seconds_count)")
            self.assertGreaterEqual(float(count[0]["value"][1]), REGISTERS)
            self.check_dashboard(prom)
        d.cleanup()

    def check_dashboard(self, prom):
        with open(os.path.join(ARGS.source_dir, "packaging/grafana/locus.json")) as f:
            dashboard = json.load(f)
        exprs = []
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                exprs.append((panel["title"], target["expr"]))
        self.assertGreaterEqual(len(exprs), 20)
        # rate() needs two samples in its window: wait for three scrapes.
        deadline = time.monotonic() + 10
        while True:
            samples = prom.query("count_over_time(locus_uptime_seconds[1m])")
            if samples and float(samples[0]["value"][1]) >= 3:
                break
            self.assertLess(time.monotonic(), deadline, "fewer than 3 scrapes in 10 s")
            time.sleep(0.25)
        titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
        for topic in ("register", "status", "latency", "bindings", "journal", "per shard"):
            self.assertIn(topic, titles)
        for title, expr in exprs:
            query = expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
            result = prom.query(query)
            self.assertTrue(result, "%s: %s finds nothing" % (title, query))


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--regload", default="")
        parser.add_argument("--source-dir", dest="source_dir", default="")
        parser.add_argument("--prometheus", default=shutil.which("prometheus") or "")

    ARGS, rest = h.parse_args(extra=extra)
    if not ARGS.prometheus or not os.access(ARGS.prometheus, os.X_OK):
        sys.stderr.write("SKIP: no prometheus (tools/bootstrap installs it)\n")
        sys.exit(h.SKIP_EXIT_CODE)
    if not ARGS.regload or not os.access(ARGS.regload, os.X_OK):
        sys.stderr.write("SKIP: regload not built here\n")
        sys.exit(h.SKIP_EXIT_CODE)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
