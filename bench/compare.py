#!/usr/bin/env python3
"""The side-by-side registrar benchmark; run it through bench/compare.

For each server (the null responder, locusd with one shard, Kamailio with its
best worker count), pinned to CPU 0 with regload pinned to CPU 1:

1. a sweep of offered REGISTER rates (open loop, new AORs at every step) up to
   the first rate that fails: more than 0.1% of requests failed or timed out,
   or less than 98% of the offered rate answered 2xx; two bisection probes
   between the last pass and the first failure give the maximum sustained rate;
2. latency (p50, p99) and server CPU per 100,000 REGISTERs at 50% of that rate;
3. a SIPp run of bench/sipp/register.xml at the same rate;
4. on a fresh server, 1,000,000 AORs registered, then its memory (PSS, summed
   over its processes).

Prints the table, rewrites the section between the compare markers of
docs/benchmarks.md and draws docs/benchmarks-latency.png (gnuplot).
"""
import argparse
import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SERVER_CPU = "0"
CLIENT_CPU = "1"
FAIL_RATIO = 0.001
# A durable peer that writes through to SQLite does hundreds per second.
SLOW_RATES = [100, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000, 3000, 5000]
RATES = [5000, 10000, 15000, 20000, 25000, 30000, 40000, 50000, 60000, 70000, 80000, 100000,
         120000, 140000, 170000, 200000, 250000, 300000]


def free_port():
    """A port free for UDP on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clock_ticks():
    return os.sysconf(os.sysconf_names["SC_CLK_TCK"])


def process_tree(pid):
    """pid and every live descendant."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / clock_ticks()


def steal_seconds(cpus):
    """CPU time the hypervisor gave to others while these CPUs (e.g. "0" or
    "0,1") had work: the steal column of /proc/stat. On a virtual machine a
    latency figure means little when this was high."""
    wanted = {f"cpu{c}" for c in cpus.split(",")}
    total = 0
    with open("/proc/stat") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] in wanted:
                total += int(fields[8])
    return total / clock_ticks()


def pss_bytes(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
KAMAILIO_SCHEMA = "/usr/share/kamailio/db_sqlite"


def kamailio_config(root, port, children, sqlite_database=None):
    """bench/peers/kamailio.cfg filled in: usrloc in memory, or written
    through to the SQLite database at `sqlite_database` (an absolute path)."""
    if sqlite_database:
        storage = "\n".join([f'loadmodule "{KAMAILIO_MODULES}/db_sqlite.so"',
                              f'modparam("usrloc", "db_url", "sqlite:///{sqlite_database}")',
                              'modparam("usrloc", "db_mode", 1)'])
    else:
        storage = 'modparam("usrloc", "db_mode", 0)'
    template = open(os.path.join(root, "bench", "peers", "kamailio.cfg")).read()
    return (template.replace("@PORT@", str(port)).replace("@CHILDREN@", str(children))
            .replace("@HASH_SIZE@", "16").replace("@USRLOC_STORAGE@", storage))


def create_kamailio_database(path):
    """A fresh SQLite database with Kamailio's version and location tables
    (the schema files of kamailio-sqlite-modules)."""
    import sqlite3
    for suffix in ("", "-journal", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)
    db = sqlite3.connect(path)
    for name in ("standard-create.sql", "usrloc-create.sql"):
        with open(os.path.join(KAMAILIO_SCHEMA, name)) as f:
            db.executescript(f.read())
    db.commit()
    db.close()


def replace_docs_section(root, begin, end, title, section):
    """Puts `section` (which starts with `begin` and ends with `end`) into
    docs/benchmarks.md in place of the one between those markers, or appends it
    under `title` when there is none yet."""
    path = os.path.join(root, "docs", "benchmarks.md")
    with open(path) as f:
        text = f.read()
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)


class Server:
    """A server under test, started pinned to SERVER_CPU and stopped by PID."""

    def __init__(self, name, args, work, ready_text, prepare=None):
        """`prepare(port)`, when given, runs before the server starts (e.g. writes its config)."""
        self.name, self.args, self.work, self.ready_text, self.prepare = name, args, work, ready_text, prepare
        self.proc = None
        self.port = None

    def start(self):
        self.port = free_port()
        if self.prepare:
            self.prepare(self.port)
        args = [a.replace("@PORT@", str(self.port)) for a in self.args]
        self.log = open(os.path.join(self.work, f"{self.name}.log"), "w")
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + args, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.work)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log.name}")
            with open(self.log.name) as f:
                if self.ready_text in f.read():
                    time.sleep(0.5)
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after 15 s; see {self.log.name}")

    def pids(self):
        return process_tree(self.proc.pid)

    def stop(self):
        if self.proc is None:
            return
        pids = self.pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait()
        for p in pids:  # workers that outlived their parent
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.proc = None
        self.log.close()


def regload(build, port, extra, timeout, cpus=CLIENT_CPU):
    """Runs regload pinned to `cpus`; returns (summary dict, regload's share of one core)."""
    cmd = ["taskset", "-c", cpus, os.path.join(build, "tools", "regload"),
           f"--target=127.0.0.1:{port}", "--json", "--quiet", "--sockets=16"] + extra
    start = os.times()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    end = os.times()
    wall = end.elapsed - start.elapsed
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"regload printed nothing: {out.stderr}")
    client_cpu = (end.children_user - start.children_user) + (end.children_system - start.children_system)
    return json.loads(lines[-1]), client_cpu / max(wall, 1e-9)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = args.build
        self.root = args.root
        self.step = 2.0 if args.quick else 4.0
        self.offset = 0  # AORs used so far: every step registers new ones
        self.results = {}
        self.curves = {}

    def next_offset(self, n):
        o = self.offset
        self.offset += n
        return o

    def probe(self, server, rate):
        """One open-loop step at `rate`: pass/fail, latency, server CPU per REGISTER."""
        aors = int(rate * self.step) + 1
        cpu0 = cpu_seconds(server.pids())
        r, client_share = regload(self.build, server.port,
                                [f"--rate={rate}", f"--count={aors}", f"--aors={aors}",
                                 f"--aor-offset={self.next_offset(aors)}", "--drain=2"],
                                timeout=self.step + 60)
        cpu = cpu_seconds(server.pids()) - cpu0
        failed = r["other"] + r["timeouts"]
        ok_rate = r["ok"] / max(r["sending_seconds"], 1e-9)
        passed = failed <= FAIL_RATIO * r["sent"] and ok_rate >= 0.98 * rate
        result = dict(rate=rate, passed=passed, sent=r["sent"], ok=r["ok"], failed=failed,
                      ok_rate=ok_rate, p50=r["p50_us"], p99=r["p99_us"], cpu=cpu,
                      client_cpu_share=client_share)
        print(f"  {server.name:>9} {rate:>8}/s: {'pass' if passed else 'FAIL'}  2xx {ok_rate:9.0f}/s  "
              f"failed {failed:6}  p50 {r['p50_us']:8.1f} us  p99 {r['p99_us']:9.1f} us  "
              f"server CPU {cpu / max(r['ok'], 1) * 1e6:6.2f} us/REGISTER  "
              f"regload CPU {result['client_cpu_share'] * 100:3.0f}%", flush=True)
        time.sleep(1)
        return result

    def sweep(self, server, rates):
        curve, last_pass, first_fail = [], None, None
        for rate in rates:
            res = self.probe(server, rate)
            curve.append(res)
            if res["passed"]:
                last_pass = res
            else:
                first_fail = res
                break
        if last_pass and first_fail:
            lo, hi = last_pass["rate"], first_fail["rate"]
            for _ in range(2):
                mid = (lo + hi) // 2
                res = self.probe(server, mid)
                curve.append(res)
                if res["passed"]:
                    lo, last_pass = mid, res
                else:
                    hi = mid
        curve.sort(key=lambda r: r["rate"])
        return last_pass, curve

    def sipp(self, server, rate):
        calls = int(rate * self.step)
        with tempfile.TemporaryDirectory() as work:
            users = os.path.join(work, "users.csv")
            with open(users, "w") as f:
                f.write("SEQUENTIAL\n")
                base = self.next_offset(calls)
                for i in range(calls):
                    f.write(f"+1416{base + i:07d};example.com\n")
            stat = os.path.join(work, "stat.csv")
            subprocess.run(["taskset", "-c", CLIENT_CPU, "sipp", f"127.0.0.1:{server.port}",
                            "-sf", os.path.join(self.root, "bench", "sipp", "register.xml"),
                            "-inf", users, "-t", "u1", "-r", str(rate), "-rate_max", str(rate),
                            "-m", str(calls), "-buff_size", "4194304", "-timeout", "60s",
                            "-nostdin", "-trace_stat", "-stf", stat, "-fd", "1"],
                           cwd=work, capture_output=True, timeout=120)
            rows = [l.strip().split(";") for l in open(stat) if l.strip()]
            head, last = rows[0], rows[-1]
            col = lambda name: int(last[head.index(name)])
            return dict(rate=rate, calls=calls, ok=col("SuccessfulCall(C)"),
                        failed=col("FailedCall(C)"), retransmissions=col("Retransmissions(C)"))

    def memory(self, make_server, window):
        server = make_server()
        server.start()
        try:
            r, _ = regload(self.build, server.port,
                           [f"--window={window}", "--aors=1000000", "--count=1000000",
                            "--aor-offset=0", "--drain=5"], timeout=600)
            time.sleep(1)
            return dict(pss=pss_bytes(server.pids()), ok=r["ok"], sent=r["sent"])
        finally:
            server.stop()

    def run_server(self, name, make_server, memory_window, rates=RATES, warm_aors=20000, memory=True):
        print(f"== {name}", flush=True)
        server = make_server()
        server.start()
        try:
            regload(self.build, server.port, ["--window=200", f"--aors={warm_aors}",
                                              f"--aor-offset={self.next_offset(warm_aors)}"], timeout=120)
            best, curve = self.sweep(server, rates)
            self.curves[name] = curve
            result = dict(max_rate=best["rate"] if best else 0,
                          top_of_sweep=bool(best) and best["rate"] == rates[-1])
            if best:
                half = best["rate"] // 2
                at_half = self.probe(server, half)
                result.update(p50=at_half["p50"], p99=at_half["p99"], half=half,
                              cpu_per_100k=at_half["cpu"] / max(at_half["ok"], 1) * 1e5,
                              regload_share=best["client_cpu_share"])
                if name != "null":
                    result["sipp"] = self.sipp(server, min(half, 20000))
        finally:
            server.stop()
        if memory and name != "null" and (not self.args.quick or name.startswith("locusd")):
            result["memory"] = self.memory(make_server, memory_window)
        self.results[name] = result

    def kamailio_factory(self, children, work, sqlite=False):
        """Kamailio with usrloc in memory, or written through to SQLite
        (db_mode 1, on a fresh database for every start)."""
        name = "kamailio-sqlite" if sqlite else "kamailio"
        cfg = os.path.join(work, f"{name}-{children}.cfg")
        database = os.path.join(work, "kamailio-location.sqlite") if sqlite else None

        def prepare(port):
            if database:
                create_kamailio_database(database)
            with open(cfg, "w") as f:
                f.write(kamailio_config(self.root, port, children, database))
        return lambda: Server(name, ["kamailio", "-f", cfg, "-DD", "-E", "-m", "4096", "-M", "64",
                                     "-w", work], work, "Listening on", prepare)

    def best_kamailio_children(self, work):
        """Closed-loop throughput for 1, 2, 4 and 8 workers on one core."""
        best, best_rate = 1, 0
        for children in [1, 2, 4, 8]:
            server = self.kamailio_factory(children, work)()
            server.start()
            try:
                r, _ = regload(self.build, server.port,
                               ["--window=500", f"--duration={self.step}", "--aors=500000",
                                f"--aor-offset={self.next_offset(500000)}", "--drain=2"],
                               timeout=120)
            finally:
                server.stop()
            rate = r["ok"] / max(r["sending_seconds"], 1e-9)
            print(f"  kamailio children={children}: {rate:.0f} REGISTER/s closed loop", flush=True)
            if rate > best_rate:
                best, best_rate = children, rate
        return best


def write_outputs(bench, children, path_md, path_png, machine):
    rows = []
    workers = f"{children} worker{'s' if children != 1 else ''}"
    # key, label, what a 200 promises about the binding
    names = [("null", "trivial responder (floor)", "—"),
             ("locusd", "locusd, 1 shard, `--durability=sync` (default)",
              "on disk: the 200 leaves once the journal's write is durable (group commit)"),
             ("locusd-off", "locusd, 1 shard, `--durability=off`", "memory only"),
             ("kamailio", f"Kamailio 5.6, {workers}, usrloc in memory (db_mode 0)", "memory only"),
             ("kamailio-sqlite", "Kamailio 5.6, 1 worker, usrloc on SQLite (db_mode 1)",
              "on disk: written through to SQLite (its commit syncs) before the 200")]
    for key, label, durability in names:
        r = bench.results.get(key)
        if r is None:
            continue
        mem = r.get("memory")
        mem_text = f"{mem['pss'] / 2**20:,.0f} MiB" if mem and key != "null" else "—"
        sipp = r.get("sipp")
        sipp_text = (f"{sipp['ok']:,}/{sipp['calls']:,} at {sipp['rate']:,}/s, {sipp['failed']} failed"
                     if sipp else "—")
        top = r.get("top_of_sweep")
        rows.append(f"| {label} | {durability} | {'≥ ' if top else ''}{r['max_rate']:,}{' (end of the sweep)' if top else ''} | {r.get('p50', 0):,.0f} µs / {r.get('p99', 0):,.0f} µs "
                    f"(at {r.get('half', 0):,}/s) | {r.get('cpu_per_100k', 0):.2f} s | {mem_text} | {sipp_text} |")
    table = "\n".join(["| server (pinned to one core) | durability of a 200 | max sustained REGISTER/s (<0.1% failed) | "
                       "p50 / p99 latency at 50% of max | CPU s per 100,000 REGISTERs | "
                       "memory with 1,000,000 AORs | SIPp register.xml |",
                       "|---|---|---|---|---|---|---|"] + rows)
    ratios = []
    for ours, peer, like in (("locusd-off", "kamailio", "in memory"), ("locusd", "kamailio-sqlite", "durable")):
        lo, ka = bench.results.get(ours), bench.results.get(peer)
        if lo and ka and ka["max_rate"] and lo["max_rate"]:
            ratios.append(f"{like}, {ours} / {peer}: {lo['max_rate'] / ka['max_rate']:.1f}× the sustained rate, "
                          f"{ka.get('cpu_per_100k', 0) / max(lo.get('cpu_per_100k', 1e-9), 1e-9):.1f}× less CPU per REGISTER"
                          + (f", {ka['memory']['pss'] / max(lo['memory']['pss'], 1):.1f}× less memory"
                             if lo.get("memory") and ka.get("memory") else "") + ".")
    lo, nl = bench.results.get("locusd-off"), bench.results.get("null")
    if lo and nl and nl.get("cpu_per_100k"):
        ratios.append(f"locusd (off) spends {lo['cpu_per_100k'] / nl['cpu_per_100k']:.1f}× the floor's CPU per "
                      f"request (the floor parses nothing and keeps nothing).")
    sweeps = []
    for key, _, _ in names:
        for p in bench.curves.get(key, []):
            sweeps.append(f"| {key} | {p['rate']:,} | {'pass' if p['passed'] else 'FAIL'} | "
                          f"{p['ok_rate']:,.0f} | {p['failed']:,} | {p['p50']:,.0f} | {p['p99']:,.0f} | "
                          f"{p['cpu'] / max(p['ok'], 1) * 1e6:.2f} | {p['client_cpu_share'] * 100:.0f}% |")
    section = f"""<!-- compare:begin (written by bench/compare; do not edit by hand) -->
Measured {datetime.date.today()} by `bench/compare{' --quick' if bench.args.quick else ''}` on {machine}:
server pinned to CPU {SERVER_CPU}, regload (and SIPp) to CPU {CLIENT_CPU}, UDP on loopback.
Open-loop steps of {bench.step:.0f} s, each registering new AORs; a step passes when at most
0.1% of its REGISTERs fail or time out and at least 98% of the offered rate is answered 2xx.
locusd runs with its default durability (`sync`) and with `off`; compare like with like:
`off` with Kamailio in memory, `sync` with Kamailio writing through to SQLite.
Kamailio in memory runs with {children} worker(s), its best closed-loop figure among 1, 2, 4
and 8; on SQLite with one (SQLite locks out a second writer), swept from 100/s
(`bench/peers/kamailio.cfg`: registrar + usrloc, the same expiry policy, no
authentication). Memory is the servers' PSS summed over their processes after 1,000,000
AORs were registered on a fresh start (Kamailio: `-m 4096` of shared memory reserved,
counted as it is touched; not measured on SQLite, where a million REGISTERs take most
of an hour).

{table}

{' '.join(ratios)}

![latency against offered rate](benchmarks-latency.png)

Every step of the sweeps (server CPU per REGISTER; regload's share of its own core —
near 100% means the generator, not the server, set the limit):

| server | offered/s | verdict | 2xx/s | failed | p50 µs | p99 µs | server CPU µs/REGISTER | regload CPU |
|---|---|---|---|---|---|---|---|---|
""" + "\n".join(sweeps) + "\n<!-- compare:end -->"
    text = open(path_md).read()
    begin, end = text.find("<!-- compare:begin"), text.find("<!-- compare:end -->")
    if begin >= 0 and end > begin:
        text = text[:begin] + section + text[end + len("<!-- compare:end -->"):]
    else:
        text = text.rstrip() + "\n\n## Side by side with Kamailio (`bench/compare`)\n\n" + section + "\n"
    open(path_md, "w").write(text)
    print("\n" + table + "\n\n" + " ".join(ratios))

    with tempfile.TemporaryDirectory() as work:
        plots = []
        for key, label, _ in names:
            curve = [p for p in bench.curves.get(key, [])]
            if not curve:
                continue
            data = os.path.join(work, f"{key}.dat")
            with open(data, "w") as f:
                for p in curve:
                    f.write(f"{p['rate']} {max(p['p50'], 1)} {max(p['p99'], 1)}\n")
            plots.append(f"'{data}' using 1:2 with linespoints title '{label} p50'")
            plots.append(f"'{data}' using 1:3 with linespoints dashtype 2 title '{label} p99'")
        script = f"""set terminal pngcairo size 1000,600 noenhanced
set output '{path_png}'
set title 'REGISTER latency against offered rate (server on one core, UDP loopback)'
set xlabel 'offered REGISTER/s'
set ylabel 'latency (microseconds, log scale)'
set logscale y
set key left top
set grid
plot {', '.join(plots)}
"""
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"compare: no chart ({e})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--servers", default="null,locusd,locusd-off,kamailio,kamailio-sqlite")
    args = parser.parse_args()
    servers = args.servers.split(",")
    bench = Bench(args)
    machine = subprocess.run(["sh", "-c", "echo \"$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)\""],
                             capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as work:
        children = 0
        try:
            if "null" in servers:
                bench.run_server("null", lambda: Server(
                    "null", [os.path.join(args.build, "bench", "null_responder"),
                             "--listen=127.0.0.1:@PORT@"], work, "listening"), 500)
            for name, durability in (("locusd", "sync"), ("locusd-off", "off")):
                if name not in servers:
                    continue
                # Every start gets an empty data directory of its own: the
                # memory phase must not restore the sweep's bindings first.
                bench.run_server(name, lambda name=name, durability=durability: Server(
                    name, [os.path.join(args.build, "engine", "locusd"), "--shards=1",
                           "--udp=127.0.0.1:@PORT@", "--tcp=", f"--durability={durability}",
                           f"--data_dir={tempfile.mkdtemp(dir=work, prefix='locus-')}",
                           "--log_level=info"], work, "listening on"), 500)
            if "kamailio" in servers:
                children = bench.best_kamailio_children(work)
                bench.run_server("kamailio", bench.kamailio_factory(children, work), 500)
            if "kamailio-sqlite" in servers:
                # One worker: SQLite locks a second one out.
                bench.run_server("kamailio-sqlite", bench.kamailio_factory(1, work, sqlite=True), 50,
                                 rates=SLOW_RATES, warm_aors=1000, memory=False)
        except KeyboardInterrupt:
            print("compare: interrupted")
            return 1
        write_outputs(bench, children, os.path.join(args.root, "docs", "benchmarks.md"),
                      os.path.join(args.root, "docs", "benchmarks-latency.png"), machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
