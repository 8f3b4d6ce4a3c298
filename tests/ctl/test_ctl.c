/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_ctl.c - lib/ctl against a fake method table: every error code with
 * its data, batches, notifications, deferred answers, the line limit, the
 * client limit, slow readers, idle timeout, credentials, read-only clients,
 * config parsing and output-directory confinement. No daemon needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dpc_ctl.h"
#include "dpc_test.h"

static struct dpc_ctl_deferred *g_deferred;

static json_t *m_echo(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)call;
	(void)ctx;
	return json_incref(params);
}

static json_t *m_start(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	static const char *const keys[] = { "name", "n", NULL };
	json_t *n;

	(void)ctx;
	if (dpc_ctl_check_keys(call, params, "params", keys) != 0)
		return NULL;
	n = json_object_get(params, "n");
	if (n && !json_is_integer(n))
		return dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.n",
					  json_pack("{s:i}", "column", 7),
					  "must be an integer");
	return json_pack("{s:b}", "started", 1);
}

static json_t *m_nothing(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)call;
	(void)params;
	(void)ctx;
	return NULL;
}

static json_t *m_sub(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)params;
	(void)ctx;
	dpc_ctl_call_subscribe(call);
	return json_pack("{s:b}", "subscribed", 1);
}

static json_t *m_later(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)params;
	(void)ctx;
	g_deferred = dpc_ctl_call_defer(call);
	return NULL;
}

static json_t *m_big(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	json_int_t n = json_integer_value(json_object_get(params, "n"));
	char *s;
	json_t *r;

	(void)call;
	(void)ctx;
	if (n <= 0 || n > (1 << 20))
		n = 1000;
	s = malloc((size_t)n + 1);
	memset(s, 'x', (size_t)n);
	s[n] = '\0';
	r = json_string(s);
	free(s);
	return r;
}

static const struct dpc_ctl_method methods[] = {
	{ "echo", m_echo, "returns its params", true },
	{ "job.start", m_start, "pretends to start", false },
	{ "nothing", m_nothing, "fails without a reason", true },
	{ "events.subscribe", m_sub, "subscribe", true },
	{ "later", m_later, "answers later", true },
	{ "big", m_big, "a big answer", true },
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* ---- in-memory helpers ---- */

static struct dpc_ctl_server *mem_server(void)
{
	struct dpc_ctl_config cfg;
	char err[256];

	dpc_ctl_config_defaults(&cfg);
	return dpc_ctl_server_open(&cfg, methods, N_METHODS, NULL, err,
				   sizeof(err));
}

/* Feed one line, return the parsed output (NULL if none). */
static json_t *ask(struct dpc_ctl_conn *c, const char *line)
{
	char *out;
	size_t n;
	json_t *j;

	dpc_ctl_conn_feed(c, line, strlen(line));
	dpc_ctl_conn_feed(c, "\n", 1);
	out = dpc_ctl_conn_take_output(c, &n);
	if (out == NULL || n == 0) {
		free(out);
		return NULL;
	}
	j = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		printf("# unparsable output: %.200s\n", out);
	free(out);
	return j;
}

static int err_code(const json_t *r)
{
	return (int)json_integer_value(json_object_get(json_object_get(r, "error"),
						       "code"));
}

static const char *err_field(const json_t *r)
{
	return json_string_value(json_object_get(json_object_get(
		json_object_get(r, "error"), "data"), "field"));
}

static const char *err_reason(const json_t *r)
{
	return json_string_value(json_object_get(json_object_get(
		json_object_get(r, "error"), "data"), "reason"));
}

/* Expect a single error with code and field; checks reason is non-empty. */
static void expect_error(struct dpc_ctl_conn *c, const char *line, int code,
			 const char *field, const char *what)
{
	json_t *r = ask(c, line);
	const char *reason = err_reason(r);

	CHECK_EQ(err_code(r), code, "%s: code %d", what, code);
	CHECK_STR(err_field(r), field, "%s: data.field", what);
	CHECK(reason && reason[0], "%s: data.reason says why (%s)", what,
	      reason ? reason : "none");
	CHECK_STR(json_string_value(json_object_get(r, "jsonrpc")), "2.0",
		  "%s: jsonrpc 2.0", what);
	json_decref(r);
}

static void test_errors(void)
{
	struct dpc_ctl_server *srv = mem_server();
	struct dpc_ctl_conn *c = dpc_ctl_server_attach(srv, -1,
						       DPC_CTL_ACCESS_FULL);
	json_t *r;

	expect_error(c, "{\"jsonrpc\":\"2.0\",", DPC_CTL_E_PARSE, "request",
		     "truncated JSON");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,"
		     "\"id\":2}", DPC_CTL_E_PARSE, "request", "duplicate key");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":\"\xff\xfe\"}",
		     DPC_CTL_E_PARSE, "request", "invalid UTF-8");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":"
		     "123456789012345678901234567890}", DPC_CTL_E_PARSE,
		     "request", "huge integer");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1e999}",
		     DPC_CTL_E_PARSE, "request", "huge real");
	expect_error(c, "{\"a\":1} trailing", DPC_CTL_E_PARSE, "request",
		     "trailing garbage");
	{
		size_t depth = 5000, n = 0;
		char *deep = malloc(depth * 2 + 1);

		for (size_t i = 0; i < depth; i++)
			deep[n++] = '[';
		for (size_t i = 0; i < depth; i++)
			deep[n++] = ']';
		deep[n] = '\0';
		expect_error(c, deep, DPC_CTL_E_PARSE, "request", "deep nesting");
		free(deep);
	}
	expect_error(c, "1", DPC_CTL_E_INVALID_REQUEST, "request",
		     "scalar request");
	expect_error(c, "{}", DPC_CTL_E_INVALID_REQUEST, "jsonrpc",
		     "empty object");
	expect_error(c, "{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":1}",
		     DPC_CTL_E_INVALID_REQUEST, "jsonrpc", "wrong version");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}",
		     DPC_CTL_E_INVALID_REQUEST, "method", "method not a string");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"id\":1}",
		     DPC_CTL_E_INVALID_REQUEST, "method", "method missing");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":{}}",
		     DPC_CTL_E_INVALID_REQUEST, "id", "id an object");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,"
		     "\"extra\":true}", DPC_CTL_E_INVALID_REQUEST, "extra",
		     "unknown request member");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,"
		     "\"params\":\"x\"}", DPC_CTL_E_INVALID_REQUEST, "params",
		     "params a string");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,"
		     "\"params\":[1]}", DPC_CTL_E_PARAMS, "params",
		     "params by position");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":1}",
		     DPC_CTL_E_METHOD, "method", "unknown method");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":1,"
		     "\"params\":{\"name\":\"a\",\"bogus\":1}}", DPC_CTL_E_PARAMS,
		     "params.bogus", "unknown param key");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":1,"
		     "\"params\":{\"n\":\"x\"}}", DPC_CTL_E_PARAMS, "params.n",
		     "wrong param type");
	expect_error(c, "{\"jsonrpc\":\"2.0\",\"method\":\"nothing\",\"id\":1}",
		     DPC_CTL_E_INTERNAL, "method", "handler without reason");

	/* extra data members are passed through; id is echoed */
	r = ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":\"k\","
		"\"params\":{\"n\":1.5}}");
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(
		json_object_get(r, "error"), "data"), "column")), 7,
		"error data carries extra members (column)");
	CHECK_STR(json_string_value(json_object_get(r, "id")), "k",
		  "error echoes a string id");
	json_decref(r);
	r = ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,"
		"\"extra\":true}");
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 1,
		 "invalid request with a valid id echoes the id");
	json_decref(r);
	r = ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":{}}");
	CHECK(json_is_null(json_object_get(r, "id")), "bad id answered with id null");
	json_decref(r);

	/* the connection keeps serving after all of that */
	r = ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":7,"
		"\"params\":{\"a\":[1,2]}}");
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 7,
		 "after errors: echo answered, id 7");
	CHECK_EQ(json_array_size(json_object_get(json_object_get(r, "result"), "a")),
		 2, "after errors: result is the params");
	CHECK(!dpc_ctl_conn_closed(c), "connection still open after errors");
	json_decref(r);

	/* invalid UTF-8 in the method name never reaches the reply unescaped */
	r = ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"\\u00e9\\u0001\",\"id\":1}");
	CHECK_EQ(err_code(r), DPC_CTL_E_METHOD, "odd method name: -32601");
	json_decref(r);

	/* blank lines and CRLF */
	CHECK(ask(c, "   ") == NULL, "blank line: no answer");
	r = ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":3}\r");
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 3, "CRLF line served");
	json_decref(r);

	/* NUL byte inside the line */
	{
		static const char nul[] = "{\"jsonrpc\":\"2.0\",\0\"method\":\"echo\",\"id\":1}\n";
		char *out;
		json_t *j;

		dpc_ctl_conn_feed(c, nul, sizeof(nul) - 1);
		out = dpc_ctl_conn_take_output(c, NULL);
		j = json_loads(out, 0, NULL);
		CHECK_EQ(err_code(j), DPC_CTL_E_PARSE, "NUL byte in a line: -32700");
		json_decref(j);
		free(out);
	}
	dpc_ctl_conn_release(c);
	dpc_ctl_server_close(srv);
}

static void test_batches_and_notifications(void)
{
	struct dpc_ctl_server *srv = mem_server();
	struct dpc_ctl_conn *c = dpc_ctl_server_attach(srv, -1,
						       DPC_CTL_ACCESS_FULL);
	struct dpc_ctl_conn *c2 = dpc_ctl_server_attach(srv, -1,
							DPC_CTL_ACCESS_READ_ONLY);
	json_t *r;
	char *out;
	size_t n;

	CHECK(ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}") == NULL,
	      "notification: no answer");
	CHECK(ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}") == NULL,
	      "notification of an unknown method: no answer");
	r = ask(c, "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2},1]");
	CHECK(json_is_array(r) && json_array_size(r) == 3,
	      "batch of 4 with one notification: 3 answers");
	CHECK_EQ(json_integer_value(json_object_get(json_array_get(r, 0), "id")), 1,
		 "batch answer 1 is id 1");
	CHECK_EQ(err_code(json_array_get(r, 1)), DPC_CTL_E_METHOD,
		 "batch answer 2 is -32601");
	CHECK_EQ(err_code(json_array_get(r, 2)), DPC_CTL_E_INVALID_REQUEST,
		 "batch answer 3 (a number) is -32600");
	json_decref(r);
	r = ask(c, "[]");
	CHECK(json_is_object(r) && err_code(r) == DPC_CTL_E_INVALID_REQUEST,
	      "empty batch: one -32600 object");
	json_decref(r);
	{
		char *b = malloc(4 * (DPC_CTL_BATCH_MAX + 1) + 2);
		size_t o = 0;

		b[o++] = '[';
		for (int i = 0; i <= DPC_CTL_BATCH_MAX; i++) {
			memcpy(b + o, i ? ",{}" : "{}", i ? 3 : 2);
			o += i ? 3 : 2;
		}
		b[o++] = ']';
		b[o] = '\0';
		r = ask(c, b);
		CHECK(json_is_object(r) && err_code(r) == DPC_CTL_E_INVALID_REQUEST,
		      "batch of %d: one -32600 (at most %d)", DPC_CTL_BATCH_MAX + 1,
		      DPC_CTL_BATCH_MAX);
		json_decref(r);
		b[o - 4] = ']';
		b[o - 3] = '\0';
		r = ask(c, b);
		CHECK(json_is_array(r) && json_array_size(r) == DPC_CTL_BATCH_MAX,
		      "batch of %d: %d answers", DPC_CTL_BATCH_MAX, DPC_CTL_BATCH_MAX);
		json_decref(r);
		free(b);
	}
	CHECK(ask(c, "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\"},"
		  "{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}]") == NULL,
	      "batch of notifications only: no answer");
	r = ask(c, "[[]]");
	CHECK(json_is_array(r) && json_array_size(r) == 1 &&
	      err_code(json_array_get(r, 0)) == DPC_CTL_E_INVALID_REQUEST,
	      "nested batch element: -32600 inside an array");
	json_decref(r);

	/* read-only client */
	r = ask(c2, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
	CHECK(json_object_get(r, "result") != NULL, "read-only client may call echo");
	json_decref(r);
	expect_error(c2, "{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":1}",
		     DPC_CTL_E_READ_ONLY, "method", "read-only client job.start");
	r = ask(c2, "[{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":1},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":2}]");
	CHECK(err_code(json_array_get(r, 0)) == DPC_CTL_E_READ_ONLY &&
	      json_object_get(json_array_get(r, 1), "result"),
	      "read-only in a batch: refused element, served element");
	json_decref(r);

	/* notifications reach subscribers only */
	r = ask(c2, "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"id\":9}");
	json_decref(r);
	CHECK_EQ(dpc_ctl_server_notify(srv, "job.state",
				       json_pack("{s:i}", "id", 4)), 1,
		 "notify queued for one subscriber");
	out = dpc_ctl_conn_take_output(c2, &n);
	r = json_loads(out, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(r, "method")), "job.state",
		  "subscriber got job.state");
	CHECK(json_object_get(r, "id") == NULL, "a notification has no id");
	json_decref(r);
	free(out);
	out = dpc_ctl_conn_take_output(c, &n);
	CHECK_EQ(n, 0, "non-subscriber got nothing");
	free(out);

	/* deferred answers, alone and inside a batch */
	g_deferred = NULL;
	CHECK(ask(c, "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"id\":5}") == NULL,
	      "deferred: nothing yet");
	dpc_ctl_deferred_reply(g_deferred, json_pack("{s:i}", "rate", 3));
	out = dpc_ctl_conn_take_output(c, &n);
	r = json_loads(out, 0, NULL);
	CHECK(json_integer_value(json_object_get(r, "id")) == 5 &&
	      json_integer_value(json_object_get(json_object_get(r, "result"),
						 "rate")) == 3,
	      "deferred reply arrives with its id");
	json_decref(r);
	free(out);
	CHECK(ask(c, "[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1},"
		  "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"id\":2}]") == NULL,
	      "batch with a deferred element waits for it");
	dpc_ctl_deferred_error(g_deferred, DPC_CTL_E_PARAMS, "params.filter",
			       NULL, "bad");
	out = dpc_ctl_conn_take_output(c, &n);
	r = json_loads(out, 0, NULL);
	CHECK(json_is_array(r) && json_array_size(r) == 2,
	      "batch answered whole once the deferred element completes");
	json_decref(r);
	free(out);
	/* deferred whose client went away: discarded, no crash */
	ask(c2, "{\"jsonrpc\":\"2.0\",\"method\":\"later\",\"id\":5}");
	dpc_ctl_conn_release(c2);
	dpc_ctl_deferred_reply(g_deferred, json_true());
	CHECK(1, "deferred reply after the client left is discarded");

	/* lines split across reads, several per read */
	{
		const char *a = "{\"jsonrpc\":\"2.0\",\"meth";
		const char *b = "od\":\"echo\",\"id\":1}\n{\"jsonrpc\":\"2.0\","
				"\"method\":\"echo\",\"id\":2}\n";

		dpc_ctl_conn_feed(c, a, strlen(a));
		dpc_ctl_conn_feed(c, b, strlen(b));
	}
	out = dpc_ctl_conn_take_output(c, &n);
	CHECK(out && strchr(out, '\n') && strchr(strchr(out, '\n') + 1, '\n'),
	      "split and joined lines: two answers");
	free(out);
	dpc_ctl_conn_release(c);
	dpc_ctl_server_close(srv);
}

static void test_line_limit_memory(void)
{
	struct dpc_ctl_server *srv = mem_server();
	struct dpc_ctl_conn *c = dpc_ctl_server_attach(srv, -1,
						       DPC_CTL_ACCESS_FULL);
	const char *head = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}";
	char *line = malloc(DPC_CTL_LINE_MAX + 100);
	json_t *r;
	char *out;

	/* exactly DPC_CTL_LINE_MAX bytes (padded with spaces) is served */
	memset(line, ' ', DPC_CTL_LINE_MAX);
	memcpy(line, head, strlen(head));
	line[DPC_CTL_LINE_MAX] = '\0';
	r = ask(c, line);
	CHECK(r && json_object_get(r, "result"), "a %d-byte line is served",
	      DPC_CTL_LINE_MAX);
	json_decref(r);
	/* one more byte is refused and closes the connection */
	memset(line, ' ', DPC_CTL_LINE_MAX + 1);
	memcpy(line, head, strlen(head));
	line[DPC_CTL_LINE_MAX + 1] = '\0';
	r = ask(c, line);
	CHECK_EQ(err_code(r), DPC_CTL_E_TOO_LARGE, "a %d-byte line: -32004",
		 DPC_CTL_LINE_MAX + 1);
	CHECK_STR(err_field(r), "request", "too large: field request");
	CHECK(dpc_ctl_conn_closed(c), "too large: connection closed");
	json_decref(r);
	CHECK(dpc_ctl_conn_feed(c, "{}\n", 3) != 0 ||
	      (out = dpc_ctl_conn_take_output(c, NULL), strlen(out) == 0 ?
	       (free(out), 1) : (free(out), 0)),
	      "nothing served after the close");
	dpc_ctl_conn_release(c);
	free(line);
	dpc_ctl_server_close(srv);
}

/* ---- socket helpers ---- */

static char g_dir[64];

static struct dpc_ctl_server *sock_server(struct dpc_ctl_config *cfg)
{
	char err[256];
	struct dpc_ctl_server *srv;

	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "%s/ctl.sock", g_dir);
	srv = dpc_ctl_server_open(cfg, methods, N_METHODS, NULL, err, sizeof(err));
	if (srv == NULL)
		printf("# server_open: %s\n", err);
	return srv;
}

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Serve until fd has a whole line (or EOF/reset); returns it parsed. *eof set
 * when the server closed after it. */
static json_t *sock_read(struct dpc_ctl_server *srv, int fd, int ms, bool *eof)
{
	char buf[8192];
	size_t n = 0;
	int waited = 0;

	if (eof)
		*eof = false;
	while (waited < ms) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		dpc_ctl_server_poll(srv, 5);
		if (poll(&p, 1, 5) <= 0) {
			waited += 10;
			continue;
		}
		r = recv(fd, buf + n, sizeof(buf) - 1 - n, MSG_DONTWAIT);
		if (r <= 0) {
			if (r < 0 && errno == EAGAIN)
				continue;
			if (eof)
				*eof = true;
			break;
		}
		n += (size_t)r;
		buf[n] = '\0';
		if (memchr(buf, '\n', n)) {
			if (eof) {
				/* see whether the server closes right after */
				char b2;

				for (int i = 0; i < 20; i++) {
					dpc_ctl_server_poll(srv, 5);
					r = recv(fd, &b2, 1, MSG_DONTWAIT | MSG_PEEK);
					if (r == 0 || (r < 0 && errno != EAGAIN)) {
						*eof = true;
						break;
					}
					if (r > 0)
						break;
				}
			}
			return json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
		}
	}
	return NULL;
}

static json_t *sock_ask(struct dpc_ctl_server *srv, int fd, const char *line)
{
	(void)!send(fd, line, strlen(line), MSG_NOSIGNAL);
	(void)!send(fd, "\n", 1, MSG_NOSIGNAL);
	return sock_read(srv, fd, 2000, NULL);
}

static void test_socket(void)
{
	struct dpc_ctl_config cfg;
	struct dpc_ctl_server *srv, *srv2;
	struct dpc_ctl_counters cnt;
	struct stat st;
	char err[256];
	json_t *r;
	bool eof;
	int fd, fds[3];

	dpc_ctl_config_defaults(&cfg);
	cfg.socket_group = (int)getgid();
	srv = sock_server(&cfg);
	CHECK(srv != NULL, "server listens on %s", cfg.socket_path);
	if (srv == NULL)
		return;
	CHECK(stat(cfg.socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	      (st.st_mode & 07777) == 0660, "socket file is a socket, mode 0660 (%o)",
	      (unsigned)(st.st_mode & 07777));
	CHECK_EQ(st.st_gid, getgid(), "socket group set");
	{
		char tmpname[160];

		snprintf(tmpname, sizeof(tmpname), "%s.%ld.tmp", cfg.socket_path,
			 (long)getpid());
		CHECK(access(tmpname, F_OK) != 0,
		      "bound under a temporary name, renamed into place");
	}

	/* a second server on the same live socket is refused */
	srv2 = dpc_ctl_server_open(&cfg, methods, N_METHODS, NULL, err, sizeof(err));
	CHECK(srv2 == NULL && errno == EADDRINUSE, "live socket: EADDRINUSE (%s)", err);
	dpc_ctl_server_close(srv2);

	fd = sock_connect(cfg.socket_path);
	r = sock_ask(srv, fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,"
		     "\"params\":{\"x\":1}}");
	CHECK(r && json_integer_value(json_object_get(json_object_get(r, "result"),
						      "x")) == 1,
	      "socket: echo round trip");
	json_decref(r);
	r = sock_ask(srv, fd, "{\"jsonrpc\":\"2.0\",\"method\":");
	CHECK_EQ(err_code(r), DPC_CTL_E_PARSE, "socket: parse error answered");
	json_decref(r);
	r = sock_ask(srv, fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":2}");
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 2,
		 "socket: still serving after a parse error");
	json_decref(r);

	/* half a request then hang-up: the server carries on */
	{
		int h = sock_connect(cfg.socket_path);

		(void)!send(h, "{\"jsonrpc\":\"2.0\",\"met", 21, MSG_NOSIGNAL);
		dpc_ctl_server_poll(srv, 10);
		close(h);
		for (int i = 0; i < 5; i++)
			dpc_ctl_server_poll(srv, 5);
		r = sock_ask(srv, fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":3}");
		CHECK_EQ(json_integer_value(json_object_get(r, "id")), 3,
			 "half a request then hang-up: others still served");
		json_decref(r);
		CHECK_EQ(dpc_ctl_server_clients(srv), 1, "hung-up client reaped");
	}

	/* request without newline then shutdown(SHUT_WR): still answered */
	{
		int h = sock_connect(cfg.socket_path);
		const char *q = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":44}";

		(void)!send(h, q, strlen(q), MSG_NOSIGNAL);
		shutdown(h, SHUT_WR);
		r = sock_read(srv, h, 2000, &eof);
		CHECK(json_integer_value(json_object_get(r, "id")) == 44 && eof,
		      "last request without newline answered, then closed");
		json_decref(r);
		close(h);
	}

	/* 1 MiB line: -32004, connection closed, server unaffected */
	{
		int h = sock_connect(cfg.socket_path);
		size_t big = 1 << 20, sent = 0;
		char *b = malloc(big);

		memset(b, 'a', big);
		b[0] = '"';
		fcntl(h, F_SETFL, O_NONBLOCK);
		for (int i = 0; i < 2000 && sent < big; i++) {
			ssize_t k = send(h, b + sent, big - sent, MSG_NOSIGNAL);

			if (k > 0)
				sent += (size_t)k;
			else if (k < 0 && errno != EAGAIN)
				break;
			dpc_ctl_server_poll(srv, 1);
		}
		fcntl(h, F_SETFL, 0);
		r = sock_read(srv, h, 2000, &eof);
		CHECK_EQ(err_code(r), DPC_CTL_E_TOO_LARGE, "1 MiB line: -32004");
		CHECK(eof, "1 MiB line: connection closed after the error");
		json_decref(r);
		free(b);
		close(h);
		r = sock_ask(srv, fd, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":4}");
		CHECK_EQ(json_integer_value(json_object_get(r, "id")), 4,
			 "after a 1 MiB line: others still served");
		json_decref(r);
	}
	close(fd);
	dpc_ctl_server_counters(srv, &cnt);
	CHECK_EQ(cnt.dropped_too_large, 1, "counter: one too-large drop");
	dpc_ctl_server_close(srv);
	CHECK(stat(cfg.socket_path, &st) != 0, "socket file removed on close");

	/* a stale socket file is replaced, a regular file is refused */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		strcpy(sa.sun_path, cfg.socket_path);
		(void)!bind(s, (struct sockaddr *)&sa, sizeof(sa));
		close(s);
		srv = sock_server(&cfg);
		CHECK(srv != NULL, "stale socket file replaced");
		dpc_ctl_server_close(srv);
		close(open(cfg.socket_path, O_CREAT | O_WRONLY, 0600));
		srv = sock_server(&cfg);
		CHECK(srv == NULL && errno == EEXIST, "regular file at the path: EEXIST");
		dpc_ctl_server_close(srv);
		unlink(cfg.socket_path);
	}

	/* client limit */
	dpc_ctl_config_defaults(&cfg);
	cfg.max_clients = 2;
	srv = sock_server(&cfg);
	for (int i = 0; i < 3; i++) {
		fds[i] = sock_connect(cfg.socket_path);
		for (int k = 0; k < 3; k++)
			dpc_ctl_server_poll(srv, 5);
	}
	r = sock_read(srv, fds[2], 1000, &eof);
	CHECK_EQ(err_code(r), DPC_CTL_E_BUSY, "3rd client over max_clients=2: -32003");
	CHECK(eof, "3rd client closed");
	json_decref(r);
	close(fds[2]);
	r = sock_ask(srv, fds[0], "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
	CHECK(r && json_object_get(r, "result"), "clients within the limit served");
	json_decref(r);
	close(fds[1]);
	for (int k = 0; k < 5; k++)
		dpc_ctl_server_poll(srv, 5);
	fds[1] = sock_connect(cfg.socket_path);
	r = sock_ask(srv, fds[1], "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}");
	CHECK(r && json_object_get(r, "result"), "a freed slot is reusable");
	json_decref(r);
	close(fds[0]);
	close(fds[1]);
	dpc_ctl_server_close(srv);

	/* slow reader: dropped once its output exceeds the bound */
	dpc_ctl_config_defaults(&cfg);
	cfg.max_output_bytes = 65536;
	srv = sock_server(&cfg);
	fds[0] = sock_connect(cfg.socket_path);   /* never reads */
	fds[1] = sock_connect(cfg.socket_path);   /* reads */
	{
		const char *q = "{\"jsonrpc\":\"2.0\",\"method\":\"big\",\"id\":1,"
				"\"params\":{\"n\":60000}}\n";
		bool dropped = false;

		for (int i = 0; i < 200 && !dropped; i++) {
			(void)!send(fds[0], q, strlen(q), MSG_NOSIGNAL | MSG_DONTWAIT);
			dpc_ctl_server_poll(srv, 1);
			dpc_ctl_server_counters(srv, &cnt);
			dropped = cnt.dropped_slow > 0;
		}
		CHECK(dropped, "a client that never reads is dropped");
		{
			/* one answer larger than the bound still arrives whole */
			const char *b = "{\"jsonrpc\":\"2.0\",\"method\":\"big\",\"id\":5,"
					"\"params\":{\"n\":200000}}";
			json_t *br;
			char *rb = malloc(300000);
			size_t got = 0;

			(void)!send(fds[1], b, strlen(b), MSG_NOSIGNAL);
			(void)!send(fds[1], "\n", 1, MSG_NOSIGNAL);
			for (int i = 0; i < 2000 && (got == 0 || rb[got - 1] != '\n'); i++) {
				ssize_t k;

				dpc_ctl_server_poll(srv, 1);
				k = recv(fds[1], rb + got, 300000 - got, MSG_DONTWAIT);
				if (k > 0)
					got += (size_t)k;
			}
			br = json_loadb(rb, got, 0, NULL);
			CHECK(br && json_string_length(json_object_get(br, "result")) == 200000,
			      "an answer of 200 kB (bound 64 kB) arrives whole to a reader");
			json_decref(br);
			free(rb);
		}
		r = sock_ask(srv, fds[1], "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":8}");
		CHECK_EQ(json_integer_value(json_object_get(r, "id")), 8,
			 "the other client is served meanwhile");
		json_decref(r);
	}
	close(fds[0]);
	close(fds[1]);
	dpc_ctl_server_close(srv);

	/* idle timeout */
	dpc_ctl_config_defaults(&cfg);
	cfg.idle_timeout_ms = 150;
	srv = sock_server(&cfg);
	fds[0] = sock_connect(cfg.socket_path);
	fds[1] = sock_connect(cfg.socket_path);
	r = sock_ask(srv, fds[1], "{\"jsonrpc\":\"2.0\",\"method\":\"events.subscribe\",\"id\":1}");
	json_decref(r);
	r = sock_read(srv, fds[0], 1500, &eof);
	CHECK_EQ(err_code(r), DPC_CTL_E_IDLE, "idle client: -32005");
	CHECK(eof, "idle client closed");
	json_decref(r);
	r = sock_ask(srv, fds[1], "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":2}");
	CHECK_EQ(json_integer_value(json_object_get(r, "id")), 2,
		 "subscribed client outlives the idle timeout");
	json_decref(r);
	close(fds[0]);
	close(fds[1]);
	dpc_ctl_server_close(srv);
}

/* A child as uid 65534 connects; returns the error code it read. */
static gid_t g_child_group;   /* a supplementary group for the child, 0 = none */

static int child_as_nobody(struct dpc_ctl_server *srv, const char *path,
			   const char *req, int *code)
{
	int pfd[2];
	pid_t pid;
	int st = 0;
	char buf[4096];
	ssize_t n;

	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd;
		ssize_t k;
		size_t got = 0;

		close(pfd[0]);
		if (setgroups(g_child_group ? 1 : 0, &g_child_group) != 0 ||
		    setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		fd = sock_connect(path);
		if (fd < 0)
			_exit(3);
		if (req) {
			(void)!send(fd, req, strlen(req), MSG_NOSIGNAL);
			(void)!send(fd, "\n", 1, MSG_NOSIGNAL);
		}
		while (got < sizeof(buf) - 1 &&
		       (k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
			got += (size_t)k;
			if (memchr(buf, '\n', got))
				break;
		}
		(void)!write(pfd[1], buf, got);
		_exit(0);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	n = 0;
	for (int i = 0; i < 400; i++) {
		ssize_t k;

		dpc_ctl_server_poll(srv, 5);
		k = read(pfd[0], buf + n, sizeof(buf) - 1 - (size_t)n);
		if (k > 0)
			n += k;
		if (k == 0)
			break;
	}
	buf[n] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	{
		json_t *j = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);

		*code = j ? (json_object_get(j, "error") ? err_code(j) : 0) : -1;
		json_decref(j);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_credentials(void)
{
	struct dpc_ctl_config cfg;
	struct dpc_ctl_server *srv;
	int code;

	dpc_ctl_config_defaults(&cfg);
	cfg.allow_uids[cfg.n_allow_uids++] = 1000;
	cfg.ro_uids[cfg.n_ro_uids++] = 1001;
	cfg.allow_gids[cfg.n_allow_gids++] = 2000;
	cfg.ro_gids[cfg.n_ro_gids++] = 2001;
	CHECK_EQ(dpc_ctl_access_for(&cfg, 0, 0), DPC_CTL_ACCESS_FULL, "root: full");
	CHECK_EQ(dpc_ctl_access_for(&cfg, 1000, 5), DPC_CTL_ACCESS_FULL,
		 "allowed uid: full");
	CHECK_EQ(dpc_ctl_access_for(&cfg, 1001, 2000), DPC_CTL_ACCESS_READ_ONLY,
		 "read-only uid wins over an allowed gid");
	CHECK_EQ(dpc_ctl_access_for(&cfg, 1002, 2000), DPC_CTL_ACCESS_FULL,
		 "allowed gid: full");
	CHECK_EQ(dpc_ctl_access_for(&cfg, 1002, 2001), DPC_CTL_ACCESS_READ_ONLY,
		 "read-only gid: read-only");
	CHECK_EQ(dpc_ctl_access_for(&cfg, 1002, 7), DPC_CTL_ACCESS_DENIED,
		 "anyone else: denied");
	{
		gid_t sup[] = { 9, 2001 }, sup2[] = { 9, 2000, 2001 };

		CHECK_EQ(dpc_ctl_access_for_groups(&cfg, 1002, 7, sup, 2),
			 DPC_CTL_ACCESS_READ_ONLY, "supplementary read-only group");
		CHECK_EQ(dpc_ctl_access_for_groups(&cfg, 1002, 7, sup2, 3),
			 DPC_CTL_ACCESS_FULL, "supplementary allowed group wins");
	}

	if (geteuid() != 0) {
		DPC_SKIP("peer-credential socket checks need root (setuid child)");
		return;
	}
	chmod(g_dir, 0755);
	dpc_ctl_config_defaults(&cfg);
	cfg.socket_mode = 0666;   /* let the child reach it; SO_PEERCRED decides */
	srv = sock_server(&cfg);
	child_as_nobody(srv, cfg.socket_path, NULL, &code);
	CHECK_EQ(code, DPC_CTL_E_DENIED, "uid 65534 not listed: -32001 on connect");
	dpc_ctl_server_close(srv);

	cfg.ro_uids[cfg.n_ro_uids++] = 65534;
	srv = sock_server(&cfg);
	child_as_nobody(srv, cfg.socket_path,
			"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}", &code);
	CHECK_EQ(code, 0, "read-only uid 65534: echo served");
	child_as_nobody(srv, cfg.socket_path,
			"{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":1}", &code);
	CHECK_EQ(code, DPC_CTL_E_READ_ONLY, "read-only uid 65534: job.start -32002");
	{
		struct dpc_ctl_counters cnt;

		dpc_ctl_server_counters(srv, &cnt);
		CHECK_EQ(cnt.refused_denied, 0, "no denial counted for a listed uid");
	}
	dpc_ctl_server_close(srv);

	/* a supplementary group (SO_PEERGROUPS) in allow_gids: full access */
	dpc_ctl_config_defaults(&cfg);
	cfg.socket_mode = 0666;
	cfg.allow_gids[cfg.n_allow_gids++] = 4242;
	srv = sock_server(&cfg);
	g_child_group = 4242;
	child_as_nobody(srv, cfg.socket_path,
			"{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":1}", &code);
	CHECK_EQ(code, 0, "uid 65534 with supplementary group 4242 (allowed): job.start served");
	g_child_group = 0;
	child_as_nobody(srv, cfg.socket_path,
			"{\"jsonrpc\":\"2.0\",\"method\":\"job.start\",\"id\":1}", &code);
	CHECK_EQ(code, DPC_CTL_E_DENIED, "the same uid without that group: denied");
	dpc_ctl_server_close(srv);
}

static void test_config(void)
{
	struct dpc_ctl_config cfg;
	char err[256];
	json_t *j;
	int rc;

	dpc_ctl_config_defaults(&cfg);
	j = json_loads("{\"socket\":\"/run/dpcap/ctl.sock\",\"group\":0,"
		       "\"allow_uids\":[\"root\",1000],\"read_only_gids\":[5],"
		       "\"max_clients\":8,\"max_output_bytes\":1048576,"
		       "\"idle_timeout_s\":30}", 0, NULL);
	rc = dpc_ctl_config_from_json(j, &cfg, err, sizeof(err));
	CHECK_EQ(rc, 0, "control config accepted");
	CHECK_STR(cfg.socket_path, "/run/dpcap/ctl.sock", "socket path");
	CHECK(cfg.n_allow_uids == 2 && cfg.allow_uids[0] == 0 &&
	      cfg.allow_uids[1] == 1000, "allow_uids by name and number");
	CHECK(cfg.max_clients == 8 && cfg.idle_timeout_ms == 30000 &&
	      cfg.n_ro_gids == 1 && cfg.socket_group == 0, "numbers read");
	json_decref(j);

	static const struct {
		const char *json, *needle;
	} bad[] = {
		{ "{\"sockett\":\"x\"}", "control.sockett" },
		{ "{\"max_clients\":0}", "control.max_clients" },
		{ "{\"max_clients\":\"8\"}", "control.max_clients" },
		{ "{\"idle_timeout_s\":-1}", "control.idle_timeout_s" },
		{ "{\"allow_uids\":[\"no-such-user-dpc\"]}", "no such user" },
		{ "{\"group\":\"no-such-group-dpc\"}", "control.group" },
		{ "{\"allow_gids\":5}", "control.allow_gids" },
		{ "{\"socket\":\"\"}", "control.socket" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dpc_ctl_config_defaults(&cfg);
		j = json_loads(bad[i].json, 0, NULL);
		err[0] = '\0';
		rc = dpc_ctl_config_from_json(j, &cfg, err, sizeof(err));
		CHECK(rc == -EINVAL && strstr(err, bad[i].needle),
		      "bad control config %s refused: %s", bad[i].json, err);
		json_decref(j);
	}
}

static void test_confinement(void)
{
	char err[256], root[128], p[256];
	int fd;

	static const struct {
		const char *name;
		size_t len;
		int ok;
	} names[] = {
		{ "incident1", 9, 1 }, { "a.b-c_D9", 8, 1 }, { "", 0, 0 },
		{ ".", 1, 0 }, { "..", 2, 0 }, { "a/b", 3, 0 }, { "../x", 4, 0 },
		{ "a..b", 4, 0 }, { "a\0b", 3, 0 }, { "a b", 3, 0 },
		{ "caf\xc3\xa9", 5, 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64, 1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65, 0 },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = dpc_ctl_name_check(names[i].name, names[i].len, err,
					    sizeof(err));

		CHECK_EQ(rc == 0, names[i].ok, "name #%zu (%zu bytes) %s%s%s", i,
			 names[i].len, names[i].ok ? "accepted" : "refused: ",
			 names[i].ok ? "" : err, "");
	}

	snprintf(root, sizeof(root), "%s/root", g_dir);
	mkdir(root, 0750);
	fd = dpc_ctl_job_dir_open(root, "job1", true, err, sizeof(err));
	CHECK(fd >= 0, "job dir created under the root");
	if (fd >= 0)
		close(fd);
	fd = dpc_ctl_job_dir_open(root, "job1", true, err, sizeof(err));
	CHECK(fd >= 0, "an existing empty job dir is reused");
	if (fd >= 0) {
		close(openat(fd, "x.pcap", O_CREAT | O_WRONLY, 0600));
		close(fd);
	}
	fd = dpc_ctl_job_dir_open(root, "job1", true, err, sizeof(err));
	CHECK(fd == -EEXIST, "a non-empty job dir is refused: %s", err);
	fd = dpc_ctl_job_dir_open(root, "job1", false, err, sizeof(err));
	CHECK(fd >= 0, "opening an existing job dir without create");
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/escape", root);
	(void)!symlink("/tmp", p);
	fd = dpc_ctl_job_dir_open(root, "escape", true, err, sizeof(err));
	CHECK(fd == -ELOOP && strstr(err, "symbolic link"),
	      "a symlink in the way is refused: %s", err);
	snprintf(p, sizeof(p), "%s/dangling", root);
	(void)!symlink("/nonexistent-dpc-target", p);
	fd = dpc_ctl_job_dir_open(root, "dangling", true, err, sizeof(err));
	CHECK(fd < 0 && access("/nonexistent-dpc-target", F_OK) != 0,
	      "a dangling symlink is refused and nothing created at its target: %s",
	      err);
	snprintf(p, sizeof(p), "%s/file", root);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	fd = dpc_ctl_job_dir_open(root, "file", true, err, sizeof(err));
	CHECK(fd == -ENOTDIR, "a file in the way is refused: %s", err);
	fd = dpc_ctl_job_dir_open(root, "../x", true, err, sizeof(err));
	CHECK(fd == -EINVAL, "../x refused before touching the disk: %s", err);
	fd = dpc_ctl_job_dir_open("/nonexistent-dpc-root", "a", true, err, sizeof(err));
	CHECK(fd == -ENOENT, "missing root: %s", err);
}

int main(void)
{
	char cmd[128];

	signal(SIGPIPE, SIG_IGN);
	snprintf(g_dir, sizeof(g_dir), "/tmp/dpc-ctl-test-XXXXXX");
	if (mkdtemp(g_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_errors();
	test_batches_and_notifications();
	test_line_limit_memory();
	test_socket();
	test_credentials();
	test_config();
	test_confinement();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	(void)!system(cmd);
	return dpc_test_done();
}
