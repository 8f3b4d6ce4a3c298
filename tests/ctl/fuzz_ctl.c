/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ctl.c - feeds arbitrary bytes to the control server's request
 * handling (line splitting, the 64 KiB bound, JSON parsing, request
 * validation, batches, dispatch, error replies) through an in-memory
 * connection. Invariants checked: no crash or leak, and every line the
 * server writes is one valid JSON value (object or array) that is a
 * JSON-RPC 2.0 response or notification.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dpc_ctl_deferred *pending;

static json_t *m_echo(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)call;
	(void)ctx;
	return json_incref(params);
}

static json_t *m_start(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	static const char *const keys[] = { "name", "filter", "limits", NULL };
	static const char *const lkeys[] = { "packets", "bytes", NULL };
	json_t *name, *limits;
	char err[128];

	(void)ctx;
	if (dpc_ctl_check_keys(call, params, "params", keys) != 0)
		return NULL;
	name = json_object_get(params, "name");
	if (name && (!json_is_string(name) ||
		     dpc_ctl_name_check(json_string_value(name),
					json_string_length(name), err,
					sizeof(err)) != 0))
		return dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.name",
					  NULL, "bad name");
	limits = json_object_get(params, "limits");
	if (limits && (!json_is_object(limits) ||
		       dpc_ctl_check_keys(call, limits, "params.limits", lkeys)))
		return dpc_ctl_call_error(call, DPC_CTL_E_PARAMS, "params.limits",
					  NULL, "bad limits");
	return json_pack("{s:i}", "id", 1);
}

static json_t *m_sub(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)params;
	(void)ctx;
	dpc_ctl_call_subscribe(call);
	return json_true();
}

static json_t *m_later(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)params;
	(void)ctx;
	if (pending)  /* one at a time */
		return dpc_ctl_call_error(call, -32010, "method", NULL, "busy");
	pending = dpc_ctl_call_defer(call);
	return NULL;
}

static json_t *m_fail(struct dpc_ctl_call *call, json_t *params, void *ctx)
{
	(void)call;
	(void)params;
	(void)ctx;
	return NULL;
}

static const struct dpc_ctl_method methods[] = {
	{ "echo", m_echo, "", true },
	{ "job.start", m_start, "", false },
	{ "events.subscribe", m_sub, "", true },
	{ "later", m_later, "", true },
	{ "fail", m_fail, "", true },
};

static void check_output(const char *out, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		json_error_t e;
		json_t *j;

		if (out[i] != '\n')
			continue;
		j = json_loadb(out + start, i - start, JSON_REJECT_DUPLICATES, &e);
		if (j == NULL || !(json_is_object(j) || json_is_array(j))) {
			fprintf(stderr, "fuzz_ctl: server wrote invalid JSON: %s\n",
				e.text);
			abort();
		}
		if (json_is_object(j) &&
		    !json_is_string(json_object_get(j, "jsonrpc")))
			abort();
		json_decref(j);
		start = i + 1;
	}
	if (start != n)
		abort();   /* every reply ends with a newline */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dpc_ctl_server *srv;
	struct dpc_ctl_conn *c;
	struct dpc_ctl_config cfg;
	char err[128];
	size_t split;
	char *out;
	size_t n;

	if (srv == NULL) {
		dpc_ctl_config_defaults(&cfg);
		srv = dpc_ctl_server_open(&cfg, methods,
					  sizeof(methods) / sizeof(methods[0]),
					  NULL, err, sizeof(err));
		if (srv == NULL)
			abort();
	}
	if (size == 0)
		return 0;
	/* first byte: access level and where to split the feed */
	c = dpc_ctl_server_attach(srv, -1, (data[0] & 1) ? DPC_CTL_ACCESS_READ_ONLY
				  : DPC_CTL_ACCESS_FULL);
	if (c == NULL)
		return 0;
	split = size > 1 ? (size_t)data[0] * (size - 1) / 255 : 0;
	dpc_ctl_conn_feed(c, data + 1, split);
	if (dpc_ctl_conn_feed(c, data + 1 + split, size - 1 - split) == 0)
		dpc_ctl_conn_feed(c, "\n", 1);
	if (pending) {
		if (data[0] & 2)
			dpc_ctl_deferred_reply(pending, json_pack("{s:i}", "rate", 1));
		else
			dpc_ctl_deferred_error(pending, DPC_CTL_E_PARAMS,
					       "params.filter", NULL, "x");
		pending = NULL;
	}
	dpc_ctl_server_notify(srv, "job.state", json_pack("{s:i}", "id", 1));
	out = dpc_ctl_conn_take_output(c, &n);
	if (out)
		check_output(out, n);
	free(out);
	dpc_ctl_conn_release(c);
	return 0;
}
