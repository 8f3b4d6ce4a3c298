/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * html.c - the report as one self-contained HTML page: inline CSS, an
 * inline SVG timeline (packets/s, and per layer the packets that are
 * evidence of a finding), the verdict and the tables. No script, no
 * network resource.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "triage_internal.h"

json_t *report_build(struct dpc_triage *t);

static const char *const layer_color[DPC_TRIAGE_LAYER_COUNT] = {
	"#8c564b", "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c",
};

static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*s, out);
		}
	}
}

static void cell(FILE *out, json_t *v)
{
	size_t i;
	json_t *x;

	fputs("<td>", out);
	if (json_is_string(v)) {
		esc(out, json_string_value(v));
	} else if (json_is_integer(v)) {
		fprintf(out, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		fprintf(out, "%.3f", json_real_value(v));
	} else if (json_is_boolean(v)) {
		fputs(json_is_true(v) ? "yes" : "no", out);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (i)
				fputc(' ', out);
			if (json_is_integer(x))
				fprintf(out, "#%lld", (long long)json_integer_value(x));
			else if (json_is_string(x))
				esc(out, json_string_value(x));
			else if (json_is_array(x))
				fprintf(out, "%lld:%lld",
					(long long)json_integer_value(json_array_get(x, 0)),
					(long long)json_integer_value(json_array_get(x, 1)));
		}
	} else if (json_is_object(v)) {
		const char *k;

		json_object_foreach(v, k, x) {
			esc(out, k);
			fprintf(out, "=%lld ", (long long)json_integer_value(x));
		}
	} else {
		fputs("-", out);
	}
	fputs("</td>", out);
}

/* cols: "key" or "key:Header", NULL-terminated */
static void table(FILE *out, const char *title, json_t *arr, const char *const *cols)
{
	size_t i;
	json_t *row;

	fprintf(out, "<h3>");
	esc(out, title);
	fprintf(out, " <small>(%zu)</small></h3>\n", json_array_size(arr));
	if (json_array_size(arr) == 0) {
		fputs("<p class=none>none</p>\n", out);
		return;
	}
	fputs("<table><tr>", out);
	for (const char *const *c = cols; *c; c++) {
		const char *h = strchr(*c, ':');

		fputs("<th>", out);
		esc(out, h ? h + 1 : *c);
		fputs("</th>", out);
	}
	fputs("</tr>\n", out);
	json_array_foreach(arr, i, row) {
		fputs("<tr>", out);
		for (const char *const *c = cols; *c; c++) {
			char key[64];
			const char *h = strchr(*c, ':');
			size_t n = h ? (size_t)(h - *c) : strlen(*c);

			if (n >= sizeof(key))
				n = sizeof(key) - 1;
			memcpy(key, *c, n);
			key[n] = 0;
			cell(out, json_object_get(row, key));
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

/* One panel of bars, own y scale; several series are stacked per bin. */
static void panel(FILE *out, json_t *bins, double bin_s, const unsigned *series,
		  unsigned ns, double y0, double h, const char *title)
{
	const double x0 = 70, w = 840;
	size_t n = json_array_size(bins), i;
	double max = 0, bw;
	json_t *b;

	json_array_foreach(bins, i, b) {
		double sum = 0;

		for (unsigned s = 0; s < ns; s++)
			sum += (double)json_integer_value(json_array_get(b, series[s])) / bin_s;
		if (sum > max)
			max = sum;
	}
	fprintf(out, "<rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' fill='#fafafa' "
		"stroke='#999'/>\n", x0, y0, w, h);
	fprintf(out, "<text x='%.0f' y='%.0f' font-size='12'>", x0, y0 - 4);
	esc(out, title);
	fprintf(out, "</text>\n<text x='%.0f' y='%.0f' font-size='11' text-anchor='end'>%.0f/s"
		"</text>\n<text x='%.0f' y='%.0f' font-size='11' text-anchor='end'>0</text>\n",
		x0 - 4, y0 + 10, max, x0 - 4, y0 + h);
	if (n == 0 || max <= 0)
		return;
	bw = w / (double)n;
	json_array_foreach(bins, i, b) {
		double base = y0 + h;

		for (unsigned s = 0; s < ns; s++) {
			const char *color = series[s] == 0 ? "#555" : layer_color[series[s] - 1];
			double r = (double)json_integer_value(json_array_get(b, series[s])) / bin_s;
			double bh = r / max * (h - 2);

			if (r <= 0)
				continue;
			if (bh < 2)
				bh = 2;   /* a single event stays visible */
			fprintf(out, "<rect x='%.2f' y='%.2f' width='%.2f' height='%.2f' "
				"fill='%s' fill-opacity='%s'/>\n", x0 + bw * (double)i,
				base - bh, bw > 1.5 ? bw - 0.5 : 1.0, bh, color,
				series[s] == 0 ? "0.55" : "0.85");
			base -= bh;
		}
	}
}

static void timeline(FILE *out, json_t *tl)
{
	json_t *bins = json_object_get(tl, "bins");
	double bin_s = json_real_value(json_object_get(tl, "bin_s"));
	unsigned all[1] = {0}, layers[DPC_TRIAGE_LAYER_COUNT];
	size_t n = json_array_size(bins);

	if (bin_s <= 0)
		bin_s = 1;
	for (unsigned l = 0; l < DPC_TRIAGE_LAYER_COUNT; l++)
		layers[l] = 1 + l;
	fputs("<h2>Timeline</h2>\n<svg id='timeline' xmlns='http://www.w3.org/2000/svg' "
	      "width='940' height='330' viewBox='0 0 940 330'>\n", out);
	panel(out, bins, bin_s, all, 1, 20, 120, "all packets/s");
	panel(out, bins, bin_s, layers, DPC_TRIAGE_LAYER_COUNT, 170, 120,
	      "packets/s that are evidence of a finding, per layer");
	fprintf(out, "<text x='70' y='305' font-size='11'>0 s</text>"
		"<text x='910' y='305' font-size='11' text-anchor='end'>%.3f s "
		"(bins of %.3f s)</text>\n", (double)n * bin_s, bin_s);
	for (unsigned l = 0; l < DPC_TRIAGE_LAYER_COUNT; l++)
		fprintf(out, "<rect x='%u' y='312' width='10' height='10' fill='%s'/>"
			"<text x='%u' y='321' font-size='11'>%s</text>\n", 200 + l * 120,
			layer_color[l], 214 + l * 120, dpc_triage_layer_name(l));
	fputs("</svg>\n", out);
}

int dpc_triage_write_html(struct dpc_triage *t, FILE *out)
{
	static const char *const c_find[] = {
		"severity", "layer", "text:finding", "packets", "code", "vni", "underlay", NULL };
	static const char *const c_size[] = { "bytes", "frames", NULL };
	static const char *const c_mal[] = { "status", "layer", "inner", "frames",
					     "snapped", "packets", NULL };
	static const char *const c_vlan[] = { "vid", "frames", "first_packet", NULL };
	static const char *const c_vx[] = { "vni", "vtep_src", "vtep_dst", "packets",
					    "max_inner_ip", "too_big", NULL };
	static const char *const c_icmp[] = { "reporter", "family", "name", "about_src",
					      "about_dst", "about_port", "mtu", "count",
					      "packets", NULL };
	static const char *const c_loop[] = { "src", "dst", "packets", "ttl_first",
					      "ttl_last", "evidence", NULL };
	static const char *const c_ttl[] = { "source", "vni", "packets", "min", "max",
					     "values:ttl:count", NULL };
	static const char *const c_tcp[] = { "client", "server", "port", "vni", "attempts",
					     "completed", "refused", "unanswered",
					     "unreachable", "reset", "retransmissions",
					     "dup_acks", "zero_windows", NULL };
	static const char *const c_rtt[] = { "server", "port", "samples", "p50_ms",
					     "p90_ms", "p99_ms", NULL };
	static const char *const c_udp[] = { "server", "port", "flows", "datagrams",
					     "first_client", "packets", NULL };
	static const char *const c_top[] = { "proto", "a", "a_port", "b", "b_port",
					     "packets", "bytes", NULL };
	static const char *const c_port[] = { "client", "min", "max", "connections", NULL };
	static const char *const c_dns[] = { "server", "queries", "responses", "unanswered",
					     "retries", "rcodes", "p50_ms", "p90_ms", NULL };
	static const char *const c_names[] = { "name", "rcode", "count", "first_packet", NULL };
	static const char *const c_req[] = { "line", "count", "first_packet", NULL };
	static const char *const c_st[] = { "server", "port", "status", "count", "packets", NULL };
	static const char *const c_sni[] = { "sni", "server", "port", "count", NULL };
	static const char *const c_al[] = { "from", "to", "port", "level", "description",
					    "count", "packets", NULL };
	json_t *root, *s, *x;
	size_t i;
	json_t *v;

	dpc_triage_finish(t);
	root = report_build(t);
	if (root == NULL)
		return -ENOMEM;
	s = json_object_get(root, "summary");
	fputs("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
	      "<title>dpcap triage</title>\n<style>\n"
	      "body{font-family:sans-serif;margin:20px;color:#222;background:#fff}\n"
	      "table{border-collapse:collapse;margin-bottom:12px;font-size:13px}\n"
	      "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\n"
	      "th{background:#eee}.none{color:#888}\n"
	      ".critical{background:#f8d0d0}.error{background:#fde6c8}.warning{background:#fff6c0}\n"
	      "h2{border-bottom:2px solid #444}\n"
	      "</style></head><body>\n<h1>dpcap triage</h1>\n", out);
	fprintf(out, "<p>%lld packets analysed (%lld filtered out), %.3f s, %lld bytes.</p>\n",
		(long long)json_integer_value(json_object_get(s, "analysed")),
		(long long)json_integer_value(json_object_get(s, "filtered_out")),
		json_real_value(json_object_get(s, "duration_s")),
		(long long)json_integer_value(json_object_get(s, "bytes")));
	fputs("<ul>\n", out);
	json_array_foreach(json_object_get(root, "inputs"), i, v) {
		fputs("<li>", out);
		esc(out, json_string_value(json_object_get(v, "name")));
		fprintf(out, ": packets #%lld, %lld packets",
			(long long)json_integer_value(json_object_get(v, "first_packet")),
			(long long)json_integer_value(json_object_get(v, "packets")));
		if (json_is_string(json_object_get(v, "error"))) {
			fputs(" (", out);
			esc(out, json_string_value(json_object_get(v, "error")));
			fputs(")", out);
		}
		fputs("</li>\n", out);
	}
	fputs("</ul>\n", out);

	fprintf(out, "<h2>Verdict: %zu finding%s</h2>\n",
		json_array_size(json_object_get(root, "findings")),
		json_array_size(json_object_get(root, "findings")) == 1 ? "" : "s");
	if (json_array_size(json_object_get(root, "findings")) == 0) {
		fputs("<p>Nothing wrong found at any layer.</p>\n", out);
	} else {
		fputs("<table id='verdict'><tr><th>#</th><th>severity</th><th>layer</th>"
		      "<th>finding</th><th>packets</th></tr>\n", out);
		json_array_foreach(json_object_get(root, "findings"), i, v) {
			fprintf(out, "<tr class='%s'><td>%zu</td>",
				json_string_value(json_object_get(v, "severity")), i + 1);
			cell(out, json_object_get(v, "severity"));
			cell(out, json_object_get(v, "layer"));
			cell(out, json_object_get(v, "text"));
			cell(out, json_object_get(v, "packets"));
			fputs("</tr>\n", out);
		}
		fputs("</table>\n", out);
	}
	(void)c_find;
	timeline(out, json_object_get(root, "timeline"));

	x = json_object_get(root, "link");
	fputs("<h2>Link</h2>\n", out);
	table(out, "Frame sizes", json_object_get(x, "sizes"), c_size);
	table(out, "Truncated / invalid frames", json_object_get(x, "malformed"), c_mal);
	table(out, "VLANs", json_object_get(x, "vlans"), c_vlan);
	table(out, "VXLAN tunnels", json_object_get(x, "vxlan"), c_vx);
	x = json_object_get(root, "internet");
	fputs("<h2>Internet</h2>\n<p>Protocols:", out);
	{
		const char *k;

		json_object_foreach(json_object_get(x, "protocols"), k, v)
			fprintf(out, " %s %lld;", k, (long long)json_integer_value(v));
	}
	fputs("</p>\n", out);
	table(out, "ICMP errors", json_object_get(x, "icmp_errors"), c_icmp);
	table(out, "Routing loops", json_object_get(x, "loops"), c_loop);
	table(out, "TTL per source", json_object_get(x, "ttl"), c_ttl);
	x = json_object_get(root, "transport");
	fputs("<h2>Transport</h2>\n", out);
	table(out, "TCP connection attempts", json_object_get(x, "tcp"), c_tcp);
	table(out, "Handshake RTT per server", json_object_get(x, "handshake_rtt"), c_rtt);
	table(out, "UDP flows without a reply", json_object_get(x, "udp_no_reply"), c_udp);
	table(out, "Top talkers", json_object_get(x, "top_talkers"), c_top);
	table(out, "Client port ranges", json_object_get(x, "ephemeral_ports"), c_port);
	x = json_object_get(root, "application");
	fputs("<h2>Application</h2>\n", out);
	table(out, "DNS servers", json_object_get(json_object_get(x, "dns"), "servers"), c_dns);
	table(out, "DNS names that failed",
	      json_object_get(json_object_get(x, "dns"), "failed_names"), c_names);
	table(out, "HTTP request lines",
	      json_object_get(json_object_get(x, "http"), "request_lines"), c_req);
	table(out, "HTTP status codes", json_object_get(json_object_get(x, "http"), "status"),
	      c_st);
	table(out, "TLS SNI", json_object_get(json_object_get(x, "tls"), "sni"), c_sni);
	table(out, "TLS alerts", json_object_get(json_object_get(x, "tls"), "alerts"), c_al);
	fputs("</body></html>\n", out);
	json_decref(root);
	return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}
