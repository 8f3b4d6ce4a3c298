#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcapd --calibrate MS: the worker alternates MS-long slots of its own loop
and of a bare rx loop on the same queue and core (docs/datapath.md).

On net_pcap infinite_rx (a queue that is never empty) with a host job:
- both kinds of slot ran, for about the same TSC time, and stats.get
  reports packets, cycles, both rates and their ratio, which is sane;
- the bare slots' packets are counted "calibration" and the worker still
  balances: rx = unwanted + matched + calibration; calibration equals the
  bare slots' packets;
- what the job wrote is what its filter wants (the loop's slots ran it);
- /dpcap/stats carries the sums and snapshot_mono_ns;
- bad values of --calibrate are refused with exit 2 and a reason.

With --calibrate-bpf FILTER, a third slot (the "peer": the bare loop running
FILTER, libpcap-compiled and JIT-compiled by rte_bpf, on every mbuf):
- all three kinds of slot ran for about the same time; calibration counts
  the bare and the peer slots' packets; the worker balances;
- the peer's accepted count agrees with tcpdump's count of FILTER on the
  replayed file: each peer slot receives one contiguous stretch of the
  endless replay, so it can differ from the file's matching fraction by at
  most the file's matches per slot;
- --calibrate-bpf without --calibrate, or with a filter libpcap refuses,
  exits 2 with the reason.
"""
import json
import os
import signal
import subprocess
import time

from dpcapd_util import (DPCAPD, Tap, base_config, check_balance, eal_args,
                         finish, gen, job_files, offline, read_pcap, start_daemon,
                         telemetry, tmpdir, wait_for)


def calibrated_run(t, d, a, tag, dp_args, secs, tel_keys, what):
    """dpcapd dp_args with a host job on an endless replay of a: up, and
    after secs /dpcap/stats carries tel_keys (> 0); then SIGTERM.
    Returns the capture root and finish()'s (rc, log, stats)."""
    root = os.path.join(d, f"cap-{tag}")
    cfg = base_config(root, [(f"net_pcap0,rx_pcap={a},infinite_rx=1", 1)],
                      jobs=[{"name": "h80", "filter": "host 10.0.0.80",
                             "rotate": {"file_bytes": 1 << 20, "max_files": 2,
                                        "mode": "ring"}}],
                      mbuf_data_room=9344)
    p = start_daemon(cfg, d, tag, dp_args=dp_args)
    try:
        up = wait_for(lambda: "dpcapd: running" in open(p.log_path).read(), timeout=30)
        t.check(up, f"dpcapd {' '.join(dp_args)} is up on net_pcap infinite_rx")
        time.sleep(secs)
        tel = telemetry(p.prefix, ["/dpcap/stats"]).get("/dpcap/stats", {})
        tel = tel.get("/dpcap/stats", {}) if isinstance(tel, dict) else {}
        t.check(all(tel.get(k, 0) > 0 for k in tel_keys),
                f"/dpcap/stats carries {what} ({ {k: tel.get(k) for k in tel_keys} })")
    finally:
        p.send_signal(signal.SIGTERM)
    return root, finish(p, 60)


def main():
    t = Tap()
    d = tmpdir("calibrate")
    a = os.path.join(d, "a.pcap")
    gen("sample", a)
    root, (rc, log, st) = calibrated_run(
        t, d, a, "cal", ["--calibrate", "100"], 2.5,
        ("calibration", "cal_loop_pkts", "cal_loop_cycles", "cal_bare_pkts",
         "cal_bare_cycles", "snapshot_mono_ns"),
        "calibration sums and snapshot_mono_ns")
    t.eq(rc, 0, "SIGTERM: exit 0")
    t.check("calibrate mode" in log, "the calibrate mode is announced in the log")
    check_balance(t, st, "calibrate", ports=True)
    w = st["workers"][0] if st else {}
    c = w.get("calibrate", {})
    t.eq(c.get("slot_ms"), 100, "stats.get workers[0].calibrate.slot_ms")
    t.check(c.get("loop_pkts", 0) > 0 and c.get("bare_pkts", 0) > 0,
            f"both slots received packets (loop {c.get('loop_pkts')}, bare {c.get('bare_pkts')})")
    lc, bc = c.get("loop_cycles", 0), c.get("bare_cycles", 0)
    t.check(lc > 0 and bc > 0 and 0.7 < lc / bc < 1.3,
            f"the slots alternated: about as much time in each ({lc} vs {bc} TSC cycles)")
    r = c.get("ratio", 0)
    want = (c.get("loop_pkts", 0) / lc) / (c.get("bare_pkts", 1) / bc) if lc and bc else -1
    # (an ASan build's loop runs at ~0.2 of the uninstrumented bare loop)
    t.check(0.05 < r < 5 and abs(r - want) < 1e-6,
            f"ratio {r:.3f} = loop rate / bare rate ({c.get('loop_mpps', 0):.2f} / "
            f"{c.get('bare_mpps', 0):.2f} Mpps)")
    t.eq(w.get("calibration"), c.get("bare_pkts"),
         "calibration counts exactly the bare slots' packets")
    t.check(w.get("rx", 0) == w.get("unwanted", 0) + w.get("matched", 0) + w.get("calibration", -1),
            "rx = unwanted + matched + calibration")
    recs = [r_ for f in job_files(root, "h80") for r_ in read_pcap(f)]
    # the job's own files, refiltered by dpcap filter, lose nothing
    same = 0
    for f in job_files(root, "h80"):
        same += len(offline(f, "host 10.0.0.80", f + ".re.pcap"))
    t.check(recs and same == len(recs),
            f"the job wrote only what its filter wants ({same} of {len(recs)} records)")

    peer_run(t, d, a)

    for bad in ("0", "10001", "x", "-5"):
        r_ = subprocess.run([DPCAPD] + eal_args("calbad") + ["--", "--config", "/nonexistent",
                                                            "--calibrate", bad],
                            capture_output=True, text=True)
        t.check(r_.returncode == 2 and "--calibrate: must be 1..10000 ms" in r_.stderr,
                f"--calibrate {bad}: exit 2 with a reason (got {r_.returncode}: "
                f"{r_.stderr.strip()[:80]})")
    for args, why in ((["--calibrate-bpf", "tcp"], "--calibrate-bpf needs --calibrate MS"),
                      (["--calibrate", "100", "--calibrate-bpf", "host"],
                       '--calibrate-bpf "host": ')):
        r_ = subprocess.run([DPCAPD] + eal_args("calbad") + ["--", "--config", "/nonexistent"]
                            + args, capture_output=True, text=True)
        t.check(r_.returncode == 2 and why in r_.stderr,
                f"{' '.join(args)}: exit 2 with a reason (got {r_.returncode}: "
                f"{r_.stderr.strip()[:100]})")
    return t.done()


PEER_FILTER = "host 10.0.0.80 and tcp port 80"


def tcpdump_count(path, expr):
    """Frames of path that tcpdump's filter expr keeps (its -w output's
    records: a printed packet can take several lines)."""
    out = path + ".tcpdump.pcap"
    r = subprocess.run(["tcpdump", "-r", path, "-w", out, expr], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tcpdump -r {path} {expr}: {r.stderr.strip()}")
    return len(read_pcap(out))


def peer_run(t, d, a):
    """--calibrate 100 --calibrate-bpf PEER_FILTER on the same replay."""
    n_file = len(read_pcap(a))
    m_file = tcpdump_count(a, PEER_FILTER)
    t.check(0 < m_file < n_file,
            f"tcpdump: {m_file} of the file's {n_file} frames match {PEER_FILTER!r}")
    _, (rc, log, st) = calibrated_run(
        t, d, a, "calpeer", ["--calibrate", "100", "--calibrate-bpf", PEER_FILTER], 3,
        ("cal_peer_pkts", "cal_peer_cycles", "cal_peer_matched"), "the peer slots' sums")
    t.eq(rc, 0, "peer: SIGTERM: exit 0")
    t.check("peer slots run" in log and "rte_bpf JIT" in log,
            "peer: the peer slot's filter and engine are logged")
    t.check(f'bare loop running "{PEER_FILTER}"' in log,
            "peer: the three-slot calibrate mode is announced with its filter")
    check_balance(t, st, "calibrate peer", ports=True)
    w = st["workers"][0] if st else {}
    c = w.get("calibrate", {})
    pr = c.get("peer", {})
    t.eq(pr.get("filter"), PEER_FILTER, "stats.get workers[0].calibrate.peer.filter")
    cyc = [c.get("loop_cycles", 0), c.get("bare_cycles", 0), pr.get("cycles", 0)]
    t.check(min(cyc) > 0 and max(cyc) / min(cyc) < 1.4,
            f"loop, bare and peer slots alternated: about as much time in each ({cyc})")
    t.check(c.get("bare_pkts", 0) > 0 and pr.get("pkts", 0) > 0,
            f"bare and peer slots received packets ({c.get('bare_pkts')}, {pr.get('pkts')})")
    t.eq(w.get("calibration"), c.get("bare_pkts", 0) + pr.get("pkts", 0),
         "peer: calibration counts exactly the bare and the peer slots' packets")
    t.check(w.get("rx", 0) == w.get("unwanted", 0) + w.get("matched", 0) + w.get("calibration", -1),
            "peer: rx = unwanted + matched + calibration")
    pk, mt = pr.get("pkts", 0), pr.get("matched", -1)
    # hz from the slot's own rate; slots = peer time / slot length, +1 for
    # the slot cut short at stop
    hz = pr.get("mpps", 0) * 1e6 * pr.get("cycles", 0) / pk if pk else 0
    slots = int(pr.get("cycles", 0) / (hz * 0.1)) + 2 if hz else 0
    want = pk * m_file / n_file
    t.check(pk > 20 * slots * n_file,
            f"the peer slots replayed the file many times over ({pk} packets, "
            f"{slots} slots of a {n_file}-frame file)")
    t.check(abs(mt - want) <= slots * m_file,
            f"the peer's JIT accepted {mt} of {pk}; tcpdump's fraction of the file "
            f"predicts {want:.0f} (within {slots} slots x {m_file})")
    r = pr.get("ratio", 0)
    t.check(0.05 < r < 2 and abs(r - (pk / pr.get("cycles", 1)) /
                                (c.get("bare_pkts", 0) / c.get("bare_cycles", 1))) < 1e-6,
            f"peer ratio {r:.3f} = peer rate / bare rate")
    lv = pr.get("loop_vs_peer", 0)
    t.check(abs(lv * r - c.get("ratio", -1)) < 1e-6,
            f"loop_vs_peer {lv:.3f} x peer ratio = the loop's ratio {c.get('ratio', 0):.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
