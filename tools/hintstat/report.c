// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hintstat report helpers: histogram maths, percentiles and the text,
 * JSON and Prometheus printers.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "aggregate.h"
#include "report.h"

#define MIB (1024.0 * 1024.0)

static const char * const hist_names[HS_NR_HISTS] = {
	[HS_HIST_PASS] = "pass_ns",
	[HS_HIST_REACT] = "react_ns",
	[HS_HIST_FILL_LOCK] = "fill_lock_ns",
	[HS_HIST_DRAIN_LOCK] = "drain_lock_ns",
	[HS_HIST_PASS_MAX_LOCK] = "pass_max_lock_ns",
};

static const char * const hist_titles[HS_NR_HISTS] = {
	[HS_HIST_PASS] = "pass duration",
	[HS_HIST_REACT] = "react (device call)",
	[HS_HIST_FILL_LOCK] = "fill lock hold",
	[HS_HIST_DRAIN_LOCK] = "drain lock hold",
	[HS_HIST_PASS_MAX_LOCK] = "longest hold in pass",
};

/* Prometheus metric names, base unit seconds. */
static const char * const hist_prom[HS_NR_HISTS] = {
	[HS_HIST_PASS] = "pagehint_pass_duration_seconds",
	[HS_HIST_REACT] = "pagehint_react_duration_seconds",
	[HS_HIST_FILL_LOCK] = "pagehint_fill_lock_hold_seconds",
	[HS_HIST_DRAIN_LOCK] = "pagehint_drain_lock_hold_seconds",
	[HS_HIST_PASS_MAX_LOCK] = "pagehint_pass_max_lock_hold_seconds",
};

static const char * const hist_help[HS_NR_HISTS] = {
	[HS_HIST_PASS] = "Duration of a reporting pass (page_hinting_pass.duration_ns).",
	[HS_HIST_REACT] = "Time in the reporting device's report() call (page_hinting_react.duration_ns).",
	[HS_HIST_FILL_LOCK] = "Zone lock hold time filling a batch (page_hinting_fill.lock_ns).",
	[HS_HIST_DRAIN_LOCK] = "Zone lock hold time draining a batch (page_hinting_drain.lock_ns).",
	[HS_HIST_PASS_MAX_LOCK] = "Longest zone lock critical section of a pass, interrupts off (page_hinting_pass.max_lock_ns).",
};

static const char * const event_names[HS_NR_EVENT_TYPES] = {
	[HS_EV_REQUEST] = "request",
	[HS_EV_FILL] = "fill",
	[HS_EV_REACT] = "react",
	[HS_EV_DRAIN] = "drain",
	[HS_EV_CYCLE] = "cycle",
	[HS_EV_PASS] = "pass",
	[HS_EV_REUSE] = "reuse",
};

static const char * const reuse_whys[HS_NR_REUSE_WHY] = {
	[HS_REUSE_ALLOC] = "alloc",
	[HS_REUSE_MERGE] = "merge",
	[HS_REUSE_ISOLATE] = "isolate",
	[HS_REUSE_OFFLINE] = "offline",
};

static const char *reuse_why(unsigned int why)
{
	return why < HS_NR_REUSE_WHY ? reuse_whys[why] : "?";
}

const char *hs_hist_name(int id)
{
	return id >= 0 && id < HS_NR_HISTS ? hist_names[id] : "?";
}

const char *hs_hist_title(int id)
{
	return id >= 0 && id < HS_NR_HISTS ? hist_titles[id] : "?";
}

const char *hs_event_name(int type)
{
	return type >= 0 && type < HS_NR_EVENT_TYPES ? event_names[type] : "?";
}

/* The slot the aggregator (aggregate.h, BPF and user space) uses. */
unsigned int hs_slot(unsigned long long v)
{
	return hs_slot_of(v);
}

const char *hs_mode_name(unsigned int mode, bool brief)
{
	static const char * const names[HS_NR_MODES][2] = {
		[HS_MODE_TRACEPOINTS] = { "tracepoints", "tracepoints" },
		[HS_MODE_FENTRY] = { "fallback (fentry)", "fentry" },
		[HS_MODE_KPROBE] = { "fallback (kprobe)", "kprobe" },
		[HS_MODE_HOST] = { "host", "host" },
		[HS_MODE_WORKQUEUE] = {
			"tracepoint-only (workqueue, kpageflags)", "workqueue" },
	};

	return mode < HS_NR_MODES ? names[mode][brief] : "?";
}

bool hs_hist_avail(unsigned int mode, int id)
{
	if (mode == HS_MODE_WORKQUEUE)
		return id == HS_HIST_PASS;
	return mode == HS_MODE_TRACEPOINTS || id == HS_HIST_PASS ||
	       id == HS_HIST_REACT;
}

/*
 * jiffies and refined-jiffies tick at HZ (4 ms with HZ=250): every
 * duration below that reads 0. A guest falls back to them when its TSC
 * cannot be calibrated.
 */
bool hs_clocksource_coarse(const char *name)
{
	return !strcmp(name, "jiffies") || !strcmp(name, "refined-jiffies");
}

void hs_read_clocksource(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static bool clock_coarse(const struct hs_snapshot *s)
{
	return hs_clocksource_coarse(s->clocksource);
}

void hs_snapshot_from_state(struct hs_snapshot *s, const struct hs_state *st)
{
	memcpy(&s->totals, &st->totals, sizeof(s->totals));
	memcpy(s->hists, st->hists, sizeof(s->hists));
	memcpy(s->zone_hists, st->zone_hists, sizeof(s->zone_hists));
	memcpy(s->zo, st->zo, sizeof(s->zo));
}

void hs_slot_range(unsigned int slot, unsigned long long *min,
		   unsigned long long *max)
{
	if (slot == 0) {
		*min = 0;
		*max = 0;
		return;
	}
	*min = 1ULL << (slot - 1);
	*max = slot >= HS_MAX_SLOTS - 1 ? ULLONG_MAX : (1ULL << slot) - 1;
}

/*
 * Nearest-rank percentile p (0 < p <= 100), reported as the upper bound
 * of the log2 bucket that holds it (the lower bound for the open top
 * bucket): the true value is at most that and more than half of it.
 */
bool hs_percentile(const struct hs_hist *h, double p, unsigned long long *val)
{
	unsigned long long total = 0, rank, cum = 0, min, max;
	unsigned int i;
	double r;

	for (i = 0; i < HS_MAX_SLOTS; i++)
		total += h->slots[i];
	if (!total || p <= 0 || p > 100)
		return false;
	r = p * total / 100.0;
	rank = (unsigned long long)r;
	if (rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	for (i = 0; i < HS_MAX_SLOTS; i++) {
		cum += h->slots[i];
		if (cum >= rank)
			break;
	}
	hs_slot_range(i, &min, &max);
	*val = max == ULLONG_MAX ? min : max;
	return true;
}

void hs_snapshot_diff(struct hs_snapshot *out, const struct hs_snapshot *cur,
		      const struct hs_snapshot *prev)
{
	const size_t word = sizeof(unsigned long long);
	const unsigned long long *c, *p;
	unsigned long long *o;
	size_t i, n;

	/* Every counter block is an array of unsigned long long. */
#define DIFF(field) do {						\
		n = sizeof(out->field) / word;			\
		c = (const unsigned long long *)&cur->field;		\
		p = (const unsigned long long *)&prev->field;		\
		o = (unsigned long long *)&out->field;			\
		for (i = 0; i < n; i++)					\
			o[i] = c[i] - p[i];				\
	} while (0)
	DIFF(totals);
	DIFF(hists);
	DIFF(zo);
	DIFF(events);
	DIFF(zone_hists);
#undef DIFF
	memcpy(out->zone_names, cur->zone_names, sizeof(out->zone_names));
	out->mode = cur->mode;
	memcpy(out->clocksource, cur->clocksource, sizeof(out->clocksource));
	/* A gauge: its value now, and how it moved. */
	out->now = cur->now;
	out->now.change = cur->now.valid && prev->now.valid ?
		(long long)(cur->now.total - prev->now.total) : 0;
}

const char *hs_zone_name(const struct hs_snapshot *s, int zone, char *buf,
			 size_t len)
{
	if (zone >= 0 && zone < HS_MAX_ZONES && s->zone_names[zone][0]) {
		snprintf(buf, len, "%.*s", HS_ZONE_NAME_LEN,
			 s->zone_names[zone]);
		return buf;
	}
	snprintf(buf, len, "zone%d", zone);
	return buf;
}

void hs_fmt_ns(char *buf, size_t len, unsigned long long ns)
{
	static const char * const units[] = { "us", "ms", "s" };
	double v = ns;
	int u = -1;

	if (ns < 1000) {
		snprintf(buf, len, "%lluns", ns);
		return;
	}
	/* Compare with the rounded values: 999999ns is 1.00ms, not 1000us. */
	while (v >= 999.5 && u < 2) {
		v /= 1000;
		u++;
	}
	if (v < 9.995)
		snprintf(buf, len, "%.2f%s", v, units[u]);
	else if (v < 99.95)
		snprintf(buf, len, "%.1f%s", v, units[u]);
	else
		snprintf(buf, len, "%.0f%s", v, units[u]);
}

static bool zo_active(const struct hs_zo_stats *z)
{
	return z->bytes || z->failed_bytes || z->entries || z->batches;
}

/* Fallback mode: no zone or order, the passes' sums in one row. */
static void print_fallback_rows(FILE *f, const struct hs_totals *t,
				double secs)
{
	fprintf(f, "%-8s %5s %11.3f %8.1f %8s %8llu %11.3f\n", "-", "-",
		t->pass_bytes / MIB, t->pass_bytes / MIB / secs, "-",
		t->pass_batches, t->pass_failed_bytes / MIB);
}

/* Workqueue mode: what is reported now, by zone and order, and its change. */
static void print_reported_now(FILE *f, const struct hs_snapshot *iv,
			       double secs)
{
	const struct hs_reported_now *n = &iv->now;
	char name[32], scan[16];
	int z, o;

	if (!n->valid) {
		fprintf(f, "reported now: - (/proc/kpageflags unreadable)\n");
		return;
	}
	fprintf(f, "%-8s %5s %13s\n", "ZONE", "ORDER", "REPORTED-MiB");
	for (z = 0; z < HS_MAX_ZONES; z++) {
		for (o = 0; o < HS_MAX_ORDERS; o++) {
			if (!n->bytes[z * HS_MAX_ORDERS + o])
				continue;
			fprintf(f, "%-8s %5d %13.3f\n",
				hs_zone_name(iv, z, name, sizeof(name)), o,
				n->bytes[z * HS_MAX_ORDERS + o] / MIB);
		}
	}
	hs_fmt_ns(scan, sizeof(scan), n->scan_ns);
	fprintf(f, "%-8s %5s %13.3f  change %+.1f MiB/s  (scan %s, %llu reads, orders %s)\n",
		"TOTAL", "", n->total / MIB, n->change / MIB / secs, scan,
		n->reads, n->exact ? "read" : "sampled");
}

/* The rows of hinted bytes by zone and order; their count. */
static int print_hinted_rows(FILE *f, const struct hs_snapshot *iv,
			     double secs)
{
	unsigned long long bytes = 0, failed = 0, entries = 0, batches = 0;
	char name[32];
	int z, o, rows = 0;

	/*
	 * Every mode but workqueue knows zone and order: the fallback's
	 * from the first page of each batch (hintstat.h, struct hs_fb_span).
	 */
	for (z = 0; z < HS_MAX_ZONES; z++) {
		for (o = 0; o < HS_MAX_ORDERS; o++) {
			const struct hs_zo_stats *s = &iv->zo[z * HS_MAX_ORDERS + o];

			if (!zo_active(s))
				continue;
			if (!rows++)
				fprintf(f, "%-8s %5s %11s %8s %8s %8s %11s\n",
					"ZONE", "ORDER", "HINTED-MiB", "MiB/s",
					"ENTRIES", "BATCHES", "FAILED-MiB");
			fprintf(f, "%-8s %5d %11.3f %8.1f %8llu %8llu %11.3f\n",
				hs_zone_name(iv, z, name, sizeof(name)), o,
				s->bytes / MIB, s->bytes / MIB / secs,
				s->entries, s->batches, s->failed_bytes / MIB);
			bytes += s->bytes;
			failed += s->failed_bytes;
			entries += s->entries;
			batches += s->batches;
		}
	}
	if (rows)
		fprintf(f, "%-8s %5s %11.3f %8.1f %8llu %8llu %11.3f\n",
			"TOTAL", "", bytes / MIB, bytes / MIB / secs, entries,
			batches, failed / MIB);
	return rows;
}

/* A duration for the table; '*' marks one from a coarse clock. */
static void fmt_dur(char *buf, size_t len, const struct hs_snapshot *s,
		    unsigned long long ns)
{
	size_t n;

	hs_fmt_ns(buf, len, ns);
	n = strlen(buf);
	if (clock_coarse(s) && n + 1 < len) {
		buf[n] = '*';
		buf[n + 1] = '\0';
	}
}

static void print_latency_rows(FILE *f, const struct hs_snapshot *iv)
{
	char p50[16], p99[16], count[24];
	unsigned long long v;
	int i;

	fprintf(f, "%-20s %8s %9s %9s\n", "LATENCY", "COUNT", "p50", "p99");
	for (i = 0; i < HS_NR_HISTS; i++) {
		const struct hs_hist *h = &iv->hists[i];
		bool avail = hs_hist_avail(iv->mode, i);

		if (avail && hs_percentile(h, 50, &v))
			fmt_dur(p50, sizeof(p50), iv, v);
		else
			snprintf(p50, sizeof(p50), "-");
		if (avail && hs_percentile(h, 99, &v))
			fmt_dur(p99, sizeof(p99), iv, v);
		else
			snprintf(p99, sizeof(p99), "-");
		if (avail)
			snprintf(count, sizeof(count), "%llu", h->count);
		else
			snprintf(count, sizeof(count), "-");
		fprintf(f, "%-20s %8s %9s %9s\n", hist_titles[i], count,
			p50, p99);
	}
	if (clock_coarse(iv))
		fprintf(f, "* unreliable: clocksource %s counts in ticks (4 ms at HZ=250), shorter durations read 0\n",
			iv->clocksource);
}

/*
 * Reported memory taken back: "alloc A/B" is A allocated (the host
 * refaults it when touched) of B in the reported blocks allocations
 * took or split; then the blocks that left the reported state for the
 * other reasons. The rest of a split block is free and unreported.
 */
static void print_reuse_row(FILE *f, const struct hs_totals *t)
{
	fprintf(f, "reused-MiB alloc %.3f/%.3f  merge %.3f  isolate %.3f  offline %.3f\n",
		t->reuse_allocated_bytes / MIB, t->reuse_alloc_bytes / MIB,
		t->reuse_merge_bytes / MIB, t->reuse_isolate_bytes / MIB,
		t->reuse_offline_bytes / MIB);
}

void hs_print_table(FILE *f, const struct hs_snapshot *iv,
		    const struct hs_interval_info *info)
{
	const struct hs_totals *t = &iv->totals;
	double secs = info->secs > 0 ? info->secs : 1;
	bool tp = iv->mode == HS_MODE_TRACEPOINTS;
	bool wq = iv->mode == HS_MODE_WORKQUEUE;

	if (info->clock)
		fprintf(f, "%s  ", info->clock);
	fprintf(f, "interval %.2f s", info->secs);
	if (!tp)
		fprintf(f, "  mode %s", hs_mode_name(iv->mode, false));
	fprintf(f, "\n");
	if (wq) {
		print_reported_now(f, iv, secs);
	} else if (!print_hinted_rows(f, iv, secs)) {
		/* A fallback that could not place its batches: their sums only. */
		if (!tp && (t->passes || t->pass_batches)) {
			fprintf(f, "%-8s %5s %11s %8s %8s %8s %11s\n", "ZONE",
				"ORDER", "HINTED-MiB", "MiB/s", "ENTRIES",
				"BATCHES", "FAILED-MiB");
			print_fallback_rows(f, t, secs);
		} else {
			fprintf(f, "no batch reported\n");
		}
	}
	if (wq)
		fprintf(f, "passes %llu (requeued -, err -)  pass-MiB -  requests -",
			t->passes);
	else if (tp)
		fprintf(f, "passes %llu (requeued %llu, err %llu)  pass-MiB %.3f  requests %llu",
			t->passes, t->passes_requeued, t->passes_err,
			t->pass_bytes / MIB, t->requests);
	else
		fprintf(f, "passes %llu (requeued %llu, err -)  pass-MiB %.3f  requests -",
			t->passes, t->passes_requeued, t->pass_bytes / MIB);
	if (info->events)
		fprintf(f, "  dropped %llu", t->dropped_events);
	fprintf(f, "\n");
	if (tp)
		print_reuse_row(f, t);
	print_latency_rows(f, iv);
}

void hs_print_log2_hist(FILE *f, const struct hs_hist *h, const char *title)
{
	unsigned long long maxcount = 0, min, max;
	int first = -1, last = -1, i, j, width, bar, stars;
	char hi[24];

	for (i = 0; i < HS_MAX_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (h->slots[i] > maxcount)
			maxcount = h->slots[i];
	}
	fprintf(f, "%s (ns): count %llu\n", title, h->count);
	if (first < 0)
		return;
	hs_slot_range(last, &min, &max);
	width = snprintf(hi, sizeof(hi), "%llu", min);
	if (max != ULLONG_MAX)
		width = snprintf(hi, sizeof(hi), "%llu", max);
	if (width < 5)
		width = 5;
	/* Stay under 80 columns: value range, count, bar. */
	bar = 79 - (2 * width + 4 + 3 + 8 + 3);
	if (bar > 40)
		bar = 40;
	fprintf(f, "%*s%-*s : count    distribution\n", width, "ns",
		width + 4, "");
	for (i = first; i <= last; i++) {
		hs_slot_range(i, &min, &max);
		if (max == ULLONG_MAX)
			snprintf(hi, sizeof(hi), "...");
		else
			snprintf(hi, sizeof(hi), "%llu", max);
		stars = maxcount ? (int)(h->slots[i] * bar / maxcount) : 0;
		fprintf(f, "%*llu -> %-*s : %-8llu |", width, min, width, hi,
			h->slots[i]);
		for (j = 0; j < bar; j++)
			fputc(j < stars ? '*' : ' ', f);
		fprintf(f, "|\n");
	}
}

void hs_print_hists(FILE *f, const struct hs_snapshot *iv, bool per_zone)
{
	char title[128], name[32], coarse[64] = "";
	int i, z;

	if (clock_coarse(iv))
		snprintf(coarse, sizeof(coarse), " [unreliable: clocksource %s]",
			 iv->clocksource);
	for (i = 0; i < HS_NR_HISTS; i++) {
		if (!hs_hist_avail(iv->mode, i)) {
			fprintf(f, "\n%s (ns): - (not measured in mode %s)\n",
				hist_titles[i], hs_mode_name(iv->mode, false));
			continue;
		}
		/* The fallback knows a react's zone; nothing a pass's. */
		if (!per_zone || i == HS_HIST_PASS ||
		    i == HS_HIST_PASS_MAX_LOCK ||
		    (iv->mode != HS_MODE_TRACEPOINTS && i != HS_HIST_REACT)) {
			snprintf(title, sizeof(title), "%s%s", hist_titles[i],
				 coarse);
			fprintf(f, "\n");
			hs_print_log2_hist(f, &iv->hists[i], title);
			continue;
		}
		for (z = 0; z < HS_MAX_ZONES; z++) {
			if (!iv->zone_hists[z][i].count && !iv->zone_names[z][0])
				continue;
			snprintf(title, sizeof(title), "%s, zone %s%s",
				 hist_titles[i],
				 hs_zone_name(iv, z, name, sizeof(name)), coarse);
			fprintf(f, "\n");
			hs_print_log2_hist(f, &iv->zone_hists[z][i], title);
		}
	}
}

void hs_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* bpftrace's histogram shape, from the first to the last non-empty slot. */
void hs_json_hist(FILE *f, const struct hs_hist *h)
{
	unsigned long long min, max;
	int first = -1, last = -1, i;

	for (i = 0; i < HS_MAX_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
	}
	fputc('[', f);
	for (i = first; first >= 0 && i <= last; i++) {
		hs_slot_range(i, &min, &max);
		fprintf(f, "%s{\"min\":%llu,\"max\":%llu,\"count\":%llu}",
			i > first ? "," : "", min, max, h->slots[i]);
	}
	fputc(']', f);
}

/* The modes that measure a counter (the rest print "-" or null). */
#define AV_TP	(1U << HS_MODE_TRACEPOINTS)
#define AV_FB	((1U << HS_MODE_FENTRY) | (1U << HS_MODE_KPROBE))
#define AV_WQ	(1U << HS_MODE_WORKQUEUE)
#define AV_ALL	(AV_TP | AV_FB | AV_WQ)

static bool avail_in(unsigned int modes, unsigned int mode)
{
	return mode < 32 && (modes & (1U << mode));
}

#define TOT(name, field, modes) \
	{ name, offsetof(struct hs_totals, field), modes }

/* JSON counters in print order, with the modes that measure them. */
static const struct {
	const char *name;
	size_t off;
	unsigned int modes;
} json_totals[] = {
	TOT("passes", passes, AV_ALL),
	TOT("batches", pass_batches, AV_TP | AV_FB),
	TOT("bytes", pass_bytes, AV_TP | AV_FB),
	TOT("failed_bytes", pass_failed_bytes, AV_TP | AV_FB),
	TOT("passes_requeued", passes_requeued, AV_TP | AV_FB),
	TOT("passes_err", passes_err, AV_TP),
	TOT("requests", requests, AV_TP),
	TOT("requests_queued", requests_queued, AV_TP),
	TOT("cycles", cycles, AV_TP),
	TOT("cycles_budget_exhausted", cycles_budget_exhausted, AV_TP),
	TOT("fills", fills, AV_TP),
	TOT("reacts", reacts, AV_TP | AV_FB),
	TOT("react_errors", react_errors, AV_TP | AV_FB),
	TOT("drains", drains, AV_TP),
	TOT("drain_reported", drain_reported, AV_TP),
	TOT("drain_merged", drain_merged, AV_TP),
	TOT("reuses", reuses, AV_TP),
	TOT("reuse_allocated_bytes", reuse_allocated_bytes, AV_TP),
	TOT("reuse_alloc_bytes", reuse_alloc_bytes, AV_TP),
	TOT("reuse_merge_bytes", reuse_merge_bytes, AV_TP),
	TOT("reuse_isolate_bytes", reuse_isolate_bytes, AV_TP),
	TOT("reuse_offline_bytes", reuse_offline_bytes, AV_TP),
	TOT("unattributed", unattributed, AV_TP | AV_FB),
	TOT("out_of_range", out_of_range, AV_TP),
	TOT("dropped_events", dropped_events, AV_ALL),
};

static void json_counters(FILE *f, const struct hs_snapshot *s, bool events)
{
	char name[32];
	size_t k;
	int z, o, i, n = 0;

	for (k = 0; k < sizeof(json_totals) / sizeof(json_totals[0]); k++) {
		fprintf(f, "\"%s\":", json_totals[k].name);
		if (!avail_in(json_totals[k].modes, s->mode))
			fprintf(f, "null,");
		else
			fprintf(f, "%llu,", *(const unsigned long long *)
				((const char *)&s->totals + json_totals[k].off));
	}
	if (events) {
		fprintf(f, "\"events\":{");
		for (i = 0; i < HS_NR_EVENT_TYPES; i++)
			fprintf(f, "%s\"%s\":%llu", i ? "," : "",
				event_names[i], s->events[i]);
		fprintf(f, "},");
	}
	fprintf(f, "\"zones\":[");
	for (z = 0; z < HS_MAX_ZONES; z++) {
		for (o = 0; o < HS_MAX_ORDERS; o++) {
			const struct hs_zo_stats *zs = &s->zo[z * HS_MAX_ORDERS + o];

			if (!zo_active(zs))
				continue;
			fprintf(f, "%s{\"zone\":", n++ ? "," : "");
			hs_json_str(f, hs_zone_name(s, z, name, sizeof(name)));
			fprintf(f, ",\"zone_idx\":%d,\"order\":%d,\"bytes\":%llu,"
				"\"failed_bytes\":%llu,\"entries\":%llu,"
				"\"batches\":%llu}", z, o, zs->bytes,
				zs->failed_bytes, zs->entries, zs->batches);
		}
	}
	fprintf(f, "]");
}

/* Workqueue mode's gauge; null in the modes that do not scan. */
static void json_reported_now(FILE *f, const struct hs_snapshot *s)
{
	const struct hs_reported_now *n = &s->now;
	char name[32];
	int z, o, k = 0;

	fprintf(f, "\"reported_now\":");
	if (s->mode != HS_MODE_WORKQUEUE || !n->valid) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{\"bytes\":%llu,\"change_bytes\":%lld,\"scan_ns\":%llu,\"reads\":%llu,\"exact_orders\":%s,\"sampled_excess_bytes\":",
		n->total, n->change, n->scan_ns, n->reads,
		n->exact ? "true" : "false");
	if (n->exact)
		fprintf(f, "%llu", n->sampled_excess);
	else
		fprintf(f, "null");
	fprintf(f, ",\"zones\":[");
	for (z = 0; z < HS_MAX_ZONES; z++) {
		for (o = 0; o < HS_MAX_ORDERS; o++) {
			if (!n->bytes[z * HS_MAX_ORDERS + o])
				continue;
			fprintf(f, "%s{\"zone\":", k++ ? "," : "");
			hs_json_str(f, hs_zone_name(s, z, name, sizeof(name)));
			fprintf(f, ",\"zone_idx\":%d,\"order\":%d,\"bytes\":%llu}",
				z, o, n->bytes[z * HS_MAX_ORDERS + o]);
		}
	}
	fprintf(f, "]}");
}

/* The clock the durations come from; source null when not known. */
static void json_clock(FILE *f, const struct hs_snapshot *s)
{
	fprintf(f, "\"clock\":{\"source\":");
	if (s->clocksource[0])
		hs_json_str(f, s->clocksource);
	else
		fprintf(f, "null");
	fprintf(f, ",\"reliable\":%s},",
		!s->clocksource[0] ? "null" : clock_coarse(s) ? "false" : "true");
}

void hs_print_json(FILE *f, const struct hs_snapshot *iv,
		   const struct hs_snapshot *total,
		   const struct hs_interval_info *info)
{
	unsigned long long v;
	int i, p;

	fprintf(f, "{\"version\":%d,\"mode\":\"%s\",", HS_JSON_VERSION,
		hs_mode_name(iv->mode, true));
	if (info->clock) {
		fprintf(f, "\"time\":");
		hs_json_str(f, info->clock);
		fputc(',', f);
	}
	fprintf(f, "\"ts\":%.6f,\"interval_s\":%.6f,", info->ts, info->secs);
	json_counters(f, iv, info->events);
	fprintf(f, ",\"hist\":{");
	for (i = 0; i < HS_NR_HISTS; i++) {
		fprintf(f, "%s\"%s\":", i ? "," : "", hist_names[i]);
		if (hs_hist_avail(iv->mode, i))
			hs_json_hist(f, &iv->hists[i]);
		else
			fprintf(f, "null");
	}
	fprintf(f, "},\"hist_sum\":{");
	for (i = 0; i < HS_NR_HISTS; i++) {
		fprintf(f, "%s\"%s\":", i ? "," : "", hist_names[i]);
		if (hs_hist_avail(iv->mode, i))
			fprintf(f, "%llu", iv->hists[i].sum);
		else
			fprintf(f, "null");
	}
	fprintf(f, "},\"percentiles\":{");
	for (i = 0; i < HS_NR_HISTS; i++) {
		fprintf(f, "%s\"%s\":{", i ? "," : "", hist_names[i]);
		for (p = 0; p < 2; p++) {
			fprintf(f, "%s\"%s\":", p ? "," : "", p ? "p99" : "p50");
			if (hs_hist_avail(iv->mode, i) &&
			    hs_percentile(&iv->hists[i], p ? 99 : 50, &v))
				fprintf(f, "%llu", v);
			else
				fprintf(f, "null");
		}
		fputc('}', f);
	}
	fprintf(f, "},\"total\":{");
	json_counters(f, total, info->events);
	/*
	 * Objects after the flat counters: shell consumers take a counter
	 * with sed up to the first brace (guest/scenarios).
	 */
	fprintf(f, "},");
	json_clock(f, iv);
	json_reported_now(f, iv);
	if (info->extra)
		fprintf(f, ",%s", info->extra);
	fprintf(f, "}\n");
}

/* ns as exact decimal seconds: 1 -> 0.000000001, 1500000000 -> 1.5 */
static void prom_seconds(FILE *f, unsigned long long ns)
{
	char frac[16];
	int n;

	n = snprintf(frac, sizeof(frac), "%09llu", ns % 1000000000ULL);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	if (n)
		fprintf(f, "%llu.%s", ns / 1000000000ULL, frac);
	else
		fprintf(f, "%llu", ns / 1000000000ULL);
}

void hs_prom_head(FILE *f, const char *name, const char *type,
		      const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_zo(FILE *f, const struct hs_snapshot *s, const char *name,
		    const char *help, size_t off)
{
	char zname[32];
	int z, o;

	hs_prom_head(f, name, "counter", help);
	for (z = 0; z < HS_MAX_ZONES; z++) {
		for (o = 0; o < HS_MAX_ORDERS; o++) {
			const struct hs_zo_stats *zs = &s->zo[z * HS_MAX_ORDERS + o];

			if (!zo_active(zs))
				continue;
			fprintf(f, "%s{zone=\"%s\",order=\"%d\"} %llu\n", name,
				hs_zone_name(s, z, zname, sizeof(zname)), o,
				*(const unsigned long long *)((const char *)zs + off));
		}
	}
}

void hs_prom_counter(FILE *f, const char *name, const char *help,
			 unsigned long long v)
{
	hs_prom_head(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, v);
}

void hs_prom_hist_series(FILE *f, const char *name, const char *labels,
			 const struct hs_hist *h)
{
	unsigned long long cum = 0, min, max;
	const char *sep = labels[0] ? "," : "";
	int k;

	/* Every finite log2 bucket, so the set never changes. */
	for (k = 0; k < HS_MAX_SLOTS - 1; k++) {
		cum += h->slots[k];
		hs_slot_range(k, &min, &max);
		fprintf(f, "%s_bucket{%s%sle=\"", name, labels, sep);
		prom_seconds(f, max);
		fprintf(f, "\"} %llu\n", cum);
	}
	cum += h->slots[HS_MAX_SLOTS - 1];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, cum);
	fprintf(f, labels[0] ? "%s_sum{%s} " : "%s_sum%s ", name, labels);
	prom_seconds(f, h->sum);
	fprintf(f, labels[0] ? "\n%s_count{%s} %llu\n" : "\n%s_count%s %llu\n",
		name, labels, h->count);
}

void hs_prom_hist(FILE *f, const char *name, const char *help,
		  const struct hs_hist *h)
{
	hs_prom_head(f, name, "histogram", help);
	hs_prom_hist_series(f, name, "", h);
}

/* What produced the figures: hintstat's version, its mode, the kernel. */
void hs_prom_info(FILE *f, const char *mode, const char *release)
{
	const char *p;

	hs_prom_head(f, "pagehint_info", "gauge",
		     "hintstat's version, the mode it measures in and the kernel's release.");
	fprintf(f, "pagehint_info{version=\"%s\",mode=\"%s\",kernel=\"",
		HS_VERSION, mode);
	/* A release string is free text (a record's): escape it. */
	for (p = release; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\"} 1\n");
}

/* The clock durations come from, when known: coarse ones are unreliable. */
static void prom_clock(FILE *f, const struct hs_snapshot *s)
{
	if (!s->clocksource[0])
		return;
	hs_prom_head(f, "pagehint_clock_info", "gauge",
		     "The clocksource durations are measured with; reliable=\"false\" for a jiffies clock (4 ms ticks).");
	fprintf(f, "pagehint_clock_info{clocksource=\"%s\",reliable=\"%s\"} 1\n",
		s->clocksource, clock_coarse(s) ? "false" : "true");
}

/* Workqueue mode: passes and their durations, what is reported now. */
static void prom_workqueue(FILE *f, const struct hs_snapshot *s)
{
	const struct hs_reported_now *n = &s->now;
	char zname[32];
	int z, o;

	hs_prom_counter(f, "pagehint_passes_total",
			"Reporting passes that ended (page_reporting_process work items).",
			s->totals.passes);
	hs_prom_counter(f, "pagehint_dropped_events_total",
			"Events hintstat's ring buffer had no room for.",
			s->totals.dropped_events);
	hs_prom_hist(f, hist_prom[HS_HIST_PASS], hist_help[HS_HIST_PASS],
		     &s->hists[HS_HIST_PASS]);
	if (!n->valid)
		return;
	hs_prom_head(f, "pagehint_reported_bytes", "gauge",
		     "Free memory reported to the host now, by zone and block order (/proc/kpageflags).");
	for (z = 0; z < HS_MAX_ZONES; z++)
		for (o = 0; o < HS_MAX_ORDERS; o++)
			if (n->bytes[z * HS_MAX_ORDERS + o])
				fprintf(f, "pagehint_reported_bytes{zone=\"%s\",order=\"%d\"} %llu\n",
					hs_zone_name(s, z, zname, sizeof(zname)),
					o, n->bytes[z * HS_MAX_ORDERS + o]);
	hs_prom_head(f, "pagehint_kpageflags_scan_seconds", "gauge",
		     "What the last /proc/kpageflags scan took.");
	fprintf(f, "pagehint_kpageflags_scan_seconds ");
	prom_seconds(f, n->scan_ns);
	fprintf(f, "\n");
}

/* page_hinting_reuse: a series by why, and what allocations took. */
static void prom_reuse(FILE *f, const struct hs_totals *t)
{
	const unsigned long long by_why[HS_NR_REUSE_WHY] = {
		t->reuse_alloc_bytes, t->reuse_merge_bytes,
		t->reuse_isolate_bytes, t->reuse_offline_bytes,
	};
	int i;

	hs_prom_head(f, "pagehint_reuse_bytes_total", "counter",
		     "Bytes of reported blocks that left their free list, by why (page_hinting_reuse).");
	for (i = 0; i < HS_NR_REUSE_WHY; i++)
		fprintf(f, "pagehint_reuse_bytes_total{why=\"%s\"} %llu\n",
			reuse_whys[i], by_why[i]);
	hs_prom_counter(f, "pagehint_reuse_allocated_bytes_total",
		     "Bytes of reported memory handed out by allocations: the host refaults them when touched.",
		     t->reuse_allocated_bytes);
}

void hs_print_prom(FILE *f, const struct hs_snapshot *s)
{
	const struct hs_totals *t = &s->totals;
	bool tp = s->mode == HS_MODE_TRACEPOINTS;
	int i;

	hs_prom_info(f, hs_mode_name(s->mode, true), s->release);
	prom_clock(f, s);
	if (s->mode == HS_MODE_WORKQUEUE) {
		prom_workqueue(f, s);
		return;
	}
	prom_zo(f, s, "pagehint_hinted_bytes_total",
		"Bytes reported to the device without error, by zone and order of the free list a batch was completed on.",
		offsetof(struct hs_zo_stats, bytes));
	prom_zo(f, s, "pagehint_failed_bytes_total",
		"Bytes whose report failed, by zone and order.",
		offsetof(struct hs_zo_stats, failed_bytes));
	prom_zo(f, s, "pagehint_hinted_entries_total",
		"Scatterlist entries handed to the device, by zone and order.",
		offsetof(struct hs_zo_stats, entries));
	prom_zo(f, s, "pagehint_batches_total",
		"Batches handed to the device, by zone and order.",
		offsetof(struct hs_zo_stats, batches));
	hs_prom_counter(f, "pagehint_passes_total",
		     "Reporting passes that ended (page_hinting_pass).",
		     t->passes);
	hs_prom_counter(f, "pagehint_passes_requeued_total",
		     "Passes after which another pass was queued.",
		     t->passes_requeued);
	hs_prom_counter(f, "pagehint_pass_bytes_total",
		     "Bytes reported without error, as summed by the passes.",
		     t->pass_bytes);
	hs_prom_counter(f, "pagehint_pass_failed_bytes_total",
		     "Bytes whose report failed, as summed by the passes.",
		     t->pass_failed_bytes);
	/* What the mode cannot measure is left out (absent, not zero). */
	if (tp) {
		hs_prom_counter(f, "pagehint_requests_total",
			     "Reporting requests made by frees (page_hinting_request).",
			     t->requests);
		prom_reuse(f, t);
	}
	hs_prom_counter(f, "pagehint_dropped_events_total",
		     "Events hintstat's ring buffer had no room for.",
		     t->dropped_events);
	for (i = 0; i < HS_NR_HISTS; i++)
		if (hs_hist_avail(s->mode, i))
			hs_prom_hist(f, hist_prom[i], hist_help[i], &s->hists[i]);
}

static void print_prom_cb(FILE *f, const void *arg)
{
	hs_print_prom(f, arg);
}

int hs_write_prom_file(const char *path, const struct hs_snapshot *total)
{
	return hs_write_file_atomic(path, print_prom_cb, total);
}

int hs_write_file_atomic(const char *path, void (*print)(FILE *, const void *),
			 const void *arg)
{
	char tmp[PATH_MAX];
	FILE *f;
	int err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	print(f, arg);
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static const char *ev_zone(const struct hs_event *e,
			   const struct hs_snapshot *names, char *buf,
			   size_t len)
{
	if (e->zone == 0xffff)
		return "?";
	return hs_zone_name(names, e->zone, buf, len);
}

void hs_print_event(FILE *f, const struct hs_event *e,
		    const struct hs_snapshot *names)
{
	char zone[32];

	fprintf(f, "%.6f %s:", e->ts_ns / 1e9, hs_event_name(e->type));
	switch (e->type) {
	case HS_EV_REQUEST:
		fprintf(f, " old_state=%u queued=%u\n", e->a, e->flag);
		break;
	case HS_EV_FILL:
		fprintf(f, " zone=%s order=%u mt=%u entries=%u bytes=%llu lock_ns=%llu\n",
			ev_zone(e, names, zone, sizeof(zone)), e->order, e->mt,
			e->a, e->bytes, e->ns);
		break;
	case HS_EV_REACT:
		/* The fallback's react says where its batch was completed. */
		if (e->flag & HS_REACT_ZO)
			fprintf(f, " zone=%s order=%u",
				ev_zone(e, names, zone, sizeof(zone)), e->order);
		fprintf(f, " entries=%u bytes=%llu duration_ns=%llu err=%d\n",
			e->a, e->bytes, e->ns, e->err);
		break;
	case HS_EV_DRAIN:
		fprintf(f, " entries=%u reported=%u merged=%u err=%d lock_ns=%llu\n",
			e->a, e->b, e->c, e->err, e->ns);
		break;
	case HS_EV_CYCLE:
		fprintf(f, " zone=%s order=%u mt=%u isolated=%u batches=%u budget_exhausted=%u duration_ns=%llu err=%d\n",
			ev_zone(e, names, zone, sizeof(zone)), e->order, e->mt,
			e->a, e->b, e->flag, e->ns, e->err);
		break;
	case HS_EV_PASS:
		fprintf(f, " batches=%u bytes=%llu failed_bytes=%llu duration_ns=%llu requeued=%u err=%d max_lock_ns=%u\n",
			e->a, e->bytes, e->c64, e->ns, e->flag, e->err, e->b);
		break;
	case HS_EV_REUSE:
		fprintf(f, " zone=%s order=%u bytes=%llu allocated_bytes=%llu why=%s\n",
			ev_zone(e, names, zone, sizeof(zone)), e->order,
			e->bytes, e->c64, reuse_why(e->a));
		break;
	default:
		fprintf(f, " type=%u\n", e->type);
	}
}

void hs_print_event_json(FILE *f, const struct hs_event *e,
			 const struct hs_snapshot *names)
{
	char zone[32];

	fprintf(f, "{\"version\":%d,\"event\":\"%s\",\"ts\":%.9f",
		HS_JSON_VERSION, hs_event_name(e->type), e->ts_ns / 1e9);
	switch (e->type) {
	case HS_EV_REQUEST:
		fprintf(f, ",\"old_state\":%u,\"queued\":%u", e->a, e->flag);
		break;
	case HS_EV_FILL:
		fprintf(f, ",\"zone\":");
		hs_json_str(f, ev_zone(e, names, zone, sizeof(zone)));
		fprintf(f, ",\"order\":%u,\"mt\":%u,\"entries\":%u,\"bytes\":%llu,\"lock_ns\":%llu",
			e->order, e->mt, e->a, e->bytes, e->ns);
		break;
	case HS_EV_REACT:
		if (e->flag & HS_REACT_ZO) {
			fprintf(f, ",\"zone\":");
			hs_json_str(f, ev_zone(e, names, zone, sizeof(zone)));
			fprintf(f, ",\"order\":%u", e->order);
		}
		fprintf(f, ",\"entries\":%u,\"bytes\":%llu,\"duration_ns\":%llu,\"err\":%d",
			e->a, e->bytes, e->ns, e->err);
		break;
	case HS_EV_DRAIN:
		fprintf(f, ",\"entries\":%u,\"reported\":%u,\"merged\":%u,\"err\":%d,\"lock_ns\":%llu",
			e->a, e->b, e->c, e->err, e->ns);
		break;
	case HS_EV_CYCLE:
		fprintf(f, ",\"zone\":");
		hs_json_str(f, ev_zone(e, names, zone, sizeof(zone)));
		fprintf(f, ",\"order\":%u,\"mt\":%u,\"isolated\":%u,\"batches\":%u,\"budget_exhausted\":%u,\"duration_ns\":%llu,\"err\":%d",
			e->order, e->mt, e->a, e->b, e->flag, e->ns, e->err);
		break;
	case HS_EV_PASS:
		fprintf(f, ",\"batches\":%u,\"bytes\":%llu,\"failed_bytes\":%llu,\"duration_ns\":%llu,\"requeued\":%u,\"err\":%d,\"max_lock_ns\":%u",
			e->a, e->bytes, e->c64, e->ns, e->flag, e->err, e->b);
		break;
	case HS_EV_REUSE:
		fprintf(f, ",\"zone\":");
		hs_json_str(f, ev_zone(e, names, zone, sizeof(zone)));
		fprintf(f, ",\"order\":%u,\"bytes\":%llu,\"allocated_bytes\":%llu,\"why\":\"%s\"",
			e->order, e->bytes, e->c64, reuse_why(e->a));
		break;
	}
	fprintf(f, "}\n");
}
