#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcap filter accounts for every packet it reads: on a full disk (a
small tmpfs) the summary line and the -q error line print read, unwanted,
written and dropped-by-reason numbers with read = written + unwanted +
dropped, and each number is checked against tcpdump: the packets read
(tcpdump -c on the input), the unwanted among them (tcpdump's EXPR count)
and the packets written (tcpdump's count of the output file)."""
import os
import re
import shutil
import sys
import tempfile

from dpc_pcaputil import Tap, run

DPCAP, GEN = sys.argv[1], sys.argv[2]
t = Tap()
tmp = tempfile.mkdtemp(prefix="dpc-test-acct-")


def p(name):
    return os.path.join(tmp, name)


def tcpdump_count(path, *expr, first=None):
    """Packets tcpdump reads from path (the first `first` only, if given)
    that match expr."""
    if first is not None:
        # tcpdump -c counts matches: cut the first packets out unfiltered
        head = p("head.pcap")
        if run(["tcpdump", "-c", str(first), "-r", path, "-w", head])[0]:
            return -1
        path = head
    rc, out, err = run(["tcpdump", "-nn", "-q", "-t", "-r", path] +
                       list(expr))
    return len(out.splitlines()) if rc == 0 else -1


NUM = r"(\d+)"


def parse_numbers(err):
    """read, unwanted, written, dropped and the dropped reasons as printed."""
    got = {}
    for key in ("read", "unwanted", "written", "dropped"):
        m = re.search(r"\b" + key + " " + NUM, err)
        got[key] = int(m.group(1)) if m else None
    for key, pat in (("disk_error", NUM + " lost to the disk error"),
                     ("disk_low", NUM + " cut at the free-space floor"),
                     ("refused", NUM + " refused after the stop")):
        m = re.search(pat, err)
        got[key] = int(m.group(1)) if m else 0
    return got


imix = p("imix.pcap")
run([GEN, "-p", "imix", "-n", "3000", "-o", imix])
total = tcpdump_count(imix)
t.check(total == 3000, f"imix: tcpdump reads {total} packets")
# bigger than the writer's 4 MiB buffer: the disk fills while reading
big = p("big.pcap")
run([GEN, "-p", "imix", "-n", "15000", "-o", big])
big_total = tcpdump_count(big)
t.check(big_total == 15000 and os.path.getsize(big) > 4 << 20,
        f"big imix: tcpdump reads {big_total} packets, "
        f"{os.path.getsize(big)} bytes")

mnt = p("small-fs")
os.mkdir(mnt)
if run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", mnt])[0] != 0:
    for _ in range(9):
        t.skip("full disk: cannot mount a tmpfs here (not root?)")
    for _ in range(2):
        t.skip("full disk: cannot mount a tmpfs here (not root?)")
else:
    try:
        for quiet, expr, src in (([], [], imix), ([], ["tcp"], imix),
                                 (["-q"], ["tcp"], imix),
                                 ([], ["tcp"], big), (["-q"], [], big)):
            label = "full disk" + (" -q" if quiet else "") + \
                (" " + " ".join(expr) if expr else "") + \
                (", input bigger than the buffer" if src == big else "")
            n_in = total if src == imix else big_total
            out = os.path.join(mnt, "out.pcap")
            rc, _, err = run([DPCAP, "filter"] + quiet +
                             ["-r", src, "-w", out] + expr)
            lines = err.strip().splitlines()
            g = parse_numbers(err)
            written = tcpdump_count(out) if os.path.exists(out) else -1
            read = g["read"] or 0
            unwanted = read - tcpdump_count(src, *expr, first=read) \
                if read else -1
            t.check(rc == 1 and len(lines) == 1 and
                    "No space left on device" in err,
                    f"{label}: exit 1, one line naming ENOSPC")
            t.check(None not in g.values() and
                    g["read"] == g["written"] + g["unwanted"] + g["dropped"]
                    and g["dropped"] == g["disk_error"] + g["disk_low"] +
                    g["refused"] and g["disk_error"] > 0,
                    f"{label}: printed read {g['read']} = written "
                    f"{g['written']} + unwanted {g['unwanted']} + dropped "
                    f"{g['dropped']} ({g['disk_error']} lost to the disk "
                    f"error, {g['refused']} refused)")
            t.check(g["written"] == written and g["unwanted"] == unwanted and
                    0 < read <= n_in,
                    f"{label}: tcpdump agrees: {written} packets in the "
                    f"file, {unwanted} of the first {read} unwanted")
            if src == big:
                # the disk filled while reading: the packet offered then
                # is refused (stop: error), the buffered ones are lost
                t.check(read < n_in and g["refused"] == 1,
                        f"{label}: reading stopped at the error ({read} of "
                        f"{n_in}), the packet offered then refused")
            t.diag(err.strip().replace(tmp, "T"))
            os.unlink(out)
    finally:
        run(["umount", mnt])

shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
