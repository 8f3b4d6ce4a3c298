/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * replay.c - runs a libFuzzer target over its stored corpus without
 * libFuzzer, so CI replays every input under AddressSanitizer/UBSan.
 *
 * Usage: fuzz-replay-X DIR|FILE...   (prints TAP: one line per directory)
 * A crash or sanitizer report aborts the process, which meson counts as a
 * failure; a missing or empty corpus is a failure too.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	/* An exact-size heap copy so ASan catches a read one past the end. */
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned t = 0, failed = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		unsigned files = 0, errs = 0;

		if (stat(argv[i], &st) != 0) {
			printf("not ok %u - %s: %s\n", ++t, argv[i], strerror(errno));
			failed++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;

			while (d && (e = readdir(d)) != NULL) {
				char p[4096];

				if (e->d_name[0] == '.')
					continue;
				snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
				if (run_file(p) != 0)
					errs++;
				files++;
			}
			if (d)
				closedir(d);
		} else {
			errs += run_file(argv[i]) != 0;
			files++;
		}
		if (files == 0 || errs) {
			printf("not ok %u - %s: %u inputs, %u unreadable\n",
			       ++t, argv[i], files, errs);
			failed++;
		} else {
			printf("ok %u - %s: %u inputs replayed\n", ++t, argv[i], files);
		}
	}
	printf("1..%u\n", t);
	return failed ? 1 : 0;
}
