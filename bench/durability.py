#!/usr/bin/env python3
"""The durability benchmark (run it through bench/durability).

1. REGISTER/s of one shard with --durability=sync, async and off, in the same
   run: locusd pinned to CPU 0, regload to CPU 1, closed loop (a window of
   outstanding requests), first new registrations, then refreshes of the same
   AORs. Also locusd's CPU per REGISTER and the journal's group writes.
2. At a fixed offered rate (open loop, default 5,000 REGISTER/s), sync against
   off: locusd's CPU per REGISTER and the latency, next to the file system's
   own floor: a bare loop of one 4 KiB write + fdatasync, appending to a file
   and overwriting an already-written one, and a direct write with RWF_DSYNC
   over a written file (how the journal writes where it can).
3. Start-up time with a million bindings to restore: register them (sync),
   kill -9, start again and time it until the shards answer; once replaying
   the journal, once from a snapshot (after the admin `snapshot` command).

Prints a table and, with --write-docs, replaces the section of
docs/benchmarks.md between the durability markers.
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (SERVER_CPU, CLIENT_CPU, cpu_seconds, free_port, regload, replace_docs_section,  # noqa: E402
                     steal_seconds)

LOCUSD_FLAGS = []  # --locusd-flag: added to every locusd of the throughput and rate phases

BEGIN = "<!-- durability:begin (bench/durability writes this section) -->"
END = "<!-- durability:end -->"


class Daemon:
    """locusd on 127.0.0.1, pinned to `cpus`, with its own data directory; stopped by PID."""

    def __init__(self, build, data_dir, flags, cpus=SERVER_CPU):
        self.build, self.data_dir, self.flags, self.cpus = build, data_dir, flags, cpus
        self.proc = None

    def start(self):
        self.port = free_port()
        self.log_path = os.path.join(self.data_dir, "locusd.log")
        self.log = open(self.log_path, "a")
        cmd = ["taskset", "-c", self.cpus, os.path.join(self.build, "engine", "locusd"),
               f"--udp=127.0.0.1:{self.port}", "--tcp=", f"--data_dir={self.data_dir}",
               "--log_level=info"] + self.flags
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.ready_seconds = self.wait_ready()

    def wait_ready(self):
        """Seconds from exec until the daemon answers an OPTIONS."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.02)
        msg = (f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKready;rport\r\nFrom: <sip:b@x>;tag=1\r\n"
               "To: <sip:b@x>\r\nCall-ID: ready\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"locusd exited at start; see {self.log_path}")
            try:
                s.sendto(msg, ("127.0.0.1", self.port))
                s.recvfrom(65536)
                return time.monotonic() - self.started
            except OSError:
                pass
        raise RuntimeError(f"locusd not ready; see {self.log_path}")

    def admin(self, cmd):
        c = socket.socket(socket.AF_UNIX)
        c.connect(os.path.join(self.data_dir, "admin.sock"))
        c.sendall((json.dumps(cmd) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            data += c.recv(1 << 20)
        c.close()
        return json.loads(data.splitlines()[-1])

    def total(self, name):
        totals = self.admin({"cmd": "stats"})["totals"]
        return totals["counters"].get(name, totals["gauges"].get(name))

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
            self.proc = None
            self.log.close()


def rounds_arguments(count, window, rate, seconds):
    """The arguments of a bench made of rounds, each a closed-loop run of
    --count REGISTERs with --window outstanding and an open-loop run at --rate
    for --seconds (bench/shards, bench/generator)."""
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--build", required=True)
    p.add_argument("--count", type=int, default=count, help="REGISTERs per closed-loop run")
    p.add_argument("--window", type=int, default=window)
    p.add_argument("--rate", type=int, default=rate, help="open-loop REGISTER/s")
    p.add_argument("--seconds", type=int, default=seconds, help="of the open-loop run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--write-docs", action="store_true")
    return p


@contextlib.contextmanager
def one_shard(build, mode, count, settle_seconds):
    """locusd with one shard in `mode` on a fresh data directory, stopped after."""
    os.sync()  # no writeback of an earlier run's files during this one
    time.sleep(settle_seconds)
    work = tempfile.mkdtemp(prefix=f"durability-{mode}-")
    d = Daemon(build, work, [f"--durability={mode}", "--shards=1", f"--expected_aors={count}"]
               + LOCUSD_FLAGS)
    d.start()
    try:
        yield d
    finally:
        d.kill(signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)


def measured(d, build, regload_args, counters, cpus=CLIENT_CPU):
    """One regload run against `d`: its result, locusd's CPU µs per answered
    REGISTER, and how much each of `counters` grew. r["steal"]: the share of
    the run's time the hypervisor took from locusd's CPUs."""
    cpu0, steal0, wall0 = cpu_seconds([d.proc.pid]), steal_seconds(d.cpus), time.monotonic()
    before = {name: d.total(name) for name in counters}
    r, _ = regload(build, d.port, regload_args, timeout=300, cpus=cpus)
    cpu = cpu_seconds([d.proc.pid]) - cpu0
    r["steal"] = (steal_seconds(d.cpus) - steal0) / max(time.monotonic() - wall0, 1e-9) / len(d.cpus.split(","))
    return r, cpu / max(r["ok"], 1) * 1e6, {name: d.total(name) - before[name] for name in counters}


def throughput(build, mode, count, window):
    """REGISTER/s of one shard in `mode`: new registrations, then refreshes."""
    rows = {}
    with one_shard(build, mode, count, settle_seconds=2) as d:
        for n, load in enumerate(("register", "refresh")):
            r, cpu_us, grown = measured(d, build, [f"--mode={load}", f"--window={window}", f"--count={count}",
                                                   f"--aors={count}", "--expires=3600", "--drain=5",
                                                   f"--first-cseq={1 + n * 1000}", "--contact-port=5080"],
                                        ("journal_commits", "snapshots"))
            commits, snapshots = grown["journal_commits"], grown["snapshots"]
            rate = r["ok"] / max(r["sending_seconds"], 1e-9)
            rows[load] = dict(rate=rate, ok=r["ok"], failed=r["other"] + r["timeouts"], p50=r["p50_us"],
                              p99=r["p99_us"], cpu_us=cpu_us, commits=commits,
                              per_commit=r["ok"] / commits if commits else 0, snapshots=snapshots)
            print(f"  {mode:>5} {load:>8}: {rate:9.0f}/s  failed {rows[load]['failed']}  "
                  f"p50 {r['p50_us']:7.1f} us  p99 {r['p99_us']:8.1f} us  "
                  f"CPU {rows[load]['cpu_us']:5.2f} us/REGISTER  group writes {commits} "
                  f"({rows[load]['per_commit']:.0f} REGISTERs each), snapshots {snapshots}", flush=True)
            time.sleep(1)
    return rows


def at_rate(build, mode, rate, count):
    """One shard at `rate` REGISTER/s offered (open loop): CPU and latency."""
    with one_shard(build, mode, count, settle_seconds=1) as d:
        r, cpu_us, grown = measured(d, build, ["--mode=register", f"--rate={rate}", f"--count={count}",
                                               f"--aors={count}", "--expires=3600", "--drain=5",
                                               "--contact-port=5080"], ("journal_commits",))
    row = dict(ok=r["ok"], failed=r["other"] + r["timeouts"], p50=r["p50_us"], p99=r["p99_us"],
               cpu_us=cpu_us, commits=grown["journal_commits"], steal=r["steal"])
    print(f"  {mode:>5} at {rate}/s: p50 {r['p50_us']:7.1f} us  p99 {r['p99_us']:8.1f} us  "
          f"CPU {row['cpu_us']:6.2f} us/REGISTER  group writes {row['commits']}  failed {row['failed']}  "
          f"steal {row['steal']:.0%}", flush=True)
    return row


def flush_floor(directory, flushes=2000, size=4096):
    """The file system's own cost of a durable write: `flushes` times one
    write of `size` bytes + fdatasync, appending to a new file, then
    overwriting a file already written to that size; and the journal's own
    way where the file system allows it, a direct write (O_DIRECT) with
    RWF_DSYNC over a written file. Wall and CPU per flush."""
    import mmap
    import resource
    block = mmap.mmap(-1, size)  # page-aligned, as direct I/O wants
    block.write(b"\x5a" * size)
    rows = {}
    for kind in ("append", "overwrite", "direct"):
        path = os.path.join(directory, f"floor-{kind}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if kind != "append":
                for i in range(flushes):
                    os.write(fd, block)
                os.fsync(fd)
            if kind == "direct":
                try:
                    os.close(fd)
                    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
                except OSError:
                    print("  floor, direct: not supported here", flush=True)
                    fd = -1
                    continue
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            for i in range(flushes):
                if kind == "direct":
                    os.pwritev(fd, [block], i * size, os.RWF_DSYNC)
                else:
                    os.pwrite(fd, block, i * size)
                    os.fdatasync(fd)
            wall = time.perf_counter() - t0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            if fd >= 0:
                os.close(fd)
            os.unlink(path)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        rows[kind] = dict(wall_us=wall / flushes * 1e6, cpu_us=cpu / flushes * 1e6)
        how = "direct write with RWF_DSYNC" if kind == "direct" else "write + fdatasync"
        print(f"  floor, {kind:>9}: {rows[kind]['wall_us']:6.0f} us wall, {rows[kind]['cpu_us']:5.0f} us CPU "
              f"per {size}-byte {how}", flush=True)
    return rows


def restored_ms(log_path):
    """The shards' own 'restored ... in N ms' figures from the log, newest start."""
    with open(log_path) as f:
        text = f.read().split("listening on")[-2]
    return [int(m) for m in re.findall(r"restored .* in (\d+) ms", text)]


def reshard_ms(log_path):
    """Reading the old generation, then each new shard writing its snapshot."""
    with open(log_path) as f:
        text = f.read().split("listening on")[-2]
    return [int(m) for m in re.findall(r"of generation \d+ in (\d+) ms", text)]


def startup(build, bindings, shards):
    """Start-up with `bindings` bindings, from the journal and from a snapshot."""
    work = tempfile.mkdtemp(prefix="durability-start-")
    flags = ["--durability=sync", f"--shards={shards}", f"--expected_aors={bindings}"]
    d = Daemon(build, work, flags)
    result = {}
    try:
        d.start()
        r, _ = regload(build, d.port, ["--mode=register", "--window=2000", f"--count={bindings}",
                                       f"--aors={bindings}", "--expires=7200", "--drain=5"], timeout=600)
        if r["ok"] != bindings:
            raise RuntimeError(f"only {r['ok']} of {bindings} registered")
        journal_bytes = d.total("journal_bytes")
        sources = ("journal", "snapshot") + (("another shard count",) if shards > 1 else ())
        for source in sources:
            if source == "another shard count":
                d.flags = [f for f in d.flags if not f.startswith("--shards=")] + ["--shards=1"]
            if source == "snapshot":
                before = d.total("snapshots")
                d.admin({"cmd": "snapshot"})
                deadline = time.monotonic() + 120
                while d.total("snapshots") < before + shards and time.monotonic() < deadline:
                    time.sleep(0.2)
            d.kill()
            os.system("sync")
            d.start()
            restored = d.total("bindings")
            per_shard = restored_ms(d.log_path) if source != "another shard count" else reshard_ms(d.log_path)
            result[source] = dict(seconds=d.ready_seconds, restored=restored, shard_ms=per_shard)
            print(f"  start-up, {shards} shard(s), {restored} bindings from the {source}: "
                  f"answering after {d.ready_seconds:.2f} s (shards restored in {per_shard} ms)",
                  flush=True)
            if restored != bindings:
                raise RuntimeError(f"restored {restored} of {bindings}")
        result["journal_bytes"] = journal_bytes
    finally:
        d.kill(signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)
    return result


def markdown(results, rates, starts, args, load_lines):
    lines = [BEGIN, "",
             f"Measured by `bench/durability` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} vCPUs): "
             f"locusd with one shard pinned to CPU {SERVER_CPU}, regload pinned to CPU {CLIENT_CPU}, closed loop "
             f"with {args.window} REGISTERs outstanding, {args.count:,} AORs; `register` binds each AOR "
             "once, `refresh` then refreshes them all. Each figure is the median of "
             f"{args.rounds} rounds of sync, async and off in turn. The journal is on the machine's ext4 "
             "disk (its flush cost: the floor below). Enough requests must be outstanding to keep the core busy "
             "while a group's durable write is in flight: with 1,000 outstanding, sync "
             "reaches about 75% of off because the core waits.", "",
             "| durability | load | REGISTER/s (median) | vs off, same round (median; all rounds) | p50 µs | p99 µs | CPU µs/REGISTER | group writes | REGISTERs per write | snapshots |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for mode in ("sync", "async", "off"):
        for load in ("register", "refresh"):
            r = results[mode][load]
            all_ratios = ", ".join(f"{x * 100:.0f}" for x in r["ratios"])
            lines.append(f"| {mode} | {load} | {r['rate']:,.0f} | {r['paired'] * 100:.0f}% ({all_ratios}) | {r['p50']:.0f} | "
                         f"{r['p99']:.0f} | {r['cpu_us']:.2f} | {r['commits']:,} | "
                         f"{r['per_commit']:.0f} | {r['snapshots']} |")
    floor = rates["floor"]
    lines += ["", f"At a fixed offered rate of {args.rate:,} REGISTER/s (open loop, {args.rate_count:,} new "
              "AORs, median of the rounds), next to the file system's own floor (a bare loop of one 4 KiB "
              "durable write, 2,000 times):", "",
              "| | p50 µs | p99 µs | CPU µs/REGISTER | group writes |", "|---|---|---|---|---|"]
    for mode in ("sync", "off"):
        r = rates[mode]
        lines.append(f"| locusd {mode} | {r['p50']:.0f} | {r['p99']:.0f} | {r['cpu_us']:.1f} | {r['commits']:,} |")
    lines += [f"| floor: append + fdatasync | {floor['append']['wall_us']:.0f} (per flush) | | "
              f"{floor['append']['cpu_us']:.0f} (per flush) | |",
              f"| floor: overwrite + fdatasync | {floor['overwrite']['wall_us']:.0f} (per flush) | | "
              f"{floor['overwrite']['cpu_us']:.0f} (per flush) | |"]
    if "direct" in floor:
        lines += [f"| floor: direct overwrite with RWF_DSYNC (the journal's way) | "
                  f"{floor['direct']['wall_us']:.0f} (per flush) | | {floor['direct']['cpu_us']:.0f} (per flush) | |"]
    lines += ["",
              f"CPU per REGISTER, sync against off in the same round: {rates['cpu_ratio']:.2f}× (rounds: "
              f"{', '.join(f'{x:.2f}' for x in rates['cpu_ratios'])})."]
    lines += load_lines
    lines += ["", "Start-up with bindings to restore (kill -9, then start; time from exec until the "
              "daemon answers an OPTIONS; the shards restore in parallel; with another shard count the old "
              "files are read once and each shard writes its part as a new snapshot before answering):", "",
              "| shards | bindings | restored from | answering after | shards' own restore time |",
              "|---|---|---|---|---|"]
    for shards, s in starts:
        for source in ("journal", "snapshot", "another shard count"):
            if source not in s:
                continue
            r = s[source]
            what = source if source != "another shard count" else f"{shards} shards' files, started with 1"
            lines.append(f"| {shards if source != 'another shard count' else 1} | {r['restored']:,} | {what} | "
                         f"{r['seconds']:.2f} s | {', '.join(str(m) + ' ms' for m in r['shard_ms'])} |")
    lines += ["", END]
    return "\n".join(lines)


def measure_rate(args):
    """The fixed-rate phase: rounds of sync and off, medians, and the floor."""
    print(f"at {args.rate} REGISTER/s offered (one shard):", flush=True)
    runs = {mode: [] for mode in ("sync", "off")}
    for _ in range(args.rounds):
        for mode in runs:
            runs[mode].append(at_rate(args.build, mode, args.rate, args.rate_count))
    rates = {}
    for mode, rounds in runs.items():
        rates[mode] = sorted(rounds, key=lambda r: r["cpu_us"])[len(rounds) // 2]
    ratios = sorted(s["cpu_us"] / o["cpu_us"] for s, o in zip(runs["sync"], runs["off"]))
    rates["cpu_ratio"] = ratios[len(ratios) // 2]
    rates["cpu_ratios"] = ratios
    work = tempfile.mkdtemp(prefix="durability-floor-")
    try:
        rates["floor"] = flush_floor(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"  sync/off CPU per REGISTER, same round: {rates['cpu_ratio']:.2f} "
          f"({', '.join(f'{x:.2f}' for x in ratios)})", flush=True)
    return rates


def measure_load(args, sync_max):
    """Sync and off at fractions of sync's closed-loop maximum (open loop,
    --load-seconds each): latency and CPU per REGISTER, against the floor."""
    rows = []
    for fraction in args.load_fractions:
        rate = int(sync_max * fraction)
        row = dict(fraction=fraction, rate=rate)
        for mode in ("sync", "off"):
            row[mode] = at_rate(args.build, mode, rate, rate * args.load_seconds)
        rows.append(row)
    return rows


def load_markdown(rows, sync_max, floor, seconds):
    lines = ["", f"At fractions of sync's maximum ({sync_max:,.0f} new registrations/s, the median "
             f"above), open loop, {seconds} s of new AORs each; "
             f"the floor's overwrite + fdatasync took {floor['overwrite']['wall_us']:.0f} µs"
             + (f", its direct overwrite {floor['direct']['wall_us']:.0f} µs" if "direct" in floor else "") + ":", "",
             "| offered | sync p50 / p99 | off p50 / p99 | CPU per REGISTER sync / off | CPU time stolen "
             "by the hypervisor, sync / off |", "|---|---|---|---|---|"]
    for r in rows:
        s, o = r["sync"], r["off"]
        lines.append(f"| {r['fraction']:.0%} = {r['rate']:,}/s | {s['p50']:,.0f} µs / {s['p99']:,.0f} µs | "
                     f"{o['p50']:,.0f} µs / {o['p99']:,.0f} µs | {s['cpu_us']:.2f} / {o['cpu_us']:.2f} µs = "
                     f"{s['cpu_us'] / o['cpu_us']:.2f}× | {s['steal']:.0%} / {o['steal']:.0%} |")
    return lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--count", type=int, default=400000)
    p.add_argument("--window", type=int, default=5000)
    p.add_argument("--bindings", type=int, default=1000000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--rate-count", type=int, default=60000)
    p.add_argument("--only-rate", action="store_true",
                   help="only the fixed-rate phase and the floor (no docs)")
    p.add_argument("--load-fractions", type=lambda s: [float(x) for x in s.split(",")], default=[0.5, 0.8],
                   help="fractions of the sync maximum for the latency phase")
    p.add_argument("--load-seconds", type=int, default=10)
    p.add_argument("--only-load", action="store_true",
                   help="one round of sync's maximum, then the latency phase and the floor (no docs)")
    p.add_argument("--write-docs", action="store_true")
    p.add_argument("--locusd-flag", action="append", default=[],
                   help="a flag for locusd (repeatable), e.g. --locusd-flag=--sync_commit_window=0")
    args = p.parse_args()
    LOCUSD_FLAGS.extend(args.locusd_flag)
    if args.only_rate:
        measure_rate(args)
        return 0
    if args.only_load:
        sync_max = throughput(args.build, "sync", args.count, args.window)["register"]["rate"]
        rows = measure_load(args, sync_max)
        work = tempfile.mkdtemp(prefix="durability-floor-")
        try:
            floor = flush_floor(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print("\n".join(load_markdown(rows, sync_max, floor, args.load_seconds)))
        return 0
    print("throughput (one shard):", flush=True)
    # Rounds of sync, async, off in turn: this VM's speed drifts by tens of
    # percent over minutes, so each mode's figure is its median round.
    runs = {mode: [] for mode in ("sync", "async", "off")}
    for _ in range(args.rounds):
        for mode in runs:
            runs[mode].append(throughput(args.build, mode, args.count, args.window))
    results = {}
    for mode, rounds in runs.items():
        results[mode] = {}
        for load in ("register", "refresh"):
            ordered = sorted(rounds, key=lambda r: r[load]["rate"])
            results[mode][load] = dict(ordered[len(ordered) // 2][load])
            # Against off in the same round (the VM drifts between rounds).
            ratios = sorted(r[load]["rate"] / o[load]["rate"] for r, o in zip(rounds, runs["off"]))
            results[mode][load]["paired"] = ratios[len(ratios) // 2]
            results[mode][load]["ratios"] = ratios
    rates = measure_rate(args)
    print("at fractions of the sync maximum:", flush=True)
    loads = measure_load(args, results["sync"]["register"]["rate"])
    print("start-up:", flush=True)
    starts = [(shards, startup(args.build, args.bindings, shards)) for shards in (1, 2)]
    section = markdown(results, rates, starts, args, load_markdown(loads, results["sync"]["register"]["rate"],
                                                                   rates["floor"], args.load_seconds))
    print(section)
    if args.write_docs:
        replace_docs_section(args.root, BEGIN, END, "Durability", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
