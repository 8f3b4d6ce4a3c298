/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_server.c - the JSON-RPC 2.0 event loop: accept, credentials, bounded
 * line reading, request validation, dispatch, batches, bounded output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dpc_ctl.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#define LISTEN_TAG ((void *)1)
#define ACCEPT_PER_POLL 16
#define REASON_MAX 512

struct reply_set {
	struct dpc_ctl_server *srv;
	struct dpc_ctl_conn *conn;     /* NULL once the connection is gone */
	json_t *responses;             /* array */
	unsigned pending;              /* deferred calls not answered yet */
	bool batch;
	struct reply_set *next;        /* server's list of sets still pending */
};

struct dpc_ctl_call {
	struct dpc_ctl_server *srv;
	struct dpc_ctl_conn *conn;
	struct reply_set *set;
	json_t *id;                    /* borrowed; NULL for a notification */
	bool notification;
	int err_code;
	json_t *err_data;
	bool deferred;
};

struct dpc_ctl_deferred {
	struct dpc_ctl_server *srv;
	struct reply_set *set;
	json_t *id;                    /* own ref; NULL for a notification */
	bool notification;
};

struct dpc_ctl_conn {
	struct dpc_ctl_server *srv;
	int fd;                        /* -1: in-memory */
	bool memory;
	enum dpc_ctl_access access;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char *in;                      /* DPC_CTL_LINE_MAX + 1 bytes */
	size_t in_len;
	char *out;
	size_t out_off, out_len, out_cap;
	uint64_t last_ms;              /* last complete request (or accept) */
	bool subscribed;
	bool closing;                  /* close once output is flushed */
	bool dead;                     /* closed; freed by reap */
	bool want_out;                 /* EPOLLOUT registered */
	struct dpc_ctl_conn *next;
};

struct dpc_ctl_server {
	struct dpc_ctl_config cfg;
	const struct dpc_ctl_method *methods;
	unsigned n_methods;
	void *ctx;
	int ep;
	int lfd;
	bool unlink_on_close;
	struct dpc_ctl_conn *conns;
	unsigned n_conns;              /* live (not dead) */
	struct reply_set *pending_sets;
	struct dpc_ctl_counters cnt;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const struct dpc_ctl_code_name *app_codes;
static unsigned n_app_codes;

void dpc_ctl_register_codes(const struct dpc_ctl_code_name *names, unsigned n)
{
	app_codes = names;
	n_app_codes = n;
}

const char *dpc_ctl_code_message(int code)
{
	for (unsigned i = 0; i < n_app_codes; i++)
		if (app_codes[i].code == code)
			return app_codes[i].message;
	switch (code) {
	case DPC_CTL_E_PARSE: return "Parse error";
	case DPC_CTL_E_INVALID_REQUEST: return "Invalid Request";
	case DPC_CTL_E_METHOD: return "Method not found";
	case DPC_CTL_E_PARAMS: return "Invalid params";
	case DPC_CTL_E_INTERNAL: return "Internal error";
	case DPC_CTL_E_DENIED: return "Access denied";
	case DPC_CTL_E_READ_ONLY: return "Read-only client";
	case DPC_CTL_E_BUSY: return "Too many clients";
	case DPC_CTL_E_TOO_LARGE: return "Request too large";
	case DPC_CTL_E_IDLE: return "Idle timeout";
	default: return "Server error";
	}
}

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *dpc_ctl_safe_string(const char *s, size_t len)
{
	char *buf;
	size_t o = 0;
	json_t *j;

	if (s == NULL)
		return json_string("");
	buf = malloc(len + 1);
	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		const unsigned char *u = (const unsigned char *)s + i;
		size_t l = utf8_seq(u, len - i);

		if (l == 0 || (l == 1 && (*u < 0x20 || *u == 0x7f))) {
			buf[o++] = '?';
			i++;
			continue;
		}
		memcpy(buf + o, u, l);
		o += l;
		i += l;
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static json_t *error_data(const char *field, json_t *extra, const char *fmt,
			  va_list ap)
{
	char reason[REASON_MAX];
	json_t *data;
	int n;

	n = vsnprintf(reason, sizeof(reason), fmt, ap);
	if (n < 0)
		reason[0] = '\0';
	data = json_is_object(extra) ? json_incref(extra) : json_object();
	json_decref(extra);
	if (data == NULL)
		return NULL;
	json_object_set_new(data, "field", dpc_ctl_safe_string(
		field ? field : "params", strlen(field ? field : "params")));
	json_object_set_new(data, "reason",
			    dpc_ctl_safe_string(reason, strlen(reason)));
	return data;
}

static json_t *make_data(const char *field, json_t *extra, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static json_t *make_data(const char *field, json_t *extra, const char *fmt, ...)
{
	va_list ap;
	json_t *d;

	va_start(ap, fmt);
	d = error_data(field, extra, fmt, ap);
	va_end(ap);
	return d;
}

static json_t *error_response(json_t *id, int code, json_t *data)
{
	json_t *e = json_pack("{s:i, s:s}", "code", code, "message",
			      dpc_ctl_code_message(code));

	if (e && data)
		json_object_set_new(e, "data", data);
	else
		json_decref(data);
	return json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id",
			 id ? id : json_null(), "error", e);
}

/* ---- connections: output ---- */

static void conn_kill(struct dpc_ctl_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c->closing = true;
	c->srv->n_conns--;
	if (c->fd >= 0) {
		epoll_ctl(c->srv->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

static void conn_update_events(struct dpc_ctl_conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	bool want_out = c->out_len > c->out_off;

	if (c->memory || c->dead)
		return;
	ev.events = (c->closing ? 0 : EPOLLIN) | (want_out ? EPOLLOUT : 0);
	epoll_ctl(c->srv->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = want_out;
}

static void conn_flush(struct dpc_ctl_conn *c)
{
	if (c->dead || c->memory)
		return;
	while (c->out_len > c->out_off) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_kill(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->closing && c->out_len == 0) {
		conn_kill(c);
		return;
	}
	conn_update_events(c);
}

/* Queue one line; drops the connection when over its output bound. */
static int conn_queue(struct dpc_ctl_conn *c, const char *s, size_t n)
{
	size_t pending, need;

	if (c->dead)
		return -EPIPE;
	pending = c->out_len - c->out_off;
	/* One message is always taken onto an empty queue (an answer may be
	 * larger than the bound); more while the client has not read is not. */
	if (pending > 0 && pending + n + 1 > c->srv->cfg.max_output_bytes) {
		c->srv->cnt.dropped_slow++;
		conn_kill(c);
		return -ENOBUFS;
	}
	if (c->out_off > 0 && c->out_len + n + 1 > c->out_cap) {
		memmove(c->out, c->out + c->out_off, pending);
		c->out_len = pending;
		c->out_off = 0;
	}
	need = c->out_len + n + 1;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL) {
			conn_kill(c);
			return -ENOMEM;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
	return 0;
}

static int conn_send_json(struct dpc_ctl_conn *c, json_t *j)
{
	char *s;
	int rc;

	if (j == NULL)
		return -ENOMEM;
	s = json_dumps(j, JSON_COMPACT);
	if (s == NULL)
		return -ENOMEM;
	rc = conn_queue(c, s, strlen(s));
	free(s);
	if (rc == 0)
		conn_flush(c);
	return rc;
}

static int conn_send_json_new(struct dpc_ctl_conn *c, json_t *j)
{
	int rc = conn_send_json(c, j);

	json_decref(j);
	return rc;
}

/* Error line for a connection not yet (or no longer) in the loop. */
static void send_error_now(int fd, int code, const char *reason)
{
	json_t *r = error_response(NULL, code, make_data("connection", NULL,
						       "%s", reason));
	char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;

	if (s) {
		size_t n = strlen(s);

		s[n] = '\n';
		(void)!send(fd, s, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(s);
	}
	json_decref(r);
}

/* ---- reply sets ---- */

static void set_add(struct reply_set *set, json_t *resp)
{
	if (resp == NULL)
		return;
	if (json_is_object(resp) && json_object_get(resp, "error"))
		set->srv->cnt.errors++;
	json_array_append_new(set->responses, resp);
}

static void set_finish(struct dpc_ctl_server *srv, struct reply_set *set)
{
	if (set->pending > 0) {
		/* keep it until the deferred calls answer */
		for (struct reply_set *s = srv->pending_sets; s; s = s->next)
			if (s == set)
				return;
		set->next = srv->pending_sets;
		srv->pending_sets = set;
		return;
	}
	for (struct reply_set **pp = &srv->pending_sets; *pp; pp = &(*pp)->next) {
		if (*pp == set) {
			*pp = set->next;
			break;
		}
	}
	if (set->conn && !set->conn->dead && json_array_size(set->responses) > 0) {
		if (set->batch)
			conn_send_json(set->conn, set->responses);
		else
			conn_send_json(set->conn,
				       json_array_get(set->responses, 0));
	}
	json_decref(set->responses);
	free(set);
}

/* ---- handler API ---- */

json_t *dpc_ctl_call_error(struct dpc_ctl_call *call, int code,
			   const char *field, json_t *extra,
			   const char *fmt, ...)
{
	va_list ap;

	json_decref(call->err_data);
	va_start(ap, fmt);
	call->err_data = error_data(field, extra, fmt, ap);
	va_end(ap);
	call->err_code = code;
	return NULL;
}

void dpc_ctl_call_subscribe(struct dpc_ctl_call *call)
{
	if (call->conn)
		call->conn->subscribed = true;
}

uid_t dpc_ctl_call_uid(const struct dpc_ctl_call *call)
{
	return call->conn ? call->conn->uid : (uid_t)-1;
}

pid_t dpc_ctl_call_pid(const struct dpc_ctl_call *call)
{
	return call->conn ? call->conn->pid : 0;
}

struct dpc_ctl_deferred *dpc_ctl_call_defer(struct dpc_ctl_call *call)
{
	struct dpc_ctl_deferred *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->srv = call->srv;
	d->set = call->set;
	d->id = call->id ? json_incref(call->id) : NULL;
	d->notification = call->notification;
	call->set->pending++;
	call->deferred = true;
	return d;
}

static void deferred_done(struct dpc_ctl_deferred *d, json_t *resp)
{
	struct reply_set *set = d->set;

	if (d->notification || set->conn == NULL)
		json_decref(resp);
	else
		set_add(set, resp);
	set->pending--;
	if (set->pending == 0)
		set_finish(d->srv, set);
	json_decref(d->id);
	free(d);
}

void dpc_ctl_deferred_reply(struct dpc_ctl_deferred *d, json_t *result)
{
	if (d == NULL) {
		json_decref(result);
		return;
	}
	deferred_done(d, json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0",
				   "id", d->id, "result",
				   result ? result : json_null()));
}

void dpc_ctl_deferred_error(struct dpc_ctl_deferred *d, int code,
			    const char *field, json_t *extra,
			    const char *fmt, ...)
{
	va_list ap;
	json_t *data;

	if (d == NULL) {
		json_decref(extra);
		return;
	}
	va_start(ap, fmt);
	data = error_data(field, extra, fmt, ap);
	va_end(ap);
	deferred_done(d, error_response(d->id, code, data));
}

int dpc_ctl_check_keys(struct dpc_ctl_call *call, const json_t *obj,
		       const char *prefix, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;
		char field[128];

		for (unsigned i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], key) == 0)
				ok = true;
		if (ok)
			continue;
		snprintf(field, sizeof(field), "%s%s%.64s", prefix ? prefix : "",
			 prefix && *prefix ? "." : "", key);
		dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, field, NULL,
				   "unknown key (allowed: see docs/control-protocol.md)");
		return -EINVAL;
	}
	return 0;
}

/* ---- requests ---- */

static const struct dpc_ctl_method *find_method(struct dpc_ctl_server *srv,
						const char *name)
{
	for (unsigned i = 0; i < srv->n_methods; i++)
		if (strcmp(srv->methods[i].name, name) == 0)
			return &srv->methods[i];
	return NULL;
}

static const char *const request_keys[] = { "jsonrpc", "method", "params",
					    "id", NULL };

static void handle_one(struct dpc_ctl_server *srv, struct dpc_ctl_conn *c,
		       struct reply_set *set, json_t *req)
{
	struct dpc_ctl_call call = { .srv = srv, .conn = c, .set = set };
	const struct dpc_ctl_method *m;
	json_t *id, *jv, *method, *params, *result;
	const char *key;
	json_t *v;

	srv->cnt.requests++;
	if (!json_is_object(req)) {
		set_add(set, error_response(NULL, DPC_CTL_E_INVALID_REQUEST,
			make_data("request", NULL,
				  "a request must be a JSON object")));
		return;
	}
	id = json_object_get(req, "id");
	if (id && !json_is_string(id) && !json_is_number(id) &&
	    !json_is_null(id)) {
		set_add(set, error_response(NULL, DPC_CTL_E_INVALID_REQUEST,
			make_data("id", NULL,
				  "id must be a string, a number or null")));
		return;
	}
	json_object_foreach(req, key, v) {
		bool ok = false;

		for (unsigned i = 0; request_keys[i]; i++)
			if (strcmp(request_keys[i], key) == 0)
				ok = true;
		if (!ok) {
			set_add(set, error_response(id, DPC_CTL_E_INVALID_REQUEST,
				make_data(key, NULL, "unknown member of a request "
					  "(allowed: jsonrpc, method, params, id)")));
			return;
		}
	}
	jv = json_object_get(req, "jsonrpc");
	if (!json_is_string(jv) || strcmp(json_string_value(jv), "2.0") != 0) {
		set_add(set, error_response(id, DPC_CTL_E_INVALID_REQUEST,
			make_data("jsonrpc", NULL, jv ? "must be the string \"2.0\""
				  : "missing (must be \"2.0\")")));
		return;
	}
	method = json_object_get(req, "method");
	if (!json_is_string(method)) {
		set_add(set, error_response(id, DPC_CTL_E_INVALID_REQUEST,
			make_data("method", NULL, method ? "must be a string"
				  : "missing")));
		return;
	}
	call.id = id;
	call.notification = id == NULL;
	params = json_object_get(req, "params");
	if (params && !json_is_object(params)) {
		if (!call.notification)
			set_add(set, error_response(id, json_is_array(params)
				? DPC_CTL_E_PARAMS : DPC_CTL_E_INVALID_REQUEST,
				make_data("params", NULL, "params must be an object "
					  "(parameters by name)")));
		return;
	}
	m = find_method(srv, json_string_value(method));
	if (m == NULL) {
		if (!call.notification)
			set_add(set, error_response(id, DPC_CTL_E_METHOD,
				make_data("method", NULL, "unknown method \"%.64s\"",
					  json_string_value(method))));
		return;
	}
	if (c && c->access != DPC_CTL_ACCESS_FULL && !m->read_only) {
		if (!call.notification)
			set_add(set, error_response(id, DPC_CTL_E_READ_ONLY,
				make_data("method", NULL, "uid %ld may only call "
					  "read-only methods; %s changes state",
					  (long)c->uid, m->name)));
		return;
	}
	if (params)
		json_incref(params);
	else
		params = json_object();
	result = m->handler(&call, params, srv->ctx);
	json_decref(params);
	if (call.deferred) {
		json_decref(result);
		json_decref(call.err_data);
		return;
	}
	if (call.notification) {
		json_decref(result);
		json_decref(call.err_data);
		return;
	}
	if (result) {
		json_decref(call.err_data);
		set_add(set, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0",
				       "id", id, "result", result));
	} else if (call.err_code) {
		set_add(set, error_response(id, call.err_code, call.err_data));
	} else {
		json_decref(call.err_data);
		set_add(set, error_response(id, DPC_CTL_E_INTERNAL,
			make_data("method", NULL, "%s failed without a reason",
				  m->name)));
	}
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static void handle_line(struct dpc_ctl_server *srv, struct dpc_ctl_conn *c,
			const char *line, size_t len)
{
	struct reply_set *set;
	json_error_t jerr;
	json_t *req;

	if (blank(line, len))
		return;
	if (c)
		c->last_ms = now_ms();
	set = calloc(1, sizeof(*set));
	if (set == NULL)
		return;
	set->srv = srv;
	set->conn = c;
	set->responses = json_array();
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			 &jerr);
	if (req == NULL) {
		json_t *extra = json_pack("{s:i, s:i}", "column", jerr.column,
					  "position", jerr.position);

		srv->cnt.requests++;
		set_add(set, error_response(NULL, DPC_CTL_E_PARSE,
			make_data("request", extra, "%s", jerr.text)));
	} else if (json_is_array(req)) {
		size_t i;
		json_t *e;

		if (json_array_size(req) == 0) {
			srv->cnt.requests++;
			set_add(set, error_response(NULL, DPC_CTL_E_INVALID_REQUEST,
				make_data("request", NULL, "empty batch")));
		} else if (json_array_size(req) > DPC_CTL_BATCH_MAX) {
			srv->cnt.requests++;
			set_add(set, error_response(NULL, DPC_CTL_E_INVALID_REQUEST,
				make_data("request", NULL, "batch of %zu requests; at "
					  "most %d", json_array_size(req),
					  DPC_CTL_BATCH_MAX)));
		} else {
			set->batch = true;
			json_array_foreach(req, i, e)
				handle_one(srv, c, set, e);
		}
	} else {
		handle_one(srv, c, set, req);
	}
	json_decref(req);
	set_finish(srv, set);
}

/* Split buffered input into lines; returns when the connection closes. */
static void conn_process(struct dpc_ctl_conn *c, bool eof)
{
	struct dpc_ctl_server *srv = c->srv;
	size_t start = 0;

	while (!c->closing) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);

		if (nl == NULL)
			break;
		handle_line(srv, c, c->in + start, (size_t)(nl - (c->in + start)));
		start = (size_t)(nl - c->in) + 1;
	}
	if (c->closing)
		return;
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (eof) {
		/* A last request without its newline is still answered. */
		if (c->in_len > 0)
			handle_line(srv, c, c->in, c->in_len);
		c->in_len = 0;
		if (!c->dead) {
			c->closing = true;
			conn_flush(c);
		}
		return;
	}
	if (c->in_len > DPC_CTL_LINE_MAX) {
		srv->cnt.requests++;
		srv->cnt.errors++;
		srv->cnt.dropped_too_large++;
		c->in_len = 0;
		conn_send_json_new(c, error_response(NULL, DPC_CTL_E_TOO_LARGE,
			make_data("request", NULL,
				  "request line longer than %d bytes; closing",
				  DPC_CTL_LINE_MAX)));
		if (!c->dead) {
			c->closing = true;
			conn_flush(c);
		}
	}
}

static int conn_input(struct dpc_ctl_conn *c, const char *data, size_t len,
		      bool eof)
{
	while (len > 0 && !c->closing) {
		size_t room = DPC_CTL_LINE_MAX + 1 - c->in_len;
		size_t n = len < room ? len : room;

		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
		data += n;
		len -= n;
		conn_process(c, false);
	}
	if (eof && !c->closing)
		conn_process(c, true);
	return c->dead ? -EPIPE : 0;
}

static void conn_readable(struct dpc_ctl_conn *c)
{
	size_t room = DPC_CTL_LINE_MAX + 1 - c->in_len;
	ssize_t n;

	n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_kill(c);
		return;
	}
	if (n == 0) {
		conn_process(c, true);
		return;
	}
	c->in_len += (size_t)n;
	conn_process(c, false);
}

static struct dpc_ctl_conn *conn_new(struct dpc_ctl_server *srv, int fd,
				     enum dpc_ctl_access access)
{
	struct dpc_ctl_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->in = malloc(DPC_CTL_LINE_MAX + 1);
	if (c->in == NULL) {
		free(c);
		return NULL;
	}
	c->srv = srv;
	c->fd = fd;
	c->memory = fd < 0;
	c->access = access;
	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	c->last_ms = now_ms();
	if (fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			free(c->in);
			free(c);
			return NULL;
		}
	}
	c->next = srv->conns;
	srv->conns = c;
	srv->n_conns++;
	srv->cnt.accepted++;
	return c;
}

static void conn_free(struct dpc_ctl_server *srv, struct dpc_ctl_conn *c)
{
	for (struct reply_set *s = srv->pending_sets; s; s = s->next)
		if (s->conn == c)
			s->conn = NULL;
	free(c->in);
	free(c->out);
	free(c);
}

static void reap(struct dpc_ctl_server *srv)
{
	struct dpc_ctl_conn **pp = &srv->conns;

	while (*pp) {
		struct dpc_ctl_conn *c = *pp;

		if (c->dead && !c->memory) {
			*pp = c->next;
			conn_free(srv, c);
		} else {
			pp = &c->next;
		}
	}
}

static void accept_ready(struct dpc_ctl_server *srv)
{
	for (int i = 0; i < ACCEPT_PER_POLL; i++) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		enum dpc_ctl_access access;
		struct dpc_ctl_conn *c;
		char why[160];
		int fd;

		fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
			close(fd);
			continue;
		}
		{
			/* supplementary groups as they were at connect() */
			gid_t groups[256];
			socklen_t gl = sizeof(groups);
			unsigned ng = 0;

			if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0)
				ng = gl / sizeof(gid_t);
			access = dpc_ctl_access_for_groups(&srv->cfg, cred.uid,
							   cred.gid, groups, ng);
		}
		if (access == DPC_CTL_ACCESS_DENIED) {
			srv->cnt.refused_denied++;
			snprintf(why, sizeof(why), "uid %ld gid %ld is not allowed "
				 "on this socket", (long)cred.uid, (long)cred.gid);
			send_error_now(fd, DPC_CTL_E_DENIED, why);
			close(fd);
			continue;
		}
		if (srv->n_conns >= srv->cfg.max_clients) {
			srv->cnt.refused_busy++;
			snprintf(why, sizeof(why), "%u clients connected, the "
				 "limit (max_clients); try again later",
				 srv->n_conns);
			send_error_now(fd, DPC_CTL_E_BUSY, why);
			close(fd);
			continue;
		}
		c = conn_new(srv, fd, access);
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
	}
}

static void idle_check(struct dpc_ctl_server *srv)
{
	uint64_t now;

	if (srv->cfg.idle_timeout_ms == 0)
		return;
	now = now_ms();
	for (struct dpc_ctl_conn *c = srv->conns; c; c = c->next) {
		if (c->dead || c->memory)
			continue;
		if (now - c->last_ms < srv->cfg.idle_timeout_ms)
			continue;
		if (c->closing) {
			/* had its chance to read what was left */
			conn_kill(c);
			continue;
		}
		if (c->subscribed)
			continue;
		srv->cnt.dropped_idle++;
		srv->cnt.errors++;
		c->last_ms = now;
		conn_send_json_new(c, error_response(NULL, DPC_CTL_E_IDLE,
			make_data("connection", NULL, "no request for %u ms; "
				  "closing", srv->cfg.idle_timeout_ms)));
		if (!c->dead) {
			c->closing = true;
			conn_flush(c);
		}
	}
}

int dpc_ctl_server_poll(struct dpc_ctl_server *srv, int timeout_ms)
{
	struct epoll_event evs[64];
	int n;

	n = epoll_wait(srv->ep, evs, 64, timeout_ms < 0 ? 0 : timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		struct dpc_ctl_conn *c = evs[i].data.ptr;

		if (evs[i].data.ptr == LISTEN_TAG) {
			accept_ready(srv);
			continue;
		}
		if (c->dead)
			continue;
		if (evs[i].events & EPOLLOUT)
			conn_flush(c);
		if (c->dead)
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			if (c->closing) {
				if (evs[i].events & (EPOLLHUP | EPOLLERR))
					conn_kill(c);
				continue;
			}
			conn_readable(c);
		}
	}
	idle_check(srv);
	reap(srv);
	return n;
}

/* ---- server ---- */

static int open_socket(struct dpc_ctl_server *srv, char *err, size_t errlen)
{
	const struct dpc_ctl_config *cfg = &srv->cfg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sockaddr_un tmp = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = LISTEN_TAG };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control.socket \"%s\": path too long",
			 cfg->socket_path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, cfg->socket_path);
	if (lstat(cfg->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "control.socket \"%s\": exists and "
				 "is not a socket", cfg->socket_path);
			return -EEXIST;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			snprintf(err, errlen, "control.socket \"%s\": another "
				 "daemon is serving it", cfg->socket_path);
			return -EADDRINUSE;
		}
		if (fd >= 0)
			close(fd);
		unlink(cfg->socket_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return rc;
	}
	/*
	 * Bind under a temporary name, set group and mode, listen, then
	 * rename into place: a client never finds the socket with the wrong
	 * permissions or not yet listening.
	 */
	if ((size_t)snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%ld.tmp",
			     cfg->socket_path, (long)getpid()) >= sizeof(tmp.sun_path))
		tmp = sa;     /* no room for a suffix: bind in place */
	else
		unlink(tmp.sun_path);
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&tmp, sizeof(tmp));
	umask(old);
	if (rc != 0) {
		rc = -errno;
		snprintf(err, errlen, "control.socket \"%s\": bind: %s",
			 cfg->socket_path, strerror(errno));
		close(fd);
		return rc;
	}
	if ((cfg->socket_group >= 0 &&
	     chown(tmp.sun_path, (uid_t)-1, (gid_t)cfg->socket_group) != 0) ||
	    chmod(tmp.sun_path, cfg->socket_mode) != 0 ||
	    listen(fd, 128) != 0 ||
	    (strcmp(tmp.sun_path, sa.sun_path) != 0 &&
	     rename(tmp.sun_path, sa.sun_path) != 0) ||
	    epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		rc = -errno;
		snprintf(err, errlen, "control.socket \"%s\": %s",
			 cfg->socket_path, strerror(errno));
		unlink(tmp.sun_path);
		unlink(sa.sun_path);
		close(fd);
		return rc;
	}
	srv->unlink_on_close = true;
	srv->lfd = fd;
	return 0;
}

struct dpc_ctl_server *dpc_ctl_server_open(const struct dpc_ctl_config *cfg,
					   const struct dpc_ctl_method *methods,
					   unsigned n_methods, void *ctx,
					   char *err, size_t errlen)
{
	struct dpc_ctl_server *srv = calloc(1, sizeof(*srv));
	int rc;

	if (srv == NULL) {
		snprintf(err, errlen, "control: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	srv->cfg = *cfg;
	if (srv->cfg.max_clients == 0)
		srv->cfg.max_clients = 1;
	if (srv->cfg.max_output_bytes < 4096)
		srv->cfg.max_output_bytes = 4096;
	srv->methods = methods;
	srv->n_methods = n_methods;
	srv->ctx = ctx;
	srv->lfd = -1;
	srv->ep = epoll_create1(EPOLL_CLOEXEC);
	if (srv->ep < 0) {
		rc = -errno;
		snprintf(err, errlen, "control: epoll: %s", strerror(errno));
		goto fail;
	}
	if (cfg->socket_path[0] != '\0') {
		rc = open_socket(srv, err, errlen);
		if (rc != 0)
			goto fail;
	}
	return srv;
fail:
	if (srv->ep >= 0)
		close(srv->ep);
	free(srv);
	errno = -rc;
	return NULL;
}

int dpc_ctl_server_fd(const struct dpc_ctl_server *srv)
{
	return srv->ep;
}

unsigned dpc_ctl_server_clients(const struct dpc_ctl_server *srv)
{
	return srv->n_conns;
}

void dpc_ctl_server_counters(const struct dpc_ctl_server *srv,
			     struct dpc_ctl_counters *out)
{
	*out = srv->cnt;
}

unsigned dpc_ctl_server_notify(struct dpc_ctl_server *srv, const char *method,
			       json_t *params)
{
	json_t *n = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
			      method, "params", params ? params : json_object());
	unsigned count = 0;
	char *s;

	if (n == NULL)
		return 0;
	s = json_dumps(n, JSON_COMPACT);
	json_decref(n);
	if (s == NULL)
		return 0;
	for (struct dpc_ctl_conn *c = srv->conns; c; c = c->next) {
		if (c->dead || !c->subscribed || c->closing)
			continue;
		if (conn_queue(c, s, strlen(s)) == 0) {
			conn_flush(c);
			count++;
		}
	}
	free(s);
	/* no reap here: notify runs inside handlers, while the poll loop still
	 * holds pointers to connections; dead ones are freed at its end */
	return count;
}

void dpc_ctl_server_close(struct dpc_ctl_server *srv)
{
	struct dpc_ctl_conn *c;

	if (srv == NULL)
		return;
	while ((c = srv->conns) != NULL) {
		srv->conns = c->next;
		if (c->memory) {
			/* released by its owner: detach */
			c->srv = NULL;
			continue;
		}
		conn_kill(c);
		conn_free(srv, c);
	}
	/* Deferred calls outstanding keep their sets; detach them. */
	for (struct reply_set *s = srv->pending_sets; s; s = s->next)
		s->conn = NULL;
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->unlink_on_close)
		unlink(srv->cfg.socket_path);
	close(srv->ep);
	free(srv);
}

/* ---- caller-made connections ---- */

struct dpc_ctl_conn *dpc_ctl_server_attach(struct dpc_ctl_server *srv, int fd,
					   enum dpc_ctl_access access)
{
	struct dpc_ctl_conn *c = conn_new(srv, fd, access);

	if (c && fd >= 0) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
			c->uid = cred.uid;
			c->gid = cred.gid;
			c->pid = cred.pid;
		}
	}
	return c;
}

int dpc_ctl_conn_feed(struct dpc_ctl_conn *c, const void *data, size_t len)
{
	if (c->dead || c->srv == NULL)
		return -EPIPE;
	return conn_input(c, data, len, false);
}

char *dpc_ctl_conn_take_output(struct dpc_ctl_conn *c, size_t *len)
{
	size_t n = c->out_len - c->out_off;
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, c->out + c->out_off, n);
	s[n] = '\0';
	c->out_off = c->out_len = 0;
	if (len)
		*len = n;
	return s;
}

bool dpc_ctl_conn_closed(const struct dpc_ctl_conn *c)
{
	return c->dead || c->closing;
}

void dpc_ctl_conn_release(struct dpc_ctl_conn *c)
{
	struct dpc_ctl_server *srv;

	if (c == NULL)
		return;
	srv = c->srv;
	if (srv == NULL) {
		free(c->in);
		free(c->out);
		free(c);
		return;
	}
	if (!c->dead)
		conn_kill(c);
	for (struct dpc_ctl_conn **pp = &srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	conn_free(srv, c);
}
