# SPDX-License-Identifier: BSD-3-Clause
"""Every file of $DPCAP_CORPUS (tcpdump's own test captures, many of them
malformed) through `dpcap triage` - JSON, HTML and, for every tenth file,
the terminal report - run by the build under test (ASan/UBSan in
build-asan): no crash, a valid report, and exactly the packets libpcap
reads (tcpdump -r F -w - re-written and counted here). Skipped, counted,
when the corpus is absent.

usage: test_corpus.py DPCAP
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SRC = os.environ.get("DPCAP_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
from dpc_tap import Tap  # noqa: E402

t = Tap()
DPCAP = sys.argv[1]
corpus = os.environ.get("DPCAP_CORPUS", "")
TCPDUMP = shutil.which("tcpdump")


def libpcap_count(path):
    """Packets libpcap reads before any damage: tcpdump rewrites them as pcap."""
    p = subprocess.run([TCPDUMP, "-r", path, "-w", "-"], capture_output=True, timeout=60)
    b = p.stdout
    if len(b) < 24:
        return None
    magic = struct.unpack("<I", b[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    n, off = 0, 24
    while off + 16 <= len(b):
        incl = struct.unpack(end + "I", b[off + 8:off + 12])[0]
        off += 16 + incl
        n += 1
    return n


if not os.path.isdir(corpus):
    t.skip(f"corpus {corpus!r} absent")
    sys.exit(t.done())

files = sorted(f for f in os.listdir(corpus) if f.endswith((".pcap", ".pcapng")))
tmp = tempfile.mkdtemp(prefix="dpc-triage-corpus-")
html = os.path.join(tmp, "r.html")
for i, name in enumerate(files):
    path = os.path.join(corpus, name)
    p = subprocess.run([DPCAP, "triage", "--json", "--vxlan-port", "8472", path,
                        "--html", html], capture_output=True, text=True, timeout=60,
                       errors="replace")
    ok = p.returncode in (0, 3)
    why = f"exit {p.returncode}"
    if ok:
        try:
            rep = json.loads(p.stdout)
            want = libpcap_count(path) if TCPDUMP else None
            got = rep["summary"]["packets"]
            linktype = all(not (inp.get("error") or "").startswith("link type")
                           for inp in rep["inputs"])
            if want is not None and linktype and got != want:
                ok, why = False, f"{got} packets, libpcap reads {want}"
            if p.returncode == 3 and not any(f["code"] == "capture_damaged"
                                             for f in rep["findings"]):
                ok, why = False, "exit 3 without a capture_damaged finding"
            if not os.path.getsize(html):
                ok, why = False, "empty HTML page"
        except (ValueError, KeyError) as e:
            ok, why = False, f"bad JSON: {e}"
    if ok and i % 10 == 0:
        q = subprocess.run([DPCAP, "triage", path], capture_output=True, timeout=60)
        if q.returncode not in (0, 3) or b"== Verdict" not in q.stdout:
            ok, why = False, f"text report: exit {q.returncode}"
    if not ok:
        t.diag(p.stderr[-2000:])
    t.check(ok, f"{name}" + ("" if ok else f": {why}"))
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
