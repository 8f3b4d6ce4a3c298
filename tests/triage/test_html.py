# SPDX-License-Identifier: BSD-3-Clause
"""The --html page rendered by headless chromium: the screenshot must show
the timeline (bars of all packets and of the finding's layer, in their
colours) and the tables, decoded here from the PNG with zlib. Skipped,
counted, when chromium is absent.

usage: test_html.py DPCAP
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SRC = os.environ.get("DPCAP_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpc_tap import Tap  # noqa: E402

t = Tap()
DPCAP = sys.argv[1]


def png_pixels(data):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    off, idat, w = 8, b"", 0
    while off < len(data):
        ln, typ = struct.unpack(">I4s", data[off:off + 8])
        body = data[off + 8:off + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"PNG depth {depth} type {ctype}"
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        off += 12 + ln
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, pos = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def near(px, rgb, tol=6):
    return all(abs(px[i] - rgb[i]) <= tol for i in range(3))


def blend(rgb, alpha, bg=(250, 250, 250)):
    return tuple(round(alpha * c + (1 - alpha) * b) for c, b in zip(rgb, bg))


chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if chromium is None:
    t.skip("chromium absent (scripts/deps --test installs it)")
    sys.exit(t.done())

import scenarios  # noqa: E402
from scapy.all import wrpcap  # noqa: E402

tmp = tempfile.mkdtemp(prefix="dpc-triage-html-")
pcap = os.path.join(tmp, "v.pcap")
wrpcap(pcap, scenarios.vxlan_mtu(40))
page = os.path.join(tmp, "report.html")
p = subprocess.run([DPCAP, "triage", pcap, "--html", page], capture_output=True, text=True)
t.eq(p.returncode, 0, "dpcap triage --html exits 0")
shot = os.path.join(tmp, "shot.png")
prof = os.path.join(tmp, "profile")
c = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--user-data-dir={prof}",
                    "--window-size=1000,1000", f"--screenshot={shot}",
                    "file://" + page], capture_output=True, text=True, timeout=90)
t.check(c.returncode == 0 and os.path.exists(shot), "chromium wrote a screenshot")
if not os.path.exists(shot):
    t.diag(c.stderr[-2000:])
    sys.exit(t.done())
w, h, rows = png_pixels(open(shot, "rb").read())
t.check(w >= 900 and h >= 900, f"screenshot is {w}x{h}")
pixels = [px for row in rows for px in row]
nonwhite = sum(1 for px in pixels if px != (255, 255, 255))
t.check(nonwhite > 20000, f"page is not blank ({nonwhite} non-background pixels)")
allbar = blend((0x55, 0x55, 0x55), 0.55)
linkbar = blend((0x1f, 0x77, 0xb4), 0.85)
n_all = sum(1 for px in pixels if near(px, allbar))
n_link = sum(1 for px in pixels if near(px, linkbar))
t.check(n_all > 200, f"timeline shows the all-packets bars ({n_all} px of {allbar})")
t.check(n_link > 50, f"timeline shows the link-layer finding bars ({n_link} px of {linkbar})")
n_th = sum(1 for px in pixels if px == (238, 238, 238))
t.check(n_th > 500, f"tables are drawn ({n_th} px of header background)")
n_crit = sum(1 for px in pixels if near(px, (0xf8, 0xd0, 0xd0), 2))
t.check(n_crit > 500, f"the critical verdict row is drawn ({n_crit} px)")
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
