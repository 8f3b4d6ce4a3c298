/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmds.h - the subcommands of the dpcap CLI (app/dpcap/main.c dispatches).
 *
 * Each subcommand is `int dpc_cmd_X(int argc, char **argv)` with argv[0]
 * the subcommand's own name (e.g. "filter", "start") and argv[1..] its
 * arguments; it returns the process exit status (DPC_EXIT_*, or a status
 * of its own documented in docs/cli.md). getopt users must reset optind
 * (set it to 0 for glibc's full re-initialisation) before parsing.
 *
 * A file that is not part of a build (cmd_triage.c, cmd_ctl.c) leaves its
 * DPC_HAVE_CMD_* undefined; main.c then answers "not part of this build".
 */
#ifndef DPC_CMDS_H
#define DPC_CMDS_H

/* Exit statuses shared by every subcommand (docs/cli.md). */
#define DPC_EXIT_OK      0   /**< done */
#define DPC_EXIT_FAIL    1   /**< runtime failure: unreadable input, write error, ... */
#define DPC_EXIT_USAGE   2   /**< bad arguments, bad filter, command not built */
#define DPC_EXIT_PARTIAL 3   /**< input damaged mid-file: output valid up to there */

/** Offline filter: dpcap filter -r IN -w OUT [...] [EXPR] (cmd_filter.c). */
int dpc_cmd_filter(int argc, char **argv);

/** Offline per-layer report: dpcap triage IN (cmd_triage.c). */
int dpc_cmd_triage(int argc, char **argv);

/**
 * Daemon client: argv[0] is one of start stop status list stats info wait
 * watch validate (cmd_ctl.c).
 */
int dpc_cmd_ctl(int argc, char **argv);

#endif /* DPC_CMDS_H */
