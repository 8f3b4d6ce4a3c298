#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Live capture: the test creates a veth pair with one end in a network
namespace, runs dpcapd on net_af_packet on the other end, and replays
generated traffic into the namespace end with tcpreplay. The capture holds
exactly what was sent (compared with `dpcap filter` on the sent file, in
order), write=inner strips VXLAN, counters balance. Needs root; skips
otherwise."""
import os
import shutil
import signal
import subprocess
import sys
import time

from dpcapd_util import (Tap, base_config, check_balance, finish, gen,
                         job_records, job_stats, key, offline, start_daemon,
                         tmpdir, wait_for)


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


def main():
    t = Tap()
    if os.geteuid() != 0 or not shutil.which("tcpreplay") or not shutil.which("ip"):
        t.skip("needs root, ip and tcpreplay")
        return t.done()
    n = os.getpid() % 1000
    ns, va, vb = f"dpcdp{n}", f"dpcdp{n}a", f"dpcdp{n}b"
    d = tmpdir("live")
    sent = os.path.join(d, "sent.pcap")
    gen("overlay", sent, n=2000, seed=13)
    p = None
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", vb, "netns", ns)
        for cmd in (["sysctl", "-q", "-w", f"net.ipv6.conf.{va}.disable_ipv6=1"],
                    ["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                     f"net.ipv6.conf.{vb}.disable_ipv6=1"]):
            sh(*cmd, check=False)
        sh("ip", "link", "set", va, "mtu", "9000", "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", vb, "mtu", "9000", "up")

        root = os.path.join(d, "cap")
        jobs = [{"name": "ip", "filter": "ip"},
                {"name": "inner", "filter": "vxlan", "write": "inner"},
                {"name": "web", "filter": "tcp port 80"}]
        dev = f"net_af_packet0,iface={va},qpairs=1,framesz=2048,blocksz=4096,framecnt=8192"
        cfg = base_config(root, [(dev, 1)], jobs=jobs)
        p = start_daemon(cfg, d, "live", mem=256)
        ok = wait_for(lambda: "running (" in open(p.log_path).read(), timeout=15)
        t.check(ok, "dpcapd is up on net_af_packet")
        time.sleep(0.3)
        r = subprocess.run(["ip", "netns", "exec", ns, "tcpreplay", "-q", "--pps=4000",
                            "-i", vb, sent], capture_output=True, text=True)
        t.eq(r.returncode, 0, "tcpreplay sent the file into the namespace")
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        rc, log, st = finish(p, 30)
        p = None
        t.eq(rc, 0, "SIGTERM: exit 0")
        if rc != 0:
            t.diag(log[-2000:])
        check_balance(t, st, "live")
        for name, expr, inner in (("ip", "ip", False), ("inner", "vxlan", True),
                                  ("web", "tcp port 80", False)):
            want = offline(sent, expr, os.path.join(d, f"o-{name}.pcap"), strip=inner)
            got = job_records(root, name)
            t.check([key(x) for x in got] == [key(x) for x in want] and len(want) > 0,
                    f"live: job {name} ({expr}{', inner' if inner else ''}) holds what was sent: "
                    f"{len(got)} vs {len(want)}")
        ports = st["ports"] if st else []
        t.check(ports and ports[0]["imissed"] == 0 and ports[0]["rx_nombuf"] == 0,
                "live: no NIC-level loss (imissed, rx_nombuf)")
    finally:
        if p:
            p.kill()
            p.wait()
        sh("ip", "link", "del", va, check=False)
        sh("ip", "netns", "del", ns, check=False)
    if t.failed == 0:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
