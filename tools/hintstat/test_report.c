// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of hintstat's report helpers (report.c).
 *
 *   hintstat_test             run the checks, TAP output, exit 1 on failure
 *   hintstat_test print WHAT  print a printer's output for the fixed
 *                             fixture (table, hist, json, prom, events,
 *                             events-json, fallback, workqueue, clock);
 *                             tests/test_hintstat_unit.py
 *                             compares it with tools/hintstat/testdata/
 *   hintstat_test record PATH write the record file of the event
 *                             sequence below (hintstat report reads it)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "aggregate.h"
#include "kpageflags.h"
#include "record.h"
#include "report.h"

static int failures, tests;

#define CHECK(cond, ...) do {						\
		tests++;						\
		if (cond) {						\
			printf("ok %d - ", tests);			\
		} else {						\
			failures++;					\
			printf("not ok %d - %s:%d: ", tests, __FILE__,	\
			       __LINE__);				\
		}							\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	} while (0)

static void hist_add(struct hs_hist *h, unsigned long long v)
{
	h->slots[hs_slot(v)]++;
	h->count++;
	h->sum += v;
}

static void test_slots(void)
{
	unsigned long long min, max, pmax = 0;
	unsigned int k;
	bool ok = true;

	CHECK(hs_slot(0) == 0, "slot(0) == 0");
	CHECK(hs_slot(1) == 1, "slot(1) == 1");
	CHECK(hs_slot(2) == 2 && hs_slot(3) == 2, "slot(2) == slot(3) == 2");
	CHECK(hs_slot(4) == 3, "slot(4) == 3");
	CHECK(hs_slot(1023) == 10 && hs_slot(1024) == 11,
	      "slot(1023) == 10, slot(1024) == 11");
	CHECK(hs_slot((1ULL << 40) - 1) == 40, "slot(2^40 - 1) == 40");
	CHECK(hs_slot(1ULL << 40) == HS_MAX_SLOTS - 1 &&
	      hs_slot(ULLONG_MAX) == HS_MAX_SLOTS - 1,
	      "values from 2^40 up land in the last slot");
	for (k = 0; k < HS_MAX_SLOTS; k++) {
		hs_slot_range(k, &min, &max);
		if (hs_slot(min) != k || hs_slot(max) != k ||
		    (k && min != pmax + 1) || min > max)
			ok = false;
		pmax = max;
	}
	CHECK(ok && pmax == ULLONG_MAX,
	      "slot ranges are contiguous, cover u64 and invert hs_slot()");
}

static void test_percentiles(void)
{
	struct hs_hist h;
	unsigned long long v = 0, i;

	memset(&h, 0, sizeof(h));
	CHECK(!hs_percentile(&h, 50, &v), "no percentile of an empty histogram");
	hist_add(&h, 1000);
	CHECK(hs_percentile(&h, 50, &v) && v == 1023,
	      "one value 1000: p50 is its bucket's upper bound 1023 (got %llu)", v);
	CHECK(!hs_percentile(&h, 0, &v) && !hs_percentile(&h, 100.5, &v),
	      "p outside (0, 100] is refused");

	memset(&h, 0, sizeof(h));
	for (i = 1; i <= 100; i++)
		hist_add(&h, i);
	/* Nearest rank: p50 is the 50th value (50, bucket 32..63). */
	CHECK(hs_percentile(&h, 50, &v) && v == 63, "1..100: p50 = 63 (got %llu)", v);
	CHECK(hs_percentile(&h, 99, &v) && v == 127, "1..100: p99 = 127 (got %llu)", v);
	CHECK(hs_percentile(&h, 1, &v) && v == 1, "1..100: p1 = 1 (got %llu)", v);
	CHECK(hs_percentile(&h, 63, &v) && v == 63, "1..100: p63 = 63 (got %llu)", v);
	CHECK(hs_percentile(&h, 64, &v) && v == 127, "1..100: p64 = 127 (got %llu)", v);

	memset(&h, 0, sizeof(h));
	for (i = 0; i < 99; i++)
		hist_add(&h, 10);
	hist_add(&h, 5000000);
	CHECK(hs_percentile(&h, 99, &v) && v == 15, "99 x 10 + 1 outlier: p99 = 15 (got %llu)", v);
	CHECK(hs_percentile(&h, 99.5, &v) && v == 8388607,
	      "p99.5 reaches the outlier's bucket (got %llu)", v);

	memset(&h, 0, sizeof(h));
	hist_add(&h, ULLONG_MAX);
	CHECK(hs_percentile(&h, 50, &v) && v == 1ULL << 40,
	      "the open top bucket reports its lower bound (got %llu)", v);
}

static void test_fmt_ns(void)
{
	static const struct {
		unsigned long long ns;
		const char *want;
	} cases[] = {
		{ 0, "0ns" }, { 999, "999ns" }, { 1000, "1.00us" },
		{ 1500, "1.50us" }, { 65535, "65.5us" }, { 262143, "262us" },
		{ 1500000, "1.50ms" }, { 12345678, "12.3ms" },
		{ 123456789, "123ms" }, { 2000000000, "2.00s" },
		{ 1099511627776ULL, "1100s" }, { 999999, "1.00ms" },
		{ 9999, "10.0us" }, { 99990, "100us" },
	};
	char buf[16];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hs_fmt_ns(buf, sizeof(buf), cases[i].ns);
		CHECK(!strcmp(buf, cases[i].want), "fmt_ns(%llu) = \"%s\" (got \"%s\")",
		      cases[i].ns, cases[i].want, buf);
	}
}

/* The fixture every printer golden is made from. */
static void fixture(struct hs_snapshot *total, struct hs_snapshot *iv)
{
	struct hs_snapshot prev;
	unsigned long long i;

	memset(total, 0, sizeof(*total));
	memset(&prev, 0, sizeof(prev));
	strcpy(total->zone_names[0], "DMA32");
	strcpy(total->zone_names[1], "Normal");

	/* Before the interval: one pass of one batch. */
	total->totals.passes = 1;
	total->totals.pass_batches = 1;
	total->totals.pass_bytes = 4 << 20;
	total->totals.requests = 3;
	total->zo[0 * HS_MAX_ORDERS + 10].bytes = 4 << 20;
	total->zo[0 * HS_MAX_ORDERS + 10].entries = 1;
	total->zo[0 * HS_MAX_ORDERS + 10].batches = 1;
	hist_add(&total->hists[HS_HIST_PASS], 3000000);
	prev = *total;

	/* The interval: two passes, three batches, one of them failed. */
	total->totals.passes += 2;
	total->totals.passes_requeued += 1;
	total->totals.pass_batches += 3;
	total->totals.pass_bytes += 523ULL << 20;
	total->totals.pass_failed_bytes += 2 << 20;
	total->totals.requests += 2;
	total->totals.requests_queued += 2;
	total->totals.cycles += 4;
	total->totals.fills += 3;
	total->totals.reacts += 3;
	total->totals.react_errors += 1;
	total->totals.drains += 3;
	total->totals.drain_reported += 40;
	total->totals.drain_merged += 1;
	total->totals.dropped_events += 7;
	total->totals.reuses += 3;
	total->totals.reuse_allocated_bytes += 12 << 12;
	total->totals.reuse_alloc_bytes += 4 << 20;
	total->totals.reuse_merge_bytes += 2 << 20;
	total->totals.reuse_isolate_bytes += 1 << 20;
	total->zo[0 * HS_MAX_ORDERS + 9].bytes += 11 << 20;
	total->zo[0 * HS_MAX_ORDERS + 9].entries += 11 / 2 + 1;
	total->zo[0 * HS_MAX_ORDERS + 9].batches += 1;
	total->zo[0 * HS_MAX_ORDERS + 10].bytes += 512 << 20;
	total->zo[0 * HS_MAX_ORDERS + 10].entries += 32;
	total->zo[0 * HS_MAX_ORDERS + 10].batches += 1;
	total->zo[1 * HS_MAX_ORDERS + 10].failed_bytes += 2 << 20;
	total->zo[1 * HS_MAX_ORDERS + 10].entries += 1;
	total->zo[1 * HS_MAX_ORDERS + 10].batches += 1;
	hist_add(&total->hists[HS_HIST_PASS], 15495302);
	hist_add(&total->hists[HS_HIST_PASS], 7917911);
	for (i = 0; i < 3; i++) {
		hist_add(&total->hists[HS_HIST_REACT], 300000 + i * 4000000);
		hist_add(&total->hists[HS_HIST_FILL_LOCK], 1574396 + i * 100);
		hist_add(&total->hists[HS_HIST_DRAIN_LOCK], 19757 << i);
	}
	hist_add(&total->hists[HS_HIST_DRAIN_LOCK], 0);
	hist_add(&total->hists[HS_HIST_PASS_MAX_LOCK], 1574496);
	hist_add(&total->hists[HS_HIST_PASS_MAX_LOCK], 1574596);
	total->events[HS_EV_REQUEST] = 2;
	total->events[HS_EV_PASS] = 2;
	total->events[HS_EV_FILL] = 3;
	hs_snapshot_diff(iv, total, &prev);
}

static void test_diff(void)
{
	struct hs_snapshot total, iv;

	fixture(&total, &iv);
	CHECK(iv.totals.passes == 2 && iv.totals.requests == 2 &&
	      iv.totals.pass_bytes == 523ULL << 20,
	      "interval totals are the differences");
	CHECK(iv.zo[10].bytes == 512 << 20 && iv.zo[10].batches == 1 &&
	      iv.zo[9].bytes == 11 << 20,
	      "interval zone/order counters are the differences");
	CHECK(iv.hists[HS_HIST_PASS].count == 2 &&
	      iv.hists[HS_HIST_PASS].slots[hs_slot(3000000)] == 0 &&
	      iv.hists[HS_HIST_PASS].sum == 15495302 + 7917911,
	      "interval histograms drop what came before");
	CHECK(!strcmp(iv.zone_names[1], "Normal"), "zone names carried over");
}

static void test_prom_file(void)
{
	struct hs_snapshot total, iv;
	char dir[] = "/tmp/hintstat-test.XXXXXX", path[PATH_MAX];
	char *want = NULL, *got = NULL;
	size_t wlen = 0, glen;
	FILE *mem, *f;
	int err;

	fixture(&total, &iv);
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	err = hs_write_prom_file(path, &total);
	CHECK(err == 0, "hs_write_prom_file succeeds (%d)", err);
	mem = open_memstream(&want, &wlen);
	hs_print_prom(mem, &total);
	fclose(mem);
	got = calloc(1, wlen + 2);
	f = fopen(path, "r");
	glen = f ? fread(got, 1, wlen + 1, f) : 0;
	if (f)
		fclose(f);
	CHECK(glen == wlen && !memcmp(got, want, wlen),
	      "the file holds exactly the exposition (%zu of %zu bytes)", glen, wlen);
	unlink(path);
	CHECK(rmdir(dir) == 0, "no temporary file is left behind");
	snprintf(path, sizeof(path), "%s/nodir/m.prom", dir);
	CHECK(hs_write_prom_file(path, &total) == -ENOENT,
	      "a missing directory is -ENOENT");
	free(want);
	free(got);
}

/*
 * An event sequence touching every path of the aggregator: two zones,
 * orders 9 and 10, a failed report, a react without a fill, a fill out
 * of the table's range, requeued and failed passes.
 */
static int sequence(struct hs_event *ev, int max)
{
	static const struct {
		unsigned int type, zone, order, a, b, c, flag;
		int err;
		unsigned long long bytes, ns, c64;
	} s[] = {
		{ HS_EV_REQUEST, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 },
		{ HS_EV_REQUEST, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0 },
		{ HS_EV_FILL, 0, 9, 6, 0, 0, 0, 0, 11 << 20, 1574396, 0 },
		{ HS_EV_REACT, 0, 0, 6, 0, 0, 0, 0, 11 << 20, 300000, 0 },
		{ HS_EV_DRAIN, 0, 0, 6, 6, 0, 0, 0, 0, 19757, 0 },
		{ HS_EV_FILL, 0, 10, 32, 0, 0, 0, 0, 512 << 20, 1574496, 0 },
		{ HS_EV_REACT, 0, 0, 32, 0, 0, 0, 0, 512 << 20, 4300000, 0 },
		{ HS_EV_DRAIN, 0, 0, 32, 31, 1, 0, 0, 0, 39514, 0 },
		{ HS_EV_CYCLE, 0, 10, 38, 2, 0, 1, 0, 0, 9000000, 0 },
		{ HS_EV_PASS, 0, 0, 2, 1574496, 0, 1, 0, 523 << 20, 15495302, 0 },
		{ HS_EV_REUSE, 0, 10, HS_REUSE_ALLOC, 0, 0, 0, 0, 4 << 20, 0, 8 << 12 },
		{ HS_EV_REUSE, 0, 9, HS_REUSE_MERGE, 0, 0, 0, 0, 2 << 20, 0, 0 },
		{ HS_EV_FILL, 1, 10, 1, 0, 0, 0, 0, 2 << 20, 1574596, 0 },
		{ HS_EV_REACT, 0, 0, 1, 0, 0, 0, -5, 2 << 20, 8300000, 0 },
		{ HS_EV_DRAIN, 0, 0, 1, 0, 0, 0, -5, 0, 0, 0 },
		{ HS_EV_REACT, 0, 0, 1, 0, 0, 0, 0, 4096, 1000, 0 },
		{ HS_EV_FILL, 0xffff, 3, 1, 0, 0, 0, 0, 4096, 0, 0 },
		{ HS_EV_REACT, 0, 0, 1, 0, 0, 0, 0, 4096, 1000, 0 },
		{ HS_EV_CYCLE, 1, 10, 1, 1, 0, 0, -5, 0, 9100000, 0 },
		{ HS_EV_REUSE, 1, 0, HS_REUSE_ALLOC, 0, 0, 0, 0, 4096, 0, 4096 },
		{ HS_EV_REUSE, 1, 3, HS_NR_REUSE_WHY, 0, 0, 0, 0, 32768, 0, 0 },
		{ HS_EV_PASS, 0, 0, 3, 0xffffffff, 0, 0, -5, 8192, 7917911, 2 << 20 },
	};
	int i, n = sizeof(s) / sizeof(s[0]);

	for (i = 0; i < n && i < max; i++) {
		memset(&ev[i], 0, sizeof(ev[i]));
		ev[i].type = s[i].type;
		ev[i].ts_ns = 1000000000ULL + i * 1000000ULL;
		ev[i].zone = s[i].zone;
		ev[i].order = s[i].order;
		ev[i].a = s[i].a;
		ev[i].b = s[i].b;
		ev[i].c = s[i].c;
		ev[i].flag = s[i].flag;
		ev[i].err = s[i].err;
		ev[i].bytes = s[i].bytes;
		ev[i].ns = s[i].ns;
		ev[i].c64 = s[i].c64;
	}
	return i;
}

static char seq_zones[HS_MAX_ZONES][HS_ZONE_NAME_LEN] = { "DMA32", "Normal" };

static int write_record(const char *path, int n_events, bool end)
{
	struct hs_event ev[32];
	FILE *f = fopen(path, "wb");
	int i, n = sequence(ev, 32), err;

	if (!f)
		return -errno;
	if (n_events >= 0 && n_events < n)
		n = n_events;
	err = hs_rec_write_header(f, HS_MODE_TRACEPOINTS, 999000000ULL, 0,
				  "6.12.0-test", seq_zones);
	for (i = 0; !err && i < n; i++) {
		err = hs_rec_write_event(f, &ev[i]);
		if (!err && i == 5)
			err = hs_rec_write_mark(f, HS_REC_DROPPED, ev[i].ts_ns, 3);
	}
	if (!err && end)
		err = hs_rec_write_mark(f, HS_REC_END, 1100000000ULL, 7);
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static void test_aggregator(void)
{
	static struct hs_state st;
	static struct hs_replay r;
	struct hs_event ev[32];
	char path[] = "/tmp/hintstat-rec.XXXXXX";
	int i, n = sequence(ev, 32), fd;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < n; i++)
		hs_account(&st, &ev[i]);
	CHECK(st.totals.passes == 2 && st.totals.passes_requeued == 1 &&
	      st.totals.passes_err == 1 && st.totals.pass_batches == 5 &&
	      st.totals.pass_bytes == (523ULL << 20) + 8192 &&
	      st.totals.pass_failed_bytes == 2 << 20,
	      "pass events sum into the pass totals");
	CHECK(st.totals.requests == 2 && st.totals.requests_queued == 1 &&
	      st.totals.cycles == 2 && st.totals.cycles_budget_exhausted == 1,
	      "requests and cycles are counted");
	CHECK(st.zo[9].bytes == 11 << 20 && st.zo[9].entries == 6 &&
	      st.zo[10].bytes == 512 << 20 && st.zo[10].batches == 1 &&
	      st.zo[HS_MAX_ORDERS + 10].failed_bytes == 2 << 20 &&
	      st.zo[HS_MAX_ORDERS + 10].bytes == 0,
	      "a react goes to the zone/order of the fill before it");
	CHECK(st.totals.reuses == 4 &&
	      st.totals.reuse_allocated_bytes == (8 << 12) + 4096 &&
	      st.totals.reuse_alloc_bytes == (4 << 20) + 4096 &&
	      st.totals.reuse_merge_bytes == 2 << 20 &&
	      !st.totals.reuse_isolate_bytes && !st.totals.reuse_offline_bytes,
	      "reuse events sum by why; allocated bytes apart");
	CHECK(st.hists[HS_HIST_PASS_MAX_LOCK].count == 2 &&
	      st.hists[HS_HIST_PASS_MAX_LOCK].sum == 1574496ULL + 0xffffffffULL &&
	      !st.zone_hists[0][HS_HIST_PASS_MAX_LOCK].count,
	      "a pass's longest lock hold has its histogram, not per zone");
	CHECK(st.totals.unattributed == 2 && st.totals.out_of_range == 2 &&
	      st.totals.react_errors == 1 && st.totals.reacts == 5,
	      "reacts without a fill in range are unattributed (got %llu)",
	      st.totals.unattributed);
	CHECK(st.hists[HS_HIST_REACT].count == 5 &&
	      st.zone_hists[0][HS_HIST_REACT].count == 2 &&
	      st.zone_hists[1][HS_HIST_REACT].count == 1 &&
	      st.zone_hists[1][HS_HIST_DRAIN_LOCK].slots[0] == 1 &&
	      st.zone_hists[0][HS_HIST_FILL_LOCK].count == 2 &&
	      st.hists[HS_HIST_FILL_LOCK].count == 4,
	      "per-zone histograms follow the fill's zone");
	CHECK(st.hists[HS_HIST_PASS].slots[hs_slot(15495302)] == 1 &&
	      st.hists[HS_HIST_PASS].sum == 15495302 + 7917911,
	      "pass durations land in their log2 slots");

	fd = mkstemp(path);
	if (fd < 0) {
		CHECK(0, "mkstemp: %s", strerror(errno));
		return;
	}
	close(fd);
	CHECK(write_record(path, -1, true) == 0, "a record file is written");
	CHECK(hs_replay_file(path, &r) == 0, "and read back (%s)", r.err);
	CHECK(!memcmp(&r.st, &st, sizeof(st)) && r.records == (unsigned)n &&
	      r.complete && r.snap.totals.dropped_events == 7 &&
	      r.end_ns == 1100000000ULL,
	      "replaying it gives the state of aggregating the events");
	CHECK(!strcmp(r.snap.zone_names[1], "Normal") &&
	      !strcmp(r.hdr.release, "6.12.0-test"),
	      "the header carries zone names and the kernel release");
	write_record(path, 4, false);
	CHECK(hs_replay_file(path, &r) == 0 && !r.complete && r.records == 4,
	      "a record without its end is read, flagged incomplete");
	truncate(path, HS_REC_HEADER_SIZE + 10);
	CHECK(hs_replay_file(path, &r) == -1 &&
	      strstr(r.err, "truncated record at byte 512"),
	      "a cut record is refused (%s)", r.err);
	unlink(path);
	CHECK(hs_replay_file(path, &r) == -1 && strstr(r.err, "cannot open"),
	      "a missing file is refused (%s)", r.err);
}

#define F_BUDDY		(1ULL << HS_KPF_BUDDY)
#define F_REPORTED	(F_BUDDY | (1ULL << HS_KPF_UPTODATE))
#define F_USED		(1ULL << 5)	/* KPF_LRU: an allocated page */
#define KPF_PAGES	8192

/* A free block in a synthetic kpageflags: its head, then its inside. */
static void kpf_block(unsigned long long *f, unsigned int pfn,
		      unsigned int order, bool reported)
{
	unsigned int i;

	f[pfn] = reported ? F_REPORTED : F_BUDDY;
	for (i = 1; i < 1U << order; i++)
		f[pfn + i] = F_BUDDY;
}

static int kpf_file(const unsigned long long *f, size_t n, char *path)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	if (write(fd, f, n * sizeof(*f)) != (ssize_t)(n * sizeof(*f))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The scan against a layout whose answer is known: zone 0 is pfn
 * 0..4095, zone 1 4096..8191, orders 9 and 10, 4 KiB pages.
 */
static void test_kpageflags_scan(void)
{
	static unsigned long long f[KPF_PAGES];
	struct hs_kpf_cfg cfg = {
		.spans = { { 0, 4096, 0, 0 }, { 4096, KPF_PAGES, 1, 0 } },
		.nspans = 2, .min_order = 9, .max_order = 10, .page_size = 4096,
	};
	char path[] = "/tmp/hintstat-kpf.XXXXXX";
	struct hs_kpf_scan sc;
	unsigned int i;
	int fd, err;

	for (i = 0; i < KPF_PAGES; i++)
		f[i] = F_USED;
	kpf_block(f, 0, 10, true);	/* zone 0: an order-10 block */
	kpf_block(f, 1024, 9, true);	/* order 9, its buddy in use */
	kpf_block(f, 2048, 9, true);	/* order 9; its buddy starts */
	kpf_block(f, 2560, 0, false);	/* with a free page, then used */
	kpf_block(f, 3072, 10, false);	/* free, not reported: not counted */
	kpf_block(f, 4096, 10, true);	/* zone 1 */
	kpf_block(f, 5632, 9, true);	/* odd half of an order-10 range */
	kpf_block(f, 6144, 9, false);
	kpf_block(f, 6656, 9, true);	/* buddy free, not reported: order 9 */
	f[7168] = F_REPORTED;		/* a head at the span's end: cut */
	fd = kpf_file(f, KPF_PAGES - 256, path);
	if (fd < 0) {
		CHECK(0, "kpageflags file: %s", strerror(errno));
		return;
	}
	err = hs_kpf_scan(fd, &cfg, &sc);
	CHECK(!err, "scan succeeds (%d)", err);
	CHECK(sc.bytes[0 * HS_MAX_ORDERS + 10] == 4ULL << 20,
	      "zone 0, order 10: one block (%llu)", sc.bytes[10]);
	CHECK(sc.bytes[0 * HS_MAX_ORDERS + 9] == 4ULL << 20,
	      "zone 0, order 9: two blocks, a free page in a buddy does not make order 10 (%llu)",
	      sc.bytes[9]);
	CHECK(sc.bytes[1 * HS_MAX_ORDERS + 10] == 4ULL << 20,
	      "zone 1, order 10: one block (%llu)",
	      sc.bytes[HS_MAX_ORDERS + 10]);
	CHECK(sc.bytes[1 * HS_MAX_ORDERS + 9] == 6ULL << 20,
	      "zone 1, order 9: three blocks, the one past the file's end included (%llu)",
	      sc.bytes[HS_MAX_ORDERS + 9]);
	CHECK(sc.total == 18ULL << 20 && sc.blocks == 7,
	      "total 18 MiB in 7 blocks (%llu, %llu)", sc.total, sc.blocks);
	CHECK(sc.reads < 32, "one read per 2 MiB and a few per block (%llu)",
	      sc.reads);
	close(fd);
	unlink(path);
}

/*
 * A reported order-9 block whose buddy is free but for one page between
 * the samples: sampled, it passes for order 10; read whole, order 9.
 */
static void test_kpageflags_exact_orders(void)
{
	static unsigned long long f[2048];
	struct hs_kpf_cfg cfg = {
		.spans = { { 0, 2048, 0, 0 } }, .nspans = 1,
		.min_order = 9, .max_order = 10, .page_size = 4096,
	};
	char path[] = "/tmp/hintstat-kpf.XXXXXX";
	struct hs_kpf_scan sampled, exact;
	int fd;

	kpf_block(f, 0, 9, true);
	kpf_block(f, 512, 9, false);
	f[512 + 219] = F_USED;		/* as seen on a field host */
	kpf_block(f, 1024, 10, true);	/* a true order-10 block */
	fd = kpf_file(f, 2048, path);
	if (fd < 0) {
		CHECK(0, "kpageflags file: %s", strerror(errno));
		return;
	}
	CHECK(!hs_kpf_scan(fd, &cfg, &sampled), "sampled scan succeeds");
	cfg.exact = true;
	CHECK(!hs_kpf_scan(fd, &cfg, &exact), "exact scan succeeds");
	CHECK(sampled.bytes[10] == 8ULL << 20 && !sampled.bytes[9],
	      "sampled: the pair passes for order 10 (%llu, %llu)",
	      sampled.bytes[9], sampled.bytes[10]);
	CHECK(exact.bytes[9] == 2ULL << 20 && exact.bytes[10] == 4ULL << 20,
	      "exact: order 9 and order 10 (%llu, %llu)", exact.bytes[9],
	      exact.bytes[10]);
	CHECK(exact.sampled_excess == sampled.total - exact.total &&
	      !sampled.sampled_excess,
	      "exact: what the samples add, counted (%llu)",
	      exact.sampled_excess);
	CHECK(exact.blocks == 2 && sampled.blocks == 2,
	      "the same heads either way (%llu, %llu)", exact.blocks,
	      sampled.blocks);
	CHECK(exact.reads >= 512 + 512 && exact.reads < 1100,
	      "exact: every page of both upper halves (%llu reads)",
	      exact.reads);
	close(fd);
	unlink(path);
}

/* path: a mkstemp() template the first time, then the file it named. */
static int write_text(char *path, const char *text)
{
	size_t n = strlen(text);
	FILE *f;
	int fd;

	if (strstr(path, "XXXXXX")) {
		fd = mkstemp(path);
		if (fd < 0)
			return -1;
		close(fd);
	}
	f = fopen(path, "w");
	if (!f)
		return -1;
	if (fwrite(text, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

static void test_kpageflags_setup(void)
{
	char zi[] = "/tmp/hintstat-zi.XXXXXX", bi[] = "/tmp/hintstat-bi.XXXXXX";
	char order[] = "/tmp/hintstat-ord.XXXXXX";
	struct hs_kpf_cfg cfg;
	const char *what;
	int err;

	if (write_text(zi, "Node 0, zone   Normal\n  pages free 1\n        spanned  8192\n  start_pfn:           4096\n"
			   "Node 0, zone      DMA\n        spanned  4095\n  start_pfn:           1\n") ||
	    write_text(bi, "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 \n") ||
	    write_text(order, "4294967295\n")) {
		CHECK(0, "setup files: %s", strerror(errno));
		return;
	}
	err = hs_kpf_setup(&cfg, zi, bi, order, &what);
	CHECK(!err && cfg.max_order == 10 && cfg.min_order == 9 &&
	      cfg.nspans == 2 && cfg.spans[0].lo_pfn == 1 &&
	      cfg.spans[1].lo_pfn == 4096,
	      "setup: max order 10 from buddyinfo, order -1 (no device yet) read as 9, spans sorted");
	write_text(order, "5\n");
	hs_kpf_read_order(&cfg, order);
	CHECK(cfg.min_order == 5, "a changed page_reporting_order is read again");
	unlink(order);
	hs_kpf_read_order(&cfg, order);
	CHECK(cfg.min_order == 9, "no parameter (before 5.14): order 9");
	write_text(bi, "garbage\n");
	err = hs_kpf_setup(&cfg, zi, bi, order, &what);
	CHECK(err == -EINVAL && !strcmp(what, bi),
	      "a buddyinfo without orders is refused, named");
	unlink(bi);
	unlink(zi);
	err = hs_kpf_setup(&cfg, zi, bi, order, &what);
	CHECK(err == -ENOENT && !strcmp(what, zi), "no zoneinfo: refused, named");
}

/* Workqueue mode's snapshot: passes and durations, what is reported now. */
static void fixture_workqueue(struct hs_snapshot *total, struct hs_snapshot *iv)
{
	struct hs_snapshot prev;

	memset(total, 0, sizeof(*total));
	strcpy(total->zone_names[1], "DMA32");
	strcpy(total->zone_names[2], "Normal");
	strcpy(total->clocksource, "tsc");
	/* A release with a quote: pagehint_info escapes its label value. */
	strcpy(total->release, "6.18.0-fc\"1");
	total->mode = HS_MODE_WORKQUEUE;
	total->now.valid = true;
	total->now.bytes[1 * HS_MAX_ORDERS + 10] = 3004ULL << 20;
	total->now.bytes[2 * HS_MAX_ORDERS + 9] = 186ULL << 20;
	total->now.total = 3190ULL << 20;
	total->now.reads = 15001;
	total->now.scan_ns = 7812345;
	prev = *total;
	prev.now.total -= 600ULL << 20;
	total->totals.passes = 2;
	hist_add(&total->hists[HS_HIST_PASS], 128000000);
	hist_add(&total->hists[HS_HIST_PASS], 8000);
	hs_snapshot_diff(iv, total, &prev);
}

static int print(const char *what)
{
	struct hs_interval_info info = {
		.ts = 26.129116, .secs = 1.000062, .clock = "23:50:13",
		.events = true,
	};
	struct hs_snapshot total, iv;
	struct hs_event e;
	int i;

	fixture(&total, &iv);
	if (!strcmp(what, "table")) {
		hs_print_table(stdout, &iv, &info);
		info.clock = NULL;
		info.events = false;
		memset(&iv, 0, sizeof(iv));
		hs_print_table(stdout, &iv, &info);
	} else if (!strcmp(what, "hist")) {
		for (i = 0; i < HS_NR_HISTS; i++)
			hs_print_log2_hist(stdout, &iv.hists[i], hs_hist_title(i));
		memset(&iv, 0, sizeof(iv));
		hist_add(&iv.hists[0], 1ULL << 45);
		hist_add(&iv.hists[0], 1);
		hs_print_log2_hist(stdout, &iv.hists[0], "wide");
	} else if (!strcmp(what, "json")) {
		hs_print_json(stdout, &iv, &total, &info);
		info.clock = NULL;
		info.events = false;
		memset(&iv, 0, sizeof(iv));
		hs_print_json(stdout, &iv, &total, &info);
	} else if (!strcmp(what, "prom")) {
		hs_print_prom(stdout, &total);
	} else if (!strcmp(what, "fallback")) {
		/*
		 * What the fallback mode shows: '-' and null for what it
		 * cannot measure; zone rows for the batches it placed, the
		 * passes' sums when it placed none.
		 */
		total.mode = iv.mode = HS_MODE_FENTRY;
		hs_print_table(stdout, &iv, &info);
		hs_print_hists(stdout, &iv, false);
		/* -Z: the reacts were placed in zones, the passes were not. */
		hist_add(&iv.zone_hists[0][HS_HIST_REACT], 300000);
		hist_add(&iv.zone_hists[0][HS_HIST_REACT], 5000000);
		hist_add(&iv.zone_hists[1][HS_HIST_REACT], 7600000);
		hs_print_hists(stdout, &iv, true);
		hs_print_json(stdout, &iv, &total, &info);
		hs_print_prom(stdout, &total);
		memset(iv.zo, 0, sizeof(iv.zo));
		memset(total.zo, 0, sizeof(total.zo));
		iv.totals.unattributed = 3;
		total.totals.unattributed = 3;
		hs_print_table(stdout, &iv, &info);
		hs_print_json(stdout, &iv, &total, &info);
	} else if (!strcmp(what, "workqueue")) {
		fixture_workqueue(&total, &iv);
		info.events = false;
		hs_print_table(stdout, &iv, &info);
		hs_print_hists(stdout, &iv, false);
		hs_print_json(stdout, &iv, &total, &info);
		hs_print_prom(stdout, &total);
		/* No kpageflags: passes only, the rest '-' and null. */
		iv.now.valid = total.now.valid = false;
		hs_print_table(stdout, &iv, &info);
		hs_print_json(stdout, &iv, &total, &info);
	} else if (!strcmp(what, "clock")) {
		/* A jiffies clock: every duration marked, nothing bare. */
		strcpy(iv.clocksource, "refined-jiffies");
		strcpy(total.clocksource, "refined-jiffies");
		hs_print_table(stdout, &iv, &info);
		hs_print_hists(stdout, &iv, false);
		hs_print_json(stdout, &iv, &total, &info);
		hs_print_prom(stdout, &total);
	} else if (!strcmp(what, "events") || !strcmp(what, "events-json")) {
		for (i = 0; i < HS_NR_EVENT_TYPES + 1; i++) {
			memset(&e, 0, sizeof(e));
			e.type = i;
			e.ts_ns = 22394148000ULL + i;
			e.zone = i == HS_EV_CYCLE ? 0xffff : 0;
			e.order = 10;
			e.mt = 1;
			e.a = i == HS_EV_REUSE ? HS_REUSE_MERGE : 32;
			e.b = 31;
			e.c = 1;
			e.bytes = 134217728;
			e.ns = 1574396;
			e.c64 = 2097152;
			e.err = i == HS_EV_REACT ? -5 : 0;
			e.flag = 1;
			if (what[6])
				hs_print_event_json(stdout, &e, &total);
			else
				hs_print_event(stdout, &e, &total);
		}
	} else {
		fprintf(stderr, "hintstat_test: unknown printer '%s'\n", what);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "print"))
		return print(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "record"))
		return write_record(argv[2], -1, true) ? 1 : 0;
	if (argc != 1) {
		fprintf(stderr, "usage: hintstat_test [print WHAT]\n");
		return 2;
	}
	test_slots();
	test_percentiles();
	test_fmt_ns();
	test_diff();
	test_prom_file();
	test_aggregator();
	test_kpageflags_scan();
	test_kpageflags_exact_orders();
	test_kpageflags_setup();
	printf("1..%d\n", tests);
	printf("%d passed, %d failed\n", tests - failures, failures);
	return failures ? 1 : 0;
}
