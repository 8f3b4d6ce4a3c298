#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The control socket end to end: a running dpcapd on net_pcap replaying
dpcap-gen traffic, driven by a raw JSON-lines client (not the CLI).

Covers every method and documented error, a barrage of malformed requests
while a capture runs (each answered with its error, the daemon keeps
serving, counters balance), 64 concurrent clients starting, watching and
stopping jobs, credentials (a denied uid and a read-only uid via setpriv),
path escapes, the client limit, a slow reader, and the dpcap CLI's output
and exit codes (start -c 1000 ... then wait, then the file read back with
tcpdump).
"""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("DPCAP_SRC", "."), "tests", "lib"))
from dpc_tap import Tap  # noqa: E402

t = Tap()
BUILD = os.environ.get("DPCAP_BUILD", "build")
DPCAPD = os.path.join(BUILD, "app", "dpcapd", "dpcapd")
DPCAP = os.path.join(BUILD, "app", "dpcap", "dpcap")
GEN = os.path.join(BUILD, "app", "dpcap-gen", "dpcap-gen")
PY = "/usr/bin/python3"

# Parse errors, invalid requests, ... (docs/control-protocol.md)
E_PARSE, E_INVALID, E_METHOD, E_PARAMS, E_INTERNAL = -32700, -32600, -32601, -32602, -32603
E_DENIED, E_READ_ONLY, E_BUSY, E_TOO_LARGE, E_IDLE = -32001, -32002, -32003, -32004, -32005
E_NO_JOB, E_FILTER, E_EXISTS, E_PATH, E_CAPACITY, E_ENDED = (
    -32010, -32011, -32012, -32013, -32014, -32015)


class Conn:
    """One raw JSON-lines connection."""

    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.notes = []
        self.next_id = 1

    def close(self):
        self.s.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self, timeout=None):
        """Next JSON value the server writes; None at EOF."""
        if timeout is not None:
            self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                d = self.s.recv(1 << 16)
            except ConnectionResetError:
                d = b""
            if not d:
                return None
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return json.loads(ln)

    def reply(self, timeout=None):
        """Next non-notification message."""
        while True:
            m = self.line(timeout)
            if isinstance(m, dict) and "method" in m and "id" not in m:
                self.notes.append(m)
                continue
            return m

    def raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.send(data + b"\n")
        return self.reply()

    def call(self, method, params=None, timeout=None):
        rid = self.next_id
        self.next_id += 1
        req = {"jsonrpc": "2.0", "method": method, "id": rid}
        if params is not None:
            req["params"] = params
        self.send(json.dumps(req) + "\n")
        r = self.reply(timeout)
        if r is not None and r.get("id") not in (rid, None):
            raise RuntimeError(f"id mismatch {r!r}")
        return r

    def note(self, timeout=30):
        if self.notes:
            return self.notes.pop(0)
        m = self.line(timeout)
        return m


def err(r):
    e = (r or {}).get("error") or {}
    return e.get("code"), (e.get("data") or {}).get("field"), (e.get("data") or {}).get("reason")


def expect(r, code, field=None, what=""):
    c, f, reason = err(r)
    ok = c == code and isinstance(reason, str) and reason != "" and isinstance(f, str)
    if field is not None:
        ok = ok and (f == field if not field.endswith("*") else f.startswith(field[:-1]))
    if not ok:
        t.diag(f"{what}: got {json.dumps(r)[:400]}")
    return ok


def wait_final(c, jid, timeout=30):
    """Wait on a subscribed connection for the job's final job.state."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            n = c.note(timeout=max(0.1, end - time.time()))
        except socket.timeout:
            return None
        if n is None:
            return None
        if n.get("method") == "job.state" and n["params"].get("id") == jid \
                and n["params"].get("state") != "running":
            return n
    return None


# ---- daemons never outlive the test ----
# Every dpcapd is started with a parent-death signal (SIGTERM when this
# process dies, even by SIGKILL) and is ended on every way out of the test:
# normal return, an exception, SIGTERM/SIGINT/SIGHUP (meson's timeout sends
# SIGTERM to the test's process group).
DAEMONS = []
PR_SET_PDEATHSIG = 1


def _pdeathsig(parent):
    def fn():
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            os._exit(127)
        if os.getppid() != parent:      # the parent died before prctl
            os._exit(127)
    return fn


def spawn_daemon(args, **kw):
    d = subprocess.Popen(args, preexec_fn=_pdeathsig(os.getpid()), **kw)
    DAEMONS.append(d)
    return d


def end_daemon(d, grace=10):
    """SIGTERM, then SIGKILL if it has not exited within grace seconds."""
    if d.poll() is None:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()


def end_all_daemons():
    while DAEMONS:
        end_daemon(DAEMONS.pop())


def _on_signal(sig, frame):
    raise SystemExit(128 + sig)     # unwinds through the finally blocks


def pid_gone(pid):
    """True once pid has exited (a zombie waiting for its reaper counts)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def orphan_helper(tmp):
    """Child mode: start a daemon, say its pid, then wait to be killed
    (with the same signal handling and cleanup as main())."""
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    try:
        d, sock, _, _ = start_daemon(tmp)
        print(d.pid if os.path.exists(sock) else -1, flush=True)
        time.sleep(120)
    finally:
        end_all_daemons()


def test_orphans(tmp):
    """A test process killed any way takes its daemon with it."""
    for how in (signal.SIGKILL, signal.SIGTERM):
        sub = os.path.join(tmp, f"orphan-{how.name}")
        os.mkdir(sub)
        h = subprocess.Popen([PY, os.path.abspath(__file__), "--orphan-helper", sub],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             env=os.environ)
        try:
            line = h.stdout.readline().strip()
            pid = int(line) if line.lstrip("-").isdigit() else -1
            if not t.check(pid > 0, f"helper started a daemon (pid {pid})"):
                continue
            h.send_signal(how)
            h.wait(timeout=30)
            gone = wait_for(lambda: pid_gone(pid), 30)
            if not gone:
                os.kill(pid, signal.SIGKILL)
            t.check(gone, f"test process killed by {how.name}: its dpcapd exits too")
        finally:
            if h.poll() is None:
                h.kill()
                h.wait()
            h.stdout.close()


def main():
    if os.geteuid() != 0:
        t.skip("needs root (DPDK vdevs, setpriv)")
        return t.done()
    for p in (DPCAPD, DPCAP, GEN):
        if not os.path.exists(p):
            t.skip(f"{p} not built")
            return t.done()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    tmp = tempfile.mkdtemp(prefix="dpc-ctl-it-")
    os.chmod(tmp, 0o711)
    try:
        orphans = os.path.join(tmp, "orphans")
        os.mkdir(orphans)
        test_orphans(orphans)
        shutil.rmtree(orphans, ignore_errors=True)
        run(tmp)
    finally:
        end_all_daemons()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


def start_daemon(tmp):
    pcap = os.path.join(tmp, "sample.pcap")
    subprocess.run([GEN, "-p", "sample", "-o", pcap], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cap = os.path.join(tmp, "cap")
    os.mkdir(cap)
    sock = os.path.join(tmp, "ctl.sock")
    cfg = {
        "ports": [{"name": "p0",
                   "device": f"net_pcap0,rx_pcap={pcap},infinite_rx=1"}],
        "capture_root": cap,
        "mbufs": 4096,
        "mbuf_data_room": 10368,
        "min_free_bytes": 1 << 20,
        "max_jobs": 64,
        "control": {
            "socket": sock,
            "group": "nogroup",
            "read_only_uids": [65533],
            "allow_gids": [4243],
            "max_clients": 100,
            "max_output_bytes": 65536,
            "idle_timeout_s": 300,
        },
    }
    cfgp = os.path.join(tmp, "dpcapd.json")
    with open(cfgp, "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(tmp, "dpcapd.log"), "w")
    d = spawn_daemon(
        [DPCAPD, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci",
         "--file-prefix", f"dpc-ctl-{os.getpid()}", "--log-level", "lib.*:warning",
         "--", "--config", cfgp], stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    log.close()
    wait_for(lambda: os.path.exists(sock) or d.poll() is not None, 60, step=0.05)
    # the daemon renames the socket into place only once it listens
    # (with its mode and group set): it is usable as soon as it exists
    return d, sock, cap, pcap


def run(tmp):
    d, sock, cap, pcap = start_daemon(tmp)
    up = t.check(os.path.exists(sock) and d.poll() is None, "dpcapd up, socket created")
    if not up:
        with open(os.path.join(tmp, "dpcapd.log")) as f:
            t.diag(f.read())
        return d
    st = os.stat(sock)
    t.eq(oct(st.st_mode & 0o777), "0o660", "socket mode 0660")
    t.eq(st.st_gid, 65534, "socket group from control.group")

    c = Conn(sock)
    state = {"jid": 1}

    def section(name, fn):
        """Run one part; an exception is a failed check, the rest goes on."""
        nonlocal c
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            t.check(False, f"{name} raised {type(e).__name__}: {e}")
            try:
                c.close()
                c = Conn(sock)
            except OSError as e2:
                t.diag(f"reconnect failed: {e2}")

    section("info", lambda: test_info_and_stats(c))
    section("validate", lambda: test_validate(c))
    section("start errors", lambda: test_start_errors(c, cap))
    section("path escapes", lambda: test_path_escapes(c, cap, tmp))
    section("lifecycle", lambda: state.update(jid=test_job_lifecycle(c, cap, sock)))
    section("get/stop/list errors", lambda: test_get_stop_list_errors(c, state["jid"]))
    section("barrage", lambda: test_barrage(c, sock))
    section("concurrent", lambda: test_concurrent(c, sock))
    section("client limit", lambda: test_client_limit(c, sock))
    section("slow reader", lambda: test_slow_reader(c, sock))
    section("credentials", lambda: test_credentials(c, sock))
    section("cli", lambda: test_cli(sock, cap))
    check_utf8("CLI, tcpdump and script(1) output")
    section("balance", lambda: test_balance(c))
    c.close()
    if t.failed or d.poll() is not None:
        t.diag(f"dpcapd {'exited ' + str(d.returncode) if d.poll() is not None else 'running'}")
        with open(os.path.join(tmp, "dpcapd.log")) as f:
            t.diag("".join(f.readlines()[-40:]))

    d.send_signal(signal.SIGTERM)
    try:
        rc = d.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    t.eq(rc, 0, "SIGTERM: dpcapd exits 0")
    t.check(not os.path.exists(sock), "socket file removed at exit")
    return d


def test_info_and_stats(c):
    r = c.call("daemon.info")
    res = r.get("result", {})
    t.check(res.get("version") and isinstance(res.get("ports"), list) and res["ports"],
            "daemon.info: version and ports")
    names = sorted(m["name"] for m in res.get("methods", []))
    t.eq(names, sorted(["job.start", "job.validate", "job.stop", "job.get", "job.list",
                        "stats.get", "daemon.info", "events.subscribe"]),
         "daemon.info lists the 8 methods")
    t.check("lcores" in res and "config" in res, "daemon.info: lcores and config in force")
    r = c.call("stats.get")
    res = r.get("result", {})
    t.check(all(k in res for k in ("ports", "workers", "jobs", "drops", "disk")),
            "stats.get: ports, workers, jobs, drops, disk")
    t.check(res.get("ports") and all(pt.get("link") == "up" and pt.get("link_changes") == 0
                                     for pt in res["ports"]),
            f"stats.get: net_pcap's link up, no change "
            f"({[(pt.get('link'), pt.get('link_changes')) for pt in res.get('ports', [])]})")
    t.check(res.get("disk", {}).get("free_bytes", 0) > 0, "stats.get: disk free")
    t.check("control" in res and res["control"]["clients"] >= 1, "stats.get: control counters")
    t.check(expect(c.call("stats.get", {"x": 1}), E_PARAMS, "params.x"),
            "stats.get unknown key: -32602 params.x")
    t.check(expect(c.call("daemon.info", {"verbose": True}), E_PARAMS, "params.verbose"),
            "daemon.info unknown key: -32602 params.verbose")


def test_validate(c):
    r = c.call("job.validate", {"filter": "tcp port 5432"}, timeout=60)
    res = r.get("result", {})
    t.eq(res.get("engine"), "native", "job.validate: native engine")
    t.check(res.get("match_pps", 0) > 0 and res.get("rx_pps", 0) >= res.get("match_pps", 0),
            f"job.validate: 1 s sample matched {res.get('match_pps')} of {res.get('rx_pps')} pkt/s")
    r = c.call("job.validate", {"filter": "tcp and ip[8] = 64"}, timeout=60)
    t.eq(r.get("result", {}).get("engine"), "bpf", "job.validate: BPF engine for ip[8]")
    r = c.call("job.validate", {"filter": "tcp port frob"})
    ok = expect(r, E_FILTER, "params.filter")
    data = (r.get("error") or {}).get("data", {})
    t.check(ok and data.get("column") == 10 and data.get("token") == "frob",
            f"job.validate bad filter: -32011 column {data.get('column')} token {data.get('token')!r}")
    t.check(expect(c.call("job.validate", {"filter": "tcp", "bogus": 1}), E_PARAMS, "params.bogus"),
            "job.validate unknown key: -32602 params.bogus")
    # validation is asynchronous: another request is served meanwhile
    c.send(json.dumps({"jsonrpc": "2.0", "method": "job.validate", "params": {"filter": "udp"},
                       "id": "v"}) + "\n")
    c.send(json.dumps({"jsonrpc": "2.0", "method": "daemon.info", "id": "i"}) + "\n")
    first = c.reply(timeout=60)
    second = c.reply(timeout=60)
    t.check(first.get("id") == "i" and second.get("id") == "v",
            "job.validate's sample does not block other requests")


def test_start_errors(c, cap):
    cases = [
        ({"filter": "tcp"}, E_PARAMS, "params.name", "missing name"),
        ({"name": "e1", "filter": "tcp", "bogus": 1}, E_PARAMS, "params.bogus", "unknown key"),
        ({"name": "e1", "filter": "tcp", "limits": {"packets": -1}}, E_PARAMS,
         "params.limits.packets", "negative packets"),
        ({"name": "e1", "filter": "tcp", "limits": {"packets": "10"}}, E_PARAMS,
         "params.limits.packets", "packets as a string"),
        ({"name": "e1", "filter": "tcp", "limits": {"pkts": 1}}, E_PARAMS,
         "params.limits.pkts", "unknown limits key"),
        ({"name": "e1", "filter": "tcp", "rotate": {"mode": "spiral"}}, E_PARAMS,
         "params.rotate.mode", "bad rotate mode"),
        ({"name": "e1", "filter": "tcp", "write": "both"}, E_PARAMS, "params.write", "bad write"),
        ({"name": "e1", "filter": "tcp", "snaplen": 0}, E_PARAMS, "params.snaplen", "snaplen 0"),
        ({"name": "e1", "filter": 5}, E_PARAMS, "params.filter", "filter not a string"),
        ({"name": "e1", "filter": "host 1.2.3.4 andd tcp"}, E_FILTER, "params.filter",
         "filter syntax error"),
        ({"name": "e1", "filter": "tcp", "ports": [7]}, E_PARAMS, "params.ports*",
         "port index out of range"),
    ]
    for params, code, field, what in cases:
        t.check(expect(c.call("job.start", params), code, field, what),
                f"job.start {what}: {code} {field}")
    t.check(not os.path.exists(os.path.join(cap, "e1")), "failed starts created nothing")


def test_path_escapes(c, cap, tmp):
    outside = os.path.join(tmp, "outside")
    os.mkdir(outside)
    os.symlink(outside, os.path.join(cap, "evil"))
    with open(os.path.join(cap, "afile"), "w") as f:
        f.write("x")
    for name in ["../escape", "a/b", "..", ".", "", "/etc", "x" * 65, "a b",
                 "caf\u00e9", "..hidden", "a..b", "ok/../../x"]:
        t.check(expect(c.call("job.start", {"name": name, "filter": "tcp"}), E_PARAMS,
                       "params.name", f"name {name!r}"),
                f"job.start name {name!r} refused: -32602 params.name")
    r = c.raw(b'{"jsonrpc":"2.0","method":"job.start","id":1,'
              b'"params":{"name":"a\\u0000b","filter":"tcp"}}')
    t.check(expect(r, E_PARSE, "request"), "name with NUL: -32700 (jansson refuses \\u0000)")
    t.check(expect(c.call("job.start", {"name": "evil", "filter": "tcp"}), E_PATH,
                   "params.name"), "job.start through a symlink: -32013")
    t.check(expect(c.call("job.start", {"name": "afile", "filter": "tcp"}), E_PATH,
                   "params.name"), "job.start onto a file: -32013")
    t.eq(os.listdir(outside), [], "nothing written outside the capture root")
    t.eq(sorted(os.listdir(tmp)), sorted(["sample.pcap", "cap", "ctl.sock", "dpcapd.json",
                                          "dpcapd.log", "outside"]),
         "no stray directory next to the capture root")


def test_job_lifecycle(c, cap, sock):
    sub = Conn(sock)
    r = sub.call("events.subscribe")
    t.check(r.get("result", {}).get("subscribed") is True, "events.subscribe")
    t.check(expect(sub.call("events.subscribe", {"topics": []}), E_PARAMS, "params.topics"),
            "events.subscribe unknown key: -32602")
    r = c.call("job.start", {"name": "raw1", "filter": "vni 5001 and tcp port 5432",
                             "limits": {"packets": 1000}})
    res = r.get("result", {})
    jid = res.get("id")
    t.check(isinstance(jid, int) and jid > 0, f"job.start: id {jid}")
    t.eq(res.get("spec", {}).get("limits", {}).get("packets"), 1000,
         "job.start returns the resolved spec")
    t.eq(res.get("spec", {}).get("snaplen"), 262144, "resolved spec has the default snaplen")
    n = sub.note(timeout=60)
    t.check(n and n.get("method") == "job.state" and n["params"].get("id") == jid
            and n["params"].get("state") == "running", "job.state running notification")
    t.check(n is not None and "id" not in n, "a notification carries no id")
    fin = wait_final(sub, jid, timeout=120)
    t.check(fin is not None and fin["params"]["state"] == "completed",
            f"job.state completed notification ({fin and fin['params'].get('reason')})")
    r = c.call("job.get", {"id": jid})
    job = r.get("result", {})
    t.eq(job.get("state"), "completed", "job.get: completed")
    t.eq(job.get("counters", {}).get("written"), 1000, "job.get: 1000 written")
    files = job.get("files", [])
    t.check(len(files) >= 1, f"job.get lists files ({len(files)})")
    t.check("packets" in job.get("progress", {}), "job.get: progress toward the packet limit")
    r2 = c.call("job.get", {"name": "raw1"})
    t.eq(r2.get("result", {}).get("id"), jid, "job.get by name")
    # the file, read back with tcpdump and checked with dpcap filter offline
    if files:
        path = os.path.join(cap, "raw1", files[0]["name"])
        out = run_cmd(["tcpdump", "-nr", path])
        pk = [ln for ln in out.stdout.splitlines() if ln[:1].isdigit()]
        t.eq(len(pk), 1000, "tcpdump reads 1000 packets from the job's file")
        ofile = os.path.join(os.path.dirname(cap), "raw1-check.pcap")
        out = run_cmd([DPCAP, "filter", "-r", path, "-w", ofile, "vni 5001 and tcp port 5432"])
        t.check("matched 1000" in out.stderr + out.stdout,
                "every written packet matches the filter (dpcap filter offline)")
        if os.path.exists(ofile):
            os.unlink(ofile)
    sub.close()
    return jid


def test_get_stop_list_errors(c, jid):
    r = c.call("job.stop", {"id": jid})
    t.check(expect(r, E_ENDED, "params.id"), "job.stop on a completed job: -32015")
    d = (r.get("error") or {}).get("data") or {}
    t.check(d.get("state") == "completed" and d.get("job_reason") == "packet limit" and
            "already ended" in (d.get("reason") or ""),
            f"-32015 data: state, job_reason and the reason sentence ({json.dumps(d)})")
    t.check(expect(c.call("job.stop", {"id": 999999}), E_NO_JOB, "params.id"),
            "job.stop unknown id: -32010")
    t.check(expect(c.call("job.get", {"id": 999999}), E_NO_JOB, "params.id"),
            "job.get unknown id: -32010")
    t.check(expect(c.call("job.get", {"name": "nope"}), E_NO_JOB, "params.name"),
            "job.get unknown name: -32010")
    t.check(expect(c.call("job.get", {"id": 1, "name": "raw1"}), E_PARAMS, "params.id"),
            "job.get with id and name: -32602")
    t.check(expect(c.call("job.get", {}), E_PARAMS, "params.id"), "job.get without id: -32602")
    t.check(expect(c.call("job.get", {"id": "1"}), E_PARAMS, "params.id"),
            "job.get id as a string: -32602")
    t.check(expect(c.call("job.get", {"id": 1, "zz": 0}), E_PARAMS, "params.zz"),
            "job.get unknown key: -32602")
    r = c.call("job.list", {"state": "completed"})
    jobs = r.get("result", {}).get("jobs", [])
    t.check(any(j.get("id") == jid for j in jobs) and
            all(j.get("state") == "completed" for j in jobs), "job.list state=completed")
    r = c.call("job.list")
    t.check(len(r.get("result", {}).get("jobs", [])) >= 1, "job.list all")
    t.check(expect(c.call("job.list", {"state": "zombie"}), E_PARAMS, "params.state"),
            "job.list bad state: -32602")
    t.check(expect(c.call("job.start", {"name": "raw1", "filter": "tcp"}), E_EXISTS,
                   "params.name"), "job.start on a used name (files exist): -32012")


def barrage_cases():
    """(bytes, expected code, field or None) - each must be answered."""
    cases = []
    base = '{"jsonrpc":"2.0","method":"job.get","params":{"id":1},"id":7}'
    for k in range(1, len(base)):
        cases.append((base[:k].encode(), E_PARSE, "request"))
    start = json.dumps({"jsonrpc": "2.0", "method": "job.start", "id": 9, "params": {
        "name": "t1", "filter": "vni 5001 and tcp port 5432", "write": "inner",
        "limits": {"packets": 5, "duration_s": 9}, "rotate": {"mode": "ring"}}})
    for k in range(1, len(start), 2):
        cases.append((start[:k].encode(), E_PARSE, "request"))
    for bad in ["2", "\"1.0\"", "null", "[]", "{}"]:
        cases.append((f'{{"jsonrpc":{bad},"method":"job.list","id":1}}'.encode(), E_INVALID,
                      "jsonrpc"))
    for bad in ["1", "null", "[]", "{}", "true"]:
        cases.append((f'{{"jsonrpc":"2.0","method":{bad},"id":1}}'.encode(), E_INVALID, "method"))
    for bad in ["{}", "[]", "true", "false"]:
        cases.append((f'{{"jsonrpc":"2.0","method":"job.list","id":{bad}}}'.encode(), E_INVALID,
                      "id"))
    for bad in ["1", "\"x\"", "true", "null"]:
        cases.append((f'{{"jsonrpc":"2.0","method":"job.list","id":1,"params":{bad}}}'.encode(),
                      E_INVALID, "params"))
    cases.append((b'{"jsonrpc":"2.0","method":"job.list","id":1,"params":[]}', E_PARAMS, "params"))
    for top in ["1", "\"x\"", "null", "true", "[]", "{}", "3.5"]:
        cases.append((top.encode(), E_INVALID, None))
    for m in ["job.nuke", "", "JOB.START", "job.start ", "rpc.discover", "job", "stats",
              "a" * 1000, "job.start\u0001", "daemon.info.x", "events.unsubscribe",
              "jobs.list", "job.list2", "\u00e9t\u00e9", "system.shutdown"] + \
             [f"m{i}" for i in range(15)]:
        cases.append((json.dumps({"jsonrpc": "2.0", "method": m, "id": 1}).encode(), E_METHOD,
                      "method"))
    for k in ["foo", "Method", "ID", "params2", "jsonrpc2"]:
        cases.append((json.dumps({"jsonrpc": "2.0", "method": "job.list", "id": 1,
                                  k: 1}).encode(), E_INVALID, k))
    for meth, params, field in [
            ("job.get", {"id": 1, "x": 1}, "params.x"),
            ("job.list", {"x": 1}, "params.x"),
            ("job.list", {"state": 5}, "params.state"),
            ("stats.get", {"all": True}, "params.all"),
            ("daemon.info", {"x": None}, "params.x"),
            ("events.subscribe", {"job": 1}, "params.job"),
            ("job.stop", {"id": 1, "force": True}, "params.force"),
            ("job.stop", {}, "params.id"),
            ("job.stop", {"id": -5}, "params.id"),
            ("job.stop", {"id": 1.5}, "params.id"),
            ("job.stop", {"name": 5}, "params.name"),
            ("job.start", {"name": "b", "filter": "tcp", "x": 1}, "params.x"),
            ("job.start", {"name": "b", "filter": "tcp", "limits": {"x": 1}}, "params.limits.x"),
            ("job.start", {"name": "b", "filter": "tcp", "rotate": {"x": 1}}, "params.rotate.x"),
            ("job.start", {"name": "b", "filter": "tcp", "limits": 5}, "params.limits"),
            ("job.start", {"name": "b", "filter": "tcp", "rotate": []}, "params.rotate"),
            ("job.start", {"name": "b", "filter": "tcp", "ports": "0"}, "params.ports"),
            ("job.start", {"name": 1, "filter": "tcp"}, "params.name"),
            ("job.start", {"name": ["a"], "filter": "tcp"}, "params.name"),
            ("job.start", {"name": "b", "filter": "tcp", "snaplen": "64"}, "params.snaplen"),
            ("job.start", {"name": "b", "filter": "tcp", "snaplen": -1}, "params.snaplen"),
            ("job.start", {"name": "b", "filter": "tcp", "snaplen": 1.5}, "params.snaplen"),
            ("job.start", {"name": "b", "filter": "tcp", "snaplen": 10 ** 9}, "params.snaplen"),
            ("job.start", {"name": "b", "filter": "tcp", "write": 1}, "params.write"),
            ("job.start", {"name": "b", "filter": "tcp", "limits": {"bytes": -1}},
             "params.limits.bytes"),
            ("job.start", {"name": "b", "filter": "tcp", "limits": {"duration_s": "1"}},
             "params.limits.duration_s"),
            ("job.start", {"name": "b", "filter": "tcp", "rotate": {"max_files": -1}},
             "params.rotate.max_files"),
            ("job.start", {"name": "b", "filter": "tcp", "rotate": {"mode": 1}},
             "params.rotate.mode"),
            ("job.start", {"name": "b", "filter": "tcp", "rotate": {"file_bytes": "1"}},
             "params.rotate.file_bytes"),
            ("job.validate", {"filter": 1}, "params.filter"),
            ("job.validate", {"x": 1}, "params.x"),
    ]:
        cases.append((json.dumps({"jsonrpc": "2.0", "method": meth, "params": params,
                                  "id": 1}).encode(), E_PARAMS, field))
    for params in [{"name": "b", "filter": "tcp port"}, {"name": "b", "filter": "host"},
                   {"name": "b", "filter": "((tcp)"}, {"name": "b", "filter": "vni x"},
                   {"name": "b", "filter": "tcp port 99999"}]:
        cases.append((json.dumps({"jsonrpc": "2.0", "method": "job.start", "params": params,
                                  "id": 1}).encode(), E_FILTER, "params.filter"))
    dups = ['{"jsonrpc":"2.0","jsonrpc":"2.0","method":"job.list","id":1}',
            '{"jsonrpc":"2.0","method":"job.list","method":"job.get","id":1}',
            '{"jsonrpc":"2.0","method":"job.list","id":1,"id":2}',
            '{"jsonrpc":"2.0","method":"job.get","params":{"id":1,"id":2},"id":1}',
            '{"jsonrpc":"2.0","method":"job.start","params":{"name":"a","name":"b"},"id":1}',
            '{"jsonrpc":"2.0","method":"job.start","params":{"limits":{"packets":1,"packets":2}},"id":1}']
    cases += [(x.encode(), E_PARSE, "request") for x in dups]
    for num in ["1e400", "-1e400", str(10 ** 30), str(-(10 ** 30)), "9223372036854775808",
                "123456789012345678901234567890.5e99999"]:
        cases.append((f'{{"jsonrpc":"2.0","method":"job.get","params":{{"id":{num}}},"id":1}}'
                      .encode(), E_PARSE, "request"))
        cases.append((f'{{"jsonrpc":"2.0","method":"job.list","id":{num}}}'.encode(), E_PARSE,
                      "request"))
    cases.append((b"[" * 3000 + b"]" * 3000, E_PARSE, "request"))
    cases.append((b'{"a":' * 3000 + b"1" + b"}" * 3000, E_PARSE, "request"))
    cases.append((b'{"jsonrpc":"2.0","method":"job.list","id":1,"params":' + b'{"a":' * 3000 +
                  b"1" + b"}" * 3001, E_PARSE, "request"))
    for bad in [b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                b"\xe2\x82", b"\x80", b"\xf4\x90\x80\x80"]:
        cases.append((b'{"jsonrpc":"2.0","method":"job.list","id":"' + bad + b'"}', E_PARSE,
                      "request"))
        cases.append((b'{"jsonrpc":"2.0","method":"job.li' + bad + b'st","id":1}', E_PARSE,
                      "request"))
        cases.append((b'{"jsonrpc":"2.0","method":"job.list","id":1,"params":{"' + bad +
                      b'":1}}', E_PARSE, "request"))
    for junk in [b"GET / HTTP/1.1", b"\x00\x01\x02", b"}", b"]", b'"unterminated', b"nul",
                 b"{'a':1}", b"{\"a\" 1}", b"[1,]", b"{\"a\":1,}", b"\x00"]:
        cases.append((junk, E_PARSE, "request"))
    return cases


def test_barrage(c, sock):
    r = c.call("job.start", {"name": "barrage", "filter": "tcp"})
    bid = r.get("result", {}).get("id")
    t.check(bid is not None, "a capture job runs during the barrage")
    cases = barrage_cases()
    t.check(len(cases) >= 300, f"barrage has {len(cases)} malformed requests (>= 300)")
    bad = 0
    for i, (data, code, field) in enumerate(cases):
        r = c.raw(data)
        if not expect(r, code, field, f"barrage #{i} {data[:60]!r}"):
            bad += 1
            if bad > 5:
                break
        if i % 50 == 49:
            g = c.call("job.get", {"id": bid})
            if g.get("result", {}).get("state") != "running":
                t.diag(f"barrage job not running at #{i}: {g}")
                bad += 1
    t.eq(bad, 0, "every malformed request got its error code, field and reason")
    # a batch of malformed elements: one array of errors
    r = c.raw(b'[1, {"jsonrpc":"2.0"}, {"jsonrpc":"2.0","method":"nope","id":3},'
              b' {"jsonrpc":"2.0","method":"job.get","params":{"id":' + str(bid).encode() +
              b'},"id":4}, {"jsonrpc":"2.0","method":"job.list"}]')
    t.check(isinstance(r, list) and len(r) == 4 and err(r[0])[0] == E_INVALID and
            err(r[1])[0] == E_INVALID and err(r[2])[0] == E_METHOD and
            r[3].get("result", {}).get("id") == bid,
            "batch: 4 answers (notification unanswered), errors and a result")
    t.check(expect(c.raw(b"[]"), E_INVALID, "request"), "empty batch: -32600")
    # a 1 MiB line on its own connection: -32004 then closed
    big = Conn(sock)
    try:
        big.send(b'{"jsonrpc":"2.0","method":"job.list","id":1,"params":{"x":"' +
                 b"a" * (1 << 20) + b'"}}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = big.line(timeout=60)
    t.check(expect(r, E_TOO_LARGE, "request"), "1 MiB line: -32004")
    t.check(big.line(timeout=60) is None, "1 MiB line: connection closed after the error")
    big.close()
    # half a request, then hang up (x10)
    for _ in range(10):
        h = Conn(sock)
        h.send(b'{"jsonrpc":"2.0","method":"job.st')
        h.close()
    # the datapath picks the job up within a few flushes
    job = {}

    def matching():
        nonlocal job
        job = c.call("job.get", {"id": bid}).get("result", {})
        return job.get("counters", {}).get("matched", 0) > 0
    wait_for(matching, 60)
    t.eq(job.get("state"), "running", "after the barrage the capture still runs")
    if not t.check(job.get("counters", {}).get("matched", 0) > 0,
                   "and it keeps matching packets"):
        t.diag(json.dumps(job)[:1500])
        t.diag(json.dumps(c.call("stats.get"))[:1500])
    r = c.call("job.stop", {"id": bid})
    t.check(r.get("result", {}).get("id") == bid, "job.stop the barrage job")
    def ended():
        nonlocal job
        job = c.call("job.get", {"id": bid}).get("result", {})
        return job.get("state") != "running" and not job.get("finishing")
    wait_for(ended, 60)
    t.eq(job.get("state"), "stopped", "barrage job stopped")
    t.check(job.get("counters", {}).get("written", 0) > 0, "barrage job wrote packets")
    cnt = job.get("counters", {})
    t.check(cnt.get("matched", -1) == cnt.get("written", 0) + cnt.get("dropped_total", 0),
            f"barrage job counters balance: matched {cnt.get('matched')} = written "
            f"{cnt.get('written')} + dropped {cnt.get('dropped_total')}")
    st = c.call("stats.get").get("result", {})
    ctl = st.get("control", {})
    t.check(ctl.get("errors", 0) >= len(cases), f"control counted {ctl.get('errors')} errors")
    t.check(ctl.get("dropped_too_large", 0) >= 1, "control counted the too-large drop")


def test_concurrent(c, sock):
    n = 64
    results = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            k = Conn(sock, timeout=120)
            k.call("events.subscribe")
            barrier.wait(timeout=120)
            if i % 2 == 0:
                r = k.call("job.start", {"name": f"m{i}", "filter": "tcp",
                                         "limits": {"packets": 200}})
                jid = r["result"]["id"]
                fin = wait_final(k, jid, timeout=120)
                job = k.call("job.get", {"id": jid})["result"]
                ok = (fin is not None and job["state"] == "completed" and
                      job["counters"]["written"] == 200)
            else:
                r = k.call("job.start", {"name": f"s{i}", "filter": "udp"})
                jid = r["result"]["id"]
                for _ in range(3):
                    k.call("job.get", {"id": jid})
                    k.call("stats.get")
                    time.sleep(0.05)
                k.call("job.stop", {"id": jid})
                fin = wait_final(k, jid, timeout=120)
                job = k.call("job.get", {"id": jid})["result"]
                cn = job["counters"]
                ok = (fin is not None and job["state"] == "stopped" and
                      cn["matched"] == cn["written"] + cn["dropped_total"])
            k.close()
            results[i] = ok
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            results[i] = f"{type(e).__name__}: {e}"

    th = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    t0 = time.time()
    for x in th:
        x.start()
    for x in th:
        x.join(timeout=300)
    bad = [(i, r) for i, r in enumerate(results) if r is not True]
    for i, r in bad[:5]:
        t.diag(f"client {i}: {r}")
    t.eq(len(bad), 0, f"64 concurrent clients started/watched/stopped jobs "
                      f"({time.time() - t0:.1f} s)")
    r = c.call("daemon.info")
    t.check("result" in r, "daemon still serving after 64 clients")
    # max_jobs (64) running: the next start is -32014, nothing created for it
    ids, refused = [], None
    for i in range(70):
        r = c.call("job.start", {"name": f"cap{i}", "filter": "ether host 02:00:00:00:00:99"})
        if "error" in r:
            refused = (i, r)
            break
        ids.append(r["result"]["id"])
    t.check(refused is not None and refused[0] == 64 and expect(refused[1], E_CAPACITY, "params"),
            f"job.start with {len(ids)} jobs running: -32014")
    t.check(refused is not None and not os.path.exists(
        os.path.join(os.path.dirname(sock), "cap", f"cap{refused[0]}")),
        "the refused job created no directory")
    for jid in ids:
        c.call("job.stop", {"id": jid})


def test_client_limit(c, sock):
    # only this test's connection left (the daemon has seen the others close)
    def clients():
        return c.call("stats.get")["result"]["control"]

    def alone():
        x = clients()
        return x if x["clients"] == 1 else None
    ctl = wait_for(alone, 60)
    if not t.check(ctl is not None, "all earlier clients gone before the limit test"):
        ctl = clients()
    limit, busy0 = ctl["max_clients"], ctl["refused_busy"]
    conns = []
    try:
        # fill every slot (each accepted connection is silent), then one more
        for _ in range(limit - ctl["clients"]):
            conns.append(Conn(sock))
        extra = Conn(sock)
        conns.append(extra)
        try:
            refused = extra.line(timeout=60)
        except socket.timeout:
            refused = None
        t.check(refused is not None and expect(refused, E_BUSY, "connection"),
                f"client #{limit + 1} over max_clients={limit} refused with -32003")
        st = clients()
        t.check(st["clients"] == limit and st["refused_busy"] == busy0 + 1,
                f"{st['clients']} clients served, {st['refused_busy'] - busy0} refused")
    finally:
        for k in conns:
            k.close()
    t.check(wait_for(lambda: clients()["clients"] == 1, 60),
            "the others' slots are freed when they leave")
    t.check("result" in c.call("daemon.info"), "served again after the others left")


def test_slow_reader(c, sock):
    slow = Conn(sock)
    slow.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = (json.dumps({"jsonrpc": "2.0", "method": "daemon.info", "id": 1}) + "\n").encode()
    dropped = False
    slow.s.settimeout(0.05)
    for _ in range(2000):
        try:
            slow.s.sendall(req * 8)
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
        except socket.timeout:
            pass
    def slow_dropped():
        x = c.call("stats.get").get("result", {}).get("control", {})
        return x if dropped or x.get("dropped_slow", 0) >= 1 else None
    st = wait_for(slow_dropped, 60) or c.call("stats.get").get("result", {}).get("control", {})
    t.check(dropped or st.get("dropped_slow", 0) >= 1,
            f"a client that never reads is dropped (dropped_slow {st.get('dropped_slow')})")
    slow.close()
    t.check("result" in c.call("job.list"), "others served while it was dropped")


CHILD = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
for m in sys.argv[2:]:
    name, _, p = m.partition("|")
    req = {"jsonrpc": "2.0", "method": name, "params": json.loads(p) if p else {}, "id": 1}
    try:
        s.sendall((json.dumps(req) + "\n").encode())
    except OSError:
        pass
buf = b""
try:
    while buf.count(b"\n") < len(sys.argv) - 2:
        d = s.recv(65536)
        if not d:
            break
        buf += d
except OSError:
    pass
print(json.dumps([json.loads(x) for x in buf.splitlines() if x.strip()]))
"""


def as_user(uid, gid, sock, methods, groups=None):
    grp = [f"--groups={groups}"] if groups else ["--clear-groups"]
    p = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}"] + grp + [
                        PY, "-c", CHILD, sock] + methods, capture_output=True, text=True,
                       timeout=120)
    try:
        return json.loads(p.stdout)
    except ValueError:
        t.diag(f"child failed: {p.stdout} {p.stderr}")
        return []


def test_credentials(c, sock):
    before = c.call("stats.get")["result"]["control"]["refused_denied"]
    r = as_user(65534, 65534, sock, ["daemon.info"])
    t.check(len(r) == 1 and expect(r[0], E_DENIED, "connection"),
            "uid 65534 (nobody, not listed) denied: -32001")
    after = c.call("stats.get")["result"]["control"]["refused_denied"]
    t.eq(after, before + 1, "the denial is counted")
    r = as_user(65533, 65534, sock, ["daemon.info", "job.list",
                                     'job.start|{"name":"ro","filter":"tcp"}'])
    t.check(len(r) == 3 and "result" in r[0] and "result" in r[1],
            "read-only uid 65533: daemon.info and job.list served")
    t.check(len(r) == 3 and expect(r[2], E_READ_ONLY, "method"),
            "read-only uid 65533: job.start refused with -32002")
    t.check(expect(c.call("job.get", {"name": "ro"}), E_NO_JOB, "params.name"),
            "the read-only client started nothing")
    r = as_user(65532, 65534, sock, ["daemon.info", 'job.stop|{"id":999999}'], groups="4243")
    t.check(len(r) == 2 and "result" in r[0] and expect(r[1], E_NO_JOB, "params.id"),
            "uid 65532 with supplementary group 4243 (allow_gids): full access")


NOT_UTF8 = []   # (command, stream, raw bytes) of outputs that were not UTF-8


def decoded(cmd, out, err):
    """Decode a child's output with errors="replace"; remember any output
    that is not valid UTF-8 (checked once per section, bytes shown) instead
    of raising and skipping the rest of the section."""
    res = []
    for name, raw in (("stdout", out), ("stderr", err)):
        raw = raw or b""
        try:
            res.append(raw.decode())
        except UnicodeDecodeError as e:
            NOT_UTF8.append((" ".join(str(x) for x in cmd)[:120], name, raw, e))
            res.append(raw.decode(errors="replace"))
    return res


def run_cmd(cmd, timeout=60, env=None):
    """subprocess.run with stdin from /dev/null (never meson's stdin: script(1)
    echoes whatever it reads there into its output) and bytes decoded by
    decoded()."""
    p = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, env=env,
                       timeout=timeout)
    p.stdout, p.stderr = decoded(cmd, p.stdout, p.stderr)
    return p


def check_utf8(what):
    """One check: every child output since the last call was UTF-8."""
    for cmd, name, raw, e in NOT_UTF8:
        i = e.start
        t.diag(f"{cmd}: {name} not UTF-8 at byte {i}: {raw[max(0, i - 40):i + 40]!r}")
    t.check(not NOT_UTF8, f"{what}: every output is UTF-8 ({len(NOT_UTF8)} not)")
    NOT_UTF8.clear()


def cli(sock, *args, timeout=60):
    return run_cmd([DPCAP] + list(args), timeout=timeout, env=dict(os.environ, DPCAP_SOCKET=sock))


def test_cli(sock, cap):
    p = cli(sock, "start", "-c", "1000", "-w", "incident1", "vni 5001 and tcp port 5432")
    t.eq(p.returncode, 0, "dpcap start -c 1000 -w incident1 'vni 5001 and tcp port 5432': exit 0")
    jid = p.stdout.strip()
    t.check(jid.isdigit(), f"dpcap start prints the job id ({jid!r})")
    t.check("incident1" in p.stderr, "dpcap start says where it writes")
    p = cli(sock, "wait", jid)
    t.eq(p.returncode, 0, "dpcap wait: exit 0 (completed)")
    t.check("completed" in p.stdout and "1000 packets" in p.stdout,
            f"dpcap wait says completed, 1000 packets ({p.stdout.strip()})")
    p = cli(sock, "status", jid)
    t.check(p.returncode == 0 and "completed" in p.stdout and "incident1" in p.stdout,
            "dpcap status ID: a readable report")
    files = [f for f in os.listdir(os.path.join(cap, "incident1")) if f.endswith(".pcap")]
    out = run_cmd(["tcpdump", "-nr", os.path.join(cap, "incident1", files[0])]) if files else None
    t.check(out is not None and out.returncode == 0 and
            sum(1 for ln in out.stdout.splitlines() if ln[:1].isdigit()) == 1000,
            "the user opens the file: tcpdump reads 1000 packets")
    p = cli(sock, "status", jid, "--json")
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = {}
    t.eq(j.get("counters", {}).get("written"), 1000, "dpcap status --json is the job object")
    p = cli(sock, "list")
    t.check(p.returncode == 0 and "incident1" in p.stdout and "ID" in p.stdout.splitlines()[0],
            "dpcap list: a table")
    p = cli(sock, "validate", "tcp[tcpflags] & tcp-syn != 0")
    t.check(p.returncode == 0 and "bpf engine" in p.stdout and "runs on jit" in p.stdout,
            f"dpcap validate of a BPF-only filter says it runs on DPDK's JIT "
            f"({p.stdout.strip()[:120]!r})")
    p = cli(sock, "list", "--state", "completed", "--json")
    try:
        jobs = json.loads(p.stdout)["jobs"]
    except (ValueError, KeyError):
        jobs = None
    t.check(jobs is not None and all(x["state"] == "completed" for x in jobs),
            "dpcap list --state completed --json")
    # cli2 runs until stopped; a ring of 2 files of 1 MB bounds its disk use
    p = cli(sock, "start", "--ring", "-C", "1", "-W", "2", "-w", "cli2", "udp")
    jid2 = p.stdout.strip()
    t.check(p.returncode == 0 and jid2.isdigit(), f"dpcap start --ring -C 1 -W 2: id {jid2!r}")
    w = None
    env = dict(os.environ, DPCAP_SOCKET=sock)
    try:
        w = subprocess.Popen([DPCAP, "wait", jid2], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        p = cli(sock, "watch", "-n", "2", "--interval", "0.2", jid2)
        lines = p.stdout.strip().splitlines()
        t.check(p.returncode == 0 and len(lines) == 2 and f"id={jid2}" in lines[0] and
                "\033" not in p.stdout, "dpcap watch piped: plain lines, one per tick")
        p = run_cmd(["script", "-qec", f"{DPCAP} watch -n 2 --interval 0.2 {jid2}", "/dev/null"],
                timeout=30, env=env)
        t.check(p.returncode == 0 and p.stdout.count("\033[H\033[J") == 2 and
                "PKT/S" in p.stdout, "dpcap watch on a terminal: redrawn in place with a header")
        p = cli(sock, "stop", "cli2")
        t.check(p.returncode == 0 and "cli2" in p.stdout, "dpcap stop NAME: exit 0")
        try:
            wo, we = w.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            w.kill()
            wo, we = w.communicate()
        wo, we = decoded(["dpcap", "wait", jid2], wo, we)
        t.eq(w.returncode, 5, f"dpcap wait on a stopped job: exit 5 ({wo.strip()} {we.strip()})")
    finally:
        # whatever failed above, nothing of this part outlives it
        if w is not None and w.poll() is None:
            w.kill()
            w.wait()
        if jid2.isdigit():
            k = Conn(sock)
            k.call("job.stop", {"id": int(jid2)})
            k.close()
    p = cli(sock, "stop", jid2)
    t.eq(p.returncode, 4, "dpcap stop on an ended job: exit 4")
    t.check("already ended" in p.stderr and "stopped (stopped by request)" in p.stderr,
            f"and says it already ended, and how ({p.stderr.strip()!r})")
    p = cli(sock, "status", "999999")
    t.eq(p.returncode, 4, "dpcap status unknown job: exit 4")
    p = cli(sock, "start", "-w", "bad", "tcp port frob")
    t.eq(p.returncode, 2, "dpcap start with a bad filter: exit 2")
    t.check("column 10" in p.stderr and "^" in p.stderr, "bad filter: column and a caret")
    p = cli(sock, "start", "tcp")
    t.eq(p.returncode, 2, "dpcap start without -w: exit 2")
    p = cli(sock, "start", "-w", "../up", "tcp")
    t.eq(p.returncode, 2, "dpcap start -w ../up: exit 2")
    p = cli(sock, "start", "-c", "x", "-w", "a", "tcp")
    t.eq(p.returncode, 2, "dpcap start -c x: exit 2")
    p = cli(sock, "validate", "tcp port 5432")
    t.check(p.returncode == 0 and "native" in p.stdout, "dpcap validate: exit 0, engine named")
    for sub in ("stats", "info"):
        p = cli(sock, sub)
        t.check(p.returncode == 0 and p.stdout.strip() != "", f"dpcap {sub}: exit 0, a report")
    for sub in ("start", "stop", "status", "list", "stats", "info", "validate", "wait", "watch"):
        p = cli(sock, sub, "--help")
        t.check(p.returncode == 0 and "usage: dpcap " + sub in p.stdout,
                f"dpcap {sub} --help")
    p = cli(sock, "--socket", "/nonexistent/dpcapd.sock", "info")
    p = run_cmd([DPCAP, "info", "--socket", "/nonexistent/dpcapd.sock"])
    t.check(p.returncode == 1 and "cannot connect" in p.stderr,
            "dpcap info with no daemon: exit 1, says why")
    p = run_cmd([DPCAP, "info"], env=dict(os.environ, DPCAP_SOCKET="/nonexistent/x.sock"))
    t.check(p.returncode == 1 and "/nonexistent/x.sock" in p.stderr, "DPCAP_SOCKET is honoured")


def wait_for(cond, timeout, step=0.1):
    """Poll cond() until it returns a true value or timeout seconds pass;
    returns the last value."""
    end = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= end:
            return v
        time.sleep(step)


def test_balance(c):
    # end whatever a failed section left running, then wait until every job
    # has ended and flushed (counters are final only then: a running or
    # finishing job still has packets in flight)
    for j in c.call("job.list", {"state": "running"})["result"]["jobs"]:
        t.diag(f"job {j['id']} ({j['name']}) still running; stopping it")
        c.call("job.stop", {"id": j["id"]})

    def all_final():
        st = c.call("stats.get")["result"]
        busy = [j for j in st.get("jobs", [])
                if j["state"] == "running" or j.get("finishing")]
        return None if busy else st
    st = wait_for(all_final, 60)
    if not t.check(st is not None, "every job ended and finished within 60 s"):
        st = c.call("stats.get")["result"]
    bad = [j for j in st.get("jobs", []) if j["counters"]["matched"] !=
           j["counters"]["written"] + j["counters"]["dropped_total"]]
    for j in bad[:5]:
        t.diag(f"unbalanced: {json.dumps(j)[:600]}")
    t.eq(len(bad), 0, f"counters of all {len(st.get('jobs', []))} jobs balance")
    # "balanced" also compares each worker's rx with unwanted + matched,
    # read while the worker runs (net_pcap replays forever): lib/dp
    # publishes them together, so every snapshot must balance, not just a
    # quiescent one (tests/integration/test_stats_live.py hammers this)
    snaps = [c.call("stats.get")["result"] for _ in range(20)]
    torn = [[w["rx"] - w["unwanted"] - w["matched"] for w in s2.get("workers", [])]
            for s2 in snaps if s2.get("balanced") is not True]
    if torn:
        t.diag(f"{len(torn)} of 20 stats.get snapshots not balanced; worker rx - "
               f"unwanted - matched: {torn[:5]}")
    t.check(not torn and all(s2.get("workers") for s2 in snaps),
            "stats.get: 20 live snapshots in a row, each balanced")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--orphan-helper":
        orphan_helper(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
