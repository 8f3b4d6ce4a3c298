/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_job.c - job spec parsing/validation, states, counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_job.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void dpc_job_spec_init(struct dpc_job_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->write = DPC_JOB_WRITE_FRAME;
	spec->snaplen = DPC_JOB_SNAPLEN_MAX;
	spec->rotate.mode = DPC_JOB_ROTATE_STOP;
}

bool dpc_job_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	for (n = 0; name[n]; n++) {
		char c = name[n];

		if (n >= DPC_JOB_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	return true;
}

/* A JSON value as short text for error messages. */
static void json_brief(const json_t *v, char *buf, size_t len)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	if (!s) {
		snprintf(buf, len, "?");
		return;
	}
	if (strlen(s) > 40)
		snprintf(buf, len, "%.37s...", s);
	else
		snprintf(buf, len, "%s", s);
	free(s);
}

static int get_u64(const json_t *v, const char *field, uint64_t max,
		   uint64_t *out, char *err, size_t errlen)
{
	char b[64];

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		json_brief(v, b, sizeof(b));
		set_err(err, errlen, "%s: must be an integer 0..%" PRIu64 ", got %s",
			field, max, b);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_limits(const json_t *obj, struct dpc_job_limits *l,
			char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char b[64];

	if (!json_is_object(obj)) {
		json_brief(obj, b, sizeof(b));
		set_err(err, errlen, "limits: must be an object, got %s", b);
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, k, v) {
		int rc;

		if (strcmp(k, "packets") == 0)
			rc = get_u64(v, "limits.packets", INT64_MAX, &l->packets, err, errlen);
		else if (strcmp(k, "bytes") == 0)
			rc = get_u64(v, "limits.bytes", INT64_MAX, &l->bytes, err, errlen);
		else if (strcmp(k, "duration_s") == 0)
			rc = get_u64(v, "limits.duration_s", 10ull * 365 * 86400,
				     &l->duration_s, err, errlen);
		else {
			set_err(err, errlen, "limits.%s: unknown key", k);
			rc = -EINVAL;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_rotate(const json_t *obj, struct dpc_job_rotate *r,
			char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char b[64];

	if (!json_is_object(obj)) {
		json_brief(obj, b, sizeof(b));
		set_err(err, errlen, "rotate: must be an object, got %s", b);
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, k, v) {
		int rc = 0;
		uint64_t u;

		if (strcmp(k, "file_bytes") == 0) {
			rc = get_u64(v, "rotate.file_bytes", INT64_MAX, &r->file_bytes,
				     err, errlen);
		} else if (strcmp(k, "file_seconds") == 0) {
			rc = get_u64(v, "rotate.file_seconds", 10ull * 365 * 86400,
				     &r->file_seconds, err, errlen);
		} else if (strcmp(k, "max_files") == 0) {
			rc = get_u64(v, "rotate.max_files", DPC_JOB_MAX_FILES, &u,
				     err, errlen);
			if (rc == 0)
				r->max_files = (uint32_t)u;
		} else if (strcmp(k, "mode") == 0) {
			const char *s = json_string_value(v);

			if (s && strcmp(s, "stop") == 0)
				r->mode = DPC_JOB_ROTATE_STOP;
			else if (s && strcmp(s, "ring") == 0)
				r->mode = DPC_JOB_ROTATE_RING;
			else {
				json_brief(v, b, sizeof(b));
				set_err(err, errlen,
					"rotate.mode: must be \"stop\" or \"ring\", got %s", b);
				rc = -EINVAL;
			}
		} else {
			set_err(err, errlen, "rotate.%s: unknown key", k);
			rc = -EINVAL;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int dpc_job_spec_validate(const struct dpc_job_spec *s, char *err,
			  size_t errlen)
{
	unsigned i, j;

	if (!dpc_job_name_valid(s->name)) {
		set_err(err, errlen,
			"name: must match [A-Za-z0-9._-]{1,64} and not be \".\" or \"..\", got \"%.70s\"",
			s->name);
		return -EINVAL;
	}
	if (memchr(s->filter, 0, sizeof(s->filter)) == NULL) {
		set_err(err, errlen, "filter: longer than %d bytes", DPC_JOB_FILTER_MAX);
		return -EINVAL;
	}
	if (s->write != DPC_JOB_WRITE_FRAME && s->write != DPC_JOB_WRITE_INNER) {
		set_err(err, errlen, "write: must be \"frame\" or \"inner\"");
		return -EINVAL;
	}
	if (s->snaplen < 1 || s->snaplen > DPC_JOB_SNAPLEN_MAX) {
		set_err(err, errlen, "snaplen: must be 1..%d, got %u",
			DPC_JOB_SNAPLEN_MAX, s->snaplen);
		return -EINVAL;
	}
	if (s->rotate.mode != DPC_JOB_ROTATE_STOP && s->rotate.mode != DPC_JOB_ROTATE_RING) {
		set_err(err, errlen, "rotate.mode: must be \"stop\" or \"ring\"");
		return -EINVAL;
	}
	if (s->rotate.mode == DPC_JOB_ROTATE_RING && s->rotate.max_files == 0) {
		set_err(err, errlen, "rotate.mode: \"ring\" needs rotate.max_files > 0");
		return -EINVAL;
	}
	if (s->rotate.mode == DPC_JOB_ROTATE_RING &&
	    s->rotate.file_bytes == 0 && s->rotate.file_seconds == 0) {
		set_err(err, errlen,
			"rotate.mode: \"ring\" needs rotate.file_bytes or rotate.file_seconds");
		return -EINVAL;
	}
	if (s->rotate.max_files > 0 && s->rotate.file_bytes == 0 &&
	    s->rotate.file_seconds == 0) {
		set_err(err, errlen,
			"rotate.max_files: needs rotate.file_bytes or rotate.file_seconds");
		return -EINVAL;
	}
	if (s->rotate.file_bytes && s->rotate.file_bytes < 24 + 16 + 1) {
		set_err(err, errlen, "rotate.file_bytes: must be 0 or >= 41, got %" PRIu64,
			s->rotate.file_bytes);
		return -EINVAL;
	}
	if (s->limits.bytes && s->limits.bytes < 24 + 16 + 1) {
		set_err(err, errlen, "limits.bytes: must be 0 or >= 41, got %" PRIu64,
			s->limits.bytes);
		return -EINVAL;
	}
	if (s->n_ports > DPC_JOB_PORTS_MAX) {
		set_err(err, errlen, "ports: at most %d entries", DPC_JOB_PORTS_MAX);
		return -EINVAL;
	}
	for (i = 0; i < s->n_ports; i++)
		for (j = 0; j < i; j++)
			if (s->ports[i] == s->ports[j]) {
				set_err(err, errlen, "ports[%u]: port %u listed twice", i,
					s->ports[i]);
				return -EINVAL;
			}
	return 0;
}

int dpc_job_spec_from_json_ex(const json_t *obj, struct dpc_job_spec *out,
			      bool require_name, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char b[64];
	bool have_name = false;
	int rc = 0;

	if (!json_is_object(obj)) {
		json_brief(obj, b, sizeof(b));
		set_err(err, errlen, "job: must be an object, got %s", b);
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, k, v) {
		if (strcmp(k, "name") == 0) {
			const char *s = json_string_value(v);

			if (!s || json_string_length(v) != strlen(s) ||
			    !dpc_job_name_valid(s)) {
				json_brief(v, b, sizeof(b));
				set_err(err, errlen,
					"name: must match [A-Za-z0-9._-]{1,64} and not be \".\" or \"..\", got %s",
					b);
				return -EINVAL;
			}
			snprintf(out->name, sizeof(out->name), "%s", s);
			have_name = true;
		} else if (strcmp(k, "filter") == 0) {
			const char *s = json_string_value(v);

			if (!s) {
				json_brief(v, b, sizeof(b));
				set_err(err, errlen, "filter: must be a string, got %s", b);
				return -EINVAL;
			}
			if (json_string_length(v) != strlen(s)) {
				set_err(err, errlen, "filter: contains a NUL byte");
				return -EINVAL;
			}
			if (strlen(s) > DPC_JOB_FILTER_MAX) {
				set_err(err, errlen, "filter: longer than %d bytes (%zu)",
					DPC_JOB_FILTER_MAX, strlen(s));
				return -EINVAL;
			}
			snprintf(out->filter, sizeof(out->filter), "%s", s);
		} else if (strcmp(k, "write") == 0) {
			const char *s = json_string_value(v);

			if (s && strcmp(s, "frame") == 0)
				out->write = DPC_JOB_WRITE_FRAME;
			else if (s && strcmp(s, "inner") == 0)
				out->write = DPC_JOB_WRITE_INNER;
			else {
				json_brief(v, b, sizeof(b));
				set_err(err, errlen,
					"write: must be \"frame\" or \"inner\", got %s", b);
				return -EINVAL;
			}
		} else if (strcmp(k, "snaplen") == 0) {
			uint64_t u;

			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > DPC_JOB_SNAPLEN_MAX) {
				json_brief(v, b, sizeof(b));
				set_err(err, errlen, "snaplen: must be an integer 1..%d, got %s",
					DPC_JOB_SNAPLEN_MAX, b);
				return -EINVAL;
			}
			u = (uint64_t)json_integer_value(v);
			out->snaplen = (uint32_t)u;
		} else if (strcmp(k, "limits") == 0) {
			rc = parse_limits(v, &out->limits, err, errlen);
		} else if (strcmp(k, "rotate") == 0) {
			rc = parse_rotate(v, &out->rotate, err, errlen);
		} else if (strcmp(k, "ports") == 0) {
			size_t i;
			json_t *p;

			if (!json_is_array(v) || json_array_size(v) > DPC_JOB_PORTS_MAX) {
				json_brief(v, b, sizeof(b));
				set_err(err, errlen,
					"ports: must be an array of at most %d port indices, got %s",
					DPC_JOB_PORTS_MAX, b);
				return -EINVAL;
			}
			json_array_foreach(v, i, p) {
				if (!json_is_integer(p) || json_integer_value(p) < 0 ||
				    json_integer_value(p) >= 65535) {
					json_brief(p, b, sizeof(b));
					set_err(err, errlen,
						"ports[%zu]: must be a port index >= 0, got %s", i, b);
					return -EINVAL;
				}
				out->ports[i] = (uint16_t)json_integer_value(p);
			}
			out->n_ports = (uint16_t)json_array_size(v);
		} else {
			set_err(err, errlen, "%s: unknown key", k);
			return -EINVAL;
		}
		if (rc)
			return rc;
	}
	if (require_name && !have_name) {
		set_err(err, errlen, "name: missing");
		return -EINVAL;
	}
	if (!require_name && !out->name[0]) {
		/* validate everything but the (absent) name */
		out->name[0] = 'x';
		rc = dpc_job_spec_validate(out, err, errlen);
		out->name[0] = 0;
		return rc;
	}
	return dpc_job_spec_validate(out, err, errlen);
}

int dpc_job_spec_from_json(const json_t *obj, struct dpc_job_spec *out,
			   char *err, size_t errlen)
{
	return dpc_job_spec_from_json_ex(obj, out, true, err, errlen);
}

const char *dpc_job_write_name(enum dpc_job_write w)
{
	return w == DPC_JOB_WRITE_INNER ? "inner" : "frame";
}

const char *dpc_job_rotate_mode_name(enum dpc_job_rotate_mode m)
{
	return m == DPC_JOB_ROTATE_RING ? "ring" : "stop";
}

json_t *dpc_job_spec_to_json(const struct dpc_job_spec *s)
{
	json_t *ports = json_array();
	unsigned i;

	if (!ports)
		return NULL;
	for (i = 0; i < s->n_ports; i++)
		json_array_append_new(ports, json_integer(s->ports[i]));
	return json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:s}, s:o}",
			 "name", s->name, "filter", s->filter,
			 "write", dpc_job_write_name(s->write),
			 "snaplen", (json_int_t)s->snaplen,
			 "limits",
			 "packets", (json_int_t)s->limits.packets,
			 "bytes", (json_int_t)s->limits.bytes,
			 "duration_s", (json_int_t)s->limits.duration_s,
			 "rotate",
			 "file_bytes", (json_int_t)s->rotate.file_bytes,
			 "file_seconds", (json_int_t)s->rotate.file_seconds,
			 "max_files", (json_int_t)s->rotate.max_files,
			 "mode", dpc_job_rotate_mode_name(s->rotate.mode),
			 "ports", ports);
}

/* ---------------------------------------------------------------- states */

static const char *const state_names[DPC_JOB_STATE_COUNT] = {
	[DPC_JOB_RUNNING] = "running",
	[DPC_JOB_COMPLETED] = "completed",
	[DPC_JOB_STOPPED] = "stopped",
	[DPC_JOB_FAILED] = "failed",
};

const char *dpc_job_state_name(enum dpc_job_state s)
{
	return (unsigned)s < DPC_JOB_STATE_COUNT ? state_names[s] : "unknown";
}

int dpc_job_state_from_name(const char *name)
{
	int i;

	for (i = 0; name && i < DPC_JOB_STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

static const char *const reason_names[DPC_JOB_REASON_COUNT] = {
#define DPC_JOB_REASON_STR(id, s) [DPC_JOB_REASON_##id] = s,
	DPC_JOB_REASONS(DPC_JOB_REASON_STR)
#undef DPC_JOB_REASON_STR
};

const char *dpc_job_reason_name(enum dpc_job_reason r)
{
	return (unsigned)r < DPC_JOB_REASON_COUNT ? reason_names[r] : "unknown";
}

enum dpc_job_state dpc_job_reason_state(enum dpc_job_reason r)
{
	switch (r) {
	case DPC_JOB_REASON_PACKETS:
	case DPC_JOB_REASON_BYTES:
	case DPC_JOB_REASON_DURATION:
	case DPC_JOB_REASON_FILES:
		return DPC_JOB_COMPLETED;
	case DPC_JOB_REASON_REQUEST:
	case DPC_JOB_REASON_SHUTDOWN:
	case DPC_JOB_REASON_IDLE:
		return DPC_JOB_STOPPED;
	case DPC_JOB_REASON_DISK_LOW:
	case DPC_JOB_REASON_DISK_ERROR:
	case DPC_JOB_REASON_START_ERROR:
		return DPC_JOB_FAILED;
	default:
		return DPC_JOB_RUNNING;
	}
}

int dpc_job_status_end(struct dpc_job_status *st, enum dpc_job_reason reason,
		       uint64_t now_ns)
{
	if (reason == DPC_JOB_REASON_NONE || (unsigned)reason >= DPC_JOB_REASON_COUNT)
		return -EINVAL;
	if (st->state != DPC_JOB_RUNNING)
		return -EALREADY;
	st->state = dpc_job_reason_state(reason);
	st->reason = reason;
	st->ended_ns = now_ns;
	return 0;
}

/* -------------------------------------------------------------- counters */

static const char *const drop_names[DPC_DROP_COUNT] = {
#define DPC_DROP(id, name, help) [DPC_DROP_##id] = name,
#include "dpc_drops.def"
#undef DPC_DROP
};

static const char *const drop_helps[DPC_DROP_COUNT] = {
#define DPC_DROP(id, name, help) [DPC_DROP_##id] = help,
#include "dpc_drops.def"
#undef DPC_DROP
};

const char *dpc_drop_name(enum dpc_drop d)
{
	return (unsigned)d < DPC_DROP_COUNT ? drop_names[d] : "unknown";
}

const char *dpc_drop_help(enum dpc_drop d)
{
	return (unsigned)d < DPC_DROP_COUNT ? drop_helps[d] : "";
}

uint64_t dpc_job_counters_dropped(const struct dpc_job_counters *c)
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < DPC_DROP_COUNT; i++)
		s += c->dropped[i];
	return s;
}

int64_t dpc_job_counters_in_flight(const struct dpc_job_counters *c)
{
	return (int64_t)(c->matched - c->written - dpc_job_counters_dropped(c));
}

json_t *dpc_job_counters_to_json(const struct dpc_job_counters *c)
{
	json_t *d = json_object();
	int i;

	if (!d)
		return NULL;
	for (i = 0; i < DPC_DROP_COUNT; i++)
		json_object_set_new(d, drop_names[i], json_integer((json_int_t)c->dropped[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			 "matched", (json_int_t)c->matched,
			 "matched_bytes", (json_int_t)c->matched_bytes,
			 "written", (json_int_t)c->written,
			 "written_bytes", (json_int_t)c->written_bytes,
			 "wire_bytes", (json_int_t)c->wire_bytes,
			 "snapped", (json_int_t)c->snapped,
			 "files", (json_int_t)c->files,
			 "files_deleted", (json_int_t)c->files_deleted,
			 "dropped_total", (json_int_t)dpc_job_counters_dropped(c),
			 "in_flight", (json_int_t)dpc_job_counters_in_flight(c),
			 "dropped", d);
}

static json_t *progress_one(uint64_t done, uint64_t limit)
{
	return json_pack("{s:I, s:I, s:f}", "done", (json_int_t)done,
			 "limit", (json_int_t)limit,
			 "fraction", limit ? (double)done / (double)limit : 0.0);
}

json_t *dpc_job_progress_to_json(const struct dpc_job_spec *spec,
				 const struct dpc_job_counters *c,
				 uint64_t elapsed_ns)
{
	json_t *p = json_object();

	if (!p)
		return NULL;
	if (spec->limits.packets)
		json_object_set_new(p, "packets",
				    progress_one(c->written, spec->limits.packets));
	if (spec->limits.bytes)
		json_object_set_new(p, "bytes",
				    progress_one(c->written_bytes, spec->limits.bytes));
	if (spec->limits.duration_s)
		json_object_set_new(p, "duration_s",
				    progress_one(elapsed_ns / 1000000000ull,
						 spec->limits.duration_s));
	return p;
}
