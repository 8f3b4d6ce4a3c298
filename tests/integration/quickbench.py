#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Quick rx-rate check of dpcapd (not a registered test; the full harness
is the bench module's): net_pcap infinite_rx on one worker lcore with 0, 1,
8 and 64 jobs (host/port filters, ~1.3% of the imix traffic matching in
total), rate read twice from the /dpcap/stats telemetry command.
    /usr/bin/python3 tests/integration/quickbench.py [seconds]
Compare with a bare rx loop on the same PMD and core:
    dpdk-testpmd -l 0-1 --no-huge -m 512 --no-pci \\
      --vdev net_pcap0,rx_pcap=imix.pcap,infinite_rx=1 -- \\
      --forward-mode=rxonly --stats-period 2 --no-flush-rx -a
"""
import json
import os
import socket
import subprocess
import sys
import time

from dpcapd_util import base_config, gen, start_daemon, tmpdir, wait_for


def tel(tag, pid_tag):
    path = f"/var/run/dpdk/dpc-dp-{tag}-{pid_tag}/dpdk_telemetry.v2"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    s.recv(4096)
    s.send(b"/dpcap/stats")
    r = json.loads(s.recv(65536))["/dpcap/stats"]
    s.close()
    return r


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    d = tmpdir("qb")
    imix = os.path.join(d, "imix.pcap")
    gen("imix", imix, n=2000)
    for n in (0, 1, 8, 64):
        jobs = []
        for i in range(n):
            expr = "host 10.1.0.29" if i == 0 else f"host 10.9.{i}.1 or port {7000 + i}"
            jobs.append({"name": f"j{i}", "filter": expr})
        cfg = base_config(os.path.join(d, f"cap{n}"),
                          [(f"net_pcap0,rx_pcap={imix},infinite_rx=1", 1)],
                          jobs=jobs, mbufs=8191, mbuf_cache=256,
                          worker_idle_sleep_us=0, min_free_bytes=0)
        tag = f"qb{n}"
        p = start_daemon(cfg, d, tag, mem=512)
        wait_for(lambda: "running (" in open(p.log_path).read(), timeout=20)
        time.sleep(1.0)
        a = tel(tag, os.getpid())
        t0 = time.time()
        time.sleep(secs)
        b = tel(tag, os.getpid())
        t1 = time.time()
        p.terminate()
        p.wait()
        rate = (b["rx"] - a["rx"]) / (t1 - t0)
        print(f"jobs {n:3d}: {rate / 1e6:6.2f} Mpps  matched {b['matched'] - a['matched']}"
              f"  drops {sum(v for k, v in b.items() if k.startswith('drop_'))}")
    subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
