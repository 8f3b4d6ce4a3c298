/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control.h - dpcapd's control socket: the JSON-RPC methods of
 * docs/control-protocol.md (job.start, job.validate, job.stop, job.get,
 * job.list, stats.get, daemon.info, events.subscribe + job.state
 * notifications) served by lib/ctl on top of the datapath API (dpc_dp.h).
 *
 * Everything here runs on the daemon's control thread: main.c calls
 * dpcapd_control_poll() in its loop (next to dpc_dp_service()).
 */
#ifndef DPCAPD_CONTROL_H
#define DPCAPD_CONTROL_H

#include <stddef.h>

#include <jansson.h>

struct dpc_dp;
struct dpcapd_control;

/** Application error codes (besides lib/ctl's, see dpc_ctl.h). */
enum dpcapd_control_code {
	DPCAPD_E_NO_JOB = -32010,      /**< no job with that id/name */
	DPCAPD_E_FILTER = -32011,      /**< filter does not compile (column, token) */
	DPCAPD_E_EXISTS = -32012,      /**< name active, or its directory holds files */
	DPCAPD_E_PATH = -32013,        /**< output path refused (symlink, not a dir) */
	DPCAPD_E_CAPACITY = -32014,    /**< max_jobs running, or disk below min free */
	DPCAPD_E_ENDED = -32015,       /**< job.stop on a job that already ended */
	DPCAPD_E_DATAPATH = -32016,    /**< the datapath failed (I/O, ...) */
};

/**
 * Open the control socket. control_cfg is the daemon config's "control"
 * object (NULL: defaults; keys in docs/control-protocol.md); unknown keys
 * and bad values are refused with err naming the key and value.
 * Installs the datapath event callback (job.state notifications).
 * @return the control, or NULL with errno and err filled.
 */
struct dpcapd_control *dpcapd_control_open(struct dpc_dp *dp,
					   const json_t *control_cfg,
					   char *err, size_t errlen);

/**
 * Serve ready connections, waiting at most timeout_ms (never longer).
 * @return events handled, or -errno.
 */
int dpcapd_control_poll(struct dpcapd_control *ctl, int timeout_ms);

/** Socket path in use ("" when none). */
const char *dpcapd_control_socket(const struct dpcapd_control *ctl);

/** Close every connection, cancel pending validations, remove the socket.
 *  NULL is a no-op. Call before dpc_dp_destroy(). */
void dpcapd_control_close(struct dpcapd_control *ctl);

#endif /* DPCAPD_CONTROL_H */
