#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Live counter snapshots balance: dpcapd on net_pcap infinite_rx (two rx
queues, two busy workers) with several jobs, one started and one stopped
while the test runs, polled with stats.get over the control socket as fast
as the test can for a few seconds, and with /dpcap/stats over DPDK
telemetry. Every snapshot, not only a quiescent one, must balance:
per worker rx == unwanted + matched; across workers and jobs the (packet,
job) deliveries equal the jobs' matched sum and the workers' drops are
part of the jobs' drops; per job in_flight (matched - written - dropped)
is never negative, and is 0 once the job has ended and finished; the
daemon's own "balanced" flag is true. Without consistent snapshots a
reader catches a worker between "rx" and "unwanted"/"matched" (or between
a job's "matched" and the worker's "deliveries") within a few polls."""
import json
import os
import shutil
import socket
import sys
import time

from dpcapd_util import Tap, base_config, gen, start_daemon, tmpdir, wait_for

POLL_S = 4.0


class Conn:
    """A JSON-lines client of the control socket."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(path)
        self.buf = b""
        self.rid = 0

    def call(self, method, params=None):
        self.rid += 1
        req = {"jsonrpc": "2.0", "method": method, "id": self.rid}
        if params is not None:
            req["params"] = params
        self.s.sendall(json.dumps(req).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                d = self.s.recv(1 << 20)
                if not d:
                    raise RuntimeError("control socket closed")
                self.buf += d
            ln, self.buf = self.buf.split(b"\n", 1)
            m = json.loads(ln)
            if m.get("id") == self.rid:
                return m


def telemetry(prefix):
    """A connection to DPDK telemetry of the daemon, or None."""
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    if not wait_for(lambda: os.path.exists(path), 10):
        return None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(path)
    json.loads(s.recv(1 << 16))           # the greeting
    return s


def tel_call(s, cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20)).get(cmd)


def snapshot_faults(st):
    """What does not balance in one stats.get result ([] when it does)."""
    bad = []
    for w in st["workers"]:
        if w["rx"] != w["unwanted"] + w["matched"]:
            bad.append(f"worker {w['id']}: rx {w['rx']} != unwanted {w['unwanted']} "
                       f"+ matched {w['matched']}")
    deliveries = sum(w["deliveries"] for w in st["workers"])
    jm = sum(j["counters"]["matched"] for j in st["jobs"])
    if deliveries != jm:
        bad.append(f"workers' deliveries {deliveries} != jobs' matched {jm}")
    for r in st["drops"]:
        wd = sum(w["dropped"][r] for w in st["workers"])
        if wd > st["drops"][r]:
            bad.append(f"workers dropped {wd} {r} > jobs' {st['drops'][r]}")
    for j in st["jobs"]:
        c = j["counters"]
        fl = c["matched"] - c["written"] - sum(c["dropped"].values())
        if fl != c["in_flight"] or fl < 0:
            bad.append(f"job {j['name']}: in_flight {c['in_flight']} (matched {c['matched']}"
                       f" written {c['written']} dropped {c['dropped_total']})")
        if j["state"] != "running" and not j["finishing"] and fl != 0:
            bad.append(f"job {j['name']} ended ({j['reason']}) with {fl} in flight")
    for p in st["ports"]:
        if p["rx_packets"] != sum(q["rx_packets"] for q in p["queues"]):
            bad.append(f"port {p['name']}: rx_packets != sum of its queues")
    if not bad and st["balanced"] is not True:
        bad.append("\"balanced\" is false")
    return bad


def main():
    t = Tap()
    d = tmpdir("statslive")
    pcap = os.path.join(d, "in.pcap")
    gen("overlay", pcap, n=1500, seed=5)
    root = os.path.join(d, "cap")
    sock = os.path.join(d, "ctl.sock")
    ring = {"file_bytes": 1 << 20, "max_files": 2, "mode": "ring"}
    jobs = [
        {"name": "vxlan", "filter": "vxlan", "write": "inner", "snaplen": 128,
         "rotate": ring},
        {"name": "web", "filter": "tcp port 80 or tcp port 443", "rotate": ring},
        {"name": "ssh", "filter": "tcp port 22", "snaplen": 64, "rotate": ring},
        {"name": "dns", "filter": "udp port 53", "rotate": ring},
        {"name": "counted", "filter": "vxlan and tcp", "limits": {"packets": 20000}},
    ]
    cfg = base_config(root, [(f"net_pcap0,rx_pcap={pcap},rx_pcap={pcap},infinite_rx=1", 2)],
                      mbufs=8191, mbuf_cache=64, blocks=256, block_size=65536,
                      worker_idle_sleep_us=0, control={"socket": sock}, jobs=jobs)
    p = start_daemon(cfg, d, "live", lcores="(0-2)@(0-1)", mem=512)
    prefix = f"dpc-dp-live-{os.getpid()}"
    try:
        if not t.check(wait_for(lambda: os.path.exists(sock) or p.poll() is not None, 60)
                       and p.poll() is None, "dpcapd up with its control socket"):
            with open(p.log_path) as f:
                t.diag(f.read()[-2000:])
            return t.done()
        c = Conn(sock)
        wait_for(lambda: sum(w["rx"] for w in c.call("stats.get")["result"]["workers"]) > 0, 20)
        n = torn = 0
        faults = []
        tel_n = tel_bad = 0
        started = stopped = False
        t0 = time.time()
        slowest = 0.0
        # at least POLL_S, and on until the job start and stop happened
        # (a loaded machine can stall a reply for seconds)
        while (time.time() - t0 < POLL_S or not (started and stopped)) \
                and time.time() - t0 < 30:
            if not started and time.time() - t0 > POLL_S / 4:
                r = c.call("job.start", {"name": "late", "filter": "udp port 53",
                                         "rotate": ring})
                started = t.check("result" in r, f"job.start while polling: {r.get('error')}")
            if not stopped and time.time() - t0 > POLL_S / 2:
                ids = [j["id"] for j in c.call("stats.get")["result"]["jobs"]
                       if j["name"] == "web"]
                r = c.call("job.stop", {"id": ids[0]}) if ids else {}
                stopped = t.check("result" in r, f"job.stop while polling: {r.get('error')}")
            c0 = time.time()
            st = c.call("stats.get")["result"]
            slowest = max(slowest, time.time() - c0)
            n += 1
            bad = snapshot_faults(st)
            if bad:
                torn += 1
                faults.extend(bad[:2])
        t.diag(f"{n} stats.get snapshots in {time.time() - t0:.1f} s (slowest reply "
               f"{slowest * 1000:.0f} ms), "
               f"rx {sum(w['rx'] for w in st['workers'])}, "
               f"jobs {[(j['name'], j['counters']['matched']) for j in st['jobs']]}")
        t.diag(f"worker counter reads {st.get('snapshots')}")
        for f in faults[:8]:
            t.diag(f)
        t.check(n >= 200, f"{n} snapshots polled (>= 200)")
        t.check(sum(w["rx"] for w in st["workers"]) > 100000,
                "the workers were busy while polled")
        t.check(all(w["matched"] > 0 and w["unwanted"] > 0 for w in st["workers"]),
                "each worker both matched and skipped packets")
        t.check(any(j["name"] == "counted" and j["state"] == "completed" for j in st["jobs"]),
                "the packet-limited job completed while polled")
        t.eq(torn, 0, f"every live stats.get snapshot balances ({torn} of {n} did not)")

        tel = telemetry(prefix)
        if tel is None:
            t.skip("no DPDK telemetry socket")
        else:
            t1 = time.time()
            while time.time() - t1 < 2.0:
                s = tel_call(tel, "/dpcap/stats")
                tel_n += 1
                if not s or s["rx"] != s["unwanted"] + s["matched"] or s["balanced"] != 1:
                    tel_bad += 1
                    if tel_bad <= 3:
                        t.diag(f"telemetry: {s}")
                time.sleep(0.01)
            tel.close()
            t.check(tel_n >= 10 and tel_bad == 0,
                    f"/dpcap/stats over telemetry: {tel_bad} of {tel_n} unbalanced")
        c.s.close()
    finally:
        p.terminate()
        try:
            p.wait(timeout=60)
        except Exception:
            p.kill()
            p.wait()
    t.eq(p.returncode, 0, "dpcapd exits 0 on SIGTERM")
    if os.path.exists(p.stats_path):
        with open(p.stats_path) as f:
            fin = json.load(f)
        bad = snapshot_faults(fin)
        for f in bad[:5]:
            t.diag(f)
        t.check(not bad and all(j["counters"]["in_flight"] == 0 for j in fin["jobs"]),
                "final counters balance, nothing in flight")
    else:
        t.check(False, "final counters written")
    if t.failed == 0:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
