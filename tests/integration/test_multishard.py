#!/usr/bin/env python3
"""locusd --shards=2 under a bounded load: 10,000 distinct AORs registered over
UDP from 32 client sockets (so SO_REUSEPORT spreads them over both shards'
sockets) with a window of outstanding requests and Timer E retransmission, then
every AOR queried and its binding list checked exactly; 300 more AORs over 4
TCP connections. After SIGTERM, the per-shard exit lines must show that both
shards received requests and that requests were handed to the owning shard.

Usage: test_multishard.py --locusd PATH [--aors N] [--tcp-aors N] [--daemon-flags=F1,F2]
Bounded: the whole test fails if it takes more than 60 s.
"""

import re
import secrets
import selectors
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402

EXPIRES = 3600
WINDOW = 200            # outstanding UDP requests, all sockets together
SOCKETS = 32
TCP_CONNECTIONS = 4
TCP_WINDOW = 50         # outstanding requests per TCP connection
GIVE_UP = 16.0          # seconds before a request without answer fails the test
TOTAL_BOUND = 60        # seconds for the whole test

VIA_BRANCH = re.compile(rb"^(?:Via|v)[ \t]*:[^\r\n]*?;branch=([^;,\s]+)", re.I | re.M)


class Failure(Exception):
    pass


def contact_uri(i):
    return "sip:ms%d@127.0.0.1:%d" % (i, 10000 + i % 50000)


def build(client, user, i, with_contact):
    contacts = ["<%s>" % contact_uri(i)] if with_contact else []
    return client.register(user=user, contacts=contacts, expires=EXPIRES if with_contact else None)


def check_answer(resp, i, phase):
    """The answer to the REGISTER or query of AOR i: 200 listing exactly its one
    contact with a plausible expires."""
    if resp.status != 200:
        raise Failure("%s of AOR %d: %d %s\n%s" % (phase, i, resp.status, resp.reason, resp.dump()))
    contacts = resp.contacts()
    if len(contacts) != 1 or contacts[0].uri != contact_uri(i):
        raise Failure("%s of AOR %d: expected exactly <%s>, got %r\n%s"
                      % (phase, i, contact_uri(i), [c.raw for c in contacts], resp.dump()))
    e = contacts[0].expires
    if e is None or not EXPIRES - 90 <= e <= EXPIRES:
        raise Failure("%s of AOR %d: implausible expires %r\n%s" % (phase, i, e, resp.dump()))


def run_udp(clients, requests, phase):
    """requests: list of (i, client index, Request). Sends them with at most
    WINDOW outstanding, retransmits like Timer E (0.5 s doubling to 4 s), and
    checks every answer. Returns the number of datagrams sent."""
    sel = selectors.DefaultSelector()
    for k, c in enumerate(clients):
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, k)
    pending = {}   # branch -> [i, client, data, first_sent, next_send, interval]
    todo = list(reversed(requests))
    sent = 0
    retransmits = 0
    done = 0
    try:
        while todo or pending:
            now = time.monotonic()
            while todo and len(pending) < WINDOW:
                i, k, req = todo.pop()
                data = req.to_bytes()
                clients[k].sock.sendto(data, clients[k].server)
                sent += 1
                pending[req.branch] = [i, k, data, now, now + 0.5, 0.5]
            # Retransmissions, oldest deadlines first; at most a few hundred per pass.
            for branch, p in list(pending.items()):
                if now >= p[4]:
                    if now - p[3] > GIVE_UP:
                        raise Failure("%s of AOR %d: no answer within %.0f s (%d retransmissions "
                                      "in total so far)" % (phase, p[0], GIVE_UP, retransmits))
                    try:
                        clients[p[1]].sock.sendto(p[2], clients[p[1]].server)
                    except BlockingIOError:
                        pass
                    sent += 1
                    retransmits += 1
                    p[5] = min(p[5] * 2, 4.0)
                    p[4] = now + p[5]
            for key, _ in sel.select(timeout=0.05):
                sock = key.fileobj
                while True:
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        break
                    m = VIA_BRANCH.search(data)
                    if not m:
                        raise Failure("%s: answer without a Via branch: %r" % (phase, data[:300]))
                    p = pending.pop(m.group(1).decode(), None)
                    if p is None:
                        continue  # answer to a retransmission already answered
                    resp = h.Response(data)
                    check_answer(resp, p[0], phase)
                    done += 1
    finally:
        sel.close()
        for c in clients:
            c.sock.setblocking(True)
    if done != len(requests):
        raise Failure("%s: %d answers for %d requests" % (phase, done, len(requests)))
    print("%s: %d requests, %d datagrams sent (%d retransmissions)"
          % (phase, len(requests), sent, retransmits), flush=True)
    return sent


def run_tcp(conns, requests, phase):
    """requests: list of (i, connection index, Request), pipelined with at most
    TCP_WINDOW outstanding per connection; answers matched by Via branch."""
    per_conn = [[] for _ in conns]
    for i, k, req in requests:
        per_conn[k].append((i, req))
    sel = selectors.DefaultSelector()
    state = []
    for k, c in enumerate(conns):
        sel.register(c.sock, selectors.EVENT_READ, k)
        state.append({"next": 0, "outstanding": {}})
    deadline = time.monotonic() + 30
    answered = 0
    try:
        while answered < len(requests):
            if time.monotonic() > deadline:
                raise Failure("%s: only %d of %d TCP requests answered in 30 s"
                              % (phase, answered, len(requests)))
            for k, c in enumerate(conns):
                st = state[k]
                batch = []
                while st["next"] < len(per_conn[k]) and len(st["outstanding"]) < TCP_WINDOW:
                    i, req = per_conn[k][st["next"]]
                    st["next"] += 1
                    st["outstanding"][req.branch] = i
                    batch.append(req.to_bytes())
                if batch:
                    c.send(b"".join(batch))
            for key, _ in sel.select(timeout=0.1):
                k = key.data
                c = conns[k]
                # Read what is there, then frame every complete message.
                while True:
                    data = c.reader.read_message(0)
                    if data is None:
                        break
                    resp = h.Response(data)
                    # Matched by branch: answers from different shards may overtake.
                    i = state[k]["outstanding"].pop(resp.branch, None)
                    if i is None:
                        raise Failure("%s: unexpected message on TCP connection %d:\n%s"
                                      % (phase, k, resp.dump()))
                    check_answer(resp, i, phase)
                    answered += 1
    finally:
        sel.close()
    print("%s: %d requests over %d TCP connections" % (phase, len(requests), len(conns)), flush=True)


def main():
    def extra(parser):
        parser.add_argument("--aors", type=int, default=10000)
        parser.add_argument("--tcp-aors", type=int, default=300)
        parser.add_argument("--daemon-flags", default="",
                            help="extra locusd flags, comma-separated "
                                 "(e.g. --udp_receive=plain,--wakeup=eventfd)")

    args, _ = h.parse_args(extra=extra)

    def on_alarm(signum, frame):
        raise Failure("test exceeded %d s" % TOTAL_BOUND)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TOTAL_BOUND)
    start = time.monotonic()
    run = secrets.token_hex(3)
    extra_flags = [f for f in args.daemon_flags.split(",") if f]
    d = h.Locusd(["--shards=2", "--max_contacts=16", "--default_expires=3600",
                  "--max_expires=7200", "--min_expires=60"] + extra_flags)
    try:
        with d:
            clients = [h.UdpClient(d.udp_addr) for _ in range(SOCKETS)]
            try:
                n = args.aors
                users = ["ms%d-%s" % (i, run) for i in range(n)]
                regs = [(i, i % SOCKETS, build(clients[i % SOCKETS], users[i], i, True))
                        for i in range(n)]
                sent = run_udp(clients, regs, "register")
                queries = [(i, (i + 7) % SOCKETS, build(clients[(i + 7) % SOCKETS], users[i], i, False))
                           for i in range(n)]
                sent += run_udp(clients, queries, "query")
            finally:
                for c in clients:
                    c.close()
            conns = [h.TcpClient(d.tcp_addr) for _ in range(TCP_CONNECTIONS)]
            try:
                m = args.tcp_aors
                base = n
                tusers = ["mt%d-%s" % (j, run) for j in range(m)]
                regs = [(base + j, j % TCP_CONNECTIONS,
                         build(conns[j % TCP_CONNECTIONS], tusers[j], base + j, True))
                        for j in range(m)]
                run_tcp(conns, regs, "tcp register")
                queries = [(base + j, (j + 1) % TCP_CONNECTIONS,
                            build(conns[(j + 1) % TCP_CONNECTIONS], tusers[j], base + j, False))
                           for j in range(m)]
                run_tcp(conns, queries, "tcp query")
            finally:
                for c in conns:
                    c.close()
            d.stop()
        stats = d.shard_stats()
        print("shard exit lines: %r" % stats, flush=True)
        if sorted(stats) != [0, 1]:
            raise Failure("expected exit lines for shards 0 and 1, got %r\n%s"
                          % (stats, d._describe()))
        for shard, (received, handed_off, answered) in sorted(stats.items()):
            if received == 0:
                raise Failure("shard %d received no requests: %r" % (shard, stats))
        if not any(s[1] > 0 for s in stats.values()):
            raise Failure("no request was handed off between shards: %r" % (stats,))
        unique = 2 * args.aors + 2 * args.tcp_aors
        total_received = sum(s[0] for s in stats.values())
        total_answered = sum(s[2] for s in stats.values())
        if total_received < unique:
            raise Failure("shards received %d requests in total, fewer than the %d sent"
                          % (total_received, unique))
        if total_answered < unique:
            raise Failure("shards answered %d requests in total, fewer than the %d answered"
                          % (total_answered, unique))
        print("PASS in %.1f s" % (time.monotonic() - start))
        return 0
    except (Failure, h.HarnessError, AssertionError) as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        return 1
    finally:
        signal.alarm(0)
        d.kill()
        d.cleanup()


if __name__ == "__main__":
    sys.exit(main())
