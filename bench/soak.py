#!/usr/bin/env python3
"""The soak (run it through bench/soak).

One locusd shard (pinned to CPU 0, its own empty data directory) and regload
(CPU 1) in mixed mode -- 10% new registrations, 80% refreshes, 5%
unregistrations, 5% queries over --aors random AORs, every registration for
60 s, so that bindings expire and come back all the time -- at --rate
requests a second for --seconds. Every 10 s: locusd's RSS, the interval's
p50/p99 (regload's report) and the binding counters. At the end:
  - RSS after warm-up (the first 10 minutes, or a sixth of a shorter run)
    within 5% of its median;
  - p99 steady: no 10 s interval past warm-up above 4x the median interval p99;
  - every counter consistent once the load stopped and every registration
    lapsed: bindings_created - bindings_expired - bindings_removed = bindings;
a chart of RSS and p99 over time (docs/soak.png with --write-docs) and a
table (docs/benchmarks.md's soak section).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CLIENT_CPU, replace_docs_section  # noqa: E402
from durability import Daemon  # noqa: E402

BEGIN = "<!-- soak:begin (bench/soak writes this section) -->"
END = "<!-- soak:end -->"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def chart(samples, path):
    work = tempfile.mkdtemp(prefix="soak-chart-")
    data = os.path.join(work, "soak.dat")
    with open(data, "w") as f:
        for s in samples:
            f.write(f"{s['t'] / 60:.2f} {s['rss_kib'] / 1024:.1f} {max(s['p99_us'], 1) / 1000:.3f} "
                    f"{max(s['p50_us'], 1) / 1000:.3f}\n")
    script = f"""set terminal pngcairo size 1000,600 noenhanced
set output '{path}'
set title 'locusd soak: RSS and latency over time (one shard, mixed load)'
set xlabel 'minutes'
set ylabel 'RSS (MiB)'
set y2label 'latency (ms, log scale)'
set logscale y2
set ytics nomirror
set y2tics
set key left top
set grid
plot '{data}' using 1:2 with lines title 'RSS' axes x1y1, \\
     '{data}' using 1:3 with lines title 'p99' axes x1y2, \\
     '{data}' using 1:4 with lines title 'p50' axes x1y2
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)
    shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--build", required=True)
    p.add_argument("--rate", type=int, default=20000)
    p.add_argument("--seconds", type=int, default=3600)
    p.add_argument("--aors", type=int, default=500000)
    p.add_argument("--durability", default="sync")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="soak-")
    d = Daemon(args.build, work, ["--shards=1", f"--durability={args.durability}",
                                  f"--expected_aors={args.aors}", "--min_expires=60"])
    d.start()
    samples = []
    started = time.monotonic()
    try:
        cmd = ["taskset", "-c", CLIENT_CPU, os.path.join(args.build, "tools", "regload"),
               f"--target=127.0.0.1:{d.port}", "--mode=mixed", f"--rate={args.rate}",
               f"--duration={args.seconds}", f"--aors={args.aors}", "--expires=60", "--sockets=16",
               "--json", "--report-interval=10", "--drain=5"]
        load = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        summary = None
        for line in load.stdout:
            if not line.startswith("{"):
                continue
            report = json.loads(line)
            if "summary_seconds" in report:
                summary = report
                continue
            totals = d.admin({"cmd": "stats"})["totals"]
            c, g = totals["counters"], totals["gauges"]
            s = dict(t=time.monotonic() - started, rss_kib=rss_kib(d.proc.pid), p50_us=report["p50_us"],
                     p99_us=report["p99_us"], ok=report["ok"], other=report["other"],
                     timeouts=report["timeouts"], bindings=g["bindings"], aors=g["aors"],
                     created=c["bindings_created"], expired=c["bindings_expired"],
                     removed=c["bindings_removed"])
            samples.append(s)
            print(f"  {s['t'] / 60:6.1f} min  RSS {s['rss_kib'] / 1024:7.1f} MiB  p50 {s['p50_us']:8.1f} us  "
                  f"p99 {s['p99_us']:9.1f} us  bindings {s['bindings']:8d}  ok {s['ok']:7d}  "
                  f"other {s['other']}  timeouts {s['timeouts']}", flush=True)
        load.wait(timeout=120)
        # Every registration lasts 60 s: once they have all lapsed, nothing
        # changes any more and counters and gauges can be compared exactly.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(5)
            if d.admin({"cmd": "stats"})["totals"]["gauges"]["bindings"] == 0:
                break
        time.sleep(2)
        totals = d.admin({"cmd": "stats"})["totals"]
        c, g = totals["counters"], totals["gauges"]
        final = dict(created=c["bindings_created"], expired=c["bindings_expired"], removed=c["bindings_removed"],
                     bindings=g["bindings"], aors=g["aors"])
    finally:
        d.kill(signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)

    warm = min(600, args.seconds / 6)
    steady = [s for s in samples if s["t"] >= warm] or samples
    rss = [s["rss_kib"] for s in steady]
    rss_median = statistics.median(rss)
    rss_spread = max(abs(r - rss_median) for r in rss) / rss_median
    p99 = [s["p99_us"] for s in steady]
    p99_median = statistics.median(p99)
    p99_worst = max(p99)
    consistent = final["created"] - final["expired"] - final["removed"] == final["bindings"]
    lines = [
        f"Command: `bench/soak --rate={args.rate} --seconds={args.seconds} --aors={args.aors} "
        f"--durability={args.durability}`: one shard pinned to CPU 0, regload on CPU 1, mixed load "
        "(10% new, 80% refresh, 5% unregister, 5% query, random AORs, 60 s registrations). "
        f"Warm-up: the first {warm / 60:.0f} min.",
        "",
        "| check | measured | target | |",
        "|---|---|---|---|",
        f"| RSS after warm-up | {min(rss) / 1024:.1f}–{max(rss) / 1024:.1f} MiB, at most "
        f"{100 * rss_spread:.1f}% from its median ({rss_median / 1024:.1f} MiB) | within 5% | "
        f"{'met' if rss_spread <= 0.05 else 'missed'} |",
        f"| p99 per 10 s after warm-up | median {p99_median / 1000:.2f} ms, worst {p99_worst / 1000:.2f} ms | "
        f"steady (worst ≤ 4× median) | {'met' if p99_worst <= 4 * p99_median else 'missed'} |",
        f"| created − expired − removed = bindings | {final['created']:,} − {final['expired']:,} − "
        f"{final['removed']:,} = {final['created'] - final['expired'] - final['removed']:,}; bindings "
        f"{final['bindings']:,} | equal | {'met' if consistent else 'missed'} |",
        f"| requests | {summary['ok'] if summary else 0:,} 2xx, {summary['other'] if summary else 0:,} other "
        f"({json.dumps(summary['codes']) if summary else '{}'}), {summary['timeouts'] if summary else 0:,} timeouts | | |",
        "",
        "![RSS and latency over the soak](soak.png)",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        chart(samples, os.path.join(args.root, "docs", "soak.png"))
        replace_docs_section(args.root, BEGIN, END, "Soak (`bench/soak`)", BEGIN + "\n" + text + "\n" + END)
    with open(os.path.join(tempfile.gettempdir(), "soak-samples.json"), "w") as f:
        json.dump({"samples": samples, "final": final}, f)


if __name__ == "__main__":
    main()
