#!/usr/bin/env python3
"""Where locusd's time goes (run it through bench/profile).

One shard (pinned to CPU 0) under an open-loop load of new registrations from
regload (CPU 1); `perf record` samples the shard's process for --seconds while
the load runs; the samples are grouped by what the code does (the parser, the
binding table, building responses, the kernel's UDP path, io_uring, ...) and
given as a share of locusd's CPU and as µs per REGISTER.

Prints a table and, with --write-docs, replaces the section of
docs/benchmarks.md between the profile markers.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CLIENT_CPU, SERVER_CPU, cpu_seconds, replace_docs_section  # noqa: E402
from durability import Daemon  # noqa: E402

BEGIN = "<!-- profile:begin (bench/profile writes this section) -->"
END = "<!-- profile:end -->"

# What a symbol does, by the first pattern it matches (user space: the C++
# name; kernel: the function). Order matters.
CATEGORIES = [
    ("SIP parser", r"locus::sip::|Parse|Scan"),
    ("binding table and records", r"locus::store::|BindingTable|AorRecord|raw_hash_set|absl::.*hash"),
    ("building responses", r"ResponseBuilder|Append|Format|Render"),
    ("transaction cache", r"TransactionTable|Transaction"),
    ("request handling (rules, routing)", r"RequestHandler|Registrar|Shard::|Router|Counter|Histogram"),
    ("memory allocator", r"^je_|jemalloc|malloc|free|operator new|operator delete"),
    ("io_uring (liburing, user side)", r"liburing|io_uring_"),
    ("hashing (std::hash of keys)", r"_Hash_bytes|Hash"),
    ("libc (memcpy, memcmp, ...)", r"^__memcpy|^__memmove|^__memset|^__memcmp|^__strlen|^memchr|libc"),
    ("kernel: UDP receive", r"udp_rcv|udp_recvmsg|__skb_recv|skb_consume_udp|udp_queue_rcv|__udp4_lib_rcv|"
                            r"sock_def_readable|ip_rcv|ip_local_deliver|__netif_receive|process_backlog|"
                            r"net_rx_action|recvmsg|skb_copy_datagram|copy_to_iter|check_object_size|"
                            r"virt_addr_valid|sock_recv|cmsg|udp4_lib_lookup"),
    ("kernel: UDP send", r"udp_sendmsg|ip_make_skb|ip_finish_output|__dev_queue_xmit|loopback_xmit|"
                         r"ip_output|udp_send_skb|ip_append_data|sendmsg|__ip_|dst_|fib_|ip_route|"
                         r"copy_from_iter|sock_wfree"),
    ("kernel: io_uring", r"io_|uring|xa_load|fget|fput"),
    ("kernel: memory (skb, slab, pages)", r"kmem_cache|kmalloc|kfree|skb|slab|page|alloc_"),
    ("kernel: scheduling, wake-ups, syscalls", r"schedule|wake|futex|entry_SYSCALL|syscall|do_sys|"
                                               r"finish_task|__switch_to|irq|hrtimer|tick"),
]


def categorize(dso, symbol):
    kernel = dso.startswith("[kernel")
    for name, pattern in CATEGORIES:
        if name.startswith("kernel") != kernel:
            continue
        if re.search(pattern, symbol) or (not kernel and re.search(pattern, dso)):
            return name
    return "kernel: other" if kernel else "other user space"


def perf_report(data):
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort=dso,sym",
                          "--percent-limit=0"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3).strip()))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--rate", type=int, default=40000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--durability", default="off")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="profile-")
    d = Daemon(args.build, work, [f"--durability={args.durability}", "--shards=1"])
    regload = None
    try:
        d.start()
        total = args.rate * (args.seconds + 4)
        regload = subprocess.Popen(["taskset", "-c", CLIENT_CPU, os.path.join(args.build, "tools", "regload"),
                                    f"--target=127.0.0.1:{d.port}", "--quiet", "--json", f"--rate={args.rate}",
                                    f"--count={total}", f"--aors={total}", "--drain=2"],
                                   stdout=subprocess.PIPE, text=True)
        time.sleep(2)  # past the start
        data = os.path.join(work, "perf.data")
        cpu0, ok0 = cpu_seconds([d.proc.pid]), d.total("responses_sent") or 0
        subprocess.run(["perf", "record", "-q", "-F", "1999", "-p", str(d.proc.pid), "-o", data, "--",
                        "sleep", str(args.seconds)], check=True, capture_output=True)
        cpu, answered = cpu_seconds([d.proc.pid]) - cpu0, (d.total("responses_sent") or 0) - ok0
        summary = regload.communicate(timeout=args.seconds + 120)[0]
        regload = None
        rows = perf_report(data)
    finally:
        if regload is not None:
            regload.kill()
        d.kill(signal.SIGTERM)
    per_register_us = cpu / max(answered, 1) * 1e6
    shares = {}
    for percent, dso, symbol in rows:
        c = categorize(dso, symbol)
        shares[c] = shares.get(c, 0) + percent
    top = sorted(rows, reverse=True)[:15]
    for other in ("kernel: other", "other user space", "SIP parser"):
        listed = [r for r in sorted(rows, reverse=True) if categorize(r[1], r[2]) == other][:12]
        print(f"{other}: " + "; ".join(f"{pc:.1f}% {sym[:50]}" for pc, _, sym in listed))
    print(f"{answered:,} REGISTERs answered while sampled, {per_register_us:.2f} us of CPU each")
    for c, s in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {s:5.1f}%  {s / 100 * per_register_us:5.2f} us  {c}")
    lines = [BEGIN, "",
             f"Measured by `bench/profile --rate={args.rate} --seconds={args.seconds}` ({time.strftime('%Y-%m-%d')}): "
             f"one locusd shard (`--durability={args.durability}`) pinned to CPU {SERVER_CPU} answering new "
             f"registrations at {args.rate:,}/s offered (open loop) from regload on CPU {CLIENT_CPU}; "
             f"`perf record -F 1999` on the process for {args.seconds} s; {answered:,} REGISTERs answered "
             f"meanwhile, **{per_register_us:.2f} µs of CPU each**. On loopback a datagram's sender runs "
             "the kernel's receive path too (up to queueing it on the receiving socket): locusd's "
             "\"UDP send\" includes delivering its responses to regload, and the delivery of regload's "
             "requests to locusd is charged to regload.", "",
             "| what | share of locusd's CPU | µs per REGISTER |", "|---|---|---|"]
    for c, s in sorted(shares.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {c} | {s:.1f}% | {s / 100 * per_register_us:.2f} |")
    lines += ["", "The hottest functions:", "", "| share | where | function |", "|---|---|---|"]
    for percent, dso, symbol in top:
        lines.append(f"| {percent:.1f}% | {dso} | `{symbol[:90]}` |")
    lines += ["", END]
    section = "\n".join(lines)
    print(section)
    if args.write_docs:
        replace_docs_section(args.root, BEGIN, END, "Where the time goes (`bench/profile`)", section)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
