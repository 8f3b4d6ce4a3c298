/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * manifest.c - manifest.json (atomic rewrite), file hashing, and crash
 * recovery of "*.pcap.part" files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dpc_pcapfile.h"
#include "pcapfile_internal.h"

#define PF_IO_CHUNK (1u << 20)

uint64_t pf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

json_t *pf_file_to_json(const struct pf_file *f)
{
	json_t *o = json_pack("{ss si ss sI sI sI sI}",
			      "name", f->name,
			      "index", (int)f->index,
			      "state", f->state ? f->state : "writing",
			      "packets", (json_int_t)f->packets,
			      "bytes", (json_int_t)f->bytes,
			      "first_ns", (json_int_t)f->first_ns,
			      "last_ns", (json_int_t)f->last_ns);

	if (!o)
		return NULL;
	json_object_set_new(o, "sha256", f->sha256[0] ? json_string(f->sha256) : json_null());
	json_object_set_new(o, "reason", f->reason ? json_string(f->reason) : json_null());
	return o;
}

int pf_manifest_store(int dirfd, json_t *root, bool sync)
{
	char *text;
	size_t len, off = 0;
	ssize_t n;
	int fd, rc = 0;

	text = json_dumps(root, JSON_INDENT(2));
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	fd = openat(dirfd, PF_MANIFEST_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -ENOSPC;
			break;
		}
		off += (size_t)n;
	}
	if (!rc && write(fd, "\n", 1) != 1)
		rc = errno ? -errno : -ENOSPC;
	if (!rc && sync && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && renameat(dirfd, PF_MANIFEST_TMP, dirfd, PF_MANIFEST) != 0)
		rc = -errno;
	if (rc)
		unlinkat(dirfd, PF_MANIFEST_TMP, 0);
	else if (sync)
		fsync(dirfd);
out:
	free(text);
	return rc;
}

json_t *pf_manifest_load(int dirfd)
{
	json_error_t jerr;
	json_t *root;
	int fd;

	fd = openat(dirfd, PF_MANIFEST, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	close(fd);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		errno = EBADMSG;
		return NULL;
	}
	return root;
}

int pf_sha256_fd(int fd, uint64_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	uint8_t *buf;
	uint64_t off = 0;
	int rc = 0;

	hex[0] = 0;
	buf = malloc(PF_IO_CHUNK);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	while (off < len) {
		size_t want = len - off > PF_IO_CHUNK ? PF_IO_CHUNK : (size_t)(len - off);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* ---- recovery ---------------------------------------------------------- */

/* Sequential reader over a file, for walking records. */
struct reader {
	int fd;
	uint8_t *b;
	size_t have, pos;
	uint64_t base;               /* file offset of b[0] */
};

static bool rd_need(struct reader *r, size_t n)
{
	ssize_t got;

	if (r->have - r->pos >= n)
		return true;
	memmove(r->b, r->b + r->pos, r->have - r->pos);
	r->base += r->pos;
	r->have -= r->pos;
	r->pos = 0;
	while (r->have < n) {
		got = read(r->fd, r->b + r->have, PF_IO_CHUNK - r->have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		r->have += (size_t)got;
	}
	return true;
}

static inline uint32_t swap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

struct scan {
	uint64_t end;                /* offset after the last whole record */
	uint64_t packets;
	uint64_t first_ns, last_ns;
};

/*
 * Walk the records of an open pcap file from the start; fill sc with the
 * last whole record's end. A file shorter than a header gets end = 0.
 * @return 0, -EBADMSG when the header is not a pcap header, -errno.
 */
static int scan_file(int fd, struct scan *sc)
{
	struct reader r = { .fd = fd };
	uint32_t hdr[6], rh[4], snap, ver;
	bool swap, nano;
	int rc = 0;

	memset(sc, 0, sizeof(*sc));
	r.b = malloc(PF_IO_CHUNK);
	if (!r.b)
		return -ENOMEM;
	if (lseek(fd, 0, SEEK_SET) != 0) {
		rc = -errno;
		goto out;
	}
	if (!rd_need(&r, sizeof(hdr)))
		goto out;
	memcpy(hdr, r.b, sizeof(hdr));
	switch (hdr[0]) {
	case DPC_PCAP_MAGIC_NS: swap = false; nano = true; break;
	case DPC_PCAP_MAGIC_US: swap = false; nano = false; break;
	default:
		if (swap32(hdr[0]) == DPC_PCAP_MAGIC_NS) {
			swap = true; nano = true;
		} else if (swap32(hdr[0]) == DPC_PCAP_MAGIC_US) {
			swap = true; nano = false;
		} else {
			rc = -EBADMSG;
			goto out;
		}
	}
	/*
	 * Only what this writer produces (version 2.4, Ethernet), so a
	 * repaired file is one libpcap reads the same way (it swaps the
	 * length fields of versions below 2.3); anything else is left alone.
	 */
	ver = swap ? swap32(hdr[1]) : hdr[1];
	if (ver != (2u | (4u << 16)) ||
	    (swap ? swap32(hdr[5]) : hdr[5]) != DPC_PCAP_LINKTYPE_ETHERNET) {
		rc = -EBADMSG;
		goto out;
	}
	snap = swap ? swap32(hdr[4]) : hdr[4];
	if (!snap || snap > DPC_PCAP_SNAPLEN_MAX)
		snap = DPC_PCAP_SNAPLEN_MAX;
	r.pos = sizeof(hdr);
	sc->end = sizeof(hdr);
	for (;;) {
		uint64_t ts;

		if (!rd_need(&r, sizeof(rh)))
			break;
		memcpy(rh, r.b + r.pos, sizeof(rh));
		if (swap) {
			rh[0] = swap32(rh[0]);
			rh[1] = swap32(rh[1]);
			rh[2] = swap32(rh[2]);
		}
		if (rh[2] > snap || rh[1] >= (nano ? 1000000000u : 1000000u))
			break;          /* garbage: a torn or never-written header */
		if (!rd_need(&r, sizeof(rh) + rh[2]))
			break;          /* torn data */
		r.pos += sizeof(rh) + rh[2];
		ts = (uint64_t)rh[0] * 1000000000ull + (uint64_t)rh[1] * (nano ? 1 : 1000);
		if (!sc->packets)
			sc->first_ns = ts;
		sc->last_ns = ts;
		sc->packets++;
		sc->end = r.base + r.pos;
	}
out:
	free(r.b);
	return rc;
}

/* Cut a file to its last whole record, hash it. fd open read-write. */
static int repair_file(int fd, struct scan *sc, char hex[65], bool *cut)
{
	struct stat stb;
	int rc;

	*cut = false;
	if (fstat(fd, &stb) != 0)
		return -errno;
	rc = scan_file(fd, sc);
	if (rc)
		return rc;
	if (sc->end < DPC_PCAP_FILE_HDR_LEN) {
		/* not even a whole header: make it a valid empty capture */
		uint32_t hdr[6] = { DPC_PCAP_MAGIC_NS, 2u | (4u << 16), 0, 0,
				    DPC_PCAP_SNAPLEN_MAX, DPC_PCAP_LINKTYPE_ETHERNET };

		if (ftruncate(fd, 0) != 0 || pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
			return errno ? -errno : -EIO;
		sc->end = sizeof(hdr);
		*cut = true;
	} else if ((uint64_t)stb.st_size != sc->end) {
		if (ftruncate(fd, (off_t)sc->end) != 0)
			return -errno;
		*cut = true;
	}
	if (fsync(fd) != 0)
		return -errno;
	return pf_sha256_fd(fd, sc->end, hex);
}

static json_t *find_entry(json_t *files, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(files, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Record a repaired file in the manifest (entry updated or added). */
static void note_file(json_t *root, const char *name, const struct scan *sc,
		      const char *hex, const char *state, const char *reason)
{
	json_t *files = json_object_get(root, "files");
	json_t *totals = json_object_get(root, "totals");
	json_t *e = find_entry(files, name);
	json_int_t old_p = 0, old_b = 0;

	if (e) {
		old_p = jint(e, "packets");
		old_b = jint(e, "bytes");
	} else {
		const char *dash = strrchr(name, '-');

		e = json_object();
		json_object_set_new(e, "name", json_string(name));
		if (dash)
			json_object_set_new(e, "index", json_integer(atoi(dash + 1)));
		json_array_append_new(files, e);
	}
	json_object_set_new(e, "state", json_string(state));
	json_object_set_new(e, "packets", json_integer((json_int_t)sc->packets));
	json_object_set_new(e, "bytes", json_integer((json_int_t)sc->end));
	json_object_set_new(e, "first_ns", json_integer((json_int_t)sc->first_ns));
	json_object_set_new(e, "last_ns", json_integer((json_int_t)sc->last_ns));
	json_object_set_new(e, "sha256", json_string(hex));
	json_object_set_new(e, "reason", json_string(reason));
	if (json_is_object(totals)) {
		json_object_set_new(totals, "packets",
				    json_integer(jint(totals, "packets") - old_p + (json_int_t)sc->packets));
		json_object_set_new(totals, "bytes",
				    json_integer(jint(totals, "bytes") - old_b + (json_int_t)sc->end));
	}
	if ((json_int_t)sc->last_ns > jint(root, "last_ns"))
		json_object_set_new(root, "last_ns", json_integer((json_int_t)sc->last_ns));
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a > b && strcmp(s + a - b, suf) == 0;
}

int dpc_pcapfile_recover(const char *dir)
{
	json_t *root = NULL, *files, *e;
	struct dirent *de;
	DIR *d = NULL;
	int dirfd, dfd, frc, count = 0, rc = 0;
	bool dirty = false;
	size_t i;

	if (!dir)
		return -EINVAL;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	unlinkat(dirfd, PF_MANIFEST_TMP, 0);
	root = pf_manifest_load(dirfd);
	if (!root && errno == EBADMSG) {
		/* keep the unreadable one for a human, start a new list */
		renameat(dirfd, PF_MANIFEST, dirfd, PF_MANIFEST ".corrupt");
		dirty = true;
	}
	if (!root)
		root = json_pack("{ss si ss s[]}", "format", "dpcap-manifest",
				 "version", 1, "state", "recovered", "files");
	files = json_object_get(root, "files");
	if (!json_is_array(files)) {
		files = json_array();
		json_object_set_new(root, "files", files);
	}
	dfd = dup(dirfd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char final[PF_NAME_MAX + 8], hex[65];
		struct scan sc;
		bool cut;
		size_t n;
		int fd;

		if (de->d_name[0] == '.' && has_suffix(de->d_name, ".reserve")) {
			unlinkat(dirfd, de->d_name, 0);
			continue;
		}
		if (!has_suffix(de->d_name, ".pcap" PF_PART_SUFFIX))
			continue;
		n = strlen(de->d_name) - strlen(PF_PART_SUFFIX);
		if (n >= sizeof(final))
			continue;
		memcpy(final, de->d_name, n);
		final[n] = 0;
		fd = openat(dirfd, de->d_name, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			if (!rc)
				rc = -errno;
			continue;
		}
		frc = repair_file(fd, &sc, hex, &cut);
		close(fd);
		if (frc) {
			/* not a pcap we can repair: leave it for a human */
			if (!rc && frc != -EBADMSG)
				rc = frc;
			continue;
		}
		if (renameat(dirfd, de->d_name, dirfd, final) != 0) {
			if (!rc)
				rc = -errno;
			continue;
		}
		note_file(root, final, &sc, hex, "recovered", "crash");
		dirty = true;
		count++;
	}
	/* a crash between rename and manifest update: listed as writing */
	json_array_foreach(files, i, e) {
		const char *st = json_string_value(json_object_get(e, "state"));
		const char *name = json_string_value(json_object_get(e, "name"));
		char hex[65];
		struct scan sc;
		bool cut;
		int fd;

		if (!st || !name || strcmp(st, "writing") != 0 || strchr(name, '/'))
			continue;
		fd = openat(dirfd, name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		frc = repair_file(fd, &sc, hex, &cut);
		close(fd);
		if (frc)
			continue;
		note_file(root, name, &sc, hex, "recovered", "crash");
		dirty = true;
		count++;
	}
	if (dirty) {
		const char *st = json_string_value(json_object_get(root, "state"));

		if (!st || strcmp(st, "running") == 0) {
			json_object_set_new(root, "state", json_string("recovered"));
			json_object_set_new(root, "stop_reason", json_string("crash"));
		}
		json_object_set_new(root, "updated_ns", json_integer((json_int_t)pf_now_ns()));
		frc = pf_manifest_store(dirfd, root, true);
		if (frc && !rc)
			rc = frc;
	}
out:
	if (d)
		closedir(d);
	json_decref(root);
	close(dirfd);
	return rc ? rc : count;
}
