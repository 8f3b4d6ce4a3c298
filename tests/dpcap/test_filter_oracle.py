#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""`dpcap filter -r IN -w OUT EXPR` writes, packet for packet, what
`tcpdump -r IN -w OUT EXPR` writes, on untagged non-overlay traffic:
generated (imix, and the untagged non-VXLAN part of sample and malformed)
and the tcpdump corpus ($DPCAP_CORPUS; skipped, counted, when absent).
Every corpus file also goes through `dpcap filter` alone: no crash, and the
output holds every record of the input (up to the damage, if any)."""
import os
import shutil
import sys
import tempfile

from dpc_pcaputil import (PcapError, Tap, first_diff, read_pcap, run,
                          warnings, write_pcap)

DPCAP, GEN = sys.argv[1], sys.argv[2]
t = Tap()
tmp = tempfile.mkdtemp(prefix="dpc-test-oracle-")
TCPDUMP = ["tcpdump", "--time-stamp-precision=nano", "-r"]

# Native and BPF-only primitives, negations, nesting (docs/filters.md).
EXPRS = [
    "tcp", "udp", "icmp", "ip", "ip6", "arp", "icmp6",
    "host 10.1.0.7", "src host 10.1.0.7", "dst port 80",
    "port 80 or port 443", "net 10.1.0.0/28", "tcp and not port 443",
    "portrange 9000-9010", "less 100", "greater 1000", "ip proto 17",
    "host 10.1.0.7 and tcp port 80", "(tcp or udp) and not host 10.1.0.1",
    "udp dst port 53", "ip6 and tcp", "port 5432 or port 53",
    "net 10.0.0.0/8 and not net 10.1.0.0/16",
    "tcp[tcpflags] & tcp-syn != 0", "ether broadcast",
    "not (tcp or udp)",
]
# tcpdump's "vlan" shifts the offsets of every primitive after it, so it
# comes last.
PLAIN = "not (udp port 4789 or udp port 8472) and not vlan"


def tcpdump(src, dst, expr):
    rc, _, err = run(TCPDUMP + [src, "-w", dst] + ([expr] if expr else []))
    return rc, err


def dpcap(src, dst, expr, *extra):
    return run([DPCAP, "filter", "-q", "-r", src, "-w", dst] + list(extra) +
               ([expr] if expr else []))


def norm(r):
    """dpcap repairs a record's orig_len below its caplen (a corrupt record)
    to caplen (docs/cli.md); tcpdump copies it. Compare after that repair."""
    return (r[0], r[1], max(r[1], r[2]), r[3])


def compare(label, src, expr):
    want = os.path.join(tmp, "want.pcap")
    got = os.path.join(tmp, "got.pcap")
    rc, err = tcpdump(src, want, expr)
    if rc != 0:
        t.check(False, f"{label} '{expr}': tcpdump failed: {err.strip()}")
        return False
    rc, _, err = dpcap(src, got, expr)
    if rc != 0:
        t.check(False, f"{label} '{expr}': dpcap filter exit {rc}: "
                f"{err.strip()}")
        return False
    _, a = read_pcap(want)
    _, b = read_pcap(got)
    a = [norm(r) for r in a]
    d = first_diff(b, a)
    ok = t.check(d is None, f"{label} '{expr}': {len(a)} packets, same as "
                 f"tcpdump" + (f" ({d})" if d else ""))
    if d and len(a) != len(b):
        wa = set((r[0], r[3]) for r in a)
        wb = set((r[0], r[3]) for r in b)
        t.diag(f"only tcpdump: {len(wa - wb)}, only dpcap: {len(wb - wa)}")
    return ok


# ---- generated traffic ----
inputs = []
imix = os.path.join(tmp, "imix.pcap")
run([GEN, "-p", "imix", "-n", "3000", "-o", imix])
inputs.append(("imix", imix))
for prof in ("sample", "malformed"):
    full = os.path.join(tmp, prof + "-full.pcap")
    plain = os.path.join(tmp, prof + ".pcap")
    run([GEN, "-p", prof, "-o", full])
    tcpdump(full, plain, PLAIN)
    inputs.append((prof + " untagged non-VXLAN", plain))

have_filter = True
rc, _, err = dpcap(imix, os.path.join(tmp, "probe.pcap"), "tcp")
if rc == 2 and "not part of this build" in err:
    have_filter = False

for label, src in inputs:
    n = len(read_pcap(src)[1])
    t.check(n > 20, f"{label}: {n} packets to compare")
    compare(label, src, None)
    for e in EXPRS:
        if have_filter:
            compare(label, src, e)
        else:
            t.skip(f"{label} '{e}': lib/filter not in this build")

# ---- the tcpdump corpus ----
corpus = os.environ.get("DPCAP_CORPUS", "")
if not corpus or not os.path.isdir(corpus):
    t.skip(f"corpus absent ({corpus or 'DPCAP_CORPUS unset'})")
    for e in EXPRS:
        t.skip(f"corpus '{e}': corpus absent")
else:
    names = sorted(f for f in os.listdir(corpus) if f.endswith(".pcap"))
    crashed, mismatched, damaged, skipped = [], [], 0, 0
    combined = []
    out = os.path.join(tmp, "c.pcap")
    want = os.path.join(tmp, "w.pcap")
    for name in names:
        path = os.path.join(corpus, name)
        rc, err = tcpdump(path, want, None)
        try:
            _, recs = read_pcap(want)
        except (PcapError, OSError):
            skipped += 1        # not readable by tcpdump at all
            continue
        rc, _, err = dpcap(path, out, None)
        if rc < 0 or rc not in (0, 3):
            crashed.append(f"{name}: exit {rc}: {err.strip()[-200:]}")
            continue
        try:
            _, got = read_pcap(out)
        except PcapError as e:
            crashed.append(f"{name}: output unreadable: {e}")
            continue
        damaged += rc == 3
        d = first_diff(got, [norm(r) for r in recs])
        if d:
            mismatched.append(f"{name}: {d}")
        combined += recs
    t.check(not crashed, f"corpus: {len(names) - skipped} files through "
            f"dpcap filter, none crashed ({damaged} damaged mid-file, "
            f"{skipped} unreadable by tcpdump too)")
    for c in crashed[:10]:
        t.diag(c)
    t.check(not mismatched, f"corpus: each output equals tcpdump's "
            f"({len(mismatched)} differ)")
    for m in mismatched[:10]:
        t.diag(m)
    allc = os.path.join(tmp, "corpus-all.pcap")
    plainc = os.path.join(tmp, "corpus.pcap")
    write_pcap(allc, combined)
    rc, err = tcpdump(allc, plainc, PLAIN)
    t.check(rc == 0 and not warnings(err),
            f"corpus: {len(combined)} records combined, read by tcpdump")
    for e in EXPRS:
        if have_filter:
            compare("corpus untagged non-VXLAN", plainc, e)
        else:
            t.skip(f"corpus '{e}': lib/filter not in this build")

shutil.rmtree(tmp)
sys.exit(t.done())
