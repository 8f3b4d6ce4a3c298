#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Disk safety on a small tmpfs the test mounts: a job never writes below
min_free_bytes (it fails with reason "disk low", files valid, manifest
complete); with no reserve, ENOSPC fails the job with "disk error", files
valid; a job cannot start when the disk is already below the reserve.
Counters balance each time. Needs root (mount); skips otherwise."""
import json
import os
import shutil
import subprocess
import sys

from dpcapd_util import (Tap, base_config, check_balance, gen, job_stats,
                         read_pcap, run_daemon, tmpdir)


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

        # --- already below the reserve: refused at start
        root2 = os.path.join(mnt, "refuse")
        cfg.update(capture_root=root2, min_free_bytes=64 * 1024 * 1024)
        rc, log, st = run_daemon(cfg, d, "refuse", mem=512)
        t.eq(rc, 1, "below the reserve at start: job refused, exit status 1")
        t.check("below min_free_bytes" in log, "below the reserve: the log says why")
    finally:
        subprocess.run(["umount", mnt])
    if t.failed == 0:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
