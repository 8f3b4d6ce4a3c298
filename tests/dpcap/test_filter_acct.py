#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcap filter accounts for every packet it reads: on a full disk (a
small tmpfs) the summary line and the -q error line print read, unwanted,
written and dropped-by-reason numbers with read = written + unwanted +
dropped, and each number is checked against tcpdump: the packets read
(tcpdump -c on the input), the unwanted among them (tcpdump's EXPR count)
and the packets written (tcpdump's count of the output file). And it
never writes its output onto its input (the same file, through a link, or
a -C/-G directory holding it): exit 2, one line, the input untouched."""
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

# ---- the output never replaces the input ----
src = p("in.pcap")
shutil.copyfile(imix, src)
before = open(src, "rb").read()
os.symlink(src, p("link.pcap"))
os.link(src, p("hard.pcap"))
os.makedirs(p("d/sub"))
inner = p("d/sub/in.pcap")
shutil.copyfile(imix, inner)
inner_before = open(inner, "rb").read()
for args, label in (
        (["-r", src, "-w", src], "-w IN"),
        (["-r", src, "-w", tmp + "/./in.pcap"], "-w IN by another path"),
        (["-r", src, "-w", p("link.pcap")], "-w a symlink to IN"),
        (["-r", p("link.pcap"), "-w", src], "-r a symlink, -w its target"),
        (["-r", src, "-w", p("hard.pcap")], "-w a hard link to IN"),
        (["-r", src, "-w", src, "-C", "1"], "-w IN -C 1"),
        (["-r", inner, "-w", p("d"), "-C", "64k"], "-C into a directory "
         "holding IN"),
        (["-r", inner, "-w", p("d/sub"), "-G", "1"], "-G into IN's directory"),
        (["-r", p("link.pcap"), "-w", tmp, "-C", "1", "tcp"],
         "-C into the directory of IN's symlink target")):
    rc, _, err = run([DPCAP, "filter"] + args)
    lines = err.strip().splitlines()
    t.check(rc == 2 and len(lines) == 1 and "refusing to overwrite" in err,
            f"{label}: exit 2, one line refusing")
    if rc != 2 or len(lines) != 1:
        t.diag(f"exit {rc}: {err.strip()}".replace(tmp, "T"))
t.check(open(src, "rb").read() == before and
        open(inner, "rb").read() == inner_before and
        os.path.islink(p("link.pcap")) and
        tcpdump_count(src) == total and tcpdump_count(inner) == total,
        "the inputs are untouched (same bytes, tcpdump reads every packet)")
t.check(not [f for f in os.listdir(tmp) if ".dpcap-" in f],
        "no scratch directory left by a refused run")
# the check does not refuse what is not the input
rc, _, err = run([DPCAP, "filter", "-r", src, "-w", p("other.pcap")])
t.check(rc == 0 and tcpdump_count(p("other.pcap")) == total,
        "-w another file next to IN: written")
rc, _, err = run([DPCAP, "filter", "-r", src, "-w", p("d/out"), "-C", "64k"])
t.check(rc == 0, "-C into a new directory beside IN's: written")

shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
