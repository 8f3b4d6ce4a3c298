#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""dpcapd config validation (no EAL needed): every bad value refuses to
start with exit status 2 and a message naming the key and the value; the
example config in config/ is valid; --help documents the options."""
import json
import os
import subprocess
import sys

from dpcapd_util import DPCAPD, Tap, tmpdir

GOOD = {"ports": [{"device": "net_null0"}], "capture_root": "/tmp/x"}

BAD = [
    # (patch, expected text in the error)
    ({"writers": 0}, "writers: must be an integer 1..16, got 0"),
    ({"writers": "2"}, 'writers: must be an integer 1..16, got "2"'),
    ({"ring_size": 1000}, "ring_size: must be a power of two, got 1000"),
    ({"flush_ms": 5000}, "flush_ms: must be an integer 1..1000, got 5000"),
    ({"capture_root": "relative/dir"}, 'capture_root: must be an absolute path, got "relative/dir"'),
    ({"min_free_bytes": -1}, "min_free_bytes: must be an integer"),
    ({"vxlan_ports": [0]}, "vxlan_ports[0]: must be an integer 1..65535, got 0"),
    ({"vxlan_ports": [1, 2, 3, 4, 5]}, "vxlan_ports: must be an array of at most 4"),
    ({"max_jobs": 65}, "max_jobs: must be an integer 1..64, got 65"),
    ({"frobnicate": 1}, "frobnicate: unknown key"),
    ({"ports": []}, "ports: must be an array of 1..16 ports"),
    ({"ports": [{"name": "p"}]}, "ports[0].device: missing"),
    ({"ports": [{"device": "net_null0", "rx_queues": 0}]}, "ports[0].rx_queues: must be an integer 1..16, got 0"),
    ({"ports": [{"device": "net_null0", "speed": 1}]}, "ports[0].speed: unknown key"),
    ({"ports": [{"device": "net_null0", "timestamps": "ptp"}]},
     'ports[0].timestamps: must be "auto", "tsc" or "hw", got "ptp"'),
    ({"sha256": "yes"}, 'sha256: must be true or false, got "yes"'),
    ({"screen_simd": 1}, "screen_simd: must be true or false, got 1"),
    ({"mbufs": 700, "mbuf_cache": 500}, "mbuf_cache: 500 is more than mbufs / 1.5 (mbufs 700)"),
    ({"jobs": [{"filter": "tcp"}]}, "jobs[0].name: missing"),
    ({"jobs": [{"name": "a/b"}]}, "jobs[0].name: must match"),
    ({"jobs": [{"name": "x", "limits": {"packets": -5}}]}, "jobs[0].limits.packets: must be an integer"),
    ({"jobs": [{"name": "x", "rotate": {"mode": "ring"}}]}, 'jobs[0].rotate.mode: "ring" needs rotate.max_files > 0'),
    ({"jobs": [{"name": "x", "ports": [3]}]}, "jobs[0].ports[0]: port 3 does not exist"),
    ({"jobs": [{"name": "x"}, {"name": "x"}]}, 'jobs[1].name: "x" is also jobs[0]'),
    ({"job_defaults": {"name": "x"}}, "job_defaults.name: a default cannot carry a name"),
    ({"job_defaults": {"snaplen": 0}}, "job_defaults.snaplen: must be an integer 1..262144, got 0"),
    ({"control": 5}, "control: must be an object"),
]


def run(args):
    return subprocess.run([DPCAPD] + args, capture_output=True, text=True)


def main():
    t = Tap()
    d = tmpdir("config")
    for patch, want in BAD:
        cfg = dict(GOOD)
        cfg.update(patch)
        path = os.path.join(d, "c.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = run(["--", "--config", path, "--check"])
        t.check(r.returncode == 2 and want in r.stderr,
                f"{json.dumps(patch)[:60]} -> exit 2, \"{want}\"")
        if not (r.returncode == 2 and want in r.stderr):
            t.diag(f"rc={r.returncode} stderr={r.stderr.strip()}")
    with open(os.path.join(d, "dup.json"), "w") as f:
        f.write('{"writers": 1, "writers": 2, "ports": [{"device": "x"}]}')
    r = run(["--", "--config", os.path.join(d, "dup.json"), "--check"])
    t.check(r.returncode == 2 and "duplicate" in r.stderr, "duplicate key refused")
    with open(os.path.join(d, "trunc.json"), "w") as f:
        f.write('{"ports": [')
    r = run(["--", "--config", os.path.join(d, "trunc.json"), "--check"])
    t.check(r.returncode == 2 and "trunc.json:1:" in r.stderr, "broken JSON: file:line:column named")
    r = run(["--", "--config", os.path.join(d, "missing.json"), "--check"])
    t.eq(r.returncode, 2, "missing file: exit 2")
    src = os.environ.get("DPCAP_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
    r = run(["--", "--config", os.path.join(src, "config", "dpcapd.json"), "--check"])
    t.check(r.returncode == 0 and "is valid" in r.stdout, "config/dpcapd.json is valid")
    r = run(["--help"])
    t.check(r.returncode == 0 and "--config FILE" in r.stdout and "SIGTERM" in r.stdout,
            "dpcapd --help documents --config and SIGTERM")
    r = run(["--", "--bogus"])
    t.eq(r.returncode, 2, "unknown option: exit 2")
    r = run([])
    t.check(r.returncode == 2 and "--config FILE is required" in r.stderr, "no --config: exit 2, says why")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
