/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_triage.c - `dpcap triage`: a per-layer incident report from pcap,
 * pcapng files and dpcap job directories (lib/triage; docs/triage.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcap/pcap.h>

#include "cmds.h"
#include "dpc_parse.h"
#include "dpc_triage.h"
#ifdef DPC_HAVE_FILTER
#include "dpc_filter.h"
#endif

#define ME "dpcap triage"
#define MAX_INPUTS 1024

static void triage_usage(FILE *f)
{
	fprintf(f,
"usage: dpcap triage [-r] FILE|DIR... [EXPR...] [--mtu N] [--json]\n"
"                    [--html OUT] [--vxlan-port P]... [--flows N] [--top N]\n"
"\n"
"Reads pcap/pcapng files (Ethernet) and dpcap job directories (the files\n"
"their manifest.json lists, in order), sees through VXLAN, and reports per\n"
"layer - link, internet, transport, application - ending in a verdict:\n"
"findings, most serious first, each one sentence with the packet numbers\n"
"(counted over all inputs in order) and the layer it points to.\n"
"Arguments that name an existing file or directory are inputs; the words\n"
"after them form EXPR, a filter applied before the analysis (tcpdump's\n"
"language%s).\n"
"\n"
"  -r FILE        an input (also accepted without -r)\n"
"  --mtu N        IP MTU of the links and of the VXLAN underlay (1500)\n"
"  --json         print the report as JSON (schema: docs/triage.md)\n"
"  --html OUT     also write the report as one self-contained HTML page\n"
"  --vxlan-port P also decapsulate VXLAN on UDP port P (4789 always)\n"
"  --flows N      flow table cap (65536); more live flows evict the oldest\n"
"  --top N        rows in the top-N tables (10)\n"
"\n"
"Exit status: 0 report written; 1 an input cannot be read or the output\n"
"cannot be written; 2 usage error; 3 report written but an input is\n"
"damaged (truncated mid-record): the report covers the packets before.\n",
#ifdef DPC_HAVE_FILTER
		" plus outer, vxlan and vni N: docs/filters.md"
#else
		", evaluated by libpcap on the outer frame"
#endif
		);
}

static int num_arg(const char *opt, const char *s, unsigned long lo,
		   unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi || s[0] == '-') {
		fprintf(stderr, ME ": %s: '%s' is not a number in %lu..%lu\n", opt, s,
			lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

#ifdef DPC_HAVE_FILTER
static bool match_filter(void *ctx, const struct dpc_key *key,
			 const uint8_t *frame, uint32_t caplen)
{
	return dpc_filter_match(ctx, key, frame, caplen);
}
#else
struct bpf_ctx {
	struct bpf_program prog;
};

static bool match_bpf(void *ctx, const struct dpc_key *key,
		      const uint8_t *frame, uint32_t caplen)
{
	struct bpf_ctx *b = ctx;
	struct pcap_pkthdr h;

	memset(&h, 0, sizeof(h));
	h.caplen = caplen;
	h.len = key->wirelen;
	return pcap_offline_filter(&b->prog, &h, frame) != 0;
}
#endif

int dpc_cmd_triage(int argc, char **argv)
{
	struct dpc_triage_opts opts;
	struct dpc_triage *t = NULL;
	const char *inputs[MAX_INPUTS];
	size_t n_in = 0, elen = 0;
	char *expr = NULL;
	const char *html = NULL;
	bool json = false, damaged = false;
	int rc = DPC_EXIT_USAGE;
	unsigned long v;
#ifdef DPC_HAVE_FILTER
	struct dpc_filter *flt = NULL;
#else
	struct bpf_ctx bpf;
	bool have_bpf = false;
#endif

	dpc_triage_opts_init(&opts);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		struct stat st;

#define OPTVAL(name)                                                          \
	(strcmp(a, name) == 0 ? (i + 1 < argc ? (val = argv[++i]) : NULL)     \
	 : (strncmp(a, name "=", sizeof(name)) == 0 ? (val = a + sizeof(name)) : NULL))
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			triage_usage(stdout);
			rc = DPC_EXIT_OK;
			goto out;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-r") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, ME ": -r needs a file\n");
				goto out;
			}
			if (n_in == MAX_INPUTS) {
				fprintf(stderr, ME ": more than %d inputs\n", MAX_INPUTS);
				goto out;
			}
			inputs[n_in++] = argv[++i];
		} else if (strcmp(a, "--mtu") == 0 || strncmp(a, "--mtu=", 6) == 0) {
			if (OPTVAL("--mtu") == NULL) {
				fprintf(stderr, ME ": --mtu needs a value\n");
				goto out;
			}
			if (num_arg("--mtu", val, 68, 65535, &v) != 0)
				goto out;
			opts.mtu = (uint32_t)v;
		} else if (strcmp(a, "--flows") == 0 || strncmp(a, "--flows=", 8) == 0) {
			if (OPTVAL("--flows") == NULL) {
				fprintf(stderr, ME ": --flows needs a value\n");
				goto out;
			}
			if (num_arg("--flows", val, 16, 16u << 20, &v) != 0)
				goto out;
			opts.max_flows = (uint32_t)v;
		} else if (strcmp(a, "--top") == 0 || strncmp(a, "--top=", 6) == 0) {
			if (OPTVAL("--top") == NULL) {
				fprintf(stderr, ME ": --top needs a value\n");
				goto out;
			}
			if (num_arg("--top", val, 1, 1000, &v) != 0)
				goto out;
			opts.top_n = (uint32_t)v;
		} else if (strcmp(a, "--vxlan-port") == 0 ||
			   strncmp(a, "--vxlan-port=", 13) == 0) {
			int e;

			if (OPTVAL("--vxlan-port") == NULL) {
				fprintf(stderr, ME ": --vxlan-port needs a value\n");
				goto out;
			}
			if (num_arg("--vxlan-port", val, 1, 65535, &v) != 0)
				goto out;
			e = dpc_parse_opts_add_vxlan_port(&opts.parse, (uint16_t)v);
			if (e != 0 && e != -EEXIST) {
				fprintf(stderr, ME ": --vxlan-port %lu: %s\n", v, strerror(-e));
				goto out;
			}
		} else if (strcmp(a, "--html") == 0 || strncmp(a, "--html=", 7) == 0) {
			if (OPTVAL("--html") == NULL || val[0] == 0) {
				fprintf(stderr, ME ": --html needs a file name\n");
				goto out;
			}
			html = val;
		} else if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				size_t l = strlen(argv[i]);
				char *ne = realloc(expr, elen + l + 2);

				if (ne == NULL)
					goto nomem;
				expr = ne;
				if (elen)
					expr[elen++] = ' ';
				memcpy(expr + elen, argv[i], l + 1);
				elen += l;
			}
		} else if (a[0] == '-' && a[1] != 0 && expr == NULL) {
			fprintf(stderr, ME ": unknown option '%s' (see --help)\n", a);
			goto out;
		} else if (expr == NULL && stat(a, &st) == 0) {
			if (n_in == MAX_INPUTS) {
				fprintf(stderr, ME ": more than %d inputs\n", MAX_INPUTS);
				goto out;
			}
			inputs[n_in++] = a;
		} else {
			size_t l = strlen(a);
			char *ne;

			if (expr == NULL && n_in == 0) {
				fprintf(stderr, ME ": %s: %s\n", a, strerror(errno));
				rc = DPC_EXIT_FAIL;
				goto out;
			}
			ne = realloc(expr, elen + l + 2);
			if (ne == NULL)
				goto nomem;
			expr = ne;
			if (elen)
				expr[elen++] = ' ';
			memcpy(expr + elen, a, l + 1);
			elen += l;
		}
#undef OPTVAL
	}
	if (n_in == 0) {
		fprintf(stderr, ME ": no input file (see --help)\n");
		goto out;
	}
	if (expr != NULL) {
#ifdef DPC_HAVE_FILTER
		struct dpc_filter_error ferr;

		flt = dpc_filter_compile(expr, &ferr);
		if (flt == NULL) {
			fprintf(stderr, ME ": filter: %s\n", errno == ENOMEM ?
				strerror(ENOMEM) : ferr.msg);
			goto out;
		}
		opts.match = match_filter;
		opts.match_ctx = flt;
#else
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);

		if (dead == NULL)
			goto nomem;
		if (pcap_compile(dead, &bpf.prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			fprintf(stderr, ME ": filter: %s\n", pcap_geterr(dead));
			pcap_close(dead);
			goto out;
		}
		pcap_close(dead);
		have_bpf = true;
		opts.match = match_bpf;
		opts.match_ctx = &bpf;
#endif
	}
	t = dpc_triage_new(&opts);
	if (t == NULL)
		goto nomem;
	for (size_t i = 0; i < n_in; i++) {
		char err[512] = "";
		int e = dpc_triage_read_path(t, inputs[i], err, sizeof(err));

		if (e != 0) {
			fprintf(stderr, ME ": %s\n", err[0] ? err : strerror(-e));
			rc = DPC_EXIT_FAIL;
			goto out;
		}
	}
	dpc_triage_finish(t);
	{
		size_t n;
		const struct dpc_triage_finding *f = dpc_triage_findings(t, &n);

		for (size_t i = 0; i < n; i++)
			if (strcmp(f[i].code, "capture_damaged") == 0)
				damaged = true;
	}
	if ((json ? dpc_triage_write_json(t, stdout) : dpc_triage_write_text(t, stdout)) != 0) {
		fprintf(stderr, ME ": writing the report: %s\n", strerror(errno));
		rc = DPC_EXIT_FAIL;
		goto out;
	}
	if (html != NULL) {
		FILE *hf = fopen(html, "w");
		int e;

		if (hf == NULL) {
			fprintf(stderr, ME ": %s: %s\n", html, strerror(errno));
			rc = DPC_EXIT_FAIL;
			goto out;
		}
		e = dpc_triage_write_html(t, hf);
		if (fclose(hf) != 0 || e != 0) {
			fprintf(stderr, ME ": %s: write failed\n", html);
			rc = DPC_EXIT_FAIL;
			goto out;
		}
	}
	rc = damaged ? DPC_EXIT_PARTIAL : DPC_EXIT_OK;
	goto out;
nomem:
	fprintf(stderr, ME ": %s\n", strerror(ENOMEM));
	rc = DPC_EXIT_FAIL;
out:
	dpc_triage_free(t);
#ifdef DPC_HAVE_FILTER
	dpc_filter_free(flt);
#else
	if (have_bpf)
		pcap_freecode(&bpf.prog);
#endif
	free(expr);
	return rc;
}
