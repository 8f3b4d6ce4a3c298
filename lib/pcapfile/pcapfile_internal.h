/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcapfile_internal.h - shared between the writer, the manifest code and
 * crash recovery. Not installed; tests may use the write hook.
 */
#ifndef DPC_PCAPFILE_INTERNAL_H
#define DPC_PCAPFILE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define PF_MANIFEST      "manifest.json"
#define PF_MANIFEST_TMP  "manifest.json.tmp"
#define PF_PART_SUFFIX   ".part"
#define PF_RESERVE_SIZE  (64u * 1024u)
#define PF_NAME_MAX      256

/* One file of the job, as listed in the manifest. */
struct pf_file {
	char name[PF_NAME_MAX];      /* final name, "<prefix>-NNNNN.pcap" */
	uint32_t index;
	uint64_t packets;
	uint64_t bytes;              /* file size, header included */
	uint64_t first_ns, last_ns;
	char sha256[65];             /* hex, "" when not computed */
	const char *state;           /* "writing", "complete", "truncated", "recovered" */
	const char *reason;          /* why it was closed, NULL while writing */
};

/*
 * Every data write of the writer goes through this pointer (write(2) by
 * default). Tests replace it to inject short writes and errors.
 */
extern ssize_t (*dpc_pcapfile_write_hook)(int fd, const void *buf, size_t len);

/* File entry <-> JSON object. */
json_t *pf_file_to_json(const struct pf_file *f);

/* Atomically replace dirfd/manifest.json (tmp + fsync + rename). 0/-errno. */
int pf_manifest_store(int dirfd, json_t *root, bool sync);

/* Load dirfd/manifest.json: the object, NULL+errno (ENOENT: none). */
json_t *pf_manifest_load(int dirfd);

/* sha256 of the first len bytes of fd, as 64 hex chars + NUL. 0/-errno. */
int pf_sha256_fd(int fd, uint64_t len, char hex[65]);

/* Wall-clock time in ns (for "updated_ns"). */
uint64_t pf_now_ns(void);

#endif /* DPC_PCAPFILE_INTERNAL_H */
