/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpcapd - the dpcap capture daemon (DPDK primary process).
 *
 *   dpcapd [EAL args] -- --config FILE [--check]
 *
 * Loads the config (docs/config.md), brings up the datapath, starts the
 * config's "jobs", serves the control socket when built with it, and runs
 * the control loop until SIGTERM/SIGINT (or exit_when_done/exit_idle_ms):
 * then every job is stopped, every block flushed, every file finalized,
 * and the exit status is 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "config.h"
#include "dpc_config.h"
#include "dpc_dp.h"
#ifdef DPCAPD_HAVE_CONTROL
#include "control.h"
#endif

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: dpcapd [EAL options] -- --config FILE [--check] [--stats-out FILE]\n"
"                                 [--calibrate MS [--calibrate-bpf FILTER]]\n"
"       dpcapd --help | --version\n"
"\n"
"dpcap's capture daemon: DPDK workers poll the configured ports, keep the\n"
"packets running capture jobs ask for, and write bounded pcap files under\n"
"the capture root. Jobs come from the config (\"jobs\": [...]) and, when the\n"
"control socket is configured, from `dpcap start` (docs/control-protocol.md).\n"
"\n"
"options (after --):\n"
"  --config FILE   JSON config; every key is in docs/config.md\n"
"  --check         load and validate the config (no EAL), say so, exit\n"
"  --stats-out FILE  at exit, once every job is final, write stats.get's\n"
"                  JSON (counters of ports, workers, jobs) to FILE\n"
"  --calibrate MS  measurement mode: each worker alternates MS-long slots\n"
"                  of its loop and of a bare rx loop on the same queue and\n"
"                  core, and stats.get shows both rates and their ratio\n"
"                  (workers[].calibrate). The bare slots' packets reach no\n"
"                  job (counted \"calibration\"): not for a real capture.\n"
"                  1..10000; meaningful with the queue never empty\n"
"  --calibrate-bpf FILTER  with --calibrate: a third, \"peer\" slot runs the\n"
"                  bare loop plus FILTER (tcpdump syntax, compiled by\n"
"                  libpcap, JIT-compiled by DPDK's rte_bpf) on every packet:\n"
"                  what one dpdk-pdump filter costs, as a second reference\n"
"                  (workers[].calibrate.peer)\n"
"  --help          this text\n"
"  --version       print the version\n"
"\n"
"EAL options (before --), e.g. on a box without a NIC:\n"
"  -l 0-1 --no-huge -m 1024 --no-pci --file-prefix dpcapd\n"
"The main lcore runs the control loop; each rx queue needs its own worker\n"
"lcore. Ports are given in the config (PCI address or vdev string).\n"
"\n"
"SIGTERM/SIGINT: stop every job, flush, finalize files, exit 0.\n"
"Exit status: 0 clean shutdown; 1 start-up failure (EAL, ports, memory)\n"
"or a config job that could not start; 2 bad usage or config.\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A config job whose directory already holds files (a restart) writes to
 * "<name>.1", "<name>.2", ...: captures are never overwritten. */
static int start_config_job(struct dpc_dp *dp, const struct dpc_job_spec *spec)
{
	struct dpc_job_spec s = *spec;
	char err[512];
	uint64_t id;
	int rc, n;

	for (n = 0; n < 1000; n++) {
		if (n) {
			char name[sizeof(s.name) + 8];

			snprintf(name, sizeof(name), "%s.%d", spec->name, n);
			if (!dpc_job_name_valid(name))
				break;
			memcpy(s.name, name, strlen(name) + 1);
		}
		rc = dpc_dp_job_start(dp, &s, &id, err, sizeof(err));
		if (rc != -EEXIST || strstr(err, "is active"))
			break;
	}
	if (rc) {
		fprintf(stderr, "dpcapd: job \"%s\": %s\n", spec->name, err);
		return rc;
	}
	if (n)
		fprintf(stderr, "dpcapd: job \"%s\": directory holds an earlier capture, writing to \"%s\"\n",
			spec->name, s.name);
	return 0;
}

int main(int argc, char **argv)
{
	struct dpcapd_config cfg;
	const char *config_path = NULL, *stats_out = NULL;
	uint32_t calibrate_ms = 0;
	const char *calibrate_bpf = NULL;
	bool check = false;
	char err[1024] = "";
	struct dpc_dp *dp;
	int i, dash = -1, rc, status = 0;
	unsigned started = 0;
#ifdef DPCAPD_HAVE_CONTROL
	struct dpcapd_control *ctl = NULL;
#endif

	/* our options are after "--"; --help/--version work without EAL */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dash = i;
			break;
		}
	for (i = dash < 0 ? 1 : dash + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("dpcapd %s\n", DPCAP_VERSION);
			return 0;
		} else if (dash < 0) {
			continue;  /* EAL's */
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config_path = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			config_path = argv[i] + 9;
		} else if (!strcmp(argv[i], "--stats-out") && i + 1 < argc) {
			stats_out = argv[++i];
		} else if (!strcmp(argv[i], "--calibrate") && i + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);

			if (*end || v < 1 || v > 10000) {
				fprintf(stderr, "dpcapd: --calibrate: must be 1..10000 ms, got \"%s\"\n",
					argv[i]);
				return 2;
			}
			calibrate_ms = (uint32_t)v;
		} else if (!strcmp(argv[i], "--calibrate-bpf") && i + 1 < argc) {
			calibrate_bpf = argv[++i];
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else {
			fprintf(stderr, "dpcapd: unknown option \"%s\" (see dpcapd --help)\n", argv[i]);
			return 2;
		}
	}
	if (calibrate_bpf) {
		/* refuse a bad filter here, with libpcap's reason, before EAL */
		if (!calibrate_ms) {
			fprintf(stderr, "dpcapd: --calibrate-bpf needs --calibrate MS\n");
			return 2;
		}
		if (dpc_dp_calibrate_bpf_check(calibrate_bpf, err, sizeof(err)) != 0) {
			fprintf(stderr, "dpcapd: --calibrate-bpf %s\n", err);
			return 2;
		}
	}
	if (!config_path) {
		fprintf(stderr, "dpcapd: --config FILE is required (after --; see dpcapd --help)\n");
		return 2;
	}
	rc = dpcapd_config_load(config_path, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "dpcapd: config %s: %s\n", config_path, err);
		return 2;
	}
	cfg.dp.calibrate_ms = calibrate_ms;
	cfg.dp.calibrate_bpf = calibrate_bpf;
	if (calibrate_ms && calibrate_bpf)
		fprintf(stderr, "dpcapd: calibrate mode: workers rotate %u ms slots of "
			"their loop, a bare rx loop and the bare loop running \"%s\" "
			"(rte_bpf JIT); the bare and peer slots' packets reach no job\n",
			calibrate_ms, calibrate_bpf);
	else if (calibrate_ms)
		fprintf(stderr, "dpcapd: calibrate mode: workers alternate %u ms slots of "
			"their loop and a bare rx loop; the bare slots' packets reach no job\n",
			calibrate_ms);
	if (check) {
		printf("dpcapd: config %s is valid: %u port(s), %u job(s)\n", config_path,
		       cfg.dp.n_ports, cfg.n_jobs);
		dpcapd_config_free(&cfg);
		return 0;
	}

	rc = rte_eal_init(dash < 0 ? argc : dash, argv);
	if (rc < 0) {
		fprintf(stderr, "dpcapd: EAL init failed: %s\n", strerror(rte_errno));
		dpcapd_config_free(&cfg);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	dp = dpc_dp_create(&cfg.dp, err, sizeof(err));
	if (!dp) {
		fprintf(stderr, "dpcapd: %s\n", err);
		dpcapd_config_free(&cfg);
		rte_eal_cleanup();
		return 1;
	}
	for (i = 0; i < (int)cfg.n_jobs; i++) {
		if (start_config_job(dp, &cfg.jobs[i]) == 0)
			started++;
		else
			status = 1;  /* reported; the daemon still serves the rest */
	}
	if (dpc_dp_start(dp, err, sizeof(err)) != 0) {
		fprintf(stderr, "dpcapd: %s\n", err);
		status = 1;
		goto out;
	}
#ifdef DPCAPD_HAVE_CONTROL
	if (cfg.control) {
		ctl = dpcapd_control_open(dp, cfg.control, err, sizeof(err));
		if (!ctl) {
			fprintf(stderr, "dpcapd: control: %s\n", err);
			status = 1;
			goto out;
		}
	}
#else
	if (cfg.control)
		fprintf(stderr, "dpcapd: \"control\" is configured but this dpcapd was built without the control socket; running config jobs only\n");
#endif
	fprintf(stderr, "dpcapd: running (%u port(s), %u job(s) from the config)\n",
		cfg.dp.n_ports, started);
	{
		uint64_t last_rx = dpc_dp_rx_total(dp), last_change = now_ns();
		bool idle_fired = false;

		for (;;) {
			int active = dpc_dp_service(dp);
			uint64_t t = now_ns(), rx;

			if (stop_signal)
				break;
			if (cfg.exit_idle_ms) {
				rx = dpc_dp_rx_total(dp);
				if (rx != last_rx) {
					last_rx = rx;
					last_change = t;
				} else if (!idle_fired &&
					   t - last_change >= (uint64_t)cfg.exit_idle_ms * 1000000ull) {
					fprintf(stderr, "dpcapd: no packet for %u ms: stopping\n",
						cfg.exit_idle_ms);
					dpc_dp_job_stop_all(dp, DPC_JOB_REASON_IDLE);
					idle_fired = true;
				}
				if (idle_fired && active == 0)
					break;
			}
			/* with a control socket, wait for a first job from it */
			if (cfg.exit_when_done && active == 0 &&
			    (started || !cfg.control || dpc_dp_jobs_started(dp)))
				break;
#ifdef DPCAPD_HAVE_CONTROL
			if (ctl) {
				dpcapd_control_poll(ctl, 50);
				continue;
			}
#endif
			{
				struct timespec sl = { 0, 10000000 };

				nanosleep(&sl, NULL);
			}
		}
	}
	if (stop_signal)
		fprintf(stderr, "dpcapd: signal %d: stopping jobs, finalizing files\n",
			(int)stop_signal);
	/* end every job and let its files become final before the last stats */
	dpc_dp_job_stop_all(dp, DPC_JOB_REASON_SHUTDOWN);
	while (dpc_dp_service(dp) > 0) {
		struct timespec sl = { 0, 1000000 };

		nanosleep(&sl, NULL);
	}
	dpc_dp_stop_workers(dp);
	if (stats_out) {
		json_t *st = NULL;

		if (dpc_dp_stats(dp, &st) == 0) {
			if (json_dump_file(st, stats_out, JSON_INDENT(1)) != 0)
				fprintf(stderr, "dpcapd: cannot write %s\n", stats_out);
			json_decref(st);
		}
	}
out:
#ifdef DPCAPD_HAVE_CONTROL
	dpcapd_control_close(ctl);
#endif
	rc = dpc_dp_destroy(dp);
	if (rc)
		fprintf(stderr, "dpcapd: while finalizing: %s\n", strerror(-rc));
	dpcapd_config_free(&cfg);
	rte_eal_cleanup();
	fprintf(stderr, "dpcapd: exit\n");
	return status;
}
