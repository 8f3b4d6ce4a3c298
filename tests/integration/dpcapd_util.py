# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the dpcapd integration tests (run with /usr/bin/python3).

Each test runs dpcapd on virtual devices with its own --file-prefix, reads
what it wrote with an independent pcap reader (below), compares with
`dpcap filter` on the same input (the offline oracle) and checks that the
daemon's counters balance (check_balance).
"""
import atexit
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from dpc_tap import Tap  # noqa: E402,F401

BUILD = os.environ.get("DPCAP_BUILD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
DPCAPD = os.path.join(BUILD, "app", "dpcapd", "dpcapd")
DPCAP = os.path.join(BUILD, "app", "dpcap", "dpcap")
GEN = os.path.join(BUILD, "app", "dpcap-gen", "dpcap-gen")
VXLAN_PORTS = [4789, 8472]


def eal_prefix(tag):
    """The --file-prefix of the daemon started with this tag (its runtime
    directory, telemetry socket included, is /var/run/dpdk/<prefix>)."""
    return f"dpc-dp-{tag}-{os.getpid()}"


def eal_args(tag, lcores="0-1", mem=256, extra=None):
    prefix = eal_prefix(tag)
    if "@" in lcores or "(" in lcores:
        core = ["--lcores", lcores]
    else:
        core = ["-l", lcores]
    return core + ["--no-huge", "-m", str(mem), "--no-pci",
                   "--file-prefix", prefix, "--log-level", "lib.*:error",
                   "--log-level", "user1:info"] + list(extra or [])


def base_config(root, devices, **kw):
    """devices: list of (device string, rx_queues)."""
    cfg = {
        "ports": [{"device": d, "rx_queues": q} for d, q in devices],
        "capture_root": root,
        "min_free_bytes": 0,
        "mbufs": 4095, "mbuf_cache": 64,
        "blocks": 64, "block_size": 262144,
        "flush_ms": 100,
        "worker_idle_sleep_us": 100,
        "vxlan_ports": VXLAN_PORTS,
    }
    cfg.update(kw)
    return cfg


def write_config(path, cfg):
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


# Every daemon a test started: killed at exit if still running, so a test
# that dies of an exception never leaves a polling dpcapd behind (one did,
# and spun a core for 25 minutes, skewing every measurement after it).
_started = []


@atexit.register
def _reap_daemons():
    for p in _started:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def start_daemon(cfg, workdir, tag, lcores="0-1", mem=256, eal_extra=None, dp_args=()):
    cpath = os.path.join(workdir, f"{tag}.json")
    spath = os.path.join(workdir, f"{tag}.stats.json")
    if os.path.exists(spath):
        os.unlink(spath)
    write_config(cpath, cfg)
    cmd = [DPCAPD] + eal_args(tag, lcores, mem, eal_extra) + [
        "--", "--config", cpath, "--stats-out", spath] + list(dp_args)
    err = open(os.path.join(workdir, f"{tag}.log"), "w")
    p = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT)
    _started.append(p)
    p.stats_path = spath
    p.log_path = err.name
    p.prefix = eal_prefix(tag)
    return p


def finish(p, timeout=60):
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = "timeout"
    stats = None
    if os.path.exists(p.stats_path):
        with open(p.stats_path) as f:
            stats = json.load(f)
    with open(p.log_path) as f:
        log = f.read()
    return rc, log, stats


def run_daemon(cfg, workdir, tag, lcores="0-1", mem=256, timeout=60):
    return finish(start_daemon(cfg, workdir, tag, lcores, mem), timeout)


def read_pcap(path, tolerant=False):
    """[(ts_ns, incl_len, orig_len, data)] of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: {len(data)} bytes, no pcap header")
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        raise ValueError(f"{path}: bad magic {magic:#x}")
    nano = magic == 0xa1b23c4d
    recs, off = [], 24
    while off < len(data):
        if off + 16 > len(data):
            if tolerant:
                break
            raise ValueError(f"{path}: torn record header at {off}")
        s, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            if tolerant:
                break
            raise ValueError(f"{path}: torn record at {off}")
        ts = s * 1000000000 + (frac if nano else frac * 1000)
        recs.append((ts, incl, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return recs


def job_files(root, name):
    d = os.path.join(root, name)
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.endswith(".pcap"))


def job_records(root, name):
    out = []
    for f in job_files(root, name):
        out += read_pcap(f)
    return out


def gen(profile, path, n=None, seed=1):
    cmd = [GEN, "-p", profile, "-o", path, "-s", str(seed)]
    if n:
        cmd += ["-n", str(n)]
    subprocess.run(cmd, check=True, capture_output=True)


def offline(inp, expr, out, strip=False, snaplen=None, count=None):
    cmd = [DPCAP, "filter", "-r", inp, "-w", out]
    for p in VXLAN_PORTS:
        cmd += ["--vxlan-port", str(p)]
    if strip:
        cmd.append("--strip-vxlan")
    if snaplen:
        cmd += ["-s", str(snaplen)]
    if count:
        cmd += ["-c", str(count)]
    if expr:
        cmd.append(expr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"dpcap filter {expr!r}: {r.stderr}")
    return read_pcap(out)


def key(rec):
    return (rec[2], rec[3])


def is_subsequence(small, big):
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def check_balance(t, stats, what, ports=True):
    """Every packet received is unwanted or matched; every (packet, job)
    delivery is written or dropped under a reason; NIC counters agree
    (ports=False leaves out that last comparison, for PMDs whose ethdev
    counters do not survive the run, e.g. net_memif after its peer left)."""
    if stats is None:
        t.check(False, f"{what}: stats written")
        return
    ok = True
    for w in stats["workers"]:
        # calibration: packets of --calibrate's bare slots (no job saw them)
        if w["rx"] != w["unwanted"] + w["matched"] + w.get("calibration", 0):
            ok = False
            t.diag(f"worker {w['id']}: rx {w['rx']} != unwanted {w['unwanted']} + matched "
                   f"{w['matched']} + calibration {w.get('calibration', 0)}")
    deliveries = sum(w["deliveries"] for w in stats["workers"])
    jm = 0
    for j in stats["jobs"]:
        c = j["counters"]
        jm += c["matched"]
        if c["matched"] != c["written"] + sum(c["dropped"].values()) or c["in_flight"] != 0:
            ok = False
            t.diag(f"job {j['name']}: matched {c['matched']} != written {c['written']} + dropped {c['dropped']}")
    if deliveries != jm:
        ok = False
        t.diag(f"deliveries {deliveries} != sum of job matched {jm}")
    for p in stats["ports"] if ports else []:
        if p["ipackets"] != p["rx_packets"]:
            ok = False
            t.diag(f"port {p['name']}: ethdev ipackets {p['ipackets']} != workers' rx {p['rx_packets']}")
    t.check(ok and stats["balanced"], f"{what}: counters balance (rx = unwanted + matched, matched = written + dropped per job)")
    pools = stats.get("pools", {})
    t.check(pools.get("blocks_in_use") == 0,
            f"{what}: every staging block back in its pool ({pools.get('blocks_in_use')} in use)")


def job_stats(stats, name):
    for j in stats["jobs"]:
        if j["name"] == name:
            return j
    return None


def tmpdir(tag, base=None):
    """A fresh work directory under base (default $TMPDIR or /tmp)."""
    d = os.path.join(base or os.environ.get("TMPDIR", "/tmp"), f"dpcapd-{tag}-{os.getpid()}")
    subprocess.run(["rm", "-rf", d])
    os.makedirs(d)
    return d


def kill(p, sig=signal.SIGTERM):
    try:
        p.send_signal(sig)
    except ProcessLookupError:
        pass


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def concat_pcap(out, *inputs):
    """Classic pcap files with the same header, records back to back."""
    with open(out, "wb") as o:
        for i, p in enumerate(inputs):
            with open(p, "rb") as f:
                data = f.read()
            o.write(data if i == 0 else data[24:])


def telemetry(prefix, cmds, timeout=5.0):
    """Ask the DPDK telemetry socket of the process run with --file-prefix
    prefix (dpcapd or any DPDK app): {cmd: reply}; {} when it cannot be
    reached (not up yet, or gone)."""
    out = {}
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(timeout)
        s.connect(f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2")
        s.recv(4096)
        for c in cmds:
            s.send(c.encode())
            out[c] = json.loads(s.recv(65536))
        s.close()
    except (OSError, ValueError):
        pass
    return out


def ethdev_info(prefix, port=0):
    """/ethdev/info of one port of a running DPDK process, or None."""
    c = f"/ethdev/info,{port}"
    return telemetry(prefix, [c]).get(c, {}).get("/ethdev/info")


def link_status(prefix, port=0):
    """"UP"/"DOWN" from /ethdev/link_status of a running DPDK process, or
    None when it cannot be asked."""
    c = f"/ethdev/link_status,{port}"
    r = telemetry(prefix, [c]).get(c, {}).get("/ethdev/link_status")
    return r.get("status") if isinstance(r, dict) else None
