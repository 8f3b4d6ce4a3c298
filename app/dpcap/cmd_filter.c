/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cmd_filter.c - `dpcap filter`: read a pcap/pcapng file with libpcap,
 * parse each frame once (lib/parse), keep what the expression matches
 * (lib/filter) and write bounded pcap (lib/pcapfile). docs/cli.md.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "cmds.h"
#include "dpc_parse.h"
#include "dpc_pcapfile.h"
#ifdef DPC_HAVE_FILTER
#include "dpc_filter.h"
#endif

#define ME "dpcap filter"

static void filter_usage(FILE *f)
{
	fprintf(f,
"usage: dpcap filter -r IN -w OUT [-c N] [-C SIZE] [-W FILES [--ring]]\n"
"                    [-G SECONDS] [-s SNAPLEN] [--strip-vxlan]\n"
"                    [--vxlan-port P]... [EXPR...]\n"
"\n"
"Reads IN (pcap or pcapng, any timestamp precision, Ethernet), parses each\n"
"frame once (VXLAN seen through), keeps the frames EXPR matches (all when\n"
"EXPR is absent) and writes them as pcap with nanosecond timestamps.\n"
"EXPR is tcpdump's language plus `outer`, `vxlan` and `vni N`\n"
"(docs/filters.md); several arguments are joined with spaces.\n"
"\n"
"  -r IN            input file (`-` is not supported)\n"
"  -w OUT           output: a file; a directory when -C or -G is given\n"
"                   (files OUT/NAME-NNNNN.pcap and OUT/manifest.json,\n"
"                   NAME = last part of OUT; OUT must be absent or empty)\n"
"  -c N             stop after writing N packets\n"
"  -C SIZE          rotate before a file would exceed SIZE: a number in\n"
"                   millions of bytes (as tcpdump), or with suffix k, m, g\n"
"                   (KiB, MiB, GiB)\n"
"  -G SECONDS       rotate when a packet is stamped SECONDS after the\n"
"                   current file's first packet (capture time)\n"
"  -W FILES         with -C/-G: stop after FILES files ...\n"
"  --ring           ... or, with -W, keep only the newest FILES files\n"
"                   (unlike tcpdump, -W alone never deletes anything)\n"
"  -s SNAPLEN       keep at most SNAPLEN bytes of each packet (orig_len\n"
"                   kept); 0 or absent = 262144\n"
"  --strip-vxlan    write the inner Ethernet frame of VXLAN packets (the\n"
"                   tenant's frame, tunnel headers removed); other packets\n"
"                   are written as they are\n"
"  --vxlan-port P   UDP port carrying VXLAN; repeatable (at most %d);\n"
"                   given ports replace the default 4789\n"
"  -q, --quiet      no summary line (a failure still prints one line)\n"
"  -h, --help       this text\n"
"\n"
"On stderr a summary line: packets read, unwanted (EXPR did not match),\n"
"written, files, dropped by reason (lost to a disk error: records that\n"
"were buffered when the write failed; cut at the disk floor; refused\n"
"after the writer stopped), so that read = written + unwanted + dropped;\n"
"frames truncated/invalid by layer, and why it stopped.\n"
"\n"
"OUT may not be IN (same file, also through a link) nor, with -C/-G, a\n"
"directory holding IN.\n"
"\n"
"Exit status: 0 done; 1 input unreadable, output not writable or a write\n"
"error such as a full disk (one line on stderr says which; the files\n"
"written stay valid); 2 bad arguments, bad EXPR or OUT is IN; 3 input damaged\n"
"mid-file (the output is valid and holds everything before the damage).\n",
		DPC_PARSE_VXLAN_PORTS_MAX);
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct fopts {
	const char *in, *out;
	uint64_t count, file_bytes, file_seconds;
	uint32_t files, snaplen;
	bool ring, strip, quiet, dir_mode;
	struct dpc_parse_opts popts;
	bool ports_given;
	char *expr;
};

static int parse_uint(const char *opt, const char *s, uint64_t min,
		      uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, ME ": %s: '%s' is not an integer in %" PRIu64 "..%"
		PRIu64 "\n", opt, s, min, max);
	return -EINVAL;
}

/* -C: millions of bytes, or k/m/g (binary) suffixes, as tcpdump. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1000000;

	if (s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	if (*end != '\0') {
		switch (*end) {
		case 'k': case 'K': mul = 1ull << 10; break;
		case 'm': case 'M': mul = 1ull << 20; break;
		case 'g': case 'G': mul = 1ull << 30; break;
		default: goto bad;
		}
		if (end[1] != '\0')
			goto bad;
	}
	if (v == 0 || v > UINT64_MAX / mul)
		goto bad;
	*out = v * mul;
	if (*out < DPC_PCAP_FILE_HDR_LEN + DPC_PCAP_REC_HDR_LEN + 1) {
		fprintf(stderr, ME ": -C: %s is smaller than one record\n", s);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, ME ": -C: '%s' is not a size (e.g. 100 = 100 MB, "
		"512k, 64m, 1g)\n", s);
	return -EINVAL;
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = malloc(len);
	if (s == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Returns 0, or an exit status (help printed: -1 meaning exit 0). */
static int parse_args(int argc, char **argv, struct fopts *o)
{
	enum { OPT_STRIP = 256, OPT_VXPORT, OPT_RING };
	static const struct option longopts[] = {
		{ "strip-vxlan", no_argument, NULL, OPT_STRIP },
		{ "vxlan-port", required_argument, NULL, OPT_VXPORT },
		{ "ring", no_argument, NULL, OPT_RING },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt, rc;

	memset(o, 0, sizeof(*o));
	dpc_parse_opts_init(&o->popts);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":r:w:c:C:W:G:s:qh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'r':
			o->in = optarg;
			break;
		case 'w':
			o->out = optarg;
			break;
		case 'c':
			if (parse_uint("-c", optarg, 1, UINT64_MAX, &o->count))
				return DPC_EXIT_USAGE;
			break;
		case 'C':
			if (parse_size(optarg, &o->file_bytes))
				return DPC_EXIT_USAGE;
			break;
		case 'W':
			if (parse_uint("-W", optarg, 1, UINT32_MAX, &v))
				return DPC_EXIT_USAGE;
			o->files = (uint32_t)v;
			break;
		case 'G':
			if (parse_uint("-G", optarg, 1, UINT32_MAX,
				       &o->file_seconds))
				return DPC_EXIT_USAGE;
			break;
		case 's':
			if (parse_uint("-s", optarg, 0, DPC_PCAP_SNAPLEN_MAX, &v))
				return DPC_EXIT_USAGE;
			o->snaplen = (uint32_t)v;
			break;
		case OPT_STRIP:
			o->strip = true;
			break;
		case OPT_RING:
			o->ring = true;
			break;
		case OPT_VXPORT:
			if (parse_uint("--vxlan-port", optarg, 1, 65535, &v))
				return DPC_EXIT_USAGE;
			if (!o->ports_given) {
				o->popts.n_vxlan_ports = 0;
				o->ports_given = true;
			}
			rc = dpc_parse_opts_add_vxlan_port(&o->popts,
							   (uint16_t)v);
			if (rc == -ENOSPC) {
				fprintf(stderr, ME ": --vxlan-port: at most %d "
					"ports\n", DPC_PARSE_VXLAN_PORTS_MAX);
				return DPC_EXIT_USAGE;
			}
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			filter_usage(stdout);
			return -1;
		case ':':
			fprintf(stderr, ME ": option '%s' needs a value (see "
				"dpcap filter --help)\n", argv[optind - 1]);
			return DPC_EXIT_USAGE;
		default:
			fprintf(stderr, ME ": unknown option '%s' (see dpcap "
				"filter --help)\n", argv[optind - 1]);
			return DPC_EXIT_USAGE;
		}
	}
	if (o->in == NULL || o->out == NULL) {
		fprintf(stderr, ME ": -r IN and -w OUT are both required (see "
			"dpcap filter --help)\n");
		return DPC_EXIT_USAGE;
	}
	if (strcmp(o->in, "-") == 0 || strcmp(o->out, "-") == 0) {
		fprintf(stderr, ME ": '-' (standard input/output) is not "
			"supported; give a file name\n");
		return DPC_EXIT_USAGE;
	}
	if (o->out[0] == '\0') {
		fprintf(stderr, ME ": -w: empty file name\n");
		return DPC_EXIT_USAGE;
	}
	if (o->files && !o->file_bytes && !o->file_seconds) {
		fprintf(stderr, ME ": -W needs -C or -G (it bounds rotated "
			"files)\n");
		return DPC_EXIT_USAGE;
	}
	if (o->ring && !o->files) {
		fprintf(stderr, ME ": --ring needs -W FILES\n");
		return DPC_EXIT_USAGE;
	}
	o->dir_mode = o->file_bytes || o->file_seconds;
	if (optind < argc) {
		o->expr = join_args(argc - optind, argv + optind);
		if (o->expr == NULL) {
			fprintf(stderr, ME ": out of memory\n");
			return DPC_EXIT_FAIL;
		}
		if (strlen(o->expr) == 0) {
			free(o->expr);
			o->expr = NULL;
		}
	}
	return 0;
}

/* Per-layer counts of frames that did not parse completely. */
struct layer_counts {
	uint64_t trunc[DPC_LAYER_COUNT], inval[DPC_LAYER_COUNT];
	uint64_t n_trunc, n_inval;
};

static void print_layers(FILE *f, const char *what, uint64_t total,
			 const uint64_t *by)
{
	unsigned i;
	bool first = true;

	fprintf(f, "%s %" PRIu64, what, total);
	if (total == 0)
		return;
	fprintf(f, " (");
	for (i = 0; i < DPC_LAYER_COUNT; i++) {
		if (by[i] == 0)
			continue;
		fprintf(f, "%s%s %" PRIu64, first ? "" : ", ",
			dpc_parse_layer_name((enum dpc_layer)i), by[i]);
		first = false;
	}
	fprintf(f, ")");
}

/* "dropped N (X lost to the disk error, ...)": the reasons that are not 0. */
static void print_dropped(FILE *f, uint64_t total,
			  const struct dpc_pcapfile_stats *st)
{
	const char *sep = " (";

	fprintf(f, "dropped %" PRIu64, total);
	if (st->dropped_disk_error) {
		fprintf(f, "%s%" PRIu64 " lost to the disk error", sep,
			st->dropped_disk_error);
		sep = ", ";
	}
	if (st->dropped_disk_low) {
		fprintf(f, "%s%" PRIu64 " cut at the free-space floor", sep,
			st->dropped_disk_low);
		sep = ", ";
	}
	if (st->refused) {
		fprintf(f, "%s%" PRIu64 " refused after the stop (%s)", sep,
			st->refused, dpc_pcapfile_stop_name(st->stop));
		sep = ", ";
	}
	if (sep[0] == ',')
		fprintf(f, ")");
}

/* Remove the scratch directory of single-file mode (best effort). */
static void remove_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dir,
				     e->d_name) < (int)sizeof(path))
				unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* The one .pcap file the writer left in dir (single-file mode). */
static int find_single_pcap(const char *dir, char *path, size_t len)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int found = 0;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n > 5 && strcmp(e->d_name + n - 5, ".pcap") == 0) {
			if (strlen(dir) + 1 + n >= len) {
				closedir(d);
				return -ENAMETOOLONG;
			}
			memcpy(path, dir, strlen(dir));
			path[strlen(dir)] = '/';
			memcpy(path + strlen(dir) + 1, e->d_name, n + 1);
			found++;
		}
	}
	closedir(d);
	return found == 1 ? 0 : -ENOENT;
}

/* Directory mode: OUT must be absent (created) or an empty directory. */
static int prepare_out_dir(const char *out)
{
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (mkdir(out, 0755) == 0)
		return 0;
	if (errno != EEXIST) {
		fprintf(stderr, ME ": -w %s: cannot create directory: %s\n", out,
			strerror(errno));
		return -1;
	}
	if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, ME ": -w %s: exists and is not a directory "
			"(with -C/-G, OUT is a directory)\n", out);
		return -1;
	}
	d = opendir(out);
	if (d == NULL) {
		fprintf(stderr, ME ": -w %s: %s\n", out, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			fprintf(stderr, ME ": -w %s: directory is not empty "
				"(refusing to mix with earlier files)\n", out);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/*
 * Whether writing OUT would replace or write into IN: 1 when OUT is the
 * same file (same inode: a hard link, a symlink, another path to it), 2
 * when it is a directory that holds IN at any depth, else 0. Paths that
 * do not exist are not the input (errors are reported where the files
 * are opened).
 */
static int out_is_input(const char *in, const char *out)
{
	char real[PATH_MAX], *slash;
	struct stat si, so, sd;

	if (stat(in, &si) != 0 || stat(out, &so) != 0)
		return 0;
	if (si.st_dev == so.st_dev && si.st_ino == so.st_ino)
		return 1;
	if (!S_ISDIR(so.st_mode) || realpath(in, real) == NULL)
		return 0;
	/* walk up IN's real path: is OUT one of its directories? */
	while ((slash = strrchr(real, '/')) != NULL) {
		if (slash == real)
			slash[1] = '\0';       /* "/" itself */
		else
			slash[0] = '\0';
		if (stat(real, &sd) == 0 && sd.st_dev == so.st_dev &&
		    sd.st_ino == so.st_ino)
			return 2;
		if (slash == real)
			break;
	}
	return 0;
}

/* NAME for directory mode: last path component of OUT. */
static void out_prefix(const char *out, char *buf, size_t len)
{
	const char *b;
	size_t n = strlen(out);

	while (n > 1 && out[n - 1] == '/')
		n--;
	b = out + n;
	while (b > out && b[-1] != '/')
		b--;
	n = (size_t)(out + n - b);
	if (n == 0 || (n == 1 && b[0] == '.') ||
	    (n == 2 && b[0] == '.' && b[1] == '.')) {
		snprintf(buf, len, "dpcap");
		return;
	}
	if (n >= len)
		n = len - 1;
	memcpy(buf, b, n);
	buf[n] = '\0';
}

int dpc_cmd_filter(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE], scratch[PATH_MAX], prefix[128];
	char final_path[PATH_MAX];
	struct dpc_pcapfile_opts wo;
	struct dpc_pcapfile_stats st;
	struct dpc_pcapfile *w = NULL;
	struct layer_counts lc;
	struct fopts o;
	struct pcap_pkthdr *ph;
	const u_char *data;
	pcap_t *p = NULL;
	uint64_t n_read = 0, n_match = 0, n_written = 0, n_dropped;
	const char *stop = "end of input";
	char stopbuf[PCAP_ERRBUF_SIZE + 64];
	bool have_scratch = false;
	struct sigaction sa, old_int, old_term;
	int rc, status = DPC_EXIT_OK;
#ifdef DPC_HAVE_FILTER
	struct dpc_filter_error ferr;
	struct dpc_filter *flt = NULL;
	struct dpc_classifier *scr = NULL;
#endif

	memset(&lc, 0, sizeof(lc));
	memset(&st, 0, sizeof(st));
	rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		free(o.expr);
		return rc < 0 ? DPC_EXIT_OK : rc;
	}

	/* Filter first: a bad expression touches no file. */
	if (o.expr != NULL) {
#ifdef DPC_HAVE_FILTER
		memset(&ferr, 0, sizeof(ferr));
		flt = dpc_filter_compile(o.expr, &ferr);
		if (flt == NULL) {
			fprintf(stderr, ME ": bad filter: %s\n",
				ferr.msg[0] ? ferr.msg : strerror(errno));
			status = DPC_EXIT_USAGE;
			goto out;
		}
		/* The daemon's screen, for a filter of addresses, ports or
		 * VNIs: frames it settles are unwanted and parse OK, so
		 * skipping their parse changes no count. NULL (no screen)
		 * is fine. */
		scr = dpc_classifier_build(&flt, 1);
#else
		fprintf(stderr, ME ": filter expressions are not part of this "
			"build (lib/filter missing); omit EXPR\n");
		status = DPC_EXIT_USAGE;
		goto out;
#endif
	}

	/* never replace the input with the output */
	rc = out_is_input(o.in, o.out);
	if (rc != 0) {
		fprintf(stderr, ME ": -w %s: %s the input file -r %s; refusing "
			"to overwrite it\n", o.out,
			rc == 1 ? "is (same file as)" : "is a directory holding",
			o.in);
		status = DPC_EXIT_USAGE;
		goto out;
	}

	p = pcap_open_offline_with_tstamp_precision(o.in,
						    PCAP_TSTAMP_PRECISION_NANO,
						    errbuf);
	if (p == NULL) {
		fprintf(stderr, ME ": cannot read %s: %s\n", o.in, errbuf);
		status = DPC_EXIT_FAIL;
		goto out;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, ME ": %s: link type %s is not Ethernet (dpcap "
			"reads Ethernet captures only)\n", o.in,
			pcap_datalink_val_to_name(pcap_datalink(p)) ?
			pcap_datalink_val_to_name(pcap_datalink(p)) : "?");
		status = DPC_EXIT_FAIL;
		goto out;
	}

	memset(&wo, 0, sizeof(wo));
	wo.limits.max_packets = o.count;
	wo.limits.file_bytes = o.file_bytes;
	wo.limits.file_seconds = o.file_seconds;
	wo.limits.max_files = o.files;
	wo.limits.ring = o.ring;
	wo.limits.snaplen = o.snaplen;
	if (o.dir_mode) {
		if (prepare_out_dir(o.out) != 0) {
			status = DPC_EXIT_FAIL;
			goto out;
		}
		out_prefix(o.out, prefix, sizeof(prefix));
		wo.dir = o.out;
		wo.prefix = prefix;
		wo.sha256 = true;
	} else {
		struct stat sb;

		if (stat(o.out, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			fprintf(stderr, ME ": -w %s: is a directory (a directory "
				"is only written with -C or -G)\n", o.out);
			status = DPC_EXIT_FAIL;
			goto out;
		}
		if (snprintf(scratch, sizeof(scratch), "%s.dpcap-XXXXXX",
			     o.out) >= (int)sizeof(scratch) ||
		    mkdtemp(scratch) == NULL) {
			fprintf(stderr, ME ": -w %s: cannot write there: %s\n",
				o.out, strerror(errno));
			status = DPC_EXIT_FAIL;
			goto out;
		}
		have_scratch = true;
		snprintf(prefix, sizeof(prefix), "out");
		wo.dir = scratch;
		wo.prefix = prefix;
	}
	w = dpc_pcapfile_open(&wo);
	if (w == NULL) {
		fprintf(stderr, ME ": -w %s: cannot open writer: %s\n", o.out,
			strerror(errno));
		status = DPC_EXIT_FAIL;
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	stop_signal = 0;

	for (;;) {
		struct dpc_key key;
		const uint8_t *frame;
		uint32_t caplen, wirelen;
		uint64_t ts;

		if (stop_signal) {
			stop = "interrupted";
			break;
		}
		rc = pcap_next_ex(p, &ph, &data);
		if (rc == PCAP_ERROR_BREAK)
			break;
		if (rc != 1) {
			snprintf(stopbuf, sizeof(stopbuf), "input damaged: %s",
				 pcap_geterr(p));
			stop = stopbuf;
			status = DPC_EXIT_PARTIAL;
			break;
		}
		n_read++;
		frame = data;
		caplen = ph->caplen;
		wirelen = ph->len < caplen ? caplen : ph->len;
#ifdef DPC_HAVE_FILTER
		if (scr != NULL && dpc_classifier_screen(scr, &o.popts, frame, caplen,
							 wirelen))
			continue;
#endif
		dpc_parse(&o.popts, frame, caplen, wirelen, &key);
		if (key.status == DPC_PARSE_TRUNCATED) {
			lc.n_trunc++;
			lc.trunc[key.err_layer < DPC_LAYER_COUNT ?
				 key.err_layer : 0]++;
		} else if (key.status == DPC_PARSE_INVALID) {
			lc.n_inval++;
			lc.inval[key.err_layer < DPC_LAYER_COUNT ?
				 key.err_layer : 0]++;
		}
#ifdef DPC_HAVE_FILTER
		if (flt != NULL && !dpc_filter_match(flt, &key, frame, caplen))
			continue;
#endif
		n_match++;
		if (o.strip && (key.flags & DPC_KEY_VXLAN) &&
		    key.inner.off.l2 != DPC_OFF_NONE &&
		    key.inner.off.l2 < caplen) {
			uint32_t off = key.inner.off.l2;

			frame += off;
			caplen -= off;
			wirelen = wirelen - off;
		}
		/*
		 * libpcap gives nanoseconds in tv_usec at NANO precision, and
		 * seconds sign-extended from the file's 32 bits: take them
		 * back as the unsigned 32-bit count pcap stores (to 2106).
		 */
		ts = (uint64_t)(uint32_t)ph->ts.tv_sec * 1000000000ull +
		     (uint64_t)(uint32_t)ph->ts.tv_usec;
		rc = dpc_pcapfile_write(w, ts, frame, caplen, wirelen);
		if (rc == DPC_PCAPFILE_DONE)
			break;          /* refused: counted in st.refused */
		if (rc < 0) {
			snprintf(stopbuf, sizeof(stopbuf), "write error: %s",
				 strerror(-rc));
			stop = stopbuf;
			status = DPC_EXIT_FAIL;
			break;
		}
		/* -c: stop reading at the Nth packet, as tcpdump does */
		if (o.count != 0 && ++n_written >= o.count) {
			stop = "packet count reached (-c)";
			break;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	rc = dpc_pcapfile_close(w, &st);
	w = NULL;
	if (rc < 0 && status == DPC_EXIT_OK) {
		snprintf(stopbuf, sizeof(stopbuf), "write error: %s",
			 strerror(-rc));
		stop = stopbuf;
		status = DPC_EXIT_FAIL;
	}
	if (st.stop != DPC_PCAPFILE_STOP_NONE &&
	    st.stop != DPC_PCAPFILE_STOP_CLOSED &&
	    st.stop != DPC_PCAPFILE_STOP_ERROR) {
		switch (st.stop) {
		case DPC_PCAPFILE_STOP_PACKETS:
			stop = "packet count reached (-c)";
			break;
		case DPC_PCAPFILE_STOP_FILES:
			stop = "file count reached (-W)";
			break;
		default:
			snprintf(stopbuf, sizeof(stopbuf), "writer stopped: %s",
				 dpc_pcapfile_stop_name(st.stop));
			stop = stopbuf;
			break;
		}
	}
	if (have_scratch) {
		if (find_single_pcap(scratch, final_path,
				     sizeof(final_path)) != 0 ||
		    rename(final_path, o.out) != 0) {
			fprintf(stderr, ME ": -w %s: cannot move the output into "
				"place: %s\n", o.out, strerror(errno));
			status = DPC_EXIT_FAIL;
			goto out;
		}
	}
	/* every packet read is unwanted, written or dropped under a reason */
	n_dropped = st.dropped_disk_error + st.dropped_disk_low + st.refused;
	if (o.quiet && status != DPC_EXIT_OK) {
		/* -q drops the summary, never the reason for a failure */
		fprintf(stderr, ME ": %s (read %" PRIu64 ", unwanted %" PRIu64
			", written %" PRIu64 " to %s, ", stop, n_read,
			n_read - n_match, st.packets, o.out);
		print_dropped(stderr, n_dropped, &st);
		fprintf(stderr, ")\n");
	} else if (!o.quiet) {
		fprintf(stderr, ME ": read %" PRIu64 ", unwanted %" PRIu64
			", matched %" PRIu64 ", written %" PRIu64
			" (%" PRIu64 " bytes, %u file%s",
			n_read, n_read - n_match, n_match, st.packets, st.bytes,
			st.files, st.files == 1 ? "" : "s");
		if (st.files_deleted)
			fprintf(stderr, ", %u deleted by --ring",
				st.files_deleted);
		if (st.truncated)
			fprintf(stderr, ", %" PRIu64 " cut to snaplen",
				st.truncated);
		fprintf(stderr, ") to %s, ", o.out);
		print_dropped(stderr, n_dropped, &st);
		fprintf(stderr, "; ");
		print_layers(stderr, "truncated", lc.n_trunc, lc.trunc);
		fprintf(stderr, ", ");
		print_layers(stderr, "invalid", lc.n_inval, lc.inval);
		fprintf(stderr, "; stop: %s\n", stop);
	}
out:
	if (w != NULL)
		dpc_pcapfile_close(w, NULL);
	if (have_scratch)
		remove_tree(scratch);
	if (p != NULL)
		pcap_close(p);
#ifdef DPC_HAVE_FILTER
	dpc_classifier_free(scr);
	dpc_filter_free(flt);
#endif
	free(o.expr);
	return status;
}
