/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_pcapfile.c - libFuzzer target for lib/pcapfile's two parsers of
 * untrusted bytes, with the outcome checked by libpcap:
 *
 *   first byte even: the rest is a crashed writer's "x-00001.pcap.part";
 *     dpc_pcapfile_recover() must either leave it alone (not a pcap) or
 *     turn it into a file libpcap reads to the end without error, holding
 *     exactly the packets the manifest lists;
 *   first byte odd: bytes 1..4 pick bounds (snaplen, file size, packet
 *     count), the rest is a staging block for dpc_pcapfile_write_block();
 *     it must be refused whole (-EINVAL) or written, and every file must
 *     read back cleanly, within the bounds, totalling the writer's count.
 *
 * A violated property aborts (a crash for libFuzzer and for the replay
 * driver).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <pcap/pcap.h>

#include "dpc_pcapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[128];

static void cleanup(void)
{
	DIR *d = opendir(g_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char p[400];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", g_dir, de->d_name);
		unlink(p);
	}
	closedir(d);
}

static void at_exit(void)
{
	cleanup();
	rmdir(g_dir);
}

#define REQUIRE(c) do { if (!(c)) { fprintf(stderr, "violated: %s (%s:%d)\n", \
	#c, __FILE__, __LINE__); abort(); } } while (0)

/* Read a file with libpcap to the end; packets, or -1 on any error. */
static long read_all(const char *path, uint32_t max_caplen)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	long n = 0;
	int rc;

	if (!p)
		return -1;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (max_caplen && h->caplen > max_caplen) {
			n = -1;
			break;
		}
		n++;
	}
	if (rc != PCAP_ERROR_BREAK)
		n = -1;
	pcap_close(p);
	return n;
}

static json_t *manifest(void)
{
	char p[300];
	json_error_t e;

	snprintf(p, sizeof(p), "%s/manifest.json", g_dir);
	return json_load_file(p, 0, &e);
}

static void fuzz_recover(const uint8_t *data, size_t size)
{
	char part[300], fin[300];
	struct stat st;
	json_t *m, *f;
	int fd, n;

	snprintf(part, sizeof(part), "%s/x-00001.pcap.part", g_dir);
	snprintf(fin, sizeof(fin), "%s/x-00001.pcap", g_dir);
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, size) == (ssize_t)size);
	close(fd);
	n = dpc_pcapfile_recover(g_dir);
	REQUIRE(n == 0 || n == 1);
	if (n == 0) {
		REQUIRE(stat(part, &st) == 0);         /* left for a human */
		return;
	}
	REQUIRE(stat(part, &st) != 0 && stat(fin, &st) == 0);
	REQUIRE((size_t)st.st_size <= (size < 24 ? 24 : size));
	m = manifest();
	REQUIRE(m);
	f = json_array_get(json_object_get(m, "files"), 0);
	REQUIRE(f);
	REQUIRE(read_all(fin, 0) == json_integer_value(json_object_get(f, "packets")));
	REQUIRE(json_integer_value(json_object_get(f, "bytes")) == st.st_size);
	json_decref(m);
	REQUIRE(dpc_pcapfile_recover(g_dir) == 0);     /* idempotent */
}

static void fuzz_block(const uint8_t *data, size_t size)
{
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile_stats st;
	struct dpc_pcapfile *w;
	uint32_t used = 0;
	size_t i;
	json_t *m, *f;
	long total = 0;
	int rc;

	if (size < 4)
		return;
	memset(&o, 0, sizeof(o));
	o.dir = g_dir;
	o.prefix = "b";
	o.no_sync = true;
	o.limits.snaplen = data[0] ? 16u * data[0] : 0;
	o.limits.file_bytes = data[1] ? 41u + 97u * data[1] : 0;
	o.limits.max_packets = data[2] & 0x3f;
	o.limits.max_files = data[3] & 7;
	o.limits.ring = o.limits.max_files && (data[3] & 8);
	w = dpc_pcapfile_open(&o);
	REQUIRE(w);
	rc = dpc_pcapfile_write_block(w, data + 4, size - 4, &used);
	REQUIRE(rc == 0 || rc == DPC_PCAPFILE_DONE || rc == -EINVAL);
	if (rc == -EINVAL)
		REQUIRE(used == 0);
	REQUIRE(dpc_pcapfile_close(w, &st) == 0);
	REQUIRE(st.packets == used);
	if (o.limits.max_packets)
		REQUIRE(st.packets <= o.limits.max_packets);
	m = manifest();
	REQUIRE(m);
	json_array_foreach(json_object_get(m, "files"), i, f) {
		char p[400];
		struct stat sb;
		long n;

		snprintf(p, sizeof(p), "%s/%s", g_dir,
			 json_string_value(json_object_get(f, "name")));
		REQUIRE(stat(p, &sb) == 0);
		if (o.limits.file_bytes)
			REQUIRE((uint64_t)sb.st_size <= o.limits.file_bytes);
		n = read_all(p, o.limits.snaplen);
		REQUIRE(n >= 0 && n == json_integer_value(json_object_get(f, "packets")));
		total += n;
	}
	if (!st.files_deleted)
		REQUIRE(total == (long)st.packets);
	json_decref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_dir[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(g_dir, sizeof(g_dir), "%s/dpc-fuzz-pcapfile-XXXXXX", tmp ? tmp : "/tmp");
		if (!mkdtemp(g_dir))
			abort();
		atexit(at_exit);
	}
	if (size < 1)
		return 0;
	cleanup();
	if (data[0] & 1)
		fuzz_block(data + 1, size - 1);
	else
		fuzz_recover(data + 1, size - 1);
	return 0;
}
