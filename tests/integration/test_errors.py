#!/usr/bin/env python3
"""locusd answers, request by request, over real sockets: every status code of
ARCHITECTURE.md section 5 that locusd can give today, the headers each answer
must carry, the binding-list semantics of RFC 3261 section 10.3, malformed and
hostile input, TCP framing, IPv6, UDP retransmissions, and configuration.

Usage: test_errors.py --locusd PATH [unittest arguments, e.g. -k Retrans]
"""

import calendar
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402
from locus_harness import LocusTestCase, UdpClient, TcpClient, Locusd  # noqa: E402

# The main daemon's policy, given explicitly (the defaults are not under test).
MIN_EXPIRES = 60
DEFAULT_EXPIRES = 3600
MAX_EXPIRES = 7200
MAX_CONTACTS = 16

MAIN = None  # the shared daemon of most tests
# Lower bounds for counters of MAIN's exit lines, raised by the tests that ran.
EXPECTED_COUNTS = {"parse_errors": 0, "retransmissions": 0}


def setUpModule():
    global MAIN
    MAIN = Locusd(["--shards=2", "--min_expires=%d" % MIN_EXPIRES,
                   "--default_expires=%d" % DEFAULT_EXPIRES, "--max_expires=%d" % MAX_EXPIRES,
                   "--max_contacts=%d" % MAX_CONTACTS, "--max_message_size=65535",
                   "--log_level=info"])
    MAIN.__enter__()


def tearDownModule():
    global MAIN
    if MAIN is None:
        return
    alive = MAIN.proc.poll() is None
    try:
        if not alive:
            MAIN.kill()
            raise AssertionError("the shared locusd died during the tests (exit %s)\n%s"
                                 % (MAIN.returncode, MAIN._describe()))
        MAIN.stop()
        stats = MAIN.shard_stats()
        if sorted(stats) != [0, 1]:
            raise AssertionError("expected exit lines for shards 0 and 1, got %r\n%s"
                                 % (stats, MAIN._describe()))
        # Counters beyond the four of the interface, checked when logged (the
        # tests that ran say how many unparseable datagrams and retransmissions
        # they sent at least).
        text = MAIN.stderr_text()
        for name, least in EXPECTED_COUNTS.items():
            values = [int(v) for v in re.findall(r"shard \d+: .*\b%s=(\d+)" % name, text)]
            if values and sum(values) < least:
                raise AssertionError("%s summed over shards is %d, expected at least %d\n%s"
                                     % (name, sum(values), least, MAIN._describe()))
    finally:
        MAIN.cleanup()
        MAIN = None


def expires_range(e, slack=2):
    return (max(0, e - slack), e)


class MainCase(LocusTestCase):
    """Tests against the shared daemon; each gets a fresh UDP client."""

    def setUp(self):
        super().setUp()
        self.assertIsNone(MAIN.proc.poll(), "shared locusd has exited:\n" + MAIN._describe())
        self.udp = UdpClient(MAIN.udp_addr)
        self.addCleanup(self.udp.close)

    def register(self, **kw):
        return self.udp.request(self.udp.register(**kw))

    def query(self, user, domain="example.com"):
        resp = self.register(user=user, domain=domain)
        self.assertStatus(resp, 200)
        return resp

    def assertAlive(self):
        self.assertIsNone(MAIN.proc.poll(), "locusd exited:\n" + MAIN._describe())
        resp = self.udp.request(self.udp.options())
        self.assertStatus(resp, 200)


# ---------------------------------------------------------------------------


class Basics(MainCase):

    def test_options_200_with_allow(self):
        req = self.udp.options()
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        allow = ",".join(resp.all("Allow")).upper()
        self.assertIn("REGISTER", allow)
        self.assertIn("OPTIONS", allow)
        self.assertEqual(resp.get("Call-ID"), req.header("Call-ID"))
        self.assertEqual(resp.get("CSeq"), req.header("CSeq"))
        self.assertEqual(resp.get("From"), req.header("From"))
        self.assertIsNotNone(resp.tag("To"), "To tag missing:\n" + resp.dump())

    def test_register_200_headers(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:5071" % user
        req = self.udp.register(user=user, contacts=["<%s>" % uri])
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        # Via: copied, top one with rport filled in (the request had ;rport).
        self.assertEqual(len(resp.vias()), 1, resp.dump())
        params = resp.top_via_params()
        self.assertEqual(params.get("branch"), req.branch)
        self.assertEqual(params.get("rport"), str(self.udp.local_port), resp.dump())
        self.assertTrue(resp.top_via.startswith("SIP/2.0/UDP 127.0.0.1:%d" % self.udp.local_port),
                        resp.dump())
        # RFC 3581 section 4: with rport, received= is added even when it equals
        # the sent-by host; it must then name the source address.
        self.assertIn(params.get("received"), (None, "127.0.0.1"), resp.dump())
        # From, Call-ID, CSeq copied; To copied with a tag added.
        self.assertEqual(resp.get("From"), req.header("From"))
        self.assertEqual(resp.get("Call-ID"), req.header("Call-ID"))
        self.assertEqual(resp.get("CSeq"), req.header("CSeq"))
        to = resp.get("To")
        self.assertTrue(to.startswith(req.header("To")), "To not copied: %r" % to)
        self.assertTrue(resp.tag("To"), "no To tag: %r" % to)
        # One Contact line per binding with expires.
        self.assertEqual(len(resp.contact_lines()), 1, resp.dump())
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})
        # Date (RFC 1123, GMT, about now), Server, Content-Length 0.
        date = resp.get("Date")
        self.assertIsNotNone(date, resp.dump())
        self.assertRegex(date, r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         r"\d{2}:\d{2}:\d{2} GMT$")
        when = calendar.timegm(time.strptime(date, "%a, %d %b %Y %H:%M:%S GMT"))
        self.assertLess(abs(when - time.time()), 120, "Date far from now: " + date)
        self.assertTrue((resp.get("Server") or "").startswith("locus/"), resp.dump())
        self.assertEqual(resp.get("Content-Length"), "0", resp.dump())
        self.assertEqual(resp.body, b"")

    def test_received_and_rport_when_sent_by_differs(self):
        # sent-by names another host and port; ;rport makes the answer come back
        # to our socket, with received= and rport= telling us where we are.
        via = self.udp.via(sent_by="192.0.2.7:5099")
        req = self.udp.register(via=via, contacts=["<sip:x@192.0.2.7:5099>"])
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        params = resp.top_via_params()
        self.assertEqual(params.get("received"), "127.0.0.1", resp.dump())
        self.assertEqual(params.get("rport"), str(self.udp.local_port), resp.dump())
        self.assertTrue(resp.top_via.startswith("SIP/2.0/UDP 192.0.2.7:5099"), resp.dump())

    def test_answer_to_sent_by_port_without_rport(self):
        # No rport: the answer goes to the sent-by port, which is our own.
        req = self.udp.register(via=self.udp.via(rport=False),
                                contacts=["<sip:y@127.0.0.1:5072>"])
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        params = resp.top_via_params()
        self.assertNotIn("rport", params, resp.dump())
        self.assertNotIn("received", params, resp.dump())

    def test_all_vias_copied_in_order(self):
        second = "SIP/2.0/UDP 198.51.100.4:5060;branch=z9hG4bKua%s;received=198.51.100.9" \
            % h.new_tag()
        extra_via = [("Via", second)]
        req = self.udp.register(contacts=["<sip:v@127.0.0.1:5073>"], extra=extra_via)
        # put the second Via right after the first one
        req.headers.remove(("Via", second))
        req.headers.insert(1, ("Via", second))
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        vias = resp.vias()
        self.assertEqual(len(vias), 2, resp.dump())
        self.assertEqual(vias[1], second, resp.dump())

    def test_comma_joined_vias_copied(self):
        req = self.udp.register(contacts=["<sip:cv@127.0.0.1:5077>"])
        req.headers = [(n, v + ", SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKcv1" if n == "Via"
                        else v) for n, v in req.headers]
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        vias = resp.vias()
        self.assertEqual(len(vias), 2, resp.dump())
        self.assertEqual(vias[1], "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKcv1")

    def test_header_names_and_params_case_insensitive(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:5078" % user
        req = self.udp.register(user=user, contacts=["<%s>;EXPIRES=120" % uri], expires=300)
        req.headers = [(n.lower() if i % 2 else n.upper(), v)
                       for i, (n, v) in enumerate(req.headers)]
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(120)})

    def test_to_tag_kept_when_present(self):
        user = h.unique_user()
        to = "<sip:%s@example.com>;tag=abc123" % user
        req = self.udp.register(user=user, to=to, contacts=["<sip:t@127.0.0.1:5074>"])
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.get("To"), to)

    def test_max_forwards_may_be_missing(self):
        user = h.unique_user()
        req = self.udp.register(user=user, contacts=["<sip:%s@127.0.0.1:5075>" % user],
                                omit=["Max-Forwards"])
        self.assertStatus(self.udp.request(req), 200)

    def test_compact_header_forms(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:5076" % user
        req = self.udp.register(user=user, contacts=["<%s>" % uri])
        compact = {"Via": "v", "From": "f", "To": "t", "Call-ID": "i", "Contact": "m"}
        req.headers = [(compact.get(n, n), v) for n, v in req.headers]
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})


class Bindings(MainCase):

    def test_default_expires(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6001" % user
        resp = self.register(user=user, contacts=["<%s>" % uri])
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})

    def test_expires_header(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6002" % user
        resp = self.register(user=user, contacts=["<%s>" % uri], expires=300)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(300)})

    def test_contact_param_overrides_header(self):
        user = h.unique_user()
        a = "sip:%s@127.0.0.1:6003" % user
        b = "sip:%s@127.0.0.1:6004" % user
        resp = self.register(user=user, contacts=["<%s>;expires=900" % a, "<%s>" % b],
                             expires=1800)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {a: expires_range(900), b: expires_range(1800)})

    def test_clamped_to_max(self):
        user = h.unique_user()
        a = "sip:%s@127.0.0.1:6005" % user
        b = "sip:%s@127.0.0.1:6006" % user
        resp = self.register(user=user, contacts=["<%s>;expires=100000" % a, "<%s>" % b],
                             expires=4294967295)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {a: expires_range(MAX_EXPIRES), b: expires_range(MAX_EXPIRES)})

    def test_exactly_min_expires_accepted(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6007" % user
        resp = self.register(user=user, contacts=["<%s>" % uri], expires=MIN_EXPIRES)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(MIN_EXPIRES)})

    def test_423_below_min_header(self):
        user = h.unique_user()
        resp = self.register(user=user, contacts=["<sip:%s@127.0.0.1:6008>" % user],
                             expires=MIN_EXPIRES - 1)
        self.assertStatus(resp, 423)
        self.assertEqual(resp.get("Min-Expires"), str(MIN_EXPIRES), resp.dump())
        self.assertEqual(resp.contacts(), [], "a 423 lists no bindings")
        self.assertEqual(self.query(user).contacts(), [], "nothing applied after 423")

    def test_423_below_min_param_nothing_applied(self):
        # One good contact and one too brief: the whole request fails.
        user = h.unique_user()
        resp = self.register(user=user, contacts=["<sip:%s@127.0.0.1:6009>" % user,
                                                  "<sip:%s@127.0.0.1:6010>;expires=30" % user])
        self.assertStatus(resp, 423)
        self.assertEqual(resp.get("Min-Expires"), str(MIN_EXPIRES), resp.dump())
        self.assertEqual(self.query(user).contacts(), [])

    def test_expires_zero_is_not_too_brief(self):
        user = h.unique_user()
        resp = self.register(user=user, contacts=["<sip:%s@127.0.0.1:6011>;expires=0" % user])
        self.assertStatus(resp, 200)
        self.assertEqual(resp.contacts(), [])

    def test_register_refresh_query_remove(self):
        user = h.unique_user()
        a = "sip:%s@127.0.0.1:6012" % user
        b = "sip:%s@127.0.0.1:6013" % user
        cid_a, cid_b = h.new_call_id(), h.new_call_id()
        resp = self.register(user=user, contacts=["<%s>" % a], expires=600, call_id=cid_a, cseq=1)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {a: expires_range(600)})
        # A second UA: both listed.
        resp = self.register(user=user, contacts=["<%s>" % b], expires=1200, call_id=cid_b, cseq=1)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {a: expires_range(600, 4), b: expires_range(1200)})
        # Refresh of a, same Call-ID, higher CSeq, new expiry.
        resp = self.register(user=user, contacts=["<%s>" % a], expires=2400, call_id=cid_a, cseq=2)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {a: expires_range(2400), b: expires_range(1200, 4)})
        # Query: no Contact, same list, nothing changes.
        resp = self.query(user)
        self.assertBindings(resp, {a: expires_range(2400, 4), b: expires_range(1200, 6)})
        # Remove a.
        resp = self.register(user=user, contacts=["<%s>;expires=0" % a], call_id=cid_a, cseq=3)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {b: expires_range(1200, 6)})
        self.assertBindings(self.query(user), {b: expires_range(1200, 6)})
        # Remove b with the Expires header.
        resp = self.register(user=user, contacts=["<%s>" % b], expires=0, call_id=cid_b, cseq=2)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.contacts(), [])
        self.assertEqual(self.query(user).contacts(), [])

    def test_remove_all_with_star(self):
        user = h.unique_user()
        uris = ["sip:%s@127.0.0.1:%d" % (user, 6020 + i) for i in range(3)]
        for i, uri in enumerate(uris):
            self.assertStatus(self.register(user=user, contacts=["<%s>" % uri]), 200)
        self.assertEqual(len(self.query(user).contacts()), 3)
        resp = self.register(user=user, contacts=["*"], expires=0)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.contacts(), [], resp.dump())
        self.assertEqual(self.query(user).contacts(), [])
        # The AOR can register again afterwards.
        resp = self.register(user=user, contacts=["<%s>" % uris[0]])
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uris[0]: expires_range(DEFAULT_EXPIRES)})

    def test_star_on_empty_aor(self):
        resp = self.register(contacts=["*"], expires=0)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.contacts(), [])

    def test_several_contacts_comma_joined_and_repeated(self):
        user = h.unique_user()
        a, b, c = ("sip:%s@127.0.0.1:%d" % (user, p) for p in (6031, 6032, 6033))
        resp = self.register(user=user, contacts=["<%s>, <%s>;expires=120" % (a, b), "<%s>" % c],
                             expires=900)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {a: expires_range(900), b: expires_range(120),
                                   c: expires_range(900)})
        self.assertEqual(len(resp.contact_lines()), 3, "one Contact line per binding:\n" + resp.dump())

    def test_q_instance_reg_id_echoed(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6040" % user
        instance = '"<urn:uuid:00000000-0000-1000-8000-%012x>"' % random.getrandbits(48)
        resp = self.register(user=user, contacts=[
            "<%s;ob>;q=0.5;+sip.instance=%s;reg-id=1;expires=600" % (uri, instance)],
            extra=[("Supported", "path, outbound")])
        self.assertStatus(resp, 200)
        cs = resp.contacts()
        self.assertEqual(len(cs), 1, resp.dump())
        c = cs[0]
        self.assertEqual(c.uri, uri + ";ob")
        self.assertEqual(c.params.get("q"), "0.5", resp.dump())
        self.assertEqual(c.params.get("+sip.instance"), instance, resp.dump())
        self.assertEqual(c.params.get("reg-id"), "1", resp.dump())
        self.assertIn(c.expires, range(598, 601))
        # The query reports the same parameters.
        c2 = self.query(user).contacts()[0]
        self.assertEqual((c2.uri, c2.params.get("q"), c2.params.get("+sip.instance"),
                          c2.params.get("reg-id")), (c.uri, "0.5", instance, "1"))

    def test_no_q_when_binding_had_none(self):
        user = h.unique_user()
        resp = self.register(user=user, contacts=["<sip:%s@127.0.0.1:6041>" % user])
        self.assertStatus(resp, 200)
        self.assertNotIn("q", resp.contacts()[0].params, resp.dump())

    def test_aor_canonicalised(self):
        # Host case and URI parameters do not make a different AOR.
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6050" % user
        req = self.udp.register(user=user, to="<sip:%s@EXAMPLE.COM;transport=tcp>" % user,
                                contacts=["<%s>" % uri])
        self.assertStatus(self.udp.request(req), 200)
        self.assertBindings(self.query(user, "example.com"), {uri: expires_range(DEFAULT_EXPIRES, 4)})
        # An explicit port is kept: sip:user@example.com:5060 is another AOR.
        self.assertEqual(self.query(user, "example.com:5060").contacts(), [])
        # Another domain is another AOR.
        self.assertEqual(self.query(user, "example.org").contacts(), [])

    def test_same_contact_different_call_id_replaces(self):
        # RFC 3261 10.3 step 7: another Call-ID updates the binding whatever the CSeq.
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6060" % user
        self.assertStatus(self.register(user=user, contacts=["<%s>" % uri], expires=600,
                                        cseq=50), 200)
        resp = self.register(user=user, contacts=["<%s>" % uri], expires=1200, cseq=1)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(1200)})

    def test_too_many_contacts_in_one_request(self):
        user = h.unique_user()
        contacts = ["<sip:%s@127.0.0.1:%d>" % (user, 7000 + i) for i in range(MAX_CONTACTS + 1)]
        resp = self.register(user=user, contacts=contacts)
        self.assertStatus(resp, 403, "Too Many Contacts")
        self.assertEqual(self.query(user).contacts(), [])

    def test_too_many_contacts_over_requests(self):
        user = h.unique_user()
        contacts = ["<sip:%s@127.0.0.1:%d>" % (user, 7100 + i) for i in range(MAX_CONTACTS)]
        resp = self.register(user=user, contacts=contacts)
        self.assertStatus(resp, 200)
        self.assertEqual(len(resp.contacts()), MAX_CONTACTS)
        resp = self.register(user=user, contacts=["<sip:%s@127.0.0.1:7199>" % user])
        self.assertStatus(resp, 403, "Too Many Contacts")
        self.assertEqual(len(self.query(user).contacts()), MAX_CONTACTS)
        # Refreshing one that exists is fine; so is removing one while adding one.
        self.assertStatus(self.register(user=user, contacts=[contacts[0]], expires=600), 200)
        resp = self.register(user=user, contacts=[contacts[1] + ";expires=0",
                                                  "<sip:%s@127.0.0.1:7199>" % user])
        self.assertStatus(resp, 200)
        self.assertEqual(len(resp.contacts()), MAX_CONTACTS)


class BadRequests(MainCase):

    def check_400(self, req, names):
        resp = self.udp.request(req)
        self.assertStatus(resp, 400)
        self.assertRegex(resp.reason, r"(?i)\b%s\b" % re.escape(names),
                         "400 reason should name %r:\n%s" % (names, resp.dump()))
        return resp

    def test_missing_to(self):
        self.check_400(self.udp.register(contacts=["<sip:a@127.0.0.1:1>"], omit=["To"]), "To")

    def test_missing_from(self):
        self.check_400(self.udp.register(contacts=["<sip:a@127.0.0.1:1>"], omit=["From"]), "From")

    def test_missing_call_id(self):
        self.check_400(self.udp.register(contacts=["<sip:a@127.0.0.1:1>"], omit=["Call-ID"]),
                       "Call-ID")

    def test_missing_cseq(self):
        self.check_400(self.udp.register(contacts=["<sip:a@127.0.0.1:1>"], omit=["CSeq"]), "CSeq")

    def test_invalid_to(self):
        self.check_400(self.udp.register(to="<sip:a@example.com", contacts=[]), "To")

    def test_invalid_from(self):
        self.check_400(self.udp.register(from_="sip:a@exa mple.com;tag=1", contacts=[]), "From")

    def test_duplicate_to(self):
        req = self.udp.register(contacts=[], extra=[("To", "<sip:b@example.com>")])
        self.check_400(req, "To")

    def test_invalid_call_id(self):
        self.check_400(self.udp.register(call_id="has space@example.com"), "Call-ID")

    def test_invalid_cseq_number(self):
        req = self.udp.register()
        req.headers = [(n, "abc REGISTER" if n == "CSeq" else v) for n, v in req.headers]
        self.check_400(req, "CSeq")

    def test_cseq_without_method(self):
        req = self.udp.register()
        req.headers = [(n, "7" if n == "CSeq" else v) for n, v in req.headers]
        self.check_400(req, "CSeq")

    def test_cseq_method_mismatch(self):
        self.check_400(self.udp.register(cseq_method="INVITE",
                                         contacts=["<sip:a@127.0.0.1:1>"]), "CSeq")

    def test_invalid_max_forwards(self):
        req = self.udp.register()
        req.headers = [(n, "many" if n == "Max-Forwards" else v) for n, v in req.headers]
        self.check_400(req, "Max-Forwards")

    def test_wildcard_with_other_contacts(self):
        user = h.unique_user()
        resp = self.register(user=user, contacts=["*", "<sip:%s@127.0.0.1:1>" % user], expires=0)
        self.assertStatus(resp, 400, "Wildcard")

    def test_wildcard_with_nonzero_expires(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6101" % user
        self.assertStatus(self.register(user=user, contacts=["<%s>" % uri]), 200)
        resp = self.register(user=user, contacts=["*"], expires=3600)
        self.assertStatus(resp, 400)
        resp = self.register(user=user, contacts=["*"])  # no Expires at all
        self.assertStatus(resp, 400)
        self.assertBindings(self.query(user), {uri: expires_range(DEFAULT_EXPIRES, 5)})

    def test_wildcard_cseq_out_of_order(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6102" % user
        cid = h.new_call_id()
        self.assertStatus(self.register(user=user, contacts=["<%s>" % uri], call_id=cid,
                                        cseq=10), 200)
        resp = self.register(user=user, contacts=["*"], expires=0, call_id=cid, cseq=5)
        self.assertStatus(resp, 400, "CSeq Out Of Order")
        self.assertEqual(len(self.query(user).contacts()), 1)

    def test_cseq_out_of_order(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6103" % user
        cid = h.new_call_id()
        self.assertStatus(self.register(user=user, contacts=["<%s>" % uri], call_id=cid,
                                        cseq=5, expires=600), 200)
        for cseq in (5, 4):  # equal, then lower: both fail, nothing changes
            resp = self.register(user=user, contacts=["<%s>" % uri], call_id=cid, cseq=cseq,
                                 expires=120)
            self.assertStatus(resp, 400, "CSeq Out Of Order")
        self.assertBindings(self.query(user), {uri: expires_range(600, 5)})
        resp = self.register(user=user, contacts=["<%s>" % uri], call_id=cid, cseq=6, expires=120)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(120)})

    def test_other_methods_are_looked_up(self):
        # The redirect server (docs/location-service.md) answers every other
        # method for an AOR; the Request-URI here (sip:example.com) has no
        # bindings: 404. The registrar alone answers 405 (test_location.py).
        for method in ("INVITE", "SUBSCRIBE", "MESSAGE", "BYE", "NOTIFY", "PUBLISH", "INFO",
                       "UPDATE", "REFER"):
            body = b"hello" if method == "MESSAGE" else b""
            extra = [("Content-Type", "text/plain")] if body else []
            if method in ("SUBSCRIBE", "NOTIFY", "PUBLISH"):
                extra.append(("Event", "presence"))
            req = self.udp.register(method=method, contacts=["<sip:m@127.0.0.1:1>"],
                                    extra=extra, body=body)
            resp = self.udp.request(req)
            self.assertStatus(resp, 404)
            self.assertEqual(resp.get("CSeq"), "1 %s" % method)

    def test_ack_not_answered(self):
        req = self.udp.register(method="ACK", to="<sip:a@example.com>;tag=77")
        self.udp.send(req)
        self.udp.expect_silence(0.5)
        self.assertAlive()

    def test_cancel_unmatched_481(self):
        req = self.udp.register(method="CANCEL")
        resp = self.udp.request(req)
        self.assertStatus(resp, 481)

    def test_420_unknown_require(self):
        user = h.unique_user()
        resp = self.register(user=user, contacts=["<sip:%s@127.0.0.1:6110>" % user],
                             extra=[("Require", "foo")])
        self.assertStatus(resp, 420)
        self.assertEqual([t.strip() for t in ",".join(resp.all("Unsupported")).split(",")],
                         ["foo"], resp.dump())
        self.assertEqual(self.query(user).contacts(), [])

    def test_420_lists_only_unknown_tags(self):
        resp = self.register(contacts=["<sip:a@127.0.0.1:6111>"],
                             extra=[("Require", "path, foo"), ("Require", "bar")])
        self.assertStatus(resp, 420)
        tags = {t.strip() for t in ",".join(resp.all("Unsupported")).split(",")}
        self.assertEqual(tags, {"foo", "bar"}, resp.dump())

    def test_420_on_options_too(self):
        # RFC 3261 8.2.2.3: any request but CANCEL/ACK with an unknown Require tag.
        resp = self.udp.request(self.udp.options(extra=[("Require", "foo")]))
        self.assertStatus(resp, 420)
        self.assertEqual([t.strip() for t in ",".join(resp.all("Unsupported")).split(",")],
                         ["foo"], resp.dump())

    def test_invalid_expiry_values(self):
        for contact, expires, names in (
                ("<sip:a@127.0.0.1:6120>;expires=abc", None, "Contact"),
                ("<sip:a@127.0.0.1:6121>", "-1", "Expires"),
                ("<sip:a@127.0.0.1:6122>;q=2", None, "Contact")):
            resp = self.register(contacts=[contact], expires=expires)
            self.assertStatus(resp, 400)
            self.assertRegex(resp.reason, r"(?i)\b%s\b" % names, resp.dump())

    def test_require_path_supported(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6112" % user
        resp = self.register(user=user, contacts=["<%s>" % uri],
                             extra=[("Require", "path"), ("Supported", "path"),
                                    ("Path", "<sip:edge.example.com;lr>")])
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})


class Malformed(MainCase):
    """Unparseable input is dropped without an answer, unless its Via, From,
    To, Call-ID and CSeq can still be read (then 400 names the problem);
    locusd keeps serving."""

    def valid_after(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6200" % user
        resp = self.register(user=user, contacts=["<%s>" % uri])
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})

    def dropped(self, data):
        self.udp.send(data)
        self.udp.expect_silence(0.3)
        self.valid_after()

    def test_garbage_text(self):
        self.dropped(b"hello world, this is not SIP\r\n\r\n")

    def test_truncated_start_line(self):
        self.dropped(b"REGISTER sip:exam")

    def test_start_line_without_version(self):
        req = self.udp.register().to_bytes()
        self.dropped(req.replace(b" SIP/2.0\r\n", b"\r\n", 1))

    def test_missing_via(self):
        self.dropped(self.udp.register(contacts=["<sip:a@127.0.0.1:1>"], omit=["Via"]))

    def test_unusable_via(self):
        self.dropped(self.udp.register(via="garbage", contacts=["<sip:a@127.0.0.1:1>"]))

    def test_binary_junk(self):
        rnd = random.Random(1)
        for n in (1, 7, 100, 1400):
            self.udp.send(bytes(rnd.getrandbits(8) for _ in range(n)))
        self.udp.expect_silence(0.3)
        self.valid_after()

    def test_headers_without_blank_line(self):
        # The final CRLF missing: still answerable.
        req = self.udp.register(contacts=["<sip:a@127.0.0.1:1>"])
        self.udp.send(req.to_bytes()[:-2])
        resp = self.udp.recv(2.0)
        self.assertIsNotNone(resp, "no answer to a request without its blank line")
        self.assertStatus(resp, 400)
        self.assertIn("no empty line", resp.reason)
        self.assertEqual(resp.get("Call-ID"), req.call_id)
        self.valid_after()

    def test_response_not_answered(self):
        # A stray response must never be answered (RFC 3261 18.1.2).
        data = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
                b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>;tag=2\r\n"
                b"Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"
                % (self.udp.local_port, h.new_branch().encode(), h.new_call_id().encode()))
        self.dropped(data)

    def test_empty_and_crlf_datagrams(self):
        self.udp.send(b"")
        self.udp.send(b"\r\n\r\n")
        self.udp.drain(0.2)  # a keep-alive answer would be acceptable
        self.valid_after()

    def test_content_length_beyond_datagram(self):
        data = self.udp.register(contacts=["<sip:a@127.0.0.1:1>"]).to_bytes()
        data = data.replace(b"Content-Length: 0", b"Content-Length: 500")
        self.udp.send(data)
        resp = self.udp.recv(0.3)
        if resp is not None:  # RFC 3261 18.3: 400 when answered at all
            self.assertStatus(resp, 400)
        self.valid_after()

    def test_garbage_flood(self):
        """5,000 bad datagrams from 4 sockets in under 5 s, then a valid REGISTER."""
        rnd = random.Random(2)
        no_via = self.udp.register(contacts=["<sip:a@127.0.0.1:1>"], omit=["Via"]).to_bytes()
        kinds = [
            lambda: bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300))),
            lambda: b"REGISTER sip:example.com SIP/2.0\r\nVia: " + b"x" * rnd.randint(0, 200),
            lambda: no_via,
            lambda: b"INVITE sip:\x00\x01 SIP/2.0\r\n\r\n",
            lambda: no_via[:rnd.randint(1, len(no_via) - 1)],
        ]
        payloads = [rnd.choice(kinds)() for _ in range(200)]
        socks = [UdpClient(MAIN.udp_addr) for _ in range(4)]
        try:
            start = time.monotonic()
            sent = 0
            while sent < 5000:
                for s in socks:
                    for _ in range(50):
                        try:
                            s.send(payloads[sent % len(payloads)])
                        except BlockingIOError:
                            pass
                        sent += 1
                time.sleep(0.02)
            self.assertLess(time.monotonic() - start, 5.0, "flood took too long to send")
            # Loopback may drop some under load; at least half must be counted.
            EXPECTED_COUNTS["parse_errors"] += sent // 2
            for s in socks:
                s.expect_silence(0.05)
        finally:
            for s in socks:
                s.close()
        self.udp.drain(0.2)
        # Allow for a busy daemon: Timer E retransmission for up to 8 s.
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6201" % user
        resp = self.udp.request(self.udp.register(user=user, contacts=["<%s>" % uri]), timeout=8)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})


class Tcp(LocusTestCase):

    def connect(self):
        c = TcpClient(MAIN.tcp_addr)
        self.addCleanup(c.close)
        return c

    def test_register_over_tcp(self):
        c = self.connect()
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6300;transport=tcp" % user
        req = c.register(user=user, contacts=["<%s>" % uri])
        resp = c.request(req)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})
        self.assertTrue(resp.top_via.startswith("SIP/2.0/TCP "), resp.dump())
        self.assertEqual(resp.get("Content-Length"), "0")
        # The same binding is visible over UDP.
        with UdpClient(MAIN.udp_addr) as u:
            q = u.request(u.register(user=user))
            self.assertBindings(q, {uri: expires_range(DEFAULT_EXPIRES, 4)})

    def test_options_over_tcp(self):
        c = self.connect()
        self.assertStatus(c.request(c.options()), 200)

    def test_two_requests_in_one_segment(self):
        c = self.connect()
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6301;transport=tcp" % user
        r1 = c.register(user=user, contacts=["<%s>" % uri])
        r2 = c.options()
        c.send(r1.to_bytes() + r2.to_bytes())
        # SIP matches responses by transaction, not by order: a request handed to
        # another shard may be answered after a later one.
        got = {}
        for _ in range(2):
            resp = c.recv(3)
            self.assertIsNotNone(resp, "answers missing (framing of two requests in one "
                                 "segment); got %r" % sorted(got))
            got[resp.branch] = resp
        self.assertEqual(sorted(got), sorted([r1.branch, r2.branch]))
        a, b = got[r1.branch], got[r2.branch]
        self.assertStatus(a, 200)
        self.assertBindings(a, {uri: expires_range(DEFAULT_EXPIRES)})
        self.assertStatus(b, 200)

    def test_request_split_across_segments(self):
        c = self.connect()
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6302;transport=tcp" % user
        data = c.register(user=user, contacts=["<%s>" % uri]).to_bytes()
        cuts = [0, 5, 40, len(data) // 2, len(data) - 3, len(data) - 1, len(data)]
        for i in range(len(cuts) - 1):
            c.send(data[cuts[i]:cuts[i + 1]])
            if i < len(cuts) - 2:
                time.sleep(0.15)
                self.assertIsNone(c.recv(0.01), "answered before the request was complete")
        resp = c.recv(3)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})

    def test_body_framed_by_content_length(self):
        # A MESSAGE whose body arrives in two pieces, then an OPTIONS glued to it.
        c = self.connect()
        body = b"a body of twenty-six bytes"
        m = c.register(method="MESSAGE", extra=[("Content-Type", "text/plain")], body=body)
        o = c.options()
        data = m.to_bytes()
        c.send(data[:-10])
        time.sleep(0.2)
        c.send(data[-10:] + o.to_bytes())
        got = {}
        for _ in range(2):
            resp = c.recv(3)
            self.assertIsNotNone(resp, "answers missing; got %r" % sorted(got))
            got[resp.branch] = resp
        self.assertEqual(sorted(got), sorted([m.branch, o.branch]))
        # The MESSAGE goes to the redirect server: no bindings for its URI.
        self.assertEqual((got[m.branch].status, got[o.branch].status), (404, 200))

    def test_pipelined_requests_all_answered(self):
        # 50 REGISTERs in one write; each answered once on this connection (in
        # any order: AORs live on different shards).
        c = self.connect()
        reqs = {}
        for i in range(50):
            user = h.unique_user()
            uri = "sip:%s@127.0.0.1:%d;transport=tcp" % (user, 6400 + i)
            r = c.register(user=user, contacts=["<%s>" % uri])
            reqs[r.branch] = (r, uri)
        c.send(b"".join(r.to_bytes() for r, _ in reqs.values()))
        seen = set()
        for _ in reqs:
            resp = c.recv(5)
            self.assertIsNotNone(resp, "pipelined answers missing: %d of %d" % (len(seen), len(reqs)))
            self.assertIn(resp.branch, reqs)
            self.assertNotIn(resp.branch, seen, "answered twice")
            seen.add(resp.branch)
            self.assertStatus(resp, 200)
            self.assertBindings(resp, {reqs[resp.branch][1]: expires_range(DEFAULT_EXPIRES)})

    def test_crlf_keepalive_then_request(self):
        c = self.connect()
        c.send(b"\r\n\r\n")
        self.assertStatus(c.request(c.options()), 200)

    def test_garbage_on_connection_does_not_hurt_others(self):
        bad = socket.create_connection(MAIN.tcp_addr, timeout=3)
        try:
            bad.sendall(b"\x16\x03\x01 this is not SIP at all\r\n\r\n")
            bad.settimeout(1.0)
            try:
                data = bad.recv(4096)
                self.assertFalse(data.startswith(b"SIP/2.0 2"), data)
            except socket.timeout:
                pass
        finally:
            bad.close()
        c = self.connect()
        self.assertStatus(c.request(c.options()), 200)

    def test_oversized_message_not_buffered_forever(self):
        # More header bytes than --max_message_size (65535) and no end of
        # headers: locusd answers 513 or closes; it must not wait for more.
        s = socket.create_connection(MAIN.tcp_addr, timeout=3)
        try:
            s.sendall(b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;"
                      b"branch=z9hG4bKbig\r\nX-Padding: " + b"p" * 70000)
            data = b""
            deadline = time.monotonic() + 3
            closed = False
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                data += chunk
            self.assertTrue(closed or data.startswith(b"SIP/2.0 513"),
                            "connection neither closed nor answered 513: %r" % data[:200])
        finally:
            s.close()
        c = self.connect()
        self.assertStatus(c.request(c.options()), 200)

    def test_many_connections(self):
        # 100 connections open at once, one OPTIONS each, all answered.
        conns = []
        try:
            for _ in range(100):
                conns.append(TcpClient(MAIN.tcp_addr))
            reqs = []
            for c in conns:
                r = c.options()
                c.send(r)
                reqs.append(r)
            for c, r in zip(conns, reqs):
                resp = c.recv(5)
                self.assertIsNotNone(resp, "no answer on one of 100 connections")
                self.assertStatus(resp, 200)
                self.assertEqual(resp.branch, r.branch)
        finally:
            for c in conns:
                c.close()

    def test_client_closes_mid_request(self):
        s = socket.create_connection(MAIN.tcp_addr, timeout=3)
        s.sendall(b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;bra")
        s.close()
        c = self.connect()
        self.assertStatus(c.request(c.options()), 200)


class HostileStreams(LocusTestCase):
    """Clients that hold stream connections without asking anything: one that
    sends nothing, one that sends half a REGISTER a byte at a time
    (slowloris), one that never reads its answers. Each is closed within a
    bound (tcp_request_timeout, the unread-output bound), counted, and an
    honest client is served meanwhile."""

    def test_silent_and_slow_connections_are_closed(self):
        with Locusd(["--shards=1", "--tcp_request_timeout=2", "--max_tcp_connections=8"],
                    admin=True) as d:
            admin = d.admin()
            self.addCleanup(admin.close)
            silent = [socket.create_connection(d.tcp_addr, timeout=5) for _ in range(4)]
            slow = socket.create_connection(d.tcp_addr, timeout=5)
            for s in silent + [slow]:
                self.addCleanup(s.close)
            # An honest client is served while they hold their slots.
            honest = TcpClient(d.tcp_addr)
            self.addCleanup(honest.close)
            self.assertStatus(honest.request(honest.options()), 200)
            # The slow one: half a request, a byte every 0.5 s.
            half = (b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;"
                    b"branch=z9hG4bKslow\r\nMax-Forwards: 70\r\n")
            slow.sendall(half[:-10])
            started = time.monotonic()
            closed = {}
            tail = list(half[-10:])
            while len(closed) < 5 and time.monotonic() < started + 8:
                if tail and slow.fileno() not in closed:
                    try:
                        slow.sendall(bytes([tail.pop(0)]))
                    except OSError:
                        closed[slow.fileno()] = time.monotonic() - started
                for s in silent + [slow]:
                    if s.fileno() in closed:
                        continue
                    s.setblocking(False)
                    try:
                        if s.recv(1) == b"":
                            closed[s.fileno()] = time.monotonic() - started
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed[s.fileno()] = time.monotonic() - started
                time.sleep(0.1)
            self.assertEqual(len(closed), 5, "connections still open after 8 s: %d closed" % len(closed))
            # Within the request timeout (2 s) and the wheel's second, not
            # kept alive by the slow one's bytes.
            self.assertLessEqual(max(closed.values()), 4.5, closed)
            totals = admin.stats()["totals"]["counters"]
            self.assertEqual(totals["tcp_request_timeouts"], 5)
            # The honest client's connection asked something: still open.
            self.assertStatus(honest.request(honest.options()), 200)

    def test_a_client_that_never_reads_is_closed(self):
        with Locusd(["--shards=1"], admin=True) as d:
            s = socket.create_connection(d.tcp_addr, timeout=5)
            self.addCleanup(s.close)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # Thousands of OPTIONS, answers never read: past 1 MiB unread
            # (plus what the sockets buffer) the connection is closed.
            opts = TcpClient(d.tcp_addr)
            self.addCleanup(opts.close)
            request = bytes(opts.options())
            deadline = time.monotonic() + 20
            sent = 0
            closed = False
            s.settimeout(2)
            while time.monotonic() < deadline:
                try:
                    s.sendall(request * 50)
                    sent += 50
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    closed = True
                    break
            self.assertTrue(closed, "still open after %d unread answers" % sent)
            honest = TcpClient(d.tcp_addr)
            self.addCleanup(honest.close)
            self.assertStatus(honest.request(honest.options()), 200)


class Retransmission(MainCase):

    def test_retransmission_gets_cached_answer_and_is_not_reapplied(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6500" % user
        cid = h.new_call_id()
        r1 = self.udp.register(user=user, contacts=["<%s>" % uri], call_id=cid, cseq=1,
                               expires=600)
        a1 = self.udp.request(r1, retransmit=False)
        self.assertStatus(a1, 200)
        self.assertBindings(a1, {uri: expires_range(600)})
        # Let the Date change if the answer were made again.
        time.sleep(1.1)
        r2 = self.udp.register(user=user, contacts=["<%s>" % uri], call_id=cid, cseq=2, expires=0)
        a2 = self.udp.request(r2, retransmit=False)
        self.assertStatus(a2, 200)
        self.assertEqual(a2.contacts(), [])
        # The old REGISTER again: the cached answer, byte for byte, not re-applied.
        self.udp.send(r1)
        EXPECTED_COUNTS["retransmissions"] += 1
        again = self.udp.wait_for(r1, timeout=2)
        self.assertIsNotNone(again, "retransmission not answered")
        self.assertEqual(again.raw, a1.raw, "retransmission answer differs from the first:\n"
                         "--- first\n%s\n--- again\n%s" % (a1.dump(), again.dump()))
        self.assertEqual(self.query(user).contacts(), [], "the retransmission was re-applied")

    def test_immediate_retransmission_answered_once_each(self):
        user = h.unique_user()
        uri = "sip:%s@127.0.0.1:6501" % user
        r = self.udp.register(user=user, contacts=["<%s>" % uri])
        self.udp.send(r)
        first = self.udp.wait_for(r, timeout=2)
        self.assertStatus(first, 200)
        time.sleep(1.1)
        for _ in range(3):
            self.udp.send(r)
            EXPECTED_COUNTS["retransmissions"] += 1
            again = self.udp.wait_for(r, timeout=2)
            self.assertIsNotNone(again)
            self.assertEqual(again.raw, first.raw)
        self.udp.expect_silence(0.2)

    def test_error_answer_cached_too(self):
        user = h.unique_user()
        r = self.udp.register(user=user, contacts=["<sip:%s@127.0.0.1:6502>" % user], expires=5)
        first = self.udp.request(r, retransmit=False)
        self.assertStatus(first, 423)
        time.sleep(1.1)
        self.udp.send(r)
        EXPECTED_COUNTS["retransmissions"] += 1
        again = self.udp.wait_for(r, timeout=2)
        self.assertIsNotNone(again)
        self.assertEqual(again.raw, first.raw)

    def test_same_branch_other_method_is_another_transaction(self):
        r = self.udp.register(contacts=["<sip:a@127.0.0.1:6503>"])
        self.assertStatus(self.udp.request(r), 200)
        o = self.udp.options(branch=r.branch)
        resp = self.udp.request(o)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.cseq_method, "OPTIONS")
        self.assertEqual(resp.contacts(), [])


# ---------------------------------------------------------------------------
# Daemons of their own


class Restricted(LocusTestCase):
    """Non-default policy flags are honoured: domains, expiry bounds, contact
    limit, message size."""

    @classmethod
    def setUpClass(cls):
        cls.d = Locusd(["--shards=1", "--domains=example.com,Other.Net", "--min_expires=120",
                        "--default_expires=600", "--max_expires=1000", "--max_contacts=2",
                        "--max_message_size=2048"])
        cls.d.__enter__()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    def setUp(self):
        super().setUp()
        self.udp = UdpClient(self.d.udp_addr)
        self.addCleanup(self.udp.close)

    def register(self, **kw):
        return self.udp.request(self.udp.register(**kw))

    def test_served_domains(self):
        for domain in ("example.com", "other.net", "EXAMPLE.com"):
            user = h.unique_user()
            uri = "sip:%s@127.0.0.1:6600" % user
            resp = self.register(user=user, domain=domain, contacts=["<%s>" % uri])
            self.assertStatus(resp, 200)
            self.assertBindings(resp, {uri: expires_range(600)})

    def test_404_other_domain(self):
        user = h.unique_user()
        resp = self.register(user=user, domain="evil.org", contacts=["<sip:%s@127.0.0.1:1>" % user])
        self.assertStatus(resp, 404)

    def test_404_to_domain_not_served(self):
        user = h.unique_user()
        req = self.udp.register(user=user, to="<sip:%s@evil.org>" % user, ruri="sip:example.com",
                                contacts=["<sip:%s@127.0.0.1:1>" % user])
        self.assertStatus(self.udp.request(req), 404)

    def test_404_request_uri_domain_not_served(self):
        user = h.unique_user()
        req = self.udp.register(user=user, ruri="sip:evil.org",
                                contacts=["<sip:%s@127.0.0.1:1>" % user])
        self.assertStatus(self.udp.request(req), 404)
        self.assertEqual(self.register(user=user).contacts(), [])

    def test_oversized_garbage_dropped(self):
        # Larger than --max_message_size and no readable headers: nothing to
        # answer, so dropped; the next request is served.
        self.udp.send(bytes(random.Random(3).getrandbits(8) for _ in range(3000)))
        self.udp.expect_silence(0.3)
        self.assertStatus(self.udp.request(self.udp.options()), 200)

    def test_expiry_bounds(self):
        user = h.unique_user()
        resp = self.register(user=user, contacts=["<sip:%s@127.0.0.1:6601>" % user], expires=119)
        self.assertStatus(resp, 423)
        self.assertEqual(resp.get("Min-Expires"), "120")
        uri = "sip:%s@127.0.0.1:6602" % user
        resp = self.register(user=user, contacts=["<%s>" % uri], expires=5000)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(1000)})

    def test_max_contacts(self):
        user = h.unique_user()
        cs = ["<sip:%s@127.0.0.1:%d>" % (user, 6610 + i) for i in range(3)]
        self.assertStatus(self.register(user=user, contacts=cs), 403, "Too Many Contacts")
        self.assertStatus(self.register(user=user, contacts=cs[:2]), 200)
        self.assertStatus(self.register(user=user, contacts=cs[2:]), 403, "Too Many Contacts")

    def test_513_message_too_large(self):
        user = h.unique_user()
        req = self.udp.register(user=user, contacts=["<sip:%s@127.0.0.1:6620>" % user],
                                extra=[("X-Padding", "p" * 3000)])
        resp = self.udp.request(req)
        self.assertStatus(resp, 513)
        self.assertEqual(self.register(user=user).contacts(), [])
        # Just under the limit is fine.
        uri = "sip:%s@127.0.0.1:6621" % user
        req = self.udp.register(user=user, contacts=["<%s>" % uri])
        pad = 2048 - len(req.to_bytes()) - len("X-Padding: \r\n")
        req.headers.append(("X-Padding", "p" * pad))
        self.assertEqual(len(req.to_bytes()), 2048)
        resp = self.udp.request(req)
        self.assertStatus(resp, 200)
        self.assertBindings(resp, {uri: expires_range(600)})


@unittest.skipUnless(h.ipv6_available(), "no IPv6 loopback on this machine")
class MemoryBudget(LocusTestCase):
    """--max_aors and --max_bindings: past them a REGISTER that would add an
    AOR or a binding gets 503 with Retry-After and changes nothing; refreshes
    and removals pass; capacity_refused counts the refusals."""

    def test_budget(self):
        with Locusd(["--shards=1", "--max_aors=5", "--max_bindings=7"], admin=True) as d:
            udp = UdpClient(d.udp_addr)
            self.addCleanup(udp.close)
            admin = d.admin()
            self.addCleanup(admin.close)
            users = [h.unique_user("budget") for _ in range(6)]

            def contact(user, n):
                return "<sip:%s@127.0.0.1:%d>" % (user, 7300 + n)

            for user in users[:5]:
                self.assertStatus(udp.request(udp.register(user=user, contacts=[contact(user, 0)])), 200)
            resp = udp.request(udp.register(user=users[5], contacts=[contact(users[5], 0)]))
            self.assertStatus(resp, 503, "Service Unavailable (registrar full)")
            self.assertEqual(resp.get("Retry-After"), "300")
            self.assertEqual(udp.request(udp.register(user=users[5])).contacts(), [])
            # Two more bindings fit (7), the next does not; a refresh does.
            self.assertStatus(udp.request(udp.register(user=users[0], contacts=[contact(users[0], 1)])), 200)
            self.assertStatus(udp.request(udp.register(user=users[1], contacts=[contact(users[1], 1)])), 200)
            resp = udp.request(udp.register(user=users[2], contacts=[contact(users[2], 1)]))
            self.assertStatus(resp, 503)
            self.assertStatus(udp.request(udp.register(user=users[2], contacts=[contact(users[2], 0)],
                                                       expires=600)), 200)
            # A removal makes room.
            self.assertStatus(udp.request(udp.register(user=users[4], contacts=[contact(users[4], 0)],
                                                       expires=0)), 200)
            self.assertStatus(udp.request(udp.register(user=users[5], contacts=[contact(users[5], 0)])), 200)
            totals = admin.stats()["totals"]
            self.assertEqual(totals["counters"]["capacity_refused"], 2)
            self.assertEqual(totals["gauges"]["aors"], 5)
            self.assertEqual(totals["gauges"]["bindings"], 7)
            self.assertEqual(admin.request({"cmd": "config"})["config"]["max_aors"], 5)


class IPv6(LocusTestCase):
    """A daemon listening on both 127.0.0.1 and [::1] (comma-separated lists)."""

    @classmethod
    def setUpClass(cls):
        port = h.free_port_dual()
        both = "127.0.0.1:%d,[::1]:%d" % (port, port)
        cls.d = Locusd(["--shards=1", "--udp=" + both, "--tcp=" + both], port=port)
        cls.d.__enter__()
        cls.v6 = (h.LOOPBACK6, port)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    def test_udp_v6_register_and_v4_query(self):
        with UdpClient(self.v6) as u6, UdpClient(self.d.udp_addr) as u4:
            user = h.unique_user()
            uri = "sip:%s@[::1]:6700" % user
            req = u6.register(user=user, contacts=["<%s>" % uri])
            resp = u6.request(req)
            self.assertStatus(resp, 200)
            self.assertEqual(resp.top_via_params().get("rport"), str(u6.local_port), resp.dump())
            self.assertIn(resp.top_via_params().get("received"), (None, "::1", "[::1]"),
                          resp.dump())
            self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})
            q = u4.request(u4.register(user=user))
            self.assertBindings(q, {uri: expires_range(DEFAULT_EXPIRES, 4)})

    def test_udp_v6_received(self):
        with UdpClient(self.v6) as u6:
            req = u6.register(via=u6.via(sent_by="[2001:db8::7]:5060"),
                              contacts=["<sip:r@[2001:db8::7]>"])
            resp = u6.request(req)
            self.assertStatus(resp, 200)
            self.assertIn(resp.top_via_params().get("received"), ("::1", "[::1]"), resp.dump())
            self.assertEqual(resp.top_via_params().get("rport"), str(u6.local_port))

    def test_tcp_v6(self):
        with TcpClient(self.v6) as c:
            user = h.unique_user()
            uri = "sip:%s@[::1]:6701;transport=tcp" % user
            resp = c.request(c.register(user=user, contacts=["<%s>" % uri]))
            self.assertStatus(resp, 200)
            self.assertBindings(resp, {uri: expires_range(DEFAULT_EXPIRES)})


class Config(LocusTestCase):
    """Bad configuration: exit code 2 and a message. A JSON file is honoured and
    the command line wins over it."""

    def expect_exit_2(self, flags, what):
        port = h.free_port()
        listen = ["--udp=127.0.0.1:%d" % port, "--tcp=127.0.0.1:%d" % port]
        names = {f.split("=", 1)[0] for f in flags}
        base = [f for f in listen if f.split("=", 1)[0] not in names]
        code, err = h.run_locusd_expecting_exit(base + flags)
        self.assertIsNotNone(code, "%s: locusd kept running with %s\n%s" % (what, flags, err))
        self.assertEqual(code, 2, "%s: exit code %s with %s\n%s" % (what, code, flags, err))
        self.assertTrue(err.strip(), "%s: no message on stderr" % what)
        return err

    def write_json(self, text):
        fd, path = tempfile.mkstemp(suffix=".json", prefix="locusd-cfg-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_bad_udp_address(self):
        self.expect_exit_2(["--udp=not-an-address"], "bad address")

    def test_bad_port(self):
        self.expect_exit_2(["--udp=127.0.0.1:70000"], "port out of range")

    def test_bad_ipv6_reference(self):
        self.expect_exit_2(["--tcp=[::1:5060"], "unclosed IPv6 reference")

    def test_min_above_max(self):
        self.expect_exit_2(["--min_expires=600", "--max_expires=60"], "min > max")

    def test_bad_number(self):
        self.expect_exit_2(["--shards=abc"], "non-numeric shards")

    def test_bad_log_level(self):
        self.expect_exit_2(["--log_level=loud"], "unknown log level")

    def test_unreadable_config_file(self):
        self.expect_exit_2(["--config=/nonexistent/locusd.json"], "missing file")

    def test_invalid_json(self):
        self.expect_exit_2(["--config=" + self.write_json('{"udp": ["127.0.0.1:1"')], "bad JSON")

    def test_unknown_json_key(self):
        self.expect_exit_2(["--config=" + self.write_json('{"no_such_setting": 1}')],
                           "unknown key")

    def test_wrong_json_type(self):
        self.expect_exit_2(["--config=" + self.write_json('{"shards": "two"}')], "wrong type")

    def test_unknown_flag(self):
        err = self.expect_exit_2(["--no_such_flag=1"], "unknown flag")
        self.assertIn("no_such_flag", err)

    def test_no_listen_address(self):
        self.expect_exit_2(["--udp=", "--tcp="], "no listen address")

    def test_message_size_out_of_range(self):
        self.expect_exit_2(["--max_message_size=100"], "max_message_size below its minimum")

    def good_config(self, port):
        return self.write_json(json.dumps({
            "udp": ["127.0.0.1:%d" % port], "tcp": ["127.0.0.1:%d" % port], "shards": 1,
            "domains": ["example.com"], "min_expires": 120, "default_expires": 600,
            "max_expires": 1000, "max_contacts": 2, "log_level": "info"}))

    def test_json_config_honoured(self):
        port = h.free_port()
        path = self.good_config(port)
        d = Locusd(["--config=" + path], port=port, add_listen_flags=False)
        with d:
            with UdpClient(d.udp_addr) as u:
                user = h.unique_user()
                uri = "sip:%s@127.0.0.1:6800" % user
                resp = u.request(u.register(user=user, contacts=["<%s>" % uri]))
                self.assertStatus(resp, 200)
                self.assertBindings(resp, {uri: expires_range(600)})
                resp = u.request(u.register(user=user, contacts=["<%s>" % uri], expires=60))
                self.assertStatus(resp, 423)
                self.assertEqual(resp.get("Min-Expires"), "120")
                resp = u.request(u.register(user=user, contacts=["<%s>" % uri], expires=9999))
                self.assertBindings(resp, {uri: expires_range(1000)})
                cs = ["<sip:%s@127.0.0.1:%d>" % (user, 6801 + i) for i in range(2)]
                self.assertStatus(u.request(u.register(user=user, contacts=cs)), 403)
                self.assertStatus(u.request(u.register(user=user, domain="other.net",
                                                       contacts=["<%s>" % uri])), 404)
            with TcpClient(d.tcp_addr) as c:
                self.assertStatus(c.request(c.options()), 200)
        d.cleanup()

    def test_command_line_overrides_file(self):
        port = h.free_port()
        path = self.good_config(port)
        d = Locusd(["--config=" + path, "--min_expires=90"], port=port, add_listen_flags=False)
        with d:
            with UdpClient(d.udp_addr) as u:
                user = h.unique_user()
                resp = u.request(u.register(user=user, contacts=["<sip:%s@127.0.0.1:1>" % user],
                                            expires=89))
                self.assertStatus(resp, 423)
                self.assertEqual(resp.get("Min-Expires"), "90")
                resp = u.request(u.register(user=user, contacts=["<sip:%s@127.0.0.1:1>" % user],
                                            expires=90))
                self.assertStatus(resp, 200)
        d.cleanup()

    def test_last_occurrence_of_a_flag_counts(self):
        # "--tcp= --tcp=addr" listens on addr; "--tcp=addr --tcp=" does not.
        port = h.free_port()
        both = "127.0.0.1:%d" % port
        d = Locusd(["--udp=" + both, "--tcp=", "--tcp=" + both], port=port,
                   add_listen_flags=False)
        with d:
            with TcpClient(d.tcp_addr) as c:
                self.assertStatus(c.request(c.options()), 200)
        d.cleanup()
        d = Locusd(["--udp=" + both, "--tcp=" + both, "--tcp="], port=port, tcp=False,
                   add_listen_flags=False)
        with d:
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
        d.cleanup()


class Expiry(LocusTestCase):
    """Bindings lapse: a daemon with expiries of seconds. Its clock counts whole
    seconds, so a binding granted N seconds lapses between N-1 and N seconds of
    real time later; the waits below keep clear of those boundaries."""

    def test_bindings_expire(self):
        with Locusd(["--shards=2", "--min_expires=1", "--default_expires=4",
                     "--max_expires=4"]) as d, UdpClient(d.udp_addr) as u:
            user = h.unique_user()
            a = "sip:%s@127.0.0.1:6900" % user
            b = "sip:%s@127.0.0.1:6901" % user
            resp = u.request(u.register(user=user, contacts=["<%s>;expires=1" % a, "<%s>" % b]))
            start = time.monotonic()
            self.assertStatus(resp, 200)
            self.assertBindings(resp, {a: (1, 1), b: (4, 4)})
            time.sleep(max(0.0, start + 2.1 - time.monotonic()))
            resp = u.request(u.register(user=user))  # a lapsed, b has 1..2 s left
            self.assertBindings(resp, {b: (1, 2)})
            time.sleep(max(0.0, start + 5.0 - time.monotonic()))
            resp = u.request(u.register(user=user))
            self.assertEqual(resp.contacts(), [], "binding past its expiry still listed:\n"
                             + resp.dump())
            # The AOR can register again after everything lapsed.
            resp = u.request(u.register(user=user, contacts=["<%s>" % a], expires=3))
            self.assertBindings(resp, {a: (3, 3)})
        d.cleanup()


class Lifecycle(LocusTestCase):

    def test_sigterm_under_load(self):
        """SIGTERM while REGISTERs keep arriving: exit 0 within the stop timeout."""
        d = Locusd(["--shards=2"])
        with d:
            u = UdpClient(d.udp_addr)
            try:
                u.sock.setblocking(False)
                payloads = [u.register(contacts=["<sip:l%d@127.0.0.1:%d>" % (i, 8000 + i)]).to_bytes()
                            for i in range(300)]
                start = time.monotonic()
                for i in range(3000):  # bounded: 3,000 datagrams, ~1.5 s at most
                    try:
                        u.sock.sendto(payloads[i % len(payloads)], u.server)
                    except BlockingIOError:
                        pass
                    if i == 1000:
                        d.proc.send_signal(signal.SIGTERM)
                    if i % 100 == 0:
                        time.sleep(0.05)
                        u.drain(0)
                    if time.monotonic() - start > 3:
                        break
            finally:
                u.close()
            d.stop(timeout=5)  # waits for the exit already under way, checks 0
        d.cleanup()


    def test_sigint_exits_0_with_shard_lines(self):
        d = Locusd(["--shards=1"])
        with d:
            with UdpClient(d.udp_addr) as u:
                for _ in range(5):
                    self.assertStatus(u.request(u.options()), 200)
            d.stop(sig=signal.SIGINT)
            stats = d.shard_stats()
            self.assertEqual(sorted(stats), [0], d.stderr_text())
            received, handed_off, answered = stats[0]
            self.assertGreaterEqual(received, 5)
            self.assertEqual(handed_off, 0, "one shard hands nothing off")
            self.assertGreaterEqual(answered, 5)
        d.cleanup()

    def test_listening_line_names_addresses(self):
        d = Locusd(["--shards=1"])
        with d:
            text = d.stderr_text()
            line = next(l for l in text.splitlines() if "listening on" in l)
            self.assertIn("127.0.0.1:%d" % d.port, line)
        d.cleanup()

    def test_tcp_only_daemon(self):
        # --udp= (empty) disables UDP: no UDP listener at all, not the default one.
        # A daemon that wrongly fell back to the default 127.0.0.1:5060 could join
        # another program's SO_REUSEPORT group there and take its datagrams, so
        # this runs only while 5060/udp is free.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", 5060))
        except OSError:
            self.skipTest("127.0.0.1:5060/udp is in use: not safe to test --udp=")
        finally:
            probe.close()
        d = Locusd(["--shards=1"], udp=False)
        with d:
            line = next(l for l in d.stderr_text().splitlines() if "listening on" in l)
            self.assertNotRegex(line, r"(?i)\budp\b.*\d+\.\d+\.\d+\.\d+:\d+|\budp \[",
                                "UDP listener despite --udp=: " + line)
            with TcpClient(d.tcp_addr) as c:
                self.assertStatus(c.request(c.options()), 200)
        d.cleanup()


if __name__ == "__main__":
    h.run_unittests()
