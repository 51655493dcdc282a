#!/usr/bin/env python3
"""The cluster-mode benchmark (run it through bench/cluster).

One locusd shard pinned to CPU 0; regload and Redis pinned to CPU 1 (this
machine has two). In the same run:
  1. REGISTER/s, closed loop (window --window), of one shard with
     --cluster (a stand-alone Redis), --durability=sync and --durability=off:
     new registrations, then refreshes of the same AORs; p50/p99; locusd's
     and Redis's CPU per REGISTER. Since regload and Redis share one core,
     the closed-loop rate is bounded by that core; the shard's own capacity
     is 1 s over its CPU per REGISTER, given beside it.
  2. The same three at a fixed open-loop rate (--rate): p50/p99 and CPU.
  3. Redis's memory per AOR (used_memory over the AORs it holds).
  4. A node that just started: lookups (INVITE -> 302) of every AOR the run
     registered through another node, cold (each read from Redis) and again
     warm (from its cache): the time to serve them all.
  5. With --big N (e.g. 10000000): N AORs registered in cluster mode, the
     REGISTER/s of each tenth of them and Redis's memory per AOR at the end.

Prints a table and, with --write-docs, replaces the section of
docs/benchmarks.md between the cluster markers.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CLIENT_CPU, cpu_seconds, free_port, regload, replace_docs_section  # noqa: E402
from durability import Daemon  # noqa: E402

BEGIN = "<!-- cluster:begin (bench/cluster writes this section) -->"
END = "<!-- cluster:end -->"


class Redis:
    """A stand-alone redis-server on loopback, pinned to CLIENT_CPU, in its own
    directory, without persistence; stopped by PID."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["taskset", "-c", CLIENT_CPU, shutil.which("redis-server"), "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", self.dir, "--save", "", "--appendonly", "no",
             "--logfile", os.path.join(self.dir, "redis.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.cli("PING") == "PONG":
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), capture_output=True,
                              text=True, check=True, timeout=30).stdout.strip()

    def info(self, field):
        for line in self.cli("INFO").splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":", 1)[1])
        raise RuntimeError(f"no {field} in INFO")

    def cpu(self):
        return cpu_seconds([self.proc.pid])

    def stop(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def start_node(build, flags):
    work = tempfile.mkdtemp(prefix="bench-cluster-")
    d = Daemon(build, work, ["--shards=1"] + flags)
    d.start()
    return d, work


def stop_node(d, work):
    d.kill(signal.SIGTERM)
    shutil.rmtree(work, ignore_errors=True)


def measure(d, build, redis, extra, timeout=600):
    """One regload run: its summary, locusd's and Redis's CPU per answered request."""
    cpu0 = cpu_seconds([d.proc.pid])
    redis0 = redis.cpu() if redis else 0.0
    r, _ = regload(build, d.port, extra, timeout)
    answered = max(r["ok"] + r["other"], 1)
    return (r, (cpu_seconds([d.proc.pid]) - cpu0) / answered * 1e6,
            ((redis.cpu() - redis0) / answered * 1e6) if redis else 0.0)


def row(name, r, cpu_us, redis_us):
    rate = r["ok"] / max(r["sending_seconds"], 1e-9)
    failed = r["other"] + r["timeouts"]
    print(f"  {name:>22}: {rate:9.0f}/s  failed {failed}  p50 {r['p50_us']:8.1f} us  "
          f"p99 {r['p99_us']:9.1f} us  locusd {cpu_us:6.2f} us/req  Redis {redis_us:6.2f} us/req", flush=True)
    return dict(rate=rate, failed=failed, p50=r["p50_us"], p99=r["p99_us"], cpu_us=cpu_us,
                redis_us=redis_us)


MODES = (("cluster", None), ("sync", ["--durability=sync"]), ("off", ["--durability=off"]))


def throughput(args):
    rows = {}
    for mode, flags in MODES:
        redis = Redis() if mode == "cluster" else None
        node_flags = [f"--cluster={redis.address}"] if redis else flags
        d, work = start_node(args.build, node_flags + [f"--expected_aors={args.aors}"])
        try:
            for n, load in enumerate(("register", "refresh")):
                r, cpu_us, redis_us = measure(d, args.build, redis, [
                    f"--mode={load}", f"--window={args.window}", f"--count={args.aors}",
                    f"--aors={args.aors}", "--expires=3600", "--drain=5", f"--first-cseq={1 + n * 1000}",
                    "--contact-port=5080"])
                rows[(mode, load)] = row(f"{mode} {load}", r, cpu_us, redis_us)
        finally:
            stop_node(d, work)
            if redis:
                redis.stop()
    return rows


def at_rate(args):
    rows = {}
    for mode, flags in MODES:
        redis = Redis() if mode == "cluster" else None
        node_flags = [f"--cluster={redis.address}"] if redis else flags
        d, work = start_node(args.build, node_flags)
        try:
            count = args.rate * args.seconds
            r, cpu_us, redis_us = measure(d, args.build, redis, [
                "--mode=register", f"--rate={args.rate}", f"--count={count}", f"--aors={count}",
                "--expires=3600", "--drain=5", "--contact-port=5080"])
            rows[mode] = row(f"{mode} at {args.rate}/s", r, cpu_us, redis_us)
        finally:
            stop_node(d, work)
            if redis:
                redis.stop()
    return rows


def warmup(args):
    """A node that just started serves AORs registered through another."""
    redis = Redis()
    base = redis.info("used_memory")
    a, work_a = start_node(args.build, [f"--cluster={redis.address}", f"--expected_aors={args.warm_aors}"])
    try:
        r, _, _ = measure(a, args.build, redis, ["--mode=register", f"--window={args.window}",
                                                 f"--count={args.warm_aors}", f"--aors={args.warm_aors}",
                                                 "--expires=3600", "--drain=5", "--contact-port=5080"])
        if r["ok"] != args.warm_aors:
            raise RuntimeError(f"registration through node A incomplete: {r}")
        per_aor = (redis.info("used_memory") - base) / args.warm_aors
    finally:
        stop_node(a, work_a)
    b, work_b = start_node(args.build, [f"--cluster={redis.address}", f"--expected_aors={args.warm_aors}"])
    out = {"bytes_per_aor": per_aor}
    try:
        for phase in ("cold", "warm"):
            started = time.monotonic()
            r, cpu_us, redis_us = measure(b, args.build, redis, [
                "--mode=lookup", f"--window={args.window}", f"--count={args.warm_aors}",
                f"--aors={args.warm_aors}", "--drain=5", "--contact-port=5080"])
            out[phase] = row(f"lookups, {phase}", r, cpu_us, redis_us)
            out[phase]["seconds"] = time.monotonic() - started
            out[phase]["ok"] = r["ok"]
    finally:
        stop_node(b, work_b)
        redis.stop()
    return out


def big(args):
    """--big AORs in cluster mode: REGISTER/s per tenth, memory per AOR."""
    redis = Redis()
    base = redis.info("used_memory")
    d, work = start_node(args.build, [f"--cluster={redis.address}", f"--expected_aors={args.big}"])
    tenths = []
    try:
        step = args.big // 10
        for i in range(10):
            r, cpu_us, redis_us = measure(d, args.build, redis, [
                "--mode=register", f"--window={args.window}", f"--count={step}", f"--aors={step}",
                f"--aor-offset={i * step}", "--expires=7200", "--drain=5", "--contact-port=5080"],
                timeout=1800)
            tenths.append(row(f"AORs {i * step}-{(i + 1) * step}", r, cpu_us, redis_us))
        per_aor = (redis.info("used_memory") - base) / args.big
        rss = d.total("aors")
    finally:
        stop_node(d, work)
        redis.stop()
    return {"tenths": tenths, "bytes_per_aor": per_aor, "cached_aors": rss}


def markdown(args, rows, rates, warm, bigrun):
    L = []
    L.append(f"Command: `bench/cluster --aors={args.aors} --window={args.window} --rate={args.rate}"
             f" --warm-aors={args.warm_aors}" + (f" --big={args.big}" if args.big else "") + "`. "
             "One locusd shard pinned to CPU 0; regload and a stand-alone Redis 7 share CPU 1 (this "
             "machine has two cores), so the closed-loop rates of cluster mode are bounded by that "
             "shared core; *shard capacity* is 1 s over locusd's CPU per REGISTER.")
    L.append("")
    L.append("| one shard | load | REGISTER/s | p50 | p99 | locusd CPU / REGISTER | shard capacity | Redis CPU / REGISTER |")
    L.append("|---|---|---|---|---|---|---|---|")
    for mode, _ in MODES:
        for load in ("register", "refresh"):
            r = rows[(mode, load)]
            L.append(f"| {mode} | {load} | {r['rate']:,.0f} | {r['p50']:,.0f} µs | {r['p99']:,.0f} µs | "
                     f"{r['cpu_us']:.2f} µs | {1e6 / r['cpu_us']:,.0f}/s | "
                     + (f"{r['redis_us']:.2f} µs |" if mode == "cluster" else "— |"))
    for mode, _ in MODES:
        r = rates[mode]
        L.append(f"| {mode} | {args.rate:,}/s offered | {r['rate']:,.0f} | {r['p50']:,.0f} µs | {r['p99']:,.0f} µs | "
                 f"{r['cpu_us']:.2f} µs | — | " + (f"{r['redis_us']:.2f} µs |" if mode == "cluster" else "— |"))
    c, s = rows[("cluster", "register")], rows[("sync", "register")]
    L.append("")
    L.append(f"Cluster against local sync, new registrations: {c['rate'] / s['rate']:.2f}× the closed-loop "
             f"rate, {s['cpu_us'] / c['cpu_us']:.2f}× the shard capacity (CPU per REGISTER "
             f"{c['cpu_us']:.2f} vs {s['cpu_us']:.2f} µs).")
    L.append("")
    L.append(f"Redis memory per AOR (one binding, `used_memory` growth): {warm['bytes_per_aor']:,.0f} B "
             f"({args.warm_aors:,} AORs).")
    L.append("")
    L.append(f"A node that just started, looking up {args.warm_aors:,} AORs registered through another node "
             f"(INVITE → 302, window {args.window}): cold {warm['cold']['seconds']:.1f} s "
             f"({warm['cold']['rate']:,.0f}/s, p99 {warm['cold']['p99']:,.0f} µs, every AOR read from Redis), "
             f"warm {warm['warm']['seconds']:.1f} s ({warm['warm']['rate']:,.0f}/s, p99 {warm['warm']['p99']:,.0f} µs).")
    if bigrun:
        t = bigrun["tenths"]
        L.append("")
        L.append(f"{args.big:,} AORs in cluster mode: REGISTER/s of the first tenth {t[0]['rate']:,.0f}, of the "
                 f"last {t[-1]['rate']:,.0f} (p99 {t[0]['p99']:,.0f} → {t[-1]['p99']:,.0f} µs, locusd CPU "
                 f"{t[0]['cpu_us']:.2f} → {t[-1]['cpu_us']:.2f} µs/REGISTER); Redis memory "
                 f"{bigrun['bytes_per_aor']:,.0f} B per AOR.")
    return "\n".join(L)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--build", required=True)
    p.add_argument("--aors", type=int, default=200000)
    p.add_argument("--window", type=int, default=200)
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--warm-aors", type=int, default=1000000)
    p.add_argument("--big", type=int, default=0)
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    print("REGISTER/s, closed loop:", flush=True)
    rows = throughput(args)
    print(f"At {args.rate}/s:", flush=True)
    rates = at_rate(args)
    print("A node that just started:", flush=True)
    warm = warmup(args)
    bigrun = big(args) if args.big else None
    text = markdown(args, rows, rates, warm, bigrun)
    print(text)
    if args.write_docs:
        replace_docs_section(args.root, BEGIN, END, "Cluster mode on Redis (`bench/cluster`)",
                             BEGIN + "\n" + text + "\n" + END)


if __name__ == "__main__":
    main()
