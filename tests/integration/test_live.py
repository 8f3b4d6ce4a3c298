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


def flow_key(frame):
    """Direction-independent outer flow of an Ethernet frame, as the
    kernel's symmetric fanout hash sees it: past up to two VLAN tags, the
    IPv4 or IPv6 addresses and TCP/UDP ports. A frame without one (ARP,
    ...) is a flow of its own: no order across such frames is promised."""
    off = 12
    et = frame[off:off + 2]
    while et in (b"\x81\x00", b"\x88\xa8") and len(frame) >= off + 6:
        off += 4
        et = frame[off:off + 2]
    l3 = off + 2
    if et == b"\x08\x00" and len(frame) >= l3 + 20:
        ihl = (frame[l3] & 0xf) * 4
        proto = frame[l3 + 9]
        a, b = frame[l3 + 12:l3 + 16], frame[l3 + 16:l3 + 20]
        l4 = l3 + ihl
    elif et == b"\x86\xdd" and len(frame) >= l3 + 40:
        proto = frame[l3 + 6]
        a, b = frame[l3 + 8:l3 + 24], frame[l3 + 24:l3 + 40]
        l4 = l3 + 40
    else:
        return ("other", frame)
    pa = pb = b""
    if proto in (6, 17) and len(frame) >= l4 + 4:
        pa, pb = frame[l4:l4 + 2], frame[l4 + 2:l4 + 4]
    return (proto,) + tuple(sorted([(a, pa), (b, pb)]))


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

        # two queues (af_packet fanout hash, symmetric), two workers:
        # every packet once, and each flow in the order it was sent
        # real sessions, both directions; without VLAN-tagged frames (the
        # veth hands them to af_packet stripped on some kernels) and IP
        # fragments (not a datapath matter)
        allf = os.path.join(d, "sample.pcap")
        gen("sample", allf)
        flowy = os.path.join(d, "flows.pcap")
        offline(allf, "not vlan and not (ip[6:2] & 0x3fff != 0)", flowy)
        root = os.path.join(d, "cap2")
        dev2 = f"net_af_packet0,iface={va},qpairs=2,framesz=9216,blocksz=36864,framecnt=1024"
        cfg = base_config(root, [(dev2, 2)], jobs=[{"name": "ip", "filter": "ip"}],
                          mbuf_data_room=9344, mbufs=2047, mbuf_cache=32)
        p = start_daemon(cfg, d, "live2", lcores="0@0,(1-2)@1", mem=256)
        ok = wait_for(lambda: "running (" in open(p.log_path).read(), timeout=15)
        time.sleep(0.3)
        r = subprocess.run(["ip", "netns", "exec", ns, "tcpreplay", "-q", "--pps=4000",
                            "-i", vb, flowy], capture_output=True, text=True)
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        rc, log, st = finish(p, 30)
        p = None
        t.eq(rc, 0, "two queues: exit 0")
        check_balance(t, st, "two queues")
        want = offline(flowy, "ip", os.path.join(d, "o2-ip.pcap"))
        got = job_records(root, "ip")
        t.check(sorted(key(x) for x in got) == sorted(key(x) for x in want),
                f"two queues: every sent packet captured once ({len(got)} vs {len(want)})")
        used = [w["rx"] for w in st["workers"]] if st else []
        t.check(len(used) == 2 and min(used) > 0, f"two queues: both workers received ({used})")

        def flows(recs):
            out = {}
            for r_ in recs:
                out.setdefault(flow_key(r_[3]), []).append(key(r_))
            return out
        fg, fw = flows(got), flows(want)
        # the check means something only if most packets share a flow
        in_multi = sum(len(v) for v in fw.values() if len(v) > 1)
        t.check(fg == fw and in_multi >= len(want) / 2,
                f"two queues: each of {len(fw)} flows ({len(want)} packets, {in_multi} "
                f"in flows of two or more) in the order sent")
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
