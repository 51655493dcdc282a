#!/usr/bin/env python3
"""Can the load generator outrun the server? (run it through bench/generator)

locusd with one shard and --durability=off on CPU 0, regload on CPU 1, closed
loop (--window outstanding, new registrations), then open loop at --rate, in
rounds of regload with UDP GSO (the default) and without (--udp-gso=off), a
fresh daemon each. For each: locusd's maximum (it is the bottleneck: its core
is busy, regload's is not), locusd's CPU per REGISTER, and regload's own CPU
per request, closed loop and at the rate. One core of regload can send and
receive 1 s / (its CPU per request); against locusd's maximum that is how far
the generator outruns the server. The open-loop run shows whether the way
regload sends changes what the server spends.

Prints a table and, with --write-docs, replaces the section of
docs/benchmarks.md between the generator markers.
"""
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import replace_docs_section  # noqa: E402
from durability import Daemon, measured, rounds_arguments  # noqa: E402

BEGIN = "<!-- generator:begin (bench/generator writes this section) -->"
END = "<!-- generator:end -->"
SETTINGS = [("UDP GSO (default)", "on"), ("one datagram per send (--udp-gso=off)", "off")]


def one_run(args, gso, offset):
    work = tempfile.mkdtemp(prefix="generator-")
    d = Daemon(args.build, work, ["--durability=off", "--shards=1", f"--expected_aors={args.count}"])
    try:
        d.start()
        r, server_us, _ = measured(d, args.build, [
            "--mode=register", f"--count={args.count}", f"--aors={args.count}", f"--aor-offset={offset}",
            f"--window={args.window}", f"--udp-gso={gso}", "--drain=5"], [])
        count = args.rate * args.seconds
        o, open_server_us, _ = measured(d, args.build, [
            "--mode=register", f"--count={count}", f"--aors={count}", f"--aor-offset={offset + args.count}",
            f"--rate={args.rate}", f"--udp-gso={gso}", "--drain=5"], [])
    finally:
        d.kill(signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)
    for summary in (r, o):
        if summary["other"] or summary["timeouts"]:
            raise RuntimeError(f"not every REGISTER succeeded: {summary}")
    client_us = r["regload_cpu_us_per_request"]
    row = dict(rate=r["ok_rate"], server_us=server_us, client_us=client_us,
               segmented=r.get("segmented", 0) / max(r["sent"], 1), steal=max(r["steal"], o["steal"]),
               open_server_us=open_server_us, open_client_us=o["regload_cpu_us_per_request"])
    print(f"  --udp-gso={gso}: locusd {row['rate']:9,.0f}/s, {server_us:5.2f} us/REGISTER; regload "
          f"{client_us:5.2f} us/request ({row['segmented']:.0%} sent segmented): one regload core "
          f"{1e6 / client_us:9,.0f}/s = {1e6 / client_us / row['rate']:.2f}x locusd; at {args.rate}/s "
          f"locusd {open_server_us:5.2f} us, regload {row['open_client_us']:5.2f} us", flush=True)
    return row


def markdown(args, results):
    lines = [BEGIN, "",
             f"Measured by `bench/generator --count={args.count} --window={args.window} "
             f"--rate={args.rate} --rounds={args.rounds}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs): one locusd "
             "shard (`--durability=off`) pinned to CPU 0, regload pinned to CPU 1, closed loop with "
             f"{args.window:,} new registrations outstanding, then {args.rate:,}/s open loop for "
             f"{args.seconds} s; medians of {args.rounds} rounds, a fresh "
             "daemon each. locusd's core is the bottleneck; regload's capacity from one core is 1 s over "
             "its CPU per request.", "",
             "| regload sends | locusd's maximum | locusd CPU per REGISTER | regload CPU per request | "
             "requests sent in a GSO message | one regload core can drive | against locusd's maximum | "
             f"at {args.rate:,}/s: locusd / regload CPU per request | CPU time stolen by the hypervisor |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, gso in SETTINGS:
        rounds = results[gso]
        rate = statistics.median(r["rate"] for r in rounds)
        client = statistics.median(r["client_us"] for r in rounds)
        ratio = statistics.median(1e6 / r["client_us"] / r["rate"] for r in rounds)
        lines.append(f"| {name} | {rate:,.0f}/s | {statistics.median(r['server_us'] for r in rounds):.2f} µs | "
                     f"{client:.2f} µs | {statistics.median(r['segmented'] for r in rounds):.0%} | "
                     f"{1e6 / client:,.0f}/s | {ratio:.2f}× | "
                     f"{statistics.median(r['open_server_us'] for r in rounds):.2f} / "
                     f"{statistics.median(r['open_client_us'] for r in rounds):.2f} µs | "
                     f"{statistics.median(r['steal'] for r in rounds):.0%} |")
    lines += ["", END]
    return "\n".join(lines)


def main():
    args = rounds_arguments(count=1500000, window=2000, rate=40000, seconds=6).parse_args()
    results = {gso: [] for _, gso in SETTINGS}
    offset = 0
    for i in range(args.rounds):
        print(f"round {i + 1}:", flush=True)
        for _, gso in SETTINGS:
            results[gso].append(one_run(args, gso, offset))
            offset += args.count + args.rate * args.seconds
    section = markdown(args, results)
    print(section)
    if args.write_docs:
        replace_docs_section(args.root, BEGIN, END, "Can the load generator outrun the server? (`bench/generator`)",
                             section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
