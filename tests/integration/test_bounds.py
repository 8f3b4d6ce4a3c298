#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bounds through the daemon, each at its edge: packets (exact, one and
two workers), bytes (the limit equal to a record boundary, and one byte
less), duration, file rotation by size, max_files (stop), ring mode; the
outputs are compared with `dpcap filter` on the same input and the
counters balance."""
import os
import shutil
import sys

from dpcapd_util import (Tap, base_config, check_balance, concat_pcap, gen,
                         job_records, job_files, job_stats, key, offline,
                         read_pcap, run_daemon, tmpdir)


def file_size(recs):
    return 24 + sum(16 + r[1] for r in recs)


def main():
    t = Tap()
    d = tmpdir("bounds")
    a, b, ab = (os.path.join(d, f) for f in ("a.pcap", "b.pcap", "ab.pcap"))
    gen("sample", a)
    gen("overlay", b, n=3000, seed=7)
    concat_pcap(ab, a, b)
    full = offline(ab, "", os.path.join(d, "all.pcap"))
    tcp = offline(ab, "tcp", os.path.join(d, "tcp.pcap"))
    k = 200
    edge = file_size(full[:k])

    root = os.path.join(d, "cap1")
    jobs = [
        {"name": "c137", "filter": "tcp", "limits": {"packets": 137}},
        {"name": "bytes_edge", "filter": "", "limits": {"bytes": edge}},
        {"name": "bytes_less", "filter": "", "limits": {"bytes": edge - 1}},
        {"name": "rot", "filter": "", "rotate": {"file_bytes": 100000}},
        {"name": "files3", "filter": "", "rotate": {"file_bytes": 100000, "max_files": 3}},
        {"name": "ring3", "filter": "",
         "rotate": {"file_bytes": 100000, "max_files": 3, "mode": "ring"}},
    ]
    cfg = base_config(root, [(f"net_pcap0,rx_pcap={ab}", 1)], exit_idle_ms=1500, jobs=jobs)
    rc, log, st = run_daemon(cfg, d, "one")
    t.eq(rc, 0, "finite replay: dpcapd exits 0")
    if rc != 0:
        t.diag(log[-2000:])
    check_balance(t, st, "finite replay")

    got = job_records(root, "c137")
    want = offline(ab, "tcp", os.path.join(d, "c137.pcap"), count=137)
    t.check([key(r) for r in got] == [key(r) for r in want] and len(got) == 137,
            f"packets 137: exactly the first 137 matches ({len(got)})")
    js = job_stats(st, "c137")
    t.check(js and js["state"] == "completed" and js["reason"] == "packet limit",
            f"packets: job completed, reason packet limit ({js and (js['state'], js['reason'])})")
    t.check(js and js["counters"]["dropped"]["limit"] == len(tcp) - 137,
            "packets: every later match counted as a limit drop")

    got = job_records(root, "bytes_edge")
    files = job_files(root, "bytes_edge")
    size = sum(os.path.getsize(f) for f in files)
    t.check([key(r) for r in got] == [key(r) for r in full[:k]] and size == edge,
            f"bytes = {edge} (a record boundary): {len(got)} records, {size} bytes")
    js = job_stats(st, "bytes_edge")
    t.check(js and js["state"] == "completed" and js["reason"] == "byte limit",
            "bytes: job completed, reason byte limit")
    got = job_records(root, "bytes_less")
    size = sum(os.path.getsize(f) for f in job_files(root, "bytes_less"))
    t.check([key(r) for r in got] == [key(r) for r in full[:k - 1]] and size <= edge - 1,
            f"bytes = {edge - 1}: one record fewer ({len(got)}), {size} bytes")

    files = job_files(root, "rot")
    sizes = [os.path.getsize(f) for f in files]
    got = job_records(root, "rot")
    t.check(len(files) > 3 and max(sizes) <= 100000,
            f"rotation: {len(files)} files, each <= 100000 bytes (max {max(sizes)})")
    t.check([key(r) for r in got] == [key(r) for r in full],
            "rotation: the files in order hold every packet in order")

    files = job_files(root, "files3")
    got = job_records(root, "files3")
    js = job_stats(st, "files3")
    t.check(len(files) == 3 and [key(r) for r in got] == [key(r) for r in full[:len(got)]],
            f"max_files 3 (stop): 3 files holding the first {len(got)} packets")
    t.check(js and js["state"] == "completed" and js["reason"] == "file limit",
            "max_files: job completed, reason file limit")

    files = job_files(root, "ring3")
    got = job_records(root, "ring3")
    js = job_stats(st, "ring3")
    t.check(len(files) == 3 and len(got) > 0 and
            [key(r) for r in got] == [key(r) for r in full[-len(got):]],
            f"ring mode: 3 newest files hold the last {len(got)} packets")
    t.check(js and js["counters"]["files_deleted"] > 0 and js["state"] == "stopped",
            f"ring mode: older files deleted ({js and js['counters']['files_deleted']}), capture went on")

    # two workers on endless input: exact packet count across workers,
    # bytes, duration
    small = os.path.join(d, "small.pcap")
    gen("overlay", small, n=400, seed=5)
    root2 = os.path.join(d, "cap2")
    jobs = [
        {"name": "c1000", "filter": "tcp", "limits": {"packets": 1000}},
        {"name": "b300k", "filter": "udp", "limits": {"bytes": 300000}},
        {"name": "dur1", "filter": "vxlan", "limits": {"duration_s": 1}},
        {"name": "sec1", "filter": "tcp port 80", "rotate": {"file_seconds": 1},
         "limits": {"duration_s": 3}},
    ]
    cfg = base_config(root2, [(f"net_pcap0,rx_pcap={small},rx_pcap={small},infinite_rx=1", 2)],
                      exit_when_done=True, jobs=jobs, mbufs=8191, mbuf_cache=32)
    rc, log, st = run_daemon(cfg, d, "inf", lcores="0@0,(1-2)@1", mem=512)
    t.eq(rc, 0, "endless replay, two workers: dpcapd exits 0 when every job is done")
    if rc != 0:
        t.diag(log[-2000:])
    check_balance(t, st, "endless replay")
    got = job_records(root2, "c1000")
    t.eq(len(got), 1000, "packets 1000 across two workers: exactly 1000 written")
    js = job_stats(st, "c1000")
    t.check(js and js["reason"] == "packet limit" and js["counters"]["written"] == 1000,
            "packets 1000: completed, packet limit, counters say 1000")
    size = sum(os.path.getsize(f) for f in job_files(root2, "b300k"))
    got = job_records(root2, "b300k")
    t.check(size <= 300000 and size > 300000 - 16 - 9100,
            f"bytes 300000: {size} bytes, no room for one more record")
    js = job_stats(st, "dur1")
    got = job_records(root2, "dur1")
    t.check(js and js["state"] == "completed" and js["reason"] == "duration limit",
            "duration 1 s: completed, reason duration limit")
    if got and js:
        jd = [j for j in st["jobs"] if j["name"] == "dur1"][0]
        t.check(len(got) > 0 and all(r[0] >= 0 for r in got) and
                max(r[0] for r in got) - min(r[0] for r in got) < 1000000000,
                f"duration 1 s: {len(got)} packets stamped within one second")
    else:
        t.check(False, "duration 1 s: packets written")
    files = job_files(root2, "sec1")
    spans = []
    firsts = []
    for f in files:
        recs = read_pcap(f)
        if recs:
            spans.append(recs[-1][0] - recs[0][0])
            firsts.append(recs[0][0])
    t.check(len(files) >= 2 and spans and max(spans) < 1000000000 and
            all(b - a >= 1000000000 for a, b in zip(firsts, firsts[1:])),
            f"file_seconds 1 over 3 s: {len(files)} files, each spanning < 1 s, "
            f"started >= 1 s apart")
    js = job_stats(st, "sec1")
    t.check(js and js["reason"] == "duration limit", "file_seconds job ends on its duration")
    if t.failed == 0:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
