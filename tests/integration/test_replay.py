#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcapd on net_pcap replaying generated traffic, one worker (one rx
queue) and two workers (two rx queues = two rx_pcap files): for each of
16 jobs (native and BPF filters, VXLAN-scoped, write=inner, snaplen) the
files equal `dpcap filter` on the same input, packet for packet, and the
counters balance; the BPF-only jobs say they run on DPDK's JIT."""
import os
import shutil
import sys

from dpcapd_util import (Tap, base_config, check_balance, concat_pcap, gen,
                         is_subsequence,
                         job_records, job_stats, key, offline, run_daemon,
                         tmpdir)

JOBS = [
    # name, filter, write=inner, snaplen
    ("all", "", False, None),
    ("tcp", "tcp", False, None),
    ("udp53", "udp port 53", False, None),
    ("host", "host 10.0.0.80", False, None),
    ("web", "tcp port 80 or tcp port 443", False, None),
    ("vxlan", "vxlan", False, None),
    ("vni5001", "vni 5001", False, None),
    ("pg", "vni 5001 and tcp port 5432", False, None),
    ("outer", "outer udp port 4789", False, None),
    ("ip6", "ip6", False, None),
    ("icmp", "icmp or icmp6", False, None),
    # BPF-only, on DPDK's JIT (docs/datapath.md, BPF): indexed loads after
    # ldxb 4*([14]&0xf), jset #small and plain loads
    ("syn", "tcp[tcpflags] & tcp-syn != 0", False, None),
    ("ttl", "ip[8] = 64", False, None),
    ("mcast", "ether[0] & 1 != 0", False, None),
    ("inner5002", "vni 5002", True, None),
    ("strip", "vxlan and tcp", True, 96),
]


def jobs_cfg():
    out = []
    for name, expr, inner, snap in JOBS:
        j = {"name": name, "filter": expr}
        if inner:
            j["write"] = "inner"
        if snap:
            j["snaplen"] = snap
        out.append(j)
    return out


def main():
    t = Tap()
    d = tmpdir("replay")
    a = os.path.join(d, "a.pcap")
    b = os.path.join(d, "b.pcap")
    gen("sample", a)
    gen("overlay", b, n=3000, seed=7)

    # --- one worker: input = a then b in one file
    ab = os.path.join(d, "ab.pcap")
    concat_pcap(ab, a, b)
    root1 = os.path.join(d, "cap1")
    cfg = base_config(root1, [(f"net_pcap0,rx_pcap={ab}", 1)],
                      exit_idle_ms=400, jobs=jobs_cfg())
    rc, log, st = run_daemon(cfg, d, "one", lcores="0-1")
    t.eq(rc, 0, "one worker: dpcapd exits 0 after the input went idle")
    if rc != 0:
        t.diag(log[-3000:])
    check_balance(t, st, "one worker")
    for name in ("syn", "ttl", "mcast"):
        t.check(f'job "{name}": BPF filter on jit' in log,
                f"one worker: job {name}'s BPF runs on the JIT (logged at start)")
    nonempty = 0
    for name, expr, inner, snap in JOBS:
        want = offline(ab, expr, os.path.join(d, f"o1-{name}.pcap"), strip=inner,
                       snaplen=snap)
        got = job_records(root1, name)
        nonempty += len(want) > 0
        ok = [key(r) for r in got] == [key(r) for r in want]
        t.check(ok, f"one worker: job {name} ({expr!r}{', inner' if inner else ''}) "
                f"== dpcap filter: {len(got)} vs {len(want)} packets")
        js = job_stats(st, name) if st else None
        t.check(js is not None and js["counters"]["written"] == len(want)
                and js["state"] == "stopped" and js["reason"] == "input idle",
                f"one worker: job {name} stats say {len(want)} written, stopped (input idle)")
    t.check(nonempty >= 10, f"{nonempty} jobs (>= 10) had packets to compare")

    # --- two workers: queue 0 reads a.pcap, queue 1 reads b.pcap
    root2 = os.path.join(d, "cap2")
    cfg = base_config(root2, [(f"net_pcap0,rx_pcap={a},rx_pcap={b}", 2)],
                      exit_idle_ms=400, jobs=jobs_cfg())
    rc, log, st = run_daemon(cfg, d, "two", lcores="0@0,(1-2)@1")
    t.eq(rc, 0, "two workers: dpcapd exits 0")
    if rc != 0:
        t.diag(log[-3000:])
    t.eq(len(st["workers"]) if st else 0, 2, "two workers polled two queues")
    check_balance(t, st, "two workers")
    for name, expr, inner, snap in JOBS:
        wa = offline(a, expr, os.path.join(d, f"o2a-{name}.pcap"), strip=inner, snaplen=snap)
        wb = offline(b, expr, os.path.join(d, f"o2b-{name}.pcap"), strip=inner, snaplen=snap)
        got = [key(r) for r in job_records(root2, name)]
        same = sorted(got) == sorted([key(r) for r in wa + wb])
        order = is_subsequence([key(r) for r in wa], got) and \
            is_subsequence([key(r) for r in wb], got)
        t.check(same and order,
                f"two workers: job {name} == dpcap filter per queue "
                f"({len(got)} vs {len(wa)}+{len(wb)}), order kept per queue")
    # --- a set of innermost-IPv4 host jobs only: the worker screens each
    # burst inline (dpc_screen.h) before any parse; what it writes must be
    # what dpcap filter writes, and most frames must be settled unparsed
    host_jobs = [("h80", "host 10.0.0.80"), ("h37", "host 10.0.3.7"),
                 ("h57", "host 10.1.0.57"), ("h45src", "src host 10.1.0.45"),
                 ("h100udp", "host 10.0.100.2 and udp"), ("quiet", "host 10.9.9.9")]
    # twice: pass 1 eight frames at a time where the CPU has AVX-512
    # (dpc_screen_x8.h), and one at a time ("screen_simd": false)
    cpu_flags = set(next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo")
                          if line.startswith("flags")), []))
    x8_cpu = {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= cpu_flags
    # the oracle, once for both runs
    wants = {name: offline(ab, expr, os.path.join(d, f"o4-{name}.pcap"))
             for name, expr in host_jobs}
    for simd in (True, False):
        tag = "host jobs" + ("" if simd else ", screen_simd false")
        root4 = os.path.join(d, "cap4" + ("" if simd else "s"))
        cfg = base_config(root4, [(f"net_pcap0,rx_pcap={ab}", 1)], exit_idle_ms=400,
                          jobs=[{"name": n, "filter": e} for n, e in host_jobs])
        cfg["screen_simd"] = simd
        rc, log, st = run_daemon(cfg, d, "hosts" + ("" if simd else "s"), lcores="0-1")
        t.eq(rc, 0, f"{tag}: dpcapd exits 0")
        check_balance(t, st, tag)
        nonempty = 0
        for name, expr in host_jobs:
            want = wants[name]
            got = job_records(root4, name)
            nonempty += len(want) > 0
            t.check([key(r) for r in got] == [key(r) for r in want],
                    f"{tag}: job {name} ({expr!r}) == dpcap filter: "
                    f"{len(got)} vs {len(want)} packets")
        t.check(nonempty >= 4, f"{tag}: {nonempty} jobs (>= 4) had packets to compare")
        # libdpdk-dev depends on DPDK's stack mempool driver, so a box that
        # built dpcap has it: the blocks are recycled LIFO
        t.eq((st or {}).get("pools", {}).get("blocks_ops"), "lf_stack",
             f"{tag}: the staging-block pool is the lock-free stack (LIFO)")
        wk = st["workers"][0] if st else {}
        t.eq(wk.get("screen"), "avx512x8" if simd and x8_cpu else "scalar",
             f"{tag}: the worker's screen is the one this CPU and config give")
        rx, unw, scr = wk.get("rx", 0), wk.get("unwanted", 0), wk.get("screened", -1)
        t.check(0 <= scr <= unw and scr >= 0.7 * rx,
                f"{tag}: the screen settled {scr} of {rx} frames unparsed "
                f"({unw} unwanted)")
        if simd:
            scr_x8 = scr
        else:
            t.eq(scr, scr_x8, "both screens settle the same frames unparsed")

    # --- NIC timestamps: net_pcap offers rx timestamps (the file's own);
    # with "timestamps": "hw" the records keep them, as dpcap filter does
    root3 = os.path.join(d, "cap3")
    cfg = base_config(root3, [(f"net_pcap0,rx_pcap={ab}", 1)], exit_idle_ms=400,
                      jobs=[{"name": "ts", "filter": "tcp"}])
    cfg["ports"][0]["timestamps"] = "hw"
    rc, log, st = run_daemon(cfg, d, "hwts")
    t.eq(rc, 0, "hw timestamps: dpcapd exits 0")
    want = offline(ab, "tcp", os.path.join(d, "o3.pcap"))
    got = job_records(root3, "ts")
    if "offers no rx timestamp" in log:
        t.skip("hw timestamps: this net_pcap offers no rx timestamp offload (DPDK 22.11)")
    else:
        t.check(len(got) == len(want) and all(g[0] == w[0] and key(g) == key(w)
                                              for g, w in zip(got, want)),
                f"hw timestamps: {len(got)} records carry the input's timestamps to the ns")
    t.check("timestamps: " in log, "the port's timestamp source is logged")
    check_balance(t, st, "hw timestamps")
    if t.failed == 0:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
