#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcapd on net_memif, fed by dpdk-testpmd (txonly, memif server) in
another process: a bounded capture completes with exactly its packets,
the counters balance, and dpcapd survives the sender leaving first (the
peer disconnect that crashed dpcapd in bench M5 must end in a clean
exit). A few seconds; skipped (counted) without dpdk-testpmd."""
import os
import shutil
import signal
import subprocess
import time

from dpcapd_util import (Tap, base_config, check_balance, finish, job_records,
                         job_stats, start_daemon, tmpdir, wait_for)


def testpmd(d, tag, sock):
    log = open(os.path.join(d, f"testpmd-{tag}.log"), "w")
    cmd = [shutil.which("dpdk-testpmd"), "--lcores", "0@0,1@0", "--no-huge", "-m", "512",
           "--no-pci", "--file-prefix", f"dpc-dp-tp{tag}-{os.getpid()}",
           "--log-level", "lib.*:error",
           "--vdev", f"net_memif0,role=server,socket={sock}", "--",
           "--forward-mode=txonly", "--txpkts=64", "--nb-cores=1", "--txq=1",
           "--rxq=1", "--no-flush-rx", "--total-num-mbufs=4096", "-a"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log,
                         stderr=subprocess.STDOUT, text=True)
    p.log_path = log.name
    return p


def stop_testpmd(p):
    if p.poll() is None:
        try:
            p.stdin.write("\n")
            p.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def listening(sock):
    """testpmd's memif socket is up (abstract or not: /proc/net/unix)."""
    with open("/proc/net/unix") as f:
        return any(line.rstrip().endswith(sock) for line in f)


def log_has(path, s):
    with open(path) as f:
        return s in f.read()


def main():
    t = Tap()
    if not shutil.which("dpdk-testpmd"):
        t.skip("dpdk-testpmd not installed")
        return t.done()
    d = tmpdir("memif")

    # 1. bounded capture; dpcapd ends first (exit_when_done), then testpmd.
    sock = os.path.join(d, "a.sock")
    tp = testpmd(d, "a", sock)
    try:
        wait_for(lambda: listening(sock) or tp.poll() is not None, 20)
        root = os.path.join(d, "cap1")
        cfg = base_config(root, [(f"net_memif0,role=client,socket={sock}", 1)],
                          mbufs=4095, mbuf_data_room=2176, exit_when_done=True,
                          worker_idle_sleep_us=0,
                          jobs=[{"name": "c5000", "filter": "udp",
                                 "limits": {"packets": 5000, "duration_s": 20}}])
        p = start_daemon(cfg, d, "bounded", lcores="0@0,1@1", mem=512)
        rc, log, st = finish(p, timeout=40)
    finally:
        stop_testpmd(tp)
    t.eq(rc, 0, "memif, bounded job: dpcapd exits 0")
    if rc != 0:
        t.diag(log[-1500:])
    js = job_stats(st, "c5000") if st else None
    t.check(js and js["state"] == "completed" and js["reason"] == "packet limit",
            f"memif: job completed on its packet limit ({js and (js['state'], js['reason'])})")
    recs = job_records(root, "c5000") if os.path.isdir(os.path.join(root, "c5000")) else []
    t.eq(len(recs), 5000, "memif: exactly 5000 records written")
    t.check(recs and all(r[2] == 64 and r[1] == 64 for r in recs),
            "memif: every record is testpmd's 64-byte frame, whole")
    check_balance(t, st, "memif bounded")

    # 2. the sender leaves first while dpcapd polls at full rate.
    sock = os.path.join(d, "b.sock")
    tp = testpmd(d, "b", sock)
    p = None
    try:
        wait_for(lambda: listening(sock) or tp.poll() is not None, 20)
        root = os.path.join(d, "cap2")
        cfg = base_config(root, [(f"net_memif0,role=client,socket={sock}", 1)],
                          mbufs=4095, mbuf_data_room=2176, worker_idle_sleep_us=0,
                          jobs=[{"name": "none", "filter": "host 203.0.113.254"}])
        p = start_daemon(cfg, d, "peerleaves", lcores="0@0,1@1", mem=512)
        wait_for(lambda: log_has(p.log_path, "dpcapd: running") or p.poll() is not None, 20)
        time.sleep(1.0)
        tp.send_signal(signal.SIGKILL)  # the peer vanishes mid-burst
        tp.wait()
        time.sleep(0.5)
        alive = p.poll() is None
        p.send_signal(signal.SIGTERM)
        rc, log, st = finish(p, timeout=30)
    finally:
        stop_testpmd(tp)
        if p and p.poll() is None:
            p.kill()
            p.wait()
    t.check(alive, "memif, sender killed mid-stream: dpcapd still running")
    t.eq(rc, 0, "memif, sender killed: dpcapd exits 0 on SIGTERM (no crash)")
    if rc != 0:
        t.diag(log[-1500:])
    w = st["workers"][0] if st else None
    t.check(w and w["rx"] > 0 and w["rx"] == w["unwanted"] + w["matched"],
            f"memif, sender killed: packets received and counted ({w and w['rx']})")
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
