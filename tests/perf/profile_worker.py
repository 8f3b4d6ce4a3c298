#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Where dpcapd's worker spends its instructions, per packet (callgrind).

    /usr/bin/python3 tests/perf/profile_worker.py [--mix imix|overlay|small]
        [--k K] [--seconds S] [--pkts N] [--build DIR] [--top T] [--keep]
        [--blocks B]

Not a registered test (run by hand; docs/performance.md quotes its output).
It generates N packets of the bench's MIX (tests/perf/bench_pcap, the same
generator and jobs as scripts/bench: job j is "host 10.2.0.(j+1) and port
(2001+j)", ~1% of the traffic each), runs dpcapd from DIR
(build-release) under `valgrind --tool=callgrind
--toggle-collect=dp_worker_main` on `net_pcap infinite_rx` with K such
jobs (captures to /dev/shm, ring mode, as measurement 2 does). Once it
runs, the window is opened and closed the same way: wait until the
/dpcap/stats telemetry counters move (the daemon refreshes them every
500 ms), then `callgrind_control --zero` (open) or `--dump` (close), S
seconds apart; the instructions of the window are divided by the packets
the worker received between the two refreshes (both ends lag their
refresh by about the same time, so the lag cancels). Only dp_worker_main
and what it calls are counted: EAL start-up, the control and writer
threads and the shutdown (jobs ended, packets no longer parsed) are left
out; with infinite_rx the queue is never empty, so there are no idle
polls either.
Prints the worker's total instructions/packet, then the top T functions
by self cost (instr/packet and share), then the inclusive cost of the
stages of the loop (rx, parse, classify, deliver, free). This VM has no
hardware counters, so it counts instructions, not cycles or cache misses.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Inclusive stages of the poll loop (the functions dp_worker_main calls).
STAGES = [
    ('rx (PMD: net_pcap infinite_rx copies each packet into a new mbuf)',
     r'eth_pcap_rx_infinite|rte_eth_rx_burst'),
    ('parse (dpc_parse)', r'^dpc_parse$'),
    ('screen (dpc_screen*)', r'screen'),
    ('classify (dpc_classifier_match)', r'^dpc_classifier_match$'),
    ('deliver (record copy into the staging block)', r'^deliver'),
    ('free (rte_pktmbuf_free_bulk)', r'rte_pktmbuf_free_bulk|rte_mempool_ops_enqueue|'
     r'common_ring_mp_enqueue'),
]


def telemetry_rx(prefix):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(f'/var/run/dpdk/{prefix}/dpdk_telemetry.v2')
    s.recv(65536)

    def rx():
        s.send(b'/dpcap/stats')
        return json.loads(s.recv(1 << 20).decode())['/dpcap/stats']
    return s, rx


def at_refresh(rx):
    """Wait for the telemetry counters to move; return the fresh stats."""
    last = rx()['rx']
    t_end = time.monotonic() + 60
    while time.monotonic() < t_end:
        v = rx()
        if v['rx'] != last:
            return v
        time.sleep(0.002)
    raise RuntimeError('telemetry counters do not move')


def annotate(out, inclusive):
    p = subprocess.run(['callgrind_annotate', f'--inclusive={"yes" if inclusive else "no"}',
                        '--threshold=100', out], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, check=True)
    rows = []
    for line in p.stdout.splitlines():
        m = re.match(r'\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:(\S+)\s*(?:\[(.*)\])?$',
                     line)
        if not m:
            continue
        n = int(m.group(1).replace(',', ''))
        fn, obj = m.group(2), os.path.basename(m.group(3) or '')
        if fn.startswith('0x'):
            # a stripped library (the PMD, the mempool driver): name it
            fn = f'{obj.split(".so")[0]} (stripped, {fn[-6:]})'
        rows.append((n, fn))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mix', default='imix', choices=['small', 'imix', 'overlay'])
    ap.add_argument('--k', type=int, default=64)
    ap.add_argument('--seconds', type=float, default=20.0)
    ap.add_argument('--pkts', type=int, default=20000)
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-release'))
    ap.add_argument('--top', type=int, default=14)
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('--quiet', action='store_true',
                    help='issue 4\'s reading: job 0 as above, jobs 1..K-1 on quiet '
                         'hosts (host 10.3.0.j and port 3000+j), ~1%% matching in all')
    ap.add_argument('--blocks', type=int, default=0,
                    help='staging blocks (config "blocks"; 0 = dpcapd\'s default)')
    a = ap.parse_args()
    gen = os.path.join(a.build, 'tests/perf/bench_pcap')
    dpcapd = os.path.join(a.build, 'app/dpcapd/dpcapd')
    for f in (gen, dpcapd):
        if not os.access(f, os.X_OK):
            sys.exit(f'profile_worker: {f} not built')
    d = tempfile.mkdtemp(prefix='dpc-profile.')
    root = tempfile.mkdtemp(prefix='dpc-profile-cap.', dir='/dev/shm')
    try:
        pcap = os.path.join(d, f'{a.mix}.pcap')
        subprocess.run([gen, 'gen', '--profile', a.mix, '-n', str(a.pkts), '-o', pcap],
                       check=True, stdout=subprocess.DEVNULL)
        exprs = [f'host 10.2.0.{j + 1} and port {2001 + j}' for j in range(a.k)]
        if a.quiet:
            exprs = exprs[:1] + [f'host 10.3.0.{j} and port {3000 + j}'
                                 for j in range(1, a.k)]
        jobs = [{'name': f'j{j}', 'filter': e,
                 'rotate': {'file_bytes': 16 * 2**20, 'max_files': 2, 'mode': 'ring'}}
                for j, e in enumerate(exprs)]
        mbufs = a.pkts + 16384
        cfg = {'ports': [{'name': 'p0', 'rx_queues': 1,
                          'device': f'net_pcap0,rx_pcap={pcap},infinite_rx=1'}],
               'mbufs': mbufs, 'mbuf_data_room': 1792, 'capture_root': root,
               'min_free_bytes': 0, 'jobs': jobs}
        if a.blocks:
            cfg['blocks'] = a.blocks
        cfg_path = os.path.join(d, 'dpcapd.json')
        json.dump(cfg, open(cfg_path, 'w'))
        out = os.path.join(d, 'callgrind.out')
        stats = os.path.join(d, 'stats.json')
        log = os.path.join(d, 'dpcapd.log')
        mem = int(mbufs * 2048 / 2**20) + 256 + max(a.blocks, 256) // 4
        # --fair-sched: without it the busy-polling worker keeps valgrind's
        # big lock and the writer thread starves (every block "no_block").
        cmd = ['taskset', '-c', '1', 'valgrind', '--tool=callgrind', '--fair-sched=yes',
               '--toggle-collect=dp_worker_main', '--dump-instr=yes',
               f'--callgrind-out-file={out}',
               dpcapd, '-l', '0,1', '--no-huge', '-m', str(mem), '--no-pci',
               '--file-prefix', f'dpc-profile-{os.getpid()}', '--log-level', 'warning',
               '--', '--config', cfg_path, '--stats-out', stats]
        prefix = f'dpc-profile-{os.getpid()}'
        cmd[cmd.index('--file-prefix') + 1] = prefix
        print('$ ' + ' '.join(cmd), file=sys.stderr)
        with open(log, 'w') as lf:
            p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
        t_end = time.monotonic() + 300
        while 'dpcapd: running' not in open(log).read():
            if p.poll() is not None or time.monotonic() > t_end:
                p.kill()
                sys.exit('profile_worker: dpcapd did not start:\n' + open(log).read()[-2000:])
            time.sleep(0.2)
        time.sleep(1.0)
        sock, rx_now = telemetry_rx(prefix)
        cgc = ['callgrind_control']
        rx0 = at_refresh(rx_now)
        subprocess.run(cgc + ['--zero', str(p.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        time.sleep(a.seconds)
        rx1 = at_refresh(rx_now)
        subprocess.run(cgc + ['--dump=window', str(p.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        sock.close()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=300)
        st = json.load(open(stats))
        rx_all = sum(w['rx'] for w in st['workers'])
        drops = {k: v for k, v in st.get('drops', {}).items() if v}
        dumps = sorted(f for f in os.listdir(d) if f.startswith('callgrind.out.'))
        if not dumps:
            sys.exit('profile_worker: callgrind_control --dump wrote nothing')
        out = os.path.join(d, dumps[0])
        total = int(re.search(r'^(?:summary|totals):\s*(\d+)', open(out).read(),
                              re.M).group(1))
        rx = rx1['rx'] - rx0['rx']
        matched = rx1['matched'] - rx0['matched']
        dropped = {k[5:]: rx1[k] - rx0.get(k, 0) for k in rx1
                   if k.startswith('drop_') and rx1[k] - rx0.get(k, 0)}
        print(f'dpcapd worker, {a.mix}, K={a.k}: {rx:,} packets in the window, '
              f'{100 * matched / max(rx, 1):.2f}% matched, records dropped in the '
              f'window {dropped or "none"} ({rx_all:,} packets in the run; drops '
              f'{drops or "none"}; balanced {st.get("balanced")})')
        print(f'worker total: {total / rx:.0f} instructions/packet '
              f'({total:,} in dp_worker_main and below)')
        print(f'\n{"function (self cost)":<58} {"instr/pkt":>10} {"share":>7}')
        # A dump taken while the thread runs charges the frames still on
        # its stack (clone, start_thread, EAL's thread loop) with the
        # whole window: they are the total, not a cost of their own.
        for n, fn in [x for x in annotate(out, False) if x[0] < 0.999 * total][:a.top]:
            print(f'{fn[:58]:<58} {n / rx:10.1f} {100 * n / total:6.1f}%')
        incl = annotate(out, True)
        print(f'\n{"stage (inclusive)":<58} {"instr/pkt":>10} {"share":>7}')
        for name, pat in STAGES:
            hits = [(n, fn) for n, fn in incl if re.search(pat, fn)]
            if not hits:
                continue
            n, fn = max(hits)
            print(f'{name[:58]:<58} {n / rx:10.1f} {100 * n / total:6.1f}%')
        if a.keep:
            print(f'\nkept: {d} (callgrind.out, dpcapd.log, stats.json)')
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    main()
