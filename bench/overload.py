#!/usr/bin/env python3
"""Goodput under overload and a registration storm; run it through bench/overload.

Each server (locusd with one shard, `--durability=off` and `sync`; Kamailio in
memory) runs pinned to CPU 0 inside a CPU cgroup that gives it a fixed share of
that core (`--cpu-share`, 10% by default, in periods of 10 ms), with regload
pinned to CPU 1. The share scales every server down alike, so that one core of
load generator can offer ten times a server's maximum: the ratios are what the
benchmark reports, not the absolute rates.

For each server:
1. its maximum: REGISTERs answered 2xx per second in a closed loop (window 200);
2. goodput at 1x, 2x, 5x and 10x that maximum, offered open loop with new AORs
   (each request retransmitted on Timer E, given up on Timer F, as a phone
   does): the 2xx per second of the report intervals after the first two
   seconds, averaged;
3. a storm: `--storm-seconds` worth of its maximum of phones come back at once
   (`regload --mode=storm`: Timer E/F, Retry-After, RFC 5626 back-off), and the
   time until every one is registered, against the time its maximum allows.

Prints a table and, with --write-docs, rewrites the overload section of
docs/benchmarks.md and draws docs/overload.png (gnuplot).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CLIENT_CPU, Server, cpu_seconds, kamailio_config, replace_docs_section  # noqa: E402

MULTIPLES = [1, 2, 5, 10]
PERIOD_US = 10000


class CpuShare:
    """A CPU cgroup (v2 or v1) holding a server to `share` of one core."""

    def __init__(self, share):
        self.share = share
        self.path = None

    def __enter__(self):
        name = f"locus-overload-{os.getpid()}"
        quota = max(1000, int(PERIOD_US * self.share))
        v2 = "/sys/fs/cgroup/cgroup.controllers"
        if os.path.exists(v2) and "cpu" in open(v2).read():
            self.path = os.path.join("/sys/fs/cgroup", name)
            os.mkdir(self.path)
            with open(os.path.join(self.path, "cpu.max"), "w") as f:
                f.write(f"{quota} {PERIOD_US}")
            self.procs = os.path.join(self.path, "cgroup.procs")
        elif os.path.isdir("/sys/fs/cgroup/cpu"):
            self.path = os.path.join("/sys/fs/cgroup/cpu", name)
            os.mkdir(self.path)
            with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
                f.write(str(PERIOD_US))
            with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
                f.write(str(quota))
            self.procs = os.path.join(self.path, "cgroup.procs")
        else:
            raise RuntimeError("no CPU cgroup controller to write to (run as root)")
        return self

    def wrap(self, args):
        """`args` started inside the cgroup (its children stay in it)."""
        return ["sh", "-c", f'echo $$ > {self.procs} && exec "$@"', "sh"] + args

    def __exit__(self, *exc):
        if self.path:
            for _ in range(50):
                try:
                    os.rmdir(self.path)
                    break
                except OSError:
                    time.sleep(0.1)


def run_regload(build, port, extra, timeout):
    """regload pinned to CLIENT_CPU, JSON reports every second: (intervals, summary)."""
    cmd = ["taskset", "-c", CLIENT_CPU, os.path.join(build, "tools", "regload"),
           f"--target=127.0.0.1:{port}", "--json", "--sockets=16"] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines or "summary_seconds" not in lines[-1]:
        raise RuntimeError(f"regload printed no summary: {out.stderr}")
    return [l for l in lines if "t" in l], lines[-1]


class Run:
    def __init__(self, args):
        self.args = args
        self.offset = 0
        self.results = {}

    def aors(self, n):
        o = self.offset
        self.offset += n
        return o

    def maximum(self, server):
        n = 5_000_000
        _, s = run_regload(self.args.build, server.port,
                           ["--window=200", f"--duration={self.args.seconds}", f"--aors={n}",
                            f"--aor-offset={self.aors(n)}", "--drain=5", "--quiet"],
                           timeout=self.args.seconds + 60)
        return s["ok"] / max(s["sending_seconds"], 1e-9)

    def offered(self, server, rate):
        seconds = self.args.seconds
        n = int(rate * seconds) + 1
        cpu0 = cpu_seconds(server.pids())
        intervals, s = run_regload(self.args.build, server.port,
                                   [f"--rate={rate}", f"--count={n}", f"--aors={n}",
                                    f"--aor-offset={self.aors(n)}", "--drain=34"],
                                   timeout=seconds + 120)
        cpu = cpu_seconds(server.pids()) - cpu0
        steady = [i for i in intervals if 2.0 < i["t"] <= seconds + 0.5]
        goodput = sum(i["ok_rate"] for i in steady) / max(len(steady), 1)
        codes = s.get("codes", {})
        return dict(rate=rate, goodput=goodput, sent=s["sent"], ok=s["ok"], timeouts=s["timeouts"],
                    retransmissions=s["retransmissions"], refused=int(codes.get("503", 0)),
                    p50=s.get("p50_us", 0), p99=s.get("p99_us", 0), cpu=cpu)

    def storm(self, server, maximum):
        phones = int(maximum * self.args.storm_seconds)
        t0 = time.time()
        intervals, s = run_regload(self.args.build, server.port,
                                   ["--mode=storm", f"--aors={phones}", f"--aor-offset={self.aors(phones)}",
                                    "--report-interval=0.5", "--backoff-base=2", "--backoff-max=30"],
                                   timeout=600)
        wall = time.time() - t0
        seconds = s.get("all_registered_seconds")
        return dict(phones=phones, seconds=seconds if seconds is not None else wall,
                    all_registered=seconds is not None, ideal=phones / maximum,
                    registered=s.get("registered", 0),
                    curve=[(i["t"], i["registered"]) for i in intervals])

    def measure(self, name, make_server):
        print(f"== {name}", flush=True)
        server = make_server()
        server.start()
        try:
            self.maximum(server)  # warm-up
            time.sleep(2)
            top = self.maximum(server)
            print(f"  maximum {top:.0f} 2xx/s (closed loop)", flush=True)
            rows = []
            for m in MULTIPLES:
                time.sleep(3)
                r = self.offered(server, int(top * m))
                r["multiple"] = m
                rows.append(r)
                print(f"  {m:>2}x offered {r['rate']:>7}/s: goodput {r['goodput']:8.0f}/s "
                      f"({r['goodput'] / top * 100:5.1f}% of max)  503 {r['refused']:7}  "
                      f"timeouts {r['timeouts']:7}  retransmissions {r['retransmissions']:8}  "
                      f"p50 {r['p50'] / 1000:7.1f} ms  p99 {r['p99'] / 1000:8.1f} ms", flush=True)
            time.sleep(3)
            storm = self.storm(server, top) if self.args.storm_seconds > 0 else None
            if storm:
                print(f"  storm of {storm['phones']} phones: all registered in {storm['seconds']:.1f} s "
                      f"({storm['seconds'] / storm['ideal']:.2f}x the {storm['ideal']:.1f} s its maximum "
                      f"allows)", flush=True)
        finally:
            server.stop()
        self.results[name] = dict(maximum=top, rows=rows, storm=storm)


def write_docs(root, results, args, machine):
    names = list(results)
    lines = [f"Measured with `bench/overload --cpu-share={args.cpu_share} --seconds={args.seconds}"
             f" --storm-seconds={args.storm_seconds}` on {machine}, {time.strftime('%Y-%m-%d')}.",
             "Each server is held to "
             f"{args.cpu_share * 100:.0f}% of CPU 0 by a CPU cgroup (quota per 10 ms period), so that "
             "regload on CPU 1 can offer ten times its maximum; compare the ratios, not the rates.",
             "Goodput: REGISTERs answered 2xx per second, averaged over the offered run after its first "
             "two seconds; requests are retransmitted on Timer E and given up on Timer F, as phones do.",
             "",
             "| server | maximum (closed loop) | " + " | ".join(f"goodput at {m}×" for m in MULTIPLES) +
             " | storm: all registered (ideal) |",
             "|---|---|" + "---|" * len(MULTIPLES) + "---|"]
    for name in names:
        r = results[name]
        cells = [f"{row['goodput']:,.0f}/s ({row['goodput'] / r['maximum'] * 100:.0f}%)" for row in r["rows"]]
        st = r["storm"]
        storm = (f"{st['phones']:,} phones: {st['seconds']:.1f} s ({st['ideal']:.1f} s, "
                 f"{st['seconds'] / st['ideal']:.2f}×)") if st else "—"
        lines.append(f"| {name} | {r['maximum']:,.0f}/s | " + " | ".join(cells) + f" | {storm} |")
    lines += ["", "Per offered rate (503s sent, transactions timed out, retransmissions, latency of the "
              "2xx answers):", "", "| server | offered | 503 | timed out | retransmissions | p50 | p99 |",
              "|---|---|---|---|---|---|---|"]
    for name in names:
        for row in results[name]["rows"]:
            lines.append(f"| {name} | {row['multiple']}× = {row['rate']:,}/s | {row['refused']:,} | "
                         f"{row['timeouts']:,} | {row['retransmissions']:,} | {row['p50'] / 1000:.1f} ms | "
                         f"{row['p99'] / 1000:.1f} ms |")
    lines += ["", "![goodput against offered load](overload.png)", "",
              "![registered phones over time in the storm](storm.png)", ""]
    replace_docs_section(root, "<!-- overload:begin -->",
                         "<!-- overload:end -->", "Overload and storms (`bench/overload`)",
                         "<!-- overload:begin -->\n" + "\n".join(lines) + "<!-- overload:end -->")
    goodput = {n: [(row["multiple"], row["goodput"] / results[n]["maximum"] * 100) for row in results[n]["rows"]]
               for n in names}
    plot(os.path.join(root, "docs", "overload.png"), goodput, "linespoints",
         "set xlabel 'offered load (multiple of the maximum)'; set ylabel 'goodput (% of the maximum)';"
         "set logscale x; set xtics (1,2,5,10); set yrange [0:150]; set key bottom left;")
    storms = {}
    for name in names:
        st = results[name]["storm"]
        if not st:
            continue
        points = [(0, 0)] + [(t / st["ideal"], r / st["phones"] * 100) for t, r in st["curve"]]
        if st["all_registered"]:
            points.append((st["seconds"] / st["ideal"], 100))
        storms[name] = points
    if storms:
        plot(os.path.join(root, "docs", "storm.png"), storms, "lines",
             "set xlabel 'time (multiple of what the maximum rate allows)';"
             "set ylabel 'phones registered (%)'; set yrange [0:105]; set key bottom right;"
             "set arrow from 1,0 to 1,105 nohead dt 2;")


def plot(png, series, style, settings):
    """Draws `series` (name -> [(x, y)]) into `png` with gnuplot."""
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        f.write("\n\n\n".join("\n".join(f"{x:.3f} {y:.2f}" for x, y in points) for points in series.values()))
        f.write("\n")
        data = f.name
    plots = ", ".join(f"'{data}' index {i} with {style} lw 2 title '{n}'" for i, n in enumerate(series))
    subprocess.run(["gnuplot", "-e", f"set terminal pngcairo size 800,480; set output '{png}'; set grid;"
                    f"{settings} plot {plots}"], check=True)
    os.unlink(data)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("--cpu-share", type=float, default=0.1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--storm-seconds", type=float, default=10)
    parser.add_argument("--servers", default="locusd-off,locusd-sync,kamailio")
    parser.add_argument("--kamailio-children", type=int, default=1)
    parser.add_argument("--locusd-flag", action="append", default=[],
                        help="a flag for every locusd (repeatable), e.g. --locusd-flag=--udp_receive_buffer=67108864")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--results", default=os.path.join(tempfile.gettempdir(), "locus-overload.json"),
                        help="where the figures are kept (JSON)")
    parser.add_argument("--docs-from", help="write the docs from a results file; measure nothing")
    args = parser.parse_args()
    if args.docs_from:
        with open(args.docs_from) as f:
            saved = json.load(f)
        write_docs(args.root, saved["results"], args, saved["machine"])
        return 0
    machine = subprocess.run(["sh", "-c", "echo \"$(nproc) CPUs, kernel $(uname -r)\""],
                             capture_output=True, text=True).stdout.strip()
    run = Run(args)
    with tempfile.TemporaryDirectory() as work, CpuShare(args.cpu_share) as share:
        def locusd(durability):
            return lambda: Server("locusd", share.wrap(
                [os.path.join(args.build, "engine", "locusd"), "--shards=1", "--udp=127.0.0.1:@PORT@",
                 "--tcp=", f"--durability={durability}",
                 f"--data_dir={tempfile.mkdtemp(dir=work, prefix='locus-')}", "--log_level=info"] +
                args.locusd_flag),
                work, "listening on")

        def kamailio():
            cfg = os.path.join(work, "kamailio.cfg")

            def prepare(port):
                with open(cfg, "w") as f:
                    f.write(kamailio_config(args.root, port, args.kamailio_children))
            return Server("kamailio", share.wrap(["kamailio", "-f", cfg, "-DD", "-E", "-m", "4096", "-M", "64",
                                                  "-w", work]), work, "Listening on", prepare)

        factories = {"locusd-off": locusd("off"), "locusd-sync": locusd("sync"), "kamailio": kamailio}
        for name in args.servers.split(","):
            run.measure(name, factories[name])
    with open(args.results, "w") as f:
        json.dump(dict(results=run.results, machine=machine), f)
    print(f"results in {args.results}")
    if args.write_docs:
        write_docs(args.root, run.results, args, machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
