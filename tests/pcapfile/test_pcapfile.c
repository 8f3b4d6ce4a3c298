/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pcapfile.c - lib/pcapfile unit tests (suite unit).
 *
 * Every file written is read back with libpcap (nanosecond precision) and
 * compared record by record with what was offered; the manifest is checked
 * against the files (size, record count, first/last stamp, sha256 computed
 * here with OpenSSL). Bounds are probed at N-1, N and N+1.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <pcap/pcap.h>

#include "dpc_pcapfile.h"
#include "pcapfile_internal.h"
#include "dpc_test.h"
#include "pf_common.h"

static char g_root[256];
static unsigned g_case;

/* ---- helpers ------------------------------------------------------------ */

static void mkcase(char *dir, size_t n, const char *what)
{
	snprintf(dir, n, "%s/%02u-%s", g_root, ++g_case, what);
	if (mkdir(dir, 0755) != 0) {
		perror(dir);
		exit(2);
	}
}

static struct dpc_pcapfile_opts base_opts(const char *dir)
{
	struct dpc_pcapfile_opts o;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.prefix = "job";
	o.sha256 = true;
	o.no_sync = true;
	return o;
}

/* Offer recs[0..n) one by one; count results. */
struct offer_res {
	size_t ok, done, err;
	int first_err;
	size_t first_refused;        /* index of the first record not written */
};

static struct offer_res offer(struct dpc_pcapfile *w, const struct pf_rec *r, size_t n)
{
	static uint8_t frame[9100];
	struct offer_res res = { 0, 0, 0, 0, (size_t)-1 };
	size_t i;

	for (i = 0; i < n; i++) {
		int rc;

		pf_frame(frame, r[i].len, r[i].seed);
		rc = dpc_pcapfile_write(w, r[i].ts, frame, r[i].len, r[i].len);
		if (rc == 0) {
			res.ok++;
			continue;
		}
		if (res.first_refused == (size_t)-1)
			res.first_refused = i;
		if (rc == DPC_PCAPFILE_DONE)
			res.done++;
		else {
			res.err++;
			if (!res.first_err)
				res.first_err = rc;
		}
	}
	return res;
}

/* Build a block of records recs[0..n) as the datapath stages them. */
static uint8_t *make_block(const struct pf_rec *r, size_t n, uint32_t snap, size_t *len)
{
	size_t i, tot = 0, off = 0;
	uint8_t *b;

	for (i = 0; i < n; i++)
		tot += DPC_PCAP_REC_HDR_LEN + (r[i].len < snap ? r[i].len : snap);
	b = malloc(tot ? tot : 1);
	for (i = 0; i < n; i++) {
		struct dpc_pcap_rec_hdr h;
		static uint8_t frame[9100];
		uint32_t incl = r[i].len < snap ? r[i].len : snap;

		h.ts_sec = (uint32_t)(r[i].ts / 1000000000ull);
		h.ts_nsec = (uint32_t)(r[i].ts % 1000000000ull);
		h.incl_len = incl;
		h.orig_len = r[i].len;
		pf_frame(frame, r[i].len, r[i].seed);
		memcpy(b + off, &h, sizeof(h));
		memcpy(b + off + sizeof(h), frame, incl);
		off += sizeof(h) + incl;
	}
	*len = tot;
	return b;
}

static int sha256_file(const char *path, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;

	hex[0] = 0;
	if (!f || !ctx) {
		if (f)
			fclose(f);
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	fclose(f);
	EVP_MD_CTX_free(ctx);
	return 0;
}

static json_t *load_manifest(const char *dir)
{
	char p[512];
	json_error_t e;

	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	return json_load_file(p, JSON_REJECT_DUPLICATES, &e);
}

/* manifest totals.<key> as an integer, -1 when absent */
static long long totals_int(json_t *m, const char *key)
{
	json_t *v = json_object_get(json_object_get(m, "totals"), key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/*
 * Every offered record is written, dropped under a named reason or
 * refused; the manifest carries the same numbers.
 */
static void check_balance(const char *dir, const struct dpc_pcapfile_stats *st,
			  uint64_t offered, uint64_t accepted, const char *what)
{
	json_t *m = load_manifest(dir);

	CHECK_EQ(st->packets + st->dropped_disk_error + st->dropped_disk_low + st->refused,
		 offered, "%s: offered %" PRIu64 " = written %" PRIu64 " + lost to error %" PRIu64
		 " + cut at floor %" PRIu64 " + refused %" PRIu64, what, offered, st->packets,
		 st->dropped_disk_error, st->dropped_disk_low, st->refused);
	if (accepted != UINT64_MAX)
		CHECK_EQ(st->packets + st->dropped_disk_error + st->dropped_disk_low, accepted,
			 "%s: the %" PRIu64 " accepted records are written or dropped by reason",
			 what, accepted);
	CHECK(totals_int(m, "dropped_disk_error") == (long long)st->dropped_disk_error &&
	      totals_int(m, "dropped_disk_error_bytes") == (long long)st->dropped_disk_error_bytes &&
	      totals_int(m, "dropped_disk_low") == (long long)st->dropped_disk_low &&
	      totals_int(m, "dropped_disk_low_bytes") == (long long)st->dropped_disk_low_bytes &&
	      totals_int(m, "refused") == (long long)st->refused &&
	      totals_int(m, "refused_bytes") == (long long)st->refused_bytes,
	      "%s: manifest totals carry the dropped/refused counters", what);
	json_decref(m);
}

static int count_suffix(const char *dir, const char *suf)
{
	char cmd[600];
	FILE *f;
	int n = 0, c;

	snprintf(cmd, sizeof(cmd), "ls -1 '%s' | grep -c -- '%s$'", dir, suf);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &c) == 1)
		n = c;
	pclose(f);
	return n;
}

struct verify_opt {
	uint32_t snap;               /* expected per-record cut; 0 = none */
	uint64_t file_bytes;         /* each file at most this; 0 = none */
	bool allow_writing;          /* entries may still be .part */
};

/*
 * Read every file listed in dir's manifest with libpcap, in order, and
 * compare each record with exp[0..nexp). Checks the manifest's per-file
 * numbers and sha256 against the file. Returns the records read (or -1
 * when the manifest is missing); reports one CHECK per file + one total.
 */
static long verify(const char *dir, const struct pf_rec *exp, size_t nexp,
		   const struct verify_opt *vo, const char *what)
{
	char errbuf[PCAP_ERRBUF_SIZE], path[600], hex[65];
	json_t *m = load_manifest(dir), *files, *e;
	static uint8_t frame[9100];
	size_t fi, k = 0;
	bool all_ok = true;

	if (!m) {
		CHECK(0, "%s: manifest.json loads", what);
		return -1;
	}
	files = json_object_get(m, "files");
	json_array_foreach(files, fi, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *state = json_string_value(json_object_get(e, "state"));
		const char *sha = json_string_value(json_object_get(e, "sha256"));
		uint64_t mpk = (uint64_t)json_integer_value(json_object_get(e, "packets"));
		uint64_t mby = (uint64_t)json_integer_value(json_object_get(e, "bytes"));
		uint64_t mfirst = (uint64_t)json_integer_value(json_object_get(e, "first_ns"));
		uint64_t mlast = (uint64_t)json_integer_value(json_object_get(e, "last_ns"));
		uint64_t first = 0, last = 0, n = 0;
		struct pcap_pkthdr *h;
		const u_char *data;
		struct stat stb;
		bool ok = true;
		pcap_t *p;
		int rc;

		bool part = state && strcmp(state, "writing") == 0;

		snprintf(path, sizeof(path), "%s/%s%s", dir, name ? name : "?",
			 part ? ".part" : "");
		if (part && !vo->allow_writing) {
			printf("# %s: %s still writing\n", what, name);
			ok = false;
		}
		if (stat(path, &stb) != 0) {
			CHECK(0, "%s: file %s exists", what, path);
			all_ok = false;
			continue;
		}
		p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
		if (!p) {
			CHECK(0, "%s: libpcap opens %s: %s", what, name, errbuf);
			all_ok = false;
			continue;
		}
		if (pcap_datalink(p) != DLT_EN10MB) {
			printf("# %s: linktype %d\n", name, pcap_datalink(p));
			ok = false;
		}
		while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
			uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
			uint32_t incl;

			if (!n)
				first = ts;
			last = ts;
			n++;
			if (k >= nexp) {
				if (ok)
					printf("# %s: extra record %zu in %s\n", what, k, name);
				ok = false;
				k++;
				continue;
			}
			incl = exp[k].len;
			if (vo->snap && incl > vo->snap)
				incl = vo->snap;
			if (vo->file_bytes && 40 + (uint64_t)incl > vo->file_bytes)
				incl = (uint32_t)(vo->file_bytes - 40);
			pf_frame(frame, exp[k].len, exp[k].seed);
			if (ts != exp[k].ts || h->caplen != incl || h->len != exp[k].len ||
			    memcmp(data, frame, incl) != 0) {
				if (ok)
					printf("# %s: %s record %" PRIu64 " (#%zu): ts %" PRIu64
					       "/%" PRIu64 " caplen %u/%u len %u/%u\n",
					       what, name, n, k, ts, exp[k].ts, h->caplen, incl,
					       h->len, exp[k].len);
				ok = false;
			}
			k++;
		}
		if (rc != PCAP_ERROR_BREAK) {
			printf("# %s: %s read error: %s\n", what, name, pcap_geterr(p));
			ok = false;
		}
		pcap_close(p);
		if (mpk != n || mby != (uint64_t)stb.st_size || mfirst != first || mlast != last) {
			printf("# %s: manifest %s packets %" PRIu64 "/%" PRIu64 " bytes %" PRIu64
			       "/%lld first %" PRIu64 "/%" PRIu64 " last %" PRIu64 "/%" PRIu64 "\n",
			       what, name, mpk, n, mby, (long long)stb.st_size,
			       mfirst, first, mlast, last);
			ok = false;
		}
		if (vo->file_bytes && (uint64_t)stb.st_size > vo->file_bytes) {
			printf("# %s: %s is %lld > %" PRIu64 "\n", what, name,
			       (long long)stb.st_size, vo->file_bytes);
			ok = false;
		}
		if (!part) {
			sha256_file(path, hex);
			if (!sha || strcmp(sha, hex) != 0) {
				printf("# %s: %s sha256 %s, file %s\n", what, name,
				       sha ? sha : "null", hex);
				ok = false;
			}
		}
		CHECK(ok, "%s: %s read back (%" PRIu64 " records) matches", what, name, n);
		all_ok = all_ok && ok;
	}
	json_decref(m);
	(void)all_ok;
	return (long)k;
}

static uint64_t file_size(const char *dir, const char *name)
{
	char p[600];
	struct stat stb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &stb) == 0 ? (uint64_t)stb.st_size : 0;
}

/* ---- open / close -------------------------------------------------------- */

static void test_open_errors(void)
{
	struct dpc_pcapfile_opts o = base_opts("/nonexistent/dir");
	struct dpc_pcapfile *w;

	errno = 0;
	w = dpc_pcapfile_open(&o);
	CHECK(!w && errno == ENOENT, "open on a missing directory: NULL, ENOENT");
	o.dir = g_root;
	o.prefix = "a/b";
	errno = 0;
	CHECK(!dpc_pcapfile_open(&o) && errno == EINVAL, "prefix with '/': EINVAL");
	o.prefix = "job";
	o.limits.snaplen = DPC_PCAP_SNAPLEN_MAX + 1;
	errno = 0;
	CHECK(!dpc_pcapfile_open(&o) && errno == EINVAL, "snaplen too large: EINVAL");
	o.limits.snaplen = 0;
	o.limits.file_bytes = 40;
	errno = 0;
	CHECK(!dpc_pcapfile_open(&o) && errno == EINVAL, "file size below header+record: EINVAL");
	o.limits.file_bytes = 0;
	o.limits.ring = true;
	errno = 0;
	CHECK(!dpc_pcapfile_open(&o) && errno == EINVAL, "ring without max_files: EINVAL");
	CHECK_EQ(dpc_pcapfile_close(NULL, NULL), 0, "close(NULL) is a no-op");
	CHECK_STR(dpc_pcapfile_stop_name(DPC_PCAPFILE_STOP_DISK_LOW), "disk low", "stop name");
}

static void test_empty(void)
{
	char dir[300];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	json_t *m;

	mkcase(dir, sizeof(dir), "empty");
	o = base_opts(dir);
	w = dpc_pcapfile_open(&o);
	CHECK(w != NULL, "open");
	CHECK_EQ(count_suffix(dir, ".pcap.part"), 0, "no file before the first record");
	CHECK_EQ(dpc_pcapfile_close(w, &st), 0, "close");
	CHECK_EQ(st.files, 1, "close leaves one file");
	CHECK_EQ(file_size(dir, "job-00001.pcap"), 24, "empty file is a bare header");
	CHECK_EQ(verify(dir, NULL, 0, &(struct verify_opt){ 0 }, "empty"), 0, "no records");
	m = load_manifest(dir);
	CHECK_STR(json_string_value(json_object_get(m, "state")), "done", "manifest state");
	CHECK_STR(json_string_value(json_object_get(m, "stop_reason")), "closed", "stop reason");
	CHECK_EQ(count_suffix(dir, ".reserve"), 0, "reserve file removed at close");
	json_decref(m);
}

/* ---- bounds -------------------------------------------------------------- */

static void test_packets(void)
{
	const size_t N = 100;
	struct pf_rec r[101];
	int d;

	pf_seq(r, N + 1, PF_BASE_NS, 1000);
	for (d = -1; d <= 1; d++) {
		char dir[300], what[64];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		struct offer_res res;
		size_t offered = N + (size_t)(long)d;

		snprintf(what, sizeof(what), "packets -c %zu, %zu offered", N, offered);
		mkcase(dir, sizeof(dir), "packets");
		o = base_opts(dir);
		o.limits.max_packets = N;
		w = dpc_pcapfile_open(&o);
		res = offer(w, r, offered);
		dpc_pcapfile_get_stats(w, &st);
		CHECK_EQ(res.ok, offered < N ? offered : N, "%s: writes accepted", what);
		CHECK_EQ(res.done, offered > N ? 1 : 0, "%s: DONE returned", what);
		CHECK_EQ(st.stop, offered >= N ? DPC_PCAPFILE_STOP_PACKETS : DPC_PCAPFILE_STOP_NONE,
			 "%s: stopped at once when the bound is reached", what);
		if (offered >= N)
			CHECK_EQ(count_suffix(dir, ".pcap"), 1,
				 "%s: file final before close", what);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(st.packets, offered < N ? offered : N, "%s: packets", what);
		CHECK_EQ(st.refused, offered > N ? 1 : 0, "%s: refused", what);
		CHECK_EQ(verify(dir, r, offered < N ? offered : N, &(struct verify_opt){ 0 }, what),
			 offered < N ? offered : N, "%s: libpcap reads exactly that many", what);
	}
}

static void test_bytes(void)
{
	/* fixed 100-byte records: 116 bytes each in the file */
	struct pf_rec r[20];
	size_t i;
	int d;

	pf_seq(r, 20, PF_BASE_NS, 1000);
	for (i = 0; i < 20; i++)
		r[i].len = 100;
	for (d = -1; d <= 1; d++) {
		char dir[300], what[64];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		struct offer_res res;
		uint64_t lim = 24 + 10 * 116 + (uint64_t)(long)d;
		size_t want = d < 0 ? 9 : 10;

		snprintf(what, sizeof(what), "bytes limit 24+10*116%+d", d);
		mkcase(dir, sizeof(dir), "bytes");
		o = base_opts(dir);
		o.limits.max_bytes = lim;
		w = dpc_pcapfile_open(&o);
		res = offer(w, r, 20);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(res.ok, want, "%s: records accepted", what);
		CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_BYTES, "%s: stop reason bytes", what);
		CHECK(st.bytes <= lim && file_size(dir, "job-00001.pcap") == st.bytes,
		      "%s: file size %" PRIu64 " <= limit", what, st.bytes);
		CHECK_EQ(verify(dir, r, want, &(struct verify_opt){ 0 }, what), want,
			 "%s: read back", what);
	}
	/* across files: headers count too */
	{
		char dir[300];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		struct offer_res res;

		mkcase(dir, sizeof(dir), "bytes-files");
		o = base_opts(dir);
		o.limits.file_bytes = 24 + 3 * 116;          /* 3 per file */
		o.limits.max_bytes = 3 * (24 + 3 * 116) + 24 + 116 - 1;
		w = dpc_pcapfile_open(&o);
		res = offer(w, r, 20);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(res.ok, 9, "bytes over files: 3 full files, 10th record refused");
		CHECK_EQ(st.files, 3, "bytes over files: no 4th file opened");
		CHECK(st.bytes <= o.limits.max_bytes, "bytes over files: total within the limit");
		CHECK_EQ(verify(dir, r, 9, &(struct verify_opt){ .file_bytes = o.limits.file_bytes },
				"bytes-files"), 9, "bytes over files: read back");
	}
}

static void test_duration(void)
{
	const uint64_t D = 5000000;          /* 5 ms */
	int d;

	for (d = -1; d <= 1; d++) {
		char dir[300], what[64];
		struct pf_rec r[3];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		struct offer_res res;

		pf_seq(r, 3, PF_BASE_NS, 1000);
		r[1].ts = PF_BASE_NS + D + (uint64_t)(long)d;
		r[2].ts = r[1].ts - 2;               /* late, but after the stop */
		snprintf(what, sizeof(what), "duration: record at start+D%+d", d);
		mkcase(dir, sizeof(dir), "duration");
		o = base_opts(dir);
		o.start_ns = PF_BASE_NS;
		o.limits.max_duration_ns = D;
		w = dpc_pcapfile_open(&o);
		res = offer(w, r, 3);
		dpc_pcapfile_close(w, &st);
		if (d < 0) {
			CHECK_EQ(res.ok, 3, "%s: all written", what);
			CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_CLOSED, "%s: not stopped", what);
		} else {
			CHECK_EQ(res.ok, 1, "%s: refused from it on", what);
			CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_DURATION, "%s: stop reason", what);
		}
		CHECK_EQ(verify(dir, r, d < 0 ? 3 : 1, &(struct verify_opt){ 0 }, what),
			 d < 0 ? 3 : 1, "%s: read back", what);
	}
	/* origin = first record when start_ns is 0; tick() stops an idle job */
	{
		char dir[300];
		struct pf_rec r[2];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;

		pf_seq(r, 2, PF_BASE_NS, 1000);
		mkcase(dir, sizeof(dir), "duration-tick");
		o = base_opts(dir);
		o.limits.max_duration_ns = D;
		w = dpc_pcapfile_open(&o);
		offer(w, r, 2);
		CHECK_EQ(dpc_pcapfile_tick(w, r[0].ts + D - 1), 0, "tick before the end: running");
		CHECK_EQ(dpc_pcapfile_tick(w, r[0].ts + D), DPC_PCAPFILE_DONE, "tick at the end: DONE");
		dpc_pcapfile_get_stats(w, &st);
		CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_DURATION, "tick: stop reason duration");
		CHECK_EQ(count_suffix(dir, ".pcap"), 1, "tick: file finalized");
		dpc_pcapfile_close(w, NULL);
		CHECK_EQ(verify(dir, r, 2, &(struct verify_opt){ 0 }, "duration-tick"), 2,
			 "tick: records kept");
	}
}

static void test_file_size(void)
{
	struct pf_rec r[40];
	size_t i;
	int d;

	pf_seq(r, 40, PF_BASE_NS, 1000);
	for (i = 0; i < 40; i++)
		r[i].len = 100;
	for (d = -1; d <= 1; d++) {
		char dir[300], what[64];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		uint64_t fb = 24 + 5 * 116 + (uint64_t)(long)d;
		unsigned per = d < 0 ? 4 : 5;

		snprintf(what, sizeof(what), "file size 24+5*116%+d", d);
		mkcase(dir, sizeof(dir), "filesize");
		o = base_opts(dir);
		o.limits.file_bytes = fb;
		w = dpc_pcapfile_open(&o);
		offer(w, r, 40);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(st.files, (40 + per - 1) / per, "%s: files", what);
		CHECK_EQ(file_size(dir, "job-00001.pcap"), 24 + per * 116, "%s: first file size", what);
		CHECK_EQ(verify(dir, r, 40, &(struct verify_opt){ .file_bytes = fb }, what), 40,
			 "%s: all records over the files", what);
	}
	/* varied sizes; a record bigger than a file is cut to fill one */
	{
		char dir[300];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		json_t *m;

		pf_seq(r, 40, PF_BASE_NS, 1000);
		mkcase(dir, sizeof(dir), "filesize-var");
		o = base_opts(dir);
		o.limits.file_bytes = 1000;
		w = dpc_pcapfile_open(&o);
		offer(w, r, 40);
		dpc_pcapfile_close(w, &st);
		CHECK(st.truncated > 0, "big records cut to the file size (%" PRIu64 ")", st.truncated);
		CHECK_EQ(verify(dir, r, 40, &(struct verify_opt){ .file_bytes = 1000 }, "filesize-var"),
			 40, "varied sizes: all records, no file above 1000 bytes");
		m = load_manifest(dir);
		CHECK_EQ(json_array_size(json_object_get(m, "files")), st.files,
			 "manifest lists every file");
		CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(m, "files"), 0),
							    "reason")), "file size", "rotation reason");
		json_decref(m);
	}
}

static void test_file_count(void)
{
	struct pf_rec r[40];
	size_t i;
	int d;

	pf_seq(r, 40, PF_BASE_NS, 1000);
	for (i = 0; i < 40; i++)
		r[i].len = 100;
	for (d = -1; d <= 1; d++) {
		char dir[300], what[64];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		struct offer_res res;
		size_t offered = 15 + (size_t)(long)d;  /* 3 files of 5 */

		snprintf(what, sizeof(what), "files -W 3, %zu records offered", offered);
		mkcase(dir, sizeof(dir), "files");
		o = base_opts(dir);
		o.limits.file_bytes = 24 + 5 * 116;
		o.limits.max_files = 3;
		w = dpc_pcapfile_open(&o);
		res = offer(w, r, offered);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(res.ok, offered < 15 ? offered : 15, "%s: written", what);
		CHECK_EQ(st.files, 3, "%s: 3 files", what);
		CHECK_EQ(st.stop, d > 0 ? DPC_PCAPFILE_STOP_FILES : DPC_PCAPFILE_STOP_CLOSED,
			 "%s: stop reason", what);
		CHECK_EQ(verify(dir, r, res.ok, &(struct verify_opt){ .file_bytes = o.limits.file_bytes },
				what), (long)res.ok, "%s: read back", what);
	}
}

static void test_ring(void)
{
	char dir[300];
	struct pf_rec r[40];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	struct offer_res res;
	json_t *m, *f0;
	size_t i;

	pf_seq(r, 40, PF_BASE_NS, 1000);
	for (i = 0; i < 40; i++)
		r[i].len = 100;
	mkcase(dir, sizeof(dir), "ring");
	o = base_opts(dir);
	o.limits.file_bytes = 24 + 5 * 116;
	o.limits.max_files = 3;
	o.limits.ring = true;
	w = dpc_pcapfile_open(&o);
	res = offer(w, r, 38);
	dpc_pcapfile_close(w, &st);
	CHECK_EQ(res.ok, 38, "ring: every record accepted");
	CHECK_EQ(st.files, 8, "ring: 8 files opened");
	CHECK_EQ(st.files_deleted, 5, "ring: 5 oldest deleted");
	CHECK_EQ(count_suffix(dir, ".pcap"), 3, "ring: 3 files on disk");
	CHECK_EQ(file_size(dir, "job-00005.pcap"), 0, "ring: job-00005 deleted");
	CHECK_EQ(verify(dir, r + 25, 13, &(struct verify_opt){ .file_bytes = o.limits.file_bytes },
			"ring"), 13, "ring: the newest 13 records remain, in order");
	m = load_manifest(dir);
	f0 = json_array_get(json_object_get(m, "files"), 0);
	CHECK_STR(json_string_value(json_object_get(f0, "name")), "job-00006.pcap",
		  "ring: manifest starts at the oldest kept file");
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(m, "totals"), "files_deleted")), 5,
		 "ring: manifest counts deletions");
	json_decref(m);
	/* ring of 1 */
	mkcase(dir, sizeof(dir), "ring1");
	o = base_opts(dir);
	o.limits.file_bytes = 24 + 5 * 116;
	o.limits.max_files = 1;
	o.limits.ring = true;
	w = dpc_pcapfile_open(&o);
	offer(w, r, 12);
	dpc_pcapfile_close(w, &st);
	CHECK_EQ(count_suffix(dir, ".pcap"), 1, "ring of 1: one file");
	CHECK_EQ(verify(dir, r + 10, 2, &(struct verify_opt){ 0 }, "ring1"), 2,
		 "ring of 1: last 2 records");
}

static void test_file_time(void)
{
	const uint64_t S = 1000000000ull;
	int d;

	for (d = -1; d <= 1; d++) {
		char dir[300], what[64];
		struct pf_rec r[4];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		json_t *m;

		pf_seq(r, 4, PF_BASE_NS, 1000);
		r[2].ts = PF_BASE_NS + 2 * S + (uint64_t)(long)d;  /* -G 2 edge */
		r[3].ts = r[2].ts;
		snprintf(what, sizeof(what), "file time -G 2, record at +2s%+d ns", d);
		mkcase(dir, sizeof(dir), "filetime");
		o = base_opts(dir);
		o.limits.file_seconds = 2;
		w = dpc_pcapfile_open(&o);
		offer(w, r, 4);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(st.files, d < 0 ? 1 : 2, "%s: files", what);
		CHECK_EQ(verify(dir, r, 4, &(struct verify_opt){ 0 }, what), 4, "%s: read back", what);
		m = load_manifest(dir);
		if (d >= 0)
			CHECK_STR(json_string_value(json_object_get(
					  json_array_get(json_object_get(m, "files"), 0), "reason")),
				  "file time", "%s: rotation reason", what);
		json_decref(m);
	}
	/* tick() rotates an idle file */
	{
		char dir[300];
		struct pf_rec r[3];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;

		pf_seq(r, 3, PF_BASE_NS, 1000);
		r[2].ts = PF_BASE_NS + 5 * S;
		mkcase(dir, sizeof(dir), "filetime-tick");
		o = base_opts(dir);
		o.limits.file_seconds = 2;
		w = dpc_pcapfile_open(&o);
		offer(w, r, 2);
		dpc_pcapfile_tick(w, PF_BASE_NS + 2 * S - 1);
		CHECK_EQ(count_suffix(dir, ".pcap"), 0, "tick before -G: still writing");
		dpc_pcapfile_tick(w, PF_BASE_NS + 2 * S);
		CHECK_EQ(count_suffix(dir, ".pcap"), 1, "tick at -G: file closed");
		offer(w, r + 2, 1);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(st.files, 2, "tick: next record opens the second file");
		CHECK_EQ(verify(dir, r, 3, &(struct verify_opt){ 0 }, "filetime-tick"), 3,
			 "tick: read back");
	}
}

static void test_snaplen(void)
{
	char dir[300];
	struct pf_rec r[6];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	static const uint32_t lens[6] = { 60, 63, 64, 65, 1514, 9000 };
	size_t i;

	pf_seq(r, 6, PF_BASE_NS, 1000);
	for (i = 0; i < 6; i++)
		r[i].len = lens[i];
	mkcase(dir, sizeof(dir), "snaplen");
	o = base_opts(dir);
	o.limits.snaplen = 64;
	w = dpc_pcapfile_open(&o);
	offer(w, r, 6);
	dpc_pcapfile_close(w, &st);
	CHECK_EQ(st.truncated, 3, "snaplen 64: 3 records cut");
	CHECK_EQ(st.wire_bytes, 60 + 63 + 64 + 65 + 1514 + 9000, "orig_len kept in wire bytes");
	CHECK_EQ(verify(dir, r, 6, &(struct verify_opt){ .snap = 64 }, "snaplen"), 6,
		 "snaplen 64: caplen cut, len kept, data prefix equal");
	{
		char errbuf[PCAP_ERRBUF_SIZE], p[400];
		pcap_t *pc;

		snprintf(p, sizeof(p), "%s/job-00001.pcap", dir);
		pc = pcap_open_offline_with_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO, errbuf);
		CHECK(pc && pcap_snapshot(pc) == 64, "file header snaplen is 64");
		if (pc)
			pcap_close(pc);
	}
}

/* ---- block API ----------------------------------------------------------- */

static void test_block(void)
{
	enum { N = 3000 };
	static struct pf_rec r[N];
	char dir1[300], dir2[300], h1[65], h2[65], p[400];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	uint8_t *blk;
	size_t len, i, off;
	uint32_t used, total = 0;
	int rc;

	pf_seq(r, N, PF_BASE_NS, 1000);
	/* the same records by write() and by blocks of varying size give the
	 * same bytes; file size and snaplen bounds split blocks */
	mkcase(dir1, sizeof(dir1), "block-ref");
	o = base_opts(dir1);
	o.limits.snaplen = 1000;
	o.limits.file_bytes = 1 << 20;
	o.buf_size = 1;                        /* rounded up to the minimum */
	w = dpc_pcapfile_open(&o);
	offer(w, r, N);
	dpc_pcapfile_close(w, NULL);

	mkcase(dir2, sizeof(dir2), "block");
	o.dir = dir2;
	w = dpc_pcapfile_open(&o);
	blk = make_block(r, N, 1514, &len);  /* not cut: the writer applies snaplen */
	for (i = 0, off = 0; i < N;) {
		size_t k = 1 + (i * 7) % 400, j, bl = 0;

		if (i + k > N)
			k = N - i;
		for (j = 0; j < k; j++) {
			struct dpc_pcap_rec_hdr h;

			memcpy(&h, blk + off + bl, sizeof(h));
			bl += sizeof(h) + h.incl_len;
		}
		rc = dpc_pcapfile_write_block(w, blk + off, bl, &used);
		if (rc != 0 || used != k)
			break;
		total += used;
		off += bl;
		i += k;
	}
	free(blk);
	dpc_pcapfile_close(w, &st);
	CHECK_EQ(total, N, "blocks: every record consumed");
	CHECK(st.files > 1, "blocks: rotated (%u files)", st.files);
	CHECK_EQ(verify(dir2, r, N, &(struct verify_opt){ .snap = 1000, .file_bytes = 1 << 20 },
			"block"), N, "blocks: read back");
	for (i = 1; i <= st.files; i++) {
		snprintf(p, sizeof(p), "%s/job-%05zu.pcap", dir1, i);
		sha256_file(p, h1);
		snprintf(p, sizeof(p), "%s/job-%05zu.pcap", dir2, i);
		sha256_file(p, h2);
		CHECK_STR(h2, h1, "blocks: file %zu identical to write() output", i);
	}

	/* a big block (> buffer) of verbatim records goes straight to the file */
	mkcase(dir2, sizeof(dir2), "block-big");
	o = base_opts(dir2);
	w = dpc_pcapfile_open(&o);
	blk = make_block(r, N, 1514, &len);
	rc = dpc_pcapfile_write_block(w, blk, len, &used);
	CHECK(rc == 0 && used == N, "big block (%zu bytes) written whole", len);
	free(blk);
	dpc_pcapfile_close(w, NULL);
	CHECK_EQ(verify(dir2, r, N, &(struct verify_opt){ 0 }, "block-big"), N, "big block: read back");

	/* packet bound inside a block: N-1, N, N+1 */
	for (int d = -1; d <= 1; d++) {
		char what[64];
		struct dpc_pcapfile_stats s2;

		snprintf(what, sizeof(what), "block of 50, -c %d", 50 + d);
		mkcase(dir2, sizeof(dir2), "block-count");
		o = base_opts(dir2);
		o.limits.max_packets = (uint64_t)(50 + d);
		w = dpc_pcapfile_open(&o);
		blk = make_block(r, 50, 1514, &len);
		rc = dpc_pcapfile_write_block(w, blk, len, &used);
		free(blk);
		dpc_pcapfile_close(w, &s2);
		CHECK_EQ(rc, d < 0 ? DPC_PCAPFILE_DONE : 0, "%s: return", what);
		CHECK_EQ(used, d < 0 ? 49 : 50, "%s: consumed", what);
		CHECK_EQ(s2.stop, d <= 0 ? DPC_PCAPFILE_STOP_PACKETS : DPC_PCAPFILE_STOP_CLOSED,
			 "%s: stop", what);
		CHECK_EQ(verify(dir2, r, used, &(struct verify_opt){ 0 }, what), used,
			 "%s: read back", what);
	}

	/* malformed blocks are refused whole */
	mkcase(dir2, sizeof(dir2), "block-bad");
	o = base_opts(dir2);
	w = dpc_pcapfile_open(&o);
	blk = make_block(r, 5, 1514, &len);
	rc = dpc_pcapfile_write_block(w, blk, len - 1, &used);
	CHECK(rc == -EINVAL && used == 0, "block with a torn last record: -EINVAL, nothing used");
	rc = dpc_pcapfile_write_block(w, blk, 10, &used);
	CHECK(rc == -EINVAL && used == 0, "block shorter than a header: -EINVAL");
	((struct dpc_pcap_rec_hdr *)blk)->ts_nsec = 1000000000u;
	rc = dpc_pcapfile_write_block(w, blk, len, &used);
	CHECK(rc == -EINVAL && used == 0, "block with ts_nsec >= 1e9: -EINVAL");
	free(blk);
	rc = dpc_pcapfile_write_block(w, NULL, 0, &used);
	CHECK(rc == 0 && used == 0, "empty block: 0");
	dpc_pcapfile_get_stats(w, &st);
	CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_NONE, "a bad block does not stop the writer");
	dpc_pcapfile_close(w, &st);
	CHECK_EQ(st.packets, 0, "nothing written from bad blocks");
}

/* ---- manifest ------------------------------------------------------------ */

static void test_manifest(void)
{
	char dir[300];
	struct pf_rec r[30];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	json_t *m, *t, *f;
	size_t i;
	uint64_t sum = 0;

	pf_seq(r, 30, PF_BASE_NS, 1000);
	mkcase(dir, sizeof(dir), "manifest");
	o = base_opts(dir);
	o.limits.file_bytes = 8000;
	o.limits.max_packets = 25;
	w = dpc_pcapfile_open(&o);
	offer(w, r, 3);
	/* while writing: the current file is listed as writing */
	m = load_manifest(dir);
	f = json_array_get(json_object_get(m, "files"), 0);
	CHECK_STR(json_string_value(json_object_get(m, "state")), "running", "manifest while running");
	CHECK_STR(json_string_value(json_object_get(f, "state")), "writing", "open file: writing");
	CHECK_EQ(count_suffix(dir, ".pcap.part"), 1, "open file is a .part");
	json_decref(m);
	offer(w, r + 3, 27);
	dpc_pcapfile_close(w, &st);
	m = load_manifest(dir);
	CHECK_STR(json_string_value(json_object_get(m, "format")), "dpcap-manifest", "format");
	CHECK_EQ(json_integer_value(json_object_get(m, "version")), 1, "version");
	CHECK_STR(json_string_value(json_object_get(m, "state")), "done", "state done");
	CHECK_STR(json_string_value(json_object_get(m, "stop_reason")), "packets", "stop_reason");
	CHECK(json_is_null(json_object_get(m, "error")), "no error");
	t = json_object_get(m, "totals");
	CHECK_EQ(json_integer_value(json_object_get(t, "packets")), 25, "totals.packets");
	CHECK_EQ(json_integer_value(json_object_get(t, "refused")), 5, "totals.refused");
	CHECK_EQ(json_integer_value(json_object_get(m, "first_ns")), (long long)r[0].ts, "first_ns");
	CHECK_EQ(json_integer_value(json_object_get(m, "last_ns")), (long long)r[24].ts, "last_ns");
	json_array_foreach(json_object_get(m, "files"), i, f)
		sum += (uint64_t)json_integer_value(json_object_get(f, "bytes"));
	CHECK_EQ(json_integer_value(json_object_get(t, "bytes")), (long long)sum,
		 "totals.bytes = sum of file sizes");
	CHECK_EQ(json_array_size(json_object_get(m, "files")), st.files, "every file listed");
	CHECK_EQ(count_suffix(dir, ".part"), 0, "no .part after close");
	CHECK_EQ(count_suffix(dir, ".tmp"), 0, "no manifest temp file left");
	json_decref(m);
	CHECK_EQ(verify(dir, r, 25, &(struct verify_opt){ .file_bytes = 8000 }, "manifest"), 25,
		 "manifest entries match files");

	/* a second writer in the same directory continues numbering, keeps
	 * the entries of the first */
	o.limits.max_packets = 0;
	w = dpc_pcapfile_open(&o);
	offer(w, r, 2);
	dpc_pcapfile_close(w, NULL);
	m = load_manifest(dir);
	CHECK_EQ(json_array_size(json_object_get(m, "files")), st.files + 1,
		 "reopen: old entries kept, one more file");
	f = json_array_get(json_object_get(m, "files"), st.files);
	CHECK_EQ(json_integer_value(json_object_get(f, "index")), st.files + 1,
		 "reopen: numbering continues");
	json_decref(m);
}

/* ---- recovery ------------------------------------------------------------ */

/* In a child: write n records, flush, append torn bytes, die uncleanly. */
static void crash_writer(const char *dir, const struct pf_rec *r, size_t n, size_t torn,
			 uint64_t file_bytes)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct dpc_pcapfile_opts o = base_opts(dir);
		struct dpc_pcapfile *w;
		char p[400];
		uint8_t junk[2000];
		int fd;

		o.limits.file_bytes = file_bytes;
		w = dpc_pcapfile_open(&o);
		offer(w, r, n);
		dpc_pcapfile_flush(w);
		if (torn) {
			/* a record cut short: header + part of its data */
			struct dpc_pcap_rec_hdr h = { 1700000001, 5, 1000, 1000 };

			memset(junk, 0x5a, sizeof(junk));
			memcpy(junk, &h, sizeof(h));
			snprintf(p, sizeof(p), "%s/job-%05u.pcap.part", dir,
				 file_bytes ? 2u : 1u);
			fd = open(p, O_WRONLY | O_APPEND);
			if (fd >= 0) {
				if (write(fd, junk, torn) < 0)
					_exit(3);
				close(fd);
			}
		}
		_exit(0);                     /* no close: like a SIGKILL */
	}
	waitpid(pid, NULL, 0);
}

static void test_recover(void)
{
	static const size_t torn_sizes[] = { 0, 7, 16, 500 };
	struct pf_rec r[50];
	char dir[300], p[400];
	size_t ti;
	json_t *m, *f;
	int n;

	pf_seq(r, 50, PF_BASE_NS, 1000);
	for (ti = 0; ti < sizeof(torn_sizes) / sizeof(torn_sizes[0]); ti++) {
		char what[64];

		snprintf(what, sizeof(what), "recover: %zu torn bytes", torn_sizes[ti]);
		mkcase(dir, sizeof(dir), "recover");
		crash_writer(dir, r, 20, torn_sizes[ti], 0);
		CHECK_EQ(count_suffix(dir, ".pcap.part"), 1, "%s: crash left a .part", what);
		n = dpc_pcapfile_recover(dir);
		CHECK_EQ(n, 1, "%s: one file recovered", what);
		CHECK_EQ(count_suffix(dir, ".part"), 0, "%s: no .part left", what);
		CHECK_EQ(count_suffix(dir, ".reserve"), 0, "%s: reserve file removed", what);
		CHECK_EQ(verify(dir, r, 20, &(struct verify_opt){ 0 }, what), 20,
			 "%s: every flushed record kept, torn one dropped", what);
		m = load_manifest(dir);
		f = json_array_get(json_object_get(m, "files"), 0);
		CHECK_STR(json_string_value(json_object_get(f, "state")), "recovered", "%s: entry state", what);
		CHECK_STR(json_string_value(json_object_get(m, "state")), "recovered", "%s: job state", what);
		json_decref(m);
		CHECK_EQ(dpc_pcapfile_recover(dir), 0, "%s: second run finds nothing", what);
	}
	/* rotation happened before the crash: closed file untouched */
	mkcase(dir, sizeof(dir), "recover-rot");
	crash_writer(dir, r, 30, 100, 24 + 20 * 1600);
	n = dpc_pcapfile_recover(dir);
	CHECK_EQ(n, 1, "recover after rotation: only the .part");
	CHECK_EQ(verify(dir, r, 30, &(struct verify_opt){ 0 }, "recover-rot"), 30,
		 "recover after rotation: all records across both files");

	/* a .part shorter than a pcap header, no manifest at all */
	mkcase(dir, sizeof(dir), "recover-short");
	snprintf(p, sizeof(p), "%s/x-00001.pcap.part", dir);
	{
		FILE *fp = fopen(p, "wb");

		fwrite("\x4d\x3c\xb2\xa1\x02\x00", 1, 6, fp);
		fclose(fp);
	}
	CHECK_EQ(dpc_pcapfile_recover(dir), 1, "short .part recovered");
	CHECK_EQ(file_size(dir, "x-00001.pcap"), 24, "short .part becomes an empty capture");
	CHECK_EQ(verify(dir, NULL, 0, &(struct verify_opt){ 0 }, "recover-short"), 0,
		 "short .part: listed in a new manifest, readable");
	/* not a pcap: left alone */
	mkcase(dir, sizeof(dir), "recover-junk");
	snprintf(p, sizeof(p), "%s/y-00001.pcap.part", dir);
	{
		FILE *fp = fopen(p, "wb");

		fputs("this is not a capture file at all", fp);
		fclose(fp);
	}
	CHECK_EQ(dpc_pcapfile_recover(dir), 0, "a .part that is not pcap is not touched");
	CHECK_EQ(count_suffix(dir, ".part"), 1, "junk .part kept for a human");
	CHECK_EQ(dpc_pcapfile_recover("/nonexistent/x"), -ENOENT, "recover on a missing dir: -ENOENT");
}

/* A real SIGKILL while writing flat out. */
static void test_sigkill(void)
{
	enum { N = 100000 };
	static struct pf_rec r[N];
	char dir[300];
	long got;
	pid_t pid;
	int n;

	pf_seq(r, N, PF_BASE_NS, 1000);
	mkcase(dir, sizeof(dir), "sigkill");
	pid = fork();
	if (pid == 0) {
		struct dpc_pcapfile_opts o = base_opts(dir);
		struct dpc_pcapfile *w;

		/* No rotation: a kill right after a rotation would leave two
		 * .part files and make the count below depend on timing. */
		o.limits.file_bytes = 1ull << 30;
		o.buf_size = 1 << 20;
		w = dpc_pcapfile_open(&o);
		offer(w, r, N);
		dpc_pcapfile_flush(w);
		pause();
		_exit(0);
	}
	usleep(150000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	n = dpc_pcapfile_recover(dir);
	CHECK(n == 1, "SIGKILL: the open file recovered (%d)", n);
	got = verify(dir, r, N, &(struct verify_opt){ 0 }, "sigkill");
	CHECK(got > 0, "SIGKILL: %ld records survive, each equal to what was offered", got);
}

/* ---- write errors -------------------------------------------------------- */

static size_t g_budget;
static int g_errno;

static ssize_t failing_write(int fd, const void *buf, size_t len)
{
	if (g_budget == 0) {
		errno = g_errno;
		return -1;
	}
	if (len > g_budget)
		len = g_budget;     /* short write, the next one fails */
	g_budget -= len;
	return write(fd, buf, len);
}

static void test_write_errors(void)
{
	/* fail after k data bytes, k sweeping record and header boundaries */
	static const size_t ks[] = { 0, 10, 24, 40, 24 + 116, 24 + 116 + 5, 24 + 116 + 16,
				     24 + 10 * 116 - 1, 5000 };
	static const int errs[] = { ENOSPC, EIO, EACCES };
	struct pf_rec r[200];
	size_t ki, i;

	pf_seq(r, 200, PF_BASE_NS, 1000);
	for (i = 0; i < 200; i++)
		r[i].len = 100;
	for (ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
		char dir[300], what[80];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		struct offer_res res;
		size_t whole;
		int e = errs[ki % 3], rc, crc;
		json_t *m;

		snprintf(what, sizeof(what), "%s after %zu bytes", strerror(e), ks[ki]);
		mkcase(dir, sizeof(dir), "werr");
		o = base_opts(dir);
		o.buf_size = 1;
		w = dpc_pcapfile_open(&o);
		g_budget = ks[ki];
		g_errno = e;
		dpc_pcapfile_write_hook = failing_write;
		res = offer(w, r, 200);
		rc = dpc_pcapfile_flush(w);
		crc = dpc_pcapfile_close(w, &st);
		dpc_pcapfile_write_hook = write;
		whole = ks[ki] < 24 ? 0 : (ks[ki] - 24) / 116;
		if (ks[ki] < 24) {
			CHECK(res.first_err == -e && st.files == 0,
			      "%s: header write fails, error returned (%d)", what, res.first_err);
			CHECK_EQ(count_suffix(dir, ".pcap") + count_suffix(dir, ".part"), 0,
				 "%s: no half file left", what);
		} else {
			if (ks[ki] < 24 + 200 * 116)
				CHECK_EQ(rc, -e, "%s: error returned by the flush or earlier", what);
			CHECK_EQ(crc, -e, "%s: close returns the error", what);
			CHECK_EQ(st.packets, whole, "%s: counters say %zu whole records", what, whole);
			CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_ERROR, "%s: stop reason error", what);
			CHECK_EQ(verify(dir, r, whole, &(struct verify_opt){ 0 }, what), (long)whole,
				 "%s: file valid up to its last whole record", what);
			m = load_manifest(dir);
			CHECK_STR(json_string_value(json_object_get(m, "state")), "failed",
				  "%s: manifest state failed", what);
			CHECK_STR(json_string_value(json_object_get(m, "error")), strerror(e),
				  "%s: manifest names the error", what);
			json_decref(m);
			/* 100-byte records: 116 bytes each in the file */
			CHECK_EQ(st.dropped_disk_error_bytes, st.dropped_disk_error * 116,
				 "%s: lost bytes counted", what);
			CHECK_EQ(st.refused_bytes, st.refused * 100, "%s: refused bytes counted", what);
			check_balance(dir, &st, 200, res.ok, what);
		}
	}
	/* after an error every call fails with it */
	{
		char dir[300];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct offer_res res;
		uint8_t frame[100];

		mkcase(dir, sizeof(dir), "werr-sticky");
		o = base_opts(dir);
		w = dpc_pcapfile_open(&o);
		struct dpc_pcapfile_stats st;

		res = offer(w, r, 10);
		g_budget = 0;
		g_errno = EIO;
		dpc_pcapfile_write_hook = failing_write;
		CHECK_EQ(dpc_pcapfile_flush(w), -EIO, "flush hits EIO");
		dpc_pcapfile_write_hook = write;
		pf_frame(frame, 100, 1);
		CHECK_EQ(dpc_pcapfile_write(w, PF_BASE_NS, frame, 100, 100), -EIO,
			 "a later write fails with the same error");
		CHECK_EQ(dpc_pcapfile_close(w, &st), -EIO, "close too");
		CHECK_EQ(verify(dir, r, 0, &(struct verify_opt){ 0 }, "werr-sticky"), 0,
			 "buffered records lost to EIO are not listed");
		CHECK(res.ok == 10 && st.packets == 0 && st.dropped_disk_error == 10 &&
		      st.dropped_disk_error_bytes == 10 * 116 && st.refused == 1,
		      "werr-sticky: the 10 buffered records counted as lost to the error "
		      "(%" PRIu64 "), the later one refused (%" PRIu64 ")",
		      st.dropped_disk_error, st.refused);
		check_balance(dir, &st, 11, 10, "werr-sticky");
	}
	/* block write hitting an error mid-way */
	{
		char dir[300];
		struct dpc_pcapfile_opts o;
		struct dpc_pcapfile *w;
		struct dpc_pcapfile_stats st;
		uint8_t *blk;
		size_t len;
		uint32_t used;
		int rc;

		mkcase(dir, sizeof(dir), "werr-block");
		o = base_opts(dir);
		w = dpc_pcapfile_open(&o);
		blk = make_block(r, 200, 1514, &len);
		g_budget = 24 + 50 * 116 + 30;
		g_errno = ENOSPC;
		dpc_pcapfile_write_hook = failing_write;
		rc = dpc_pcapfile_write_block(w, blk, len, &used);
		rc = rc ? rc : dpc_pcapfile_flush(w);
		dpc_pcapfile_write_hook = write;
		free(blk);
		dpc_pcapfile_close(w, &st);
		CHECK_EQ(rc, -ENOSPC, "block: ENOSPC returned");
		CHECK_EQ(st.packets, 50, "block: 50 whole records counted");
		CHECK_EQ(verify(dir, r, 50, &(struct verify_opt){ 0 }, "werr-block"), 50,
			 "block: file holds exactly the 50 whole records");
		check_balance(dir, &st, 200, UINT64_MAX, "werr-block");
	}
}

/* A big block goes straight from the caller's memory: an error in it too. */
static void test_write_error_big_block(void)
{
	enum { N = 3000 };
	static struct pf_rec r[N];
	char dir[300];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	struct dpc_pcap_rec_hdr h;
	uint8_t *blk;
	size_t len, off = 0, budget;
	uint32_t used = 0, whole = 0;
	int rc;

	pf_seq(r, N, PF_BASE_NS, 1000);
	mkcase(dir, sizeof(dir), "werr-bigblock");
	o = base_opts(dir);
	o.buf_size = 1;                /* the minimum: the block is bigger */
	w = dpc_pcapfile_open(&o);
	blk = make_block(r, N, 1514, &len);
	budget = 24 + len / 2 + 7;     /* dies in the middle of a record */
	while (off + sizeof(h) <= len) {
		memcpy(&h, blk + off, sizeof(h));
		if (24 + off + sizeof(h) + h.incl_len > budget)
			break;
		off += sizeof(h) + h.incl_len;
		whole++;
	}
	g_budget = budget;
	g_errno = EIO;
	dpc_pcapfile_write_hook = failing_write;
	rc = dpc_pcapfile_write_block(w, blk, len, &used);
	dpc_pcapfile_write_hook = write;
	free(blk);
	dpc_pcapfile_close(w, &st);
	CHECK_EQ(rc, -EIO, "big block (%zu bytes): EIO returned", len);
	CHECK_EQ(used, whole, "big block: consumed = the %u whole records written", whole);
	CHECK_EQ(st.packets, whole, "big block: counters agree");
	CHECK_EQ(verify(dir, r, whole, &(struct verify_opt){ 0 }, "werr-bigblock"), whole,
		 "big block: file cut back to its last whole record");
	check_balance(dir, &st, N, UINT64_MAX, "werr-bigblock");
}

static unsigned g_nwrites;

static ssize_t counting_write(int fd, const void *buf, size_t len)
{
	g_nwrites++;
	return write(fd, buf, len);
}

/* Writes go through the big buffer: one write(2) per buffer, not per record. */
static void test_big_writes(void)
{
	enum { N = 20000 };
	static struct pf_rec r[N];
	char dir[300];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	unsigned bound;

	pf_seq(r, N, PF_BASE_NS, 1000);
	mkcase(dir, sizeof(dir), "bigwrites");
	o = base_opts(dir);
	o.buf_size = 1 << 20;
	w = dpc_pcapfile_open(&o);
	g_nwrites = 0;
	dpc_pcapfile_write_hook = counting_write;
	offer(w, r, N);
	dpc_pcapfile_close(w, &st);
	dpc_pcapfile_write_hook = write;
	/* each flush moves at least a buffer less one record; + header + last */
	bound = (unsigned)(st.bytes / ((1 << 20) - 2048)) + 2;
	CHECK(g_nwrites <= bound, "%" PRIu64 " bytes in %u write calls (<= %u)",
	      st.bytes, g_nwrites, bound);
	CHECK_EQ(verify(dir, r, N, &(struct verify_opt){ 0 }, "bigwrites"), N, "read back");
}

/* ---- a real full disk ---------------------------------------------------- */

static void test_full_disk(void)
{
	enum { N = 2000 };
	static struct pf_rec r[N];
	char mnt[300], dir[400];
	struct dpc_pcapfile_opts o;
	struct dpc_pcapfile *w;
	struct dpc_pcapfile_stats st;
	struct offer_res res;
	struct statvfs sv;
	json_t *m;
	long got;

	pf_seq(r, N, PF_BASE_NS, 1000);
	mkcase(mnt, sizeof(mnt), "tmpfs");
	if (mount("dpc-pcapfile-test", mnt, "tmpfs", 0, "size=256k") != 0) {
		DPC_SKIP("full disk: cannot mount a tmpfs (%s)", strerror(errno));
		DPC_SKIP("disk low: cannot mount a tmpfs");
		return;
	}
	/* ENOSPC for real: no free-space floor */
	snprintf(dir, sizeof(dir), "%s/full", mnt);
	mkdir(dir, 0755);
	o = base_opts(dir);
	o.buf_size = 1;
	w = dpc_pcapfile_open(&o);
	res = offer(w, r, N);
	if (res.err == 0)
		res.first_err = dpc_pcapfile_flush(w);
	dpc_pcapfile_close(w, &st);
	CHECK_EQ(res.first_err, -ENOSPC, "full tmpfs: ENOSPC returned");
	CHECK(st.packets > 0 && st.packets < N, "full tmpfs: %" PRIu64 " records fit", st.packets);
	got = verify(dir, r, N, &(struct verify_opt){ 0 }, "full tmpfs");
	CHECK_EQ(got, st.packets, "full tmpfs: file holds exactly the counted whole records");
	m = load_manifest(dir);
	CHECK(m != NULL, "full tmpfs: manifest written despite the full disk");
	CHECK_STR(json_string_value(json_object_get(m, "state")), "failed", "full tmpfs: state failed");
	CHECK_STR(json_string_value(json_object_get(m, "error")), strerror(ENOSPC),
		  "full tmpfs: error says no space");
	json_decref(m);
	check_balance(dir, &st, N, res.ok, "full tmpfs");
	/* free it again, then disk low: stop before the floor */
	{
		char cmd[500];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# rm failed\n");
	}
	snprintf(dir, sizeof(dir), "%s/low", mnt);
	mkdir(dir, 0755);
	o = base_opts(dir);
	o.min_free_bytes = 96 * 1024;
	w = dpc_pcapfile_open(&o);
	res = offer(w, r, N);
	dpc_pcapfile_close(w, &st);
	statvfs(dir, &sv);
	CHECK(res.err == 0 && res.done > 0, "disk low: DONE, no error (%zu ok)", res.ok);
	CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_DISK_LOW, "disk low: stop reason");
	CHECK((uint64_t)sv.f_bavail * sv.f_frsize >= o.min_free_bytes,
	      "disk low: %llu bytes still free >= floor %llu",
	      (unsigned long long)sv.f_bavail * sv.f_frsize, (unsigned long long)o.min_free_bytes);
	got = verify(dir, r, N, &(struct verify_opt){ 0 }, "disk low");
	CHECK_EQ(got, st.packets, "disk low: file holds every counted record");
	m = load_manifest(dir);
	CHECK_STR(json_string_value(json_object_get(m, "stop_reason")), "disk low",
		  "disk low: manifest stop_reason");
	CHECK_STR(json_string_value(json_object_get(m, "state")), "failed", "disk low: state failed");
	json_decref(m);
	check_balance(dir, &st, N, res.ok, "disk low");
	/* another writer fills the disk while records wait in our buffer:
	 * the flush writes only the whole records above the floor */
	snprintf(dir, sizeof(dir), "%s/low", mnt);
	{
		char cmd[500];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# rm failed\n");
	}
	snprintf(dir, sizeof(dir), "%s/shared", mnt);
	mkdir(dir, 0755);
	o = base_opts(dir);
	o.min_free_bytes = 64 * 1024;
	w = dpc_pcapfile_open(&o);
	res = offer(w, r, 40);
	{
		char p[500];
		uint64_t avail, fill;
		int fd;

		statvfs(dir, &sv);
		avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		fill = avail - o.min_free_bytes - 12 * 1024;
		snprintf(p, sizeof(p), "%s/other-writer", mnt);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0 && posix_fallocate(fd, 0, (off_t)fill) == 0,
		      "shared disk: another file takes %llu bytes", (unsigned long long)fill);
		if (fd >= 0)
			close(fd);
	}
	CHECK(res.ok == 40, "shared disk: 40 records admitted into the buffer");
	CHECK_EQ(dpc_pcapfile_flush(w), 0, "shared disk: flush");
	dpc_pcapfile_get_stats(w, &st);
	CHECK_EQ(st.stop, DPC_PCAPFILE_STOP_DISK_LOW, "shared disk: stopped, disk low");
	statvfs(dir, &sv);
	CHECK((uint64_t)sv.f_bavail * sv.f_frsize >= o.min_free_bytes,
	      "shared disk: %llu bytes free >= floor after the flush",
	      (unsigned long long)sv.f_bavail * sv.f_frsize);
	dpc_pcapfile_close(w, &st);
	CHECK(st.packets > 0 && st.packets < 40, "shared disk: %" PRIu64 " of 40 written",
	      st.packets);
	got = verify(dir, r, N, &(struct verify_opt){ 0 }, "shared disk");
	CHECK_EQ(got, st.packets, "shared disk: file holds exactly the counted records");
	CHECK(st.dropped_disk_low > 0 && st.dropped_disk_error == 0,
	      "shared disk: %" PRIu64 " buffered records counted as cut at the floor",
	      st.dropped_disk_low);
	check_balance(dir, &st, 40, 40, "shared disk");
	umount2(mnt, MNT_DETACH);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(g_root, sizeof(g_root), "%s/dpc-pcapfile-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(g_root)) {
		perror("mkdtemp");
		return 2;
	}
	test_open_errors();
	test_empty();
	test_packets();
	test_bytes();
	test_duration();
	test_file_size();
	test_file_count();
	test_ring();
	test_file_time();
	test_snaplen();
	test_block();
	test_manifest();
	test_recover();
	test_sigkill();
	test_write_errors();
	test_write_error_big_block();
	test_big_writes();
	test_full_disk();
	if (getenv("DPC_KEEP"))
		printf("# kept %s\n", g_root);
	else
		nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return dpc_test_done();
}
