/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_control.c - app/dpcapd/control.c (the daemon's method handlers)
 * without DPDK: the datapath API (dpc_dp.h) is replaced by a small fake
 * here, so every method, every error mapping, deferred validation,
 * notifications and shutdown run under the sanitizer build (leaks of JSON
 * references included). The real datapath is covered by ctl-daemon.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "dpc_dp.h"
#include "dpc_filter.h"
#include "dpc_job.h"
#include "dpc_test.h"

/* ---- the fake datapath ---- */

#define FAKE_JOBS 8

struct fake_job {
	uint64_t id;
	struct dpc_job_spec spec;
	enum dpc_job_state state;
	const char *reason;
};

struct dpc_dp {
	char root[256];
	struct fake_job jobs[FAKE_JOBS];
	unsigned n;
	unsigned running_max;
	struct dpc_filter_error ferr;
	dpc_dp_event_cb ev;
	void *ev_arg;
	dpc_dp_validate_cb vcb;
	void *varg;
	uint64_t vid;
	bool v_cancelled;
};

void dpc_dp_job_defaults(const struct dpc_dp *dp, struct dpc_job_spec *spec)
{
	(void)dp;
	dpc_job_spec_init(spec);
	spec->snaplen = 1500;
}

static json_t *job_json(const struct fake_job *j, bool files)
{
	struct dpc_job_counters c = { .matched = 3, .written = 3 };
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:o, s:o}",
			      "id", (json_int_t)j->id, "name", j->spec.name,
			      "state", dpc_job_state_name(j->state),
			      "reason", j->reason, "finishing", 0,
			      "spec", dpc_job_spec_to_json(&j->spec),
			      "counters", dpc_job_counters_to_json(&c));

	if (files)
		json_object_set_new(o, "files", json_array());
	return o;
}

static void emit(struct dpc_dp *dp, const struct fake_job *j)
{
	json_t *p;

	if (!dp->ev)
		return;
	p = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)j->id, "name",
		      j->spec.name, "state", dpc_job_state_name(j->state),
		      "reason", j->reason);
	dp->ev(dp->ev_arg, "job.state", p);
	json_decref(p);
}

int dpc_dp_job_start(struct dpc_dp *dp, const struct dpc_job_spec *spec,
		     uint64_t *id, char *err, size_t errlen)
{
	unsigned running = 0;

	if (strncmp(spec->filter, "bad", 3) == 0) {
		dp->ferr.column = 5;
		snprintf(dp->ferr.token, sizeof(dp->ferr.token), "zz");
		snprintf(dp->ferr.msg, sizeof(dp->ferr.msg),
			 "column 5: unexpected 'zz'");
		snprintf(err, errlen, "%s", dp->ferr.msg);
		return -EBADMSG;
	}
	if (strcmp(spec->name, "ioerr") == 0) {
		snprintf(err, errlen, "cannot create directory: Input/output error");
		return -EIO;
	}
	if (spec->snaplen == 7) {
		snprintf(err, errlen, "snaplen: the datapath refuses 7");
		return -EINVAL;
	}
	for (unsigned i = 0; i < dp->n; i++) {
		if (dp->jobs[i].state == DPC_JOB_RUNNING) {
			running++;
			if (strcmp(dp->jobs[i].spec.name, spec->name) == 0) {
				snprintf(err, errlen, "a running job is named \"%s\"",
					 spec->name);
				return -EEXIST;
			}
		}
	}
	if (running >= dp->running_max || dp->n >= FAKE_JOBS) {
		snprintf(err, errlen, "max_jobs (%u) jobs running", dp->running_max);
		return -ENOSPC;
	}
	dp->jobs[dp->n].id = dp->n + 1;
	dp->jobs[dp->n].spec = *spec;
	dp->jobs[dp->n].state = DPC_JOB_RUNNING;
	dp->jobs[dp->n].reason = "";
	*id = dp->jobs[dp->n].id;
	emit(dp, &dp->jobs[dp->n]);
	dp->n++;
	return 0;
}

const struct dpc_filter_error *dpc_dp_filter_error(const struct dpc_dp *dp)
{
	return &dp->ferr;
}

int dpc_dp_job_stop(struct dpc_dp *dp, uint64_t id)
{
	if (id == 0 || id > dp->n)
		return -ENOENT;
	if (dp->jobs[id - 1].state != DPC_JOB_RUNNING)
		return -EALREADY;
	dp->jobs[id - 1].state = DPC_JOB_STOPPED;
	dp->jobs[id - 1].reason = "stopped by request";
	emit(dp, &dp->jobs[id - 1]);
	return 0;
}

int dpc_dp_job_get(struct dpc_dp *dp, uint64_t id, json_t **out)
{
	if (id == 0 || id > dp->n)
		return -ENOENT;
	*out = job_json(&dp->jobs[id - 1], true);
	return 0;
}

int dpc_dp_job_list(struct dpc_dp *dp, const char *state_filter, json_t **out)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < dp->n; i++)
		if (!state_filter || strcmp(state_filter,
				dpc_job_state_name(dp->jobs[i].state)) == 0)
			json_array_append_new(a, job_json(&dp->jobs[i], false));
	*out = a;
	return 0;
}

int dpc_dp_stats(struct dpc_dp *dp, json_t **out)
{
	*out = json_pack("{s:[], s:[], s:[], s:{}, s:{s:s, s:I}, s:b}", "ports",
			 "workers", "jobs", "drops", "disk", "path", dp->root,
			 "free_bytes", (json_int_t)1 << 30, "balanced", 1);
	return 0;
}

int dpc_dp_info(struct dpc_dp *dp, json_t **out)
{
	*out = json_pack("{s:s, s:s, s:[]}", "version", "test", "capture_root",
			 dp->root, "ports");
	return 0;
}

int dpc_dp_validate(struct dpc_dp *dp, const struct dpc_job_spec *spec,
		    dpc_dp_validate_cb cb, void *arg, uint64_t *vid,
		    char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	if (strncmp(spec->filter, "bad", 3) == 0) {
		dp->ferr.column = 5;
		snprintf(dp->ferr.token, sizeof(dp->ferr.token), "zz");
		snprintf(dp->ferr.msg, sizeof(dp->ferr.msg), "column 5: unexpected 'zz'");
		snprintf(err, errlen, "%s", dp->ferr.msg);
		return -EBADMSG;
	}
	if (dp->vcb)
		return -ENOSPC;
	dp->vcb = cb;
	dp->varg = arg;
	dp->v_cancelled = false;
	*vid = ++dp->vid;
	return 0;
}

int dpc_dp_validate_cancel(struct dpc_dp *dp, uint64_t vid)
{
	if (!dp->vcb || vid != dp->vid)
		return -ENOENT;
	dp->vcb = NULL;
	dp->v_cancelled = true;
	return 0;
}

/* The fake's dpc_dp_service(): completes a pending validation. */
static void fake_validate_done(struct dpc_dp *dp)
{
	dpc_dp_validate_cb cb = dp->vcb;

	if (!cb)
		return;
	dp->vcb = NULL;
	cb(dp->varg, json_pack("{s:b, s:s, s:i, s:f}", "valid", 1, "engine",
			       "native", "sample_ms", 1000, "match_pps", 5.0));
}

void dpc_dp_set_event_cb(struct dpc_dp *dp, dpc_dp_event_cb fn, void *arg)
{
	dp->ev = fn;
	dp->ev_arg = arg;
}

/* ---- client side ---- */

static struct dpcapd_control *g_ctl;

static int cl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct rbuf {
	char b[1 << 16];
	size_t len;
};
static struct rbuf g_rb[64];   /* by fd */

/* Next line from fd (serving the control meanwhile), parsed. */
static json_t *cl_line(int fd, int ms)
{
	char *g_buf = g_rb[fd].b;
	size_t g_len = g_rb[fd].len;
	json_t *ret = NULL;

	for (int waited = 0; waited < ms; waited += 5) {
		char *nl = memchr(g_buf, '\n', g_len);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (nl) {
			json_t *j = json_loadb(g_buf, (size_t)(nl - g_buf), 0, NULL);

			g_len -= (size_t)(nl - g_buf) + 1;
			memmove(g_buf, nl + 1, g_len);
			ret = j;
			break;
		}
		dpcapd_control_poll(g_ctl, 2);
		if (poll(&p, 1, 3) > 0) {
			ssize_t n = recv(fd, g_buf + g_len, sizeof(g_rb[fd].b) - g_len,
					 MSG_DONTWAIT);
			if (n <= 0)
				break;
			g_len += (size_t)n;
		}
	}
	g_rb[fd].len = g_len;
	return ret;
}

static json_t *call(int fd, const char *method, const char *params)
{
	char req[4096];

	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"id\":1%s%s}\n",
		 method, params ? ",\"params\":" : "", params ? params : "");
	(void)!send(fd, req, strlen(req), MSG_NOSIGNAL);
	return cl_line(fd, 2000);
}

static int code_of(const json_t *r)
{
	return (int)json_integer_value(json_object_get(json_object_get(r, "error"),
						       "code"));
}

static const char *field_of(const json_t *r)
{
	const char *s = json_string_value(json_object_get(json_object_get(
		json_object_get(r, "error"), "data"), "field"));

	return s ? s : "(none)";
}

static void expect(int fd, const char *method, const char *params, int code,
		   const char *field, const char *what)
{
	json_t *r = call(fd, method, params);

	CHECK_EQ(code_of(r), code, "%s: %s -> %d", what, method, code);
	CHECK_STR(field_of(r), field, "%s: data.field", what);
	json_decref(r);
}

static json_t *result(int fd, const char *method, const char *params)
{
	json_t *r = call(fd, method, params);
	json_t *res = json_incref(json_object_get(r, "result"));

	if (res == NULL)
		printf("# %s: %s\n", method, r ? json_dumps(r, 0) : "no answer");
	json_decref(r);
	return res;
}

int main(void)
{
	static struct dpc_dp dp;
	char dir[] = "/tmp/dpc-ctl-control-XXXXXX";
	char sock[128], path[300], err[512], cmd[128];
	json_t *cfg, *r, *n;
	int fd, sub;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(dp.root, sizeof(dp.root), "%s/cap", dir);
	mkdir(dp.root, 0750);
	dp.running_max = 2;
	snprintf(sock, sizeof(sock), "%s/run/ctl.sock", dir);

	/* bad control config refused, naming the key */
	cfg = json_pack("{s:s, s:i}", "socket", sock, "max_clientz", 3);
	g_ctl = dpcapd_control_open(&dp, cfg, err, sizeof(err));
	CHECK(g_ctl == NULL && strstr(err, "control.max_clientz"),
	      "unknown control key refused: %s", err);
	json_decref(cfg);

	cfg = json_pack("{s:s, s:i}", "socket", sock, "max_clients", 8);
	g_ctl = dpcapd_control_open(&dp, cfg, err, sizeof(err));
	json_decref(cfg);
	CHECK(g_ctl != NULL, "control opens (%s)", g_ctl ? "" : err);
	if (g_ctl == NULL)
		return dpc_test_done();
	CHECK_STR(dpcapd_control_socket(g_ctl), sock, "socket path in use");
	fd = cl_connect(sock);
	sub = cl_connect(sock);
	CHECK(fd >= 0 && sub >= 0, "clients connect (socket dir created)");

	r = result(sub, "events.subscribe", NULL);
	CHECK(json_is_true(json_object_get(r, "subscribed")), "events.subscribe");
	json_decref(r);
	expect(sub, "events.subscribe", "{\"x\":1}", -32602, "params.x",
	       "subscribe with a param");

	/* daemon.info and stats.get add the control's own parts */
	r = result(fd, "daemon.info", NULL);
	CHECK_EQ(json_array_size(json_object_get(r, "methods")), 8,
		 "daemon.info lists 8 methods");
	CHECK(json_object_get(json_object_get(r, "control"), "max_clients") != NULL,
	      "daemon.info: control section");
	json_decref(r);
	r = result(fd, "stats.get", NULL);
	CHECK(json_integer_value(json_object_get(json_object_get(r, "control"),
						 "requests")) >= 3,
	      "stats.get: control counters");
	json_decref(r);
	expect(fd, "stats.get", "{\"a\":1}", -32602, "params.a", "stats.get param");
	expect(fd, "daemon.info", "{\"a\":1}", -32602, "params.a", "daemon.info param");

	/* job.start: success, resolved spec, event */
	r = result(fd, "job.start", "{\"name\":\"j1\",\"filter\":\"tcp\","
		   "\"limits\":{\"packets\":10}}");
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 1, "job.start: id 1");
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(r, "spec"),
						    "snaplen")), 1500,
		 "job.start: defaults from the daemon's job defaults");
	json_decref(r);
	n = cl_line(sub, 1000);
	CHECK(n && strcmp(json_string_value(json_object_get(n, "method")),
			  "job.state") == 0 &&
	      json_integer_value(json_object_get(json_object_get(n, "params"),
						 "id")) == 1,
	      "subscriber: job.state for job 1");
	json_decref(n);

	/* job.start error mapping */
	expect(fd, "job.start", "{\"filter\":\"tcp\"}", -32602, "params.name",
	       "no name");
	expect(fd, "job.start", "{\"name\":\"a\",\"limits\":{\"packets\":-1}}",
	       -32602, "params.limits.packets", "negative limit");
	expect(fd, "job.start", "{\"name\":\"a\",\"zz\":1}", -32602, "params.zz",
	       "unknown key");
	expect(fd, "job.start", "{\"name\":\"a..b\"}", -32602, "params.name",
	       "name with ..");
	expect(fd, "job.start", "{\"name\":\"a/b\"}", -32602, "params.name",
	       "name with /");
	expect(fd, "job.start", "{\"name\":\"a\",\"snaplen\":7}", -32602,
	       "params.snaplen", "datapath EINVAL names its field");
	r = call(fd, "job.start", "{\"name\":\"a\",\"filter\":\"bad zz\"}");
	CHECK(code_of(r) == -32011 && json_integer_value(json_object_get(
		json_object_get(json_object_get(r, "error"), "data"), "column")) == 5,
	      "bad filter: -32011 with column 5");
	CHECK_STR(json_string_value(json_object_get(json_object_get(r, "error"),
						    "message")), "Filter error",
		  "application code carries its message");
	json_decref(r);
	expect(fd, "job.start", "{\"name\":\"j1\"}", -32012, "params.name",
	       "running name");
	snprintf(path, sizeof(path), "%s/link", dp.root);
	(void)!symlink("/tmp", path);
	expect(fd, "job.start", "{\"name\":\"link\"}", -32013, "params.name",
	       "symlink under the root");
	expect(fd, "job.start", "{\"name\":\"ioerr\"}", -32016, "params",
	       "datapath I/O error");
	r = result(fd, "job.start", "{\"name\":\"j2\"}");
	json_decref(r);
	json_decref(cl_line(sub, 1000));
	expect(fd, "job.start", "{\"name\":\"j3\"}", -32014, "params",
	       "max jobs running");

	/* job.get / job.list / job.stop */
	r = result(fd, "job.get", "{\"name\":\"j2\"}");
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 2, "job.get by name");
	CHECK(json_is_array(json_object_get(r, "files")), "job.get has files");
	json_decref(r);
	expect(fd, "job.get", "{\"id\":99}", -32010, "params.id", "unknown id");
	expect(fd, "job.get", "{\"name\":\"zz\"}", -32010, "params.name",
	       "unknown name");
	expect(fd, "job.get", "{}", -32602, "params.id", "neither id nor name");
	expect(fd, "job.get", "{\"id\":1,\"name\":\"j1\"}", -32602, "params.id",
	       "both id and name");
	expect(fd, "job.get", "{\"id\":0}", -32602, "params.id", "id 0");
	expect(fd, "job.get", "{\"name\":5}", -32602, "params.name",
	       "name not a string");
	r = result(fd, "job.stop", "{\"id\":1}");
	CHECK_STR(json_string_value(json_object_get(r, "state")), "stopped",
		  "job.stop: stopped");
	json_decref(r);
	n = cl_line(sub, 1000);
	CHECK_STR(json_string_value(json_object_get(json_object_get(n, "params"),
						    "state")), "stopped",
		  "subscriber: job.state stopped");
	json_decref(n);
	r = call(fd, "job.stop", "{\"id\":1}");
	{
		json_t *d = json_object_get(json_object_get(r, "error"), "data");
		const char *why = json_string_value(json_object_get(d, "reason"));

		CHECK(code_of(r) == -32015, "job.stop again: -32015");
		CHECK_STR(json_string_value(json_object_get(d, "state")), "stopped",
			  "-32015: data.state is the job's state");
		CHECK_STR(json_string_value(json_object_get(d, "job_reason")),
			  "stopped by request",
			  "-32015: data.job_reason is the job's end reason");
		CHECK(why && strstr(why, "already ended"),
		      "-32015: data.reason stays the sentence (%s)", why ? why : "null");
	}
	json_decref(r);
	expect(fd, "job.stop", "{\"id\":42}", -32010, "params.id", "stop unknown");
	r = result(fd, "job.list", "{\"state\":\"running\"}");
	CHECK_EQ(json_array_size(json_object_get(r, "jobs")), 1,
		 "job.list state=running: 1");
	json_decref(r);
	r = result(fd, "job.list", NULL);
	CHECK_EQ(json_array_size(json_object_get(r, "jobs")), 2, "job.list: 2");
	json_decref(r);
	expect(fd, "job.list", "{\"state\":\"dead\"}", -32602, "params.state",
	       "bad state");
	expect(fd, "job.list", "{\"state\":1}", -32602, "params.state",
	       "state not a string");
	expect(fd, "job.list", "{\"x\":1}", -32602, "params.x", "list unknown key");

	/* job.validate answers later, without blocking others */
	{
		const char *q = "{\"jsonrpc\":\"2.0\",\"method\":\"job.validate\","
				"\"params\":{\"filter\":\"tcp\"},\"id\":\"v\"}\n";

		(void)!send(fd, q, strlen(q), MSG_NOSIGNAL);
	}
	r = call(fd, "daemon.info", NULL);
	CHECK(json_object_get(r, "result") != NULL, "served while a validation runs");
	json_decref(r);
	expect(fd, "job.validate", "{\"filter\":\"udp\"}", -32014, "params",
	       "second validation: no capacity");
	expect(fd, "job.validate", "{\"filter\":\"bad zz\"}", -32011,
	       "params.filter", "validate bad filter");
	expect(fd, "job.validate", "{\"snaplen\":\"x\"}", -32602,
	       "params.snaplen", "validate bad snaplen");
	fake_validate_done(&dp);
	r = cl_line(fd, 1000);
	CHECK(r && strcmp(json_string_value(json_object_get(r, "id")), "v") == 0 &&
	      strcmp(json_string_value(json_object_get(json_object_get(r, "result"),
						       "engine")), "native") == 0,
	      "validation answered with its id and engine");
	json_decref(r);

	/* a validation pending at shutdown is cancelled and answered */
	{
		const char *q = "{\"jsonrpc\":\"2.0\",\"method\":\"job.validate\","
				"\"params\":{\"filter\":\"tcp\"},\"id\":\"w\"}\n";

		(void)!send(fd, q, strlen(q), MSG_NOSIGNAL);
	}
	for (int i = 0; i < 20 && !dp.vcb; i++)
		dpcapd_control_poll(g_ctl, 5);
	CHECK(dp.vcb != NULL, "second validation pending");
	dpcapd_control_close(g_ctl);
	g_ctl = NULL;
	CHECK(dp.v_cancelled, "close cancels the pending validation");
	CHECK(dp.ev == NULL, "close removes the event callback");
	{
		struct stat st;

		CHECK(stat(sock, &st) != 0, "socket removed on close");
	}
	close(fd);
	close(sub);
	dpcapd_control_close(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
	return dpc_test_done();
}
