# SPDX-License-Identifier: BSD-3-Clause
"""dpcap triage on generated scenarios: each must give the finding it is
about, at the right layer, and nothing else; counts are checked against
tshark/tcpdump on the same file.

usage: test_scenarios.py DPCAP   (env DPCAP_SRC)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("DPCAP_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpc_tap import Tap  # noqa: E402

import scenarios  # noqa: E402
from scapy.all import wrpcap  # noqa: E402

t = Tap()
DPCAP = sys.argv[1]
TSHARK = shutil.which("tshark")
TCPDUMP = shutil.which("tcpdump")


def triage(*args, expect_rc=(0,)):
    p = subprocess.run([DPCAP, "triage", "--json", *args], capture_output=True,
                       text=True, timeout=60)
    if p.returncode not in expect_rc:
        t.diag(p.stderr)
    rep = json.loads(p.stdout) if p.stdout.strip() else {}
    return p.returncode, rep


def tshark_count(path, dfilter):
    p = subprocess.run([TSHARK, "-r", path, "-Y", dfilter, "-T", "fields",
                        "-e", "frame.number"], capture_output=True, text=True,
                       timeout=60)
    return [int(x) for x in p.stdout.split()]


def tshark_field(path, dfilter, field):
    p = subprocess.run([TSHARK, "-r", path, "-Y", dfilter, "-T", "fields",
                        "-e", field], capture_output=True, text=True, timeout=60)
    return [x for x in p.stdout.split("\n") if x]


def tcpdump_count(path, expr=None):
    cmd = [TCPDUMP, "-nn", "-r", path]
    if expr:
        cmd.append(expr)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return len(p.stdout.splitlines())


def codes(rep):
    return sorted(f["code"] for f in rep.get("findings", []))


def finding(rep, code):
    for f in rep.get("findings", []):
        if f["code"] == code:
            return f
    return None


def tcp_rows(rep):
    return rep["transport"]["tcp"]


tmp = tempfile.mkdtemp(prefix="dpc-triage-")
files = {}
for name, fn in scenarios.ALL.items():
    files[name] = os.path.join(tmp, name + ".pcap")
    wrpcap(files[name], fn())

oracle = TSHARK is not None and TCPDUMP is not None
if not oracle:
    t.diag("tshark/tcpdump absent: oracle cross-checks are skipped")


def xcheck(got, path, dfilter, what):
    if not oracle:
        t.skip(f"{what}: tshark absent")
        return
    t.eq(got, len(tshark_count(path, dfilter)), f"{what} == tshark -Y '{dfilter}'")


def vs_tcpdump(got, path, what, expr=None):
    """got == the packets tcpdump reads from path (with expr); a counted
    skip when tcpdump is absent, never a comparison of got with itself."""
    if TCPDUMP is None:
        t.skip(f"{what}: tcpdump absent")
        return
    t.eq(got, tcpdump_count(path, expr), what)


# --- healthy: no findings; the oracle agrees nothing is wrong ---
f = files["healthy"]
rc, rep = triage(f)
t.eq(rc, 0, "healthy: exit status 0")
t.eq(codes(rep), [], "healthy: no findings")
vs_tcpdump(rep["summary"]["analysed"], f, "healthy: every packet analysed (tcpdump count)")
xcheck(0, f, "tcp.analysis.flags && !tcp.analysis.window_update", "healthy: tshark sees no TCP trouble either")
xcheck(sum(r["attempts"] for r in tcp_rows(rep)), f, "tcp.flags.syn==1 && tcp.flags.ack==0",
       "healthy: TCP attempts")
xcheck(sum(r["completed"] for r in tcp_rows(rep)), f, "tcp.flags.syn==1 && tcp.flags.ack==1",
       "healthy: TCP handshakes completed")
xcheck(rep["application"]["dns"]["queries"], f, "dns.flags.response==0", "healthy: DNS queries")
xcheck(rep["application"]["http"]["requests"], f, "http.request", "healthy: HTTP requests")
if oracle:
    snis = sorted(set(tshark_field(f, "tls.handshake.type==1",
                                   "tls.handshake.extensions_server_name")))
    t.eq(sorted(s["sni"] for s in rep["application"]["tls"]["sni"]), snis,
         "healthy: TLS SNI names == tshark")
    t.eq(sorted({s["status"] for s in rep["application"]["http"]["status"]}),
         sorted({int(x) for x in tshark_field(f, "http.response", "http.response.code")}),
         "healthy: HTTP status codes == tshark")
else:
    t.skip("healthy: SNI/HTTP oracle absent")
    t.skip("healthy: SNI/HTTP oracle absent")
lat = rep["application"]["dns"]["servers"][0]
t.check(abs(lat["p50_ms"] - 2.0) < 0.01, f"healthy: DNS latency p50 {lat['p50_ms']} ms == 2 ms as generated")
rtt = rep["transport"]["handshake_rtt"]
t.check(len(rtt) == 2 and all(abs(r["p50_ms"] - 2.0) < 0.01 for r in rtt),
        "healthy: handshake RTT p50 == 2 ms per server as generated")

# --- refused port ---
f = files["refused"]
rc, rep = triage(f)
t.eq(codes(rep), ["tcp_refused"], "refused: exactly one finding, tcp_refused")
x = finding(rep, "tcp_refused") or {}
t.eq(x.get("layer"), "transport", "refused: layer transport")
t.check("10.0.1.5" in x.get("text", "") and "10.0.3.7:5432" in x.get("text", ""),
        "refused: sentence names client and server:port")
xcheck(x.get("count"), f, "tcp.flags.reset==1 && ip.src==10.0.3.7", "refused: count")
if oracle:
    rst = set(tshark_count(f, "tcp.flags.reset==1"))
    t.check(x.get("packets") and set(x["packets"]) <= rst,
            "refused: evidence packets are the RSTs tshark shows")
    conv = subprocess.run([TSHARK, "-r", f, "-q", "-z", "conv,tcp"], capture_output=True,
                          text=True).stdout
    n5432 = sum(1 for line in conv.splitlines() if "10.0.3.7:5432" in line)
    row = [r for r in tcp_rows(rep) if r["server"] == "10.0.3.7" and r["port"] == 5432]
    t.eq(row[0]["attempts"] if row else -1, n5432,
         "refused: attempts == tshark -z conv,tcp conversations to 10.0.3.7:5432")
else:
    t.skip("refused: oracle absent")
    t.skip("refused: oracle absent")

# --- black-holed SYN ---
f = files["blackhole"]
rc, rep = triage(f)
t.eq(codes(rep), ["tcp_unanswered"], "blackhole: exactly one finding, tcp_unanswered")
x = finding(rep, "tcp_unanswered") or {}
t.eq(x.get("layer"), "transport", "blackhole: layer transport")
t.check("10.0.9.9:443" in x.get("text", ""), "blackhole: sentence names 10.0.9.9:443")
row = [r for r in tcp_rows(rep) if r["server"] == "10.0.9.9"]
xcheck(row[0]["syn_retransmissions"] if row else -1, f,
       "tcp.analysis.retransmission && tcp.flags.syn==1", "blackhole: SYN retransmissions")
if oracle:
    conv = subprocess.run([TSHARK, "-r", f, "-q", "-z", "conv,tcp"], capture_output=True,
                          text=True).stdout
    t.eq(x.get("count"), sum(1 for line in conv.splitlines() if "10.0.9.9:443" in line),
         "blackhole: unanswered attempts == tshark -z conv,tcp conversations")
else:
    t.skip("blackhole: oracle absent")

# --- MTU black hole in a VXLAN overlay ---
f = files["vxlan_mtu"]
rc, rep = triage(f)
t.eq(codes(rep), ["vxlan_mtu_blackhole"], "vxlan: exactly one finding, vxlan_mtu_blackhole")
x = finding(rep, "vxlan_mtu_blackhole") or {}
t.eq(x.get("layer"), "link", "vxlan: layer link")
t.eq(x.get("vni"), scenarios.VNI, "vxlan: finding names the VNI")
t.check(scenarios.VTEP_A in (x.get("underlay") or "") and
        scenarios.VTEP_B in (x.get("underlay") or ""), "vxlan: finding names both VTEPs")
t.check(scenarios.UNDERLAY_RTR in x.get("text", ""), "vxlan: sentence names the underlay router")
xcheck(x.get("count"), f, "vxlan && ip.len==1500 && !icmp", "vxlan: oversize inner packets")
if oracle:
    n = len(tshark_count(f, "icmp.type==3 && icmp.code==4"))
    t.check(f"answered {n} times" in x.get("text", ""),
            f"vxlan: ICMP frag-needed count {n} (tshark) in the sentence")
else:
    t.skip("vxlan: oracle absent")

# --- same overlay with a larger underlay MTU: no finding ---
rc, rep = triage(f, "--mtu", "9000")
t.eq([c for c in codes(rep) if c.startswith("vxlan")], [], "vxlan: --mtu 9000 clears the overlay MTU finding")

# --- routing loop ---
f = files["loop"]
rc, rep = triage(f)
t.eq(codes(rep), ["ip_routing_loop"], "loop: exactly one finding, ip_routing_loop")
x = finding(rep, "ip_routing_loop") or {}
t.eq(x.get("layer"), "internet", "loop: layer internet")
xcheck(x.get("count"), f, "ip.dst==203.0.113.7 && icmp.type==8 && !(icmp.type==11)", "loop: looped packets")
if oracle:
    ttls = [int(v) for v in tshark_field(f, "ip.dst==203.0.113.7 && icmp.type==8 && !(icmp.type==11)", "ip.ttl")]
    lp = rep["internet"]["loops"][0]
    t.eq((lp["ttl_first"], lp["ttl_last"]), (max(ttls), min(ttls)), "loop: TTL range == tshark")
    n = len(tshark_count(f, "icmp.type==11"))
    t.check(f"sent {n} ICMP time-exceeded" in x.get("text", ""),
            f"loop: {n} time-exceeded (tshark) in the sentence")
else:
    t.skip("loop: oracle absent")
    t.skip("loop: oracle absent")

# --- DNS NXDOMAIN storm ---
f = files["nxdomain"]
rc, rep = triage(f)
t.eq(codes(rep), ["dns_nxdomain"], "nxdomain: exactly one finding, dns_nxdomain")
x = finding(rep, "dns_nxdomain") or {}
t.eq(x.get("layer"), "application", "nxdomain: layer application")
t.eq(x.get("severity"), "error", "nxdomain: a storm is an error")
xcheck(x.get("count"), f, "dns.flags.rcode==3", "nxdomain: NXDOMAIN answers")
xcheck(rep["application"]["dns"]["responses"], f, "dns.flags.response==1", "nxdomain: DNS responses")

# --- retransmission burst ---
f = files["retrans"]
rc, rep = triage(f)
t.eq(codes(rep), ["tcp_retransmissions"], "retrans: exactly one finding, tcp_retransmissions")
x = finding(rep, "tcp_retransmissions") or {}
t.eq(x.get("layer"), "transport", "retrans: layer transport")
xcheck(x.get("count"), f, "tcp.analysis.retransmission", "retrans: retransmissions")
row = [r for r in tcp_rows(rep) if r["port"] == 8000]
xcheck(row[0]["dup_acks"] if row else -1, f, "tcp.analysis.duplicate_ack", "retrans: duplicate ACKs")
if oracle:
    t.check(x.get("packets") and set(x["packets"]) <= set(tshark_count(f, "tcp.analysis.retransmission")),
            "retrans: evidence packets are retransmissions per tshark")
else:
    t.skip("retrans: oracle absent")

# --- a damaged (cut) file: a capture finding, exit 3, no crash ---
cut = os.path.join(tmp, "cut.pcap")
data = open(files["refused"], "rb").read()
open(cut, "wb").write(data[:len(data) - 30])
rc, rep = triage(cut, expect_rc=(3,))
t.eq(rc, 3, "cut file: exit status 3 (report written, input damaged)")
t.check("capture_damaged" in codes(rep), "cut file: capture_damaged finding")
vs_tcpdump(rep.get("summary", {}).get("analysed"), cut,
           "cut file: packets before the cut analysed (tcpdump)")

# --- a malformed frame captured whole: IPv4 total length past the frame ---
from scapy.all import IP, TCP, Ether, Raw  # noqa: E402
bad = os.path.join(tmp, "bad.pcap")
pk = scenarios.healthy()
frame = bytearray(bytes(Ether() / IP(src="10.9.9.9", dst="10.0.0.1") / TCP() / Raw(b"x" * 20)))
frame[14 + 2:14 + 4] = (1400).to_bytes(2, "big")
p = Ether(bytes(frame))
p.time = pk[-1].time + 0.001
wrpcap(bad, pk + [p])
rc, rep = triage(bad)
mal = [f for f in rep.get("findings", []) if f["code"] in ("frame_truncated", "frame_invalid")]
t.check(len(mal) == 1 and mal[0]["layer"] == "internet" and mal[0]["packets"] == [len(pk) + 1],
        "malformed frame: one finding at the internet layer naming its packet number")

# --- a job directory: files in manifest order ---
jobdir = os.path.join(tmp, "job")
g = subprocess.run([DPCAP, "filter", "-r", files["refused"], "-w", jobdir, "-C", "3k"],
                   capture_output=True, text=True)
if g.returncode == 0 and os.path.exists(os.path.join(jobdir, "manifest.json")):
    man = json.load(open(os.path.join(jobdir, "manifest.json")))
    rc, rep = triage(jobdir)
    t.check(len(man["files"]) > 1, f"job dir: {len(man['files'])} files in the manifest")
    t.eq([i["name"] for i in rep["inputs"]],
         [os.path.join(jobdir, e["name"]) for e in man["files"]], "job dir: files read in manifest order")
    vs_tcpdump(rep["summary"]["analysed"], files["refused"], "job dir: every packet analysed")
    t.eq((finding(rep, "tcp_refused") or {}).get("count"), 38, "job dir: same tcp_refused count")
else:
    t.diag(g.stderr)
    for _ in range(4):
        t.skip("job dir: dpcap filter -w DIR not available in this build")

# --- EXPR narrows the analysis ---
mixed = os.path.join(tmp, "mixed.pcap")
pk = sorted(scenarios.refused() +
            [q for q in scenarios.nxdomain() if q.time >= scenarios.T0 + 1.0],
            key=lambda q: q.time)
wrpcap(mixed, pk)
rc, rep = triage(mixed)
t.eq(codes(rep), ["dns_nxdomain", "tcp_refused"], "mixed: both findings without EXPR")
rc, rep = triage(mixed, "tcp", "port", "5432")
t.eq(codes(rep), ["tcp_refused"], "mixed + EXPR 'tcp port 5432': only tcp_refused")
if oracle:
    t.eq(rep["summary"]["analysed"], tcpdump_count(mixed, "tcp port 5432"),
         "mixed + EXPR: packets analysed == tcpdump with the same filter")
else:
    t.skip("mixed: oracle absent")
rc, rep = triage(mixed, "udp")
t.eq(codes(rep), ["dns_nxdomain"], "mixed + EXPR 'udp': only dns_nxdomain")

# --- overlay scoping of EXPR (lib/filter): vni N / not vxlan ---
helptext = subprocess.run([DPCAP, "triage", "--help"], capture_output=True, text=True).stdout
if "vni N" in helptext:
    f = files["vxlan_mtu"]
    rc, rep = triage(f, "vni", str(scenarios.VNI))
    t.eq(codes(rep), ["vxlan_too_big"], "EXPR 'vni 5001': the overlay finding without the underlay ICMP")
    if oracle:
        t.eq(rep["summary"]["analysed"], len(tshark_count(f, f"vxlan.vni=={scenarios.VNI} && !icmp")),
             "EXPR 'vni 5001': packets == tshark vxlan.vni (ICMP quotes excluded)")
    else:
        t.skip("vni: oracle absent")
    rc, rep = triage(f, "not", "vxlan")
    t.eq(codes(rep), ["ip_pmtu"], "EXPR 'not vxlan': only the underlay's frag-needed remains (ip_pmtu)")
    x = finding(rep, "ip_pmtu") or {}
    t.eq(x.get("vni"), scenarios.VNI, "ip_pmtu names the VNI it quotes")
else:
    for _ in range(4):
        t.skip("lib/filter not in this build: no overlay scoping")

# --- terminal and HTML outputs ---
p = subprocess.run([DPCAP, "triage", files["refused"], "--html", os.path.join(tmp, "r.html")],
                   capture_output=True, text=True)
t.check(p.returncode == 0 and "refused (SYN answered by RST)" in p.stdout and "== Verdict: 1 finding" in p.stdout,
        "text report carries the verdict")
html = open(os.path.join(tmp, "r.html")).read() if os.path.exists(os.path.join(tmp, "r.html")) else ""
t.check("<svg" in html and "10.0.3.7:5432" in html, "HTML page has the timeline SVG and the finding")
t.check("<script" not in html and "src=" not in html and "href=" not in html and "@import" not in html,
        "HTML page loads no external resource")
p = subprocess.run([DPCAP, "triage", "--mtu", "12"], capture_output=True, text=True)
t.eq(p.returncode, 2, "bad --mtu is a usage error")
p = subprocess.run([DPCAP, "triage", os.path.join(tmp, "nonexistent.pcap")], capture_output=True, text=True)
t.eq(p.returncode, 1, "a missing input is a runtime failure")

# ====== findings that had no scenario: each gives exactly its finding ======


def frames(path, dfilter, two_pass=False):
    """Frame numbers tshark shows for dfilter (None when tshark is absent)."""
    if TSHARK is None:
        return None
    cmd = [TSHARK, "-r", path]
    if two_pass:
        cmd += ["-2", "-o", "ip.defragment:TRUE"]
    p = subprocess.run(cmd + ["-Y", dfilter, "-T", "fields", "-e", "frame.number"],
                       capture_output=True, text=True, timeout=60)
    return [int(x) for x in p.stdout.split()]


def exact(name, want):
    """Run triage on scenario `name`; its findings must be exactly `want`
    (a list of codes, repeats allowed)."""
    rc, rep = triage(files[name])
    t.eq(rc, 0, f"{name}: exit status 0")
    t.eq(codes(rep), sorted(want), f"{name}: findings are exactly {sorted(want)}")
    return rep


def evidence(name, x, dfilter, layer, two_pass=False, count=True):
    """x (a finding) is at `layer`, and its count and packet numbers are the
    frames tshark shows for dfilter."""
    t.eq(x.get("layer"), layer, f"{name}: {x.get('code')} at layer {layer}")
    fr = frames(files[name], dfilter, two_pass)
    if fr is None:
        t.skip(f"{name}: tshark absent ({dfilter})")
        if count:
            t.skip(f"{name}: tshark absent ({dfilter})")
        return
    t.eq(sorted(x.get("packets", [])), fr[:10],
         f"{name}: evidence packets == tshark -Y '{dfilter}'")
    if count:
        t.eq(x.get("count"), len(fr), f"{name}: count == tshark -Y '{dfilter}'")


def nearest_rank(vals, pct):
    v = sorted(vals)
    return v[max(1, (pct * len(v) + 99) // 100) - 1]


# --- zero window: the receiver (client) stops reading ---
rep = exact("zerowin", ["tcp_zero_window"])
x = finding(rep, "tcp_zero_window") or {}
evidence("zerowin", x, "tcp.analysis.zero_window", "transport")
t.check("10.0.1.5 -> 10.0.2.8:8000" in x.get("text", ""),
        "zerowin: sentence names the connection 10.0.1.5 -> 10.0.2.8:8000")
row = [r for r in tcp_rows(rep) if r["port"] == 8000]
xcheck(row[0]["zero_windows"] if row else -1, files["zerowin"], "tcp.analysis.zero_window",
       "zerowin: zero_windows in the TCP table")

# --- UDP requests that get no reply ---
rep = exact("udp_noreply", ["udp_no_reply"])
x = finding(rep, "udp_no_reply") or {}
evidence("udp_noreply", x, "udp.dstport==161", "transport")
t.check("10.0.7.7 port 161 (SNMP)" in x.get("text", ""), "udp_noreply: sentence names 10.0.7.7 port 161 (SNMP)")
fr = frames(files["udp_noreply"], "udp.srcport==161")
if fr is None:
    t.skip("udp_noreply: tshark absent")
else:
    t.eq(fr, [], "udp_noreply: tshark sees no datagram back from port 161")

# --- DNS SERVFAIL ---
rep = exact("servfail", ["dns_servfail"])
x = finding(rep, "dns_servfail") or {}
evidence("servfail", x, "dns.flags.rcode==2", "application")
t.check("broken-dnssec.example" in x.get("text", ""), "servfail: sentence names the failing names")
xcheck(rep["application"]["dns"]["rcodes"].get("SERVFAIL"), files["servfail"], "dns.flags.rcode==2",
       "servfail: rcodes table SERVFAIL")

# --- DNS queries never answered, and latency of the answered ones ---
f = files["dns_dead"]
rep = exact("dns_dead", ["dns_unanswered"])
x = finding(rep, "dns_unanswered") or {}
t.eq(x.get("layer"), "application", "dns_dead: dns_unanswered at layer application")
t.check("10.0.0.54" in x.get("text", ""), "dns_dead: sentence names the dead server")
if TSHARK:
    ids = tshark_field(f, "dns.flags.response==0 && !dns.response_in && ip.dst==10.0.0.54", "dns.id")
    nums = frames(f, "dns.flags.response==0 && !dns.response_in && ip.dst==10.0.0.54")
    t.eq(x.get("count"), len(set(ids)), "dns_dead: unanswered queries == distinct ids tshark leaves unanswered")
    first = sorted({i: n for n, i in reversed(list(zip(nums, ids)))}.values())
    t.eq(sorted(x.get("packets", [])), first, "dns_dead: evidence packets are each query's first transmission")
    srv = [s for s in rep["application"]["dns"]["servers"] if s["server"] == "10.0.0.54"]
    t.eq(srv[0]["retries"] if srv else -1, len(ids) - len(set(ids)), "dns_dead: retries == tshark repeats")
    lat = [float(v) * 1000.0 for v in tshark_field(f, "dns.flags.response==1 && ip.src==10.0.0.55", "dns.time")]
    srv = [s for s in rep["application"]["dns"]["servers"] if s["server"] == "10.0.0.55"]
    s0 = srv[0] if srv else {}
    t.eq(len(lat), len(scenarios.DNS_LAT_MS), "dns_dead: tshark matches every live response")
    for pc in (50, 90, 99):
        want = nearest_rank(lat, pc) if lat else -1
        t.check(abs(s0.get(f"p{pc}_ms", -1) - want) < 0.01,
                f"dns_dead: latency p{pc} {s0.get(f'p{pc}_ms')} ms == tshark dns.time {want:.3f} ms")
else:
    for _ in range(7):
        t.skip("dns_dead: tshark absent")

# --- TLS fatal alert ---
rep = exact("tls_alert", ["tls_alert"])
x = finding(rep, "tls_alert") or {}
evidence("tls_alert", x, "tls.alert_message.level==2 && tls.alert_message.desc==40", "application")
t.check("handshake_failure(40)" in x.get("text", "") and "SNI legacy.example.com" in x.get("text", ""),
        "tls_alert: sentence names the alert and the SNI")
xcheck(sum(a["count"] for a in rep["application"]["tls"]["alerts"]), files["tls_alert"],
       "tls.alert_message", "tls_alert: alerts table (fatal and warning)")

# --- ICMP / ICMPv6 destination unreachable, by code ---
rep = exact("unreach", ["ip_unreachable"] * 6 + ["port_unreachable"] * 2)
for v6, table in ((False, scenarios.UNREACH4), (True, scenarios.UNREACH6)):
    fam = "icmpv6" if v6 else "icmp"
    ty = 1 if v6 else 3
    for rtr, code, dst, l4 in table:
        port = (v6 and code == 4) or (not v6 and code == 3)
        want = "port_unreachable" if port else "ip_unreachable"
        dfilter = f"{fam}.type=={ty} && {fam}.code=={code}"
        name = f"unreach {fam} code {code} from {rtr}"
        fr = frames(files["unreach"], dfilter)
        if fr is None:
            t.skip(f"{name}: tshark absent")
            continue
        xs = [y for y in rep.get("findings", []) if sorted(y["packets"]) == fr]
        t.check(len(xs) == 1 and xs[0]["code"] == want and
                xs[0]["layer"] == ("transport" if port else "internet") and
                xs[0]["count"] == len(fr) and rtr in xs[0]["text"] and dst in xs[0]["text"],
                f"{name}: one {want} finding naming {rtr} and {dst}, packets == tshark -Y '{dfilter}'")

t.eq(sorted((r["server"], r["unreachable"], r["unanswered"]) for r in tcp_rows(rep) if r["port"] == 443
            and r["server"] != "10.0.2.9"),
     sorted((d, 3, 0) for _, c, d, l4 in scenarios.UNREACH4 + scenarios.UNREACH6 if l4 == "tcp"),
     "unreach: SYNs answered by ICMP count as unreachable, not unanswered, per server")

# --- ICMPv6 packet too big ---
rep = exact("ptb6", ["ip_pmtu"])
x = finding(rep, "ip_pmtu") or {}
evidence("ptb6", x, "icmpv6.type==2", "internet")
mtus = tshark_field(files["ptb6"], "icmpv6.type==2", "icmpv6.mtu") if TSHARK else None
if mtus is None:
    t.skip("ptb6: tshark absent")
else:
    t.check(f"(MTU {min(int(m) for m in mtus)})" in x.get("text", ""),
            "ptb6: sentence carries the MTU tshark reads (icmpv6.mtu)")

# --- IPv4 fragments missing ---
rep = exact("fraggap", ["ip_fragments_missing"])
x = finding(rep, "ip_fragments_missing") or {}
# first fragments of the datagrams tshark cannot reassemble
evidence("fraggap", x, "ip.flags.mf==1 && ip.frag_offset==0 && !ip.reassembled_in", "internet",
         two_pass=True)
fr = rep["internet"]["fragments"]
if TSHARK:
    ids = set(tshark_field(files["fraggap"], "ip.flags.mf==1 || ip.frag_offset>0", "ip.id"))
    t.eq((fr["datagrams"], fr["packets"]),
         (len(ids), len(frames(files["fraggap"], "ip.flags.mf==1 || ip.frag_offset>0"))),
         "fraggap: fragment datagrams and packets == tshark")
    t.eq((fr["complete"], fr["incomplete"]),
         (len(frames(files["fraggap"], "ip.flags.mf==1 && ip.frag_offset==0 && ip.reassembled_in", True)),
          len(frames(files["fraggap"], "ip.flags.mf==1 && ip.frag_offset==0 && !ip.reassembled_in", True))),
         "fraggap: complete / incomplete datagrams == tshark reassembly")
else:
    t.skip("fraggap: tshark absent")
    t.skip("fraggap: tshark absent")

# --- IP packets over the MTU (segmentation offload on the capture host) ---
rep = exact("over_mtu", ["frame_over_mtu"])
x = finding(rep, "frame_over_mtu") or {}
evidence("over_mtu", x, "ip.len > 1500", "link")
t.check(f"up to {scenarios.BIG_LEN} bytes" in x.get("text", ""), "over_mtu: sentence gives the largest size")
t.eq([c for c in codes(triage(files["over_mtu"], "--mtu", "9000")[1])], [],
     "over_mtu: --mtu 9000 clears it")

# --- reset mid-stream ---
rep = exact("reset", ["tcp_reset"])
x = finding(rep, "tcp_reset") or {}
evidence("reset", x, "tcp.flags.reset==1", "transport")
row = [r for r in tcp_rows(rep) if r["port"] == 9000]
t.check(bool(row) and row[0]["reset"] == 3 and row[0]["completed"] == 3,
        "reset: TCP table has 3 completed connections, 3 reset")

# --- HTTP 5xx ---
rep = exact("http_5xx", ["http_5xx"])
x = finding(rep, "http_5xx") or {}
evidence("http_5xx", x, "http.response.code >= 500", "application")
t.check("10.0.2.50:8080" in x.get("text", "") and "status 503" in x.get("text", ""),
        "http_5xx: sentence names 10.0.2.50:8080 and status 503")

# --- DNS REFUSED ---
rep = exact("dns_refused", ["dns_refused"])
x = finding(rep, "dns_refused") or {}
evidence("dns_refused", x, "dns.flags.rcode==5", "application")
t.check("10.0.0.56" in x.get("text", ""), "dns_refused: sentence names the server")

# --- handshake RTT percentiles ---
f = files["hs_rtt"]
rep = exact("hs_rtt", [])
rtt = [r for r in rep["transport"]["handshake_rtt"] if r["server"] == "10.0.2.40" and r["port"] == 8443]
r0 = rtt[0] if rtt else {}
if TSHARK:
    ack = [float(v) * 1000.0 for v in tshark_field(f, "tcp.flags.syn==1 && tcp.flags.ack==1",
                                                   "tcp.analysis.ack_rtt")]
    t.eq(r0.get("samples"), len(ack), "hs_rtt: samples == tshark SYN-ACKs with ack_rtt")
    for pc in (50, 90, 99):
        want = nearest_rank(ack, pc) if ack else -1
        t.check(abs(r0.get(f"p{pc}_ms", -1) - want) < 0.01,
                f"hs_rtt: p{pc} {r0.get(f'p{pc}_ms')} ms == tshark tcp.analysis.ack_rtt {want:.3f} ms")
else:
    for _ in range(4):
        t.skip("hs_rtt: tshark absent")

shutil.rmtree(tmp, ignore_errors=True)
sys.exit(t.done())
