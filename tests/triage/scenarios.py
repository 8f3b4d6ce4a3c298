# SPDX-License-Identifier: BSD-3-Clause
"""Generated capture scenarios for `dpcap triage` (scapy, deterministic).

Each function returns a list of scapy packets with .time set. The tests
(test_scenarios.py) write them with wrpcap and check the findings; the
fuzz corpus seeds are written from them as well (write_all).
"""
import struct
import sys

from scapy.all import (ARP, DNS, DNSQR, DNSRR, ICMP, IP, IPv6, NTP, TCP, UDP,
                       VXLAN, Ether, ICMPv6DestUnreach, ICMPv6PacketTooBig,
                       Raw, fragment, wrpcap)

M_C = "02:00:00:00:00:01"
M_S = "02:00:00:00:00:02"
T0 = 1700000000.0


def _at(p, t):
    p.time = t
    return p


class Tcp:
    """A TCP conversation builder: keeps sequence numbers honest."""

    def __init__(self, pk, c, s, sport, dport, t, isn_c=1000, isn_s=5000,
                 wrap=None):
        self.pk, self.c, self.s = pk, c, s
        self.sport, self.dport = sport, dport
        self.t = t
        self.cs = isn_c
        self.ss = isn_s
        self.wrap = wrap or (lambda p: p)

    def _pkt(self, frm_client, flags, seq, ack, data=b"", win=65535):
        if frm_client:
            p = (Ether(src=M_C, dst=M_S) / IP(src=self.c, dst=self.s) /
                 TCP(sport=self.sport, dport=self.dport, flags=flags, seq=seq,
                     ack=ack, window=win))
        else:
            p = (Ether(src=M_S, dst=M_C) / IP(src=self.s, dst=self.c) /
                 TCP(sport=self.dport, dport=self.sport, flags=flags, seq=seq,
                     ack=ack, window=win))
        if data:
            p = p / Raw(data)
        return self.wrap(p)

    def emit(self, p, dt=0.0005):
        self.t += dt
        self.pk.append(_at(p, self.t))

    def handshake(self, rtt=0.002):
        self.emit(self._pkt(True, "S", self.cs, 0))
        self.emit(self._pkt(False, "SA", self.ss, self.cs + 1), rtt)
        self.cs += 1
        self.ss += 1
        self.emit(self._pkt(True, "A", self.cs, self.ss))

    def send(self, frm_client, data, dt=0.0005, advance=True):
        if frm_client:
            self.emit(self._pkt(True, "PA", self.cs, self.ss, data), dt)
            if advance:
                self.cs += len(data)
        else:
            self.emit(self._pkt(False, "PA", self.ss, self.cs, data), dt)
            if advance:
                self.ss += len(data)

    def ack(self, frm_client, dt=0.0005, ackno=None, win=65535):
        if frm_client:
            self.emit(self._pkt(True, "A", self.cs,
                                self.ss if ackno is None else ackno, win=win), dt)
        else:
            self.emit(self._pkt(False, "A", self.ss,
                                self.cs if ackno is None else ackno, win=win), dt)

    def close(self):
        self.emit(self._pkt(True, "FA", self.cs, self.ss))
        self.cs += 1
        self.emit(self._pkt(False, "FA", self.ss, self.cs))
        self.ss += 1
        self.emit(self._pkt(True, "A", self.cs, self.ss))


def _tls_client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    exts = struct.pack("!HH", 0, len(sni_ext)) + sni_ext
    body = (b"\x03\x03" + bytes(32) + b"\x00" + struct.pack("!H", 2) +
            b"\x13\x01" + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def background(pk, t, off=0):
    """Healthy traffic: DNS answered, an HTTP GET 200, TLS, ping, NTP, ARP.
    off makes ports and ids distinct when called more than once."""
    pk.append(_at(Ether(src=M_C, dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=1, psrc="10.0.1.5", pdst="10.0.1.1"), t))
    pk.append(_at(Ether(src=M_S, dst=M_C) /
                  ARP(op=2, psrc="10.0.1.1", pdst="10.0.1.5"), t + 0.0001))
    for i in range(5):
        qid = 100 + off * 10 + i
        name = f"host{i}.example.com"
        pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst="10.0.0.53") /
                      UDP(sport=33000 + off * 10 + i, dport=53) /
                      DNS(id=qid, rd=1, qd=DNSQR(qname=name)), t + 0.01 + i * 0.01))
        pk.append(_at(Ether(src=M_S, dst=M_C) / IP(src="10.0.0.53", dst="10.0.1.5") /
                      UDP(sport=53, dport=33000 + off * 10 + i) /
                      DNS(id=qid, qr=1, ra=1, rd=1, rcode=0, qd=DNSQR(qname=name),
                          an=DNSRR(rrname=name, rdata="10.0.2.8")),
                      t + 0.012 + i * 0.01))
    c = Tcp(pk, "10.0.1.5", "10.0.2.8", 41000 + 2 * off, 80, t + 0.1)
    c.handshake()
    c.send(True, b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
    c.ack(False)
    c.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    c.ack(True)
    c.close()
    c = Tcp(pk, "10.0.1.5", "10.0.2.9", 41001 + 2 * off, 443, t + 0.2)
    c.handshake()
    c.send(True, _tls_client_hello("api.example.com"))
    c.send(False, b"\x16\x03\x03\x00\x04\x02\x00\x00\x00")
    c.ack(True)
    c.close()
    for i in range(3):
        pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst="10.0.2.8") /
                      ICMP(type=8, id=7 + off, seq=i), t + 0.3 + i * 0.1))
        pk.append(_at(Ether(src=M_S, dst=M_C) / IP(src="10.0.2.8", dst="10.0.1.5") /
                      ICMP(type=0, id=7 + off, seq=i), t + 0.3005 + i * 0.1))
    pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst="10.0.0.123") /
                  UDP(sport=123, dport=123) / NTP(), t + 0.7))
    pk.append(_at(Ether(src=M_S, dst=M_C) / IP(src="10.0.0.123", dst="10.0.1.5") /
                  UDP(sport=123, dport=123) / NTP(mode=4), t + 0.701))
    return pk


def healthy():
    pk = []
    for k in range(4):
        background(pk, T0 + k * 1.0, k)
    return sorted(pk, key=lambda p: p.time)


def refused(n=38):
    pk = []
    background(pk, T0)
    for i in range(n):
        t = T0 + 1.0 + i * 0.05
        pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst="10.0.3.7") /
                      TCP(sport=50000 + i, dport=5432, flags="S", seq=1000 + i), t))
        pk.append(_at(Ether(src=M_S, dst=M_C) / IP(src="10.0.3.7", dst="10.0.1.5") /
                      TCP(sport=5432, dport=50000 + i, flags="RA", seq=0,
                          ack=1001 + i), t + 0.0003))
    return sorted(pk, key=lambda p: p.time)


def blackhole(n=5):
    pk = []
    background(pk, T0)
    for i in range(n):
        t = T0 + 1.0 + i * 0.5
        for r, dt in enumerate((0, 1, 3, 7)):
            pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst="10.0.9.9") /
                          TCP(sport=51000 + i, dport=443, flags="S", seq=777 + i), t + dt))
    background(pk, T0 + 12.0, 1)
    return sorted(pk, key=lambda p: p.time)


VTEP_A, VTEP_B, UNDERLAY_RTR, VNI = "192.168.10.1", "192.168.20.1", "192.168.10.254", 5001


def vxlan_mtu(n=12):
    pk = []

    def wrap(p):
        return (Ether(src="02:00:00:00:10:01", dst="02:00:00:00:10:fe") /
                IP(src=VTEP_A, dst=VTEP_B, flags="DF") /
                UDP(sport=49152 + (p[TCP].sport % 1000), dport=4789) /
                VXLAN(vni=VNI, flags=0x08) / p)

    def wrap_back(p):
        return (Ether(src="02:00:00:00:10:fe", dst="02:00:00:00:10:01") /
                IP(src=VTEP_B, dst=VTEP_A, flags="DF") /
                UDP(sport=49152 + (p[TCP].dport % 1000), dport=4789) /
                VXLAN(vni=VNI, flags=0x08) / p)

    def w(p):
        return wrap(p) if p[IP].src == "10.1.1.10" else wrap_back(p)

    c = Tcp(pk, "10.1.1.10", "10.1.2.20", 42000, 8080, T0, wrap=w)
    c.handshake()
    c.send(True, b"GET /big HTTP/1.1\r\nHost: app\r\n\r\n")
    c.ack(False)
    for i in range(n):
        # inner IP packets of 1500 bytes (20 IP + 20 TCP + 1460 data)
        c.send(False, bytes([65 + i % 26]) * 1460, dt=0.001)
        outer = pk[-1]
        raw = bytes(outer[IP])[:576 - 28]
        pk.append(_at(Ether(src="02:00:00:00:10:fe", dst="02:00:00:00:10:02") /
                      IP(src=UNDERLAY_RTR, dst=VTEP_B) /
                      ICMP(type=3, code=4, nexthopmtu=1500) / Raw(raw),
                      outer.time + 0.0002))
    return sorted(pk, key=lambda p: p.time)


def loop(n=6):
    pk = []
    background(pk, T0)
    for i in range(n):
        t = T0 + 1.0 + i * 0.2
        base = IP(src="10.0.5.5", dst="203.0.113.7", id=4000 + i) / ICMP(type=8, id=9, seq=i)
        for hop, ttl in enumerate(range(64, 0, -2)):
            p = base.copy()
            p[IP].ttl = ttl
            pk.append(_at(Ether(src=M_C, dst=M_S) / p, t + hop * 0.0004))
        quote = base.copy()
        quote[IP].ttl = 1
        pk.append(_at(Ether(src=M_S, dst=M_C) / IP(src="10.0.0.1", dst="10.0.5.5") /
                      ICMP(type=11, code=0) / Raw(bytes(quote)[:28]), t + 0.0130))
    return sorted(pk, key=lambda p: p.time)


def nxdomain(n=60, good=10):
    pk = []
    background(pk, T0)
    for i in range(n + good):
        t = T0 + 1.0 + i * 0.02
        bad = i < n
        name = f"svc-{i}.corp.example.invalid" if bad else f"ok{i}.example.com"
        pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst="10.0.0.53") /
                      UDP(sport=34000 + i, dport=53) /
                      DNS(id=2000 + i, rd=1, qd=DNSQR(qname=name)), t))
        ans = (DNS(id=2000 + i, qr=1, rd=1, ra=1, rcode=3, qd=DNSQR(qname=name)) if bad
               else DNS(id=2000 + i, qr=1, rd=1, ra=1, rcode=0, qd=DNSQR(qname=name),
                        an=DNSRR(rrname=name, rdata="10.0.2.8")))
        pk.append(_at(Ether(src=M_S, dst=M_C) / IP(src="10.0.0.53", dst="10.0.1.5") /
                      UDP(sport=53, dport=34000 + i) / ans, t + 0.003))
    return sorted(pk, key=lambda p: p.time)


def retrans(segs=100, lost=(10, 20, 30, 40, 50, 60, 70, 80, 85, 90)):
    """One bulk transfer; each lost segment is seen once, followed by three
    duplicate ACKs from the receiver, and resent after a 200 ms timeout."""
    pk = []
    background(pk, T0)
    c = Tcp(pk, "10.0.1.5", "10.0.2.8", 43000, 8000, T0 + 1.0)
    c.handshake()
    mss = 1000
    i = 0
    while i < segs:
        seg = bytes([48 + i % 10]) * mss
        if i in lost:
            seq_lost = c.ss
            c.send(False, seg, dt=0.001)
            ackno = seq_lost
            # three later segments arrive, the receiver repeats its ACK
            later = []
            for j in range(3):
                later.append(bytes([97 + j]) * mss)
            for j, d in enumerate(later):
                c.send(False, d, dt=0.001)
                c.ack(True, dt=0.0002, ackno=ackno)
            # timeout: resend the lost segment, then cumulative ACK
            end = c.ss
            c.ss = seq_lost
            c.send(False, seg, dt=0.2, advance=True)
            c.ss = end
            c.ack(True, dt=0.0005)
            i += 4
        else:
            c.send(False, seg, dt=0.001)
            if i % 2:
                c.ack(True, dt=0.0002)
            i += 1
    c.ack(True)
    c.close()
    return sorted(pk, key=lambda p: p.time)


def zerowin(stalls=4):
    """A bulk download whose client stops reading: it advertises a zero
    window `stalls` times, then a window update lets the server go on."""
    pk = []
    background(pk, T0)
    c = Tcp(pk, "10.0.1.5", "10.0.2.8", 43500, 8000, T0 + 1.0)
    c.handshake()
    for k in range(stalls):
        for _ in range(4):
            c.send(False, b"z" * 1000, dt=0.001)
        c.ack(True, dt=0.0002, win=0)
        c.ack(True, dt=0.05, win=65535)
    c.close()
    return sorted(pk, key=lambda p: p.time)


def udp_noreply(n=6):
    """SNMP requests (each from its own port) to a station that never
    answers; background NTP is answered."""
    pk = []
    background(pk, T0)
    for i in range(n):
        pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst="10.0.7.7") /
                      UDP(sport=45000 + i, dport=161) / Raw(b"\x30\x26\x02\x01\x01" + bytes(20)),
                      T0 + 1.0 + i * 0.3))
    # later traffic: the requests are well before the capture's last second
    background(pk, T0 + 4.0, 1)
    return sorted(pk, key=lambda p: p.time)


def _dnsq(pk, t, sport, server, qid, name):
    pk.append(_at(Ether(src=M_C, dst=M_S) / IP(src="10.0.1.5", dst=server) /
                  UDP(sport=sport, dport=53) / DNS(id=qid, rd=1, qd=DNSQR(qname=name)), t))


def _dnsr(pk, t, sport, server, qid, name, rcode):
    an = DNSRR(rrname=name, rdata="10.0.2.8") if rcode == 0 else None
    pk.append(_at(Ether(src=M_S, dst=M_C) / IP(src=server, dst="10.0.1.5") /
                  UDP(sport=53, dport=sport) /
                  DNS(id=qid, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=name), an=an), t))


def servfail(n=4):
    """A resolver that fails some names with SERVFAIL (answered fine otherwise)."""
    pk = []
    background(pk, T0)
    for i in range(n + 6):
        t = T0 + 1.0 + i * 0.05
        name = f"signed{i}.broken-dnssec.example" if i < n else f"fine{i}.example.com"
        _dnsq(pk, t, 36000 + i, "10.0.0.53", 3000 + i, name)
        _dnsr(pk, t + 0.004, 36000 + i, "10.0.0.53", 3000 + i, name, 2 if i < n else 0)
    return sorted(pk, key=lambda p: p.time)


DNS_LAT_MS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)


def dns_dead(n=5):
    """Queries to a dead resolver (never answered, one retry each) and
    queries to a live one answered after the latencies DNS_LAT_MS; healthy
    traffic afterwards so the dead queries are well before the capture's
    last second."""
    pk = []
    background(pk, T0)
    for i in range(n):
        t = T0 + 1.0 + i * 0.2
        name = f"dead{i}.example.com"
        _dnsq(pk, t, 37000 + i, "10.0.0.54", 4000 + i, name)
        _dnsq(pk, t + 0.1, 37000 + i, "10.0.0.54", 4000 + i, name)
    for i, ms in enumerate(DNS_LAT_MS):
        t = T0 + 2.5 + i * 0.2
        name = f"live{i}.example.com"
        _dnsq(pk, t, 38000 + i, "10.0.0.55", 5000 + i, name)
        _dnsr(pk, t + ms / 1000.0, 38000 + i, "10.0.0.55", 5000 + i, name, 0)
    background(pk, T0 + 6.0, 1)
    return sorted(pk, key=lambda p: p.time)


def tls_alert(n=3):
    """TLS handshakes the server rejects with a fatal handshake_failure (40)
    alert, then closes normally."""
    pk = []
    background(pk, T0)
    for i in range(n):
        c = Tcp(pk, "10.0.1.5", "10.0.2.10", 44000 + i, 443, T0 + 1.0 + i * 0.2)
        c.handshake()
        c.send(True, _tls_client_hello("legacy.example.com"))
        c.send(False, b"\x15\x03\x03\x00\x02\x02\x28")
        c.ack(True)
        c.close()
    # a warning-level close_notify is a normal close, not a finding
    c = Tcp(pk, "10.0.1.5", "10.0.2.10", 44100, 443, T0 + 2.0)
    c.handshake()
    c.send(True, _tls_client_hello("ok.example.com"))
    c.send(False, b"\x16\x03\x03\x00\x04\x02\x00\x00\x00")
    c.send(True, b"\x15\x03\x03\x00\x02\x01\x00")
    c.ack(False)
    c.close()
    return sorted(pk, key=lambda p: p.time)


def http_5xx(n=5, good=5):
    """An HTTP server answering n requests with 503 (and good with 200)."""
    pk = []
    background(pk, T0)
    for i in range(n + good):
        c = Tcp(pk, "10.0.1.5", "10.0.2.50", 53000 + i, 8080, T0 + 1.0 + i * 0.1)
        c.handshake()
        c.send(True, f"GET /api/{i} HTTP/1.1\r\nHost: api\r\n\r\n".encode())
        c.ack(False)
        if i < n:
            c.send(False, b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        else:
            c.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        c.ack(True)
        c.close()
    return sorted(pk, key=lambda p: p.time)


def dns_refused(n=3):
    """A resolver that refuses recursion to this client."""
    pk = []
    background(pk, T0)
    for i in range(n):
        t = T0 + 1.0 + i * 0.05
        name = f"www{i}.example.org"
        _dnsq(pk, t, 39000 + i, "10.0.0.56", 6000 + i, name)
        _dnsr(pk, t + 0.002, 39000 + i, "10.0.0.56", 6000 + i, name, 5)
    return sorted(pk, key=lambda p: p.time)


# (reporter, code, destination, L4) for ICMP destination unreachable
UNREACH4 = (("10.0.0.1", 0, "198.51.100.1", "tcp"),     # net
            ("10.0.0.2", 1, "10.0.8.8", "tcp"),         # host
            ("10.0.8.9", 3, "10.0.8.9", "udp"),         # port
            ("10.0.0.3", 13, "10.0.8.10", "tcp"))       # admin prohibited
# (reporter, code, destination, L4) for ICMPv6 destination unreachable
UNREACH6 = (("fd00::1", 0, "2001:db8:99::1", "tcp"),    # no route
            ("fd00::2", 1, "2001:db8:1::10", "tcp"),    # admin prohibited
            ("fd00::3", 3, "2001:db8:1::11", "tcp"),    # address unreachable
            ("2001:db8:1::12", 4, "2001:db8:1::12", "udp"))  # port


def unreach(n=3):
    """Each (reporter, code) of UNREACH4 / UNREACH6 answers n packets."""
    pk = []
    background(pk, T0)
    t = T0 + 1.0
    for v6, table in ((False, UNREACH4), (True, UNREACH6)):
        me = "2001:db8:1::5" if v6 else "10.0.1.5"
        for j, (rtr, code, dst, l4) in enumerate(table):
            for i in range(n):
                sport = 46000 + j * 10 + i + (100 if v6 else 0)
                l3 = IPv6(src=me, dst=dst) if v6 else IP(src=me, dst=dst)
                if l4 == "tcp":
                    inner = l3 / TCP(sport=sport, dport=443, flags="S", seq=9000 + i)
                else:
                    inner = l3 / UDP(sport=sport, dport=9999) / Raw(b"probe")
                pk.append(_at(Ether(src=M_C, dst=M_S) / inner, t))
                if v6:
                    err = (IPv6(src=rtr, dst=me) /
                           ICMPv6DestUnreach(code=code) / Raw(bytes(inner)))
                else:
                    err = (IP(src=rtr, dst=me) / ICMP(type=3, code=code) /
                           Raw(bytes(inner)[:28]))
                pk.append(_at(Ether(src=M_S, dst=M_C) / err, t + 0.001))
                t += 0.05
    return sorted(pk, key=lambda p: p.time)


PTB_MTU = 1280


def ptb6(n=4):
    """An IPv6 path whose router answers 1500-byte packets with ICMPv6
    packet-too-big (MTU PTB_MTU)."""
    pk = []
    background(pk, T0)
    for i in range(n):
        t = T0 + 1.0 + i * 0.1
        big = (IPv6(src="2001:db8:1::5", dst="2001:db8:2::8") /
               TCP(sport=47000, dport=443, flags="PA", seq=1 + i * 1440, ack=1) /
               Raw(bytes(1440)))
        pk.append(_at(Ether(src=M_C, dst=M_S) / big, t))
        pk.append(_at(Ether(src=M_S, dst=M_C) / IPv6(src="fd00::7", dst="2001:db8:1::5") /
                      ICMPv6PacketTooBig(mtu=PTB_MTU) / Raw(bytes(big)[:1232]), t + 0.0005))
    return sorted(pk, key=lambda p: p.time)


def fraggap(n=6, lost=(1, 4)):
    """n fragmented UDP datagrams (3 fragments each); the datagrams in `lost`
    miss their middle fragment."""
    pk = []
    background(pk, T0)
    t = T0 + 1.0
    for i in range(n):
        d = (IP(src="10.0.1.5", dst="10.0.2.20", id=7000 + i) /
             UDP(sport=48000, dport=7777) / Raw(bytes([i]) * 3000))
        frags = fragment(d, fragsize=1200)
        for k, fr in enumerate(frags):
            if i in lost and k == 1:
                continue
            pk.append(_at(Ether(src=M_C, dst=M_S) / fr, t))
            t += 0.001
        t += 0.1
    return sorted(pk, key=lambda p: p.time)


BIG_LEN = 9000


def over_mtu(n=5):
    """TSO-sized packets (BIG_LEN-byte IP) seen on a 1500-byte MTU capture."""
    pk = []
    background(pk, T0)
    c = Tcp(pk, "10.0.1.5", "10.0.2.8", 43700, 8000, T0 + 1.0)
    c.handshake()
    for _ in range(n):
        c.send(False, b"j" * (BIG_LEN - 40), dt=0.001)
        c.ack(True, dt=0.0002)
    c.close()
    return sorted(pk, key=lambda p: p.time)


def reset(n=3):
    """Established connections the server resets mid-transfer."""
    pk = []
    background(pk, T0)
    for i in range(n):
        c = Tcp(pk, "10.0.1.5", "10.0.2.30", 49000 + i, 9000, T0 + 1.0 + i * 0.2)
        c.handshake()
        c.send(True, b"request")
        c.ack(False)
        c.send(False, b"partial reply")
        c.ack(True)
        c.emit(c._pkt(False, "R", c.ss, 0))
    return sorted(pk, key=lambda p: p.time)


def hs_rtt(n=40):
    """n handshakes to one server with RTT (i+1) ms, all completed and closed."""
    pk = []
    for i in range(n):
        c = Tcp(pk, "10.0.1.5", "10.0.2.40", 52000 + i, 8443, T0 + i * 0.3)
        c.handshake(rtt=(i + 1) / 1000.0)
        c.close()
    return sorted(pk, key=lambda p: p.time)


ALL = {
    "healthy": healthy,
    "refused": refused,
    "blackhole": blackhole,
    "vxlan_mtu": vxlan_mtu,
    "loop": loop,
    "nxdomain": nxdomain,
    "retrans": retrans,
    "zerowin": zerowin,
    "udp_noreply": udp_noreply,
    "servfail": servfail,
    "dns_dead": dns_dead,
    "tls_alert": tls_alert,
    "unreach": unreach,
    "ptb6": ptb6,
    "fraggap": fraggap,
    "over_mtu": over_mtu,
    "reset": reset,
    "hs_rtt": hs_rtt,
    "http_5xx": http_5xx,
    "dns_refused": dns_refused,
}


def write_all(outdir):
    for name, fn in ALL.items():
        wrpcap(f"{outdir}/{name}.pcap", fn())


if __name__ == "__main__":
    write_all(sys.argv[1])
