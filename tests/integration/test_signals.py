#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""SIGTERM mid-capture: every job stopped, blocks flushed, files final and
valid, exit 0, counters balance. SIGKILL mid-capture, then a restart with
the same config: the interrupted .part files are cut back to their last
whole record, renamed and listed as recovered; nothing written is lost;
the restarted job writes to a new directory."""
import json
import os
import shutil
import signal
import socket
import sys
import time

from dpcapd_util import (Tap, base_config, check_balance, finish, gen,
                         job_stats, read_pcap, start_daemon, tmpdir, wait_for)


def telemetry(tag, cmds):
    """Ask DPDK's telemetry socket of the daemon started with this tag."""
    out = {}
    path = f"/var/run/dpdk/dpc-dp-{tag}-{os.getpid()}/dpdk_telemetry.v2"
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(path)
        s.recv(4096)
        for c in cmds:
            s.send(c.encode())
            out[c] = json.loads(s.recv(65536))
        s.close()
    except OSError:
        pass
    return out


def part_files(d):
    return [f for f in os.listdir(d) if f.endswith(".pcap.part")] if os.path.isdir(d) else []


def main():
    t = Tap()
    d = tmpdir("signals")
    small = os.path.join(d, "small.pcap")
    gen("overlay", small, n=400, seed=9)
    dev = f"net_pcap0,rx_pcap={small},infinite_rx=1"

    # --- SIGTERM
    root = os.path.join(d, "cap1")
    jobs = [{"name": "term", "filter": "tcp", "rotate": {"file_bytes": 2000000}},
            {"name": "term2", "filter": "vni 5001"}]
    cfg = base_config(root, [(dev, 1)], jobs=jobs, mbufs=8191, mbuf_cache=32)
    p = start_daemon(cfg, d, "term", mem=512)
    def part_size(f):
        # the writer may rotate it (rename .part -> .pcap) between listing and stat
        try:
            return os.path.getsize(os.path.join(root, "term", f))
        except FileNotFoundError:
            return 0

    wait_for(lambda: any(part_size(f) > 100000
                         for f in part_files(os.path.join(root, "term"))), timeout=15)
    tel = telemetry("term", ["/dpcap/stats", "/dpcap/jobs"])
    s_ = tel.get("/dpcap/stats", {}).get("/dpcap/stats", {})
    j_ = tel.get("/dpcap/jobs", {}).get("/dpcap/jobs", {})
    t.check(s_.get("rx", 0) > 0 and "drop_ring_full" in s_ and "port0_imissed" in s_,
            f"telemetry /dpcap/stats answers while capturing (rx {s_.get('rx')})")
    t.check(any("term running" in v for v in j_.values()),
            f"telemetry /dpcap/jobs lists the running job ({list(j_.values())[:1]})")
    p.send_signal(signal.SIGTERM)
    rc, log, st = finish(p, 30)
    t.eq(rc, 0, "SIGTERM: exit status 0")
    if rc != 0:
        t.diag(log[-2000:])
    t.check("signal 15" in log, "SIGTERM: the daemon says it is stopping")
    check_balance(t, st, "SIGTERM")
    for name in ("term", "term2"):
        jd = os.path.join(root, name)
        files = sorted(f for f in os.listdir(jd) if f.endswith(".pcap"))
        t.check(not part_files(jd) and files, f"SIGTERM: {name}: no .part left, {len(files)} final file(s)")
        n = 0
        ok = True
        try:
            for f in files:
                n += len(read_pcap(os.path.join(jd, f)))
        except ValueError as e:
            ok = False
            t.diag(str(e))
        js = job_stats(st, name)
        t.check(ok and js and js["counters"]["written"] == n and js["state"] == "stopped"
                and js["reason"] == "daemon shutdown",
                f"SIGTERM: {name}: files valid, {n} records = written counter, stopped (daemon shutdown)")
        with open(os.path.join(jd, "manifest.json")) as f:
            man = json.load(f)
        t.check(isinstance(man, dict) and len(man.get("files", [])) == len(files),
                f"SIGTERM: {name}: manifest lists every file")

    # --- SIGKILL then restart
    root = os.path.join(d, "cap2")
    jobs = [{"name": "kill", "filter": "", "limits": {"packets": 50000000}}]
    cfg = base_config(root, [(dev, 1)], jobs=jobs, mbufs=8191, mbuf_cache=32,
                      flush_ms=50, file_buf_size=65536)
    p = start_daemon(cfg, d, "kill", mem=512)
    jd = os.path.join(root, "kill")
    wait_for(lambda: any(os.path.getsize(os.path.join(jd, f)) > 3000000
                         for f in part_files(jd)), timeout=15)
    p.send_signal(signal.SIGKILL)
    rc, log, st = finish(p, 30)
    t.eq(rc, -9, "SIGKILL: the daemon died")
    parts = part_files(jd)
    t.check(len(parts) == 1, f"SIGKILL: an interrupted .part file is left ({parts})")
    before = None
    if parts:
        before = read_pcap(os.path.join(jd, parts[0]), tolerant=True)
    # restart: bounded job so it ends by itself
    cfg["jobs"] = [{"name": "kill", "filter": "", "limits": {"packets": 1000}}]
    cfg["exit_when_done"] = True
    p = start_daemon(cfg, d, "restart", mem=512)
    rc, log, st = finish(p, 30)
    t.eq(rc, 0, "restart: exit 0")
    t.check("recovered 1 interrupted file" in log, "restart: recovery reported")
    finals = sorted(f for f in os.listdir(jd) if f.endswith(".pcap"))
    t.check(not part_files(jd) and len(finals) == 1, f"restart: .part renamed ({finals})")
    after = read_pcap(os.path.join(jd, finals[0])) if finals else []
    t.check(before is not None and len(after) == len(before) and len(after) > 0,
            f"restart: every whole record kept ({len(after)} of {len(before or [])})")
    with open(os.path.join(jd, "manifest.json")) as f:
        man = json.load(f)
    t.check("recovered" in json.dumps(man), "restart: manifest marks the file recovered")
    t.check(os.path.isdir(os.path.join(root, "kill.1")) and
            len(read_pcap(os.path.join(root, "kill.1", "kill.1-00001.pcap"))) == 1000
            if os.path.exists(os.path.join(root, "kill.1", "kill.1-00001.pcap")) else False,
            "restart: the job wrote its new capture to kill.1, the old one untouched")
    check_balance(t, st, "restart")
    if t.failed == 0:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
