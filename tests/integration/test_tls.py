#!/usr/bin/env python3
"""TLS and WebSocket transports against a real locusd (two shards), with
certificates this test makes with the openssl command (a CA, a server
certificate, a good client certificate naming sip:alice@example.com, and a
client certificate from a CA locusd does not trust):

  Tls          register, refresh, unregister over TLS; responses on the same
               connection; sips: only over TLS; a 302 to a sips: URI lists
               only sips: contacts; ciphertext split at every byte of a
               record; a stalled handshake does not stop others and is
               closed after tls_handshake_timeout; certificates reloaded
               without a restart.
  MutualTls    tls_verify_client=required: the good client certificate
               registers, the untrusted one and none at all are refused.
  WebSocket    WS and WSS (RFC 7118): register over both, a message split in
               fragments, ping/pong, close, oversized messages, and bad
               Upgrades each answered with an HTTP error that names the
               problem.

Usage: test_tls.py --locusd PATH [--locusctl PATH] [unittest arguments]
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import Locusd, SharedDaemonCase, TcpClient, UdpClient, counters  # noqa: E402

HANDSHAKE_TIMEOUT = 1  # seconds, so the stalled-handshake test is short


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)


def make_pki(directory):
    """A CA; the server's certificate for 127.0.0.1; alice's client
    certificate; and a client certificate of another CA."""
    def ca(name):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                "-out", name + ".pem", "-days", "30", "-subj", "/CN=" + name, cwd=directory)

    def cert(name, issuer, cn, san):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + cn, cwd=directory)
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", issuer + ".pem", "-CAkey",
                issuer + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "30",
                "-extfile", name + ".ext", cwd=directory)

    ca("ca")
    ca("rogue-ca")
    cert("server", "ca", "127.0.0.1", "IP:127.0.0.1,DNS:localhost")
    cert("server2", "ca", "127.0.0.1", "IP:127.0.0.1,DNS:renewed.localhost")
    cert("alice", "ca", "alice", "URI:sip:alice@example.com")
    cert("mallory", "rogue-ca", "mallory", "URI:sip:alice@example.com")
    return {name: os.path.join(directory, name) for name in
            ("ca", "server", "server2", "alice", "mallory")}


def register_text(user, transport, contact, branch=None, cseq=1, expires=None, scheme="sip",
                  extra=""):
    branch = branch or h.new_branch()
    lines = ["REGISTER %s:example.com SIP/2.0" % scheme,
             "Via: SIP/2.0/%s 127.0.0.1:5999;branch=%s" % (transport, branch),
             "Max-Forwards: 70",
             "From: <%s:%s@example.com>;tag=%s" % (scheme, user, h.new_tag()),
             "To: <%s:%s@example.com>" % (scheme, user),
             "Call-ID: %s-%s" % (user, transport),
             "CSeq: %d REGISTER" % cseq,
             "Contact: %s" % contact]
    if expires is not None:
        lines.append("Expires: %d" % expires)
    return ("\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n").encode()


def read_response(sock, timeout=3.0):
    """One SIP response from a stream socket (TLS or TCP), framed by its
    empty line (locusd's responses have no body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed, got %r" % data)
        data += chunk
    return h.Response(data)


class TlsCase(SharedDaemonCase):
    FLAGS = []

    @classmethod
    def extra_flags(cls):
        return list(cls.FLAGS)

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="locus-tls-")
        cls.pki = make_pki(cls.dir)
        # The daemon reads its certificate from files the tests may replace.
        shutil.copy(cls.pki["server"] + ".pem", os.path.join(cls.dir, "current.pem"))
        shutil.copy(cls.pki["server"] + ".key", os.path.join(cls.dir, "current.key"))
        cls.tls_port = h.free_port()
        cls.ws_port = h.free_port()
        cls.wss_port = h.free_port()
        cls.daemon = Locusd(["--shards=2",
                             "--tls=127.0.0.1:%d" % cls.tls_port,
                             "--ws=127.0.0.1:%d" % cls.ws_port,
                             "--wss=127.0.0.1:%d" % cls.wss_port,
                             "--tls_cert=" + os.path.join(cls.dir, "current.pem"),
                             "--tls_key=" + os.path.join(cls.dir, "current.key"),
                             "--tls_ca=" + cls.pki["ca"] + ".pem",
                             "--tls_handshake_timeout=%d" % HANDSHAKE_TIMEOUT] + cls.extra_flags(),
                            admin=True)
        cls.daemon.__enter__()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def client_context(self, cert=None):
        ctx = ssl.create_default_context(cafile=self.pki["ca"] + ".pem")
        if cert is not None:
            ctx.load_cert_chain(self.pki[cert] + ".pem", self.pki[cert] + ".key")
        return ctx

    def tls(self, cert=None, port=None):
        raw = socket.create_connection(("127.0.0.1", port or self.tls_port), timeout=3)
        s = self.client_context(cert).wrap_socket(raw, server_hostname="127.0.0.1")
        self.addCleanup(s.close)
        return s

    def stats(self):
        return counters(self.admin.ok({"cmd": "stats"}))

    def lookup(self, user):
        return self.admin.ok({"cmd": "lookup", "aor": "sip:%s@example.com" % user})["bindings"]


class Tls(TlsCase):
    def test_register_refresh_unregister_on_one_connection(self):
        s = self.tls()
        user = h.unique_user("tls")
        contact = "<sip:%s@127.0.0.1:5999;transport=tls>" % user
        for cseq, expires, want in ((1, 600, 1), (2, 900, 1), (3, 0, 0)):
            s.sendall(register_text(user, "TLS", contact, cseq=cseq, expires=expires))
            resp = read_response(s)
            self.assertEqual(resp.status, 200, resp.dump())
            self.assertEqual(len(resp.contacts()), want, resp.dump())
            if want:
                self.assertEqual(self.lookup(user)[0]["transport"], "TLS")
        self.assertEqual(self.lookup(user), [])

    def test_sips_only_over_tls(self):
        user = h.unique_user("sips")
        with TcpClient(self.daemon.tcp_addr) as tcp:
            tcp.send(register_text(user, "TCP", "<sips:%s@127.0.0.1:5999>" % user))
            resp = tcp.recv(3)
            self.assertEqual(resp.status, 403, resp.dump())
            tcp.send(register_text(user, "TCP", "<sip:%s@127.0.0.1:5999>" % user, scheme="sips"))
            self.assertEqual(tcp.recv(3).status, 403)
        s = self.tls()
        s.sendall(register_text(user, "TLS", "<sips:%s@127.0.0.1:5999>" % user, scheme="sips"))
        self.assertEqual(read_response(s).status, 200)
        s.sendall(register_text(user, "TLS", "<sip:%s@127.0.0.1:5998>" % user, cseq=2,
                                scheme="sips"))
        self.assertEqual(len(read_response(s).contacts()), 2)
        # A sips: Request-URI reaches only the sips: contact (RFC 5630).
        with UdpClient(self.daemon.udp_addr) as udp:
            ruri = "sips:%s@example.com" % user
            resp = udp.request(udp.register(user="caller", method="INVITE", ruri=ruri,
                                            to="<%s>" % ruri))
            self.assertEqual(resp.status, 302, resp.dump())
            self.assertEqual([c.uri for c in resp.contacts()], ["sips:%s@127.0.0.1:5999" % user])

    def test_ciphertext_split_at_every_byte(self):
        # The client's TLS runs on memory BIOs, so the test decides how the
        # records reach the wire: a REGISTER's record is sent cut at every
        # offset in turn, each in two writes with a pause between them.
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=3)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(raw.close)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.client_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                data = raw.recv(65536)
                if not data:
                    self.fail("closed during the handshake")
                incoming.write(data)
        raw.sendall(outgoing.read())
        user = h.unique_user("split")
        record_size = None
        answered = 0
        cut = 0
        while record_size is None or cut < record_size - 1:
            tls.write(register_text(user, "TLS", "<sip:%s@127.0.0.1:5999>" % user, cseq=cut + 1))
            record = outgoing.read()
            if record_size is None:
                record_size = len(record)  # the first one whole: its size
                raw.sendall(record)
            else:
                raw.sendall(record[:cut])
                time.sleep(0.002)
                raw.sendall(record[cut:])
            cut += 1
            buf = b""
            while True:
                try:
                    buf += tls.read(65536)
                    if b"\r\n\r\n" in buf:
                        break
                except ssl.SSLWantReadError:
                    data = raw.recv(65536)
                    if not data:
                        self.fail("closed after a record cut at %d" % cut)
                    incoming.write(data)
            self.assertTrue(buf.startswith(b"SIP/2.0 200 OK"), buf[:200])
            answered += 1
        self.assertEqual(answered, record_size - 1)  # the whole one, then cut at 1 .. size-2

    def test_stalled_handshake_does_not_stop_others(self):
        before = self.stats()
        stalled = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        self.addCleanup(stalled.close)
        stalled.sendall(b"\x16\x03\x01\x00\xc8\x01")  # the start of a ClientHello, then nothing
        # Others are served meanwhile.
        s = self.tls()
        user = h.unique_user("busy")
        s.sendall(register_text(user, "TLS", "<sip:%s@127.0.0.1:5999>" % user))
        self.assertEqual(read_response(s).status, 200)
        # The stalled one is closed once its handshake time is up.
        stalled.settimeout(HANDSHAKE_TIMEOUT + 4)
        self.assertEqual(stalled.recv(100), b"", "the stalled handshake was not closed")
        after = self.stats()
        self.assertGreaterEqual(after["tls_handshake_timeouts"] - before["tls_handshake_timeouts"], 1)

    def test_certificate_reloaded_without_restart(self):
        def served_names():
            s = self.tls()
            names = [v for k, v in s.getpeercert().get("subjectAltName", ())]
            s.close()
            return names
        self.assertNotIn("renewed.localhost", served_names())
        shutil.copy(self.pki["server2"] + ".pem", os.path.join(self.dir, "current.pem"))
        shutil.copy(self.pki["server2"] + ".key", os.path.join(self.dir, "current.key"))
        try:
            answer = self.admin.ok({"cmd": "reload_tls"})
            self.assertIn("127.0.0.1", answer["subject"])
            deadline = time.monotonic() + 3
            while "renewed.localhost" not in served_names():
                self.assertLess(time.monotonic(), deadline, "the new certificate is not served")
                time.sleep(0.1)
        finally:
            shutil.copy(self.pki["server"] + ".pem", os.path.join(self.dir, "current.pem"))
            shutil.copy(self.pki["server"] + ".key", os.path.join(self.dir, "current.key"))
            self.admin.ok({"cmd": "reload_tls"})
        # A bad file changes nothing.
        with open(os.path.join(self.dir, "current.key"), "w") as f:
            f.write("not a key\n")
        try:
            self.assertIs(self.admin.request({"cmd": "reload_tls"}).get("ok"), False)
            self.assertNotIn("renewed.localhost", served_names())
        finally:
            shutil.copy(self.pki["server"] + ".key", os.path.join(self.dir, "current.key"))


class MutualTls(TlsCase):
    @classmethod
    def extra_flags(cls):
        users = os.path.join(cls.dir, "users.json")
        with open(users, "w") as f:
            json.dump({"users": [{"username": "alice", "realm": "example.com", "password": "a"},
                                 {"username": "bob", "realm": "example.com", "password": "b"}]}, f)
        return ["--tls_verify_client=required", "--auth=true", "--users_file=" + users]

    def test_verified_client_registers_others_refused(self):
        before = self.stats()
        # With authentication on, the certificate naming sip:alice@example.com
        # registers alice without a challenge; bob's AOR is still challenged.
        s = self.tls(cert="alice")
        s.sendall(register_text("alice", "TLS", "<sip:alice@127.0.0.1:5999>"))
        self.assertEqual(read_response(s).status, 200)
        s.sendall(register_text("bob", "TLS", "<sip:bob@127.0.0.1:5999>"))
        self.assertEqual(read_response(s).status, 401)
        for cert in ("mallory", None):
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                bad = self.tls(cert=cert)
                bad.sendall(register_text("alice", "TLS", "<sip:alice@127.0.0.1:5998>", cseq=9))
                read_response(bad)
        self.assertEqual([b["contact"] for b in self.lookup("alice")], ["sip:alice@127.0.0.1:5999"])
        after = self.stats()
        self.assertGreaterEqual(after["tls_handshake_failures"] - before["tls_handshake_failures"], 2)
        self.assertEqual(after["auth_certificates"] - before["auth_certificates"], 1)


# ---------------------------------------------------------------------------
# WebSocket


def ws_frame(payload, opcode=0x1, fin=True, mask=True):
    header = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        header += bytes([m | n])
    elif n < 65536:
        header += bytes([m | 126]) + struct.pack("!H", n)
    else:
        header += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WsClient:
    """A WebSocket client over a plain or TLS socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def upgrade(self, protocol="sip", version="13", method="GET", extra=""):
        key = base64.b64encode(os.urandom(16)).decode()
        request = ("%s / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: %s\r\n%s%s\r\n"
                   % (method, key, version,
                      "Sec-WebSocket-Protocol: %s\r\n" % protocol if protocol else "", extra))
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == 101:
            accept = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            assert headers.get("sec-websocket-accept") == accept, headers
        return status, headers, head

    def recv_frame(self, timeout=3.0):
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7F
                at = 2
                if n == 126:
                    n, at = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127:
                    n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
                if len(self.buf) >= at + n:
                    opcode, payload = self.buf[0] & 0x0F, self.buf[at:at + n]
                    self.buf = self.buf[at + n:]
                    return opcode, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                return None, b""
            self.buf += chunk


class WebSocket(TlsCase):
    def ws(self, secure=False):
        raw = socket.create_connection(("127.0.0.1", self.wss_port if secure else self.ws_port),
                                       timeout=3)
        sock = self.client_context().wrap_socket(raw, server_hostname="127.0.0.1") if secure else raw
        self.addCleanup(sock.close)
        return WsClient(sock)

    def register_over(self, secure):
        c = self.ws(secure)
        status, headers, _ = c.upgrade()
        self.assertEqual(status, 101)
        self.assertEqual(headers.get("sec-websocket-protocol"), "sip")
        user = h.unique_user("wss" if secure else "ws")
        transport = "WSS" if secure else "WS"
        contact = "<sip:%s@df7jal23ls0d.invalid;transport=%s>" % (user, transport.lower())
        c.sock.sendall(ws_frame(register_text(user, transport, contact)))
        opcode, payload = c.recv_frame()
        self.assertIn(opcode, (0x1, 0x2))
        resp = h.Response(payload)
        self.assertEqual(resp.status, 200, resp.dump())
        binding = self.lookup(user)[0]
        self.assertEqual((binding["transport"], binding["contact"]), (transport, contact[1:-1]))
        return c, user

    def test_register_over_ws_and_wss(self):
        self.register_over(False)
        self.register_over(True)

    def test_bindings_end_with_their_websocket(self):
        c = self.ws()
        self.assertEqual(c.upgrade()[0], 101)
        users = [h.unique_user("flow") for _ in range(8)]  # AORs of both shards
        for user in users:
            c.sock.sendall(ws_frame(register_text(user, "WS", "<sip:%s@x.invalid;transport=ws>" % user)))
            self.assertEqual(h.Response(c.recv_frame()[1]).status, 200)
        # The same AORs also have a UDP phone, which stays.
        with UdpClient(self.daemon.udp_addr) as udp:
            for user in users:
                resp = udp.request(udp.register(user=user, contacts=["<sip:%s@127.0.0.1:7100>" % user]))
                self.assertEqual(len(resp.contacts()), 2)
            c.sock.close()
            deadline = time.monotonic() + 3
            while any(len(self.lookup(u)) != 1 for u in users):
                self.assertLess(time.monotonic(), deadline, "WebSocket bindings outlived their connection")
                time.sleep(0.05)
            for user in users:
                self.assertEqual(self.lookup(user)[0]["transport"], "UDP")
                ruri = "sip:%s@example.com" % user
                resp = udp.request(udp.register(user="caller", method="INVITE", ruri=ruri, to="<%s>" % ruri))
                self.assertEqual([x.uri for x in resp.contacts()], ["sip:%s@127.0.0.1:7100" % user])

    def test_fragments_ping_and_close(self):
        c, user = self.register_over(False)
        message = register_text(user, "WS", "<sip:%s@x.invalid;transport=ws>" % user, cseq=2)
        third = len(message) // 3
        c.sock.sendall(ws_frame(message[:third], opcode=0x1, fin=False) +
                       ws_frame(b"ping!", opcode=0x9) +  # control frames may come between
                       ws_frame(message[third:2 * third], opcode=0x0, fin=False) +
                       ws_frame(message[2 * third:], opcode=0x0, fin=True))
        frames = [c.recv_frame(), c.recv_frame()]
        self.assertIn((0xA, b"ping!"), frames)  # the pong
        sip = [p for op, p in frames if op in (0x1, 0x2)]
        self.assertEqual(len(sip), 1)
        self.assertEqual(h.Response(sip[0]).status, 200)
        c.sock.sendall(ws_frame(struct.pack("!H", 1000), opcode=0x8))
        opcode, payload = c.recv_frame()
        self.assertEqual(opcode, 0x8)
        self.assertEqual(c.recv_frame()[0], None)  # then locusd closes

    def test_oversized_message_closes_with_1009(self):
        c, _ = self.register_over(False)
        c.sock.sendall(ws_frame(b"x" * 70000, opcode=0x2))
        opcode, payload = c.recv_frame()
        self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (0x8, 1009))

    def test_unmasked_frame_is_a_protocol_error(self):
        c, _ = self.register_over(False)
        c.sock.sendall(ws_frame(b"OPTIONS", mask=False))
        opcode, payload = c.recv_frame()
        self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (0x8, 1002))

    def test_bad_upgrades_get_http_errors(self):
        before = self.stats()
        cases = [
            (dict(protocol="chat"), 400, b"sip"),
            (dict(protocol=None), 400, b"sip"),
            (dict(version="8"), 426, b"Version"),
            (dict(method="POST"), 400, b"GET"),
        ]
        for kwargs, status, named in cases:
            c = self.ws()
            got, headers, head = c.upgrade(**kwargs)
            self.assertEqual(got, status, (kwargs, head))
            self.assertIn(named, c.buf + head, kwargs)
            self.assertEqual(c.sock.recv(100) if not c.buf else b"", b"")  # then closed
        # Garbage, and an Upgrade request past 8 KiB.
        for data in (b"HELLO\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"y" * 9000 + b"\r\n\r\n"):
            c = self.ws()
            c.sock.sendall(data)
            reply = c.sock.recv(65536)
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:100])
        after = self.stats()
        self.assertGreaterEqual(after["ws_upgrade_failures"] - before["ws_upgrade_failures"], 6)


if __name__ == "__main__":
    h.run_unittests()
