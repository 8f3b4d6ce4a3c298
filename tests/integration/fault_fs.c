/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fault_fs.c - an LD_PRELOAD shim for test_disk.py: disk faults on cue.
 *
 * Inactive until the file named by DPC_FAULT_TRIGGER exists. From then on
 * fstatvfs() reports no space available (so a writer with a free-space
 * floor cuts its buffered records at the floor and stops "disk low"), and
 * the first fsync() of a "*.pcap.part" file fails with EIO (so finalizing
 * that file turns the stop into a write error). Together they give a job
 * that lost records for two different reasons, which is what the test
 * needs to check that each loss is counted under its own reason.
 */
/* define fstatvfs and fstatvfs64 both, not one redirected to the other */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int triggered(void)
{
	const char *t = getenv("DPC_FAULT_TRIGGER");

	return t && *t && access(t, F_OK) == 0;
}

static void *next_sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* fstatvfs and its 64-bit twin: the real call, then "no free space"
 * once triggered. */
#define FAULT_STATVFS(name, type)					\
int name(int fd, type *buf)						\
{									\
	int (*real)(int, type *);					\
	int rc;								\
									\
	*(void **)&real = next_sym(#name);				\
	if (!real) {							\
		errno = ENOSYS;						\
		return -1;						\
	}								\
	rc = real(fd, buf);						\
	if (rc == 0 && triggered()) {					\
		buf->f_bavail = 0;					\
		buf->f_bfree = 0;					\
	}								\
	return rc;							\
}

FAULT_STATVFS(fstatvfs, struct statvfs)
FAULT_STATVFS(fstatvfs64, struct statvfs64)

static int is_part(int fd)
{
	char link[64], path[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return n > 10 && strcmp(path + n - 10, ".pcap.part") == 0;
}

int fsync(int fd)
{
	static int fired;
	int (*real)(int);

	*(void **)&real = next_sym("fsync");
	if (triggered() && is_part(fd) && !__atomic_exchange_n(&fired, 1, __ATOMIC_SEQ_CST)) {
		errno = EIO;
		return -1;
	}
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd);
}
