/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control.c - dpcapd's JSON-RPC methods (docs/control-protocol.md) on top
 * of lib/ctl (protocol, limits, credentials) and dpc_dp.h (the datapath).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "dpc_ctl.h"
#include "dpc_dp.h"
#include "dpc_filter.h"
#include "dpc_job.h"

#define DEFAULT_SOCKET "/run/dpcap/dpcapd.sock"

struct validation {
	struct dpcapd_control *ctl;
	uint64_t vid;
	struct dpc_ctl_deferred *d;
	struct validation *next;
};

struct dpcapd_control {
	struct dpc_dp *dp;
	struct dpc_ctl_server *srv;
	struct dpc_ctl_config cfg;
	char capture_root[PATH_MAX];
	struct validation *validations;
	const struct dpc_ctl_method *methods;
	unsigned n_methods;
};

/* ---- helpers ---- */

/*
 * Turn "<field>: <reason>" (lib/job's and lib/dp's error style) into a
 * -32602-style error naming params.<field>.
 */
static json_t *spec_error(struct dpc_ctl_call *call, int code, const char *err)
{
	const char *colon = strstr(err, ": ");
	char field[128];

	if (colon && (size_t)(colon - err) < sizeof(field) - 8 &&
	    memchr(err, ' ', (size_t)(colon - err)) == NULL && colon > err) {
		snprintf(field, sizeof(field), "params.%.*s", (int)(colon - err),
			 err);
		return dpc_ctl_call_error(call, code, field, NULL, "%s", colon + 2);
	}
	return dpc_ctl_call_error(call, code, "params", NULL, "%s", err);
}

static json_t *filter_error(struct dpc_ctl_call *call, struct dpc_dp *dp,
			    const char *err)
{
	const struct dpc_filter_error *fe = dpc_dp_filter_error(dp);
	json_t *extra = NULL;

	if (fe) {
		extra = json_pack("{s:i, s:o}", "column", fe->column, "token",
				  dpc_ctl_safe_string(fe->token, strlen(fe->token)));
		return dpc_ctl_call_error(call, DPCAPD_E_FILTER, "params.filter",
					  extra, "%s", fe->msg[0] ? fe->msg : err);
	}
	return dpc_ctl_call_error(call, DPCAPD_E_FILTER, "params.filter", NULL,
				  "%s", err);
}

/* Parse job.start / job.validate params into spec. */
static int parse_spec(struct dpcapd_control *ctl, struct dpc_ctl_call *call,
		      json_t *params, bool require_name,
		      struct dpc_job_spec *spec)
{
	json_t *name = json_object_get(params, "name");
	char err[512];

	dpc_dp_job_defaults(ctl->dp, spec);
	if (json_is_string(name)) {
		/* Confinement first, with the stricter lib/ctl rules. */
		if (dpc_ctl_name_check(json_string_value(name),
				       json_string_length(name), err,
				       sizeof(err)) != 0) {
			dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.name",
					   NULL, "%s", err);
			return -EINVAL;
		}
	}
	if (dpc_job_spec_from_json_ex(params, spec, require_name, err,
				      sizeof(err)) != 0) {
		spec_error(call, DPC_CTL_E_PARAMS, err);
		return -EINVAL;
	}
	return 0;
}

/* Resolve {"id": N} or {"name": S} to a job id. */
static int job_ref(struct dpcapd_control *ctl, struct dpc_ctl_call *call,
		   json_t *params, uint64_t *id)
{
	static const char *const keys[] = { "id", "name", NULL };
	json_t *jid, *jname, *list = NULL;
	size_t i;
	json_t *j;

	if (dpc_ctl_check_keys(call, params, "params", keys) != 0)
		return -EINVAL;
	jid = json_object_get(params, "id");
	jname = json_object_get(params, "name");
	if ((jid == NULL) == (jname == NULL)) {
		dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.id", NULL,
				   "give exactly one of \"id\" (a job id) or "
				   "\"name\" (a job name)");
		return -EINVAL;
	}
	if (jid) {
		if (!json_is_integer(jid) || json_integer_value(jid) <= 0) {
			dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.id",
					   NULL, "must be a job id (an integer > 0)");
			return -EINVAL;
		}
		*id = (uint64_t)json_integer_value(jid);
		return 0;
	}
	if (!json_is_string(jname)) {
		dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.name", NULL,
				   "must be a string (a job name)");
		return -EINVAL;
	}
	if (dpc_dp_job_list(ctl->dp, NULL, &list) != 0 || list == NULL) {
		dpc_ctl_call_error(call, DPCAPD_E_DATAPATH, "params.name", NULL,
				   "cannot list jobs");
		return -EIO;
	}
	/* the newest job of that name (a running one is always the newest) */
	for (i = json_array_size(list); i-- > 0;) {
		j = json_array_get(list, i);
		if (json_equal(json_object_get(j, "name"), jname)) {
			*id = (uint64_t)json_integer_value(json_object_get(j, "id"));
			json_decref(list);
			return 0;
		}
	}
	json_decref(list);
	dpc_ctl_call_error(call, DPCAPD_E_NO_JOB, "params.name", NULL,
			   "no job named \"%.64s\"", json_string_value(jname));
	return -ENOENT;
}

/* ---- methods ---- */

static json_t *m_job_start(struct dpc_ctl_call *call, json_t *params, void *arg)
{
	struct dpcapd_control *ctl = arg;
	struct dpc_job_spec spec;
	char err[512] = "";
	uint64_t id = 0;
	json_t *job = NULL;
	int rc;

	if (parse_spec(ctl, call, params, true, &spec) != 0)
		return NULL;
	/* Refuse a symlink or a non-directory in the way before dp touches it. */
	if (ctl->capture_root[0]) {
		rc = dpc_ctl_job_dir_open(ctl->capture_root, spec.name, false,
					  err, sizeof(err));
		if (rc >= 0)
			close(rc);
		else if (rc == -ELOOP || rc == -ENOTDIR)
			return dpc_ctl_call_error(call, DPCAPD_E_PATH,
						  "params.name", NULL, "%s", err);
	}
	err[0] = '\0';
	rc = dpc_dp_job_start(ctl->dp, &spec, &id, err, sizeof(err));
	switch (rc) {
	case 0:
		break;
	case -EINVAL:
		return spec_error(call, DPC_CTL_E_PARAMS, err);
	case -EBADMSG:
		return filter_error(call, ctl->dp, err);
	case -EEXIST:
		return dpc_ctl_call_error(call, DPCAPD_E_EXISTS, "params.name",
					  NULL, "%s", err);
	case -ELOOP:
	case -ENOTDIR:
		return dpc_ctl_call_error(call, DPCAPD_E_PATH, "params.name",
					  NULL, "%s", err);
	case -ENOSPC:
		return dpc_ctl_call_error(call, DPCAPD_E_CAPACITY, "params", NULL,
					  "%s", err);
	default:
		return dpc_ctl_call_error(call, DPCAPD_E_DATAPATH, "params", NULL,
					  "%s (%s)", err[0] ? err : "job start failed",
					  strerror(-rc));
	}
	if (dpc_dp_job_get(ctl->dp, id, &job) != 0 || job == NULL)
		return json_pack("{s:I, s:o}", "id", (json_int_t)id, "spec",
				 dpc_job_spec_to_json(&spec));
	return job;
}

static void validate_done(void *arg, json_t *result)
{
	struct validation *v = arg;
	struct dpcapd_control *ctl = v->ctl;

	for (struct validation **pp = &ctl->validations; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	dpc_ctl_deferred_reply(v->d, result);
	free(v);
}

static json_t *m_job_validate(struct dpc_ctl_call *call, json_t *params,
			      void *arg)
{
	struct dpcapd_control *ctl = arg;
	struct dpc_job_spec spec;
	struct validation *v;
	char err[512] = "";
	int rc;

	if (parse_spec(ctl, call, params, false, &spec) != 0)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return dpc_ctl_call_error(call, DPC_CTL_E_INTERNAL, "params", NULL,
					  "out of memory");
	v->ctl = ctl;
	rc = dpc_dp_validate(ctl->dp, &spec, validate_done, v, &v->vid, err,
			     sizeof(err));
	if (rc != 0) {
		free(v);
		if (rc == -EINVAL)
			return spec_error(call, DPC_CTL_E_PARAMS, err);
		if (rc == -EBADMSG)
			return filter_error(call, ctl->dp, err);
		if (rc == -ENOSPC)
			return dpc_ctl_call_error(call, DPCAPD_E_CAPACITY,
						  "params", NULL, "%s", err);
		return dpc_ctl_call_error(call, DPCAPD_E_DATAPATH, "params", NULL,
					  "%s", err[0] ? err : strerror(-rc));
	}
	v->d = dpc_ctl_call_defer(call);
	if (v->d == NULL) {
		dpc_dp_validate_cancel(ctl->dp, v->vid);
		free(v);
		return dpc_ctl_call_error(call, DPC_CTL_E_INTERNAL, "params", NULL,
					  "out of memory");
	}
	v->next = ctl->validations;
	ctl->validations = v;
	return NULL;
}

static json_t *m_job_stop(struct dpc_ctl_call *call, json_t *params, void *arg)
{
	struct dpcapd_control *ctl = arg;
	json_t *job = NULL;
	uint64_t id;
	int rc;

	if (job_ref(ctl, call, params, &id) != 0)
		return NULL;
	rc = dpc_dp_job_stop(ctl->dp, id);
	if (rc == -ENOENT)
		return dpc_ctl_call_error(call, DPCAPD_E_NO_JOB, "params.id", NULL,
					  "no job %llu", (unsigned long long)id);
	if (rc == -EALREADY) {
		json_t *extra = NULL;

		if (dpc_dp_job_get(ctl->dp, id, &job) == 0 && job) {
			/*
			 * data.reason is the error's sentence (every error
			 * has one); the job's own end reason is job_reason
			 */
			extra = json_pack("{s:O, s:O}", "state",
					  json_object_get(job, "state"), "job_reason",
					  json_object_get(job, "reason"));
			json_decref(job);
		}
		return dpc_ctl_call_error(call, DPCAPD_E_ENDED, "params.id", extra,
					  "job %llu has already ended",
					  (unsigned long long)id);
	}
	if (rc != 0)
		return dpc_ctl_call_error(call, DPCAPD_E_DATAPATH, "params.id",
					  NULL, "stop failed: %s", strerror(-rc));
	if (dpc_dp_job_get(ctl->dp, id, &job) != 0 || job == NULL)
		return json_pack("{s:I}", "id", (json_int_t)id);
	return job;
}

static json_t *m_job_get(struct dpc_ctl_call *call, json_t *params, void *arg)
{
	struct dpcapd_control *ctl = arg;
	json_t *job = NULL;
	uint64_t id;

	if (job_ref(ctl, call, params, &id) != 0)
		return NULL;
	if (dpc_dp_job_get(ctl->dp, id, &job) != 0 || job == NULL)
		return dpc_ctl_call_error(call, DPCAPD_E_NO_JOB, "params.id", NULL,
					  "no job %llu", (unsigned long long)id);
	return job;
}

static json_t *m_job_list(struct dpc_ctl_call *call, json_t *params, void *arg)
{
	static const char *const keys[] = { "state", NULL };
	struct dpcapd_control *ctl = arg;
	json_t *state, *list = NULL;

	if (dpc_ctl_check_keys(call, params, "params", keys) != 0)
		return NULL;
	state = json_object_get(params, "state");
	if (state && (!json_is_string(state) ||
		      dpc_job_state_from_name(json_string_value(state)) < 0))
		return dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.state",
					  NULL, "must be one of \"running\", "
					  "\"completed\", \"stopped\", \"failed\"");
	if (dpc_dp_job_list(ctl->dp, state ? json_string_value(state) : NULL,
			    &list) != 0 || list == NULL)
		return dpc_ctl_call_error(call, DPCAPD_E_DATAPATH, "params", NULL,
					  "cannot list jobs");
	return json_pack("{s:o}", "jobs", list);
}

static json_t *control_json(struct dpcapd_control *ctl)
{
	struct dpc_ctl_counters c;

	dpc_ctl_server_counters(ctl->srv, &c);
	return json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:i}",
			 "socket", ctl->cfg.socket_path,
			 "clients", (int)dpc_ctl_server_clients(ctl->srv),
			 "requests", (json_int_t)c.requests,
			 "errors", (json_int_t)c.errors,
			 "accepted", (json_int_t)c.accepted,
			 "refused_busy", (json_int_t)c.refused_busy,
			 "refused_denied", (json_int_t)c.refused_denied,
			 "dropped_slow", (json_int_t)c.dropped_slow,
			 "dropped_idle", (json_int_t)c.dropped_idle,
			 "dropped_too_large", (json_int_t)c.dropped_too_large,
			 "max_output_bytes", (json_int_t)ctl->cfg.max_output_bytes,
			 "max_clients", (int)ctl->cfg.max_clients);
}

static json_t *m_stats_get(struct dpc_ctl_call *call, json_t *params, void *arg)
{
	static const char *const keys[] = { NULL };
	struct dpcapd_control *ctl = arg;
	json_t *st = NULL;

	if (dpc_ctl_check_keys(call, params, "params", keys) != 0)
		return NULL;
	if (dpc_dp_stats(ctl->dp, &st) != 0 || st == NULL)
		return dpc_ctl_call_error(call, DPCAPD_E_DATAPATH, "params", NULL,
					  "cannot read statistics");
	json_object_set_new(st, "control", control_json(ctl));
	return st;
}

static json_t *m_daemon_info(struct dpc_ctl_call *call, json_t *params,
			     void *arg)
{
	static const char *const keys[] = { NULL };
	struct dpcapd_control *ctl = arg;
	json_t *info = NULL, *m;

	if (dpc_ctl_check_keys(call, params, "params", keys) != 0)
		return NULL;
	if (dpc_dp_info(ctl->dp, &info) != 0 || info == NULL)
		return dpc_ctl_call_error(call, DPCAPD_E_DATAPATH, "params", NULL,
					  "cannot read daemon info");
	m = json_array();
	for (unsigned i = 0; i < ctl->n_methods; i++)
		json_array_append_new(m, json_pack("{s:s, s:s, s:b}",
			"name", ctl->methods[i].name, "help", ctl->methods[i].help,
			"read_only", ctl->methods[i].read_only));
	json_object_set_new(info, "methods", m);
	json_object_set_new(info, "control", control_json(ctl));
	return info;
}

static json_t *m_events_subscribe(struct dpc_ctl_call *call, json_t *params,
				  void *arg)
{
	static const char *const keys[] = { NULL };

	(void)arg;
	if (dpc_ctl_check_keys(call, params, "params", keys) != 0)
		return NULL;
	dpc_ctl_call_subscribe(call);
	return json_pack("{s:b, s:[s]}", "subscribed", 1, "events", "job.state");
}

static const struct dpc_ctl_method methods[] = {
	{ "job.start", m_job_start,
	  "start a capture job: name, filter, write, snaplen, limits, rotate, ports",
	  false },
	{ "job.validate", m_job_validate,
	  "check a job spec and sample its filter on live traffic for 1 s", false },
	{ "job.stop", m_job_stop, "stop a running job (by id or name)", false },
	{ "job.get", m_job_get,
	  "one job: state, reason, counters, progress, files (by id or name)", true },
	{ "job.list", m_job_list, "all jobs, optionally of one state", true },
	{ "stats.get", m_stats_get,
	  "ports, queues, workers, jobs, drops by reason, disk free", true },
	{ "daemon.info", m_daemon_info,
	  "version, ports, lcores, config in force, methods", true },
	{ "events.subscribe", m_events_subscribe,
	  "receive job.state notifications on this connection", true },
};
static const unsigned n_methods = sizeof(methods) / sizeof(methods[0]);

static const struct dpc_ctl_code_name code_names[] = {
	{ DPCAPD_E_NO_JOB, "No such job" },
	{ DPCAPD_E_FILTER, "Filter error" },
	{ DPCAPD_E_EXISTS, "Job exists" },
	{ DPCAPD_E_PATH, "Output path refused" },
	{ DPCAPD_E_CAPACITY, "No capacity" },
	{ DPCAPD_E_ENDED, "Job already ended" },
	{ DPCAPD_E_DATAPATH, "Datapath error" },
};

/* ---- lifecycle ---- */

static void on_event(void *arg, const char *event, json_t *params)
{
	struct dpcapd_control *ctl = arg;

	if (ctl->srv)
		dpc_ctl_server_notify(ctl->srv, event, json_incref(params));
}

struct dpcapd_control *dpcapd_control_open(struct dpc_dp *dp,
					   const json_t *control_cfg,
					   char *err, size_t errlen)
{
	struct dpcapd_control *ctl = calloc(1, sizeof(*ctl));
	json_t *info = NULL;
	char parent[sizeof(ctl->cfg.socket_path)];
	char *slash;
	int rc;

	if (ctl == NULL) {
		snprintf(err, errlen, "control: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	dpc_ctl_register_codes(code_names,
			       sizeof(code_names) / sizeof(code_names[0]));
	ctl->dp = dp;
	ctl->methods = methods;
	ctl->n_methods = n_methods;
	dpc_ctl_config_defaults(&ctl->cfg);
	strcpy(ctl->cfg.socket_path, DEFAULT_SOCKET);
	rc = dpc_ctl_config_from_json(control_cfg, &ctl->cfg, err, errlen);
	if (rc != 0)
		goto fail;
	/* The socket's directory (e.g. /run/dpcap) is made if missing. */
	strcpy(parent, ctl->cfg.socket_path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "control.socket: cannot create "
				 "directory \"%s\": %s", parent, strerror(errno));
			goto fail;
		}
	}
	if (dp && dpc_dp_info(dp, &info) == 0 && info) {
		const char *root = json_string_value(json_object_get(info,
								     "capture_root"));

		if (root)
			snprintf(ctl->capture_root, sizeof(ctl->capture_root),
				 "%s", root);
		json_decref(info);
	}
	ctl->srv = dpc_ctl_server_open(&ctl->cfg, methods, n_methods, ctl, err,
				       errlen);
	if (ctl->srv == NULL) {
		rc = -errno;
		goto fail;
	}
	if (dp)
		dpc_dp_set_event_cb(dp, on_event, ctl);
	return ctl;
fail:
	free(ctl);
	errno = rc < 0 ? -rc : EINVAL;
	return NULL;
}

int dpcapd_control_poll(struct dpcapd_control *ctl, int timeout_ms)
{
	return dpc_ctl_server_poll(ctl->srv, timeout_ms);
}

const char *dpcapd_control_socket(const struct dpcapd_control *ctl)
{
	return ctl->cfg.socket_path;
}

void dpcapd_control_close(struct dpcapd_control *ctl)
{
	struct validation *v;

	if (ctl == NULL)
		return;
	if (ctl->dp)
		dpc_dp_set_event_cb(ctl->dp, NULL, NULL);
	while ((v = ctl->validations) != NULL) {
		ctl->validations = v->next;
		if (ctl->dp)
			dpc_dp_validate_cancel(ctl->dp, v->vid);
		dpc_ctl_deferred_error(v->d, DPCAPD_E_DATAPATH, "params", NULL,
				       "daemon shutting down");
		free(v);
	}
	dpc_ctl_server_close(ctl->srv);
	free(ctl);
}
