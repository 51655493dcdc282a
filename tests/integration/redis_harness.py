"""Real Redis servers for the cluster tests: a stand-alone Redis, or a Redis
Cluster of masters and replicas made with `redis-cli --cluster create`. Each
server runs in its own temporary directory on a free loopback port (its
cluster bus on port + 10000), dies with the test program (PDEATHSIG), and is
stopped by PID.

    with RedisCluster(masters=3, replicas=1) as cluster:
        cluster.seeds            # "127.0.0.1:p1,127.0.0.1:p2,..."
        cluster.cli(port, "CLUSTER", "INFO")
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import locus_harness as h

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def _free_tcp_pair():
    """A loopback port free for TCP, whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = h.free_port()
        if port + 10000 > 65535:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((h.LOOPBACK4, port + 10000))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise h.HarnessError("no loopback port free with its cluster bus port")


class RedisServer:
    """One redis-server process (cluster-enabled when `cluster`)."""

    def __init__(self, cluster=False):
        self.port = _free_tcp_pair()
        self.dir = tempfile.mkdtemp(prefix="locus-redis-")
        self.cluster = cluster
        self.proc = None

    @property
    def address(self):
        return "%s:%d" % (h.LOOPBACK4, self.port)

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", h.LOOPBACK4,
                "--dir", self.dir, "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "2000"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=h._die_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise h.HarnessError("redis-server on %d exited: %s" % (self.port, self.log()))
            if self.cli("PING").strip() == "PONG":
                return
            time.sleep(0.05)
        raise h.HarnessError("redis-server on %d not answering: %s" % (self.port, self.log()))

    def cli(self, *args, timeout=10):
        """redis-cli's answer to one command, as text ('' when unreachable)."""
        r = subprocess.run([REDIS_CLI, "-h", h.LOOPBACK4, "-p", str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        return r.stdout

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def stop(self):
        self.kill(signal.SIGTERM)
        if os.environ.get("LOCUS_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


class RedisCluster:
    """A Redis Cluster on loopback: `masters` masters, each with `replicas`
    replicas, every slot assigned, state ok on every node."""

    def __init__(self, masters=3, replicas=1):
        self.servers = [RedisServer(cluster=True) for _ in range(masters * (1 + replicas))]
        self.masters = masters
        self.replicas = replicas

    @property
    def seeds(self):
        return ",".join(s.address for s in self.servers[:self.masters])

    def start(self):
        for s in self.servers:
            s.start()
        r = subprocess.run([REDIS_CLI, "--cluster", "create"] + [s.address for s in self.servers]
                           + ["--cluster-replicas", str(self.replicas), "--cluster-yes"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise h.HarnessError("redis-cli --cluster create failed:\n%s%s" % (r.stdout, r.stderr))
        self.wait_ok()
        return self

    def wait_ok(self, timeout=30):
        """Every live node says cluster_state:ok, and every replica has
        finished its sync with its master (a replica still syncing can be
        neither failed over to by hand nor promoted when its master dies)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [s for s in self.servers if s.proc.poll() is None]
            if all("cluster_state:ok" in s.cli("CLUSTER", "INFO") for s in live) and \
                    all(self._in_sync(s.cli("INFO", "replication")) for s in live):
                return
            time.sleep(0.1)
        raise h.HarnessError("cluster not ok within %d s" % timeout)

    @staticmethod
    def _in_sync(info):
        if "role:slave" not in info:
            return "role:master" in info
        return "master_link_status:up" in info and "master_sync_in_progress:0" in info

    def server_at(self, port):
        return next(s for s in self.servers if s.port == port)

    def master_ports(self):
        """Ports of the nodes that are masters now (from the first live node)."""
        live = next(s for s in self.servers if s.proc.poll() is None)
        ports = []
        for line in live.cli("CLUSTER", "NODES").splitlines():
            fields = line.split()
            if len(fields) > 2 and "master" in fields[2] and "fail" not in fields[2]:
                ports.append(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return sorted(ports)

    def stop(self):
        for s in self.servers:
            s.stop()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
