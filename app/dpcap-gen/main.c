/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpcap-gen - writes deterministic pcap traffic for dpcap's tests and
 * benchmarks (profiles in gen_profiles.c, documented in docs/cli.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_config.h"
#include "gen.h"

static void usage(FILE *f)
{
	unsigned i;

	fprintf(f,
		"usage: dpcap-gen --profile NAME [-n N] [--seed S] -o FILE\n"
		"       dpcap-gen --list | --help | --version\n"
		"\n"
		"Writes deterministic traffic as a pcap file (nanosecond magic,\n"
		"Ethernet). The same profile, N and seed always give the same bytes.\n"
		"\n"
		"  -p, --profile NAME  traffic profile (see --list)\n"
		"  -n, --count N       frames to write; sample/malformed repeat their\n"
		"                      script up to N (default: the script once),\n"
		"                      small/imix/overlay default to 100000\n"
		"  -s, --seed S        PRNG seed (default 1)\n"
		"  -o, --output FILE   output file (created or truncated)\n"
		"  -l, --list          list the profiles\n"
		"  -h, --help          this text\n"
		"\n"
		"Profiles:\n");
	for (i = 0; i < gen_n_profiles; i++)
		fprintf(f, "  %-10s %s\n", gen_profiles[i].name,
			gen_profiles[i].summary);
	fprintf(f, "\nExit status: 0 written, 1 write error, 2 bad arguments.\n"
		"Details: docs/cli.md.\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] == '\0' || s[0] == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct gen_profile *prof = NULL;
	const char *pname = NULL, *out = NULL;
	uint64_t n = 0, seed = 1;
	bool have_n = false;
	struct gen_sink sink;
	unsigned i;
	int opt, rc;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":p:n:s:o:lh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'p':
			pname = optarg;
			break;
		case 'n':
			if (parse_u64(optarg, &n) != 0 || n == 0) {
				fprintf(stderr, "dpcap-gen: -n: '%s' is not a "
					"positive integer\n", optarg);
				return 2;
			}
			have_n = true;
			break;
		case 's':
			if (parse_u64(optarg, &seed) != 0) {
				fprintf(stderr, "dpcap-gen: --seed: '%s' is not "
					"an unsigned integer\n", optarg);
				return 2;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'l':
			for (i = 0; i < gen_n_profiles; i++)
				printf("%-10s %s\n", gen_profiles[i].name,
				       gen_profiles[i].summary);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dpcap-gen %s\n", DPCAP_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "dpcap-gen: option '%s' needs a value "
				"(see --help)\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "dpcap-gen: unknown option '%s' (see "
				"--help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dpcap-gen: unexpected argument '%s' (see "
			"--help)\n", argv[optind]);
		return 2;
	}
	if (pname == NULL) {
		fprintf(stderr, "dpcap-gen: --profile is required (see --list)\n");
		return 2;
	}
	for (i = 0; i < gen_n_profiles; i++)
		if (strcmp(gen_profiles[i].name, pname) == 0)
			prof = &gen_profiles[i];
	if (prof == NULL) {
		fprintf(stderr, "dpcap-gen: unknown profile '%s' (see --list)\n",
			pname);
		return 2;
	}
	if (out == NULL) {
		fprintf(stderr, "dpcap-gen: -o FILE is required\n");
		return 2;
	}
	if (!have_n)
		n = prof->default_n;
	rc = gen_sink_open(&sink, out, have_n ? n : 0);
	if (rc != 0) {
		fprintf(stderr, "dpcap-gen: %s: %s\n", out, strerror(-rc));
		return 1;
	}
	prof->run(&sink, n, seed);
	n = sink.frames;
	rc = gen_sink_close(&sink);
	if (rc != 0) {
		fprintf(stderr, "dpcap-gen: %s: write failed: %s\n", out,
			strerror(-rc));
		return 1;
	}
	fprintf(stderr, "dpcap-gen: %s: %" PRIu64 " frames (profile %s, seed %"
		PRIu64 ")\n", out, n, prof->name, seed);
	return 0;
}
