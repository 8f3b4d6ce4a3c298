# SPDX-License-Identifier: BSD-3-Clause
"""lib/pcapfile output read by the standard tools (suite pcap).

For several writer configurations, pf_write writes frames through
lib/pcapfile and the same accepted records through libpcap's pcap_dump (the
reference). Then, for every file the manifest lists:
  - capinfos and tshark -r read it with exit 0 and nothing on stderr;
  - capinfos's packet count and encapsulation agree with the manifest;
  - sha256sum equals the manifest's sha256;
and over all files, in manifest order, tshark's and tcpdump's view of the
packets (stamps to the ns, lengths, bytes) equals their view of the
reference file.

Usage: test_pcap_tools.py PF_WRITE
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("DPCAP_SRC", "."), "tests", "lib"))
from dpc_tap import Tap  # noqa: E402

# name, pf_write options, records offered, expected stop reason
CONFIGS = [
    ("plain", [], 3000, "closed"),
    ("snaplen 96", ["-s", "96"], 2000, "closed"),
    ("blocks, -C 700000, -s 1000", ["-b", "-C", "700000", "-s", "1000"], 3000, "closed"),
    ("-c 1234 -C 400000", ["-c", "1234", "-C", "400000"], 3000, "packets"),
    ("blocks -c 777", ["-b", "-c", "777"], 3000, "packets"),
    ("-W 3 -C 300000", ["-W", "3", "-C", "300000"], 3000, "files"),
]


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def tshark_view(path):
    return run(["tshark", "-r", path, "-n", "-T", "fields",
                "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len",
                "-e", "ip.src", "-e", "ip.dst", "-e", "udp.srcport", "-e", "udp.length"])


def tcpdump_view(path):
    return run(["tcpdump", "-r", path, "-nn", "-tt", "--time-stamp-precision=nano", "-xx"])


def warnings(err):
    """stderr lines other than the tools' fixed notices: tcpdump announces
    the file it reads, tshark warns when run as root. Nothing else is
    expected."""
    return [l for l in err.splitlines()
            if l.strip() and not l.startswith("reading from file")
            and not l.startswith('Running as user "root"')]


def main():
    t = Tap()
    pf_write = sys.argv[1]
    for tool in ("tshark", "capinfos", "tcpdump", "sha256sum"):
        if not shutil.which(tool):
            t.skip(f"{tool} not installed")
            return t.done()
    root = tempfile.mkdtemp(prefix="dpc-pcapfile-tools-")
    try:
        for name, args, n, stop in CONFIGS:
            d = os.path.join(root, name.replace(" ", "_").replace(",", ""))
            os.mkdir(d)
            ref = os.path.join(d, "reference.pcap.ref")
            rc, _, err = run([pf_write] + args + [d, ref, str(n)])
            if not t.eq(rc, 0, f"{name}: pf_write ran"):
                t.diag(err)
                continue
            with open(os.path.join(d, "manifest.json")) as f:
                man = json.load(f)
            files = man["files"]
            t.check(len(files) >= 1, f"{name}: manifest lists {len(files)} file(s)")
            ts_all, td_all, td_ok, ts_ok, ci_ok, sha_ok = [], [], True, True, True, True
            for e in files:
                path = os.path.join(d, e["name"])
                rc, out, err = run(["capinfos", "-M", "-c", "-E", "-t", path])
                if rc != 0 or warnings(err):
                    t.diag(f"capinfos {e['name']}: rc {rc} {err.strip()}")
                    ci_ok = False
                cnt = [l for l in out.splitlines() if l.startswith("Number of packets")]
                if not cnt or int(cnt[0].split(":")[1]) != e["packets"] \
                        or "encapsulation:  ether" not in out or "nsecpcap" not in out:
                    t.diag(f"capinfos {e['name']}: {out!r} vs manifest {e['packets']}")
                    ci_ok = False
                rc, out, err = tshark_view(path)
                if rc != 0 or warnings(err):
                    t.diag(f"tshark {e['name']}: rc {rc} {err.strip()}")
                    ts_ok = False
                ts_all += out.splitlines()
                rc, out, err = tcpdump_view(path)
                if rc != 0 or warnings(err):
                    t.diag(f"tcpdump {e['name']}: rc {rc} {err.strip()}")
                    td_ok = False
                td_all += out.splitlines()
                rc, out, _ = run(["sha256sum", path])
                if rc != 0 or out.split()[0] != e["sha256"]:
                    t.diag(f"sha256 {e['name']}: {out.split()[:1]} vs {e['sha256']}")
                    sha_ok = False
            t.check(ci_ok, f"{name}: capinfos reads every file, counts match the manifest")
            t.check(ts_ok, f"{name}: tshark -r reads every file without a warning")
            t.check(td_ok, f"{name}: tcpdump -r reads every file without a warning")
            t.check(sha_ok, f"{name}: sha256sum matches the manifest for every file")
            rc, ref_ts, _ = tshark_view(ref)
            ref_ts = ref_ts.splitlines()
            t.eq(len(ts_all), len(ref_ts), f"{name}: tshark sees as many packets as in the reference")
            t.check(ts_all == ref_ts, f"{name}: tshark fields equal the libpcap reference")
            rc, ref_td, _ = tcpdump_view(ref)
            t.check(td_all == ref_td.splitlines(),
                    f"{name}: tcpdump output (ns stamps, hex) equals the reference")
            total = sum(e["packets"] for e in files)
            t.check(total > 0 and len(ts_all) == total,
                    f"{name}: tshark lists {len(ts_all)} packets, manifest {total}")
            t.eq(total, man["totals"]["packets"], f"{name}: manifest totals match its files")
            t.eq(man["stop_reason"], stop, f"{name}: stop reason")
            if "-c" in args:
                t.eq(total, int(args[args.index("-c") + 1]), f"{name}: exactly -c packets")
            if "-W" in args:
                t.eq(len(files), int(args[args.index("-W") + 1]), f"{name}: exactly -W files")
            if "-C" in args:
                lim = int(args[args.index("-C") + 1])
                t.check(all(os.path.getsize(os.path.join(d, e["name"])) <= lim for e in files),
                        f"{name}: no file above -C")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
