/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.h - dpcapd's JSON config (docs/config.md is the reference).
 */
#ifndef DPCAPD_CONFIG_H
#define DPCAPD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "dpc_dp.h"

struct dpcapd_config {
	struct dpc_dp_config dp;
	json_t *root;                 /**< the file as loaded (owned) */
	const json_t *control;        /**< "control" object, borrowed; NULL if absent */
	struct dpc_job_spec *jobs;    /**< "jobs", resolved against job_defaults */
	unsigned n_jobs;
	bool exit_when_done;
	uint32_t exit_idle_ms;
};

/**
 * Load and validate a config file. Every key has a default; unknown keys
 * are errors. @return 0, or -EINVAL/-errno with err naming the key and the
 * value ("writers: must be an integer 1..16, got 0").
 */
int dpcapd_config_load(const char *path, struct dpcapd_config *cfg,
		       char *err, size_t errlen);

/** Same from a parsed JSON object (takes a new reference). */
int dpcapd_config_from_json(json_t *root, struct dpcapd_config *cfg,
			    char *err, size_t errlen);

void dpcapd_config_free(struct dpcapd_config *cfg);

#endif
