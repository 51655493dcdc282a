#!/usr/bin/env python3
"""engine/cluster/'s protocol side against a real Redis Cluster (3 masters,
3 replicas, made with redis-cli --cluster create on loopback): runs the
C++ checks of cluster/redis_protocol_check.cc with the cluster's seeds and
servers' PIDs (its last checks fail a master over by hand, then kill one),
and checks that the locus_cas2 function reached the replicas."""
import argparse
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import locus_harness as h  # noqa: E402
import redis_harness as rh  # noqa: E402

CHECK = None


class ProtocolAgainstRedisCluster(unittest.TestCase):
    def test_protocol_checks(self):
        with rh.RedisCluster(masters=3, replicas=1) as cluster:
            env = dict(os.environ, LOCUS_REDIS_SEEDS=cluster.seeds,
                       LOCUS_REDIS_PIDS=",".join("%d=%d" % (s.port, s.proc.pid)
                                                 for s in cluster.servers))
            r = subprocess.run([CHECK], env=env, capture_output=True, text=True, timeout=120)
            sys.stderr.write(r.stdout[-3000:])
            self.assertEqual(r.returncode, 0, r.stdout[-6000:] + r.stderr[-2000:])
            # Every check that started passed, and none was filtered out.
            ran = re.search(r"Running (\d+) tests", r.stdout)
            self.assertIsNotNone(ran, r.stdout[-2000:])
            self.assertIn("[  PASSED  ] %s tests" % ran.group(1), r.stdout)
            self.assertGreaterEqual(int(ran.group(1)), 12)
            # FUNCTION LOAD on the masters is replicated: every live node has it.
            for server in cluster.servers:
                if server.proc.poll() is None:
                    self.assertIn("locus_cas2", server.cli("FUNCTION", "LIST"), server.address)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--locusd")
    parser.add_argument("--check", required=True)
    args, rest = parser.parse_known_args()
    CHECK = args.check
    if rh.REDIS_SERVER is None or rh.REDIS_CLI is None:
        sys.exit("redis-server and redis-cli are needed (tools/bootstrap installs redis-server)")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
