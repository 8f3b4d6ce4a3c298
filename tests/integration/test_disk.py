#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Disk safety on a small tmpfs the test mounts: a job never writes below
min_free_bytes (it fails with reason "disk low", files valid, manifest
complete); with no reserve, ENOSPC fails the job with "disk error", files
valid; a job cannot start when the disk is already below the reserve.
Counters balance each time, and each record lost on the way to disk is
counted under its own reason: the job's disk_low / disk_error drops equal
the workers' drops after the stop plus the manifest's dropped_disk_low /
dropped_disk_error and its refused records (under the stop reason). A
fault shim (fault_fs.c, LD_PRELOAD) makes one job lose records for both
reasons: cut at the free-space floor, then an EIO when finalizing.
Needs root (mount); skips otherwise."""
import json
import os
import shutil
import subprocess
import sys

from dpcapd_util import (BUILD, DPCAPD, Tap, base_config, check_balance, finish, gen,
                         job_stats, read_pcap, run_daemon, start_daemon, tmpdir,
                         wait_for)

FAULT_LIB = os.path.join(BUILD, "tests", "integration", "libdpc_fault_fs.so")
# manifest stop_reason -> the drop reason its refused records are counted under
REFUSED_AS = {"disk low": "disk_low", "error": "disk_error", "packets": "limit",
              "bytes": "limit", "duration": "limit", "files": "limit",
              "closed": "job_ended"}


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                       capture_output=True)
    return r.returncode == 0


def check_files(t, jd, what):
    files = sorted(f for f in os.listdir(jd) if f.endswith(".pcap"))
    parts = [f for f in os.listdir(jd) if f.endswith(".part")]
    n, ok = 0, True
    try:
        for f in files:
            n += len(read_pcap(os.path.join(jd, f)))
    except ValueError as e:
        ok = False
        t.diag(str(e))
    t.check(ok and files and not parts, f"{what}: {len(files)} final file(s), valid, no .part")
    with open(os.path.join(jd, "manifest.json")) as f:
        man = json.load(f)
    t.check(len(man.get("files", [])) == len(files), f"{what}: manifest lists every file")
    return n


def check_split(t, st, jd, name, what):
    """The job's disk losses by reason against its manifest (written by
    lib/pcapfile) and the workers' own drops. Returns the manifest."""
    with open(os.path.join(jd, "manifest.json")) as f:
        man = json.load(f)
    tot = man["totals"]
    js = job_stats(st, name) or {}
    c = js.get("counters", {})
    dropped = c.get("dropped", {})
    workers = {r: sum(w["dropped"][r] for w in st["workers"]) for r in dropped}
    refused_as = REFUSED_AS.get(man.get("stop_reason"))
    want = {
        "disk_low": tot["dropped_disk_low"] + (tot["refused"] if refused_as == "disk_low" else 0),
        "disk_error": tot["dropped_disk_error"] + (tot["refused"] if refused_as == "disk_error" else 0),
    }
    t.eq(c.get("written"), tot["packets"], f"{what}: written = manifest packets")
    for r in ("disk_low", "disk_error"):
        t.eq(dropped.get(r), workers.get(r, 0) + want[r],
             f"{what}: {r} drops = workers' {workers.get(r, 0)} + manifest's {want[r]}")
    wr = js.get("writer", {})
    t.check(all(wr.get(k) == tot[k] for k in ("packets", "refused", "dropped_disk_error",
                                               "dropped_disk_low"))
            and wr.get("stop_reason") == man.get("stop_reason"),
            f"{what}: the job's writer totals = the manifest's ({wr} vs {tot}, "
            f"{man.get('stop_reason')})")
    return man


def mixed_losses(t, d, dev):
    """One job loses records to the free-space floor and then to EIO."""
    if not os.path.exists(FAULT_LIB):
        t.skip(f"mixed losses: no fault shim ({FAULT_LIB})")
        return
    ldd = subprocess.run(["ldd", DPCAPD], capture_output=True, text=True).stdout
    if "libasan" in ldd:
        t.skip("mixed losses: dpcapd built with ASan (no LD_PRELOAD shim)")
        return
    root = os.path.join(d, "mixed")
    trig = os.path.join(d, "fault.trigger")
    cfg = base_config(root, [(dev, 1)], exit_when_done=True, mbufs=8191, mbuf_cache=32,
                      min_free_bytes=1 << 20, file_buf_size=1 << 20,
                      jobs=[{"name": "mix", "filter": ""}])
    os.environ["LD_PRELOAD"] = FAULT_LIB
    os.environ["DPC_FAULT_TRIGGER"] = trig
    try:
        p = start_daemon(cfg, d, "mixed", mem=512)
    finally:
        del os.environ["LD_PRELOAD"]
        del os.environ["DPC_FAULT_TRIGGER"]
    jd = os.path.join(root, "mix")
    wait_for(lambda: any(f.endswith(".part") and os.path.getsize(os.path.join(jd, f)) > 1 << 20
                         for f in (os.listdir(jd) if os.path.isdir(jd) else [])), 20)
    open(trig, "w").close()
    rc, log, st = finish(p, 60)
    t.eq(rc, 0, "mixed losses: the daemon ends the job and exits 0")
    js = job_stats(st, "mix") if st else None
    t.check(js and js["state"] == "failed" and js["reason"] == "disk error",
            f"mixed losses: job failed, disk error ({js and (js['state'], js['reason'])})")
    if not st:
        return
    man = check_split(t, st, jd, "mix", "mixed losses")
    tot = man["totals"]
    t.check(man.get("stop_reason") == "error" and tot["dropped_disk_low"] > 0,
            f"mixed losses: the manifest has records cut at the floor "
            f"({tot['dropped_disk_low']}) under a write-error stop ({man.get('stop_reason')})")
    check_balance(t, st, "mixed losses")


def main():
    t = Tap()
    if os.geteuid() != 0:
        t.skip("needs root to mount a tmpfs")
        return t.done()
    d = tmpdir("disk")
    small = os.path.join(d, "small.pcap")
    gen("overlay", small, n=400, seed=11)
    dev = f"net_pcap0,rx_pcap={small},infinite_rx=1"
    mnt = os.path.join(d, "mnt")
    if not mount_tmpfs(mnt, "8m"):
        t.skip("cannot mount tmpfs")
        return t.done()
    try:
        # --- disk low
        root = os.path.join(mnt, "low")
        cfg = base_config(root, [(dev, 1)], exit_when_done=True, mbufs=8191, mbuf_cache=32,
                          min_free_bytes=5 * 1024 * 1024, file_buf_size=262144,
                          jobs=[{"name": "fill", "filter": ""}])
        rc, log, st = run_daemon(cfg, d, "low", mem=512)
        t.eq(rc, 0, "disk low: the daemon ends the job and exits 0")
        js = job_stats(st, "fill") if st else None
        t.check(js and js["state"] == "failed" and js["reason"] == "disk low",
                f"disk low: job failed, reason disk low ({js and (js['state'], js['reason'])})")
        st_fs = os.statvfs(mnt)
        free = st_fs.f_bavail * st_fs.f_frsize
        t.check(free >= 5 * 1024 * 1024, f"disk low: {free} bytes still free (>= the 5 MiB reserve)")
        n = check_files(t, os.path.join(root, "fill"), "disk low")
        t.check(js and js["counters"]["written"] == n and n > 0,
                f"disk low: {n} records in the files = written counter")
        check_balance(t, st, "disk low")
        if st:
            check_split(t, st, os.path.join(root, "fill"), "fill", "disk low")
        shutil.rmtree(root)

        # --- ENOSPC (no reserve)
        root = os.path.join(mnt, "full")
        cfg.update(capture_root=root, min_free_bytes=0)
        rc, log, st = run_daemon(cfg, d, "full", mem=512)
        t.eq(rc, 0, "ENOSPC: exit 0")
        js = job_stats(st, "fill") if st else None
        t.check(js and js["state"] == "failed" and js["reason"] == "disk error",
                f"ENOSPC: job failed, reason disk error ({js and (js['state'], js['reason'])})")
        n = check_files(t, os.path.join(root, "fill"), "ENOSPC")
        t.check(js and js["counters"]["written"] == n and n > 0,
                f"ENOSPC: {n} records in the files = written counter")
        check_balance(t, st, "ENOSPC")
        if st:
            check_split(t, st, os.path.join(root, "fill"), "fill", "ENOSPC")

        # --- already below the reserve: refused at start
        root2 = os.path.join(mnt, "refuse")
        cfg.update(capture_root=root2, min_free_bytes=64 * 1024 * 1024)
        rc, log, st = run_daemon(cfg, d, "refuse", mem=512)
        t.eq(rc, 1, "below the reserve at start: job refused, exit status 1")
        t.check("below min_free_bytes" in log, "below the reserve: the log says why")
    finally:
        subprocess.run(["umount", mnt])
    mixed_losses(t, d, dev)
    if t.failed == 0:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
