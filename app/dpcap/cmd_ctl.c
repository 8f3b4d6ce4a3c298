/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_ctl.c - dpcap's daemon client: start, stop, status, list, stats,
 * info, validate, wait, watch. Speaks JSON-RPC 2.0 lines to dpcapd's
 * control socket (docs/control-protocol.md); prints tables for people and
 * the daemon's JSON with --json. Exit statuses: docs/control-protocol.md
 * "The dpcap client".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cmds.h"

#define DEFAULT_SOCKET "/run/dpcap/dpcapd.sock"
#define CALL_TIMEOUT_MS 30000

/* Exit statuses of the client commands (besides DPC_EXIT_OK/FAIL/USAGE). */
#define EXIT_REFUSED  4   /* the daemon refused: access, no such job, exists, capacity */
#define EXIT_STOPPED  5   /* wait/watch: the job ended "stopped" */
#define EXIT_FAILED   6   /* wait/watch: the job ended "failed" */
#define EXIT_TIMEOUT  7   /* wait: --timeout passed first */

struct client {
	const char *socket;
	bool json;
	int fd;
	char *buf;
	size_t len, cap;
	json_int_t next_id;
	json_t *notes;            /* notifications read while waiting for a reply */
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- connection ---- */

static int cl_connect(struct client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dpcap: socket path too long: %s\n", c->socket);
		return DPC_EXIT_USAGE;
	}
	strcpy(sa.sun_path, c->socket);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "dpcap: cannot connect to %s: %s (is dpcapd "
			"running? see --socket and DPCAP_SOCKET)\n", c->socket,
			strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return DPC_EXIT_FAIL;
	}
	c->notes = json_array();
	c->next_id = 1;
	return 0;
}

static void cl_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	json_decref(c->notes);
	c->notes = NULL;
}

/*
 * Next JSON line from the daemon, waiting at most timeout_ms (-1 forever).
 * NULL on timeout (*why = ETIMEDOUT), EOF (EPIPE), interruption (EINTR)
 * or garbage (EPROTO).
 */
static json_t *cl_read(struct client *c, int timeout_ms, int *why)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		struct timespec t1;
		int left = -1, r;
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - c->buf);
			json_t *j = json_loadb(c->buf, l, 0, NULL);

			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			if (j == NULL)
				*why = EPROTO;
			return j;
		}
		if (interrupted) {
			*why = EINTR;
			return NULL;
		}
		if (timeout_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			left = timeout_ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
						  (t1.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0) {
				*why = ETIMEDOUT;
				return NULL;
			}
		}
		/* wake up regularly to notice Ctrl-C */
		r = poll(&p, 1, left < 0 || left > 200 ? 200 : left);
		if (r <= 0)
			continue;
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 131072;
			char *b = realloc(c->buf, cap);

			if (b == NULL) {
				*why = ENOMEM;
				return NULL;
			}
			c->buf = b;
			c->cap = cap;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			*why = EPIPE;
			return NULL;
		}
		c->len += (size_t)n;
	}
}

static int exit_for_code(json_int_t code)
{
	switch (code) {
	case -32602:          /* invalid params */
	case -32011:          /* filter */
		return DPC_EXIT_USAGE;
	case -32001:          /* denied */
	case -32002:          /* read-only */
	case -32003:          /* busy */
	case -32010:          /* no job */
	case -32012:          /* exists */
	case -32013:          /* path */
	case -32014:          /* capacity */
	case -32015:          /* ended */
		return EXIT_REFUSED;
	default:
		return DPC_EXIT_FAIL;
	}
}

/* Print a daemon error for people (or as JSON); returns the exit status. */
static int print_error(struct client *c, json_t *error, const char *expr)
{
	json_t *data = json_object_get(error, "data");
	const char *msg = json_string_value(json_object_get(error, "message"));
	const char *field = json_string_value(json_object_get(data, "field"));
	const char *reason = json_string_value(json_object_get(data, "reason"));
	json_int_t code = json_integer_value(json_object_get(error, "code"));
	json_int_t column = json_integer_value(json_object_get(data, "column"));

	if (c->json) {
		json_t *o = json_pack("{s:O}", "error", error);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	}
	fprintf(stderr, "dpcap: %s (%lld)%s%s: %s\n", msg ? msg : "error",
		(long long)code, field ? " in " : "", field ? field : "",
		reason ? reason : "");
	if (code == -32015 && json_string_value(json_object_get(data, "state")))
		fprintf(stderr, "  the job is %s (%s)\n",
			json_string_value(json_object_get(data, "state")),
			json_string_value(json_object_get(data, "job_reason")) ?
			json_string_value(json_object_get(data, "job_reason")) : "");
	if (code == -32011 && expr && column > 0 &&
	    (size_t)column <= strlen(expr) + 1)
		fprintf(stderr, "  %s\n  %*s^\n", expr, (int)column - 1, "");
	return exit_for_code(code);
}

/*
 * Call a method; params is stolen. On success *result gets the result (new
 * ref) and 0 is returned; on error it is printed and the exit status
 * returned. Notifications read meanwhile are kept in c->notes.
 */
static int cl_call_t(struct client *c, const char *method, json_t *params,
		     json_t **result, const char *expr, int timeout_ms)
{
	json_int_t id = c->next_id++;
	json_t *req = json_pack("{s:s, s:s, s:o, s:I}", "jsonrpc", "2.0",
				"method", method, "params",
				params ? params : json_object(), "id", id);
	char *s = req ? json_dumps(req, JSON_COMPACT) : NULL;
	size_t n, off = 0;
	int why = 0;

	json_decref(req);
	*result = NULL;
	if (s == NULL) {
		fprintf(stderr, "dpcap: out of memory\n");
		return DPC_EXIT_FAIL;
	}
	n = strlen(s);
	s[n++] = '\n';    /* over the NUL: the buffer has n + 1 bytes */
	while (off < n) {
		ssize_t k = send(c->fd, s + off, n - off, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "dpcap: %s: %s\n", c->socket, strerror(errno));
			free(s);
			return DPC_EXIT_FAIL;
		}
		off += (size_t)k;
	}
	free(s);
	for (;;) {
		json_t *j = cl_read(c, timeout_ms, &why);
		json_t *jid;

		if (j == NULL) {
			if (why == EINTR)
				return DPC_EXIT_FAIL;
			fprintf(stderr, "dpcap: %s: %s\n", c->socket,
				why == ETIMEDOUT ? "no answer from the daemon" :
				why == EPIPE ? "connection closed by the daemon" :
				"unreadable answer from the daemon");
			return DPC_EXIT_FAIL;
		}
		if (json_is_object(j) && json_object_get(j, "method")) {
			json_array_append_new(c->notes, j);
			continue;
		}
		jid = json_object_get(j, "id");
		if (json_object_get(j, "error") &&
		    (json_is_null(jid) || json_integer_value(jid) == id)) {
			int rc = print_error(c, json_object_get(j, "error"), expr);

			json_decref(j);
			return rc;
		}
		if (json_integer_value(jid) != id) {
			json_decref(j);
			continue;
		}
		*result = json_incref(json_object_get(j, "result"));
		json_decref(j);
		return 0;
	}
}

static int cl_call(struct client *c, const char *method, json_t *params,
		   json_t **result)
{
	return cl_call_t(c, method, params, result, NULL, CALL_TIMEOUT_MS);
}

/* ---- formatting ---- */

static json_int_t ji(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (json_int_t)json_real_value(v);
	return 0;
}

static const char *js(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void human_bytes(char *out, size_t n, double v)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, n, "%.0f %s", v, u[i]);
	else
		snprintf(out, n, "%.1f %s", v, u[i]);
}

static void print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
}

static void state_text(const json_t *job, char *out, size_t n)
{
	const char *state = js(job, "state"), *reason = js(job, "reason");

	if (json_is_true(json_object_get(job, "finishing")))
		snprintf(out, n, "%s (finishing)", state);
	else if (reason[0])
		snprintf(out, n, "%s (%s)", state, reason);
	else
		snprintf(out, n, "%s", state);
}

static void print_time_ns(const char *label, json_int_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char b[64];

	if (ns <= 0)
		return;
	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm);
	printf("  %-9s%s.%03lld UTC\n", label, b,
	       (long long)((ns / 1000000) % 1000));
}

static void print_progress(const json_t *progress)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)progress, key, v) {
		printf("  %-9s%lld / %lld (%.0f%%)\n",
		       strcmp(key, "duration_s") == 0 ? "seconds" : key,
		       (long long)ji(v, "done"), (long long)ji(v, "limit"),
		       100.0 * json_number_value(json_object_get(v, "fraction")));
	}
}

static void print_job(const json_t *job)
{
	const json_t *spec = json_object_get(job, "spec");
	const json_t *cnt = json_object_get(job, "counters");
	const json_t *files = json_object_get(job, "files");
	const json_t *dropped = json_object_get(cnt, "dropped");
	char st[128], b1[32];
	const char *key;
	json_t *v;
	size_t i;

	state_text(job, st, sizeof(st));
	printf("job %lld  %s  %s\n", (long long)ji(job, "id"), js(job, "name"), st);
	printf("  %-9s%s\n", "filter", js(spec, "filter")[0] ? js(spec, "filter")
	       : "(everything)");
	printf("  %-9s%s, snaplen %lld\n", "writes", js(spec, "write"),
	       (long long)ji(spec, "snaplen"));
	if (js(job, "dir")[0])
		printf("  %-9s%s\n", "dir", js(job, "dir"));
	print_time_ns("started", ji(job, "started_ns"));
	print_time_ns("ended", ji(job, "ended_ns"));
	human_bytes(b1, sizeof(b1), (double)ji(cnt, "written_bytes"));
	printf("  %-9smatched %lld, written %lld (%s), dropped %lld, in flight %lld\n",
	       "packets", (long long)ji(cnt, "matched"),
	       (long long)ji(cnt, "written"), b1,
	       (long long)ji(cnt, "dropped_total"), (long long)ji(cnt, "in_flight"));
	json_object_foreach((json_t *)dropped, key, v)
		if (json_integer_value(v) > 0)
			printf("  %-9s%s %lld\n", "drop", key,
			       (long long)json_integer_value(v));
	print_progress(json_object_get(job, "progress"));
	json_array_foreach(files, i, v) {
		human_bytes(b1, sizeof(b1), (double)ji(v, "bytes"));
		printf("  %-9s%s  ", i == 0 ? "files" : "", js(v, "name"));
		if (json_object_get(v, "packets"))
			printf("%lld packets  ", (long long)ji(v, "packets"));
		printf("%s  %s\n", b1, js(v, "state"));
	}
}

static void print_job_table(const json_t *jobs)
{
	size_t i;
	json_t *j;

	printf("%-5s %-20s %-28s %12s %10s %8s  %s\n", "ID", "NAME", "STATE",
	       "WRITTEN", "BYTES", "DROPPED", "FILTER");
	json_array_foreach(jobs, i, j) {
		const json_t *cnt = json_object_get(j, "counters");
		char st[128], b[32];

		state_text(j, st, sizeof(st));
		human_bytes(b, sizeof(b), (double)ji(cnt, "written_bytes"));
		printf("%-5lld %-20s %-28s %12lld %10s %8lld  %s\n",
		       (long long)ji(j, "id"), js(j, "name"), st,
		       (long long)ji(cnt, "written"), b,
		       (long long)ji(cnt, "dropped_total"),
		       js(json_object_get(j, "spec"), "filter"));
	}
	if (json_array_size(jobs) == 0)
		printf("(no jobs)\n");
}

/* ---- option parsing shared by the commands ---- */

enum {
	OPT_SOCKET = 1000, OPT_JSON, OPT_STRIP, OPT_RING, OPT_STATE,
	OPT_DURATION, OPT_MAXBYTES, OPT_PORT, OPT_TIMEOUT, OPT_INTERVAL,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "strip-vxlan", no_argument, NULL, OPT_STRIP },
	{ "ring", no_argument, NULL, OPT_RING },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "max-bytes", required_argument, NULL, OPT_MAXBYTES },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ NULL, 0, NULL, 0 },
};

static const char common_help[] =
	"  --socket PATH  daemon control socket (default $DPCAP_SOCKET, else "
	DEFAULT_SOCKET ")\n"
	"  --json         print the daemon's JSON instead of a table\n"
	"  -h, --help     this help\n";

static const struct {
	const char *cmd, *usage, *help;
} helps[] = {
	{ "start", "dpcap start [-c N] [-C SIZE] [-W FILES] [-G SECONDS] [-s SNAPLEN]\n"
	  "                   [--strip-vxlan] [--ring] [--duration S] [--max-bytes SIZE]\n"
	  "                   [--port N]... -w NAME EXPR...",
	  "Start a capture job on the daemon. Flags as tcpdump's:\n"
	  "  -c N           stop after N packets\n"
	  "  -C SIZE        rotate files at SIZE (bare number: millions of bytes, as\n"
	  "                 tcpdump; or a suffix k/M/G for KiB/MiB/GiB)\n"
	  "  -W FILES       at most FILES files (then stop, or with --ring overwrite\n"
	  "                 the oldest)\n"
	  "  -G SECONDS     rotate a file SECONDS after its first packet\n"
	  "  -s SNAPLEN     bytes kept per packet (0 = 262144)\n"
	  "  -w NAME        job name = output directory under the capture root\n"
	  "                 ([A-Za-z0-9._-], at most 64)\n"
	  "  --strip-vxlan  write the inner frame of VXLAN packets\n"
	  "  --ring         with -W: ring buffer of files instead of stopping\n"
	  "  --duration S   stop after S seconds\n"
	  "  --max-bytes SIZE  stop after SIZE bytes of files in total\n"
	  "  --port N       capture on config port N only (repeatable)\n"
	  "EXPR is the filter (docs/filters.md), all remaining words joined.\n"
	  "Prints the job id and where it writes." },
	{ "stop", "dpcap stop ID|NAME", "Stop a running job; its files are finalized." },
	{ "status", "dpcap status [ID|NAME]",
	  "One job in detail (state, counters, progress, files); without an\n"
	  "argument, every job as a table." },
	{ "list", "dpcap list [--state running|completed|stopped|failed]",
	  "Jobs as a table, optionally only those in one state." },
	{ "stats", "dpcap stats", "Ports, workers, drops by reason, disk free." },
	{ "info", "dpcap info", "Daemon version, ports, lcores, capture root." },
	{ "validate", "dpcap validate [start's flags] EXPR...",
	  "Compile EXPR on the daemon and sample 1 s of live traffic: says whether\n"
	  "the filter runs natively or as BPF (and whether that BPF runs on DPDK's\n"
	  "JIT or libpcap's interpreter) and how many packets/s it matches.\n"
	  "Nothing is started or written." },
	{ "wait", "dpcap wait [--timeout S] ID|NAME",
	  "Wait until the job ends (no polling: events.subscribe).\n"
	  "Exit 0 when it completed (a limit was reached), 5 when it was\n"
	  "stopped, 6 when it failed (the reason is printed), 7 on --timeout." },
	{ "watch", "dpcap watch [--interval S] [-n COUNT] [ID|NAME]",
	  "Live progress: packets and bytes toward each limit, rate, drops.\n"
	  "Refreshed in place on a terminal, one line per job and tick when piped.\n"
	  "With ID it ends with the job (exit status as wait); -n stops after\n"
	  "COUNT refreshes." },
};

static int usage_for(const char *cmd, FILE *f)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (strcmp(helps[i].cmd, cmd) == 0) {
			fprintf(f, "usage: %s\n\n%s\n\nCommon options:\n%s\n"
				"Exit status: 0 ok; 1 daemon unreachable or failed; 2 bad\n"
				"arguments, params or filter; 4 refused by the daemon\n"
				"(access, no such job, name in use, capacity); wait/watch:\n"
				"5 stopped, 6 failed, 7 timeout. docs/control-protocol.md.\n",
				helps[i].usage, helps[i].help, common_help);
			return f == stdout ? DPC_EXIT_OK : DPC_EXIT_USAGE;
		}
	}
	return DPC_EXIT_USAGE;
}

static int parse_u64(const char *s, const char *what, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "dpcap: %s: \"%s\" is not a non-negative integer\n", what, s);
	return -1;
}

/* tcpdump -C: a bare number is millions of bytes; k/M/G suffixes binary. */
static int parse_size(const char *s, const char *what, bool tcpdump_mb,
		      uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = tcpdump_mb ? 1000000 : 1;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno)
		goto bad;
	if (*end) {
		if (end[1] != '\0' && strcmp(end + 1, "iB") != 0 &&
		    strcmp(end + 1, "B") != 0)
			goto bad;
		switch (*end) {
		case 'k': case 'K': mul = 1024; break;
		case 'm': case 'M': mul = 1024 * 1024; break;
		case 'g': case 'G': mul = 1024ull * 1024 * 1024; break;
		default: goto bad;
		}
	}
	if (v > UINT64_MAX / mul)
		goto bad;
	*out = v * mul;
	return 0;
bad:
	fprintf(stderr, "dpcap: %s: \"%s\" is not a size (N, Nk, NM, NG)\n", what, s);
	return -1;
}

struct opts {
	const char *cmd;
	struct client c;
	json_t *spec;             /* start/validate params */
	json_t *limits, *rotate, *ports;
	const char *state;
	int timeout_s;
	double interval;
	long count;
	char *expr;               /* joined EXPR words */
	int nargs;
	char **args;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	bool spec_cmd = strcmp(o->cmd, "start") == 0 || strcmp(o->cmd, "validate") == 0;
	/* GNU permutation: "start EXPR -w NAME" works too; "--" ends options */
	const char *shortopts = spec_cmd ? "hc:C:W:G:s:w:" :
		strcmp(o->cmd, "watch") == 0 ? "hn:" : "h";
	int ch;
	uint64_t v;

	o->c.socket = getenv("DPCAP_SOCKET");
	if (o->c.socket == NULL || o->c.socket[0] == '\0')
		o->c.socket = DEFAULT_SOCKET;
	o->c.fd = -1;
	o->spec = json_object();
	o->limits = json_object();
	o->rotate = json_object();
	o->ports = json_array();
	o->interval = 1.0;
	o->count = -1;
	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, shortopts, long_opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return usage_for(o->cmd, stdout) == DPC_EXIT_OK ? -2 : -1;
		case OPT_SOCKET:
			o->c.socket = optarg;
			break;
		case OPT_JSON:
			o->c.json = true;
			break;
		case 'c':
			if (parse_u64(optarg, "-c", &v))
				return -1;
			json_object_set_new(o->limits, "packets", json_integer((json_int_t)v));
			break;
		case 'C':
			if (parse_size(optarg, "-C", true, &v))
				return -1;
			json_object_set_new(o->rotate, "file_bytes", json_integer((json_int_t)v));
			break;
		case 'W':
			if (parse_u64(optarg, "-W", &v))
				return -1;
			json_object_set_new(o->rotate, "max_files", json_integer((json_int_t)v));
			break;
		case 'G':
			if (parse_u64(optarg, "-G", &v))
				return -1;
			json_object_set_new(o->rotate, "file_seconds", json_integer((json_int_t)v));
			break;
		case 's':
			if (parse_u64(optarg, "-s", &v))
				return -1;
			json_object_set_new(o->spec, "snaplen",
					    json_integer(v == 0 ? 262144 : (json_int_t)v));
			break;
		case 'w':
			json_object_set_new(o->spec, "name", json_string(optarg));
			break;
		case OPT_STRIP:
			if (!spec_cmd)
				goto notfor;
			json_object_set_new(o->spec, "write", json_string("inner"));
			break;
		case OPT_RING:
			if (!spec_cmd)
				goto notfor;
			json_object_set_new(o->rotate, "mode", json_string("ring"));
			break;
		case OPT_DURATION:
			if (!spec_cmd)
				goto notfor;
			if (parse_u64(optarg, "--duration", &v))
				return -1;
			json_object_set_new(o->limits, "duration_s", json_integer((json_int_t)v));
			break;
		case OPT_MAXBYTES:
			if (!spec_cmd)
				goto notfor;
			if (parse_size(optarg, "--max-bytes", false, &v))
				return -1;
			json_object_set_new(o->limits, "bytes", json_integer((json_int_t)v));
			break;
		case OPT_PORT:
			if (!spec_cmd)
				goto notfor;
			if (parse_u64(optarg, "--port", &v))
				return -1;
			json_array_append_new(o->ports, json_integer((json_int_t)v));
			break;
		case OPT_STATE:
			if (strcmp(o->cmd, "list") != 0)
				goto notfor;
			o->state = optarg;
			break;
		case OPT_TIMEOUT:
			if (strcmp(o->cmd, "wait") != 0)
				goto notfor;
			if (parse_u64(optarg, "--timeout", &v) || v > 86400 * 365)
				return -1;
			o->timeout_s = (int)v;
			break;
		case OPT_INTERVAL:
			if (strcmp(o->cmd, "watch") != 0)
				goto notfor;
			o->interval = atof(optarg);
			if (!(o->interval >= 0.1 && o->interval <= 3600)) {
				fprintf(stderr, "dpcap: --interval: 0.1 to 3600 seconds\n");
				return -1;
			}
			break;
		case 'n':
			if (parse_u64(optarg, "-n", &v))
				return -1;
			o->count = (long)v;
			break;
		default:
			return -1;
		}
		continue;
notfor:
		fprintf(stderr, "dpcap %s: option --%s does not apply\n", o->cmd,
			argv[optind - 1] + 2);
		return -1;
	}
	o->nargs = argc - optind;
	o->args = argv + optind;
	if (spec_cmd && o->nargs > 0) {
		size_t n = 0;

		for (int i = 0; i < o->nargs; i++)
			n += strlen(o->args[i]) + 1;
		o->expr = calloc(1, n + 1);
		for (int i = 0; i < o->nargs; i++) {
			if (i)
				strcat(o->expr, " ");
			strcat(o->expr, o->args[i]);
		}
		json_object_set_new(o->spec, "filter", json_string(o->expr));
	}
	if (json_object_size(o->limits))
		json_object_set(o->spec, "limits", o->limits);
	if (json_object_size(o->rotate))
		json_object_set(o->spec, "rotate", o->rotate);
	if (json_array_size(o->ports))
		json_object_set(o->spec, "ports", o->ports);
	return 0;
}

static void opts_free(struct opts *o)
{
	json_decref(o->spec);
	json_decref(o->limits);
	json_decref(o->rotate);
	json_decref(o->ports);
	free(o->expr);
	cl_close(&o->c);
}

/* "3" → {"id":3}; anything else → {"name":...}. */
static json_t *job_ref(const char *arg)
{
	char *end;
	long long v = strtoll(arg, &end, 10);

	if (*arg && *end == '\0' && v > 0)
		return json_pack("{s:I}", "id", (json_int_t)v);
	return json_pack("{s:s}", "name", arg);
}

/* ---- commands ---- */

static int cmd_start(struct opts *o)
{
	json_t *r;
	int rc;

	if (!json_object_get(o->spec, "name")) {
		fprintf(stderr, "dpcap start: -w NAME is required (the job's "
			"output directory)\n");
		return DPC_EXIT_USAGE;
	}
	if (o->expr == NULL) {
		fprintf(stderr, "dpcap start: a filter EXPR is required (never "
			"capture unfiltered; use an explicit expression)\n");
		return DPC_EXIT_USAGE;
	}
	rc = cl_call_t(&o->c, "job.start", json_incref(o->spec), &r, o->expr,
		       CALL_TIMEOUT_MS);
	if (rc)
		return rc;
	if (o->c.json) {
		print_json(r);
	} else {
		printf("%lld\n", (long long)ji(r, "id"));
		fprintf(stderr, "dpcap: job %lld (%s) started, writing to %s\n",
			(long long)ji(r, "id"), js(r, "name"), js(r, "dir"));
	}
	json_decref(r);
	return DPC_EXIT_OK;
}

static int cmd_validate(struct opts *o)
{
	json_t *r;
	int rc;

	rc = cl_call_t(&o->c, "job.validate", json_incref(o->spec), &r, o->expr,
		       CALL_TIMEOUT_MS);
	if (rc)
		return rc;
	if (o->c.json) {
		print_json(r);
	} else {
		const char *be = js(r, "bpf_engine");

		if (be[0] && strcmp(be, "none") != 0)
			printf("filter ok: %s engine (its BPF runs on %s)\n",
			       js(r, "engine"), be);
		else
			printf("filter ok: %s engine\n", js(r, "engine"));
		printf("sampled %lld ms: %lld of %lld packets matched "
		       "(%.0f of %.0f packets/s)\n", (long long)ji(r, "sample_ms"),
		       (long long)ji(r, "matched"), (long long)ji(r, "received"),
		       json_number_value(json_object_get(r, "match_pps")),
		       json_number_value(json_object_get(r, "rx_pps")));
	}
	json_decref(r);
	return DPC_EXIT_OK;
}

static int cmd_stop(struct opts *o)
{
	json_t *r;
	char st[128];
	int rc;

	if (o->nargs != 1)
		return usage_for(o->cmd, stderr);
	rc = cl_call(&o->c, "job.stop", job_ref(o->args[0]), &r);
	if (rc)
		return rc;
	if (o->c.json) {
		print_json(r);
	} else {
		state_text(r, st, sizeof(st));
		printf("job %lld (%s): %s\n", (long long)ji(r, "id"), js(r, "name"), st);
	}
	json_decref(r);
	return DPC_EXIT_OK;
}

static int cmd_status(struct opts *o)
{
	json_t *r;
	int rc;

	if (o->nargs > 1)
		return usage_for(o->cmd, stderr);
	if (o->nargs == 0) {
		rc = cl_call(&o->c, "job.list", NULL, &r);
		if (rc)
			return rc;
		if (o->c.json)
			print_json(r);
		else
			print_job_table(json_object_get(r, "jobs"));
		json_decref(r);
		return DPC_EXIT_OK;
	}
	rc = cl_call(&o->c, "job.get", job_ref(o->args[0]), &r);
	if (rc)
		return rc;
	if (o->c.json)
		print_json(r);
	else
		print_job(r);
	json_decref(r);
	return DPC_EXIT_OK;
}

static int cmd_list(struct opts *o)
{
	json_t *r, *p = json_object();
	int rc;

	if (o->nargs != 0) {
		json_decref(p);
		return usage_for(o->cmd, stderr);
	}
	if (o->state)
		json_object_set_new(p, "state", json_string(o->state));
	rc = cl_call(&o->c, "job.list", p, &r);
	if (rc)
		return rc;
	if (o->c.json)
		print_json(r);
	else
		print_job_table(json_object_get(r, "jobs"));
	json_decref(r);
	return DPC_EXIT_OK;
}

static int cmd_stats(struct opts *o)
{
	json_t *r, *v, *q;
	const char *key;
	size_t i, k;
	char b[32];
	int rc;

	if (o->nargs != 0)
		return usage_for(o->cmd, stderr);
	rc = cl_call(&o->c, "stats.get", NULL, &r);
	if (rc)
		return rc;
	if (o->c.json) {
		print_json(r);
		json_decref(r);
		return DPC_EXIT_OK;
	}
	printf("%-8s %14s %10s %10s %10s\n", "PORT", "RX", "IMISSED", "NOMBUF",
	       "IERRORS");
	json_array_foreach(json_object_get(r, "ports"), i, v)
		printf("%-8s %14lld %10lld %10lld %10lld\n", js(v, "name"),
		       (long long)ji(v, "rx_packets"), (long long)ji(v, "imissed"),
		       (long long)ji(v, "rx_nombuf"), (long long)ji(v, "ierrors"));
	printf("\n%-7s %-5s %-5s %12s %12s %12s %10s\n", "LCORE", "PORT", "QUEUE",
	       "RX", "UNWANTED", "MATCHED", "INVALID");
	json_array_foreach(json_object_get(r, "workers"), i, v)
		printf("%-7lld %-5lld %-5lld %12lld %12lld %12lld %10lld\n",
		       (long long)ji(v, "lcore"), (long long)ji(v, "port"),
		       (long long)ji(v, "queue"), (long long)ji(v, "rx"),
		       (long long)ji(v, "unwanted"), (long long)ji(v, "matched"),
		       (long long)(ji(v, "parse_invalid") + ji(v, "parse_truncated")));
	printf("\ndrops:");
	k = 0;
	json_object_foreach(json_object_get(r, "drops"), key, q) {
		printf(" %s %lld", key, (long long)json_integer_value(q));
		k++;
	}
	printf("%s\n", k ? "" : " none");
	v = json_object_get(r, "disk");
	human_bytes(b, sizeof(b), (double)ji(v, "free_bytes"));
	printf("disk: %s free on %s", b, js(v, "path"));
	human_bytes(b, sizeof(b), (double)ji(v, "min_free_bytes"));
	printf(" (minimum %s)\n", b);
	printf("jobs: %zu, counters %s\n", json_array_size(json_object_get(r, "jobs")),
	       json_is_true(json_object_get(r, "balanced")) ? "balance" :
	       "DO NOT BALANCE");
	v = json_object_get(r, "control");
	printf("control: %lld clients, %lld requests, %lld errors\n",
	       (long long)ji(v, "clients"), (long long)ji(v, "requests"),
	       (long long)ji(v, "errors"));
	json_decref(r);
	return DPC_EXIT_OK;
}

static int cmd_info(struct opts *o)
{
	json_t *r, *v, *lc;
	size_t i;
	int rc;

	if (o->nargs != 0)
		return usage_for(o->cmd, stderr);
	rc = cl_call(&o->c, "daemon.info", NULL, &r);
	if (rc)
		return rc;
	if (o->c.json) {
		print_json(r);
		json_decref(r);
		return DPC_EXIT_OK;
	}
	printf("dpcapd %s\n", js(r, "version"));
	printf("capture root: %s\n", js(r, "capture_root"));
	printf("socket: %s\n", js(json_object_get(r, "control"), "socket"));
	lc = json_object_get(r, "lcores");
	printf("lcores: main %lld, workers", (long long)ji(lc, "main"));
	json_array_foreach(json_object_get(lc, "workers"), i, v) {
		if (json_is_integer(v))
			printf(" %lld", (long long)json_integer_value(v));
		else
			printf(" %lld (port %lld queue %lld)", (long long)ji(v, "lcore"),
			       (long long)ji(v, "port"), (long long)ji(v, "queue"));
	}
	printf("\nwriters: %lld\nports:\n", (long long)ji(r, "writers"));
	json_array_foreach(json_object_get(r, "ports"), i, v) {
		if (json_is_string(v)) {
			printf("  %s\n", json_string_value(v));
			continue;
		}
		printf("  %-6s %s", js(v, "name"), js(v, "device"));
		if (json_object_get(v, "rx_queues"))
			printf("  (%lld rx queues)", (long long)ji(v, "rx_queues"));
		printf("\n");
	}
	json_decref(r);
	return DPC_EXIT_OK;
}

/* Exit status for a job that has ended, after printing why. */
static int ended_status(const json_t *job, bool quiet)
{
	const char *state = js(job, "state");
	const json_t *cnt = json_object_get(job, "counters");

	if (!quiet)
		printf("job %lld (%s) %s%s%s%s: %lld packets written in %lld "
		       "file(s)\n", (long long)ji(job, "id"), js(job, "name"),
		       state, js(job, "reason")[0] ? " (" : "", js(job, "reason"),
		       js(job, "reason")[0] ? ")" : "",
		       (long long)ji(cnt, "written"), (long long)ji(cnt, "files"));
	if (strcmp(state, "completed") == 0)
		return DPC_EXIT_OK;
	if (strcmp(state, "stopped") == 0)
		return EXIT_STOPPED;
	return EXIT_FAILED;
}

static bool job_ended(const json_t *job)
{
	return strcmp(js(job, "state"), "running") != 0 &&
	       !json_is_true(json_object_get(job, "finishing"));
}

static int cmd_wait(struct opts *o)
{
	json_t *r, *job = NULL;
	json_int_t id;
	struct timespec t0, t1;
	int rc, why = 0;

	if (o->nargs != 1)
		return usage_for(o->cmd, stderr);
	rc = cl_call(&o->c, "events.subscribe", NULL, &r);
	if (rc)
		return rc;
	json_decref(r);
	/* subscribed first, then read the state: no event can be missed */
	rc = cl_call(&o->c, "job.get", job_ref(o->args[0]), &job);
	if (rc)
		return rc;
	id = ji(job, "id");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!job_ended(job)) {
		json_t *n = NULL;
		int left = -1;

		if (json_array_size(o->c.notes)) {
			n = json_incref(json_array_get(o->c.notes, 0));
			json_array_remove(o->c.notes, 0);
		} else {
			if (o->timeout_s > 0) {
				clock_gettime(CLOCK_MONOTONIC, &t1);
				left = o->timeout_s * 1000 -
				       (int)((t1.tv_sec - t0.tv_sec) * 1000 +
					     (t1.tv_nsec - t0.tv_nsec) / 1000000);
				if (left <= 0)
					left = 1;
			}
			n = cl_read(&o->c, left, &why);
		}
		if (n == NULL) {
			json_decref(job);
			if (why == ETIMEDOUT) {
				fprintf(stderr, "dpcap wait: job %lld still running "
					"after %d s\n", (long long)id, o->timeout_s);
				return EXIT_TIMEOUT;
			}
			if (why == EINTR)
				return DPC_EXIT_FAIL;
			fprintf(stderr, "dpcap wait: connection to the daemon lost\n");
			return DPC_EXIT_FAIL;
		}
		if (strcmp(js(n, "method"), "job.state") == 0 &&
		    ji(json_object_get(n, "params"), "id") == id &&
		    strcmp(js(json_object_get(n, "params"), "state"), "running") != 0) {
			/* final: read the whole job (files, counters) */
			json_decref(n);
			json_decref(job);
			rc = cl_call(&o->c, "job.get", json_pack("{s:I}", "id", id), &job);
			if (rc)
				return rc;
			continue;
		}
		json_decref(n);
	}
	if (o->c.json)
		print_json(job);
	rc = ended_status(job, o->c.json);
	json_decref(job);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rate_mem {
	json_int_t id[256];
	json_int_t written[256];
	unsigned n;
};

static double rate_of(struct rate_mem *m, json_int_t id, json_int_t written,
		      double dt)
{
	for (unsigned i = 0; i < m->n; i++) {
		if (m->id[i] == id) {
			double r = dt > 0 ? (double)(written - m->written[i]) / dt : 0;

			m->written[i] = written;
			return r < 0 ? 0 : r;
		}
	}
	if (m->n < 256) {
		m->id[m->n] = id;
		m->written[m->n++] = written;
	}
	return 0;
}

static void watch_line(const json_t *j, double rate, bool tty)
{
	const json_t *cnt = json_object_get(j, "counters");
	const json_t *prog = json_object_get(j, "progress");
	char st[128], b[32], pr[256] = "";
	size_t off = 0;
	const char *key;
	json_t *v;

	state_text(j, st, sizeof(st));
	human_bytes(b, sizeof(b), (double)ji(cnt, "written_bytes"));
	json_object_foreach((json_t *)prog, key, v) {
		int k = snprintf(pr + off, sizeof(pr) - off, " %s %lld/%lld",
				 strcmp(key, "duration_s") == 0 ? "seconds" : key,
				 (long long)ji(v, "done"), (long long)ji(v, "limit"));

		if (k < 0 || (size_t)k >= sizeof(pr) - off)
			break;
		off += (size_t)k;
	}
	if (tty) {
		printf("%-5lld %-18s %-24s %10lld %10.0f %10s %8lld %s\n",
		       (long long)ji(j, "id"), js(j, "name"), st,
		       (long long)ji(cnt, "written"), rate, b,
		       (long long)ji(cnt, "dropped_total"), pr);
	} else {
		time_t t = time(NULL);
		struct tm tm;
		char ts[32];

		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		printf("%s id=%lld name=%s state=%s written=%lld rate_pps=%.0f "
		       "bytes=%lld dropped=%lld%s\n", ts, (long long)ji(j, "id"),
		       js(j, "name"), js(j, "state"), (long long)ji(cnt, "written"),
		       rate, (long long)ji(cnt, "written_bytes"),
		       (long long)ji(cnt, "dropped_total"), pr);
	}
}

static int cmd_watch(struct opts *o)
{
	bool tty = isatty(STDOUT_FILENO) && !o->c.json;
	struct rate_mem mem = { .n = 0 };
	double last = now_s();
	long ticks = 0;
	int rc = DPC_EXIT_OK;

	if (o->nargs > 1)
		return usage_for(o->cmd, stderr);
	for (;;) {
		json_t *r, *jobs;
		double t = now_s(), dt = t - last;
		size_t i;
		json_t *j;
		bool ended = false;

		last = t;
		if (o->nargs == 1)
			rc = cl_call(&o->c, "job.get", job_ref(o->args[0]), &r);
		else
			rc = cl_call(&o->c, "job.list", json_pack("{s:s}", "state",
								  "running"), &r);
		if (rc)
			return rc;
		json_array_clear(o->c.notes);
		if (o->nargs == 1) {
			jobs = json_array();
			json_array_append(jobs, r);
		} else {
			jobs = json_incref(json_object_get(r, "jobs"));
		}
		if (o->c.json) {
			json_dumpf(r, stdout, JSON_COMPACT);
			putchar('\n');
		} else {
			if (tty) {
				/* redraw in place: home, clear to end of screen */
				printf("\033[H\033[J");
				printf("dpcap watch  (every %.1f s; Ctrl-C to quit)\n",
				       o->interval);
				printf("%-5s %-18s %-24s %10s %10s %10s %8s %s\n", "ID",
				       "NAME", "STATE", "WRITTEN", "PKT/S", "BYTES",
				       "DROPPED", "PROGRESS");
			}
			json_array_foreach(jobs, i, j)
				watch_line(j, rate_of(&mem, ji(j, "id"),
						      ji(json_object_get(j, "counters"),
							 "written"), ticks ? dt : 0),
					   tty);
			if (json_array_size(jobs) == 0)
				printf(tty ? "(no running jobs)\n" : "%s no running jobs\n",
				       "-");
		}
		fflush(stdout);
		if (o->nargs == 1 && job_ended(r)) {
			ended = true;
			rc = ended_status(r, true);
		}
		json_decref(jobs);
		json_decref(r);
		ticks++;
		if (ended || (o->count >= 0 && ticks >= o->count) || interrupted)
			break;
		/* sleep the interval, waking for Ctrl-C */
		for (double w = 0; w < o->interval && !interrupted; w += 0.05)
			usleep(50000);
		if (interrupted)
			break;
	}
	return rc;
}

int dpc_cmd_ctl(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct opts *);
	} cmds[] = {
		{ "start", cmd_start }, { "stop", cmd_stop },
		{ "status", cmd_status }, { "list", cmd_list },
		{ "stats", cmd_stats }, { "info", cmd_info },
		{ "validate", cmd_validate }, { "wait", cmd_wait },
		{ "watch", cmd_watch },
	};
	struct opts o;
	struct sigaction sa = { .sa_handler = on_sigint };
	int rc = DPC_EXIT_USAGE;

	memset(&o, 0, sizeof(o));
	o.cmd = argv[0];
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].name, argv[0]) != 0)
			continue;
		rc = parse_opts(argc, argv, &o);
		if (rc == -2) {
			rc = DPC_EXIT_OK;
			break;
		}
		if (rc != 0) {
			rc = DPC_EXIT_USAGE;
			break;
		}
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		rc = cl_connect(&o.c);
		if (rc == 0)
			rc = cmds[i].fn(&o);
		break;
	}
	opts_free(&o);
	return rc;
}
