/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * input.c - feeding the analyser from pcap/pcapng (libpcap) and from a
 * dpcap job directory (its manifest.json lists the files in order; see
 * docs/file-layout.md).
 */
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "triage_internal.h"

static struct input *input_add(struct dpc_triage *t, const char *name)
{
	struct input *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return NULL;
	snprintf(in->name, sizeof(in->name), "%s", name);
	in->first_pkt = t->pkt_no + 1;
	in->linktype = -1;
	if (t->inputs_tail)
		t->inputs_tail->next = in;
	else
		t->inputs = in;
	t->inputs_tail = in;
	t->n_inputs++;
	return in;
}

static int read_pcap(struct dpc_triage *t, pcap_t *p, struct input *in)
{
	struct pcap_pkthdr *ph;
	const u_char *data;
	int rc, prec;

	in->linktype = pcap_datalink(p);
	if (in->linktype != DLT_EN10MB) {
		snprintf(in->err, sizeof(in->err),
			 "link type %s is not Ethernet: file skipped",
			 pcap_datalink_val_to_name(in->linktype) ?
			 pcap_datalink_val_to_name(in->linktype) : "unknown");
		return 0;
	}
	prec = pcap_get_tstamp_precision(p);
	while ((rc = pcap_next_ex(p, &ph, &data)) == 1) {
		uint64_t ts = (uint64_t)ph->ts.tv_sec * NS +
			      (uint64_t)ph->ts.tv_usec *
			      (prec == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000);

		dpc_triage_packet(t, ts, data, ph->caplen, ph->len);
		in->pkts++;
	}
	if (rc == PCAP_ERROR)
		snprintf(in->err, sizeof(in->err), "damaged after %llu packets: %s",
			 (unsigned long long)in->pkts, pcap_geterr(p));
	return 0;
}

int dpc_triage_read_stream(struct dpc_triage *t, FILE *fp, const char *name,
			   char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct input *in;
	pcap_t *p;
	int rc;

	p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO,
						     ebuf);
	if (p == NULL) {
		if (err)
			snprintf(err, errlen, "%s: %s", name, ebuf);
		fclose(fp);
		return -EINVAL;
	}
	in = input_add(t, name);
	if (in == NULL) {
		pcap_close(p);
		return -ENOMEM;
	}
	rc = read_pcap(t, p, in);
	pcap_close(p);   /* closes fp */
	return rc;
}

static int read_file(struct dpc_triage *t, const char *path, const char *label,
		     char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");

	if (fp == NULL) {
		int e = errno;

		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	return dpc_triage_read_stream(t, fp, label, err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool capture_name(const char *n)
{
	size_t l = strlen(n);

	return (l > 5 && strcmp(n + l - 5, ".pcap") == 0) ||
	       (l > 7 && strcmp(n + l - 7, ".pcapng") == 0) ||
	       (l > 10 && strcmp(n + l - 10, ".pcap.part") == 0);
}

/* A directory without a manifest: every capture file in name order. */
static int read_dir_plain(struct dpc_triage *t, const char *dir, char *err,
			  size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL) {
		rc = -errno;
		if (err)
			snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		if (!capture_name(e->d_name))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*nn));

			if (nn == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		names[n] = strdup(e->d_name);
		if (names[n] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n == 0) {
		rc = -ENOENT;
		if (err)
			snprintf(err, errlen, "%s: no manifest.json and no capture files",
				 dir);
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = read_file(t, path, path, err, errlen);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

static int read_dir(struct dpc_triage *t, const char *dir, char *err, size_t errlen)
{
	char path[4096];
	json_error_t jerr;
	json_t *root, *files, *f;
	size_t i;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if (access(path, F_OK) != 0)
		return read_dir_plain(t, dir, err, errlen);
	root = json_load_file(path, 0, &jerr);
	if (root == NULL) {
		if (err)
			snprintf(err, errlen, "%s: line %d: %s", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	files = json_object_get(root, "files");
	if (!json_is_array(files)) {
		if (err)
			snprintf(err, errlen, "%s: no \"files\" array", path);
		json_decref(root);
		return -EINVAL;
	}
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		const char *state = json_string_value(json_object_get(f, "state"));
		struct stat st;

		if (name == NULL || strchr(name, '/') != NULL) {
			if (err)
				snprintf(err, errlen, "%s: files[%zu] has no plain \"name\"",
					 path, i);
			rc = -EINVAL;
			break;
		}
		if (state && strcmp(state, "deleted") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (stat(path, &st) != 0) {
			char part[4200];

			snprintf(part, sizeof(part), "%s.part", path);
			if (strlen(part) < sizeof(path) && stat(part, &st) == 0) {
				memcpy(path, part, strlen(part) + 1);
			} else {
				struct input *in = input_add(t, path);

				if (in != NULL)
					snprintf(in->err, sizeof(in->err),
						 "listed in the manifest but missing");
				continue;
			}
		}
		rc = read_file(t, path, path, err, errlen);
		if (rc != 0)
			break;
	}
	json_decref(root);
	return rc;
}

int dpc_triage_read_path(struct dpc_triage *t, const char *path, char *err,
			 size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int e = errno;

		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode))
		return read_dir(t, path, err, errlen);
	return read_file(t, path, path, err, errlen);
}
