/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_filter_oracle.c - dpcap's filter verdict against libpcap's.
 *
 * For every generated packet (plain, VLAN-tagged, VXLAN; some truncated,
 * some malformed) and every expression, dpc_filter_match() on the whole
 * frame must equal pcap_offline_filter() run on the innermost frame as an
 * untagged Ethernet frame, which the generator built before wrapping it.
 * Scoped expressions (outer, vxlan, vni, vlan) are checked against the
 * same oracle on the outer frame and the generator's own record.
 * Then the classifier: for random job sets its mask equals the K
 * individual verdicts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <pcap/pcap.h>

#include "dpc_filter.h"
#include "dpc_parse.h"
#include "dpc_test.h"
#include "filter_gen.h"

#define PER_MODE 4000

#include "filter_exprs.h"



/* Scoped expressions: a conjunction of terms, each checked on its own. */
enum term_kind { T_INNER, T_OUTER, T_VXLAN, T_VNI, T_VLAN, T_OVLAN };
struct term {
	enum term_kind k;
	bool neg;
	const char *pcap; /* T_INNER/T_OUTER: tcpdump expression */
	int num;          /* T_VNI, T_VLAN/T_OVLAN id (-1 any) */
	int num2;         /* or this one ("vni 5001 or 5002"), 0: none */
};
struct scoped {
	const char *expr;
	struct term t[4];
	int n;
};

static const struct scoped scoped_exprs[] = {
	{ "outer host 192.0.2.10", { { T_OUTER, false, "host 192.0.2.10", 0 } }, 1 },
	{ "outer (udp port 4789 and src host 192.0.2.20)",
	  { { T_OUTER, false, "udp port 4789 and src host 192.0.2.20", 0 } }, 1 },
	{ "vxlan", { { T_VXLAN, false, NULL, 0 } }, 1 },
	{ "not vxlan and tcp", { { T_VXLAN, true, NULL, 0 },
				 { T_INNER, false, "tcp", 0 } }, 2 },
	{ "vni 5001", { { T_VNI, false, NULL, 5001 } }, 1 },
	{ "vni 5001 and outer src host 192.0.2.10 and tcp port 5432",
	  { { T_VNI, false, NULL, 5001 },
	    { T_OUTER, false, "src host 192.0.2.10", 0 },
	    { T_INNER, false, "tcp port 5432", 0 } }, 3 },
	{ "vlan", { { T_VLAN, false, NULL, -1 } }, 1 },
	{ "vlan 100 and host 10.0.0.1", { { T_VLAN, false, NULL, 100 },
					  { T_INNER, false, "host 10.0.0.1", 0 } }, 2 },
	{ "outer vlan 10", { { T_OVLAN, false, NULL, 10 } }, 1 },
	{ "not outer ip6 and tcp[13] & 2 != 0",
	  { { T_OUTER, true, "ip6", 0 }, { T_INNER, false, "tcp[13] & 2 != 0", 0 } }, 2 },
	{ "outer host 192.0.2.10 or 192.0.2.20",
	  { { T_OUTER, false, "host 192.0.2.10 or 192.0.2.20", 0 } }, 1 },
	{ "vni 5001 or 5002", { { T_VNI, false, NULL, 5001, 5002 } }, 1 },
	{ "vlan 100 or 200 and ip", { { T_VLAN, false, NULL, 100, 200 },
				       { T_INNER, false, "ip", 0, 0 } }, 2 },
	{ "outer ether host 02:00:00:00:00:01 and not vni 42",
	  { { T_OUTER, false, "ether host 02:00:00:00:00:01", 0 },
	    { T_VNI, true, NULL, 42 } }, 2 },
};
#define N_SCOPED (sizeof(scoped_exprs) / sizeof(scoped_exprs[0]))

struct hook_ctx {
	unsigned *calls, *tagged;
	unsigned n_slots;
};

struct hook {
	const struct bpf_insn *insns;
	struct hook_ctx *hc;
};
static struct hook hooks[512];
static unsigned n_hooks;

/* An exec hook: libpcap's interpreter, counting what it is given. */
static uint32_t hook_exec(void *ctx, const uint8_t *pkt, uint32_t caplen,
			  uint32_t wirelen)
{
	struct hook *h = ctx;

	(*h->hc->calls)++;
	if (caplen >= 14 && ((pkt[12] << 8 | pkt[13]) == 0x8100 ||
			     (pkt[12] << 8 | pkt[13]) == 0x88a8))
		(*h->hc->tagged)++;
	return bpf_filter(h->insns, pkt, wirelen, caplen);
}

static int install_hook(struct dpc_filter_bpf_slot *slot, void *arg)
{
	struct hook_ctx *hc = arg;

	if (n_hooks == sizeof(hooks) / sizeof(hooks[0]))
		return -1;
	hooks[n_hooks].insns = slot->insns;
	hooks[n_hooks].hc = hc;
	slot->exec = hook_exec;
	slot->ctx = &hooks[n_hooks++];
	hc->n_slots++;
	return 0;
}

static bool oracle(pcap_t *pd, const char *expr, const uint8_t *p,
		   uint32_t caplen, uint32_t wirelen)
{
	struct bpf_program prog;
	struct pcap_pkthdr h = { 0 };
	bool r;

	if (pcap_compile(pd, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		printf("# oracle cannot compile %s: %s\n", expr, pcap_geterr(pd));
		exit(2);
	}
	h.caplen = caplen;
	h.len = wirelen;
	r = pcap_offline_filter(&prog, &h, p) != 0;
	pcap_freecode(&prog);
	return r;
}

static bool scoped_expected(pcap_t *pd, const struct scoped *s,
			    const struct gen_frame *g)
{
	for (int i = 0; i < s->n; i++) {
		const struct term *t = &s->t[i];
		bool v = false;

		switch (t->k) {
		case T_INNER:
			v = oracle(pd, t->pcap, g->view, g->view_len, g->view_wirelen);
			break;
		case T_OUTER:
			v = oracle(pd, t->pcap, g->oview, g->oview_len,
				   g->oview_wirelen);
			break;
		case T_VXLAN:
			v = g->vxlan;
			break;
		case T_VNI:
			v = g->vxlan && (g->vni == (uint32_t)t->num ||
					 (t->num2 && g->vni == (uint32_t)t->num2));
			break;
		case T_VLAN:
			v = g->n_tags > 0 && (t->num < 0 || g->vid[0] == t->num ||
					      (g->n_tags > 1 && g->vid[1] == t->num) ||
					      (t->num2 && (g->vid[0] == t->num2 ||
							   (g->n_tags > 1 &&
							    g->vid[1] == t->num2))));
			break;
		case T_OVLAN:
			if (g->vxlan || g->n_otags)
				v = g->n_otags > 0 && (t->num < 0 || g->ovid[0] == t->num);
			else
				v = g->n_tags > 0 && (t->num < 0 || g->vid[0] == t->num ||
						      (g->n_tags > 1 && g->vid[1] == t->num));
			break;
		}
		if (t->neg)
			v = !v;
		if (!v)
			return false;
	}
	return true;
}

int main(void)
{
	static struct gen_frame g;
	struct dpc_filter *f[N_PLAIN + N_SCOPED];
	struct bpf_program prog[N_PLAIN];
	unsigned bad_plain[3][N_PLAIN] = { { 0 } }, bad_scoped[3][N_SCOPED] = { { 0 } };
	unsigned matched[N_PLAIN] = { 0 }, smatched[N_SCOPED] = { 0 };
	unsigned vx_mismatch = 0, total = 0, shown = 0;
	struct dpc_parse_opts opts;
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 262144);
	const char *mode_name[3] = { "plain", "vlan", "vxlan" };
	unsigned n_native = 0;

	dpc_parse_opts_init(&opts);
	for (unsigned i = 0; i < N_PLAIN + N_SCOPED; i++) {
		struct dpc_filter_error err;
		const char *e = i < N_PLAIN ? plain_exprs[i] : scoped_exprs[i - N_PLAIN].expr;

		f[i] = dpc_filter_compile(e, &err);
		CHECK(f[i] != NULL, "compile '%s'%s%s", e, f[i] ? "" : ": ",
		      f[i] ? "" : err.msg);
		if (f[i] == NULL)
			return dpc_test_done();
		n_native += dpc_filter_is_native(f[i]);
		if (i < N_PLAIN && pcap_compile(pd, &prog[i], e, 1,
						PCAP_NETMASK_UNKNOWN) != 0) {
			printf("# libpcap refuses %s\n", e);
			return 2;
		}
	}
	CHECK(n_native >= 40, "%u of %zu expressions evaluated natively", n_native,
	      N_PLAIN + N_SCOPED);

	for (int mode = 0; mode < 3; mode++) {
		for (unsigned n = 0; n < PER_MODE; n++) {
			struct dpc_key key;
			struct pcap_pkthdr h = { 0 };

			gen_frame(&g, (uint64_t)mode * 1000003u + n, mode);
			dpc_parse(&opts, g.b, g.len, g.wirelen, &key);
			total++;
			if (!!(key.flags & DPC_KEY_VXLAN) != g.vxlan)
				vx_mismatch++;
			h.caplen = g.view_len;
			h.len = g.view_wirelen;
			for (unsigned i = 0; i < N_PLAIN; i++) {
				bool want = pcap_offline_filter(&prog[i], &h, g.view) != 0;
				bool got = dpc_filter_match(f[i], &key, g.b, g.len);

				matched[i] += want;
				if (want != got) {
					bad_plain[mode][i]++;
					if (shown++ < 20)
						printf("# %s packet %u kind %d len %u/%u view %u: "
						       "'%s' dpcap %d libpcap %d\n",
						       mode_name[mode], n, g.kind, g.len,
						       g.wirelen, g.view_len, plain_exprs[i],
						       got, want);
				}
			}
			for (unsigned i = 0; i < N_SCOPED; i++) {
				bool want = scoped_expected(pd, &scoped_exprs[i], &g);
				bool got = dpc_filter_match(f[N_PLAIN + i], &key, g.b, g.len);

				smatched[i] += want;
				if (want != got) {
					bad_scoped[mode][i]++;
					if (shown++ < 20)
						printf("# %s packet %u kind %d: '%s' dpcap %d "
						       "expected %d\n", mode_name[mode], n,
						       g.kind, scoped_exprs[i].expr, got, want);
				}
			}
		}
	}
	CHECK_EQ(vx_mismatch, 0, "parser decapsulates exactly the generator's VXLAN "
		 "packets (%u packets)", total);
	for (unsigned i = 0; i < N_PLAIN; i++) {
		CHECK(bad_plain[0][i] + bad_plain[1][i] + bad_plain[2][i] == 0,
		      "'%s' == libpcap on %u packets (%u match; disagreements "
		      "plain %u vlan %u vxlan %u)", plain_exprs[i], total, matched[i],
		      bad_plain[0][i], bad_plain[1][i], bad_plain[2][i]);
	}
	for (unsigned i = 0; i < N_SCOPED; i++)
		CHECK(bad_scoped[0][i] + bad_scoped[1][i] + bad_scoped[2][i] == 0,
		      "'%s' == oracle on %u packets (%u match; disagreements "
		      "plain %u vlan %u vxlan %u)", scoped_exprs[i].expr, total,
		      smatched[i], bad_scoped[0][i], bad_scoped[1][i],
		      bad_scoped[2][i]);

	/* Classifier: random job sets, mask == individual verdicts. */
	{
		struct gen_rng r = { 12345 };
		unsigned bad = 0, sets = 0, pkts = 0;

		/* Jobs indexed on innermost IPv4 addresses only (the
		 * classifier's fast path). */
		static const char *const v4jobs[] = {
			"host 10.0.0.1", "src host 10.0.0.2", "host 10.0.0.1 and tcp port 80",
			"arp host 10.0.0.1", "host 10.0.0.1 or 10.0.1.5",
			"dst host 192.168.1.1 and udp", "net 10.0.0.2/32 and not port 22",
			"host 172.16.0.1 and (tcp[13] & 2 != 0)", "ip host 10.0.0.2 and less 200",
			"host 10.0.0.2 and src portrange 1-1024", "src host 10.0.0.1 and udp dst port 53",
			"dst host 10.0.0.1 and src and dst port 80", "host 10.0.0.1 and sctp port 5432",
		};
		struct dpc_filter *v4f[sizeof(v4jobs) / sizeof(v4jobs[0])];

		for (unsigned j = 0; j < sizeof(v4jobs) / sizeof(v4jobs[0]); j++)
			v4f[j] = dpc_filter_compile(v4jobs[j], NULL);
		for (int round = 0; round < 32; round++) {
			struct dpc_filter *jobs[DPC_CLASSIFIER_MAX];
			unsigned k = round < 4 ? (unsigned)(1 + round) :
				     1 + gen_below(&r, DPC_CLASSIFIER_MAX);
			struct dpc_classifier *c;

			if (round == 23 || round == 31)
				k = DPC_CLASSIFIER_MAX;
			for (unsigned j = 0; j < k; j++)
				jobs[j] = round < 24 ? f[gen_below(&r, N_PLAIN + N_SCOPED)] :
					  v4f[gen_below(&r, sizeof(v4f) / sizeof(v4f[0]))];
			c = dpc_classifier_build(jobs, k);
			if (c == NULL) {
				bad++;
				continue;
			}
			sets++;
			for (unsigned n = 0; n < 1500; n++) {
				struct dpc_key key;
				uint64_t want = 0, got;

				gen_frame(&g, 77777u + round * 7919u + n, -1);
				dpc_parse(&opts, g.b, g.len, g.wirelen, &key);
				for (unsigned j = 0; j < k; j++)
					if (dpc_filter_match(jobs[j], &key, g.b, g.len))
						want |= 1ull << j;
				got = dpc_classifier_match(c, &key, g.b, g.len);
				pkts++;
				if (got != want) {
					bad++;
					if (bad < 5)
						printf("# classifier k=%u packet %u: got %#llx "
						       "want %#llx\n", k, n,
						       (unsigned long long)got,
						       (unsigned long long)want);
				}
			}
			dpc_classifier_free(c);
		}
		CHECK_EQ(bad, 0, "classifier mask == individual verdicts (%u job sets, "
			 "%u packets)", sets, pkts);
		for (unsigned j = 0; j < sizeof(v4f) / sizeof(v4f[0]); j++)
			dpc_filter_free(v4f[j]);
		errno = 0;
		CHECK(dpc_classifier_build(f, DPC_CLASSIFIER_MAX + 1) == NULL &&
		      errno == EINVAL, "more than %d jobs refused with EINVAL",
		      DPC_CLASSIFIER_MAX);
	}
	/*
	 * The screen (dpc_classifier_screen, before any parse): whenever it
	 * says "no job wants this frame", the full path must agree on every
	 * count: dpc_parse() returns OK and every job's own verdict is false.
	 * Job sets drawn from indexable filters (addresses, ports, VNIs, both
	 * scopes) some of which the generator's traffic hits and some it
	 * almost never does, so both answers occur; plain, tagged, VXLAN and
	 * malformed frames (gen_frame's mode -1 mixes them, truncated ones too),
	 * a third with one or two header bytes overwritten.
	 */
	{
		static const char *const pool[] = {
			"host 10.9.9.9", "src host 10.0.0.1 and tcp port 80",
			"dst host 192.168.7.9", "port 9999",
			"udp dst port 5500 and host 10.0.0.2", "outer host 10.9.0.1",
			"outer dst port 7777", "vni 777", "vni 5001 and tcp port 5432",
			"host 2001:db8::99", "ip6 host 2001:db8::1 and port 443",
			"host 10.7.7.7 or host 10.8.8.8", "sctp port 5432 and host 172.16.0.1",
			"outer src host 10.0.0.1 and vni 42", "host 172.31.0.1 and not port 22",
			"tcp src port 12345", "(host 10.1.2.3 or port 1234) and tcp",
			"outer (host 10.0.0.5 and udp port 4789)", "dst port 53",
			"host 10.0.1.5 and (port 80 or port 443)",
		};
		enum { NPOOL = sizeof(pool) / sizeof(pool[0]) };
		struct dpc_filter *pf[NPOOL];
		struct gen_rng r = { 424242 };
		unsigned long bad = 0, screened = 0, frames = 0, sets = 0;
		unsigned long screened_vx = 0, screened_tag = 0, parse_bad = 0;
		struct dpc_classifier *c;

		for (unsigned j = 0; j < NPOOL; j++) {
			pf[j] = dpc_filter_compile(pool[j], NULL);
			if (pf[j] == NULL) {
				CHECK(0, "compile '%s'", pool[j]);
				return dpc_test_done();
			}
		}
		/* pool entries whose only index is an innermost IPv4 address:
		 * sets of these take the screen's shortest path */
		static const unsigned v4idx[] = { 0, 1, 2, 4, 11, 12, 14, 19 };
		enum { NV4 = sizeof(v4idx) / sizeof(v4idx[0]) };

		for (int round = 0; round < 60; round++) {
			struct dpc_filter *jobs[DPC_CLASSIFIER_MAX];
			unsigned k = round < (int)NPOOL ? 1 :
				     1 + gen_below(&r, DPC_CLASSIFIER_MAX);

			if (round < (int)NPOOL)
				jobs[0] = pf[round];
			else if (round < 40)
				for (unsigned j = 0; j < k; j++)
					jobs[j] = pf[gen_below(&r, NPOOL)];
			else
				for (unsigned j = 0; j < k; j++)
					jobs[j] = pf[v4idx[gen_below(&r, NV4)]];
			c = dpc_classifier_build(jobs, k);
			if (c == NULL) {
				bad++;
				continue;
			}
			sets++;
			for (unsigned n = 0; n < 1500; n++) {
				struct dpc_key key;
				uint64_t want = 0;
				bool scr;

				gen_frame(&g, 991u + (uint64_t)round * 104729u + n, -1);
				/* One frame in three gets one or two header bytes
				 * overwritten: every length, version and flag check
				 * the parser makes is then hit. */
				if (n % 3 == 0 && g.len > 12)
					for (unsigned x = 0; x <= n % 2; x++) {
						uint32_t span = n % 4 ? 100 : 56;

						g.b[12 + gen_below(&r, (g.len < span + 12 ?
									 g.len - 12 : span))] =
							(uint8_t)gen_next(&r);
					}
				scr = dpc_classifier_screen(c, &opts, g.b, g.len, g.wirelen);
				dpc_parse(&opts, g.b, g.len, g.wirelen, &key);
				for (unsigned j = 0; j < k; j++)
					if (dpc_filter_match(jobs[j], &key, g.b, g.len))
						want |= 1ull << j;
				frames++;
				if (!scr)
					continue;
				screened++;
				screened_vx += (key.flags & DPC_KEY_VXLAN) != 0;
				screened_tag += (key.outer.have & DPC_HAVE_VLAN) != 0;
				if (key.status != DPC_PARSE_OK)
					parse_bad++;
				if (key.status != DPC_PARSE_OK || want != 0 ||
				    dpc_classifier_match(c, &key, g.b, g.len) != 0) {
					bad++;
					if (bad < 5)
						printf("# screen round %d frame %u: status %d "
						       "want %#llx\n", round, n, key.status,
						       (unsigned long long)want);
				}
			}
			dpc_classifier_free(c);
		}
		CHECK(bad == 0 && screened > frames / 10 && screened < frames &&
		      screened_vx > 0 && screened_tag > 0,
		      "screen: %lu of %lu frames screened (%lu VXLAN, %lu tagged) over "
		      "%lu job sets; every one parses OK (%lu not) and is wanted by no "
		      "job (%lu wrong in all)", screened, frames, screened_vx,
		      screened_tag, sets, parse_bad, bad);
		/*
		 * Every header byte of 300 frames set in turn to 0, 0xff, +1,
		 * -1, its high bit flipped and a random value, under a v4-only
		 * job set (the short path) and a mixed one: no screened frame
		 * may parse other than OK or be wanted.
		 */
		{
			struct dpc_filter *jsets[2][4] = {
				{ pf[0], pf[2], pf[12], pf[19] },
				{ pf[3], pf[5], pf[7], pf[9] },
			};
			unsigned long tried = 0, sc = 0, wrong = 0;

			for (int si = 0; si < 2; si++) {
				c = dpc_classifier_build(jsets[si], 4);
				for (unsigned n = 0; c && n < 300; n++) {
					gen_frame(&g, 31337u + n, n % 3 == 2 ? 2 : (int)(n % 2));
					for (uint32_t pos = 12; pos < g.len && pos < 100; pos++) {
						uint8_t orig = g.b[pos];
						uint8_t vals[6] = { 0, 0xff, (uint8_t)(orig + 1),
								    (uint8_t)(orig - 1),
								    (uint8_t)(orig ^ 0x80),
								    (uint8_t)gen_next(&r) };

						for (int vi = 0; vi < 6; vi++) {
							struct dpc_key key;
							bool any;

							g.b[pos] = vals[vi];
							tried++;
							if (!dpc_classifier_screen(c, &opts, g.b, g.len,
										   g.wirelen))
								continue;
							sc++;
							dpc_parse(&opts, g.b, g.len, g.wirelen, &key);
							any = key.status != DPC_PARSE_OK;
							for (unsigned j = 0; j < 4 && !any; j++)
								any = dpc_filter_match(jsets[si][j], &key,
										       g.b, g.len);
							if (any && wrong++ < 5)
								printf("# screen byte %u = %#x of frame %u "
								       "(set %d): parse %d\n", pos,
								       vals[vi], n, si, key.status);
						}
						g.b[pos] = orig;
					}
				}
				dpc_classifier_free(c);
			}
			CHECK(wrong == 0 && sc > tried / 10,
			      "screen: %lu of %lu single-byte variants screened, none "
			      "wrongly (%lu)", sc, tried, wrong);
		}
		/* A job not indexed on an address, port or VNI turns it off. */
		{
			struct dpc_filter *lin[2] = { pf[0], dpc_filter_compile("tcp", NULL) };
			unsigned on = 0;

			c = lin[1] ? dpc_classifier_build(lin, 2) : NULL;
			for (unsigned n = 0; c && n < 500; n++) {
				gen_frame(&g, 555u + n, -1);
				on += dpc_classifier_screen(c, &opts, g.b, g.len, g.wirelen);
			}
			CHECK(c != NULL && on == 0,
			      "screen off when a job ('tcp') is not indexed (%u screened)", on);
			dpc_classifier_free(c);
			dpc_filter_free(lin[1]);
		}
		for (unsigned j = 0; j < NPOOL; j++)
			dpc_filter_free(pf[j]);
	}
	/*
	 * BPF hooks (the daemon's rte_bpf path): an exec installed on every
	 * slot is called instead of libpcap's interpreter, with the untagged
	 * view; verdicts do not change, and the view it sees never starts
	 * with a VLAN tag.
	 */
	{
		unsigned calls = 0, tagged = 0, changed = 0, slots = 0;
		struct hook_ctx hc = { &calls, &tagged, 0 };

		for (unsigned i = 0; i < N_PLAIN + N_SCOPED; i++) {
			hc.n_slots = 0;
			dpc_filter_bpf_foreach(f[i], install_hook, &hc);
			slots += hc.n_slots;
		}
		for (unsigned n = 0; n < 3000; n++) {
			struct dpc_key key;

			gen_frame(&g, 555555u + n, -1);
			dpc_parse(&opts, g.b, g.len, g.wirelen, &key);
			for (unsigned i = 0; i < N_PLAIN; i++) {
				struct pcap_pkthdr h = { 0 };
				bool want;

				h.caplen = g.view_len;
				h.len = g.view_wirelen;
				want = pcap_offline_filter(&prog[i], &h, g.view) != 0;
				changed += want != dpc_filter_match(f[i], &key, g.b, g.len);
			}
		}
		CHECK(slots > 0 && calls > 0, "exec hooks installed on %u BPF slots, "
		      "called %u times", slots, calls);
		CHECK_EQ(changed, 0, "verdicts with exec hooks == libpcap");
		CHECK_EQ(tagged, 0, "hooks never see a VLAN tag at the ethertype");
	}
	for (unsigned i = 0; i < N_PLAIN + N_SCOPED; i++)
		dpc_filter_free(f[i]);
	for (unsigned i = 0; i < N_PLAIN; i++)
		pcap_freecode(&prog[i]);
	pcap_close(pd);
	return dpc_test_done();
}
