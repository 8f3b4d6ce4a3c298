/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpcap - the command a person types: offline tools (filter, triage) and
 * the daemon client (start, stop, status, ...). This file only dispatches;
 * each subcommand lives in its cmd_*.c (see cmds.h).
 */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "dpc_config.h"

struct dpc_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);   /* NULL: not part of this build */
	const char *summary;
};

#ifdef DPC_HAVE_CMD_FILTER
#define FILTER_FN dpc_cmd_filter
#else
#define FILTER_FN NULL
#endif
#ifdef DPC_HAVE_CMD_TRIAGE
#define TRIAGE_FN dpc_cmd_triage
#else
#define TRIAGE_FN NULL
#endif
#ifdef DPC_HAVE_CMD_CTL
#define CTL_FN dpc_cmd_ctl
#else
#define CTL_FN NULL
#endif

static const struct dpc_cmd cmds[] = {
	{ "filter", FILTER_FN,
	  "filter a pcap/pcapng file into bounded pcap output (offline)" },
	{ "triage", TRIAGE_FN, "per-layer report of a capture file (offline)" },
	{ "start", CTL_FN, "start a capture job on the daemon" },
	{ "stop", CTL_FN, "stop a capture job" },
	{ "status", CTL_FN, "show one job's state, counters and files" },
	{ "list", CTL_FN, "list capture jobs" },
	{ "stats", CTL_FN, "ports, queues, workers, drops, disk" },
	{ "info", CTL_FN, "daemon version, ports, lcores, configuration" },
	{ "wait", CTL_FN, "wait for a job to finish; exit status says how" },
	{ "watch", CTL_FN, "live progress of jobs" },
	{ "validate", CTL_FN, "check a job spec and filter without starting it" },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: dpcap COMMAND [ARGS...]\n"
		"       dpcap help COMMAND | --help | --version\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-9s %s%s\n", cmds[i].name, cmds[i].summary,
			cmds[i].fn ? "" : " [not in this build]");
	fprintf(f,
		"\n"
		"`dpcap COMMAND --help` (or `dpcap help COMMAND`) describes one.\n"
		"\n"
		"Exit status: 0 success; 1 runtime failure (unreadable input,\n"
		"write error, daemon unreachable); 2 usage error (bad arguments,\n"
		"bad filter, command not part of this build); 3 input damaged\n"
		"mid-file (output valid up to the damage); `wait` documents its\n"
		"own. Details: docs/cli.md.\n");
}

static const struct dpc_cmd *find(const char *name)
{
	size_t i;

	for (i = 0; i < N_CMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static int run(const struct dpc_cmd *c, int argc, char **argv)
{
	if (c->fn == NULL) {
		fprintf(stderr, "dpcap: '%s' is not part of this build\n",
			c->name);
		return DPC_EXIT_USAGE;
	}
	fflush(stdout);
	return c->fn(argc, argv);
}

int main(int argc, char **argv)
{
	const struct dpc_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return DPC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return DPC_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("dpcap %s\n", DPCAP_VERSION);
		return DPC_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		char *hargv[3];

		if (argc < 3) {
			usage(stdout);
			return DPC_EXIT_OK;
		}
		if (argc > 3) {
			fprintf(stderr, "dpcap: help takes one command name\n");
			return DPC_EXIT_USAGE;
		}
		c = find(argv[2]);
		if (c == NULL) {
			fprintf(stderr, "dpcap: unknown command '%s' (see dpcap "
				"--help)\n", argv[2]);
			return DPC_EXIT_USAGE;
		}
		hargv[0] = argv[2];
		hargv[1] = (char *)"--help";
		hargv[2] = NULL;
		return run(c, 2, hargv);
	}
	c = find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "dpcap: unknown command '%s' (see dpcap --help)\n",
			argv[1]);
		return DPC_EXIT_USAGE;
	}
	return run(c, argc - 1, argv + 1);
}
