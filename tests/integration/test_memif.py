#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcapd on net_memif (client), fed by dpdk-testpmd (txonly, memif server)
in another process: a bounded capture completes with exactly its packets
and the counters balance; then the sender goes away during a capture
(SIGKILL, and a clean testpmd exit) after stopping its traffic: dpcapd sees
the link go down, stays up, and still stops cleanly (exit 0, valid files,
counters balanced). About 15 s; skipped (counted) without dpdk-testpmd.

Two properties of the 22.11 memif PMD shape this test (docs/datapath.md):
- a client that connects before the server's port is started is answered
  "ID not found" and never retries, so dpcapd is started only once
  testpmd's port reports dev_started (its telemetry), and each capture
  first waits for dpcapd's own port to report link up;
- its rx/tx burst is not synchronised with its own disconnect handling:
  a peer leaving while packets are in flight can crash the survivor
  inside the PMD. That case is a counted SKIP here; run it with
  DPCAP_MEMIF_MIDSTREAM=N (N rounds) to see it.
"""
import os
import shutil
import signal
import subprocess
import time

from dpcapd_util import (Tap, base_config, check_balance, ethdev_info, finish,
                         job_records, job_stats, link_status, start_daemon,
                         telemetry, tmpdir, wait_for)

MEMIF_LOG = ["--log-level", "pmd.net.memif:info"]


def testpmd(d, tag, sock, interactive=False):
    """testpmd, txonly 64-byte frames, as the memif server on sock;
    interactive: commands (stop, quit) on its stdin."""
    log = open(os.path.join(d, f"testpmd-{tag}.log"), "w")
    prefix = f"dpc-dp-tp{tag}-{os.getpid()}"
    cmd = [shutil.which("dpdk-testpmd"), "--lcores", "0@0,1@0", "--no-huge", "-m", "512",
           "--no-pci", "--file-prefix", prefix, "--log-level", "lib.*:error"] + MEMIF_LOG + [
           "--vdev", f"net_memif0,role=server,socket={sock}", "--",
           "--forward-mode=txonly", "--txpkts=64", "--nb-cores=1", "--txq=1",
           "--rxq=1", "--no-flush-rx", "--total-num-mbufs=4096", "-a"]
    if interactive:
        cmd.append("-i")
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log,
                         stderr=subprocess.STDOUT, text=True)
    p.log_path = log.name
    p.prefix = prefix
    p.interactive = interactive
    return p


def testpmd_started(tp, timeout=20):
    """True once testpmd's memif port is started: before that its listener
    socket already accepts, but the PMD turns a client away for good."""
    def started():
        info = ethdev_info(tp.prefix)
        return (info is not None and info.get("dev_started") == 1) or tp.poll() is not None
    return wait_for(started, timeout, step=0.1) and tp.poll() is None


def tp_command(p, line):
    try:
        p.stdin.write(line + "\n")
        p.stdin.flush()
    except (BrokenPipeError, OSError):
        pass


def stop_testpmd(p):
    """Clean exit (stop forwarding, close the port), else SIGKILL."""
    if p.poll() is None:
        try:
            p.stdin.write("quit\n" if p.interactive else "\n")
            p.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def reap(p):
    """Kill p if still running, then remove its DPDK runtime directory
    (EAL leaves /var/run/dpdk/<prefix> behind, always when killed)."""
    if p is None:
        return
    if p.poll() is None:
        p.kill()
        p.wait()
    shutil.rmtree(f"/var/run/dpdk/{p.prefix}", ignore_errors=True)


def memif_lines(path):
    with open(path) as f:
        return "".join(line for line in f if "memif" in line)[-1500:]


def start_capture(t, d, tag, sock, jobs, interactive=False, **kw):
    """testpmd, then dpcapd once testpmd's port is started; checks that
    dpcapd's memif link comes up. Returns (testpmd, dpcapd, root)."""
    tp = testpmd(d, tag, sock, interactive)
    up = testpmd_started(tp)
    t.check(up, f"memif {tag}: testpmd's memif server port started")
    if not up:
        t.diag(memif_lines(tp.log_path))
    root = os.path.join(d, f"cap-{tag}")
    cfg = base_config(root, [(f"net_memif0,role=client,socket={sock}", 1)],
                      mbufs=4095, mbuf_data_room=2176, jobs=jobs, **kw)
    p = start_daemon(cfg, d, f"memif{tag}", lcores="0@0,1@1", mem=512,
                     eal_extra=MEMIF_LOG)
    linked = wait_for(lambda: link_status(p.prefix) == "UP" or p.poll() is not None,
                      15, step=0.1) and p.poll() is None
    t.check(linked, f"memif {tag}: dpcapd's memif link is up")
    if not linked:
        t.diag(memif_lines(p.log_path))
        t.diag(memif_lines(tp.log_path))
    return tp, p, root


def worker_rx(st):
    return sum(w["rx"] for w in st["workers"]) if st else 0


def live_rx(p):
    r = telemetry(p.prefix, ["/dpcap/stats"]).get("/dpcap/stats", {})
    return r.get("/dpcap/stats", {}).get("rx")


def quiet(p, gap=1.2):
    """dpcapd's rx counter stopped moving (nothing left in flight); dpcapd
    refreshes its telemetry every 500 ms, so the gap spans two refreshes."""
    a = live_rx(p)
    time.sleep(gap)
    return a is not None and a == live_rx(p)


def peer_leaves(t, d, tag, how, midstream):
    """testpmd (the sender) goes away during a capture, killed or by a clean
    exit; midstream: at full rate, else after stopping its traffic."""
    tp = p = None
    alive = down = False
    rc, log, st, root = "not run", "", None, ""
    try:
        tp, p, root = start_capture(
            t, d, tag, os.path.join(d, f"{tag}.sock"), interactive=not midstream,
            worker_idle_sleep_us=0 if midstream else 100,
            jobs=[{"name": "first", "filter": "udp", "limits": {"packets": 20000}},
                  {"name": "none", "filter": "host 203.0.113.254"}])
        wait_for(lambda: log_has(p.log_path, "(first) completed") or p.poll() is not None,
                 10, step=0.1)
        if not midstream:
            tp_command(tp, "stop")
            t.check(wait_for(lambda: quiet(p) or p.poll() is not None, 10, step=0)
                    and p.poll() is None, f"memif {tag}: traffic stopped, dpcapd's rx quiet")
        if how == "kill":
            tp.send_signal(signal.SIGKILL)
            tp.wait()
        else:
            stop_testpmd(tp)
        # the PMD's control thread has handled the disconnect ...
        down = wait_for(lambda: link_status(p.prefix) == "DOWN" or p.poll() is not None,
                        10, step=0.05) and p.poll() is None
        # ... and the worker keeps polling the disconnected port.
        time.sleep(1.0)
        alive = p.poll() is None
        p.send_signal(signal.SIGTERM)
        rc, log, st = finish(p, timeout=30)
    finally:
        reap(tp)
        reap(p)
    what = (f"memif, sender {'SIGKILLed' if how == 'kill' else 'exits cleanly'}"
            f" {'mid-stream' if midstream else 'after its traffic'}")
    t.check(down, f"{what}: dpcapd sees its link go down")
    t.check(alive, f"{what}: dpcapd still running a second later")
    pst = (st or {}).get("ports") or [{}]
    t.check("link down: nothing is captured" in (log or "") and
            pst[0].get("link") == "down" and pst[0].get("link_changes", 0) >= 1,
            f"{what}: dpcapd logs the link loss and stats say link down "
            f"({pst[0].get('link')}, {pst[0].get('link_changes')} change(s))")
    t.eq(rc, 0, f"{what}: dpcapd exits 0 on SIGTERM (no crash)")
    if rc != 0:
        t.diag(log[-1500:])
    rx = worker_rx(st)
    t.check(rx >= 20000, f"{what}: packets received before ({rx})")
    js = job_stats(st, "first") if st else None
    recs = job_records(root, "first") if os.path.isdir(os.path.join(root, "first")) else []
    t.check(js and js["state"] == "completed" and len(recs) == 20000 and
            js["counters"]["written"] == 20000,
            f"{what}: the bounded job's files hold its 20000 packets "
            f"({len(recs)}, {js and js['state']})")
    # the PMD resets its per-queue counters with the connection, so the
    # port's ethdev ipackets cannot be compared with the workers' rx here
    check_balance(t, st, what, ports=False)
    t.check(st and all(pt["ipackets"] in (0, pt["rx_packets"]) for pt in st["ports"]),
            f"{what}: ethdev ipackets is the workers' rx or the PMD's reset 0 "
            f"({st and [(pt['ipackets'], pt['rx_packets']) for pt in st['ports']]})")
    return rc == 0


def log_has(path, s):
    with open(path) as f:
        return s in f.read()


def main():
    t = Tap()
    if not shutil.which("dpdk-testpmd"):
        t.skip("dpdk-testpmd not installed")
        return t.done()
    # captures on tmpfs: this test is about the PMD, and dpcapd fsyncs each
    # file as it finalizes it, which on a disk shared with other writers
    # was seen to take over 30 s (test_disk covers the disk side)
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    d = tmpdir("memif", shm)

    # 1. bounded capture; dpcapd ends first (exit_when_done), then testpmd.
    tp = p = None
    try:
        tp, p, root = start_capture(
            t, d, "a", os.path.join(d, "a.sock"), exit_when_done=True,
            jobs=[{"name": "c5000", "filter": "udp",
                   "limits": {"packets": 5000, "duration_s": 20}}])
        rc, log, st = finish(p, timeout=40)
    finally:
        if tp is not None:
            stop_testpmd(tp)
        reap(tp)
        reap(p)
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

    if tp.returncode not in (0, None):
        # seen here: the server's tx burst races its own disconnect the
        # same way (testpmd is not under test)
        t.diag(f"testpmd (memif server) exited {tp.returncode} after dpcapd left")

    # 2. the sender goes away during a capture, after stopping its traffic:
    # killed (no goodbye, the control socket just closes), then a clean
    # testpmd exit (it stops its port: memif disconnect message).
    for how in ("kill", "quit"):
        peer_leaves(t, d, how, how, midstream=False)

    # 3. the sender goes away mid-stream: the PMD race, opt-in.
    rounds = int(os.environ.get("DPCAP_MEMIF_MIDSTREAM", "0") or 0)
    if rounds <= 0:
        t.skip("sender leaving mid-stream: the 22.11 memif PMD can crash the "
               "receiver inside its rx burst (docs/datapath.md); "
               "DPCAP_MEMIF_MIDSTREAM=N runs it")
    survived = 0
    for r in range(rounds):
        how = ("kill", "quit")[r % 2]
        survived += peer_leaves(t, d, f"mid{r}{how}", how, midstream=True)
    if rounds > 0:
        t.diag(f"mid-stream: dpcapd survived {survived} of {rounds} rounds")
    if not t.failed:
        shutil.rmtree(d, ignore_errors=True)
    else:
        t.diag(f"work directory kept: {d}")
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
