# SPDX-License-Identifier: BSD-3-Clause
"""Helpers shared by the tests/dpcap Python tests.

read_pcap() is an independent classic-pcap reader (both magics, both byte
orders) used to compare files record by record; run() runs a command and
captures its exit status and output.
"""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from dpc_tap import Tap  # noqa: E402,F401


class PcapError(Exception):
    pass


def read_pcap(path, tolerant=False):
    """Returns (header dict, [(ts_ns, caplen, orig_len, bytes)]).

    With tolerant=True a torn last record ends the list instead of raising
    (header['damaged'] is then True)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise PcapError(f"{path}: {len(data)} bytes, no pcap header")
    magic_le = struct.unpack("<I", data[:4])[0]
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", data[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            break
    else:
        raise PcapError(f"{path}: not classic pcap (magic {magic_le:#x})")
    nano = magic == 0xa1b23c4d
    vmaj, vmin, _, _, snaplen, linktype = struct.unpack(endian + "HHiIII",
                                                        data[4:24])
    hdr = {"nano": nano, "snaplen": snaplen, "linktype": linktype & 0xffff,
           "damaged": False, "version": (vmaj, vmin)}
    recs = []
    off = 24
    while off < len(data):
        if off + 16 > len(data):
            if tolerant:
                hdr["damaged"] = True
                break
            raise PcapError(f"{path}: torn record header at {off}")
        sec, frac, incl, orig = struct.unpack(endian + "IIII",
                                              data[off:off + 16])
        if incl > 262144 * 4 or off + 16 + incl > len(data):
            if tolerant:
                hdr["damaged"] = True
                break
            raise PcapError(f"{path}: torn record at {off}")
        ts = sec * 1000000000 + (frac if nano else frac * 1000)
        recs.append((ts, incl, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return hdr, recs


def write_pcap(path, recs, snaplen=262144):
    """Writes ns-magic pcap from [(ts_ns, caplen, orig_len, bytes)]."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, snaplen, 1))
        for ts, incl, orig, b in recs:
            f.write(struct.pack("<IIII", ts // 1000000000, ts % 1000000000,
                                incl, orig))
            f.write(b[:incl])


def run(cmd, timeout=120):
    """Returns (exit status, stdout, stderr) as text."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def tool_noise(line):
    """stderr lines the tools print on every run (not warnings)."""
    return (line.startswith("reading from file") or
            "Running as user \"root\"" in line or line.strip() == "")


def warnings(stderr):
    return [l for l in stderr.splitlines() if not tool_noise(l)]


def first_diff(a, b):
    """Index and description of the first differing record, or None."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            what = ("timestamp" if x[0] != y[0] else "caplen" if x[1] != y[1]
                    else "orig_len" if x[2] != y[2] else "bytes")
            return f"record {i + 1} differs ({what})"
    if len(a) != len(b):
        return f"{len(a)} records vs {len(b)}"
    return None
