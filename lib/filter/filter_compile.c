/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * filter_compile.c - lexer and recursive-descent parser for dpcap's filter
 * language (tcpdump's syntax plus overlay scoping), producing a flat node
 * array evaluated by filter_eval.c. Primitives dpcap does not evaluate
 * natively are compiled with libpcap into classic BPF. Every primitive the
 * parser takes natively is also checked with pcap_compile, so dpcap accepts
 * exactly what tcpdump accepts (plus its own keywords).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_internal.h"

#define PCAP_SNAPLEN 262144
#define MAX_DEPTH 200

enum tok_type {
	T_END = 0, T_WORD, T_LP, T_RP, T_LB, T_RB, T_BANG, T_ANDAND, T_OROR,
	T_OP, T_BAD
};

struct token {
	enum tok_type t;
	int pos; /* byte offset */
	int len;
};

/* Qualifiers a bare id inherits (tcpdump: "host A or B"). */
struct quals {
	bool valid;
	int scope;
	int qs, qe;   /* source span of the qualifier words */
	char proto[16];
	int dir;
	char type[16];
};

struct parser {
	const char *src;
	struct token *toks;
	int n_toks, cur;
	struct fnode *nodes;
	uint32_t n_nodes, cap_nodes;
	struct bpf_program *progs;
	uint32_t n_progs, cap_progs;
	int scope;
	int depth;
	struct quals last;
	int last_num_kind;  /* FP_VNI/FP_VLAN: "vni 5001 or 5002" */
	int bare_pos, bare_len; /* last id that inherited qualifiers */
	int last_num_scope;
	struct dpc_filter_error *err;
	bool failed;
	bool nomem;
	bool uses_ext;   /* outer/vxlan/vni/vlan: not expressible in libpcap */
	pcap_t *pd;
};

static void set_err(struct parser *p, int pos, int len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_err(struct parser *p, int pos, int len, const char *fmt, ...)
{
	struct dpc_filter_error *e = p->err;
	char what[160];
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	e->column = pos + 1;
	if (len > (int)sizeof(e->token) - 1)
		len = (int)sizeof(e->token) - 1;
	if (len < 0)
		len = 0;
	memcpy(e->token, p->src + pos, (size_t)len);
	e->token[len] = '\0';
	if (len == 0)
		snprintf(e->msg, sizeof(e->msg), "column %d: %.150s end of expression",
			 e->column, what);
	else
		snprintf(e->msg, sizeof(e->msg), "column %d: %.150s '%s'",
			 e->column, what, e->token);
}

static void err_tok(struct parser *p, const struct token *t, const char *what)
{
	set_err(p, t->pos, t->t == T_END ? 0 : t->len, "%s", what);
}

/* ---- lexer ---------------------------------------------------------- */

static bool word_start(int c)
{
	return isalnum(c) || c == '_' || c == ':' || c == '.' || c == '\\';
}

static bool word_char(int c)
{
	return isalnum(c) || c == '_' || c == ':' || c == '.' || c == '\\';
}

static int lex(const char *s, struct token *toks, int max, int *bad)
{
	int n = 0, i = 0;

	*bad = -1;
	for (;;) {
		struct token t = { T_END, i, 0 };
		unsigned char c;

		while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
			i++;
		c = (unsigned char)s[i];
		t.pos = i;
		if (c == '\0') {
			t.t = T_END;
		} else if (word_start(c)) {
			int j = i;

			while (word_char((unsigned char)s[j]) ||
			       (s[j] == '-' && j > i &&
				isalnum((unsigned char)s[j + 1])))
				j++;
			t.t = T_WORD;
			t.len = j - i;
		} else {
			t.len = 1;
			switch (c) {
			case '(': t.t = T_LP; break;
			case ')': t.t = T_RP; break;
			case '[': t.t = T_LB; break;
			case ']': t.t = T_RB; break;
			case '!':
				if (s[i + 1] == '=') {
					t.t = T_OP;
					t.len = 2;
				} else {
					t.t = T_BANG;
				}
				break;
			case '&':
				if (s[i + 1] == '&') {
					t.t = T_ANDAND;
					t.len = 2;
				} else {
					t.t = T_OP;
				}
				break;
			case '|':
				if (s[i + 1] == '|') {
					t.t = T_OROR;
					t.len = 2;
				} else {
					t.t = T_OP;
				}
				break;
			case '=': case '<': case '>':
				t.t = T_OP;
				if (s[i + 1] == '=' || (c != '=' && s[i + 1] == c))
					t.len = 2;
				break;
			case '+': case '-': case '*': case '/': case '%': case '^':
				t.t = T_OP;
				break;
			default:
				t.t = T_BAD;
				*bad = n;
				break;
			}
		}
		if (n >= max)
			return -1;
		toks[n++] = t;
		if (t.t == T_END || t.t == T_BAD)
			return n;
		i += t.len;
	}
}

/* ---- helpers -------------------------------------------------------- */

static const struct token *peek(const struct parser *p, int k)
{
	int i = p->cur + k;

	if (i >= p->n_toks)
		i = p->n_toks - 1;
	if (i < 0)
		i = 0;
	return &p->toks[i];
}

static bool tok_is(const struct parser *p, const struct token *t, const char *w)
{
	size_t n = strlen(w);

	return t->t == T_WORD && (size_t)t->len == n &&
	       memcmp(p->src + t->pos, w, n) == 0;
}

static bool is_and(const struct parser *p, const struct token *t)
{
	return t->t == T_ANDAND || tok_is(p, t, "and");
}

static bool is_or(const struct parser *p, const struct token *t)
{
	return t->t == T_OROR || tok_is(p, t, "or");
}

static bool is_boundary(const struct parser *p, const struct token *t)
{
	return t->t == T_END || t->t == T_RP || is_and(p, t) || is_or(p, t);
}

static void tok_text(const struct parser *p, const struct token *t, char *buf,
		     size_t len)
{
	size_t n = (size_t)t->len < len - 1 ? (size_t)t->len : len - 1;

	memcpy(buf, p->src + t->pos, n);
	buf[n] = '\0';
}

/* Unsigned number in C syntax (decimal, 0x hex, 0 octal), whole token;
 * base 10 only with parse_num_base (tcpdump reads portrange ends so). */
static bool parse_num_base(const char *s, size_t len, uint32_t max,
			   uint32_t *out, int base);

static bool parse_num(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	return parse_num_base(s, len, max, out, 0);
}

static bool parse_num_base(const char *s, size_t len, uint32_t max,
			   uint32_t *out, int base)
{
	char buf[32];
	char *end;
	unsigned long v;

	if (len == 0 || len >= sizeof(buf) || !isdigit((unsigned char)s[0]))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoul(buf, &end, base);
	if (errno || *end != '\0' || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool tok_num(const struct parser *p, const struct token *t, uint32_t max,
		    uint32_t *out)
{
	return t->t == T_WORD && parse_num(p->src + t->pos, (size_t)t->len, max, out);
}

static uint32_t new_node(struct parser *p, const struct fnode *n)
{
	if (p->n_nodes == p->cap_nodes) {
		uint32_t cap = p->cap_nodes ? p->cap_nodes * 2 : 16;
		struct fnode *nn = realloc(p->nodes, cap * sizeof(*nn));

		if (nn == NULL) {
			p->nomem = true;
			p->failed = true;
			return 0;
		}
		p->nodes = nn;
		p->cap_nodes = cap;
	}
	p->nodes[p->n_nodes] = *n;
	return p->n_nodes++;
}

static uint32_t bin_node(struct parser *p, int op, uint32_t a, uint32_t b)
{
	struct fnode n = { 0 };

	n.op = (uint8_t)op;
	n.a = a;
	n.b = b;
	return new_node(p, &n);
}

static uint32_t prim_node(struct parser *p, struct fnode *n)
{
	n->op = FN_PRIM;
	n->scope = (uint8_t)p->scope;
	return new_node(p, n);
}

/*
 * Compile text with libpcap. On success *prog is filled (when prog is not
 * NULL). On failure the error names pos/len and libpcap's reason.
 */
static int pcap_check(struct parser *p, const char *text, int pos, int len,
		      struct bpf_program *prog)
{
	struct bpf_program tmp;

	if (pcap_compile(p->pd, &tmp, text, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		const char *why = pcap_geterr(p->pd);
		const char *noise = "can't parse filter expression: ";

		if (why && strncmp(why, noise, strlen(noise)) == 0)
			why += strlen(noise);

		set_err(p, pos, len, "%s in", why && *why ? why : "syntax error");
		return -1;
	}
	if (prog)
		*prog = tmp;
	else
		pcap_freecode(&tmp);
	return 0;
}

static uint32_t bpf_leaf(struct parser *p, const char *text, int pos, int len)
{
	struct fnode n = { 0 };
	struct bpf_program prog;

	if (pcap_check(p, text, pos, len, &prog) != 0)
		return 0;
	if (p->n_progs == p->cap_progs) {
		uint32_t cap = p->cap_progs ? p->cap_progs * 2 : 4;
		struct bpf_program *np = realloc(p->progs, cap * sizeof(*np));

		if (np == NULL) {
			pcap_freecode(&prog);
			p->nomem = true;
			p->failed = true;
			return 0;
		}
		p->progs = np;
		p->cap_progs = cap;
	}
	p->progs[p->n_progs] = prog;
	n.kind = FP_BPF;
	n.u.slot = p->n_progs++;
	return prim_node(p, &n);
}

/* Source text [s, e) copied into buf. */
static void span(const struct parser *p, int s, int e, char *buf, size_t len)
{
	size_t n = (size_t)(e - s);

	if (n > len - 1)
		n = len - 1;
	memcpy(buf, p->src + s, n);
	buf[n] = '\0';
}

static int tok_end(const struct token *t)
{
	return t->pos + t->len;
}

/*
 * Consume a primitive dpcap does not know, up to the next and/or or an
 * unbalanced ')', and hand it to libpcap. Remembers its qualifier words so
 * that a bare id after it inherits them.
 */
static uint32_t fallback(struct parser *p)
{
	const struct token *first = peek(p, 0), *last = first;
	int depth = 0, ntok = 0;
	char text[DPC_FILTER_EXPR_MAX + 1];

	for (;;) {
		const struct token *t = peek(p, 0);

		if (t->t == T_END || t->t == T_BAD)
			break;
		if (depth == 0 && (t->t == T_RP || is_and(p, t) || is_or(p, t)))
			break;
		if (depth == 0 && ntok > 0 && (tok_is(p, t, "not") ||
					       t->t == T_BANG))
			break;
		if (t->t == T_LP || t->t == T_LB)
			depth++;
		if ((t->t == T_RP || t->t == T_RB) && depth > 0)
			depth--;
		last = t;
		ntok++;
		p->cur++;
	}
	if (ntok == 0) {
		err_tok(p, first, "unexpected");
		return 0;
	}
	if (peek(p, 0)->t == T_BAD) {
		err_tok(p, peek(p, 0), "unexpected");
		return 0;
	}
	span(p, first->pos, tok_end(last), text, sizeof(text));
	p->last.valid = ntok >= 2;
	p->last.scope = p->scope;
	p->last.qs = first->pos;
	p->last.qe = last->pos;
	p->last.proto[0] = '\0';
	p->last.type[0] = '\0';
	strcpy(p->last.proto, "?");
	return bpf_leaf(p, text, first->pos, tok_end(last) - first->pos);
}

/* Relational expression (tcp[13] & 2 != 0, len > 100): all to libpcap. */
static uint32_t relational(struct parser *p)
{
	uint32_t r = fallback(p);

	p->last.valid = false;
	return r;
}

static bool is_proto_word(const char *w)
{
	static const char *const names[] = {
		"ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp",
		"icmp6", NULL
	};

	for (int i = 0; names[i]; i++)
		if (strcmp(w, names[i]) == 0)
			return true;
	return false;
}

/* Words that start a tcpdump primitive dpcap hands to libpcap whole. */
static bool is_other_qual(const char *w)
{
	static const char *const names[] = {
		"ether", "fddi", "tr", "wlan", "link", "ppp", "slip", "decnet",
		"atalk", "aarp", "iso", "esis", "isis", "clnp", "stp", "ipx",
		"netbeui", "igmp", "igrp", "pim", "vrrp", "carp", "ah", "esp",
		"mpls", "pppoed", "pppoes", "geneve", "llc", "gateway",
		"inbound", "outbound", "ifname", "on", "rnr", "rulenum",
		"reason", "rset", "ruleset", "srnr", "subrulenum", "action",
		"broadcast", "multicast", "protochain", "len", "type", "subtype",
		"dir", "ra", "ta", "addr1", "addr2", "addr3", "addr4", "hdr",
		"l1", "l2", "lat", "moprc", "mopdl", "sca", "lane", "oamf4",
		"oamf4ec", "oamf4sc", "oam", "metac", "bcc", "sc", "ilmic",
		"connectmsg", "metaconnect", "vpi", "vci", "fisu", "lssu", "msu",
		"hfisu", "hlssu", "hmsu", "sio", "opc", "dpc", "sls", "hsio",
		"hopc", "hdpc", "hsls", NULL
	};

	for (int i = 0; names[i]; i++)
		if (strcmp(w, names[i]) == 0)
			return true;
	return false;
}

static bool is_keyword(const char *w)
{
	return is_proto_word(w) || is_other_qual(w) || !strcmp(w, "host") ||
	       !strcmp(w, "net") || !strcmp(w, "port") ||
	       !strcmp(w, "portrange") || !strcmp(w, "src") ||
	       !strcmp(w, "dst") || !strcmp(w, "proto") ||
	       !strcmp(w, "and") || !strcmp(w, "or") || !strcmp(w, "not") ||
	       !strcmp(w, "vlan") || !strcmp(w, "vxlan") || !strcmp(w, "vni") ||
	       !strcmp(w, "outer") || !strcmp(w, "less") ||
	       !strcmp(w, "greater") || !strcmp(w, "mask");
}

static void mask_from_prefix(uint32_t *mask, int words, unsigned plen)
{
	for (int i = 0; i < words; i++) {
		if (plen >= 32)
			mask[i] = 0xffffffffu;
		else if (plen == 0)
			mask[i] = 0;
		else
			mask[i] = ~0u << (32 - plen);
		plen = plen >= 32 ? plen - 32 : 0;
	}
}

/* Partial dotted IPv4 network ("10", "10.1", "10.1.2"): value and mask. */
static bool parse_v4net(const char *s, uint32_t *addr, uint32_t *mask)
{
	uint32_t a = 0;
	int parts = 0;
	const char *q = s;

	while (*q) {
		char *end;
		unsigned long v;

		if (!isdigit((unsigned char)*q))
			return false;
		v = strtoul(q, &end, 10);
		if (v > 255 || end == q)
			return false;
		a = (a << 8) | (uint32_t)v;
		parts++;
		q = end;
		if (*q == '.')
			q++;
		else if (*q)
			return false;
		if (parts > 4)
			return false;
	}
	if (parts == 0 || s[strlen(s) - 1] == '.')
		return false;
	*addr = a << (8 * (4 - parts));
	*mask = parts == 4 ? 0xffffffffu : ~0u << (8 * (4 - parts));
	return true;
}

/*
 * A qualified id: [proto] [dir] [type] id, where q holds the qualifiers
 * (explicit or inherited) and the id spans tokens [id0, id1]. Native when
 * dpcap knows it; libpcap validates the same text in every case.
 */
static uint32_t qualified_id(struct parser *p, const struct quals *q,
			     const struct token *id0, const struct token *id1)
{
	char text[DPC_FILTER_EXPR_MAX + 64], idw[256], qual[DPC_FILTER_EXPR_MAX];
	struct fnode n = { 0 };
	const char *type = q->type, *proto = q->proto;
	int epos = id0->pos, elen = tok_end(id1) - id0->pos;
	bool v6;
	struct in6_addr a6;
	struct in_addr a4;

	span(p, q->qs, q->qe, qual, sizeof(qual));
	span(p, id0->pos, tok_end(id1), text, sizeof(text));
	tok_text(p, id0, idw, sizeof(idw));
	{
		char full[sizeof(text) + sizeof(qual) + 2];

		snprintf(full, sizeof(full), "%s%s%s", qual, qual[0] ? " " : "",
			 text);
		if (strcmp(proto, "?") == 0 ||
		    (proto[0] && !is_proto_word(proto)))
			return bpf_leaf(p, full, epos, elen);
		if (pcap_check(p, full, epos, elen, NULL) != 0)
			return 0;
		v6 = strchr(idw, ':') != NULL;
		if (type[0] == '\0' || !strcmp(type, "host")) {
			if (id0 != id1)
				return bpf_leaf(p, full, epos, elen);
			if (v6 && inet_pton(AF_INET6, idw, &a6) == 1) {
				n.kind = FP_HOST6;
				for (int i = 0; i < 4; i++) {
					const uint8_t *b = a6.s6_addr + 4 * i;

					n.u.v6.addr[i] = ((uint32_t)b[0] << 24) |
						((uint32_t)b[1] << 16) |
						((uint32_t)b[2] << 8) | b[3];
					n.u.v6.mask[i] = 0xffffffffu;
				}
			} else if (!v6 && inet_pton(AF_INET, idw, &a4) == 1) {
				n.kind = FP_HOST4;
				n.u.v4.addr = ntohl(a4.s_addr);
				n.u.v4.mask = 0xffffffffu;
				n.link = !strcmp(proto, "ip") ? LINK_IP :
					 !strcmp(proto, "arp") ? LINK_ARP :
					 !strcmp(proto, "rarp") ? LINK_RARP :
					 LINK_IP | LINK_ARP | LINK_RARP;
			} else {
				return bpf_leaf(p, full, epos, elen);
			}
		} else if (!strcmp(type, "net")) {
			uint32_t plen = 0;
			bool has_len = false, has_mask = false;
			uint32_t mask4 = 0;

			if (id0 != id1) {
				/* id / len  or  id mask M */
				const struct token *t1 = id0 + 1;

				if (t1->t == T_OP && t1->len == 1 &&
				    p->src[t1->pos] == '/' && t1 + 1 == id1 &&
				    tok_num(p, id1, 128, &plen)) {
					has_len = true;
				} else if (tok_is(p, t1, "mask") && t1 + 1 == id1 &&
					   !v6) {
					char mw[64];

					tok_text(p, id1, mw, sizeof(mw));
					if (inet_pton(AF_INET, mw, &a4) != 1)
						return bpf_leaf(p, full, epos, elen);
					mask4 = ntohl(a4.s_addr);
					has_mask = true;
				} else {
					return bpf_leaf(p, full, epos, elen);
				}
			}
			if (v6) {
				if (inet_pton(AF_INET6, idw, &a6) != 1)
					return bpf_leaf(p, full, epos, elen);
				n.kind = FP_HOST6;
				mask_from_prefix(n.u.v6.mask, 4,
						 has_len ? plen : 128);
				for (int i = 0; i < 4; i++) {
					const uint8_t *b = a6.s6_addr + 4 * i;

					n.u.v6.addr[i] = (((uint32_t)b[0] << 24) |
						((uint32_t)b[1] << 16) |
						((uint32_t)b[2] << 8) | b[3]) &
						n.u.v6.mask[i];
				}
			} else {
				uint32_t addr, m;

				if (!parse_v4net(idw, &addr, &m))
					return bpf_leaf(p, full, epos, elen);
				if (has_len)
					mask_from_prefix(&m, 1, plen);
				if (has_mask)
					m = mask4;
				n.kind = FP_HOST4;
				n.u.v4.addr = addr & m;
				n.u.v4.mask = m;
				n.link = !strcmp(proto, "ip") ? LINK_IP :
					 !strcmp(proto, "arp") ? LINK_ARP :
					 !strcmp(proto, "rarp") ? LINK_RARP :
					 LINK_IP | LINK_ARP | LINK_RARP;
			}
		} else if (!strcmp(type, "port") || !strcmp(type, "portrange")) {
			uint32_t lo, hi;

			if (id0 != id1)
				return bpf_leaf(p, full, epos, elen);
			if (!strcmp(type, "port")) {
				if (!parse_num(idw, strlen(idw), 65535, &lo))
					return bpf_leaf(p, full, epos, elen);
				hi = lo;
			} else {
				char *dash = strchr(idw, '-');

				if (dash == NULL ||
				    !parse_num_base(idw, (size_t)(dash - idw), 65535,
						    &lo, 10) ||
				    !parse_num_base(dash + 1, strlen(dash + 1), 65535,
						    &hi, 10))
					return bpf_leaf(p, full, epos, elen);
				if (lo > hi) {
					uint32_t t = lo;

					lo = hi;
					hi = t;
				}
			}
			n.kind = FP_PORT;
			n.u.port.lo = (uint16_t)lo;
			n.u.port.hi = (uint16_t)hi;
			n.link = !strcmp(proto, "tcp") ? L4_TCP :
				 !strcmp(proto, "udp") ? L4_UDP :
				 !strcmp(proto, "sctp") ? L4_SCTP :
				 L4_TCP | L4_UDP | L4_SCTP;
		} else {
			return bpf_leaf(p, full, epos, elen);
		}
	}
	n.dir = (uint8_t)q->dir;
	return prim_node(p, &n);
}

/* Parse the id after qualifiers: a word, optionally "/ N" or "mask M". */
static bool take_id(struct parser *p, const struct token **id0,
		    const struct token **id1)
{
	const struct token *t = peek(p, 0);

	if (t->t != T_WORD) {
		err_tok(p, t, "expected an address, port or name, got");
		return false;
	}
	*id0 = *id1 = t;
	p->cur++;
	t = peek(p, 0);
	if (t->t == T_OP && t->len == 1 && p->src[t->pos] == '/') {
		p->cur++;
		if (peek(p, 0)->t != T_WORD) {
			err_tok(p, peek(p, 0), "expected a prefix length, got");
			return false;
		}
		*id1 = peek(p, 0);
		p->cur++;
	} else if (tok_is(p, t, "mask")) {
		p->cur++;
		if (peek(p, 0)->t != T_WORD) {
			err_tok(p, peek(p, 0), "expected a netmask, got");
			return false;
		}
		*id1 = peek(p, 0);
		p->cur++;
	}
	return true;
}

static uint32_t proto_only(struct parser *p, const char *w,
			   const struct token *t)
{
	struct fnode n = { 0 }, m = { 0 };
	char text[32];

	tok_text(p, t, text, sizeof(text));
	if (pcap_check(p, text, t->pos, t->len, NULL) != 0)
		return 0;
	if (!strcmp(w, "ip") || !strcmp(w, "ip6") || !strcmp(w, "arp") ||
	    !strcmp(w, "rarp")) {
		n.kind = FP_ETHERTYPE;
		n.u.num = !strcmp(w, "ip") ? 0x0800 : !strcmp(w, "ip6") ? 0x86dd :
			  !strcmp(w, "arp") ? 0x0806 : 0x8035;
		return prim_node(p, &n);
	}
	if (!strcmp(w, "icmp")) {
		n.kind = FP_PROTO4;
		n.u.num = 1;
		return prim_node(p, &n);
	}
	if (!strcmp(w, "icmp6")) {
		n.kind = FP_PROTO6;
		n.u.num = 58;
		return prim_node(p, &n);
	}
	n.kind = FP_PROTO4;
	n.u.num = !strcmp(w, "tcp") ? 6 : !strcmp(w, "udp") ? 17 : 132;
	m = n;
	m.kind = FP_PROTO6;
	{
		uint32_t a = prim_node(p, &n), b = prim_node(p, &m);

		return bin_node(p, FN_OR, a, b);
	}
}

static uint32_t parse_expr(struct parser *p);

static uint32_t primitive(struct parser *p)
{
	const struct token *t = peek(p, 0), *nx = peek(p, 1);
	char w[64];
	struct quals q = { 0 };
	struct fnode n = { 0 };
	uint32_t v;
	int start = p->cur;

	if (t->t == T_BAD) {
		err_tok(p, t, "unexpected");
		return 0;
	}
	if (t->t != T_WORD) {
		if (t->t == T_END)
			err_tok(p, t, "expected a primitive, got");
		else
			err_tok(p, t, "unexpected");
		return 0;
	}
	tok_text(p, t, w, sizeof(w));

	/* A bare number after "vni N" / "vlan N" is another VNI / VLAN ID. */
	if (p->last_num_kind && isdigit((unsigned char)w[0]) && is_boundary(p, nx)) {
		uint32_t max = p->last_num_kind == FP_VNI ? 0xffffff : 4095;

		if (!tok_num(p, t, max, &v)) {
			err_tok(p, t, p->last_num_kind == FP_VNI ?
				"VNI must be 0..16777215, got" :
				"VLAN ID must be 0..4095, got");
			return 0;
		}
		p->cur++;
		n.kind = (uint8_t)p->last_num_kind;
		n.u.num = v;
		n.op = FN_PRIM;
		n.scope = (uint8_t)p->last_num_scope;
		return new_node(p, &n);
	}
	p->last_num_kind = 0;
	/* dpcap's own primitives. */
	if (!strcmp(w, "vxlan") || !strcmp(w, "vni") || !strcmp(w, "vlan")) {
		p->uses_ext = true;
		p->last.valid = false;
		p->cur++;
		if (!strcmp(w, "vxlan")) {
			n.kind = FP_VXLAN;
			return prim_node(p, &n);
		}
		if (!strcmp(w, "vni")) {
			if (!tok_num(p, nx, 0xffffff, &v)) {
				err_tok(p, nx, nx->t == T_WORD ?
					"VNI must be 0..16777215, got" :
					"expected a VNI, got");
				return 0;
			}
			p->cur++;
			n.kind = FP_VNI;
			n.u.num = v;
			p->last_num_kind = FP_VNI;
			p->last_num_scope = p->scope;
			return prim_node(p, &n);
		}
		n.kind = FP_VLAN;
		n.u.num = UINT32_MAX;
		if (nx->t == T_WORD && isdigit((unsigned char)p->src[nx->pos])) {
			if (!tok_num(p, nx, 4095, &v)) {
				err_tok(p, nx, "VLAN ID must be 0..4095, got");
				return 0;
			}
			p->cur++;
			n.u.num = v;
			p->last_num_kind = FP_VLAN;
			p->last_num_scope = p->scope;
		}
		return prim_node(p, &n);
	}
	if (!strcmp(w, "less") || !strcmp(w, "greater")) {
		char text[96];

		p->last.valid = false;
		if (!tok_num(p, nx, UINT32_MAX, &v) || !is_boundary(p, peek(p, 2)))
			return relational(p);
		snprintf(text, sizeof(text), "%s %u", w, v);
		if (pcap_check(p, text, t->pos, tok_end(nx) - t->pos, NULL) != 0)
			return 0;
		p->cur += 2;
		n.kind = !strcmp(w, "less") ? FP_LEN_LE : FP_LEN_GE;
		n.u.num = v;
		return prim_node(p, &n);
	}
	/* Relations: proto[...], len op, numbers in arithmetic. */
	if (nx->t == T_LB || (nx->t == T_OP && p->src[nx->pos] != '/') ||
	    !strcmp(w, "len"))
		return relational(p);

	/* ip proto N / ip6 proto N / proto N */
	if ((!strcmp(w, "ip") || !strcmp(w, "ip6")) && tok_is(p, nx, "proto")) {
		const struct token *id = peek(p, 2);
		char text[96];

		if (tok_num(p, id, 255, &v) && is_boundary(p, peek(p, 3))) {
			snprintf(text, sizeof(text), "%s proto %u", w, v);
			if (pcap_check(p, text, t->pos, tok_end(id) - t->pos,
				       NULL) != 0)
				return 0;
			p->cur += 3;
			p->last.valid = false;
			n.kind = !strcmp(w, "ip") ? FP_PROTO4 : FP_PROTO6;
			n.u.num = v;
			return prim_node(p, &n);
		}
		return relational(p);
	}
	if (!strcmp(w, "proto")) {
		if (tok_num(p, nx, 255, &v) && is_boundary(p, peek(p, 2))) {
			struct fnode m = { 0 };
			uint32_t a, b;
			char text[32];

			snprintf(text, sizeof(text), "proto %u", v);
			if (pcap_check(p, text, t->pos, tok_end(nx) - t->pos,
				       NULL) != 0)
				return 0;
			p->cur += 2;
			p->last.valid = false;
			n.kind = FP_PROTO4;
			n.u.num = v;
			m.kind = FP_PROTO6;
			m.u.num = v;
			a = prim_node(p, &n);
			b = prim_node(p, &m);
			return bin_node(p, FN_OR, a, b);
		}
		return relational(p);
	}

	/* [proto] [dir] [type] id */
	q.scope = p->scope;
	q.qs = t->pos;
	if (is_proto_word(w) || is_other_qual(w)) {
		if (is_other_qual(w))
			return fallback(p);
		snprintf(q.proto, sizeof(q.proto), "%.15s", w);
		p->cur++;
		t = peek(p, 0);
		if (is_boundary(p, t) || t->t == T_END) {
			p->last.valid = false;
			return proto_only(p, w, peek(p, -1));
		}
		tok_text(p, t, w, sizeof(w));
	}
	if (!strcmp(w, "src") || !strcmp(w, "dst")) {
		q.dir = w[0] == 's' ? DIR_SRC : DIR_DST;
		p->cur++;
		/* "src or dst", "src and dst" */
		if ((is_or(p, peek(p, 0)) || is_and(p, peek(p, 0))) &&
		    (tok_is(p, peek(p, 1), q.dir == DIR_SRC ? "dst" : "src"))) {
			q.dir = is_or(p, peek(p, 0)) ? DIR_ANY : DIR_BOTH;
			p->cur += 2;
		}
		t = peek(p, 0);
		tok_text(p, t, w, sizeof(w));
	}
	if (!strcmp(w, "host") || !strcmp(w, "net") || !strcmp(w, "port") ||
	    !strcmp(w, "portrange")) {
		snprintf(q.type, sizeof(q.type), "%.15s", w);
		p->cur++;
	} else if (is_other_qual(w) || !strcmp(w, "proto") ||
		   tok_is(p, peek(p, 1), "proto")) {
		p->cur = start;
		return fallback(p);
	}
	t = peek(p, 0);
	if (t->t == T_WORD) {
		tok_text(p, t, w, sizeof(w));
		if (is_keyword(w) && strcmp(w, "proto") != 0) {
			err_tok(p, t, "unexpected");
			return 0;
		}
	}
	q.qe = p->cur > start ? tok_end(&p->toks[p->cur - 1]) : t->pos;
	if (p->cur == start) {
		/* A bare id inherits the previous qualifiers (tcpdump's
		 * "host A or B"), scope included ("outer host A or B"). */
		if (p->last.valid)
			q = p->last;
		else
			q.qs = q.qe = t->pos;
		p->bare_pos = t->pos;
		p->bare_len = t->len;
	}
	{
		const struct token *id0, *id1;
		int saved = p->scope;
		uint32_t r;

		if (!take_id(p, &id0, &id1))
			return 0;
		if (!is_boundary(p, peek(p, 0)) && peek(p, 0)->t != T_END &&
		    !tok_is(p, peek(p, 0), "not") && peek(p, 0)->t != T_BANG) {
			/* "ip prot 6": a word where a keyword was meant is the
			 * culprit, not what follows it. */
			bool alpha = id0 == id1;

			for (int i = 0; alpha && i < id0->len; i++)
				alpha = isalpha((unsigned char)p->src[id0->pos + i]);
			err_tok(p, alpha ? id0 : peek(p, 0), "unexpected");
			return 0;
		}
		q.valid = true;
		p->last = q;
		p->scope = q.scope;
		r = qualified_id(p, &q, id0, id1);
		p->scope = saved;
		return r;
	}
}

static uint32_t unary(struct parser *p)
{
	const struct token *t = peek(p, 0);
	uint32_t r;

	if (++p->depth > MAX_DEPTH) {
		err_tok(p, t, "expression nested too deeply at");
		return 0;
	}
	if (t->t == T_BANG || tok_is(p, t, "not")) {
		p->cur++;
		r = unary(p);
		if (!p->failed)
			r = bin_node(p, FN_NOT, r, 0);
	} else if (tok_is(p, t, "outer")) {
		int saved = p->scope;

		p->uses_ext = true;
		p->cur++;
		p->scope = SCOPE_OUTER;
		r = unary(p);
		p->scope = saved;
	} else if (t->t == T_LP) {
		p->cur++;
		r = parse_expr(p);
		if (!p->failed && peek(p, 0)->t != T_RP) {
			err_tok(p, peek(p, 0), peek(p, 0)->t == T_END ?
				"missing ')' at" : "expected ')', got");
			r = 0;
		} else if (!p->failed) {
			p->cur++;
		}
	} else {
		r = primitive(p);
	}
	p->depth--;
	return r;
}

/*
 * tcpdump: and/or have equal precedence and associate to the left. A run
 * of the same operator is folded right-deep (a op (b op c)) so that the
 * evaluator walks it in a loop, in source order.
 */
static uint32_t fold_run(struct parser *p, int op, uint32_t *run, int n)
{
	uint32_t r = run[n - 1];

	for (int i = n - 2; i >= 0 && !p->failed; i--)
		r = bin_node(p, op, run[i], r);
	return r;
}

static uint32_t parse_expr(struct parser *p)
{
	uint32_t *run = NULL, l;
	int n = 0, cap = 0, run_op = -1;

	l = unary(p);
	for (;;) {
		const struct token *t = peek(p, 0);
		int op;
		uint32_t r;

		if (p->failed)
			break;
		if (is_and(p, t))
			op = FN_AND;
		else if (is_or(p, t))
			op = FN_OR;
		else
			break;
		p->cur++;
		r = unary(p);
		if (p->failed)
			break;
		if (op != run_op && n > 0) {
			l = fold_run(p, run_op, run, n);
			n = 0;
		}
		if (n == 0) {
			if (cap < 2) {
				uint32_t *nr = realloc(run, 16 * sizeof(*nr));

				if (nr == NULL) {
					p->nomem = p->failed = true;
					break;
				}
				run = nr;
				cap = 16;
			}
			run[n++] = l;
		}
		if (n == cap) {
			uint32_t *nr = realloc(run, 2 * (size_t)cap * sizeof(*nr));

			if (nr == NULL) {
				p->nomem = p->failed = true;
				break;
			}
			run = nr;
			cap *= 2;
		}
		run[n++] = r;
		run_op = op;
	}
	if (!p->failed && n > 0)
		l = fold_run(p, run_op, run, n);
	free(run);
	return l;
}

static void mark_need(struct dpc_filter *f)
{
	for (uint32_t i = 0; i < f->n_nodes; i++) {
		const struct fnode *n = &f->nodes[i];

		if (n->op != FN_PRIM)
			continue;
		if (n->kind == FP_BPF)
			f->native = false;
		if (n->scope == SCOPE_OUTER || n->kind == FP_VXLAN ||
		    n->kind == FP_VNI || n->kind == FP_VLAN)
			f->has_outer = true;
		switch (n->kind) {
		case FP_PROTO4: f->need |= NEED_V4PROTO; break;
		case FP_PROTO6: f->need |= NEED_V6NH; break;
		case FP_HOST4:
			if (n->link & LINK_IP)
				f->need |= NEED_V4ADDR;
			if (n->link & (LINK_ARP | LINK_RARP))
				f->need |= NEED_ARP;
			break;
		case FP_HOST6: f->need |= NEED_V6ADDR; break;
		case FP_PORT: f->need |= NEED_V4L4 | NEED_V6L4; break;
		default: break;
		}
	}
	f->need4 = 14;
	if (f->need & (NEED_V4PROTO | NEED_V4L4))
		f->need4 = 24;
	if (f->need & NEED_V4ADDR)
		f->need4 = 34;
	f->need_l4 = (f->need & NEED_V4L4) != 0;
	f->need6 = 14;
	if (f->need & NEED_V6ADDR)
		f->need6 = 54;
	if (f->need & NEED_V6NH)
		f->need6 = 55;
	if (f->need & NEED_V6L4)
		f->need6 = 58;
	f->need_arp = (f->need & NEED_ARP) ? 42 : 14;
	/* An and-chain of innermost native primitives runs as a flat list. */
	{
		uint32_t idx = f->root, n = 0;
		bool ok = true;

		for (;;) {
			const struct fnode *x = &f->nodes[idx];
			const struct fnode *p = x->op == FN_AND ? &f->nodes[x->a] : x;

			if (p->op != FN_PRIM || p->kind > FP_LEN_GE ||
			    p->scope != SCOPE_INNER || n == 8) {
				ok = false;
				break;
			}
			f->conj[n++] = (uint32_t)(p - f->nodes);
			if (x->op != FN_AND)
				break;
			idx = x->b;
		}
		f->n_conj = ok ? (uint8_t)n : 0;
	}
}

static bool has_ext_word(const struct token *toks, int n, const char *src)
{
	static const char *const w[] = { "outer", "vxlan", "vni", "vlan", NULL };

	for (int i = 0; i < n; i++) {
		if (toks[i].t != T_WORD)
			continue;
		for (int j = 0; w[j]; j++)
			if ((size_t)toks[i].len == strlen(w[j]) &&
			    !memcmp(src + toks[i].pos, w[j], strlen(w[j])))
				return true;
	}
	return false;
}

struct dpc_filter *dpc_filter_compile(const char *expr,
				      struct dpc_filter_error *err)
{
	struct parser p = { 0 };
	struct dpc_filter *f = NULL;
	size_t len;
	int bad, ntok;
	struct bpf_program whole;
	bool have_whole = false;

	if (err)
		memset(err, 0, sizeof(*err));
	if (expr == NULL)
		expr = "";
	len = strlen(expr);
	p.src = expr;
	p.err = err;
	if (len > DPC_FILTER_EXPR_MAX) {
		set_err(&p, DPC_FILTER_EXPR_MAX, 1,
			"expression longer than %d bytes at", DPC_FILTER_EXPR_MAX);
		errno = EINVAL;
		return NULL;
	}
	p.toks = calloc(len + 2, sizeof(*p.toks));
	p.pd = pcap_open_dead(DLT_EN10MB, PCAP_SNAPLEN);
	f = calloc(1, sizeof(*f));
	if (p.toks == NULL || p.pd == NULL || f == NULL)
		goto nomem;
	f->text = strdup(expr);
	if (f->text == NULL)
		goto nomem;
	ntok = lex(expr, p.toks, (int)len + 2, &bad);
	if (ntok < 0)
		goto nomem;
	p.n_toks = ntok;
	p.bare_pos = p.toks[0].pos;
	p.bare_len = p.toks[0].len;
	if (bad >= 0) {
		err_tok(&p, &p.toks[bad], "unexpected character");
		goto fail;
	}
	if (p.toks[0].t == T_END) {
		struct fnode n = { 0 };

		n.op = FN_TRUE;
		f->root = new_node(&p, &n);
	} else {
		f->root = parse_expr(&p);
		if (!p.failed && peek(&p, 0)->t != T_END)
			err_tok(&p, peek(&p, 0), peek(&p, 0)->t == T_RP ?
				"unbalanced" : "unexpected");
	}
	if (p.nomem)
		goto nomem;
	/*
	 * An expression that is plain tcpdump (no dpcap keyword) is also
	 * compiled whole: it decides truncated frames exactly as libpcap does
	 * and carries expressions with BPF-only parts. If dpcap's own parser
	 * refused something libpcap takes, libpcap's reading wins.
	 */
	if (p.toks[0].t != T_END && !has_ext_word(p.toks, ntok, expr)) {
		if (pcap_compile(p.pd, &whole, expr, 1, PCAP_NETMASK_UNKNOWN) == 0) {
			have_whole = true;
			if (p.failed) {
				struct fnode n = { 0 };

				p.failed = false;
				if (err)
					memset(err, 0, sizeof(*err));
				for (uint32_t i = 0; i < p.n_progs; i++)
					pcap_freecode(&p.progs[i]);
				p.n_progs = 0;
				p.n_nodes = 0;
				n.op = FN_PRIM;
				n.kind = FP_BPF;
				n.u.slot = 0;
				f->root = new_node(&p, &n);
				if (p.nomem)
					goto nomem;
			}
		} else if (!p.failed) {
			/* Each piece is valid tcpdump but the whole is not
			 * ("src 10.0.0.1 and 80"): refuse it as tcpdump does,
			 * naming the last abbreviated id, the usual culprit. */
			const char *why = pcap_geterr(p.pd);
			const char *noise = "can't parse filter expression: ";

			if (why && strncmp(why, noise, strlen(noise)) == 0)
				why += strlen(noise);
			set_err(&p, p.bare_pos, p.bare_len, "%s at",
				why && *why ? why : "syntax error");
		}
	}
	if (p.failed)
		goto fail;
	/* Slots: per-primitive programs, then the whole program (if any). */
	f->n_slots = p.n_progs + (have_whole ? 1 : 0);
	f->progs = calloc(f->n_slots ? f->n_slots : 1, sizeof(*f->progs));
	f->slots = calloc(f->n_slots ? f->n_slots : 1, sizeof(*f->slots));
	if (f->progs == NULL || f->slots == NULL)
		goto nomem;
	for (uint32_t i = 0; i < p.n_progs; i++)
		f->progs[i] = p.progs[i];
	f->whole = -1;
	if (have_whole) {
		f->whole = (int)f->n_slots - 1;
		f->progs[f->whole] = whole;
		have_whole = false;
	}
	p.n_progs = 0;
	for (uint32_t i = 0; i < f->n_slots; i++) {
		f->slots[i].insns = f->progs[i].bf_insns;
		f->slots[i].n_insns = f->progs[i].bf_len;
	}
	f->nodes = p.nodes;
	f->n_nodes = p.n_nodes;
	p.nodes = NULL;
	f->native = true;
	mark_need(f);
	free(p.progs);
	free(p.toks);
	pcap_close(p.pd);
	return f;

nomem:
	if (err && !p.failed) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	}
	p.failed = true;
	p.nomem = true;
fail:
	if (have_whole)
		pcap_freecode(&whole);
	for (uint32_t i = 0; i < p.n_progs; i++)
		pcap_freecode(&p.progs[i]);
	free(p.progs);
	free(p.nodes);
	free(p.toks);
	if (p.pd)
		pcap_close(p.pd);
	if (f) {
		free(f->text);
		free(f->progs);
		free(f->slots);
		free(f);
	}
	errno = p.nomem ? ENOMEM : EINVAL;
	return NULL;
}

const char *dpc_filter_text(const struct dpc_filter *f)
{
	return f && f->text ? f->text : "";
}

bool dpc_filter_is_native(const struct dpc_filter *f)
{
	return f != NULL && f->native;
}

void dpc_filter_free(struct dpc_filter *f)
{
	if (f == NULL)
		return;
	for (uint32_t i = 0; i < f->n_slots; i++)
		pcap_freecode(&f->progs[i]);
	free(f->progs);
	free(f->slots);
	free(f->nodes);
	free(f->text);
	free(f);
}

int dpc_filter_bpf_foreach(struct dpc_filter *f,
			   int (*cb)(struct dpc_filter_bpf_slot *slot, void *arg),
			   void *arg)
{
	if (f == NULL || cb == NULL)
		return -EINVAL;
	for (uint32_t i = 0; i < f->n_slots; i++) {
		int rc = cb(&f->slots[i], arg);

		if (rc)
			return rc;
	}
	return 0;
}
