/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.c - dpcapd config loading: one named default and one validator
 * per key; errors name the key and the value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void brief(const json_t *v, char *b, size_t n)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	snprintf(b, n, "%.60s%s", s ? s : "?", s && strlen(s) > 60 ? "..." : "");
	free(s);
}

static int u64_in(const json_t *v, const char *key, uint64_t lo, uint64_t hi,
		  uint64_t *out, char *err, size_t errlen)
{
	char b[80];

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < lo || (uint64_t)json_integer_value(v) > hi) {
		brief(v, b, sizeof(b));
		set_err(err, errlen, "%s: must be an integer %" PRIu64 "..%" PRIu64 ", got %s",
			key, lo, hi, b);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int u32_in(const json_t *v, const char *key, uint64_t lo, uint64_t hi,
		  uint32_t *out, char *err, size_t errlen)
{
	uint64_t u;
	int rc = u64_in(v, key, lo, hi, &u, err, errlen);

	if (!rc)
		*out = (uint32_t)u;
	return rc;
}

static int boolean(const json_t *v, const char *key, bool *out, char *err, size_t errlen)
{
	char b[80];

	if (!json_is_boolean(v)) {
		brief(v, b, sizeof(b));
		set_err(err, errlen, "%s: must be true or false, got %s", key, b);
		return -EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

static int string(const json_t *v, const char *key, char *out, size_t outlen,
		  char *err, size_t errlen)
{
	char b[80];
	const char *s = json_string_value(v);

	if (!s || !*s || strlen(s) >= outlen || json_string_length(v) != strlen(s)) {
		brief(v, b, sizeof(b));
		set_err(err, errlen, "%s: must be a non-empty string of at most %zu bytes, got %s",
			key, outlen - 1, b);
		return -EINVAL;
	}
	snprintf(out, outlen, "%s", s);
	return 0;
}

static int parse_port(const json_t *o, unsigned i, struct dpc_dp_port_cfg *p,
		      char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char key[64], b[80];
	bool have_dev = false;
	uint32_t u = 0;
	int rc = 0;

	snprintf(p->name, sizeof(p->name), "p%u", i);
	p->rx_queues = 1;
	p->rx_desc = 1024;
	p->rss = true;
	p->promisc = true;
	if (!json_is_object(o)) {
		brief(o, b, sizeof(b));
		set_err(err, errlen, "ports[%u]: must be an object, got %s", i, b);
		return -EINVAL;
	}
	json_object_foreach((json_t *)o, k, v) {
		snprintf(key, sizeof(key), "ports[%u].%s", i, k);
		if (!strcmp(k, "name")) {
			rc = string(v, key, p->name, sizeof(p->name), err, errlen);
		} else if (!strcmp(k, "device")) {
			rc = string(v, key, p->device, sizeof(p->device), err, errlen);
			have_dev = true;
		} else if (!strcmp(k, "rx_queues")) {
			rc = u32_in(v, key, 1, DPC_DP_QUEUES_MAX, &u, err, errlen);
			p->rx_queues = (uint16_t)u;
		} else if (!strcmp(k, "rx_desc")) {
			rc = u32_in(v, key, 32, 32768, &u, err, errlen);
			p->rx_desc = (uint16_t)u;
		} else if (!strcmp(k, "rss")) {
			rc = boolean(v, key, &p->rss, err, errlen);
		} else if (!strcmp(k, "promisc")) {
			rc = boolean(v, key, &p->promisc, err, errlen);
		} else if (!strcmp(k, "timestamps")) {
			const char *ts = json_string_value(v);

			if (ts && !strcmp(ts, "auto")) {
				p->timestamps = DPC_DP_TS_AUTO;
			} else if (ts && !strcmp(ts, "tsc")) {
				p->timestamps = DPC_DP_TS_TSC;
			} else if (ts && !strcmp(ts, "hw")) {
				p->timestamps = DPC_DP_TS_HW;
			} else {
				brief(v, b, sizeof(b));
				set_err(err, errlen, "%s: must be \"auto\", \"tsc\" or \"hw\", got %s",
					key, b);
				rc = -EINVAL;
			}
		} else {
			set_err(err, errlen, "%s: unknown key", key);
			rc = -EINVAL;
		}
		if (rc)
			return rc;
	}
	if (!have_dev) {
		set_err(err, errlen, "ports[%u].device: missing (a PCI address or a vdev string)", i);
		return -EINVAL;
	}
	return 0;
}

int dpcapd_config_from_json(json_t *root, struct dpcapd_config *cfg,
			    char *err, size_t errlen)
{
	struct dpc_dp_config *d = &cfg->dp;
	const json_t *jobs = NULL;
	const char *k;
	json_t *v;
	char b[80];
	uint64_t u64;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	dpc_dp_config_init(d);
	if (!json_is_object(root)) {
		set_err(err, errlen, "config: the top level must be a JSON object");
		return -EINVAL;
	}
	cfg->root = json_incref(root);
	d->config_json = root;
	json_object_foreach(root, k, v) {
		if (!strcmp(k, "ports")) {
			size_t i;
			json_t *p;

			if (!json_is_array(v) || json_array_size(v) == 0 ||
			    json_array_size(v) > DPC_DP_PORTS_MAX) {
				brief(v, b, sizeof(b));
				set_err(err, errlen, "ports: must be an array of 1..%d ports, got %s",
					DPC_DP_PORTS_MAX, b);
				rc = -EINVAL;
				goto fail;
			}
			json_array_foreach(v, i, p) {
				rc = parse_port(p, (unsigned)i, &d->ports[i], err, errlen);
				if (rc)
					break;
			}
			d->n_ports = (unsigned)json_array_size(v);
		} else if (!strcmp(k, "worker_lcores")) {
			size_t i;
			json_t *p;

			if (!json_is_array(v) || json_array_size(v) > DPC_DP_WORKERS_MAX) {
				brief(v, b, sizeof(b));
				set_err(err, errlen, "worker_lcores: must be an array of at most %d lcore ids, got %s",
					DPC_DP_WORKERS_MAX, b);
				rc = -EINVAL;
				goto fail;
			}
			json_array_foreach(v, i, p) {
				char key[48];

				snprintf(key, sizeof(key), "worker_lcores[%zu]", i);
				rc = u64_in(p, key, 0, 1023, &u64, err, errlen);
				if (rc)
					break;
				d->worker_lcores[i] = (unsigned)u64;
			}
			d->n_worker_lcores = (unsigned)json_array_size(v);
		} else if (!strcmp(k, "writers")) {
			rc = u32_in(v, k, 1, DPC_DP_WRITERS_MAX, &d->writers, err, errlen);
		} else if (!strcmp(k, "mbufs")) {
			rc = u32_in(v, k, 512, 1u << 26, &d->mbufs, err, errlen);
		} else if (!strcmp(k, "mbuf_cache")) {
			rc = u32_in(v, k, 0, 512, &d->mbuf_cache, err, errlen);
		} else if (!strcmp(k, "mbuf_data_room")) {
			rc = u32_in(v, k, 1024, 65535, &d->mbuf_data_room, err, errlen);
		} else if (!strcmp(k, "burst")) {
			rc = u32_in(v, k, 1, 64, &d->burst, err, errlen);
		} else if (!strcmp(k, "screen_simd")) {
			rc = boolean(v, k, &d->screen_simd, err, errlen);
		} else if (!strcmp(k, "block_size")) {
			rc = u32_in(v, k, 4096, 64u << 20, &d->block_size, err, errlen);
		} else if (!strcmp(k, "blocks")) {
			rc = u32_in(v, k, 0, 1u << 20, &d->blocks, err, errlen);
		} else if (!strcmp(k, "ring_size")) {
			rc = u32_in(v, k, 2, 1u << 20, &d->ring_size, err, errlen);
			if (!rc && (d->ring_size & (d->ring_size - 1))) {
				set_err(err, errlen, "ring_size: must be a power of two, got %u",
					d->ring_size);
				rc = -EINVAL;
			}
		} else if (!strcmp(k, "flush_ms")) {
			rc = u32_in(v, k, 1, 1000, &d->flush_ms, err, errlen);
		} else if (!strcmp(k, "file_buf_size")) {
			rc = u32_in(v, k, 4096, 256u << 20, &d->file_buf_size, err, errlen);
		} else if (!strcmp(k, "capture_root")) {
			rc = string(v, k, d->capture_root, sizeof(d->capture_root), err, errlen);
			if (!rc && d->capture_root[0] != '/') {
				set_err(err, errlen, "capture_root: must be an absolute path, got \"%s\"",
					d->capture_root);
				rc = -EINVAL;
			}
		} else if (!strcmp(k, "min_free_bytes")) {
			rc = u64_in(v, k, 0, INT64_MAX, &d->min_free_bytes, err, errlen);
		} else if (!strcmp(k, "vxlan_ports")) {
			size_t i;
			json_t *p;

			if (!json_is_array(v) || json_array_size(v) > 4) {
				brief(v, b, sizeof(b));
				set_err(err, errlen, "vxlan_ports: must be an array of at most 4 UDP ports, got %s", b);
				rc = -EINVAL;
				goto fail;
			}
			json_array_foreach(v, i, p) {
				char key[48];

				snprintf(key, sizeof(key), "vxlan_ports[%zu]", i);
				rc = u64_in(p, key, 1, 65535, &u64, err, errlen);
				if (rc)
					break;
				d->vxlan_ports[i] = (uint16_t)u64;
			}
			d->n_vxlan_ports = (unsigned)json_array_size(v);
		} else if (!strcmp(k, "max_jobs")) {
			uint32_t u = 0;

			rc = u32_in(v, k, 1, DPC_DP_JOBS_MAX, &u, err, errlen);
			d->max_jobs = u;
		} else if (!strcmp(k, "validate_ms")) {
			rc = u32_in(v, k, 100, 60000, &d->validate_ms, err, errlen);
		} else if (!strcmp(k, "worker_idle_sleep_us")) {
			rc = u32_in(v, k, 0, 100000, &d->worker_idle_sleep_us, err, errlen);
		} else if (!strcmp(k, "sha256")) {
			rc = boolean(v, k, &d->sha256, err, errlen);
		} else if (!strcmp(k, "job_defaults")) {
			char e2[256];

			if (json_is_object(v) && json_object_get(v, "name")) {
				set_err(err, errlen, "job_defaults.name: a default cannot carry a name");
				rc = -EINVAL;
				goto fail;
			}
			rc = dpc_job_spec_from_json_ex(v, &d->job_defaults, false, e2, sizeof(e2));
			if (rc)
				set_err(err, errlen, "job_defaults.%s", e2);
		} else if (!strcmp(k, "jobs")) {
			if (!json_is_array(v)) {
				brief(v, b, sizeof(b));
				set_err(err, errlen, "jobs: must be an array of job objects, got %s", b);
				rc = -EINVAL;
				goto fail;
			}
			jobs = v;
		} else if (!strcmp(k, "control")) {
			if (!json_is_object(v) && !json_is_null(v)) {
				brief(v, b, sizeof(b));
				set_err(err, errlen, "control: must be an object (docs/control-protocol.md), got %s", b);
				rc = -EINVAL;
				goto fail;
			}
			cfg->control = json_is_object(v) ? v : NULL;
		} else if (!strcmp(k, "exit_when_done")) {
			rc = boolean(v, k, &cfg->exit_when_done, err, errlen);
		} else if (!strcmp(k, "exit_idle_ms")) {
			rc = u32_in(v, k, 0, 86400000, &cfg->exit_idle_ms, err, errlen);
		} else if (!strcmp(k, "comment") || k[0] == '_') {
			/* free-form notes */
		} else {
			set_err(err, errlen, "%s: unknown key (docs/config.md lists every key)", k);
			rc = -EINVAL;
		}
		if (rc)
			goto fail;
	}
	if (d->n_ports == 0) {
		set_err(err, errlen, "ports: missing (at least one capture port)");
		rc = -EINVAL;
		goto fail;
	}
	if ((uint64_t)d->mbuf_cache * 3 > (uint64_t)d->mbufs * 2) {
		set_err(err, errlen, "mbuf_cache: %u is more than mbufs / 1.5 (mbufs %u)",
			d->mbuf_cache, d->mbufs);
		rc = -EINVAL;
		goto fail;
	}
	if (jobs) {
		size_t i;
		json_t *j;

		cfg->jobs = calloc(json_array_size(jobs) + 1, sizeof(*cfg->jobs));
		if (!cfg->jobs) {
			rc = -ENOMEM;
			set_err(err, errlen, "jobs: out of memory");
			goto fail;
		}
		json_array_foreach(jobs, i, j) {
			char e2[300];
			unsigned p, q;

			cfg->jobs[i] = d->job_defaults;
			rc = dpc_job_spec_from_json(j, &cfg->jobs[i], e2, sizeof(e2));
			if (rc) {
				set_err(err, errlen, "jobs[%zu].%s", i, e2);
				goto fail;
			}
			for (p = 0; p < cfg->jobs[i].n_ports; p++)
				if (cfg->jobs[i].ports[p] >= d->n_ports) {
					set_err(err, errlen, "jobs[%zu].ports[%u]: port %u does not exist (%u configured)",
						i, p, cfg->jobs[i].ports[p], d->n_ports);
					rc = -EINVAL;
					goto fail;
				}
			for (q = 0; q < i; q++)
				if (!strcmp(cfg->jobs[q].name, cfg->jobs[i].name)) {
					set_err(err, errlen, "jobs[%zu].name: \"%s\" is also jobs[%u]",
						i, cfg->jobs[i].name, q);
					rc = -EINVAL;
					goto fail;
				}
			cfg->n_jobs++;
		}
	}
	return 0;
fail:
	dpcapd_config_free(cfg);
	return rc;
}

int dpcapd_config_load(const char *path, struct dpcapd_config *cfg,
		       char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	int rc;

	if (!root) {
		set_err(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return -EINVAL;
	}
	rc = dpcapd_config_from_json(root, cfg, err, errlen);
	json_decref(root);
	return rc;
}

void dpcapd_config_free(struct dpcapd_config *cfg)
{
	free(cfg->jobs);
	json_decref(cfg->root);
	memset(cfg, 0, sizeof(*cfg));
}
