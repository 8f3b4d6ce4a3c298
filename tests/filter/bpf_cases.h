/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bpf_cases.h - programs and packets for the BPF rewrite tests
 * (test_bpf_fix.c: rewritten vs original under libpcap; test_bpf_jit.c:
 * the daemon's rte_bpf JIT vs libpcap).
 *
 * Programs: for every expression of filter_exprs.h and of the list below,
 * libpcap's whole-expression program and each per-primitive program the
 * filter module holds (what the daemon installs), seeded combinations of
 * three of those expressions (and / or / and not), and seeded random
 * programs (loads, indexed loads, MSH, ALU, jset/jeq/jgt/jge with K and X,
 * scratch memory, len) that exercise every rewritten shape.
 * Packets: the pcaps given as arguments (dpcap-gen's sample and malformed
 * profiles), a few built-in frames, and each frame truncated to every
 * length up to 128 bytes (wire length kept).
 */
#ifndef BPF_CASES_H
#define BPF_CASES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "dpc_filter.h"
#include "dpc_test.h"
#include "filter_exprs.h"

/* BPF-only expressions an incident responder types, and the shapes
 * libpcap compiles them to (indexed loads, MSH, jset with small masks). */
static const char *const bpf_exprs[] = {
	"tcp[tcpflags] & tcp-syn != 0",
	"tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack = 0",
	"tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
	"tcp[tcpflags] & (tcp-rst|tcp-fin) != 0",
	"tcp[13] & 2 != 0",
	"tcp[13] & 0x7f != 0",
	"tcp[13] & 0x80 != 0",
	"tcp[13] = 0x12",
	"tcp[tcpflags] & tcp-syn != 0 and tcp port 80",
	"tcp[tcpflags] & tcp-push != 0 and (port 80 or port 443)",
	"udp[8:2] = 0x1234",
	"udp[8:2] = 0 or udp[4:2] < 12",
	"udp[0:2] = 53 or udp[2:2] = 53",
	"ip[6:2] & 0x1fff = 0",
	"ip[6:2] & 0x1fff != 0",
	"ip[6] & 0x20 != 0",
	"ip[6] & 0x40 != 0",
	"ip[0] & 0xf > 5",
	"ip[0] & 0xf != 5",
	"tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420",
	"ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) != 0",
	"icmp[icmptype] = icmp-echo",
	"icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply",
	"icmp[0] = 3 and icmp[1] = 4",
	"ether host 02:00:00:00:00:01",
	"ether src 02:00:00:00:00:02 or ether dst ff:ff:ff:ff:ff:ff",
	"ether[0] & 1 != 0",
	"ether[0] & 1 = 0 and not ether broadcast",
	"ether multicast",
	"ip multicast",
	"ether[ether[0] & 3] = 0",
	"ip[ip[0] & 0xf] > 1",
	"tcp[tcp[0] & 0xf] != 0",
	"ip6[6] = 6 or ip6[6] = 17",
	"ip6 and ip6[40] & 0x80 != 0",
	"vlan and tcp[13] & 2 != 0",
	"len >= 100 and tcp[13] & 0x12 = 0x12",
	"less 80 and udp[0] & 1 != 0",
	"tcp[0:2] > 1023 and tcp[2:2] < 1024",
	"tcp[4:4] & 0xffff = 0 or tcp[8:4] = 0",
	"ip[1] & 0xfc = 0xb8",
	"ip[1] & 3 = 3",
	"udp and udp[10] & 0x80 != 0",
	"sctp[12] = 1",
	"ip proto 47 and ip[ip[0]&0xf*4] = 0",
};
#define N_BPF_EXPRS (sizeof(bpf_exprs) / sizeof(bpf_exprs[0]))

struct bc_prog {
	char name[160];
	struct bpf_insn *insns;
	uint32_t n;
};

struct bc_pkt {
	const uint8_t *data;
	uint32_t caplen, wirelen;
	bool owner;             /* data is this frame's copy (others share it) */
};

struct bc_set {
	struct bc_prog *progs;
	unsigned n_progs, n_exprs, n_combos, n_random;
	struct bc_pkt *pkts;
	unsigned n_pkts, n_frames;
	unsigned compile_failed;
};

static void bc_add_prog(struct bc_set *s, const char *name, const struct bpf_insn *in,
			uint32_t n)
{
	struct bc_prog *p;

	s->progs = realloc(s->progs, (s->n_progs + 1) * sizeof(*s->progs));
	if (!s->progs)
		abort();
	p = &s->progs[s->n_progs++];
	/* long expressions are cut: the name only labels a failure */
	snprintf(p->name, sizeof(p->name), "%.*s", (int)sizeof(p->name) - 1, name);
	p->insns = malloc(n * sizeof(*in));
	if (!p->insns)
		abort();
	memcpy(p->insns, in, n * sizeof(*in));
	p->n = n;
}

struct bc_slot_arg {
	struct bc_set *s;
	const char *expr;
	unsigned k;
};

static int bc_slot_cb(struct dpc_filter_bpf_slot *slot, void *arg)
{
	struct bc_slot_arg *a = arg;
	char name[160];

	snprintf(name, sizeof(name), "%s (dpcap slot %u)", a->expr, a->k++);
	bc_add_prog(a->s, name, slot->insns, slot->n_insns);
	return 0;
}

static void bc_add_expr(struct bc_set *s, pcap_t *pd, const char *x)
{
	struct bpf_program prog;
	struct dpc_filter *f;

	s->n_exprs++;
	if (pcap_compile(pd, &prog, x, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		printf("# libpcap refuses '%s': %s\n", x, pcap_geterr(pd));
		s->compile_failed++;
		return;
	}
	bc_add_prog(s, x, prog.bf_insns, prog.bf_len);
	pcap_freecode(&prog);
	f = dpc_filter_compile(x, NULL);
	if (f) {
		struct bc_slot_arg a = { s, x, 0 };

		dpc_filter_bpf_foreach(f, bc_slot_cb, &a);
		dpc_filter_free(f);
	}
}

/* xorshift, seeded: the same programs on every run. */
static uint64_t bc_rng = 0x9e3779b97f4a7c15ull;
static uint32_t bc_rand(uint32_t n)
{
	bc_rng ^= bc_rng << 13;
	bc_rng ^= bc_rng >> 7;
	bc_rng ^= bc_rng << 17;
	return (uint32_t)(bc_rng % n);
}

#define BC_RAND_LEN 24
/* A random valid program in the shapes libpcap emits: byte/half/word
 * loads at small offsets, MSH, indexed loads, tax/txa, ALU with K and X
 * (no division), scratch memory, len, conditional jumps (jset with small
 * and large masks, K and X) forward to any later instruction. */
static uint32_t bc_random_prog(struct bpf_insn *p)
{
	static const uint16_t sz[] = { BPF_B, BPF_H, BPF_W };
	static const uint16_t alu[] = { BPF_ADD, BPF_SUB, BPF_AND, BPF_OR,
					BPF_XOR, BPF_MUL, BPF_LSH, BPF_RSH };
	static const uint16_t jop[] = { BPF_JSET, BPF_JSET, BPF_JEQ, BPF_JGT, BPF_JGE };
	uint32_t n = 8 + bc_rand(BC_RAND_LEN - 8), i, mem_written = 0;

	for (i = 0; i + 2 < n; i++) {
		struct bpf_insn *q = &p[i];
		uint32_t left = n - 2 - i;   /* instructions after this one, before the rets */

		memset(q, 0, sizeof(*q));
		switch (bc_rand(12)) {
		case 0:
			q->code = BPF_LD | sz[bc_rand(3)] | BPF_ABS;
			q->k = bc_rand(80);
			break;
		case 1:
			q->code = BPF_LD | sz[bc_rand(3)] | BPF_IND;
			q->k = bc_rand(60);
			break;
		case 2:
			q->code = BPF_LDX | BPF_B | BPF_MSH;
			q->k = 14 + bc_rand(8);
			break;
		case 3:
			q->code = BPF_MISC | (bc_rand(2) ? BPF_TAX : BPF_TXA);
			break;
		case 4: {
			uint16_t op = alu[bc_rand(8)];

			q->code = BPF_ALU | op | (bc_rand(3) == 0 ? BPF_X : BPF_K);
			q->k = (op == BPF_LSH || op == BPF_RSH) ? bc_rand(32)
				: bc_rand(2) ? bc_rand(0x100) : bc_rand(0x10000);
			if (BPF_SRC(q->code) == BPF_X && (op == BPF_LSH || op == BPF_RSH))
				q->code = BPF_ALU | op | BPF_K;  /* shift by X >= 32 differs */
			break;
		}
		case 5:
		case 6:
		case 7: {
			uint16_t op = jop[bc_rand(5)];

			q->code = BPF_JMP | op | (bc_rand(4) == 0 ? BPF_X : BPF_K);
			q->k = bc_rand(3) == 0 ? bc_rand(0x10000) : bc_rand(0x90);
			/* mostly short hops: DPDK refuses unreachable code */
			q->jt = (uint8_t)bc_rand(left + 1 > 4 ? 4 : left + 1);
			q->jf = (uint8_t)bc_rand(left + 1 > 4 ? 4 : left + 1);
			if (bc_rand(8) == 0)
				q->jf = (uint8_t)left;
			break;
		}
		case 8:
			q->code = bc_rand(2) ? BPF_ST : BPF_STX;
			q->k = bc_rand(BPF_MEMWORDS);
			mem_written |= 1u << q->k;
			break;
		case 9:
			if (mem_written) {
				uint32_t k;

				do
					k = bc_rand(BPF_MEMWORDS);
				while (!(mem_written & (1u << k)));
				q->code = (bc_rand(2) ? BPF_LD : BPF_LDX) | BPF_MEM;
				q->k = k;
			} else {
				q->code = BPF_LDX | BPF_W | BPF_IMM;
				q->k = bc_rand(40);
			}
			break;
		case 10:
			q->code = (bc_rand(2) ? BPF_LD : BPF_LDX) | BPF_W | BPF_LEN;
			break;
		default:
			q->code = BPF_LD | BPF_IMM;
			q->k = bc_rand(0x100);
			break;
		}
	}
	memset(&p[n - 2], 0, 2 * sizeof(*p));
	p[n - 2].code = BPF_RET | BPF_A;
	p[n - 1].code = BPF_RET | BPF_K;
	p[n - 1].k = 0x1234;
	return n;
}

/* A scratch slot read before any store depends on an interpreter's
 * initial memory (libpcap: uninitialised stack): keep programs that do
 * not, and (DPDK's validator refuses unreachable code, libpcap's
 * optimizer never leaves any) programs whose every instruction is
 * reachable. Only forward jumps: one pass is enough. */
static int bc_mem_defined(const struct bpf_insn *p, uint32_t n)
{
	uint32_t must[BC_RAND_LEN + 1];
	bool reach[BC_RAND_LEN + 1] = { true };
	uint32_t i;

	for (i = 0; i <= n; i++)
		must[i] = 0xffffffffu;
	must[0] = 0;
	for (i = 0; i < n; i++) {
		uint32_t m = must[i];
		uint16_t c = p[i].code;

		if (!reach[i])
			return 0;
		if (BPF_CLASS(c) == BPF_JMP) {
			reach[i + 1 + p[i].jt] = true;
			reach[i + 1 + p[i].jf] = true;
		} else if (BPF_CLASS(c) != BPF_RET) {
			reach[i + 1] = true;
		}
		if ((BPF_CLASS(c) == BPF_LD || BPF_CLASS(c) == BPF_LDX) &&
		    BPF_MODE(c) == BPF_MEM && !(m & (1u << p[i].k)))
			return 0;
		if (BPF_CLASS(c) == BPF_ST || BPF_CLASS(c) == BPF_STX)
			m |= 1u << p[i].k;
		if (BPF_CLASS(c) == BPF_RET)
			continue;
		if (BPF_CLASS(c) == BPF_JMP) {
			must[i + 1 + p[i].jt] &= m;
			must[i + 1 + p[i].jf] &= m;
		} else {
			must[i + 1] &= m;
		}
	}
	return 1;
}

static void bc_add_random(struct bc_set *s, unsigned count)
{
	struct bpf_insn p[BC_RAND_LEN];
	unsigned made = 0;

	while (made < count) {
		uint32_t n = bc_random_prog(p);
		char name[64];

		if (!bpf_validate(p, (int)n) || !bc_mem_defined(p, n))
			continue;
		snprintf(name, sizeof(name), "random program %u", made);
		bc_add_prog(s, name, p, n);
		made++;
	}
	s->n_random = count;
}

static void bc_add_pkt(struct bc_set *s, const uint8_t *data, uint32_t caplen,
		       uint32_t wirelen)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	uint32_t l;

	if (!copy)
		abort();
	memcpy(copy, data, caplen);
	s->n_frames++;
	s->pkts = realloc(s->pkts, (s->n_pkts + caplen + 2) * sizeof(*s->pkts));
	if (!s->pkts)
		abort();
	s->pkts[s->n_pkts++] = (struct bc_pkt){ copy, caplen, wirelen, true };
	for (l = 0; l < caplen && l <= 128; l++)
		s->pkts[s->n_pkts++] = (struct bc_pkt){ copy, l, wirelen, false };
}

/* Frames for when no pcap is given: TCP SYN with options, ACK with an
 * HTTP GET, an IPv4 fragment, ICMP echo, UDP DNS, IPv6 TCP, a VLAN-tagged
 * SYN, a broadcast ARP. */
static void bc_builtin(struct bc_set *s)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0 };
	uint8_t f[200];
	uint32_t l;

	/* IPv4 + TCP, IHL 6 (one option word), SYN */
	memset(f, 0, sizeof(f));
	memcpy(f, eth, 14);
	f[14] = 0x46; f[17] = 64; f[22] = 64; f[23] = 6;
	f[26] = 10; f[29] = 1; f[30] = 10; f[33] = 2;
	f[38] = 0x30; f[39] = 0x39; f[41] = 80; f[50] = 0x60; f[51] = 0x02;
	bc_add_pkt(s, f, 64, 64);
	/* ACK|PSH with "GET " */
	f[14] = 0x45; f[17] = 44 + 4; f[46] = 0x50; f[47] = 0x18;
	memcpy(f + 54, "GET /", 5);
	bc_add_pkt(s, f, 60, 60);
	/* fragment: offset 185, MF */
	f[20] = 0x20; f[21] = 0xb9;
	bc_add_pkt(s, f, 60, 60);
	/* ICMP echo */
	memset(f + 14, 0, 60);
	f[14] = 0x45; f[17] = 28; f[22] = 64; f[23] = 1; f[34] = 8;
	bc_add_pkt(s, f, 42, 42);
	/* UDP 53 */
	f[23] = 17; f[34] = 0xc0; f[35] = 0x01; f[36] = 0; f[37] = 53; f[39] = 20;
	f[42] = 0x12; f[43] = 0x34;
	bc_add_pkt(s, f, 62, 62);
	/* IPv6 TCP SYN */
	memset(f + 12, 0, 100);
	f[12] = 0x86; f[13] = 0xdd; f[14] = 0x60; f[19] = 20; f[20] = 6; f[21] = 64;
	f[54] = 0x30; f[57] = 80; f[66] = 0x50; f[67] = 0x02;
	bc_add_pkt(s, f, 74, 74);
	/* VLAN 100, IPv4 TCP SYN */
	memset(f + 12, 0, 100);
	f[12] = 0x81; f[14] = 0; f[15] = 100; f[16] = 8; f[17] = 0;
	f[18] = 0x45; f[21] = 40; f[26] = 64; f[27] = 6; f[51] = 0x02; f[50] = 0x50;
	bc_add_pkt(s, f, 58, 58);
	/* broadcast ARP */
	memset(f, 0xff, 6);
	f[12] = 8; f[13] = 6;
	for (l = 14; l < 42; l++)
		f[l] = (uint8_t)l;
	bc_add_pkt(s, f, 42, 60);
}

/* Seeded combinations of three expressions, as a user combines them
 * during an incident: longer programs with more jumps. */
static void bc_add_combos(struct bc_set *s, pcap_t *pd, unsigned count)
{
	static const char *const op[] = { " and ", " or ", " and not " };
	const unsigned n = N_PLAIN + N_BPF_EXPRS;
	unsigned made = 0;

	while (made < count) {
		const char *e[3];
		char x[1024];
		struct bpf_program prog;

		for (unsigned j = 0; j < 3; j++) {
			unsigned r = bc_rand(n);

			e[j] = r < N_PLAIN ? plain_exprs[r] : bpf_exprs[r - N_PLAIN];
		}
		snprintf(x, sizeof(x), "(%s)%s(%s)%s(%s)", e[0], op[bc_rand(3)], e[1],
			 op[bc_rand(3)], e[2]);
		if (pcap_compile(pd, &prog, x, 1, PCAP_NETMASK_UNKNOWN) != 0)
			continue;
		bc_add_prog(s, x, prog.bf_insns, prog.bf_len);
		pcap_freecode(&prog);
		made++;
	}
	s->n_combos = count;
}

/* Loads everything; returns the number of pcap files read. Program order:
 * expressions, combinations, random programs. */
static unsigned bc_load(struct bc_set *s, int argc, char **argv, unsigned n_combos,
			unsigned n_random)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	unsigned i, files = 0;
	int a;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < N_PLAIN; i++)
		bc_add_expr(s, pd, plain_exprs[i]);
	for (i = 0; i < N_BPF_EXPRS; i++)
		bc_add_expr(s, pd, bpf_exprs[i]);
	bc_add_combos(s, pd, n_combos);
	bc_add_random(s, n_random);
	pcap_close(pd);
	bc_builtin(s);
	for (a = 1; a < argc; a++) {
		char errbuf[PCAP_ERRBUF_SIZE];
		struct pcap_pkthdr *h;
		const u_char *data;
		pcap_t *in = pcap_open_offline(argv[a], errbuf);

		if (!in) {
			printf("# %s: %s\n", argv[a], errbuf);
			continue;
		}
		files++;
		while (pcap_next_ex(in, &h, &data) == 1)
			bc_add_pkt(s, data, h->caplen, h->len);
		pcap_close(in);
	}
	return files;
}

static void bc_free(struct bc_set *s)
{
	for (unsigned i = 0; i < s->n_progs; i++)
		free(s->progs[i].insns);
	for (unsigned i = 0; i < s->n_pkts; i++)
		if (s->pkts[i].owner)
			free((void *)(uintptr_t)s->pkts[i].data);
	free(s->progs);
	free(s->pkts);
	memset(s, 0, sizeof(*s));
}

/* bc_load, then say what was loaded and check that every pcap given was
 * read (a SKIP when none was given: built-in frames only). */
static void bc_load_checked(struct bc_set *s, int argc, char **argv,
				unsigned n_combos, unsigned n_random)
{
	unsigned files = bc_load(s, argc, argv, n_combos, n_random);

	printf("# %u programs (%u expressions, %u combinations, %u random), %u frames "
	       "from %u pcap%s + built-in, %u packets with truncations\n", s->n_progs,
	       s->n_exprs, s->n_combos, s->n_random, s->n_frames, files,
	       files == 1 ? "" : "s", s->n_pkts);
	if (argc > 1)
		CHECK(files == (unsigned)argc - 1, "read %u of %d pcaps", files, argc - 1);
	else
		DPC_SKIP("no dpcap-gen traffic given: built-in frames only");
}

#endif /* BPF_CASES_H */
