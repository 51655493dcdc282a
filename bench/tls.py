#!/usr/bin/env python3
"""The TLS and WebSocket benchmark (run it through bench/tls).

One locusd shard (--durability=off) pinned to CPU 0, its clients on CPU 1;
certificates made with openssl for the run.
1. REGISTER/s over long-lived TLS connections against plain TCP, in the same
   run: regload --transport=tls and --transport=tcp (16 connections, a
   window of 400 refreshes outstanding), rounds alternating the two; the
   closed-loop rate and the server's CPU per REGISTER, medians.
2. TLS handshakes per second per core: `openssl s_time -new` makes full
   handshakes (TLS 1.3, no resumption) for --seconds; the server's CPU per
   handshake gives the handshakes one core can do. Once with an RSA-2048
   certificate, once with ECDSA P-256.
3. Memory per idle connection: a client opens --connections TCP, TLS or WSS
   connections (handshake and WebSocket upgrade done) and holds them; the
   growth of locusd's proportional set size over them, per connection. A
   fresh daemon for each transport.

Prints Markdown and, with --write-docs, replaces the section of
docs/benchmarks.md between the tls markers.
"""
import argparse
import json
import os
import re
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (CLIENT_CPU, SERVER_CPU, cpu_seconds, free_port, pss_bytes,
                     replace_docs_section)  # noqa: E402
from durability import Daemon  # noqa: E402

BEGIN = "<!-- tls:begin (bench/tls writes this section) -->"
END = "<!-- tls:end -->"


def make_certificate(work, name, key_args):
    key, cert = os.path.join(work, name + ".key"), os.path.join(work, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-keyout", key, "-out", cert] + key_args, check=True, capture_output=True)
    return cert, key


def free_stream_port():
    """A port free for UDP and for a TCP listener: thousands of connections
    just closed leave ports of the ephemeral range taken for a while."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


class StreamDaemon(Daemon):
    """locusd with TCP, TLS and WSS listeners beside its UDP one."""

    def __init__(self, build, work, cert, key, flags):
        self.tcp_port, self.tls_port, self.wss_port = (free_stream_port(), free_stream_port(),
                                                        free_stream_port())
        super().__init__(build, work, [
            f"--tcp=127.0.0.1:{self.tcp_port}", f"--tls=127.0.0.1:{self.tls_port}",
            f"--wss=127.0.0.1:{self.wss_port}", f"--tls_cert={cert}", f"--tls_key={key}",
            "--shards=1", "--durability=off"] + flags)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def regload(build, port, transport, extra, timeout=300):
    cmd = ["taskset", "-c", CLIENT_CPU, os.path.join(build, "tools", "regload"),
           f"--target=127.0.0.1:{port}", f"--transport={transport}", "--json", "--quiet",
           "--sockets=16"] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"regload printed nothing: {out.stderr}")
    return json.loads(lines[-1])


def throughput(args, work, cert, key):
    d = StreamDaemon(args.build, work, cert, key, [f"--expected_aors={args.aors}"])
    d.start()
    rows = {"tcp": [], "tls": []}
    try:
        common = [f"--aors={args.aors}", "--contact-port=5999", "--expires=7200"]
        for transport in ("tcp", "tls"):  # each registers its own bindings once
            port = d.tcp_port if transport == "tcp" else d.tls_port
            regload(args.build, port, transport, common + ["--mode=register", "--window=400"])
        cseq = 2
        for _ in range(args.rounds):
            for transport in ("tcp", "tls"):
                port = d.tcp_port if transport == "tcp" else d.tls_port
                before = cpu_seconds([d.proc.pid])
                r = regload(args.build, port, transport,
                            common + ["--mode=refresh", "--window=400", f"--count={args.count}",
                                      f"--first-cseq={cseq}"])
                server = cpu_seconds([d.proc.pid]) - before
                cseq += args.count // args.aors + 2
                if r["other"] or r["timeouts"]:
                    raise RuntimeError(f"{transport}: not every REGISTER succeeded: {r}")
                rows[transport].append({"rate": r["ok_rate"], "cpu_us": server / r["ok"] * 1e6,
                                        "p50": r["p50_us"], "p99": r["p99_us"]})
                print(f"{transport}: {r['ok_rate']:.0f} REGISTER/s, "
                      f"{server / r['ok'] * 1e6:.2f} us server CPU each", flush=True)
    finally:
        d.stop()
    return {t: {k: statistics.median(x[k] for x in v) for k in v[0]} for t, v in rows.items()}


def handshakes(args, work, cert, key):
    d = StreamDaemon(args.build, work, cert, key, [])
    d.start()
    try:
        before = cpu_seconds([d.proc.pid])
        out = subprocess.run(["taskset", "-c", CLIENT_CPU, "openssl", "s_time", "-connect",
                              f"127.0.0.1:{d.tls_port}", "-new", "-tls1_3", "-time",
                              str(args.seconds)], capture_output=True, text=True, timeout=120)
        server = cpu_seconds([d.proc.pid]) - before
        m = re.search(r"(\d+) connections in [\d.]+s;.*\n(\d+) connections in (\d+) real", out.stdout)
        if not m:
            raise RuntimeError(f"s_time: {out.stdout[-400:]} {out.stderr[-400:]}")
        count, wall = int(m.group(2)), int(m.group(3))
        completed = d.total("tls_handshakes")
        if completed < count:
            raise RuntimeError(f"s_time made {count} connections, locusd completed {completed}")
    finally:
        d.stop()
    return {"count": count, "rate": count / wall, "per_core": count / server,
            "cpu_us": server / count * 1e6}


def hold(kind, port, n):
    """Opens n connections of `kind` and returns them (handshakes and upgrades done)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    held = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if kind != "tcp":
            s = context.wrap_socket(s, server_hostname="127.0.0.1")
        if kind == "wss":
            s.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n").encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError(f"upgrade {i}: connection closed")
                answer += chunk
            if not answer.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"upgrade {i}: {answer[:80]!r}")
        held.append(s)
    return held


def idle_memory(args, work, cert, key, kind):
    d = StreamDaemon(args.build, work, cert, key,
                     [f"--max_tcp_connections={args.connections + 100}",
                      "--tcp_idle_timeout=3600"])
    d.start()
    held = []
    try:
        time.sleep(0.5)
        base = pss_bytes([d.proc.pid])
        port = {"tcp": d.tcp_port, "tls": d.tls_port, "wss": d.wss_port}[kind]
        held = hold(kind, port, args.connections)
        time.sleep(1)
        gauge = {"tcp": "tcp_connections", "tls": "tls_connections", "wss": "wss_connections"}[kind]
        open_now = d.total(gauge)
        if open_now != args.connections:
            raise RuntimeError(f"{kind}: locusd holds {open_now} of {args.connections}")
        grown = pss_bytes([d.proc.pid]) - base
    finally:
        for s in held:
            s.close()
        d.stop()
    per = grown / args.connections
    print(f"{kind}: {args.connections} idle connections, {per / 1024:.1f} KiB each", flush=True)
    return per


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--build", required=True)
    p.add_argument("--aors", type=int, default=20000)
    p.add_argument("--count", type=int, default=300000, help="REGISTERs per closed-loop measure")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10, help="length of each handshake measure")
    p.add_argument("--connections", type=int, default=9000,
                   help="idle connections held (the client needs a descriptor each too)")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # for the client and locusd
    if args.connections + 200 > hard:
        sys.exit(f"--connections={args.connections} needs more than the {hard} open files allowed")

    work = tempfile.mkdtemp(prefix="locus-tls-bench-")
    rsa = make_certificate(work, "rsa", ["-newkey", "rsa:2048"])
    ecdsa = make_certificate(work, "ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])

    rates = throughput(args, work, *rsa)
    shakes = {"RSA-2048": handshakes(args, work, *rsa), "ECDSA P-256": handshakes(args, work, *ecdsa)}
    for name, h in shakes.items():
        print(f"{name}: {h['rate']:.0f} handshakes/s, {h['per_core']:.0f} per core of server CPU",
              flush=True)
    memory = {kind: idle_memory(args, work, *rsa, kind) for kind in ("tcp", "tls", "wss")}

    share = rates["tls"]["rate"] / rates["tcp"]["rate"]
    per_core_share = rates["tcp"]["cpu_us"] / rates["tls"]["cpu_us"]
    host = os.uname()
    lines = [
        BEGIN,
        "",
        f"Measured by `bench/tls` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, kernel "
        f"{host.release}, {ssl.OPENSSL_VERSION}): one locusd shard (`--durability=off`) pinned to "
        f"CPU {SERVER_CPU}, its clients on the other CPU.",
        "",
        f"REGISTER refreshes on 16 long-lived connections, 400 outstanding, {args.count:,} per "
        f"measure, {args.aors:,} AORs; medians of {args.rounds} rounds, TCP and TLS in turn "
        "(TLS 1.3, AES-256-GCM, through OpenSSL's memory BIOs):",
        "",
        "| transport | REGISTER/s reached | server CPU µs per REGISTER | REGISTER/s per core "
        "(1 s of server CPU) | p50 / p99 µs |",
        "|---|---|---|---|---|",
    ]
    for t, label in (("tcp", "TCP"), ("tls", "TLS")):
        r = rates[t]
        lines.append(f"| {label} | {r['rate']:,.0f} | {r['cpu_us']:.2f} | {1e6 / r['cpu_us']:,.0f} | "
                     f"{r['p50']:.0f} / {r['p99']:.0f} |")
    lines += [
        "",
        f"Per core, TLS does {per_core_share * 100:.0f}% of TCP's REGISTER/s; the rates reached "
        f"(bounded by the one client core) are {share * 100:.0f}% of TCP's.",
        "",
        f"Full TLS 1.3 handshakes (`openssl s_time -new`, {args.seconds} s, no resumption), "
        "X25519 key exchange:",
        "",
        "| server certificate | handshakes/s reached | server CPU µs per handshake | "
        "handshakes/s per core |",
        "|---|---|---|---|",
    ]
    for name, h in shakes.items():
        lines.append(f"| {name} | {h['rate']:,.0f} | {h['cpu_us']:,.0f} | {h['per_core']:,.0f} |")
    lines += [
        "",
        f"Memory per idle connection, {args.connections:,} held at once by one client (growth of "
        "locusd's proportional set size over them):",
        "",
        "| transport | KiB per idle connection |",
        "|---|---|",
    ]
    for kind, label in (("tcp", "TCP"), ("tls", "TLS"), ("wss", "WSS")):
        lines.append(f"| {label} | {memory[kind] / 1024:.1f} |")
    lines += ["", END]
    section = "\n".join(lines)
    print(section)
    if args.write_docs:
        replace_docs_section(args.root, BEGIN, END, "TLS and WebSocket (`bench/tls`)", section)

if __name__ == "__main__":
    main()
