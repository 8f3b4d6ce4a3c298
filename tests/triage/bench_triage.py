# SPDX-License-Identifier: BSD-3-Clause
"""perf: dpcap triage throughput on a 1-million-packet mix (dpcap-gen
profile overlay: IMIX sizes, 30% VXLAN) side by side with
`tshark -r FILE -q -z conv,tcp` on the same file; reports packets/s of both
and the ratio. The checks are that both complete and that triage analyses
every packet tcpdump reads; the numbers are in the TAP diagnostics.

usage: bench_triage.py DPCAP DPCAP_GEN   (env TRIAGE_BENCH_N to change 1e6)
"""
import json
import resource
import os
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("DPCAP_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
from dpc_tap import Tap  # noqa: E402

t = Tap()
DPCAP, GEN = sys.argv[1], sys.argv[2]
N = int(os.environ.get("TRIAGE_BENCH_N", "1000000"))
tmp = tempfile.mkdtemp(prefix="dpc-triage-bench-")
f = os.path.join(tmp, "mix.pcap")
g = subprocess.run([GEN, "--profile", "overlay", "-n", str(N), "-o", f], capture_output=True, text=True)
t.eq(g.returncode, 0, f"dpcap-gen wrote {N} packets")



def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


t0, c0 = time.monotonic(), cpu()
p = subprocess.run([DPCAP, "triage", "--json", f], capture_output=True, text=True)
dt_triage, cpu_triage = time.monotonic() - t0, cpu() - c0
rep = json.loads(p.stdout) if p.returncode == 0 else {}
t.eq(rep.get("summary", {}).get("analysed"), N, "triage analysed every packet")
pps_triage = N / dt_triage

tshark = shutil.which("tshark")
if tshark:
    t0, c0 = time.monotonic(), cpu()
    q = subprocess.run([tshark, "-r", f, "-q", "-z", "conv,tcp"], capture_output=True, text=True)
    dt_tshark, cpu_tshark = time.monotonic() - t0, cpu() - c0
    t.eq(q.returncode, 0, "tshark -q -z conv,tcp completed")
    pps_tshark = N / dt_tshark
    t.diag(f"triage: {dt_triage:.2f} s wall, {cpu_triage:.2f} s CPU, "
           f"{pps_triage:,.0f} packets/s wall, {N / cpu_triage:,.0f} packets/CPU-s")
    t.diag(f"tshark -q -z conv,tcp: {dt_tshark:.2f} s wall, {cpu_tshark:.2f} s CPU, "
           f"{pps_tshark:,.0f} packets/s wall, {N / cpu_tshark:,.0f} packets/CPU-s")
    t.diag(f"ratio triage/tshark: {pps_triage / pps_tshark:.1f}x wall, "
           f"{cpu_tshark / cpu_triage:.1f}x CPU")
    print(f"# RESULT triage_pps={pps_triage:.0f} tshark_pps={pps_tshark:.0f} "
          f"ratio_wall={pps_triage / pps_tshark:.2f} ratio_cpu={cpu_tshark / cpu_triage:.2f}",
          flush=True)
else:
    t.skip("tshark absent: no comparison")
    t.diag(f"triage: {dt_triage:.2f} s, {pps_triage:,.0f} packets/s")
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
