#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcap filter through its command line: bounds (-c, -C, -W, --ring, -G,
-s) checked record by record against tcpdump's unbounded output,
--strip-vxlan checked with tshark (the written frame's fields are the
original's inner fields), and every bad argument / unreadable file: exit
status and one line on stderr."""
import glob
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile

from dpc_pcaputil import Tap, first_diff, read_pcap, run, warnings, write_pcap

DPCAP, GEN = sys.argv[1], sys.argv[2]
t = Tap()
tmp = tempfile.mkdtemp(prefix="dpc-test-cli-")


def p(name):
    return os.path.join(tmp, name)


def dpcap(*args):
    return run([DPCAP, "filter"] + list(args))


def manifest_problems(d, n_total):
    """What manifest.json of directory d gets wrong about the .pcap files
    really there (names, packets, bytes, first/last timestamp, sha256) and
    the run's total of n_total packets; [] when it is right."""
    try:
        man = json.load(open(os.path.join(d, "manifest.json")))
    except (OSError, ValueError) as e:
        return [f"manifest.json unreadable: {e}"]
    bad = []
    names = sorted(os.path.basename(f) for f in glob.glob(os.path.join(d, "*.pcap")))
    listed = [e.get("name") for e in man.get("files", [])]
    if sorted(listed) != names:
        bad.append(f"lists {listed}, directory holds {names}")
    for e in man.get("files", []):
        f = os.path.join(d, str(e.get("name")))
        if not os.path.exists(f):
            continue
        recs = read_pcap(f)[1]
        data = open(f, "rb").read()
        want = {"packets": len(recs), "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "first_ns": recs[0][0] if recs else None,
                "last_ns": recs[-1][0] if recs else None}
        for k, v in want.items():
            if e.get(k) != v:
                bad.append(f"{e['name']}: {k} {e.get(k)} != {v}")
    if man.get("totals", {}).get("packets") != n_total:
        bad.append(f"totals.packets {man.get('totals', {}).get('packets')} "
                   f"!= {n_total}")
    return bad


def dir_records(d):
    """Records of every .pcap in directory d, in file-name order."""
    files = sorted(glob.glob(os.path.join(d, "*.pcap")))
    recs = []
    for f in files:
        recs += read_pcap(f)[1]
    return files, recs


imix = p("imix.pcap")
run([GEN, "-p", "imix", "-n", "3000", "-o", imix])
_, all_recs = read_pcap(imix)
rc, _, err = run(["tcpdump", "--time-stamp-precision=nano", "-r", imix,
                  "-w", p("tcp.pcap"), "tcp"])
_, tcp_recs = read_pcap(p("tcp.pcap"))
M = len(tcp_recs)
t.check(M > 1000, f"imix: {M} TCP packets of {len(all_recs)} (tcpdump)")

# ---- -c ----
for n in (1, M - 1, M, M + 1):
    rc, _, err = dpcap("-r", imix, "-w", p("c.pcap"), "-c", str(n), "tcp")
    _, got = read_pcap(p("c.pcap"))
    want = tcp_recs[:min(n, M)]
    t.check(rc == 0 and got == want,
            f"-c {n}: the first {len(want)} TCP packets, exactly "
            f"({len(got)} written)")
    if n in (M - 1, M):
        last = all_recs.index(tcp_recs[n - 1]) + 1
        t.check("stop: packet count reached (-c)" in err and
                f"read {last}," in err,
                f"-c {n}: stops reading at the {n}th match (packet {last})")
    if n == M + 1:
        t.check("stop: end of input" in err and f"written {M} " in err,
                f"-c {n}: summary says end of input, {M} written")

# ---- -C (rotation by size) ----
for size, limit in (("64k", 65536), ("1", 1000000)):
    d = p("C" + size)
    rc, _, err = dpcap("-r", imix, "-w", d, "-C", size)
    files, got = dir_records(d)
    sizes = [os.path.getsize(f) for f in files]
    t.check(rc == 0 and got == all_recs,
            f"-C {size}: {len(files)} files hold every packet in order")
    t.check(max(sizes) <= limit and (len(files) == 1 or
                                     max(sizes) > limit * 0.9),
            f"-C {size}: files fill up to {limit} bytes, never more "
            f"(largest {max(sizes)})")
    bad = manifest_problems(d, len(all_recs))
    t.check(not bad, f"-C {size}: manifest.json lists every file with its "
            f"packets, bytes, first/last timestamp and sha256")
    for b in bad[:5]:
        t.diag(b)
    t.check(not glob.glob(os.path.join(d, "*.part")),
            f"-C {size}: no .part file left")
for f in files[:1]:
    rc, _, err = run(["tshark", "-r", f, "-T", "fields", "-e",
                      "frame.number"])
    t.check(rc == 0 and not warnings(err), "-C: tshark reads a rotated file "
            "without a warning")
    rc, _, err = run(["tcpdump", "-nr", f, "-w", "/dev/null"])
    t.check(rc == 0 and not warnings(err), "-C: tcpdump reads a rotated "
            "file without a warning")

# ---- -W: stop after FILES files; --ring: keep the newest FILES ----
d = p("W3")
rc, _, err = dpcap("-r", imix, "-w", d, "-C", "64k", "-W", "3")
files, got = dir_records(d)
t.check(rc == 0 and len(files) == 3 and got == all_recs[:len(got)] and
        len(got) < len(all_recs),
        f"-C 64k -W 3: 3 files, the first {len(got)} packets")
t.check("stop: file count reached (-W)" in err, "-W: summary names the stop")
d = p("ring")
rc, _, err = dpcap("-r", imix, "-w", d, "-C", "64k", "-W", "3", "--ring")
files, got = dir_records(d)
t.check(rc == 0 and len(files) == 3 and got == all_recs[-len(got):],
        f"-C 64k -W 3 --ring: 3 newest files, the last {len(got)} packets")
t.check("deleted by --ring" in err, "--ring: summary counts deleted files")
bad = manifest_problems(d, len(all_recs))
t.check(not bad, "--ring: manifest.json lists exactly the files kept, each "
        "right (packets, bytes, timestamps, sha256)")
for b in bad[:5]:
    t.diag(b)

# ---- -G (rotation by capture time) ----
spread = [(1767225600 * 10**9 + i * 250 * 10**6, r[1], r[2], r[3])
          for i, r in enumerate(all_recs[:200])]          # 50 s, 4 pps
write_pcap(p("spread.pcap"), spread)
d = p("G")
rc, _, err = dpcap("-r", p("spread.pcap"), "-w", d, "-G", "10")
files, got = dir_records(d)
spans = []
for f in files:
    r = read_pcap(f)[1]
    spans.append((r[-1][0] - r[0][0]) / 1e9)
t.check(rc == 0 and got == spread and len(files) == 5 and
        max(spans) < 10, f"-G 10: 50 s of packets in 5 files, each spanning "
        f"< 10 s ({spans})")

# ---- pcapng and microsecond input ----
for fmt in ("pcapng", "pcap"):
    conv = p("conv." + fmt)
    rc, _, err = run(["editcap", "-F", fmt, imix, conv])
    rc, _, err = dpcap("-r", conv, "-w", p("conv-out.pcap"), "tcp")
    _, got = read_pcap(p("conv-out.pcap"))
    if fmt == "pcap":   # editcap's pcap is microseconds: ns truncated
        want = [(r[0] // 1000 * 1000,) + r[1:] for r in tcp_recs]
    else:
        want = tcp_recs
    t.check(rc == 0 and got == want, f"{fmt} input (editcap): same packets")

# ---- -s ----
rc, _, err = dpcap("-r", imix, "-w", p("s.pcap"), "-s", "100")
_, got = read_pcap(p("s.pcap"))
want = [(r[0], min(r[1], 100), r[2], r[3][:100]) for r in all_recs]
t.check(rc == 0 and got == want, "-s 100: each packet cut to 100 bytes, "
        "orig_len kept")

# ---- --strip-vxlan, checked with tshark ----
sample = p("sample.pcap")
run([GEN, "-p", "sample", "-o", sample])
rc, _, err = dpcap("-r", sample, "-w", p("strip.pcap"), "--strip-vxlan",
                   "--vxlan-port", "4789", "--vxlan-port", "8472")
t.eq(rc, 0, "--strip-vxlan: exit 0")
FIELDS = ["frame.protocols", "eth.src", "eth.dst", "vlan.id", "ip.src",
          "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
          "tcp.seq_raw", "udp.srcport", "udp.dstport", "icmp.type",
          "arp.src.proto_ipv4", "arp.dst.proto_ipv4"]


def fields(path):
    cmd = ["tshark", "-r", path, "-d", "udp.port==8472,vxlan", "-T",
           "fields", "-E", "separator=/t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = run(cmd)[1]
    return [[v.split(",") if v else [] for v in (l.split("\t") +
            [""] * len(FIELDS))[:len(FIELDS)]] for l in out.splitlines()]


orig, strip = fields(sample), fields(p("strip.pcap"))
_, orig_recs = read_pcap(sample)
_, strip_recs = read_pcap(p("strip.pcap"))
t.eq(len(strip), len(orig), "--strip-vxlan: every packet written")
n_vx = bad = plain_bad = 0
for i, (o, s) in enumerate(zip(orig, strip)):
    if "vxlan" in o[0][0].split(":"):
        n_vx += 1
        # the stripped frame's values are the tail of the original's
        ok = bool(s[1]) and "vxlan" not in s[0][0].split(":")
        for k in range(1, len(FIELDS)):
            if s[k] != o[k][len(o[k]) - len(s[k]):]:
                ok = False
        if not ok:
            bad += 1
            if bad <= 3:
                t.diag(f"frame {i + 1}: {o} -> {s}")
    elif strip_recs[i] != orig_recs[i]:
        plain_bad += 1
t.check(n_vx > 60 and bad == 0, f"--strip-vxlan: {n_vx} VXLAN frames (4789 "
        f"and 8472) written as their inner frame, fields equal ({bad} not)")
t.eq(plain_bad, 0, "--strip-vxlan: non-VXLAN frames written unchanged")
ratio = [(strip_recs[i][2] - strip_recs[i][1], orig_recs[i][2] -
          orig_recs[i][1]) for i in range(len(orig_recs))]
t.check(all(a == b for a, b in ratio),
        "--strip-vxlan: orig_len shrinks by what was cut")
rc, _, err = dpcap("-r", sample, "-w", p("strip2.pcap"), "--strip-vxlan",
                   "--vxlan-port", "8472")
_, only8472 = read_pcap(p("strip2.pcap"))
n_short = sum(1 for a, b in zip(only8472, orig_recs) if a[1] < b[1])
t.check(0 < n_short < n_vx, f"--vxlan-port 8472 replaces 4789: only the "
        f"8472 frames stripped ({n_short})")

# ---- outputs read by tcpdump and tshark without a warning ----
for label, extra in (("vni 5001 and tcp port 5432", []),
                     ("--strip-vxlan", ["--strip-vxlan"])):
    out = p("read.pcap")
    args = ["-r", sample, "-w", out] + extra
    if not extra:
        args.append(label)
    rc, _, err = dpcap(*args)
    n = len(read_pcap(out)[1])
    rc1, o1, e1 = run(["tcpdump", "-ttnr", out])
    rc2, o2, e2 = run(["tshark", "-r", out])
    t.check(rc == 0 and n > 0 and rc1 == 0 and rc2 == 0 and
            not warnings(e1) and not warnings(e2) and
            len(o2.splitlines()) == n,
            f"sample, {label}: {n} packets, read by tcpdump and tshark "
            f"without a warning")

# ---- errors: exit status and exactly one line on stderr ----
open(p("text.txt"), "w").write("not a capture\n")
os.mkdir(p("adir"))
os.mkdir(p("full"))
open(p("full/x"), "w").write("x")
with open(p("raw.pcap"), "wb") as f:           # link type 101 (raw IP)
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
good = imix
CASES = [
    ([], 2, "-r IN and -w OUT"),
    (["-r", good], 2, "-w OUT"),
    (["-w", p("o.pcap")], 2, "-r IN"),
    (["-r", "/nonexistent.pcap", "-w", p("o.pcap")], 1,
     "cannot read /nonexistent.pcap"),
    (["-r", p("text.txt"), "-w", p("o.pcap")], 1, "cannot read"),
    (["-r", p("raw.pcap"), "-w", p("o.pcap")], 1, "not Ethernet"),
    (["-r", good, "-w", "/nonexistent/dir/o.pcap"], 1, "cannot write"),
    (["-r", good, "-w", p("adir")], 1, "is a directory"),
    (["-r", good, "-w", p("full"), "-C", "1"], 1, "not empty"),
    (["-r", good, "-w", p("o.pcap"), "-C", "1"], 0, None),
    (["-r", good, "-w", "-"], 2, "not supported"),
    (["-r", "-", "-w", p("o.pcap")], 2, "not supported"),
    (["-r", good, "-w", p("o.pcap"), "-c", "0"], 2, "-c"),
    (["-r", good, "-w", p("o.pcap"), "-c", "abc"], 2,
     "-c: 'abc' is not an integer in 1.."),
    (["-r", good, "-w", p("o.pcap"), "-G", "x"], 2,
     "-G: 'x' is not an integer in 1.."),
    (["-r", good, "-w", p("o.pcap"), "-C", "1", "-W", "x"], 2,
     "-W: 'x' is not an integer in 1.."),
    (["-r", good, "-w", p("o.pcap"), "-c", "-5"], 2, "-c"),
    (["-r", good, "-w", p("o.pcap"), "-c"], 2, "needs a value"),
    (["-r", good, "-w", p("o.pcap"), "-C", "0"], 2, "-C"),
    (["-r", good, "-w", p("o.pcap"), "-C", "10x"], 2, "-C: '10x'"),
    (["-r", good, "-w", p("o.pcap"), "-W", "3"], 2, "-W needs -C or -G"),
    (["-r", good, "-w", p("o.pcap"), "--ring"], 2, "--ring needs -W"),
    (["-r", good, "-w", p("o.pcap"), "-G", "0"], 2, "-G"),
    (["-r", good, "-w", p("o.pcap"), "-s", "300000"], 2, "-s"),
    (["-r", good, "-w", p("o.pcap"), "--vxlan-port", "0"], 2, "--vxlan-port"),
    (["-r", good, "-w", p("o.pcap"), "--vxlan-port", "70000"], 2,
     "--vxlan-port"),
    (["-r", good, "-w", p("o.pcap")] + sum((["--vxlan-port", str(x)] for x in
                                            range(1, 6)), []), 2, "at most"),
    (["-r", good, "-w", p("o.pcap"), "--bogus"], 2, "unknown option '--bogus'"),
    (["-r", good, "-w", p("bad.pcap"), "host", "and"], 2, "column"),
]
for args, want_rc, msg in CASES:
    rc, out, err = dpcap(*args)
    lines = err.strip().splitlines()
    label = " ".join(a.replace(tmp, "T") for a in args) or "(no arguments)"
    if want_rc == 0:
        t.eq(rc, 0, f"filter {label}: exit 0")
        continue
    t.check(rc == want_rc and len(lines) == 1 and msg in lines[0],
            f"filter {label}: exit {want_rc}, one line naming '{msg}'")
    if rc != want_rc or len(lines) != 1 or msg not in lines[0]:
        t.diag(f"exit {rc}, stderr: {err!r}")
t.check(not os.path.exists(p("bad.pcap")) and
        not glob.glob(p("bad.pcap*")), "a bad filter creates no file")
t.check(not glob.glob(p("o.pcap.dpcap-*")), "no scratch directory left behind")

# Damaged input: output holds everything before the damage, exit 3.
data = open(imix, "rb").read()
open(p("torn.pcap"), "wb").write(data[:len(data) // 2])
rc, _, err = dpcap("-r", p("torn.pcap"), "-w", p("torn-out.pcap"))
_, got = read_pcap(p("torn-out.pcap"))
t.check(rc == 3 and "input damaged" in err and 0 < len(got) and
        got == all_recs[:len(got)],
        f"torn input: exit 3, the {len(got)} whole packets before it written")
rc, _, err = dpcap("-q", "-r", p("torn.pcap"), "-w", p("torn-out.pcap"))
t.check(rc == 3 and len(err.strip().splitlines()) == 1 and
        "input damaged" in err, "torn input, -q: exit 3 and still one line "
        "saying why (-q only drops the summary)")

# Full disk: a 512 KiB tmpfs. Exit 1, the error named, and the output is a
# valid file holding a prefix of the packets.
mnt = p("small-fs")
os.mkdir(mnt)
if run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt])[0] != 0:
    t.skip("full disk: cannot mount a tmpfs here (not root?)")
else:
    try:
        out = os.path.join(mnt, "out.pcap")
        rc, _, err = dpcap("-r", imix, "-w", out)
        _, got = read_pcap(out)
        t.check(rc == 1 and "No space left on device" in err and
                len(err.strip().splitlines()) == 1 and 0 < len(got) and
                got == all_recs[:len(got)],
                f"full disk: exit 1, ENOSPC named, the first {len(got)} "
                f"packets kept in a valid file")
        t.check(not glob.glob(os.path.join(mnt, "*.dpcap-*")),
                "full disk: no scratch directory left behind")
        os.unlink(out)
        rc, _, err = dpcap("-q", "-r", imix, "-w", out)
        t.check(rc == 1 and len(err.strip().splitlines()) == 1 and
                "No space left on device" in err,
                "full disk, -q: exit 1 and still one line naming ENOSPC")
        os.unlink(out)
        # directory mode: every rotated file valid, the manifest right
        d = os.path.join(mnt, "rot")
        rc, _, err = dpcap("-r", imix, "-w", d, "-C", "64k")
        files, got = dir_records(d)
        t.check(rc == 1 and "No space left on device" in err and
                len(err.strip().splitlines()) == 1 and len(files) > 1 and
                got == all_recs[:len(got)],
                f"full disk, -C 64k: exit 1, ENOSPC named, {len(files)} valid "
                f"files holding the first {len(got)} packets")
        bad = manifest_problems(d, len(got))
        t.check(not bad, "full disk, -C 64k: manifest.json right about every "
                "file left")
        for b in bad[:5]:
            t.diag(b)
    finally:
        run(["umount", mnt])

# ---- the dpcap front door ----
for args, want_rc, where, msg in (
        ([], 2, "err", "usage: dpcap"),
        (["--help"], 0, "out", "filter"),
        (["--version"], 0, "out", "dpcap "),
        (["help", "filter"], 0, "out", "usage: dpcap filter"),
        (["filter", "--help"], 0, "out", "Exit status"),
        (["help", "nosuch"], 2, "err", "unknown command 'nosuch'"),
        (["nosuch"], 2, "err", "unknown command 'nosuch'")):
    rc, out, err = run([DPCAP] + args)
    t.check(rc == want_rc and msg in (out if where == "out" else err),
            f"dpcap {' '.join(args) or '(nothing)'}: exit {want_rc}, "
            f"'{msg}'")

shutil.rmtree(tmp)
sys.exit(t.done())
