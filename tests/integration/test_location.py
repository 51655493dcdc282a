#!/usr/bin/env python3
"""The location service against a real locusd (two shards) on loopback: the
redirect server's 302/480/404 over UDP and TCP for AORs of both shards, the
INVITE server transaction on the wire (Timer G retransmissions counted, the
ACK absorbed, a retransmitted INVITE answered byte for byte, CANCEL), GRUUs
round trip, Outbound (flow replacement, 439, Require, Flow-Timer), STUN
keep-alives on the SIP port, Service-Route, the 400 for malformed but
answerable requests, the registrar-only mode, and the counters of each.

Usage: test_location.py --locusd PATH [unittest arguments]
"""

import os
import socket
import struct
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import Locusd, SharedDaemonCase, TcpClient, UdpClient, counters  # noqa: E402

INSTANCE = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"
SERVICE_ROUTE = "sip:orig@scscf.example.com;lr"
FLOW_TIMER = 30


def invite(client, ruri, to=None, branch=None, method="INVITE"):
    return client.register(user="caller", method=method, ruri=ruri, to=to or "<%s>" % ruri,
                           branch=branch)


def ack_for(client, inv, resp):
    """The ACK of a non-2xx final response (section 17.1.1.3): the INVITE's
    Request-URI, Via, From, Call-ID and CSeq number, the response's To."""
    headers = [(n, resp.get("To") if n == "To" else v) for n, v in inv.headers]
    headers = [(n, "%s ACK" % v.split()[0] if n == "CSeq" else v) for n, v in headers]
    return h.Request("ACK", inv.ruri, headers)


class Location(SharedDaemonCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Locusd(["--shards=2", "--service_route=" + SERVICE_ROUTE,
                             "--flow_timer=%d" % FLOW_TIMER], admin=True)
        cls.daemon.__enter__()

    def setUp(self):
        super().setUp()
        self.udp = UdpClient(self.daemon.udp_addr)
        self.addCleanup(self.udp.close)

    def stats(self):
        return counters(self.admin.ok({"cmd": "stats"}))

    def register(self, user, contact, extra=(), client=None):
        client = client or self.udp
        resp = client.request(client.register(user=user, contacts=[contact], extra=extra))
        self.assertStatus(resp, 200)
        return resp

    def test_redirect_lists_the_bindings_over_udp_and_tcp_on_both_shards(self):
        users = [h.unique_user("rd") for _ in range(12)]
        for u in users:
            self.register(u, "<sip:%s@127.0.0.1:7001>;q=0.5" % u)
            self.register(u, "<sip:%s@127.0.0.1:7002>" % u)
        tcp = TcpClient(self.daemon.tcp_addr)
        self.addCleanup(tcp.close)
        for client in (self.udp, tcp):
            for u in users:
                resp = client.request(invite(client, "sip:%s@example.com" % u))
                self.assertStatus(resp, 302)
                uris = [c.uri for c in resp.contacts()]
                self.assertEqual(uris, ["sip:%s@127.0.0.1:7002" % u, "sip:%s@127.0.0.1:7001" % u],
                                 resp.dump())
                self.assertEqual([c.params.get("q") for c in resp.contacts()], ["1", "0.5"])
                self.assertTrue(all(3500 <= c.expires <= 3600 for c in resp.contacts()))
                self.assertIsNotNone(resp.tag("To"))
        # Both shards served lookups (the AORs spread over them).
        stats = self.admin.ok({"cmd": "stats"})
        self.assertTrue(all(counters(stats, s)["lookups"] > 0 for s in (0, 1)), stats)

    def test_no_bindings_404_and_other_methods_too(self):
        for method in ("INVITE", "MESSAGE", "SUBSCRIBE"):
            extra = [("Event", "presence")] if method == "SUBSCRIBE" else []
            req = self.udp.register(user="caller", method=method,
                                    ruri="sip:%s@example.com" % h.unique_user("none"), extra=extra)
            resp = self.udp.request(req)
            self.assertStatus(resp, 404)

    def test_timer_g_retransmits_the_302_until_the_ack(self):
        user = h.unique_user("tg")
        self.register(user, "<sip:%s@127.0.0.1:7003>" % user)
        before = self.stats()
        inv = invite(self.udp, "sip:%s@example.com" % user)
        self.udp.send(inv)
        first = self.udp.wait_for(inv, timeout=2.0)
        self.assertStatus(first, 302)
        t0 = time.monotonic()
        # Without an ACK: again at T1 and 3*T1 (0.5 s and 1.5 s), the same bytes.
        seen = []
        while time.monotonic() - t0 < 2.2:
            data = self.udp.recv_raw(2.2 - (time.monotonic() - t0))
            if data is not None:
                self.assertEqual(data, first.raw)
                seen.append(time.monotonic() - t0)
        self.assertEqual(len(seen), 2, "Timer G sends at 0.5 and 1.5 s: got %r" % seen)
        self.assertTrue(0.3 <= seen[0] <= 0.9 and 1.2 <= seen[1] <= 1.9, seen)
        # The ACK ends them: nothing at 3.5 s.
        self.udp.send(ack_for(self.udp, inv, first))
        self.udp.expect_silence(2.0)
        after = self.stats()
        self.assertGreaterEqual(after["invite_retransmissions"] - before["invite_retransmissions"], 2)
        self.assertEqual(after["acks_absorbed"] - before["acks_absorbed"], 1)

    def test_retransmitted_invite_gets_the_same_bytes_and_cancel_gets_200(self):
        user = h.unique_user("rt")
        self.register(user, "<sip:%s@127.0.0.1:7004>" % user)
        inv = invite(self.udp, "sip:%s@example.com" % user)
        first = self.udp.request(inv)
        self.udp.send(inv)
        again = self.udp.wait_for(inv, timeout=2.0)
        self.assertEqual(again.raw, first.raw)
        cancel = h.Request("CANCEL", inv.ruri,
                           [(n, "1 CANCEL" if n == "CSeq" else v) for n, v in inv.headers])
        resp = self.udp.request(cancel)
        self.assertStatus(resp, 200)
        stray = self.udp.register(user="caller", method="CANCEL", ruri=inv.ruri)
        self.assertStatus(self.udp.request(stray), 481)
        self.udp.send(ack_for(self.udp, inv, first))

    def test_path_reaches_the_302_as_a_route_header(self):
        user = h.unique_user("path")
        self.register(user, "<sip:%s@127.0.0.1:7005>" % user,
                      extra=[("Path", "<sip:edge.example.com;lr>"), ("Supported", "path")])
        resp = self.udp.request(invite(self.udp, "sip:%s@example.com" % user))
        self.assertStatus(resp, 302)
        self.assertEqual([c.uri for c in resp.contacts()],
                         ["sip:%s@127.0.0.1:7005?Route=%%3Csip:edge.example.com%%3Blr%%3E" % user])

    def test_gruu_round_trip(self):
        user = h.unique_user("gruu")
        contact = '<sip:%s@127.0.0.1:7006>;+sip.instance="%s"' % (user, INSTANCE)
        ok = self.register(user, contact, extra=[("Supported", "gruu")])
        self.register(user, "<sip:%s@127.0.0.1:7007>" % user)  # another phone
        c = [c for c in ok.contacts() if "+sip.instance" in c.params][0]
        pub, temp = c.params["pub-gruu"].strip('"'), c.params["temp-gruu"].strip('"')
        self.assertEqual(pub, "sip:%s@example.com;gr=%s" % (user, INSTANCE[1:-1]))
        self.assertNotIn(user, temp)
        for gruu in (pub, temp):
            resp = self.udp.request(invite(self.udp, gruu))
            self.assertStatus(resp, 302)
            self.assertEqual([x.uri for x in resp.contacts()], ["sip:%s@127.0.0.1:7006" % user])
        # The instance unregisters: pub-gruu 480, temp-gruu 404.
        self.register(user, contact + ";expires=0")
        self.assertStatus(self.udp.request(invite(self.udp, pub)), 480)
        self.assertStatus(self.udp.request(invite(self.udp, temp)), 404)

    def test_outbound_replaces_the_flow_and_requires_outbound(self):
        user = h.unique_user("ob")
        params = ';reg-id=1;+sip.instance="%s"' % INSTANCE
        ok = self.register(user, "<sip:%s@127.0.0.1:7008>%s" % (user, params),
                           extra=[("Supported", "outbound, path")])
        self.assertEqual(ok.all("Require"), ["outbound"])
        self.assertEqual(ok.all("Flow-Timer"), [str(FLOW_TIMER)])
        self.assertEqual(ok.all("Service-Route"), ["<%s>" % SERVICE_ROUTE])
        ok = self.register(user, "<sip:%s@127.0.0.1:7009>%s" % (user, params),
                           extra=[("Supported", "outbound, path")])
        self.assertEqual([c.uri for c in ok.contacts()], ["sip:%s@127.0.0.1:7009" % user])
        # Through a proxy whose Path lacks ;ob: 439.
        req = self.udp.register(user=user, contacts=["<sip:%s@127.0.0.1:7010>%s" % (user, params)],
                                extra=[("Supported", "outbound")])
        req.headers.insert(1, ("Via", "SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKedge1"))
        self.assertStatus(self.udp.request(req), 439)

    def test_stun_binding_request_on_the_sip_port(self):
        before = self.stats()
        transaction = os.urandom(12)
        request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction
        self.udp.send(request)
        data = self.udp.recv_raw(2.0)
        self.assertIsNotNone(data, "no answer to a STUN Binding request")
        kind, length, cookie = struct.unpack("!HHI", data[:8])
        self.assertEqual((kind, cookie, data[8:20]), (0x0101, 0x2112A442, transaction))
        self.assertEqual(len(data), 20 + length)
        attrs, at = {}, 20
        while at + 4 <= len(data):
            t, n = struct.unpack("!HH", data[at:at + 4])
            attrs[t] = data[at + 4:at + 4 + n]
            at += 4 + ((n + 3) & ~3)
        xor = attrs[0x0020]  # XOR-MAPPED-ADDRESS
        family, port = struct.unpack("!xBH", xor[:4])
        ip = bytes(b ^ m for b, m in zip(xor[4:8], struct.pack("!I", 0x2112A442)))
        self.assertEqual((family, port ^ 0x2112, socket.inet_ntoa(ip)),
                         (1, self.udp.local_port, "127.0.0.1"))
        # A torn STUN datagram gets nothing; SIP still works.
        self.udp.send(request[:19] + b"\x00" * 5)
        self.udp.expect_silence(0.3)
        self.assertStatus(self.udp.request(self.udp.options()), 200)
        after = self.stats()
        self.assertEqual(after["stun_requests"] - before["stun_requests"], 1)

    def test_malformed_but_answerable_gets_400(self):
        # baresip's REGISTER with a stray LF inside +sip.instance.
        req = self.udp.register(contacts=['<sip:x@127.0.0.1:7011>;+sip.instance="<urn:uuid:1\n>"'])
        self.udp.send(req)
        resp = self.udp.wait_for(req, timeout=2.0)
        self.assertIsNotNone(resp, "a readable malformed REGISTER got no answer")
        self.assertStatus(resp, 400, "Contact")
        self.assertEqual(resp.get("Call-ID"), req.call_id)
        # Unreadable (no CSeq at all) stays unanswered.
        req = self.udp.register(contacts=['<sip:x@127.0.0.1:7011>;+sip.instance="<urn:uuid:1\n>"'],
                                omit=["CSeq"])
        self.udp.send(req)
        self.udp.expect_silence(0.5)


class RegistrarOnly(SharedDaemonCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Locusd(["--shards=1", "--mode=registrar"], admin=True)
        cls.daemon.__enter__()

    def test_other_methods_405(self):
        with UdpClient(self.daemon.udp_addr) as udp:
            user = h.unique_user("ro")
            resp = udp.request(udp.register(user=user, contacts=["<sip:%s@127.0.0.1:7020>" % user]))
            self.assertStatus(resp, 200)
            resp = udp.request(invite(udp, "sip:%s@example.com" % user))
            self.assertStatus(resp, 405)
            self.assertEqual(resp.get("Allow"), "REGISTER, OPTIONS")


if __name__ == "__main__":
    h.run_unittests()
