/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_job.c - lib/job: spec JSON parsing (every field, unknown keys,
 * errors naming the field), states, reasons, counters. Suite unit.
 * (Lives next to the daemon tests: tests/meson.build has no job folder.)
 */
#include <errno.h>
#include <string.h>

#include "dpc_job.h"
#include "dpc_test.h"

static int parse(const char *text, struct dpc_job_spec *s, char *err, size_t n)
{
	json_error_t je;
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	int rc;

	if (!o) {
		snprintf(err, n, "bad test json: %s", je.text);
		return -999;
	}
	dpc_job_spec_init(s);
	rc = dpc_job_spec_from_json(o, s, err, n);
	json_decref(o);
	return rc;
}

static void expect_err(const char *text, const char *field)
{
	struct dpc_job_spec s;
	char err[256] = "";
	int rc = parse(text, &s, err, sizeof(err));

	CHECK(rc == -EINVAL && strncmp(err, field, strlen(field)) == 0,
	      "rejects %s -> \"%s\"", text, err);
}

int main(void)
{
	struct dpc_job_spec s, s2;
	struct dpc_job_status st;
	struct dpc_job_counters c;
	char err[256] = "";
	json_t *j;
	int rc;

	rc = parse("{\"name\":\"inc-1.a_b\",\"filter\":\"vni 5001 and tcp port 5432\","
		   "\"write\":\"inner\",\"snaplen\":128,"
		   "\"limits\":{\"packets\":1000,\"bytes\":1000000,\"duration_s\":60},"
		   "\"rotate\":{\"file_bytes\":100000,\"file_seconds\":10,\"max_files\":5,\"mode\":\"ring\"},"
		   "\"ports\":[0,2]}", &s, err, sizeof(err));
	CHECK_EQ(rc, 0, "full spec parses (%s)", err);
	CHECK_STR(s.name, "inc-1.a_b", "name");
	CHECK_STR(s.filter, "vni 5001 and tcp port 5432", "filter");
	CHECK_EQ(s.write, DPC_JOB_WRITE_INNER, "write inner");
	CHECK_EQ(s.snaplen, 128, "snaplen");
	CHECK_EQ(s.limits.packets, 1000, "limits.packets");
	CHECK_EQ(s.limits.bytes, 1000000, "limits.bytes");
	CHECK_EQ(s.limits.duration_s, 60, "limits.duration_s");
	CHECK_EQ(s.rotate.file_bytes, 100000, "rotate.file_bytes");
	CHECK_EQ(s.rotate.file_seconds, 10, "rotate.file_seconds");
	CHECK_EQ(s.rotate.max_files, 5, "rotate.max_files");
	CHECK_EQ(s.rotate.mode, DPC_JOB_ROTATE_RING, "rotate.mode ring");
	CHECK(s.n_ports == 2 && s.ports[0] == 0 && s.ports[1] == 2, "ports");

	/* round trip through to_json */
	j = dpc_job_spec_to_json(&s);
	CHECK(j != NULL, "to_json");
	dpc_job_spec_init(&s2);
	rc = dpc_job_spec_from_json(j, &s2, err, sizeof(err));
	CHECK(rc == 0 && memcmp(&s, &s2, sizeof(s)) == 0, "to_json -> from_json round trip (%s)", err);
	json_decref(j);

	rc = parse("{\"name\":\"x\"}", &s, err, sizeof(err));
	CHECK(rc == 0 && s.snaplen == DPC_JOB_SNAPLEN_MAX && s.filter[0] == 0 &&
	      s.write == DPC_JOB_WRITE_FRAME && s.n_ports == 0, "defaults kept");

	expect_err("{}", "name: missing");
	expect_err("{\"name\":\"a/b\"}", "name:");
	expect_err("{\"name\":\"..\"}", "name:");
	expect_err("{\"name\":\".\"}", "name:");
	expect_err("{\"name\":\"\"}", "name:");
	expect_err("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "name:");
	expect_err("{\"name\":\"a\\u0000b\"}", "name:");
	expect_err("{\"name\":7}", "name:");
	expect_err("{\"name\":\"x\",\"frobnicate\":1}", "frobnicate: unknown key");
	expect_err("{\"name\":\"x\",\"limits\":{\"packet\":1}}", "limits.packet: unknown key");
	expect_err("{\"name\":\"x\",\"limits\":{\"packets\":-1}}", "limits.packets:");
	expect_err("{\"name\":\"x\",\"limits\":{\"packets\":\"5\"}}", "limits.packets:");
	expect_err("{\"name\":\"x\",\"limits\":[]}", "limits:");
	expect_err("{\"name\":\"x\",\"rotate\":{\"mode\":\"loop\"}}", "rotate.mode:");
	expect_err("{\"name\":\"x\",\"rotate\":{\"mode\":\"ring\"}}", "rotate.mode:");
	expect_err("{\"name\":\"x\",\"rotate\":{\"max_files\":3}}", "rotate.max_files:");
	expect_err("{\"name\":\"x\",\"rotate\":{\"zzz\":3}}", "rotate.zzz: unknown key");
	expect_err("{\"name\":\"x\",\"snaplen\":0}", "snaplen:");
	expect_err("{\"name\":\"x\",\"snaplen\":262145}", "snaplen:");
	expect_err("{\"name\":\"x\",\"snaplen\":1.5}", "snaplen:");
	expect_err("{\"name\":\"x\",\"write\":\"outer\"}", "write:");
	expect_err("{\"name\":\"x\",\"filter\":5}", "filter:");
	expect_err("{\"name\":\"x\",\"ports\":[1,1]}", "ports[1]:");
	expect_err("{\"name\":\"x\",\"ports\":[-1]}", "ports[0]:");
	expect_err("{\"name\":\"x\",\"ports\":3}", "ports:");
	expect_err("[]", "job:");

	{
		json_t *o = json_pack("{s:s}", "filter", "tcp");

		dpc_job_spec_init(&s);
		rc = dpc_job_spec_from_json_ex(o, &s, false, err, sizeof(err));
		CHECK(rc == 0 && s.name[0] == 0, "name optional with require_name=false (%s)", err);
		json_decref(o);
	}

	CHECK(dpc_job_name_valid("a"), "name a valid");
	CHECK(!dpc_job_name_valid("a b"), "space invalid");

	/* states */
	memset(&st, 0, sizeof(st));
	CHECK_EQ(dpc_job_status_end(&st, DPC_JOB_REASON_NONE, 1), -EINVAL, "end with NONE refused");
	CHECK_EQ(dpc_job_status_end(&st, DPC_JOB_REASON_PACKETS, 5), 0, "end packets");
	CHECK_EQ(st.state, DPC_JOB_COMPLETED, "packets -> completed");
	CHECK_EQ(dpc_job_status_end(&st, DPC_JOB_REASON_REQUEST, 6), -EALREADY, "second end refused");
	CHECK_EQ(st.ended_ns, 5, "first end wins");
	CHECK_STR(dpc_job_state_name(st.state), "completed", "state name");
	CHECK_EQ(dpc_job_state_from_name("failed"), DPC_JOB_FAILED, "state from name");
	CHECK_EQ(dpc_job_state_from_name("bogus"), -1, "unknown state name");
	CHECK_EQ(dpc_job_reason_state(DPC_JOB_REASON_DISK_LOW), DPC_JOB_FAILED, "disk low -> failed");
	CHECK_STR(dpc_job_reason_name(DPC_JOB_REASON_DISK_LOW), "disk low", "reason name");
	CHECK_EQ(dpc_job_reason_state(DPC_JOB_REASON_SHUTDOWN), DPC_JOB_STOPPED, "shutdown -> stopped");

	/* counters */
	memset(&c, 0, sizeof(c));
	c.matched = 10;
	c.written = 6;
	c.dropped[DPC_DROP_LIMIT] = 3;
	CHECK_EQ(dpc_job_counters_dropped(&c), 3, "dropped sum");
	CHECK_EQ(dpc_job_counters_in_flight(&c), 1, "in flight");
	CHECK_STR(dpc_drop_name(DPC_DROP_RING_FULL), "ring_full", "drop name");
	j = dpc_job_counters_to_json(&c);
	CHECK(j && json_integer_value(json_object_get(json_object_get(j, "dropped"), "limit")) == 3,
	      "counters json has dropped.limit");
	json_decref(j);
	s.limits.packets = 20;
	j = dpc_job_progress_to_json(&s, &c, 0);
	CHECK(j && json_real_value(json_object_get(json_object_get(j, "packets"), "fraction")) == 0.3,
	      "progress fraction");
	json_decref(j);
	return dpc_test_done();
}
