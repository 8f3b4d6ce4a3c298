#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcap-gen: every profile is read by tcpdump and tshark without a warning,
is byte-identical across runs with the same seed (and differs with another
seed), and has the composition docs/cli.md advertises, counted by tshark."""
import collections
import os
import shutil
import sys
import tempfile

from dpc_pcaputil import Tap, read_pcap, run, warnings

GEN = sys.argv[1]
t = Tap()
tmp = tempfile.mkdtemp(prefix="dpc-test-gen-")

PROFILES = {"sample": None, "malformed": None, "small": 5000, "imix": 6000,
            "overlay": 6000}


def gen(profile, out, n=None, seed=None):
    cmd = [GEN, "--profile", profile, "-o", out]
    if n:
        cmd += ["-n", str(n)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    return run(cmd)


def tshark_fields(path, *fields):
    cmd = ["tshark", "-r", path, "-d", "udp.port==8472,vxlan", "-T", "fields",
           "-E", "separator=/t"]
    for f in fields:
        cmd += ["-e", f]
    rc, out, err = run(cmd)
    return rc, [l.split("\t") for l in out.splitlines()], err


files = {}
for prof, n in PROFILES.items():
    a = os.path.join(tmp, prof + ".pcap")
    b = os.path.join(tmp, prof + "-again.pcap")
    c = os.path.join(tmp, prof + "-seed2.pcap")
    rc, _, err = gen(prof, a, n)
    t.eq(rc, 0, f"{prof}: dpcap-gen exits 0")
    gen(prof, b, n)
    gen(prof, c, n, seed=2)
    files[prof] = a
    A, B, C = (open(x, "rb").read() for x in (a, b, c))
    t.check(A == B, f"{prof}: byte-identical across two runs, same seed")
    t.check(A != C, f"{prof}: another seed gives other bytes")
    hdr, recs = read_pcap(a)
    t.check(hdr["nano"] and hdr["linktype"] == 1,
            f"{prof}: nanosecond magic, Ethernet")
    if n:
        t.eq(len(recs), n, f"{prof}: -n {n} writes exactly {n} frames")
    ts = [r[0] for r in recs]
    t.check(ts == sorted(ts), f"{prof}: timestamps never go back")
    rc, out, err = run(["tcpdump", "-nr", a, "-w", "/dev/null"])
    t.check(rc == 0 and not warnings(err),
            f"{prof}: tcpdump reads it without a warning")
    if warnings(err):
        t.diag(err)
    rc, out, err = run(["tcpdump", "-ttnr", a])
    t.eq(sum(1 for l in out.splitlines() if l.startswith("17672")), len(recs),
         f"{prof}: tcpdump sees every frame")
    rc, out, err = run(["tshark", "-r", a, "-T", "fields", "-e",
                        "frame.number"])
    t.check(rc == 0 and not warnings(err),
            f"{prof}: tshark reads it without a warning")
    if warnings(err):
        t.diag(err)
    t.eq(len(out.splitlines()), len(recs), f"{prof}: tshark sees every frame")

# -n on a scripted profile repeats the script up to N frames.
rc, _, _ = gen("sample", os.path.join(tmp, "s1000.pcap"), 1000)
t.eq(len(read_pcap(os.path.join(tmp, "s1000.pcap"))[1]), 1000,
     "sample -n 1000: script repeated to exactly 1000 frames")

# ---- sample: the advertised protocols, counted by tshark ----
rc, rows, _ = tshark_fields(files["sample"], "frame.protocols", "vxlan.vni",
                            "frame.len", "ip.hdr_len", "ip.flags.mf",
                            "ip.frag_offset", "udp.dstport", "ip.src",
                            "ip.dst", "tcp.dstport", "tcp.srcport",
                            "tcp.flags.syn", "tcp.flags.fin",
                            "tcp.flags.reset")
protos = collections.Counter()
vnis = collections.Counter()
sizes = []
sess = 0
for r in rows:
    r += [""] * (14 - len(r))
    (p, vni, flen, hl, mf, fo, udst, src, dst, tdst, tsrc, syn, fin,
     rst) = r
    layers = p.split(":")
    for l in set(layers):
        protos[l] += 1
    if layers.count("vlan") + layers.count("ieee8021ad") >= 2:
        protos["qinq"] += 1
    if "vxlan" in layers:
        vnis[vni] += 1
        port = udst.split(",")[0]
        protos["vxlan-" + port] += 1
        inner = layers[layers.index("vxlan") + 1:]
        for l in ("eth", "ip", "ipv6", "tcp", "udp"):
            if l in inner:
                protos[f"vxlan-{port}-inner-{l}"] += 1
        if (vni == "5001" and src.split(",")[0] in ("192.0.2.10", "192.0.2.20")
                and "10.0.1.5" in src.split(",")[1:] + dst.split(",")[1:]
                and "5432" in (tdst, tsrc)):
            sess += 1
    sizes.append(int(flen))
    if hl and any(int(x) > 20 for x in hl.split(",")):
        protos["ipv4-options"] += 1
    if (mf and "1" in mf.split(",")) or (fo and any(x not in ("", "0") for x
                                                    in fo.split(","))):
        protos["ipv4-fragment"] += 1
    if "1" in syn.split(","):
        protos["syn"] += 1
    if "1" in fin.split(","):
        protos["fin"] += 1
    if "1" in rst.split(","):
        protos["rst"] += 1
t.diag("sample composition: " + ", ".join(f"{k} {v}" for k, v in
                                           sorted(protos.items())))
t.check(200 <= len(rows) <= 600, f"sample: a few hundred frames ({len(rows)})")
for want in ("vlan", "ieee8021ad", "qinq", "ip", "ipv6", "tcp", "udp", "icmp",
             "icmpv6", "arp", "vxlan", "ipv4-options", "ipv4-fragment",
             "ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts",
             "vxlan-4789", "vxlan-8472", "syn", "fin", "rst"):
    t.check(protos[want] > 0, f"sample: has {want} ({protos[want]})")
for port in ("4789", "8472"):
    for l in ("eth", "ip", "ipv6", "tcp", "udp"):
        k = f"vxlan-{port}-inner-{l}"
        t.check(protos[k] > 0, f"sample: VXLAN on {port} carries inner {l} "
                f"({protos[k]})")
t.check(vnis["5001"] > 0 and vnis["5002"] > 0,
        f"sample: VNIs 5001 ({vnis['5001']}) and 5002 ({vnis['5002']})")
t.check(sess >= 20, f"sample: 10.0.1.5 <-> 10.0.3.7:5432 in VNI 5001 over "
        f"192.0.2.10 ({sess} frames)")
t.check(min(sizes) == 60 and max(sizes) == 9000,
        f"sample: sizes 60..9000 ({min(sizes)}..{max(sizes)})")

# ---- malformed ----
hdr, recs = read_pcap(files["malformed"])
runts = len(set(r[1] for r in recs if r[1] < 14 and r[1] == r[2]))
cut = sum(1 for r in recs if r[1] < r[2])
t.eq(runts, 13, "malformed: runts of every length 1..13 bytes")
t.check(cut >= 20, f"malformed: frames cut short of orig_len ({cut})")
rc, out, _ = run(["tshark", "-r", files["malformed"], "-d",
                  "udp.port==8472,vxlan", "-Y",
                  "_ws.malformed or _ws.expert.severity >= warning",
                  "-T", "fields", "-e", "frame.number"])
bad = len(out.splitlines())
t.check(bad >= len(recs) // 2,
        f"malformed: tshark flags most frames ({bad} of {len(recs)})")
rc, rows, _ = tshark_fields(files["malformed"], "frame.protocols",
                            "vxlan.flag_i")
nested = sum(1 for r in rows if r[0].split(":").count("vxlan") >= 2)
t.check(nested >= 2, f"malformed: nested VXLAN ({nested})")
noi = sum(1 for r in rows if "vxlan" in r[0] and len(r) > 1 and
          r[1].split(",")[0] == "0")
t.check(noi >= 1, f"malformed: VXLAN with the I flag unset ({noi})")

# ---- benchmark profiles ----
for prof in ("small", "imix", "overlay"):
    rc, rows, _ = tshark_fields(files[prof], "frame.len", "frame.protocols",
                                "ip.dst", "ip.src", "tcp.port", "udp.port")
    n = len(rows)
    lens = collections.Counter(int(r[0]) for r in rows)
    vx = sum(1 for r in rows if "vxlan" in r[1])
    tcp = sum(1 for r in rows if r[1].endswith(":tcp") or ":tcp:" in r[1])
    # a given server host (last address of the innermost IP) ~1%
    host = sum(1 for r in rows if "10.1.0.7" in
               (r[2].split(",")[-1], r[3].split(",")[-1]))
    if prof == "small":
        t.eq(set(lens), {64}, "small: every frame is 64 bytes")
    if prof == "imix":
        share = [lens[s] / n for s in (64, 570, 1518)]
        t.check(abs(share[0] - 7 / 12) < 0.03 and abs(share[1] - 4 / 12) < 0.03
                and abs(share[2] - 1 / 12) < 0.02 and sum(share) == 1.0,
                f"imix: 7:4:1 of 64/570/1518 ({share})")
    if prof == "overlay":
        t.check(abs(vx / n - 0.30) < 0.03, f"overlay: 30% VXLAN ({vx / n:.3f})")
    else:
        t.eq(vx, 0, f"{prof}: no VXLAN")
    t.check(abs(tcp / n - 0.8) < 0.03, f"{prof}: 80% TCP ({tcp / n:.3f})")
    t.check(0.005 < host / n < 0.015,
            f"{prof}: server 10.1.0.7 in ~1% of frames ({host / n:.4f})")

# ---- checksums: tshark verifies them (status 0 bad, 1 good) ----
CK = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
      "-o", "udp.check_checksum:TRUE", "-d", "udp.port==8472,vxlan"]
for prof in ("sample", "small", "imix", "overlay"):
    cmd = ["tshark", "-r", files[prof]] + CK + ["-T", "fields"]
    for x in ("ip", "tcp", "udp", "icmp", "icmpv6"):
        cmd += ["-e", x + ".checksum.status"]
    vals = run(cmd)[1].replace("\t", ",").replace("\n", ",").split(",")
    nb, ng = vals.count("0"), vals.count("1")
    t.check(nb == 0 and ng > 0, f"{prof}: checksums verified by tshark "
            f"({ng} good, {nb} bad)")

# ---- the command line ----
rc, out, _ = run([GEN, "--list"])
t.check(rc == 0 and all(k in out for k in PROFILES), "--list names every "
        "profile")
rc, out, _ = run([GEN, "--help"])
t.check(rc == 0 and "--profile" in out and "Exit status" in out,
        "--help documents options and exit status")
for args, want, msg in (
        (["-o", os.path.join(tmp, "x.pcap")], 2, "--profile is required"),
        (["-p", "nosuch", "-o", os.path.join(tmp, "x.pcap")], 2,
         "unknown profile 'nosuch'"),
        (["-p", "small"], 2, "-o FILE is required"),
        (["-p", "small", "-n", "0", "-o", os.path.join(tmp, "x.pcap")], 2,
         "-n"),
        (["-p", "small", "--seed", "x", "-o", os.path.join(tmp, "x.pcap")], 2,
         "--seed"),
        (["-p", "small", "-o", "/nonexistent/x.pcap"], 1, "/nonexistent"),
        (["-p", "small", "--bogus"], 2, "unknown option")):
    rc, _, err = run([GEN] + args)
    lines = err.strip().splitlines()
    t.check(rc == want and len(lines) == 1 and msg in lines[0],
            f"dpcap-gen {' '.join(args).replace(tmp, 'T')}: exit {want}, "
            f"'{msg}'")

shutil.rmtree(tmp)
sys.exit(t.done())
