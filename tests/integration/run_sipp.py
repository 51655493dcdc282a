#!/usr/bin/env python3
"""Runs one SIPp scenario of tests/sipp/ against a locusd of its own.

  run_sipp.py --locusd PATH --sipp PATH --scenario register --transport udp [--calls N]

The scenario file is tests/sipp/NAME.TRANSPORT.xml when it exists (a variant
for that transport), else tests/sipp/NAME.xml; tests/sipp/NAME.csv, when it
exists, is its injection file (-inf). A scenario may need daemon flags and
SIPp arguments of its own (SCENARIO_FLAGS, SCENARIO_SIPP_ARGS: register_auth
turns Digest authentication on). SIPp must exit 0 with every call successful,
and locusd must then stop cleanly (SIGTERM, exit 0). Everything is bounded:
SIPp stops itself after -m calls or -timeout, and is killed if it does not.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ next to the sources
import locus_harness as h  # noqa: E402

SIPP_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sipp"))

# The policy the scenarios are written for (min_expires.xml expects a 423 for
# Expires: 30; users.csv holds expiries within these bounds).
LOCUSD_FLAGS = ["--shards=2", "--min_expires=60", "--default_expires=3600",
                "--max_expires=7200", "--max_contacts=16"]

# Scenarios that need more than LOCUSD_FLAGS.
#   register_auth: Digest authentication for the users of
#   register_auth.users.json (their passwords are in the scenario). SIPp 3.6.1
#   computes MD5 digests only and answers the FIRST WWW-Authenticate header,
#   so locusd offers MD5 alone (SHA-256 is tested by test_auth.py's own
#   client). Every call makes one wrong-password attempt from 127.0.0.1, and
#   failures from one address add up across users: the lockout limit is set
#   far above any call count.
SCENARIO_FLAGS = {
    "register_auth": ["--auth=true", "--auth_realm=example.com", "--auth_algorithms=MD5",
                      "--users_file=" + os.path.join(SIPP_DIR, "register_auth.users.json"),
                      "--auth_max_failures=100000"],
}

# SIPp arguments a scenario needs. register_auth: SIPp's digest uri defaults to
# sip:remote_ip:remote_port; locusd requires the Request-URI as written
# (sip:example.com in the scenario).
SCENARIO_SIPP_ARGS = {
    "register_auth": ["-auth_uri", "example.com"],
}

SIPP_TIMEOUT = 20      # seconds, SIPp's own -timeout
KILL_AFTER = 40        # seconds before the runner kills SIPp


def tail(path, lines=60):
    try:
        with open(path, "r", errors="replace") as f:
            return "\n".join(f.read().splitlines()[-lines:])
    except OSError:
        return "(none)"


def main():
    def extra(parser):
        parser.add_argument("--scenario", required=True)
        parser.add_argument("--transport", choices=["udp", "tcp"], required=True)
        parser.add_argument("--calls", type=int, default=5)

    args, _ = h.parse_args(extra=extra)
    if not args.sipp or not os.access(args.sipp, os.X_OK):
        print("sipp not found: %r (pass --sipp PATH)" % args.sipp, file=sys.stderr)
        return 2
    variant = os.path.join(SIPP_DIR, "%s.%s.xml" % (args.scenario, args.transport))
    scenario = variant if os.path.exists(variant) else os.path.join(SIPP_DIR, args.scenario + ".xml")
    if not os.path.exists(scenario):
        print("no scenario %s" % scenario, file=sys.stderr)
        return 2
    csv = os.path.join(SIPP_DIR, args.scenario + ".csv")
    if not os.path.exists(csv):
        csv = os.path.join(SIPP_DIR, "users.csv") if args.scenario == "register" else None

    work = tempfile.mkdtemp(prefix="locus-sipp-")
    error_file = os.path.join(work, "sipp_errors.log")
    log_file = os.path.join(work, "sipp_logs.log")
    d = h.Locusd(LOCUSD_FLAGS + SCENARIO_FLAGS.get(args.scenario, []))
    ok = False
    try:
        with d:
            local_port = h.free_port()
            service = "s%s" % secrets.token_hex(3)  # AOR user prefix unique to this run
            cmd = [args.sipp, "%s:%d" % (d.host, d.port),
                   "-sf", scenario,
                   "-t", "u1" if args.transport == "udp" else "t1",
                   "-i", "127.0.0.1", "-p", str(local_port),
                   "-s", service,
                   "-cid_str", "locus-%u-%p@%s",
                   "-m", str(args.calls), "-r", "10", "-l", "10",
                   "-timeout", "%ds" % SIPP_TIMEOUT, "-timeout_error",
                   "-recv_timeout", "5000", "-max_retrans", "5",
                   "-max_recv_loops", "1000",
                   "-trace_err", "-error_file", error_file,
                   "-trace_logs", "-log_file", log_file,
                   "-nostdin"]
            if csv:
                cmd += ["-inf", csv]
            cmd += SCENARIO_SIPP_ARGS.get(args.scenario, [])
            print("+ " + " ".join(cmd), flush=True)
            try:
                proc = subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      timeout=KILL_AFTER)
                out = proc.stdout.decode("utf-8", "replace")
                rc = proc.returncode
            except subprocess.TimeoutExpired as e:
                out = (e.stdout or b"").decode("utf-8", "replace")
                rc = None
            m = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", out)
            m_failed = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)
            successful = int(m[-1]) if m else None
            failed = int(m_failed[-1]) if m_failed else None
            problems = []
            if rc is None:
                problems.append("sipp did not exit within %d s and was killed" % KILL_AFTER)
            elif rc != 0:
                problems.append("sipp exit code %d (0: all calls successful)" % rc)
            if successful != args.calls:
                problems.append("successful calls: %s of %d (failed: %s)"
                                % (successful, args.calls, failed))
            if problems:
                screen = [l for l in out.splitlines() if l.strip()]
                print("FAIL: %s\n--- sipp screen (last 45 lines)\n%s\n--- sipp errors\n%s\n"
                      "--- scenario log\n%s\n--- locusd stderr\n%s"
                      % ("; ".join(problems), "\n".join(screen[-45:]), tail(error_file, 80),
                         tail(log_file, 20), tail(d.stderr_path, 30)), file=sys.stderr, flush=True)
            else:
                ok = True
                table = re.search(r"Messages\s+Retrans.*?(?=^-{20})", out, re.S | re.M)
                if table:  # the last screen's message counts, for the log
                    print("\n".join(l for l in table.group(0).splitlines() if l.strip()))
                print("PASS: %s over %s, %d calls" % (args.scenario, args.transport, args.calls))
        # leaving the with-block stopped locusd and checked its exit code
    except (h.HarnessError, AssertionError) as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        ok = False
    finally:
        d.kill()
        d.cleanup()
        if os.environ.get("LOCUS_KEEP_TMP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
