#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Start-up of config jobs and the staging-block pool.

- Config jobs are published to the workers as one job set, before the
  workers poll: with 64 jobs on a finite net_pcap replay, every job sees
  the whole input (its output equals `dpcap filter` on it) and the daemon
  reports exactly one published set.
- The pool must give every (worker, job) pair one open block and one in
  flight: a pool too small for the config's jobs refuses the job that does
  not fit, with a reason naming `blocks`; with `blocks` unset the pool is
  sized from workers x max_jobs and a job writing everything on two
  workers loses nothing to `no_block`.
"""
import os

from dpcapd_util import (Tap, base_config, check_balance, gen, job_records,
                         job_stats, key, offline, run_daemon, tmpdir)


def main():
    t = Tap()
    d = tmpdir("startup")
    a = os.path.join(d, "a.pcap")
    gen("sample", a)
    full = offline(a, "", os.path.join(d, "all.pcap"))
    udp = offline(a, "udp", os.path.join(d, "udp.pcap"))

    # 1. 64 config jobs, one set, nothing missed.
    root = os.path.join(d, "cap64")
    jobs = [{"name": f"j{i:02d}", "filter": "udp" if i % 2 else ""} for i in range(64)]
    cfg = base_config(root, [(f"net_pcap0,rx_pcap={a}", 1)], exit_idle_ms=1500,
                      jobs=jobs, blocks=0, block_size=65536)
    rc, log, st = run_daemon(cfg, d, "k64", mem=512)
    t.eq(rc, 0, "64 config jobs: dpcapd exits 0")
    if rc != 0:
        t.diag(log[-1500:])
    check_balance(t, st, "64 config jobs")
    t.eq(st and st.get("job_sets_before_polling"), 1,
         "64 config jobs: published to the workers as one job set")
    bad = []
    for i in (0, 1, 62, 63):
        want = udp if i % 2 else full
        got = job_records(root, f"j{i:02d}")
        if [key(r) for r in got] != [key(r) for r in want]:
            bad.append((i, len(got), len(want)))
    t.check(not bad, f"64 config jobs: first and last jobs hold every match of the input {bad}")
    t.eq(sum(w["unwanted"] for w in st["workers"]) if st else -1, 0,
         "64 config jobs: no packet counted unwanted (every packet matches job j00)")

    # 2. A pool too small: the job that does not fit is refused, by name.
    root = os.path.join(d, "capsmall")
    jobs = [{"name": f"s{i}", "filter": ""} for i in range(3)]
    cfg = base_config(root, [(f"net_pcap0,rx_pcap={a}", 1)], exit_idle_ms=1000,
                      jobs=jobs, blocks=4)
    rc, log, st = run_daemon(cfg, d, "small")
    t.eq(rc, 1, "blocks 4, 1 worker, 3 jobs: a config job is refused (exit 1)")
    t.check("blocks: the pool of 4 blocks cannot give 1 worker(s) x 3 job(s)" in log,
            "blocks too small: the refusal names blocks, workers and jobs")
    names = sorted(j["name"] for j in (st or {}).get("jobs", []))
    t.eq(names, ["s0", "s1"], "blocks too small: the jobs that fit run")
    check_balance(t, st, "blocks too small")

    # 3. Auto-sized pool, two workers, one job writing everything: no no_block.
    root = os.path.join(d, "capauto")
    b = os.path.join(d, "b.pcap")
    gen("sample", b, seed=3)
    cfg = base_config(root, [(f"net_pcap0,rx_pcap={a},rx_pcap={b}", 2)],
                      exit_idle_ms=1500, jobs=[{"name": "all", "filter": ""}],
                      blocks=0, block_size=16384, max_jobs=8)
    rc, log, st = run_daemon(cfg, d, "auto", lcores="0@0,(1-2)@1", mem=512)
    t.eq(rc, 0, "auto pool: dpcapd exits 0")
    if rc != 0:
        t.diag(log[-1500:])
    check_balance(t, st, "auto pool")
    t.eq(st and st["pools"]["blocks"], 256, "auto pool: 2 workers x 8 jobs x 2 -> at least 256 blocks")
    js = job_stats(st, "all") if st else None
    t.eq(js and js["counters"]["dropped"].get("no_block"), 0, "auto pool: no no_block drops")
    t.eq(js and js["counters"]["written"], 2 * len(full), "auto pool: every packet of both queues written")
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
