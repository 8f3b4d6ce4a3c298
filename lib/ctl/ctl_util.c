/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_util.c - the "control" config object, the credential policy and the
 * confinement of job output directories under the capture root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dpc_ctl.h"

void dpc_ctl_config_defaults(struct dpc_ctl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_group = -1;
	cfg->socket_mode = 0660;
	cfg->max_clients = 64;
	cfg->max_output_bytes = 4u << 20;
	cfg->idle_timeout_ms = 300000;
}

static bool in_uids(const uid_t *l, unsigned n, uid_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (l[i] == v)
			return true;
	return false;
}

static bool in_gids(const gid_t *l, unsigned n, gid_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (l[i] == v)
			return true;
	return false;
}

static bool any_in_gids(const gid_t *l, unsigned n, gid_t gid,
			const gid_t *groups, unsigned ng)
{
	if (in_gids(l, n, gid))
		return true;
	for (unsigned i = 0; i < ng; i++)
		if (in_gids(l, n, groups[i]))
			return true;
	return false;
}

enum dpc_ctl_access dpc_ctl_access_for_groups(const struct dpc_ctl_config *cfg,
					      uid_t uid, gid_t gid,
					      const gid_t *groups, unsigned n)
{
	if (uid == 0 || uid == geteuid())
		return DPC_CTL_ACCESS_FULL;
	if (in_uids(cfg->allow_uids, cfg->n_allow_uids, uid))
		return DPC_CTL_ACCESS_FULL;
	if (in_uids(cfg->ro_uids, cfg->n_ro_uids, uid))
		return DPC_CTL_ACCESS_READ_ONLY;
	if (any_in_gids(cfg->allow_gids, cfg->n_allow_gids, gid, groups, n))
		return DPC_CTL_ACCESS_FULL;
	if (any_in_gids(cfg->ro_gids, cfg->n_ro_gids, gid, groups, n))
		return DPC_CTL_ACCESS_READ_ONLY;
	return DPC_CTL_ACCESS_DENIED;
}

enum dpc_ctl_access dpc_ctl_access_for(const struct dpc_ctl_config *cfg,
				       uid_t uid, gid_t gid)
{
	return dpc_ctl_access_for_groups(cfg, uid, gid, NULL, 0);
}

/* A uid/gid given as a number or a name. */
static int id_from_json(const json_t *v, bool group, long *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0 || i > 0x7ffffffe)
			return -ERANGE;
		*out = (long)i;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (group) {
			struct group *g = getgrnam(s);

			if (g == NULL)
				return -ENOENT;
			*out = (long)g->gr_gid;
		} else {
			struct passwd *p = getpwnam(s);

			if (p == NULL)
				return -ENOENT;
			*out = (long)p->pw_uid;
		}
		return 0;
	}
	return -EINVAL;
}

static int id_list(const json_t *arr, const char *key, bool group, void *out,
		   unsigned *n, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		snprintf(err, errlen, "control.%s: must be an array of %s names "
			 "or numbers", key, group ? "group" : "user");
		return -EINVAL;
	}
	if (json_array_size(arr) > DPC_CTL_CRED_MAX) {
		snprintf(err, errlen, "control.%s: at most %d entries", key,
			 DPC_CTL_CRED_MAX);
		return -EINVAL;
	}
	*n = 0;
	json_array_foreach(arr, i, v) {
		long id;
		int rc = id_from_json(v, group, &id);

		if (rc != 0) {
			char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			snprintf(err, errlen, "control.%s[%zu]: %.64s: %s", key, i,
				 txt ? txt : "?", rc == -ENOENT ?
				 (group ? "no such group" : "no such user") :
				 "must be a name or a non-negative number");
			free(txt);
			return -EINVAL;
		}
		if (group)
			((gid_t *)out)[(*n)++] = (gid_t)id;
		else
			((uid_t *)out)[(*n)++] = (uid_t)id;
	}
	return 0;
}

static int uint_key(const json_t *v, const char *key, long long min,
		    long long max, long long *out, char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		snprintf(err, errlen, "control.%s: %.64s: must be an integer "
			 "from %lld to %lld", key, txt ? txt : "?", min, max);
		free(txt);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

int dpc_ctl_config_from_json(const json_t *obj, struct dpc_ctl_config *cfg,
			     char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (obj == NULL)
		return 0;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "control: must be an object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v) {
		long long n;
		long id;
		int rc = 0;

		if (strcmp(key, "socket") == 0) {
			const char *s = json_string_value(v);

			if (s == NULL || s[0] == '\0' ||
			    strlen(s) >= sizeof(cfg->socket_path)) {
				snprintf(err, errlen, "control.socket: must be a "
					 "path of 1 to %zu bytes",
					 sizeof(cfg->socket_path) - 1);
				return -EINVAL;
			}
			strcpy(cfg->socket_path, s);
		} else if (strcmp(key, "group") == 0) {
			if (json_is_null(v)) {
				cfg->socket_group = -1;
				continue;
			}
			if (id_from_json(v, true, &id) != 0) {
				char *txt = json_dumps(v, JSON_ENCODE_ANY);

				snprintf(err, errlen, "control.group: %.64s: no "
					 "such group", txt ? txt : "?");
				free(txt);
				return -EINVAL;
			}
			cfg->socket_group = (int)id;
		} else if (strcmp(key, "allow_uids") == 0) {
			rc = id_list(v, key, false, cfg->allow_uids,
				     &cfg->n_allow_uids, err, errlen);
		} else if (strcmp(key, "allow_gids") == 0) {
			rc = id_list(v, key, true, cfg->allow_gids,
				     &cfg->n_allow_gids, err, errlen);
		} else if (strcmp(key, "read_only_uids") == 0) {
			rc = id_list(v, key, false, cfg->ro_uids,
				     &cfg->n_ro_uids, err, errlen);
		} else if (strcmp(key, "read_only_gids") == 0) {
			rc = id_list(v, key, true, cfg->ro_gids,
				     &cfg->n_ro_gids, err, errlen);
		} else if (strcmp(key, "max_clients") == 0) {
			rc = uint_key(v, key, 1, 1024, &n, err, errlen);
			if (rc == 0)
				cfg->max_clients = (unsigned)n;
		} else if (strcmp(key, "max_output_bytes") == 0) {
			rc = uint_key(v, key, 65536, 1ll << 30, &n, err, errlen);
			if (rc == 0)
				cfg->max_output_bytes = (size_t)n;
		} else if (strcmp(key, "idle_timeout_s") == 0) {
			rc = uint_key(v, key, 0, 86400, &n, err, errlen);
			if (rc == 0)
				cfg->idle_timeout_ms = (unsigned)n * 1000u;
		} else {
			snprintf(err, errlen, "control.%.64s: unknown key (known: "
				 "socket, group, allow_uids, allow_gids, "
				 "read_only_uids, read_only_gids, max_clients, "
				 "max_output_bytes, idle_timeout_s)", key);
			return -EINVAL;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

int dpc_ctl_name_check(const char *name, size_t len, char *err, size_t errlen)
{
	if (name == NULL || len == 0) {
		snprintf(err, errlen, "empty name");
		return -EINVAL;
	}
	if (len > DPC_CTL_NAME_MAX) {
		snprintf(err, errlen, "longer than %d characters", DPC_CTL_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '\0') {
			snprintf(err, errlen, "contains a NUL byte at offset %zu", i);
			return -EINVAL;
		}
		if (ch == '/') {
			snprintf(err, errlen, "contains '/' at offset %zu "
				 "(a name is one directory under the capture root)", i);
			return -EINVAL;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-')) {
			snprintf(err, errlen, "character at offset %zu is not one "
				 "of [A-Za-z0-9._-]", i);
			return -EINVAL;
		}
	}
	if (len == 1 && name[0] == '.') {
		snprintf(err, errlen, "\".\" is not a name");
		return -EINVAL;
	}
	for (size_t i = 0; i + 1 < len; i++) {
		if (name[i] == '.' && name[i + 1] == '.') {
			snprintf(err, errlen, "contains \"..\"");
			return -EINVAL;
		}
	}
	return 0;
}

static int dir_is_empty(int fd)
{
	int dfd = dup(fd);
	DIR *d;
	struct dirent *e;
	int empty = 1;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return -errno;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int dpc_ctl_job_dir_open(const char *root, const char *name, bool create,
			 char *err, size_t errlen)
{
	struct stat st;
	int rfd, fd = -1, rc;
	bool made = false;

	rc = dpc_ctl_name_check(name, name ? strlen(name) : 0, err, errlen);
	if (rc != 0)
		return rc;
	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "capture root \"%s\": %s", root,
			 strerror(errno));
		return rc;
	}
	if (create) {
		if (mkdirat(rfd, name, 0750) == 0) {
			made = true;
		} else if (errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "cannot create \"%s\" under the "
				 "capture root: %s", name, strerror(errno));
			goto out;
		}
	}
	fd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (errno == ENOTDIR &&
		    fstatat(rfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			rc = -ELOOP;
		if (rc == -ELOOP)
			snprintf(err, errlen, "\"%s\" under the capture root is a "
				 "symbolic link; refused", name);
		else if (rc == -ENOTDIR)
			snprintf(err, errlen, "\"%s\" under the capture root "
				 "exists and is not a directory", name);
		else
			snprintf(err, errlen, "\"%s\" under the capture root: %s",
				 name, strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
		snprintf(err, errlen, "\"%s\" is not a directory", name);
		goto out;
	}
	if (create && !made) {
		rc = dir_is_empty(fd);
		if (rc == 0) {
			rc = -EEXIST;
			snprintf(err, errlen, "\"%s\" already exists under the "
				 "capture root and is not empty", name);
			goto out;
		}
		if (rc < 0) {
			snprintf(err, errlen, "\"%s\": %s", name, strerror(-rc));
			goto out;
		}
	}
	close(rfd);
	return fd;
out:
	if (fd >= 0)
		close(fd);
	close(rfd);
	return rc;
}
