#!/usr/bin/env python3
"""The location-service benchmark (run it through bench/lookup).

One locusd shard (pinned to CPU 0, --durability=off so that a refresh costs
only its CPU path), regload pinned to CPU 1. After --aors AORs are registered
(one binding each), each round measures, for refreshes of those bindings and
for lookups of them (regload --mode=lookup: an INVITE per AOR, answered 302
with the binding, then the ACK):
  - the closed-loop maximum (window 200), requests/s;
  - at one open-loop rate (--rate), p50/p99 latency and the server's CPU per
    request (its CPU time over the requests it answered).
Rounds alternate the two kinds; the table gives medians.

Prints a Markdown table and, with --write-docs, replaces the section of
docs/benchmarks.md between the lookup markers.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import SERVER_CPU, cpu_seconds, free_port, regload, replace_docs_section  # noqa: E402
from durability import Daemon  # noqa: E402

BEGIN = "<!-- lookup:begin (bench/lookup writes this section) -->"
END = "<!-- lookup:end -->"


def measure(daemon, build, mode, extra, timeout=120):
    before = cpu_seconds([daemon.proc.pid])
    summary, client_share = regload(build, daemon.port, ["--mode=" + mode] + extra, timeout)
    server = cpu_seconds([daemon.proc.pid]) - before
    answered = summary["ok"] + summary["other"]
    if summary["other"] or summary["timeouts"]:
        raise RuntimeError(f"{mode}: not every request succeeded: {summary}")
    return {
        "rate": summary["ok_rate"],
        "p50": summary["p50_us"],
        "p99": summary["p99_us"],
        "cpu_us": server / max(answered, 1) * 1e6,
        "client": client_share,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--build", required=True)
    p.add_argument("--aors", type=int, default=100000)
    p.add_argument("--count", type=int, default=400000, help="requests per closed-loop measure")
    p.add_argument("--rate", type=int, default=20000, help="open-loop rate for latency and CPU")
    p.add_argument("--seconds", type=int, default=8, help="length of each open-loop measure")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="locus-lookup-")
    daemon = Daemon(args.build, work, ["--shards=1", "--durability=off",
                                       f"--expected_aors={args.aors}"])
    daemon.start()
    results = {"refresh": [], "lookup": []}
    try:
        common = [f"--aors={args.aors}", "--contact-port=5999", "--expires=7200"]
        measure(daemon, args.build, "register", common + ["--window=200"])
        cseq = 2
        for _ in range(args.rounds):
            for mode in ("refresh", "lookup"):
                extra = common + [f"--first-cseq={cseq}"]
                closed = measure(daemon, args.build, mode,
                                 extra + ["--window=200", f"--count={args.count}"])
                cseq += args.count // args.aors + 2
                extra = common + [f"--first-cseq={cseq}"]
                opened = measure(daemon, args.build, mode,
                                 extra + [f"--rate={args.rate}", f"--duration={args.seconds}"])
                cseq += args.rate * args.seconds // args.aors + 2
                results[mode].append((closed, opened))
                print(f"{mode}: {closed['rate']:.0f}/s closed loop; at {args.rate}/s: p50 "
                      f"{opened['p50']} us, p99 {opened['p99']} us, "
                      f"{opened['cpu_us']:.2f} us server CPU per request", flush=True)
    finally:
        daemon.proc.terminate()
        daemon.proc.wait(10)

    def med(mode, which, key):
        return statistics.median(r[which][key] for r in results[mode])

    rows = []
    for mode, label in (("refresh", "REGISTER refresh (200)"), ("lookup", "INVITE lookup (302, then ACK)")):
        rows.append(f"| {label} | {med(mode, 0, 'rate'):,.0f} | {med(mode, 1, 'p50'):.0f} / "
                    f"{med(mode, 1, 'p99'):.0f} | {med(mode, 1, 'cpu_us'):.2f} | "
                    f"{med(mode, 0, 'client') * 100:.0f}% |")
    ratio = med("lookup", 1, "cpu_us") / med("refresh", 1, "cpu_us")
    host = os.uname()
    section = "\n".join([
        BEGIN,
        "",
        f"Measured by `bench/lookup` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, kernel "
        f"{host.release}): one locusd shard (`--durability=off`) pinned to CPU {SERVER_CPU}, regload "
        f"on the other CPU, {args.aors:,} AORs of one binding each; medians of {args.rounds} rounds, "
        "refreshes and lookups in turn. Closed loop: 200 requests outstanding, "
        f"{args.count:,} per measure. Latency and server CPU: open loop at {args.rate:,}/s for "
        f"{args.seconds} s.",
        "",
        f"| request | closed-loop maximum, /s | p50 / p99 µs at {args.rate:,}/s | server CPU µs per "
        "request | regload's share of its core (closed loop) |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"A lookup costs {ratio:.2f}× the server CPU of a refresh.",
        "",
        END,
    ])
    print(section)
    if args.write_docs:
        replace_docs_section(args.root, BEGIN, END, "The location service (`bench/lookup`)", section)

if __name__ == "__main__":
    main()
