/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_filter_compile.c - what the compiler accepts, refuses and how it
 * says so: every refusal names the column and the token, returns NULL
 * with errno EINVAL; native/BPF split as docs/filters.md states.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dpc_filter.h"
#include "dpc_test.h"

struct bad {
	const char *expr;
	int column;
	const char *token;
};

static const struct bad bads[] = {
	{ "ip prot 6", 4, "prot" },
	{ "tcp port 80 and host 10.0.0.1 or prot 22", 34, "prot" },
	{ "host 10.0.0.1 and", 18, "" },
	{ "port 99999", 6, "99999" },
	{ "vni 99999999", 5, "99999999" },
	{ "vni", 4, "" },
	{ "src 10.0.0.1 and 80", 18, "80" },
	{ "ip and ip6", 1, "ip" },
	{ "vni 5001 or 99999999", 13, "99999999" },
	{ "vlan 10 or 4096", 12, "4096" },
	{ "vlan 5000", 6, "5000" },
	{ "host 10.0.0.1 )", 15, ")" },
	{ "(tcp", 5, "" },
	{ "outer (host 1.2.3.4", 20, "" },
	{ "tcp and $", 9, "$" },
	{ "outer", 6, "" },
	{ "not", 4, "" },
	{ "net 10.0.0.1/8", 5, "10.0.0.1/8" },
	{ "host 10.0.0.1 10.0.0.2", 15, "10.0.0.2" },
	{ "vxlan and tcp[13] & != 0", 11, "tcp[13] & != 0" },
	{ "tcp host 10.0.0.1", 10, "10.0.0.1" },
	{ "outer ip6 host 10.0.0.1", 16, "10.0.0.1" },
};

struct good {
	const char *expr;
	bool native;
};

static const struct good goods[] = {
	{ "", true },
	{ "host 10.0.0.1 or 10.0.0.2", true },
	{ "src or dst host 10.0.0.1", true },
	{ "src and dst net 10.0.0.0/8", true },
	{ "net 10.0.0.0 mask 255.0.0.0", true },
	{ "net 2001:db8::/32 or host fe80::1", true },
	{ "port 80 or 443", true },
	{ "tcp src portrange 1000-2000", true },
	{ "tcp or udp or icmp or icmp6 or arp or ip or ip6 or sctp", true },
	{ "ip proto 47 or ip6 proto 17 or proto 1", true },
	{ "less 64 or greater 1500", true },
	{ "vlan", true },
	{ "vlan 100 and not vlan 200", true },
	{ "vxlan and vni 5001", true },
	{ "vni 5001 or 5002", true },
	{ "vlan 100 or 200", true },
	{ "vni 5001 and outer src host 192.0.2.10 and tcp port 5432", true },
	{ "outer (udp port 4789 and host 192.0.2.10) && !icmp", true },
	{ "not not (tcp && (port 22 || port 80)) or arp", true },
	{ "tcp[tcpflags] & tcp-syn != 0", false },
	{ "ether host 02:00:00:00:00:01", false },
	{ "len > 100", false },
	{ "vxlan and ip[8] < 2", false },
	{ "tcp port http", false },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct dpc_filter_error e;
		struct dpc_filter *f;
		char col[32];

		errno = 0;
		f = dpc_filter_compile(bads[i].expr, &e);
		CHECK(f == NULL && errno == EINVAL, "'%s' refused with EINVAL",
		      bads[i].expr);
		dpc_filter_free(f);
		CHECK_EQ(e.column, bads[i].column, "'%s': column (%s)", bads[i].expr,
			 e.msg);
		CHECK_STR(e.token, bads[i].token, "'%s': token", bads[i].expr);
		snprintf(col, sizeof(col), "column %d: ", bads[i].column);
		CHECK(strncmp(e.msg, col, strlen(col)) == 0 &&
		      (bads[i].token[0] == '\0' || strstr(e.msg, bads[i].token)),
		      "'%s': message names column and token: %s", bads[i].expr, e.msg);
	}
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		struct dpc_filter_error e;
		struct dpc_filter *f = dpc_filter_compile(goods[i].expr, &e);

		CHECK(f != NULL, "'%s' compiles%s%s", goods[i].expr, f ? "" : ": ",
		      f ? "" : e.msg);
		if (f == NULL)
			continue;
		CHECK_EQ(dpc_filter_is_native(f), goods[i].native, "'%s' is %s",
			 goods[i].expr, goods[i].native ? "native" : "BPF");
		CHECK_STR(dpc_filter_text(f), goods[i].expr, "text kept");
		dpc_filter_free(f);
	}
	{
		/* too long, NULL, and a NULL error pointer */
		char *big = malloc(DPC_FILTER_EXPR_MAX + 10);
		struct dpc_filter_error e;
		struct dpc_filter *f;

		memset(big, 'x', DPC_FILTER_EXPR_MAX + 9);
		big[DPC_FILTER_EXPR_MAX + 9] = '\0';
		f = dpc_filter_compile(big, &e);
		CHECK(f == NULL && e.column == DPC_FILTER_EXPR_MAX + 1,
		      "over-long expression refused at column %d", e.column);
		free(big);
		f = dpc_filter_compile(NULL, NULL);
		CHECK(f != NULL && dpc_filter_is_native(f), "NULL expression matches all");
		dpc_filter_free(f);
		CHECK(dpc_filter_compile("tcp and", NULL) == NULL && errno == EINVAL,
		      "refusal without an error struct");
		dpc_filter_free(NULL);
	}
	return dpc_test_done();
}
