#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""scripts/run, the README's run command, against this build: the main
job completes and the command prints where the pcap is and its first
packets (tcpdump's own reading of the file); a main job that does not
complete (an expression that matches nothing within a short time bound,
a filter the daemon refuses) makes the command exit non-zero and say why,
instead of printing an ok-looking path."""
import os
import shutil
import subprocess

from dpcapd_util import BUILD, Tap, read_pcap, tmpdir

SRC = os.environ.get("DPCAP_SRC") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")


def run(out, expr, duration=None):
    env = dict(os.environ, DPCAP_OUT=out, DPCAP_RUN_BUILD=BUILD)
    if duration:
        env["DPCAP_RUN_DURATION"] = str(duration)
    return subprocess.run([os.path.join(SRC, "scripts", "run"), expr], env=env,
                          capture_output=True, text=True, timeout=100,
                          stdin=subprocess.DEVNULL)


def main():
    t = Tap()
    if not shutil.which("tcpdump"):
        t.skip("tcpdump not installed")
        return t.done()
    d = tmpdir("run")
    r = run(os.path.join(d, "ok"), "udp")
    t.eq(r.returncode, 0, "run 'udp': exit 0")
    if r.returncode:
        t.diag(r.stdout[-800:] + r.stderr[-800:])
    pcap = os.path.join(d, "ok", "captures", "incident1")
    files = sorted(f for f in os.listdir(pcap) if f.endswith(".pcap")) if os.path.isdir(pcap) else []
    t.check(files and f"{pcap}/{files[0]}" in r.stdout, "run 'udp': prints where the pcap is")
    if files:
        tr = subprocess.run(["tcpdump", "-nr", os.path.join(pcap, files[0])],
                            capture_output=True, text=True)
        lines = tr.stdout.splitlines()
        t.eq(len(read_pcap(os.path.join(pcap, files[0]))), 1000,
             "run 'udp': the pcap holds exactly 1000 packets")
        t.check(len(lines) > 0 and lines[0].split(" ", 1)[1] in r.stdout,
                "run 'udp': prints the first packets")

    r = run(os.path.join(d, "none"), "host 203.0.113.254", duration=2)
    t.check(r.returncode != 0, f"run, no match in 2 s: non-zero exit ({r.returncode})")
    t.check("run FAILED" in r.stderr and "captured no packet" in r.stderr,
            "run, no match: says why")

    r = run(os.path.join(d, "bad"), "tcp port 99999")
    t.check(r.returncode != 0, f"run, bad filter: non-zero exit ({r.returncode})")
    t.check("did not start" in r.stderr, "run, bad filter: says the main job did not start")
    return t.done()


if __name__ == "__main__":
    raise SystemExit(main())
