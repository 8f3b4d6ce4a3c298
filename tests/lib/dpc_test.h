/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpc_test.h - a minimal TAP producer for dpcap's C tests.
 *
 * Each CHECK prints one "ok N - what" or "not ok N - what" line; meson runs
 * the programs with protocol 'tap' and counts every line. A test program ends
 * with `return dpc_test_done();`, which prints the plan and returns 0 only if
 * every check passed. DPC_SKIP() reports a skipped check with its reason.
 */
#ifndef DPC_TEST_H
#define DPC_TEST_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static unsigned dpc_test_n, dpc_test_failed;

static inline void dpc_test_result(int ok, const char *file, int line,
                                   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline void dpc_test_result(int ok, const char *file, int line,
                                   const char *fmt, ...)
{
	va_list ap;

	printf("%s %u - ", ok ? "ok" : "not ok", ++dpc_test_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok) {
		dpc_test_failed++;
		printf("#   at %s:%d\n", file, line);
	}
	fflush(stdout);
}

/* CHECK(cond, "printf-style description", ...) */
#define CHECK(cond, ...) dpc_test_result(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* CHECK_EQ(a, b, "what"): integer equality that prints both sides on failure. */
#define CHECK_EQ(a, b, ...) do {                                              \
	long long dpc_a_ = (long long)(a), dpc_b_ = (long long)(b);          \
	CHECK(dpc_a_ == dpc_b_, __VA_ARGS__);                                 \
	if (dpc_a_ != dpc_b_)                                                 \
		printf("#   got %lld, want %lld\n", dpc_a_, dpc_b_);          \
} while (0)

#define CHECK_STR(a, b, ...) do {                                             \
	const char *dpc_a_ = (a), *dpc_b_ = (b);                              \
	int dpc_ok_ = dpc_a_ && dpc_b_ && strcmp(dpc_a_, dpc_b_) == 0;        \
	CHECK(dpc_ok_, __VA_ARGS__);                                          \
	if (!dpc_ok_)                                                         \
		printf("#   got \"%s\", want \"%s\"\n",                       \
		       dpc_a_ ? dpc_a_ : "(null)", dpc_b_ ? dpc_b_ : "(null)");\
} while (0)

#define DPC_SKIP(...) do {                                                    \
	printf("ok %u - # SKIP ", ++dpc_test_n);                              \
	printf(__VA_ARGS__);                                                  \
	printf("\n");                                                         \
} while (0)

static inline int dpc_test_done(void)
{
	printf("1..%u\n", dpc_test_n);
	return dpc_test_failed ? 1 : 0;
}

#endif /* DPC_TEST_H */
