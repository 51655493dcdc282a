#!/usr/bin/env python3
"""The size benchmark (run it through bench/size): one locusd node holding
ten million AORs.

1. Fill: one shard (sync durability, pinned to CPU 0; regload on CPU 1)
   registers --aors new AORs in steps of --step, closed loop; each step's
   REGISTER/s, p99 and locusd's CPU per REGISTER, so that a slowdown as the
   table grows shows. The table is not reserved (no --expected_aors): it
   grows as a production node's does.
2. Memory: locusd's PSS once every AOR is registered.
3. Refreshes at that size against the same at --small AORs: --refreshes
   REGISTERs refreshing AORs of the big table, then the same count on a fresh
   node holding --small AORs (it refreshes each of them several times).
4. Restart: kill -9, start again, time until it answers (from its journals
   and the snapshots written while it filled); then after an admin
   `snapshot`, the same from one snapshot.

Prints a table and, with --write-docs, replaces the section of
docs/benchmarks.md between the size markers.
"""
import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CLIENT_CPU, SERVER_CPU, pss_bytes, replace_docs_section  # noqa: E402
from durability import Daemon, measured  # noqa: E402

BEGIN = "<!-- size:begin (bench/size writes this section) -->"
END = "<!-- size:end -->"
FLAGS = ["--durability=sync", "--shards=1"]


def run(d, build, args, what):
    """One regload run against `d`: REGISTER/s, p50/p99 and locusd's CPU per REGISTER."""
    r, cpu_us, _ = measured(d, build, args + ["--expires=7200", "--drain=5", "--contact-port=5080"], ())
    row = dict(ok=r["ok"], failed=r["other"] + r["timeouts"], rate=r["ok"] / max(r["sending_seconds"], 1e-9),
               p50=r["p50_us"], p99=r["p99_us"], cpu_us=cpu_us)
    print(f"  {what}: {row['rate']:9,.0f}/s  failed {row['failed']}  p50 {row['p50']:8.0f} us  "
          f"p99 {row['p99']:9.0f} us  CPU {row['cpu_us']:5.2f} us/REGISTER", flush=True)
    if row["failed"]:
        raise RuntimeError(f"{what}: {row['failed']} REGISTERs failed")
    return row


def restart(d, expected, source):
    d.kill()
    os.system("sync")
    d.start()
    restored = d.total("bindings")
    print(f"  restart from {source}: answering after {d.ready_seconds:.2f} s, "
          f"{restored:,} bindings", flush=True)
    if restored != expected:
        raise RuntimeError(f"restored {restored} of {expected}")
    return dict(seconds=d.ready_seconds, restored=restored)


def big_node(args):
    work = tempfile.mkdtemp(prefix="size-big-", dir=args.work_dir)
    d = Daemon(args.build, work, FLAGS)
    out = {"steps": []}
    try:
        d.start()
        print(f"fill: {args.aors:,} AORs in steps of {args.step:,}", flush=True)
        for offset in range(0, args.aors, args.step):
            row = run(d, args.build, ["--mode=register", f"--window={args.window}", f"--count={args.step}",
                                      f"--aors={args.step}", f"--aor-offset={offset}"],
                      f"AORs {offset:>10,} to {offset + args.step:>10,}")
            row["to"] = offset + args.step
            out["steps"].append(row)
        out["pss"] = pss_bytes([d.proc.pid])
        out["bindings"] = d.total("bindings")
        print(f"  PSS {out['pss'] / 2**20:,.0f} MiB for {out['bindings']:,} bindings", flush=True)
        out["refresh"] = run(d, args.build, ["--mode=refresh", f"--window={args.window}",
                                             f"--count={args.refreshes}", f"--aors={args.aors}",
                                             "--first-cseq=1000"], f"refresh at {args.aors:,}")
        out["journal"] = restart(d, args.aors, "journals and the snapshots written while filling")
        before = d.total("snapshots")
        d.admin({"cmd": "snapshot"})
        deadline = time.monotonic() + 600
        while d.total("snapshots") <= before and time.monotonic() < deadline:
            time.sleep(0.5)
        out["snapshot"] = restart(d, args.aors, "one snapshot")
        out["pss_restarted"] = pss_bytes([d.proc.pid])
        print(f"  PSS after the restart {out['pss_restarted'] / 2**20:,.0f} MiB", flush=True)
    finally:
        d.kill(signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)
    return out


def small_node(args):
    work = tempfile.mkdtemp(prefix="size-small-", dir=args.work_dir)
    d = Daemon(args.build, work, FLAGS)
    out = {}
    try:
        d.start()
        out["fill"] = run(d, args.build, ["--mode=register", f"--window={args.window}",
                                          f"--count={args.small}", f"--aors={args.small}"],
                          f"register {args.small:,}")
        out["refresh"] = run(d, args.build, ["--mode=refresh", f"--window={args.window}",
                                             f"--count={args.refreshes}", f"--aors={args.small}",
                                             "--first-cseq=1000"], f"refresh at {args.small:,}")
        out["pss"] = pss_bytes([d.proc.pid])
    finally:
        d.kill(signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)
    return out


def markdown(big, small, args):
    first, last = big["steps"][0], big["steps"][-1]
    lines = [BEGIN, "",
             f"Measured by `bench/size --aors={args.aors} --step={args.step} --small={args.small} "
             f"--refreshes={args.refreshes}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs): one locusd "
             f"shard (`--durability=sync`, the table not reserved) pinned to CPU {SERVER_CPU}, regload on CPU "
             f"{CLIENT_CPU}, closed loop with {args.window} REGISTERs outstanding, one binding per AOR.", "",
             "| | REGISTER/s | p50 µs | p99 µs | locusd CPU µs/REGISTER |", "|---|---|---|---|---|"]
    for name, r in ((f"new AORs, the first {args.step:,} (empty table)", first),
                    (f"new AORs, {last['to'] - args.step:,} to {last['to']:,}", last),
                    (f"refreshes with {args.aors:,} AORs held", big["refresh"]),
                    (f"refreshes with {args.small:,} AORs held", small["refresh"])):
        lines.append(f"| {name} | {r['rate']:,.0f} | {r['p50']:,.0f} | {r['p99']:,.0f} | {r['cpu_us']:.2f} |")
    lines += ["", "Every step of the fill:", "",
              "| AORs held after the step | REGISTER/s | p99 µs | locusd CPU µs/REGISTER |",
              "|---|---|---|---|"]
    for r in big["steps"]:
        lines.append(f"| {r['to']:,} | {r['rate']:,.0f} | {r['p99']:,.0f} | {r['cpu_us']:.2f} |")
    lines += ["",
              f"Memory: PSS {big['pss'] / 2**20:,.0f} MiB with {big['bindings']:,} bindings "
              f"({big['pss'] / max(big['bindings'], 1):.0f} B per AOR), "
              f"{big['pss_restarted'] / 2**20:,.0f} MiB after a restart; "
              f"{small['pss'] / 2**20:,.0f} MiB with {args.small:,}.", "",
              f"Restart with {args.aors:,} bindings (kill -9, then start; until it answers an OPTIONS): "
              f"{big['journal']['seconds']:.1f} s from the journals and the snapshots written while it filled, "
              f"{big['snapshot']['seconds']:.1f} s from one snapshot.", "",
              f"Refreshes at {args.aors:,} AORs run at {big['refresh']['rate'] / small['refresh']['rate']:.2f}× "
              f"the rate at {args.small:,}; new registrations at the last step at "
              f"{last['rate'] / first['rate']:.2f}× the first.", "", END]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--aors", type=int, default=10000000)
    p.add_argument("--step", type=int, default=1000000)
    p.add_argument("--small", type=int, default=100000)
    p.add_argument("--refreshes", type=int, default=1000000)
    p.add_argument("--window", type=int, default=2000)
    p.add_argument("--work-dir", default=None, help="where the data directories go (default: $TMPDIR)")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    if args.aors % args.step:
        p.error("--aors must be a multiple of --step")
    big = big_node(args)
    print(f"a node with {args.small:,} AORs:", flush=True)
    small = small_node(args)
    section = markdown(big, small, args)
    print(section)
    if args.write_docs:
        replace_docs_section(args.root, BEGIN, END, "Ten million AORs on one node (`bench/size`)", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
