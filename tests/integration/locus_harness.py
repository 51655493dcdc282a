"""Shared harness of locus's integration tests: runs a real locusd on loopback
ports, builds SIP requests, sends them over UDP or TCP and parses the answers.

Everything here talks to 127.0.0.1 or ::1 only, and every wait is bounded:
a daemon that does not become ready, does not answer or does not stop fails
the test instead of hanging it. A daemon is killed with its test process
(PR_SET_PDEATHSIG), so a test killed by CTest's timeout leaves nothing behind.
"""

import argparse
import atexit
import ctypes
import hashlib
import http.client
import json
import os
import random
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

LOOPBACK4 = "127.0.0.1"
LOOPBACK6 = "::1"

# Set by parse_args() from --locusd (or the LOCUSD environment variable).
LOCUSD = os.environ.get("LOCUSD", "")
SIPP = os.environ.get("SIPP", "")
LOCUSCTL = os.environ.get("LOCUSCTL", "")

# Exit code of a test program that cannot run here (CTest SKIP_RETURN_CODE).
SKIP_EXIT_CODE = 77

# Per-test bound (seconds) armed by LocusTestCase with SIGALRM.
TEST_TIMEOUT = 40


class HarnessError(AssertionError):
    """A failure of the daemon as seen by the harness (start, readiness, stop)."""


# ---------------------------------------------------------------------------
# Ports and addresses


def ipv6_available():
    """True when a UDP and a TCP socket can bind ::1."""
    if not socket.has_ipv6:
        return False
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET6, kind)
            try:
                s.bind((LOOPBACK6, 0))
            finally:
                s.close()
        return True
    except OSError:
        return False


def free_port(host=LOOPBACK4):
    """A port free for both UDP and TCP on host (picked by the kernel for UDP,
    then checked for TCP). The sockets are closed again: a small race with other
    programs remains, which start-up failures make visible."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        u = socket.socket(family, socket.SOCK_DGRAM)
        t = socket.socket(family, socket.SOCK_STREAM)
        try:
            u.bind((host, 0))
            port = u.getsockname()[1]
            try:
                t.bind((host, port))
            except OSError:
                continue
            return port
        finally:
            u.close()
            t.close()
    raise HarnessError("no port free for both UDP and TCP on %s" % host)


def free_port_dual():
    """A port free for UDP and TCP on both 127.0.0.1 and ::1."""
    for _ in range(100):
        port = free_port(LOOPBACK4)
        ok = True
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET6, kind)
            try:
                s.bind((LOOPBACK6, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise HarnessError("no port free on both 127.0.0.1 and ::1")


def hostport(host, port):
    """host:port with IPv6 references bracketed."""
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def uri_host(host):
    return "[%s]" % host if ":" in host else host


# ---------------------------------------------------------------------------
# The daemon

_PR_SET_PDEATHSIG = 1
_live_daemons = []
_all_daemons = []


def _die_with_parent():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


SHARD_LINE = re.compile(r"shard (\d+): received=(\d+) handed_off=(\d+) answered=(\d+)")


class Locusd:
    """One locusd process. Use as a context manager:

        with Locusd(["--shards=1"]) as d:
            client = UdpClient(d.udp_addr)
            ...

    The constructor picks a free port (or takes port=) and adds --udp/--tcp for
    host:port (an empty list when udp/tcp is False) unless add_listen_flags is
    False or flags already name them; udp/tcp also say where readiness is checked. On a clean
    exit of the with-block the daemon is stopped with SIGTERM and must exit 0;
    when the block raised, the daemon is killed and the error is kept.
    """

    def __init__(self, flags=(), binary=None, host=LOOPBACK4, udp=True, tcp=True,
                 port=None, cwd=None, ready_timeout=10.0, add_listen_flags=True, admin=False,
                 env=None):
        self.binary = binary or LOCUSD
        # Variables added to the daemon's environment (e.g. NOTIFY_SOCKET).
        self.env = dict(env or {})
        if not self.binary:
            raise HarnessError("no locusd binary: pass --locusd PATH or set LOCUSD")
        self.host = host
        self.port = port or free_port(host)
        self.flags = list(flags)
        names = {f.split("=", 1)[0] for f in self.flags}
        if add_listen_flags and "--udp" not in names:
            self.flags.append("--udp=" + (hostport(host, self.port) if udp else ""))
        if add_listen_flags and "--tcp" not in names:
            self.flags.append("--tcp=" + (hostport(host, self.port) if tcp else ""))
        # Whether host:port answers on UDP / TCP (readiness is checked there).
        self.has_udp = udp
        self.has_tcp = tcp
        self.ready_timeout = ready_timeout
        self._own_cwd = cwd is None
        self.cwd = cwd or tempfile.mkdtemp(prefix="locusd-test-")
        # admin=True: the admin socket in the working directory (a short path:
        # sun_path holds 107 bytes), unless flags name one.
        if admin and "--admin_socket" not in names:
            self.flags.append("--admin_socket=" + os.path.join(self.cwd, "admin.sock"))
        self.stderr_path = os.path.join(self.cwd, "locusd.stderr")
        self.proc = None
        self.returncode = None
        self._stderr_file = None
        _all_daemons.append(self)

    # -- addresses
    @property
    def udp_addr(self):
        return (self.host, self.port)

    @property
    def tcp_addr(self):
        return (self.host, self.port)

    @property
    def admin_socket(self):
        """The admin socket's path: --admin_socket, else <data_dir>/admin.sock
        (data_dir var/locus by default), relative paths taken from cwd."""
        path = None
        data_dir = "var/locus"
        for f in self.flags:
            name, _, value = f.partition("=")
            if name == "--admin_socket" and value:
                path = value
            elif name == "--data_dir" and value:
                data_dir = value
        if path is None:
            path = os.path.join(data_dir, "admin.sock")
        return path if os.path.isabs(path) else os.path.join(self.cwd, path)

    def admin(self, timeout=5.0):
        """A new AdminClient connected to this daemon's admin socket."""
        return AdminClient(self.admin_socket, timeout=timeout)

    # -- lifecycle
    def start(self):
        self._stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary] + self.flags, cwd=self.cwd, stdin=subprocess.DEVNULL,
            stdout=self._stderr_file, stderr=self._stderr_file,
            env=dict(os.environ, **self.env) if self.env else None,
            preexec_fn=_die_with_parent)
        _live_daemons.append(self)
        return self

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _describe(self):
        text = self.stderr_text()
        lines = text.splitlines()
        tail = "\n".join(lines[-40:])
        return "locusd %s\n--- stderr (last %d lines) ---\n%s" % (
            " ".join(self.flags), min(40, len(lines)), tail)

    def wait_ready(self):
        """Waits for 'listening on' on stderr, then for an answer to OPTIONS
        (UDP when the daemon listens on UDP, else a TCP connection)."""
        deadline = time.monotonic() + self.ready_timeout
        while "listening on" not in self.stderr_text():
            if self.proc.poll() is not None:
                raise HarnessError("locusd exited with %s before it was ready\n%s"
                                   % (self.proc.returncode, self._describe()))
            if time.monotonic() > deadline:
                raise HarnessError("locusd printed no 'listening on' within %.0f s\n%s"
                                   % (self.ready_timeout, self._describe()))
            time.sleep(0.02)
        if self.has_udp:
            client = UdpClient(self.udp_addr)
            try:
                while True:
                    if self.proc.poll() is not None:
                        raise HarnessError("locusd exited with %s while starting\n%s"
                                           % (self.proc.returncode, self._describe()))
                    req = client.options()
                    client.send(req)
                    resp = client.wait_for(req, timeout=0.2)
                    if resp is not None:  # any answer shows the pipeline is up
                        return
                    if time.monotonic() > deadline:
                        raise HarnessError("no answer to OPTIONS within %.0f s\n%s"
                                           % (self.ready_timeout, self._describe()))
            finally:
                client.close()
        elif self.has_tcp:
            while True:
                try:
                    socket.create_connection(self.tcp_addr, timeout=0.5).close()
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise HarnessError("no TCP connection within %.0f s\n%s"
                                           % (self.ready_timeout, self._describe()))
                    time.sleep(0.05)

    def stop(self, timeout=5.0, sig=signal.SIGTERM):
        """Stops the daemon with sig; it must exit 0 within timeout seconds.
        Returns its stderr. SIGKILL only as a last resort, and then fails."""
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self._finish()
                raise HarnessError("locusd did not exit within %.1f s of %s; killed\n%s"
                                   % (timeout, signal.Signals(sig).name, self._describe()))
        self._finish()
        if self.returncode != 0:
            raise HarnessError("locusd exited with %s after %s (expected 0)\n%s"
                               % (self.returncode, signal.Signals(sig).name, self._describe()))
        return self.stderr_text()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._finish()

    def _finish(self):
        if self.proc is not None:
            self.returncode = self.proc.returncode
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        if self in _live_daemons:
            _live_daemons.remove(self)

    def cleanup(self):
        if self._own_cwd and os.environ.get("LOCUS_KEEP_TMP") != "1":
            shutil.rmtree(self.cwd, ignore_errors=True)

    def shard_stats(self):
        """{shard: (received, handed_off, answered)} from the exit lines."""
        stats = {}
        for m in SHARD_LINE.finditer(self.stderr_text()):
            stats[int(m.group(1))] = tuple(int(m.group(i)) for i in (2, 3, 4))
        return stats

    def __enter__(self):
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            if self.proc is not None and self.proc.poll() is not None and self.proc.returncode != 0:
                sys.stderr.write("locusd had exited with %s:\n%s\n"
                                 % (self.proc.returncode, self._describe()))
            self.kill()
            return False
        self.stop()
        return False


def run_locusd_expecting_exit(flags, timeout=5.0, cwd=None, binary=None):
    """Runs locusd with flags that must make it exit by itself (bad config).
    Returns (exit code, stderr). A daemon still running after timeout is killed
    and reported as (None, stderr)."""
    workdir = cwd or tempfile.mkdtemp(prefix="locusd-cfg-")
    try:
        proc = subprocess.Popen([binary or LOCUSD] + list(flags), cwd=workdir,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        try:
            out, err = proc.communicate(timeout=timeout)
            return proc.returncode, (err + out).decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=5)
            return None, (err + out).decode("utf-8", "replace")
    finally:
        if cwd is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _kill_leftovers():
    """At exit: no daemon outlives its test program, no working directory stays
    behind (unless LOCUS_KEEP_TMP=1)."""
    for d in list(_live_daemons):
        d.kill()
    for d in _all_daemons:
        d.cleanup()


atexit.register(_kill_leftovers)


# ---------------------------------------------------------------------------
# SIP messages

def new_branch():
    return "z9hG4bK" + secrets.token_hex(8)


def new_tag():
    return secrets.token_hex(6)


def new_call_id():
    return secrets.token_hex(10) + "@locus.test"


_user_counter = [0]


def unique_user(prefix="u"):
    """A user part no other test in this process uses."""
    _user_counter[0] += 1
    return "%s%d-%s" % (prefix, _user_counter[0], secrets.token_hex(3))


class Request:
    """A request as text: start line, header lines in order, body. Content-Length
    is appended unless a header of that name is given or content_length=False."""

    def __init__(self, method, ruri, headers, body=b"", content_length=True):
        self.method = method
        self.ruri = ruri
        self.headers = list(headers)
        self.body = body if isinstance(body, bytes) else body.encode()
        self.content_length = content_length

    def header(self, name):
        want = _canon_name(name)
        for n, v in self.headers:
            if _canon_name(n) == want:
                return v
        return None

    @property
    def branch(self):
        via = self.header("Via")
        m = re.search(r";\s*branch=([^;,\s]+)", via or "")
        return m.group(1) if m else None

    @property
    def call_id(self):
        return self.header("Call-ID")

    @property
    def cseq_method(self):
        parts = (self.header("CSeq") or "").split()
        return parts[1] if len(parts) == 2 else None

    def to_bytes(self):
        lines = ["%s %s SIP/2.0" % (self.method, self.ruri)]
        lines += ["%s: %s" % (n, v) for n, v in self.headers]
        if self.content_length and not any(n.lower() in ("content-length", "l")
                                           for n, _ in self.headers):
            lines.append("Content-Length: %d" % len(self.body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    def __bytes__(self):
        return self.to_bytes()


_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
            "l": "content-length", "k": "supported", "e": "content-encoding",
            "c": "content-type", "s": "subject", "o": "event", "u": "allow-events"}


def _canon_name(name):
    name = name.strip().lower()
    return _COMPACT.get(name, name)


def split_list(value):
    """Splits a header value at commas outside quotes and <...>."""
    items, cur, quote, angle, i = [], [], False, False, 0
    while i < len(value):
        ch = value[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(value):
                cur.append(value[i + 1])
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
            cur.append(ch)
        elif ch == "<":
            angle = True
            cur.append(ch)
        elif ch == ">":
            angle = False
            cur.append(ch)
        elif ch == "," and not angle:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        items.append("".join(cur).strip())
    return items


def split_params(text):
    """';a=1;b;c="x;y"' -> {'a': '1', 'b': None, 'c': '"x;y"'} (names lower case)."""
    params, cur, quote = [], [], False
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == '"':
                quote = False
        elif ch == '"':
            quote = True
            cur.append(ch)
        elif ch == ";":
            params.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    params.append("".join(cur))
    out = {}
    for p in params:
        p = p.strip()
        if not p:
            continue
        if "=" in p:
            k, v = p.split("=", 1)
            out[k.strip().lower()] = v.strip()
        else:
            out[p.lower()] = None
    return out


class Contact:
    """One element of a Contact header: its URI and header parameters."""

    def __init__(self, text):
        self.raw = text
        text = text.strip()
        if text == "*":
            self.uri, self.params = "*", {}
            return
        if "<" in text:
            lt = text.index("<")
            gt = text.index(">", lt)
            self.uri = text[lt + 1:gt]
            self.params = split_params(text[gt + 1:])
        else:  # addr-spec: header params start at the first ';'
            uri, _, rest = text.partition(";")
            self.uri = uri.strip()
            self.params = split_params(rest)

    @property
    def expires(self):
        v = self.params.get("expires")
        return int(v) if v is not None and v.isdigit() else None

    def __repr__(self):
        return "Contact(%r)" % self.raw


class Response:
    """A parsed SIP response. headers: list of (name as sent, value)."""

    def __init__(self, raw):
        self.raw = raw
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("response without an empty line: %r" % raw[:200])
        self.body = body
        text = head.decode("utf-8", "replace")
        lines = text.split("\r\n")
        m = re.match(r"SIP/2\.0 (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise ValueError("not a SIP response: %r" % lines[0])
        self.status = int(m.group(1))
        self.reason = m.group(2)
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:  # folded line
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise ValueError("bad header line in response: %r" % line)
            self.headers.append((name.strip(), value.strip()))

    def all(self, name):
        """Every value of the header, in order (compact forms included)."""
        want = _canon_name(name)
        return [v for n, v in self.headers if _canon_name(n) == want]

    def get(self, name):
        values = self.all(name)
        return values[0] if values else None

    def count(self, name):
        return len(self.all(name))

    def contacts(self):
        out = []
        for value in self.all("Contact"):
            out += [Contact(item) for item in split_list(value)]
        return out

    def contact_lines(self):
        return self.all("Contact")

    def vias(self):
        out = []
        for value in self.all("Via"):
            out += split_list(value)
        return out

    @property
    def top_via(self):
        vias = self.vias()
        return vias[0] if vias else None

    def top_via_params(self):
        via = self.top_via or ""
        _, _, params = via.partition(";")
        return split_params(params)

    @property
    def branch(self):
        return self.top_via_params().get("branch")

    @property
    def cseq_method(self):
        cseq = self.get("CSeq") or ""
        parts = cseq.split()
        return parts[1] if len(parts) == 2 else None

    def tag(self, header="To"):
        value = self.get(header) or ""
        gt = value.rfind(">")
        return split_params(value[gt + 1:] if gt >= 0 else value.partition(";")[2]).get("tag")

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.reason)

    def dump(self):
        return self.raw.decode("utf-8", "replace")


def parse_response(data):
    try:
        return Response(data)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# Clients

class _SocketOwner:
    """Owns self.sock: close() and use as a context manager."""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class _ClientBase(_SocketOwner):
    transport = "UDP"

    def __init__(self, server):
        self.server = server
        self.server_host = server[0]
        self.family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        self.local_host = LOOPBACK6 if self.family == socket.AF_INET6 else LOOPBACK4

    # -- message builders -------------------------------------------------
    def via(self, branch=None, sent_by=None, rport=True, extra=""):
        sent_by = sent_by or hostport(self.local_host, self.local_port)
        return "SIP/2.0/%s %s%s;branch=%s%s" % (
            self.transport, sent_by, ";rport" if rport else "", branch or new_branch(), extra)

    def register(self, user=None, domain="example.com", contacts=(), expires=None,
                 call_id=None, cseq=1, branch=None, to=None, from_=None, ruri=None,
                 extra=(), omit=(), via=None, method="REGISTER", cseq_method=None,
                 max_forwards=70, body=b""):
        """A REGISTER (or another method) for sip:user@domain. contacts: Contact
        header values, one header line each. omit: header names to leave out."""
        user = user or unique_user()
        aor = "sip:%s@%s" % (user, domain)
        to = to if to is not None else "<%s>" % aor
        from_ = from_ if from_ is not None else "<%s>;tag=%s" % (aor, new_tag())
        headers = [
            ("Via", via if via is not None else self.via(branch)),
            ("Max-Forwards", str(max_forwards)),
            ("From", from_),
            ("To", to),
            ("Call-ID", call_id or new_call_id()),
            ("CSeq", "%d %s" % (cseq, cseq_method or method)),
        ]
        for c in contacts:
            headers.append(("Contact", c))
        if expires is not None:
            headers.append(("Expires", str(expires)))
        headers += list(extra)
        omit = {o.lower() for o in omit}
        headers = [(n, v) for n, v in headers if n.lower() not in omit]
        return Request(method, ruri or "sip:%s" % domain, headers, body)

    def options(self, domain=None, **kw):
        domain = domain or hostport(self.server_host, self.server[1])
        return self.register(user="ping", domain=domain, method="OPTIONS", **kw)

    def contact(self, user, port=None, params=""):
        """A Contact value pointing at a made-up UA address on loopback."""
        return "<sip:%s@%s>%s" % (user, hostport(self.local_host, port or 5060), params)


class UdpClient(_ClientBase):
    transport = "UDP"

    def __init__(self, server, bind=None):
        super().__init__(server)
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((bind or self.local_host, 0))
        self.local_port = self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, Request):
            data = data.to_bytes()
        self.sock.sendto(data, self.server)

    def recv_raw(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return None
        data, _addr = self.sock.recvfrom(65536)
        return data

    def recv(self, timeout=2.0):
        """The next datagram parsed as a response (None on timeout). A datagram
        that is not a SIP response fails the test."""
        data = self.recv_raw(timeout)
        if data is None:
            return None
        resp = parse_response(data)
        if resp is None:
            raise AssertionError("received a datagram that is not a SIP response: %r" % data[:300])
        return resp

    def wait_for(self, req, timeout=2.0, final=True):
        """The next response whose top Via branch and CSeq method match req;
        other datagrams are ignored. None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.recv_raw(left)
            if data is None:
                return None
            resp = parse_response(data)
            if resp is None or resp.branch != req.branch:
                continue
            if resp.cseq_method is not None and resp.cseq_method != req.cseq_method:
                continue
            if final and resp.status < 200:
                continue
            return resp

    def request(self, req, timeout=4.0, retransmit=True):
        """Sends req and returns its final response, retransmitting like Timer E
        (0.5 s doubling) until timeout. Fails the test when nothing comes."""
        data = req.to_bytes()
        deadline = time.monotonic() + timeout
        interval = 0.5
        self.sock.sendto(data, self.server)
        next_send = time.monotonic() + interval
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise AssertionError("no answer within %.1f s to:\n%s" % (timeout, data.decode("utf-8", "replace")))
            wait = min(deadline, next_send if retransmit else deadline) - now
            resp = self.wait_for(req, timeout=wait)
            if resp is not None:
                return resp
            if retransmit and time.monotonic() >= next_send:
                self.sock.sendto(data, self.server)
                interval = min(interval * 2, 4.0)
                next_send = time.monotonic() + interval

    def expect_silence(self, duration=0.3):
        """Fails if any datagram arrives within duration seconds."""
        data = self.recv_raw(duration)
        if data is not None:
            raise AssertionError("expected no answer, got: %r" % data[:300])

    def drain(self, duration=0.05):
        while self.recv_raw(duration) is not None:
            pass


class StreamReader:
    """Frames SIP messages out of a TCP byte stream by Content-Length."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read_message(self, timeout):
        """The next complete message, or None when none is complete within
        timeout (0: only what can be read without blocking)."""
        deadline = time.monotonic() + timeout
        polled = False
        while True:
            # Keep-alive CRLFs between messages are skipped.
            while self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buf[:end].decode("utf-8", "replace")
                m = re.search(r"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", head)
                length = int(m.group(1)) if m else 0
                total = end + 4 + length
                if len(self.buf) >= total:
                    msg, self.buf = self.buf[:total], self.buf[total:]
                    return msg
            left = deadline - time.monotonic()
            if left <= 0 and polled:
                return None
            polled = True
            r, _, _ = select.select([self.sock], [], [], max(0.0, left))
            if not r:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by locusd (buffered: %r)" % self.buf[:200])
            self.buf += chunk


class TcpClient(_ClientBase):
    transport = "TCP"

    def __init__(self, server, timeout=3.0):
        super().__init__(server)
        self.sock = socket.create_connection(server, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.reader = StreamReader(self.sock)

    def send(self, data):
        if isinstance(data, Request):
            data = data.to_bytes()
        self.sock.sendall(data)

    def recv(self, timeout=3.0):
        data = self.reader.read_message(timeout)
        if data is None:
            return None
        resp = parse_response(data)
        if resp is None:
            raise AssertionError("received a message that is not a SIP response: %r" % data[:300])
        return resp

    def request(self, req, timeout=4.0):
        self.send(req)
        deadline = time.monotonic() + timeout
        while True:
            resp = self.recv(max(0.0, deadline - time.monotonic()))
            if resp is None:
                raise AssertionError("no answer over TCP within %.1f s to:\n%s"
                                     % (timeout, req.to_bytes().decode("utf-8", "replace")))
            if resp.status >= 200 and resp.branch == req.branch:
                return resp


# ---------------------------------------------------------------------------
# Bounded UDP exchanges and background load

def udp_exchange(requests, window=32, give_up=10.0, with_times=False):
    """Sends requests (a list of (client, Request)) with at most window
    outstanding, each exactly once (no retransmission, so every request
    reaches locusd once and counters can be checked exactly), and returns their
    final responses in order (with_times: (response, time.monotonic() when it
    arrived) pairs). Fails when one is not answered within give_up seconds of
    being sent."""
    by_sock = {}
    for c, _ in requests:
        by_sock[c.sock.fileno()] = c
    answers = [None] * len(requests)
    pending = {}  # branch -> (index, sent at)
    next_index = 0
    try:
        for c in by_sock.values():
            c.sock.setblocking(False)
        while next_index < len(requests) or pending:
            now = time.monotonic()
            while next_index < len(requests) and len(pending) < window:
                c, req = requests[next_index]
                c.sock.sendto(req.to_bytes(), c.server)
                pending[req.branch] = (next_index, now)
                next_index += 1
            oldest = min(t for _, t in pending.values()) if pending else now
            if now - oldest > give_up:
                i = min(i for i, _ in pending.values())
                raise AssertionError("no answer within %.0f s to request %d of %d (sent once):\n%s"
                                     % (give_up, i, len(requests),
                                        requests[i][1].to_bytes().decode("utf-8", "replace")))
            r, _, _ = select.select(list(by_sock), [], [], 0.1)
            for fd in r:
                c = by_sock[fd]
                while True:
                    try:
                        data = c.sock.recv(65536)
                    except BlockingIOError:
                        break
                    resp = parse_response(data)
                    if resp is None:
                        raise AssertionError("not a SIP response: %r" % data[:300])
                    if resp.status < 200:
                        continue
                    entry = pending.pop(resp.branch, None)
                    if entry is None:
                        raise AssertionError("an answer to no outstanding request:\n%s" % resp.dump())
                    answers[entry[0]] = (resp, time.monotonic()) if with_times else resp
    finally:
        for c in by_sock.values():
            c.sock.setblocking(True)
    return answers


class BackgroundLoad:
    """A bounded background loop of SIP requests over UDP on its own thread and
    socket; subclasses give _run(). Runs until stop(), at most max_seconds.
    ok counts successes (wait_for waits for more); failures lists the rest.
    Use as a context manager."""

    def __init__(self, server, max_seconds, timeout, pause, join_timeout):
        self.server = server
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.pause = pause
        self.ok = 0
        self.failures = []
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._progress = threading.Condition()

    def _run(self):
        raise NotImplementedError

    def _succeeded(self):
        with self._progress:
            self.ok += 1
            self._progress.notify_all()

    def wait_for(self, count, timeout=5.0):
        """Waits until count more successes than now; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._progress:
            target = self.ok + count
            while self.ok < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._progress.wait(left)
        return True

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(self._join_timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class SipLoad(BackgroundLoad):
    """A bounded background REGISTER loop over UDP (its own thread and socket):
    one request at a time, each retransmitted like Timer E and given up after
    `timeout` s. Runs until stop(), at most `max_requests` requests and
    `max_seconds`. Every AOR is new (domain `domain`), so the load adds one
    binding per request. Use as a context manager; then check ok/failures."""

    def __init__(self, server, domain="load.test", max_requests=3000, max_seconds=30.0,
                 timeout=4.0, pause=0.005):
        super().__init__(server, max_seconds, timeout, pause, join_timeout=timeout + 2)
        self.domain = domain
        self.max_requests = max_requests
        self.users = []

    def _run(self):
        client = UdpClient(self.server)
        deadline = time.monotonic() + self.max_seconds
        try:
            for _ in range(self.max_requests):
                if self._stop.is_set() or time.monotonic() > deadline:
                    break
                user = unique_user("load")
                req = client.register(user=user, domain=self.domain,
                                      contacts=[client.contact(user)], expires=3600)
                try:
                    resp = client.request(req, timeout=self.timeout)
                    if resp.status == 200:
                        self.users.append(user)
                        self._succeeded()
                    else:
                        self.failures.append("%d %s" % (resp.status, resp.reason))
                except AssertionError as e:
                    self.failures.append(str(e).splitlines()[0])
                if self.pause:
                    self._stop.wait(self.pause)
        finally:
            client.close()


# ---------------------------------------------------------------------------
# Digest authentication (RFC 3261 section 22.4, RFC 2617 qop=auth, RFC 7616):
# an independent client, hashlib only.

DIGEST_HASHES = {"MD5": hashlib.md5, "MD5-sess": hashlib.md5,
                 "SHA-256": hashlib.sha256, "SHA-256-sess": hashlib.sha256}


def digest_hash(algorithm, *parts):
    """H(part1:part2:...) in lower-case hex, for the algorithm's hash."""
    return DIGEST_HASHES[algorithm](":".join(parts).encode("utf-8")).hexdigest()


def digest_ha1(algorithm, username, realm, password):
    """H(username:realm:password): the HA1 a users file holds (the -sess forms
    derive theirs per nonce from it, see digest_response)."""
    return digest_hash(algorithm, username, realm, password)


def digest_response(algorithm, ha1, nonce, nc, cnonce, qop, method, uri):
    """The request-digest of RFC 2617 section 3.2.2.1 / RFC 7616 section 3.4.1
    for qop=auth (or no qop when qop is empty)."""
    if algorithm.endswith("-sess"):
        ha1 = digest_hash(algorithm, ha1, nonce, cnonce)
    ha2 = digest_hash(algorithm, method, uri)
    if not qop:
        return digest_hash(algorithm, ha1, nonce, ha2)
    return digest_hash(algorithm, ha1, nonce, nc, cnonce, qop, ha2)


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


class DigestChallenge:
    """One WWW-Authenticate value: scheme and parameters (names lower case,
    values unquoted; quoted names which parameters were quoted)."""

    def __init__(self, value):
        self.raw = value
        scheme, _, rest = value.strip().partition(" ")
        self.scheme = scheme
        self.params = {}
        self.quoted = set()
        for item in split_list(rest):
            name, eq, v = item.partition("=")
            if not eq:
                raise AssertionError("challenge parameter without '=': %r in %r" % (item, value))
            name = name.strip().lower()
            if name in self.params:
                raise AssertionError("challenge parameter %r twice in %r" % (name, value))
            if v.strip().startswith('"'):
                self.quoted.add(name)
            self.params[name] = _unquote(v)

    realm = property(lambda self: self.params.get("realm"))
    nonce = property(lambda self: self.params.get("nonce"))
    algorithm = property(lambda self: self.params.get("algorithm", "MD5"))
    qop = property(lambda self: self.params.get("qop"))

    @property
    def stale(self):
        return (self.params.get("stale") or "").lower() == "true"

    def __repr__(self):
        return "DigestChallenge(%r)" % self.raw


def digest_challenges(resp):
    """The WWW-Authenticate challenges of a response, in order."""
    return [DigestChallenge(v) for v in resp.all("WWW-Authenticate")]


def digest_challenge(resp, algorithm):
    """The response's challenge for algorithm; fails when there is none."""
    for c in digest_challenges(resp):
        if c.algorithm.lower() == algorithm.lower():
            return c
    raise AssertionError("no %s challenge in:\n%s" % (algorithm, resp.dump()))


def digest_authorization(challenge, username, password=None, ha1=None, method="REGISTER",
                         uri="sip:example.com", nc=1, cnonce=None, qop="auth", realm=None,
                         nonce=None, algorithm=None, send_algorithm=True, response=None,
                         omit=(), extra=()):
    """An Authorization header value answering challenge (a DigestChallenge,
    or None with realm/nonce/algorithm given). ha1 (hex) or password gives the
    secret; nc is an int (written as 8 hex digits) or a string sent as is.
    omit: parameter names left out; extra: (name, text) pairs appended as
    written; response: a digest to send instead of the right one."""
    realm = realm if realm is not None else challenge.realm
    nonce = nonce if nonce is not None else challenge.nonce
    algorithm = algorithm or (challenge.algorithm if challenge is not None else "MD5")
    nc_text = "%08x" % nc if isinstance(nc, int) else nc
    cnonce = cnonce if cnonce is not None else secrets.token_hex(8)
    if ha1 is None:
        ha1 = digest_ha1(algorithm, username, realm, password)
    if response is None:
        response = digest_response(algorithm, ha1, nonce, nc_text, cnonce, qop, method, uri)
    params = [("username", '"%s"' % username), ("realm", '"%s"' % realm),
              ("nonce", '"%s"' % nonce), ("uri", '"%s"' % uri), ("response", '"%s"' % response)]
    if send_algorithm:
        params.append(("algorithm", algorithm))
    params += [("qop", qop), ("nc", nc_text), ("cnonce", '"%s"' % cnonce)]
    omit = {o.lower() for o in omit}
    params = [(n, v) for n, v in params if n not in omit] + list(extra)
    return "Digest " + ", ".join("%s=%s" % (n, v) for n, v in params)


class AuthSipLoad(BackgroundLoad):
    """A bounded background loop of authenticated REGISTERs over UDP (its own
    thread and socket): each round a REGISTER without credentials must get a
    401, its answer (algorithms taken in turn from `algorithms`) a 200. Runs
    until stop(), at most max_rounds rounds and max_seconds. ok counts rounds
    that got their 200; failures lists every other outcome."""

    def __init__(self, server, username, password, realm="example.com", domain="example.com",
                 algorithms=("SHA-256", "MD5"), max_rounds=2000, max_seconds=30.0,
                 timeout=4.0, pause=0.002):
        super().__init__(server, max_seconds, timeout, pause, join_timeout=2 * timeout + 2)
        self.username = username
        self.password = password
        self.realm = realm
        self.domain = domain
        self.algorithms = list(algorithms)
        self.max_rounds = max_rounds

    def _run(self):
        client = UdpClient(self.server)
        deadline = time.monotonic() + self.max_seconds
        call_id = new_call_id()
        cseq = 0
        contact = client.contact(self.username)
        try:
            for i in range(self.max_rounds):
                if self._stop.is_set() or time.monotonic() > deadline:
                    break
                algorithm = self.algorithms[i % len(self.algorithms)]
                try:
                    cseq += 1
                    first = client.request(client.register(
                        user=self.username, domain=self.domain, contacts=[contact],
                        expires=3600, call_id=call_id, cseq=cseq), timeout=self.timeout)
                    if first.status != 401:
                        self.failures.append("round %d: %d %s without credentials (expected 401)"
                                             % (i, first.status, first.reason))
                        continue
                    auth = digest_authorization(digest_challenge(first, algorithm), self.username,
                                                self.password, uri="sip:" + self.domain)
                    cseq += 1
                    second = client.request(client.register(
                        user=self.username, domain=self.domain, contacts=[contact],
                        expires=3600, call_id=call_id, cseq=cseq,
                        extra=[("Authorization", auth)]), timeout=self.timeout)
                    if second.status == 200:
                        self._succeeded()
                    else:
                        self.failures.append("round %d (%s): %d %s" % (i, algorithm, second.status,
                                                                        second.reason))
                except AssertionError as e:
                    self.failures.append("round %d: %s" % (i, str(e).splitlines()[0]))
                if self.pause:
                    self._stop.wait(self.pause)
        finally:
            client.close()


# ---------------------------------------------------------------------------
# The admin socket and locusctl (docs/admin.md)

class AdminClosed(Exception):
    """locusd closed the admin connection."""


class AdminClient(_SocketOwner):
    """One connection to locusd's admin socket: newline-delimited JSON, one
    request per line. Every read is bounded by a timeout."""

    def __init__(self, path, timeout=5.0):
        self.path = path
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.eof = False

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, request):
        """request: a dict (sent as JSON), str or bytes (sent as given); a
        newline is appended."""
        if isinstance(request, dict):
            request = json.dumps(request)
        if isinstance(request, str):
            request = request.encode()
        self.send_raw(request + b"\n")

    def read_line(self, timeout=None):
        """The next answer line (bytes, without the newline). Raises
        AdminClosed when locusd closed the connection, AssertionError when
        nothing complete arrives within timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                return line
            if self.eof:
                raise AdminClosed("admin connection closed (unterminated: %r)" % self.buf[:200])
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no complete answer line on the admin socket within %.1f s "
                                     "(buffered %d bytes: %r)" % (
                                         self.timeout if timeout is None else timeout,
                                         len(self.buf), self.buf[:200]))
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
            self.buf += chunk

    def read_json(self, timeout=None):
        line = self.read_line(timeout)
        try:
            value = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError("answer is not JSON (%s): %r" % (e, line[:300]))
        if not isinstance(value, dict):
            raise AssertionError("answer is not a JSON object: %r" % line[:300])
        return value

    def request(self, request, timeout=None):
        """Sends one request and returns its answer (a dict). A connection
        that locusd closed before the request went out (e.g. refused as one
        client too many, with an error line) raises AdminClosed on the read,
        or gives the line it sent first."""
        try:
            self.send(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return self.read_json(timeout)

    def ok(self, request, timeout=None):
        """request() that must be answered with "ok": true."""
        answer = self.request(request, timeout)
        if answer.get("ok") is not True:
            raise AssertionError("admin request %r failed: %r" % (request, answer))
        return answer

    def stats(self):
        return self.ok({"cmd": "stats"})

    def dump(self, timeout=20.0, **filters):
        """(bindings, final object) of a dump; filters: domain=, prefix=."""
        req = {"cmd": "dump"}
        req.update(filters)
        self.send(req)
        deadline = time.monotonic() + timeout
        bindings = []
        while True:
            obj = self.read_json(max(0.1, deadline - time.monotonic()))
            if "ok" in obj:
                return bindings, obj
            bindings.append(obj)

    def wait_closed(self, timeout=2.0):
        """True when locusd closes the connection within timeout (what it
        sends first is discarded)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                try:
                    chunk = self.sock.recv(1 << 16)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    self.eof = True
                self.buf += chunk
        return True


def wait_stats(admin, predicate, timeout=3.0, interval=0.05):
    """Polls stats until predicate(stats) is true; returns the last stats
    either way (the caller's assertions then say what differs). Gauges are
    published once per shard loop turn, UDP sends counted on completion."""
    deadline = time.monotonic() + timeout
    while True:
        stats = admin.stats()
        if predicate(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(interval)


def run_locusctl(args, socket_path=None, timeout=10.0, cwd=None, binary=None):
    """Runs locusctl [--socket=socket_path] args...; returns a CompletedProcess
    (stdout and stderr as text). A locusctl still running after timeout is
    killed and fails the test."""
    argv = [binary or LOCUSCTL]
    if socket_path is not None:
        argv.append("--socket=" + socket_path)
    argv += list(args)
    try:
        return subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, text=True, errors="replace",
                              preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("locusctl %s did not exit within %.0f s (stdout so far: %r)"
                             % (" ".join(args), timeout, e.stdout))


# ---------------------------------------------------------------------------
# HTTP endpoint and Prometheus text

def http_request(addr, path, method="GET", headers=None, body=None, timeout=5.0):
    """One HTTP/1.1 request on a connection of its own to addr (host, port);
    returns (status, {header lower case: value}, body bytes)."""
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def http_json(addr, path, timeout=5.0):
    """GET path; returns (status, the JSON body)."""
    status, headers, body = http_request(addr, path, timeout=timeout)
    if not headers.get("content-type", "").startswith("application/json"):
        raise AssertionError("%s: content type %r, body %r" % (path, headers.get("content-type"), body))
    return status, json.loads(body)


PROM_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                         r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*,?)?\})? '
                         r'([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|[-+]?Inf))( -?[0-9]+)?$')
PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def quiet_stats(admin, timeout=3.0):
    """Stats once nothing moves any more: every request answered (the harness's
    readiness OPTIONS included) and two reads 150 ms apart equal."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        stats = admin.stats()
        key = json.dumps([stats["totals"], stats["shards"]], sort_keys=True)
        if key == last or time.monotonic() > deadline:
            return stats
        last = key
        time.sleep(0.15)


def parse_prometheus(text):
    """Prometheus text exposition (format 0.0.4) -> (types {family: type},
    samples {(name, sorted label pairs): value}). Fails on a malformed line,
    a series given twice, or a sample without its TYPE line before it."""
    types, samples = {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            m = re.match(r"^# (TYPE|HELP) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", line)
            if m is None:
                raise AssertionError("bad comment line: %r" % line)
            if m.group(1) == "TYPE":
                if m.group(3) not in ("counter", "gauge", "summary", "histogram", "untyped"):
                    raise AssertionError("unknown type: %r" % line)
                if m.group(2) in types:
                    raise AssertionError("TYPE given twice: %r" % line)
                if any(k[0] == m.group(2) for k in samples):
                    raise AssertionError("TYPE after its samples: %r" % line)
                types[m.group(2)] = m.group(3)
            continue
        m = PROM_SAMPLE.match(line)
        if m is None:
            raise AssertionError("not a Prometheus sample line: %r" % line)
        key = (m.group(1), tuple(sorted(PROM_LABEL.findall(m.group(2) or ""))))
        if key in samples:
            raise AssertionError("series twice: %r" % line)
        family = m.group(1) if m.group(1) in types else re.sub(r"_(count|sum)$", "", m.group(1))
        if family not in types:
            raise AssertionError("sample without a TYPE line before it: %r" % line)
        samples[key] = float(m.group(3))
    return types, samples


# ---------------------------------------------------------------------------
# unittest glue

class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded %d s" % TEST_TIMEOUT)


class LocusTestCase(unittest.TestCase):
    """A TestCase whose every test is bounded by TEST_TIMEOUT seconds."""

    timeout = None

    def setUp(self):
        super().setUp()
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(self.timeout or TEST_TIMEOUT)
        self.addCleanup(signal.alarm, 0)

    # -- assertion helpers
    def assertStatus(self, resp, status, reason_contains=None):
        self.assertIsNotNone(resp, "no response")
        self.assertEqual(resp.status, status, "expected %d, got:\n%s" % (status, resp.dump()))
        if reason_contains is not None:
            self.assertIn(reason_contains.lower(), resp.reason.lower(),
                          "reason phrase %r should name %r" % (resp.reason, reason_contains))

    def assertBindings(self, resp, expected):
        """expected: {contact uri: (min expires, max expires)}; the 200 must list
        exactly these URIs, each once, with an expires in range."""
        got = {}
        for c in resp.contacts():
            self.assertNotIn(c.uri, got, "contact listed twice:\n%s" % resp.dump())
            self.assertIsNotNone(c.expires, "contact without expires:\n%s" % resp.dump())
            got[c.uri] = c.expires
        self.assertEqual(sorted(got), sorted(expected), "binding list differs:\n%s" % resp.dump())
        for uri, (lo, hi) in expected.items():
            self.assertTrue(lo <= got[uri] <= hi, "%s: expires=%d not in [%d, %d]:\n%s"
                            % (uri, got[uri], lo, hi, resp.dump()))


def parse_args(argv=None, extra=None):
    """Parses --locusd/--sipp (and extra(parser)); returns (args, remaining argv)."""
    global LOCUSD, SIPP, LOCUSCTL
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--locusd", default=LOCUSD)
    parser.add_argument("--sipp", default=SIPP)
    parser.add_argument("--locusctl", default=LOCUSCTL)
    if extra:
        extra(parser)
    args, rest = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    # Absolute: daemons run in working directories of their own.
    LOCUSD = os.path.abspath(args.locusd) if args.locusd else ""
    SIPP = args.sipp
    LOCUSCTL = os.path.abspath(args.locusctl) if args.locusctl else ""
    if not LOCUSD:
        sys.stderr.write("no locusd given (pass --locusd PATH or set LOCUSD)\n")
        sys.exit(2)
    if not os.access(LOCUSD, os.X_OK):
        # A build that did not make locusd (e.g. a stage building only unit
        # tests): skipped, which CTest reports through SKIP_RETURN_CODE.
        sys.stderr.write("SKIP: locusd not built: %s\n" % LOCUSD)
        sys.exit(SKIP_EXIT_CODE)
    return args, rest


def run_unittests():
    _, rest = parse_args()
    random.seed(0x10C05)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


def stop_daemon(d):
    """Stops a daemon started by a test class (None: nothing); fails the test
    when it had died meanwhile."""
    if d is None:
        return
    try:
        if d.proc is not None and d.proc.poll() is not None:
            d.kill()
            raise AssertionError("locusd died during the tests (exit %s)\n%s"
                                 % (d.returncode, d._describe()))
        d.stop()
    finally:
        d.cleanup()


def counters(stats, shard=None):
    """The counters of an admin `stats` answer: totals, or one shard's."""
    return (stats["totals"] if shard is None else stats["shards"][shard])["counters"]


class SharedDaemonCase(LocusTestCase):
    """A test class whose tests share one daemon, cls.daemon (the subclass's
    setUpClass starts it), with an admin connection per test (self.admin).
    The daemon is stopped after the class, and must not die before."""

    daemon = None

    @classmethod
    def tearDownClass(cls):
        d, cls.daemon = cls.daemon, None
        stop_daemon(d)

    def setUp(self):
        super().setUp()
        self.assertIsNone(self.daemon.proc.poll(), "locusd has exited:\n" + self.daemon._describe())
        self.admin = self.daemon.admin()
        self.addCleanup(self.admin.close)
