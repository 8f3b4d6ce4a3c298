/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_ctl.h - dpcap's control protocol server: JSON-RPC 2.0 over an AF_UNIX
 * SOCK_STREAM socket, one JSON value per line (docs/control-protocol.md is
 * the contract).
 *
 * One server runs one epoll event loop on the caller's thread: the caller
 * calls dpc_ctl_server_poll() with a timeout and the server never blocks
 * longer. Methods come from a static table {name, handler, help, read_only}.
 * Everything a client sends is untrusted and bounded:
 *   - a request line is at most DPC_CTL_LINE_MAX bytes; a longer one gets a
 *     -32004 error and the connection is closed after it;
 *   - at most max_clients connections; the next one is sent a -32003 error
 *     and closed;
 *   - each connection's pending output is at most max_output_bytes (or one
 *     message, if that is larger); a client that does not read is dropped,
 *     nobody else waits;
 *   - a connection that sends no complete request for idle_timeout_ms is
 *     sent a -32005 error and closed (subscribed connections are exempt);
 *   - JSON is parsed by jansson with JSON_REJECT_DUPLICATES (duplicate keys,
 *     invalid UTF-8, NUL bytes, integers outside int64 and nesting deeper
 *     than jansson's limit are parse errors), unknown request members are
 *     rejected;
 *   - peer credentials (SO_PEERCRED, and SO_PEERGROUPS for supplementary
 *     groups) decide, per connection, between full access, read-only (only
 *     methods marked read_only), and refusal.
 * Errors carry data {"field": ..., "reason": ...}. After any error the
 * connection (unless stated above) and the server keep serving.
 *
 * Also here: the helpers that confine a job's output directory under the
 * capture root (dpc_ctl_name_check, dpc_ctl_job_dir_open).
 *
 * No DPDK dependency; not thread-safe (one thread owns a server).
 */
#ifndef DPC_CTL_H
#define DPC_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest request line accepted, in bytes, newline excluded. */
#define DPC_CTL_LINE_MAX 65536
/** Most requests in one batch (a longer batch is one -32600 error). */
#define DPC_CTL_BATCH_MAX 1024
/** Longest job name (dpc_ctl_name_check). */
#define DPC_CTL_NAME_MAX 64
/** Most entries in each credential list of the config. */
#define DPC_CTL_CRED_MAX 32

/** Error codes: JSON-RPC 2.0's, then the server's own (-32001..-32005). */
enum dpc_ctl_code {
	DPC_CTL_E_PARSE = -32700,           /**< not JSON (or not UTF-8, dup key, ...) */
	DPC_CTL_E_INVALID_REQUEST = -32600, /**< JSON, but not a JSON-RPC request */
	DPC_CTL_E_METHOD = -32601,          /**< no such method */
	DPC_CTL_E_PARAMS = -32602,          /**< params wrong (field names which) */
	DPC_CTL_E_INTERNAL = -32603,        /**< the server failed */
	DPC_CTL_E_DENIED = -32001,          /**< peer credentials not allowed */
	DPC_CTL_E_READ_ONLY = -32002,       /**< method changes state, client is read-only */
	DPC_CTL_E_BUSY = -32003,            /**< too many clients */
	DPC_CTL_E_TOO_LARGE = -32004,       /**< request line over DPC_CTL_LINE_MAX */
	DPC_CTL_E_IDLE = -32005,            /**< idle timeout */
};

/** Short message for a code ("Parse error", ...); "Server error" if unknown. */
const char *dpc_ctl_code_message(int code);

/** An application's own error code and its short message. */
struct dpc_ctl_code_name {
	int code;
	const char *message;
};
/**
 * Register the application's codes (a static table that outlives every
 * server; process-wide, call once before serving) so error objects carry
 * their message instead of "Server error".
 */
void dpc_ctl_register_codes(const struct dpc_ctl_code_name *names, unsigned n);

struct dpc_ctl_server;
struct dpc_ctl_conn;
struct dpc_ctl_call;      /* one request being served (valid during the handler) */
struct dpc_ctl_deferred;  /* a request answered later (dpc_ctl_call_defer) */

/**
 * A method handler. params is always an object (empty when the request had
 * none; array params are refused before the handler runs); borrowed.
 * @return a new reference to the result, or NULL after dpc_ctl_call_error()
 *         (NULL without an error is reported as -32603) or after
 *         dpc_ctl_call_defer().
 */
typedef json_t *(*dpc_ctl_handler_t)(struct dpc_ctl_call *call, json_t *params,
				     void *ctx);

struct dpc_ctl_method {
	const char *name;          /**< "job.start" */
	dpc_ctl_handler_t handler;
	const char *help;          /**< one line */
	bool read_only;            /**< callable by read-only clients */
};

/** Access a connection was granted from its peer credentials. */
enum dpc_ctl_access {
	DPC_CTL_ACCESS_DENIED = 0,
	DPC_CTL_ACCESS_READ_ONLY,
	DPC_CTL_ACCESS_FULL,
};

struct dpc_ctl_config {
	char socket_path[108];     /**< "" = no listening socket (tests, fuzzing) */
	int socket_group;          /**< gid for the socket file, -1 = leave as is */
	unsigned socket_mode;      /**< default 0660 */
	uid_t allow_uids[DPC_CTL_CRED_MAX];
	unsigned n_allow_uids;
	gid_t allow_gids[DPC_CTL_CRED_MAX];
	unsigned n_allow_gids;
	uid_t ro_uids[DPC_CTL_CRED_MAX];
	unsigned n_ro_uids;
	gid_t ro_gids[DPC_CTL_CRED_MAX];
	unsigned n_ro_gids;
	unsigned max_clients;      /**< default 64 */
	size_t max_output_bytes;   /**< per connection, default 4 MiB */
	unsigned idle_timeout_ms;  /**< default 300000; 0 = never */
};

/** Fill cfg with the defaults (no socket path). */
void dpc_ctl_config_defaults(struct dpc_ctl_config *cfg);

/**
 * Read the daemon config's "control" object (keys in
 * docs/control-protocol.md) over the defaults. obj NULL = defaults only.
 * Unknown keys and bad values are refused.
 * @return 0, or -EINVAL with err naming the key and the value.
 */
int dpc_ctl_config_from_json(const json_t *obj, struct dpc_ctl_config *cfg,
			     char *err, size_t errlen);

/**
 * Access for a peer: uid 0 and the server's own euid get full access; then,
 * in order, uid in allow_uids → full, uid in ro_uids → read-only, gid in
 * allow_gids → full, gid in ro_gids → read-only; else denied.
 */
enum dpc_ctl_access dpc_ctl_access_for(const struct dpc_ctl_config *cfg,
				       uid_t uid, gid_t gid);
/**
 * The same with the peer's supplementary groups (SO_PEERGROUPS): a group
 * rule matches the primary gid or any of groups[0..n).
 */
enum dpc_ctl_access dpc_ctl_access_for_groups(const struct dpc_ctl_config *cfg,
					      uid_t uid, gid_t gid,
					      const gid_t *groups, unsigned n);

/**
 * Create a server. When cfg->socket_path is set the socket is created there
 * (a stale socket file is replaced, a live one or any other file is an
 * error), mode cfg->socket_mode, group cfg->socket_group.
 * methods must outlive the server; ctx is passed to every handler.
 * @return the server, or NULL with errno and err filled.
 */
struct dpc_ctl_server *dpc_ctl_server_open(const struct dpc_ctl_config *cfg,
					   const struct dpc_ctl_method *methods,
					   unsigned n_methods, void *ctx,
					   char *err, size_t errlen);

/**
 * Serve whatever is ready, waiting at most timeout_ms (0 = do not wait).
 * @return number of events handled, or -errno.
 */
int dpc_ctl_server_poll(struct dpc_ctl_server *srv, int timeout_ms);

/** The epoll fd (readable when dpc_ctl_server_poll has work). */
int dpc_ctl_server_fd(const struct dpc_ctl_server *srv);

/** Connections open now. */
unsigned dpc_ctl_server_clients(const struct dpc_ctl_server *srv);

/** Server counters (for stats): requests, errors, connections, drops. */
struct dpc_ctl_counters {
	uint64_t requests;         /**< requests handled (batch elements each) */
	uint64_t errors;           /**< error responses sent */
	uint64_t accepted;         /**< connections accepted */
	uint64_t refused_busy;     /**< refused: max_clients */
	uint64_t refused_denied;   /**< refused: credentials */
	uint64_t dropped_slow;     /**< dropped: output buffer over the bound */
	uint64_t dropped_idle;     /**< dropped: idle timeout */
	uint64_t dropped_too_large;/**< dropped: request line too long */
};
void dpc_ctl_server_counters(const struct dpc_ctl_server *srv,
			     struct dpc_ctl_counters *out);

/**
 * Send a notification {"jsonrpc":"2.0","method":method,"params":params} to
 * every subscribed connection (dpc_ctl_call_subscribe). params is stolen.
 * A connection whose output would exceed its bound is dropped.
 * @return number of connections it was queued for.
 */
unsigned dpc_ctl_server_notify(struct dpc_ctl_server *srv, const char *method,
			       json_t *params);

/** Close every connection and the socket, unlink the socket file; NULL ok. */
void dpc_ctl_server_close(struct dpc_ctl_server *srv);

/*
 * Connections made by the caller (tests, fuzzing): fd is a connected
 * stream socket the server now owns (closed with the connection), or -1 for
 * an in-memory connection whose output is kept for dpc_ctl_conn_take_output.
 */
struct dpc_ctl_conn *dpc_ctl_server_attach(struct dpc_ctl_server *srv, int fd,
					   enum dpc_ctl_access access);
/**
 * Feed bytes as if read from the connection (in-memory connections).
 * @return 0, or -EPIPE when the connection was closed by the server (then
 *         it is freed by dpc_ctl_conn_release()).
 */
int dpc_ctl_conn_feed(struct dpc_ctl_conn *c, const void *data, size_t len);
/** Output queued on an in-memory connection (malloc'd, caller frees; *len set). */
char *dpc_ctl_conn_take_output(struct dpc_ctl_conn *c, size_t *len);
/** True when the server has closed (or decided to close) the connection. */
bool dpc_ctl_conn_closed(const struct dpc_ctl_conn *c);
/** Release an in-memory connection (closing it if still open). */
void dpc_ctl_conn_release(struct dpc_ctl_conn *c);

/*
 * For handlers.
 */

/**
 * Set the call's error: code, data {"field": field, "reason": <printf>}.
 * field NULL is sent as "params". extra (stolen, may be NULL) is an object
 * whose members are added to data (e.g. "column", "token").
 * @return NULL, so a handler can `return dpc_ctl_call_error(...)`.
 */
json_t *dpc_ctl_call_error(struct dpc_ctl_call *call, int code,
			   const char *field, json_t *extra,
			   const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/** Subscribe the calling connection to notifications. */
void dpc_ctl_call_subscribe(struct dpc_ctl_call *call);

/** Peer credentials of the calling connection (uid -1 for in-memory). */
uid_t dpc_ctl_call_uid(const struct dpc_ctl_call *call);
pid_t dpc_ctl_call_pid(const struct dpc_ctl_call *call);

/**
 * Answer later: the handler returns NULL after this and calls
 * dpc_ctl_deferred_reply() or _error() exactly once, from the server's
 * thread. If the client has gone meanwhile the answer is discarded.
 * @return the handle, or NULL (ENOMEM; then return an error instead).
 */
struct dpc_ctl_deferred *dpc_ctl_call_defer(struct dpc_ctl_call *call);
/** Complete with a result (stolen); frees d. */
void dpc_ctl_deferred_reply(struct dpc_ctl_deferred *d, json_t *result);
/** Complete with an error (as dpc_ctl_call_error); frees d. */
void dpc_ctl_deferred_error(struct dpc_ctl_deferred *d, int code,
			    const char *field, json_t *extra,
			    const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/**
 * Reject members of obj not listed in allowed (NULL-terminated): sets a
 * -32602 error naming "<prefix>.<key>" and returns -EINVAL; else 0.
 */
int dpc_ctl_check_keys(struct dpc_ctl_call *call, const json_t *obj,
		       const char *prefix, const char *const *allowed);

/** Copy s into a JSON string, replacing bytes that are not valid UTF-8 or
 * are control characters by '?' (for echoing untrusted text). New ref. */
json_t *dpc_ctl_safe_string(const char *s, size_t len);

/*
 * Job output confinement.
 */

/**
 * Is name a valid job name: [A-Za-z0-9._-]{1,DPC_CTL_NAME_MAX}, not "." or
 * containing "..", no "/" or NUL (len is its length, so embedded NULs are
 * seen).
 * @return 0, or -EINVAL with err saying why.
 */
int dpc_ctl_name_check(const char *name, size_t len, char *err, size_t errlen);

/**
 * Create (when create) and open root/name as a directory, refusing
 * anything that is not a plain directory directly under root: a symlink at
 * name (O_NOFOLLOW: ELOOP), a non-directory (ENOTDIR). The root itself may
 * be reached through a symlink (it is the administrator's choice). When
 * create and the directory already exists and is not empty, -EEXIST.
 * @return a directory fd (O_DIRECTORY|O_CLOEXEC), or -errno with err.
 */
int dpc_ctl_job_dir_open(const char *root, const char *name, bool create,
			 char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* DPC_CTL_H */
