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
};

static const char * const hist_titles[HS_NR_HISTS] = {
	[HS_HIST_PASS] = "pass duration",
	[HS_HIST_REACT] = "react (device call)",
	[HS_HIST_FILL_LOCK] = "fill lock hold",
	[HS_HIST_DRAIN_LOCK] = "drain lock hold",
};

/* Prometheus metric names, base unit seconds. */
static const char * const hist_prom[HS_NR_HISTS] = {
	[HS_HIST_PASS] = "pagehint_pass_duration_seconds",
	[HS_HIST_REACT] = "pagehint_react_duration_seconds",
	[HS_HIST_FILL_LOCK] = "pagehint_fill_lock_hold_seconds",
	[HS_HIST_DRAIN_LOCK] = "pagehint_drain_lock_hold_seconds",
};

static const char * const hist_help[HS_NR_HISTS] = {
	[HS_HIST_PASS] = "Duration of a reporting pass (page_hinting_pass.duration_ns).",
	[HS_HIST_REACT] = "Time in the reporting device's report() call (page_hinting_react.duration_ns).",
	[HS_HIST_FILL_LOCK] = "Zone lock hold time filling a batch (page_hinting_fill.lock_ns).",
	[HS_HIST_DRAIN_LOCK] = "Zone lock hold time draining a batch (page_hinting_drain.lock_ns).",
};

static const char * const event_names[HS_NR_EVENT_TYPES] = {
	[HS_EV_REQUEST] = "request",
	[HS_EV_FILL] = "fill",
	[HS_EV_REACT] = "react",
	[HS_EV_DRAIN] = "drain",
	[HS_EV_CYCLE] = "cycle",
	[HS_EV_PASS] = "pass",
};

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
	};

	return mode < HS_NR_MODES ? names[mode][brief] : "?";
}

bool hs_hist_avail(unsigned int mode, int id)
{
	return mode == HS_MODE_TRACEPOINTS || id == HS_HIST_PASS ||
	       id == HS_HIST_REACT;
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

void hs_print_table(FILE *f, const struct hs_snapshot *iv,
		    const struct hs_interval_info *info)
{
	const struct hs_totals *t = &iv->totals;
	unsigned long long bytes = 0, failed = 0, entries = 0, batches = 0;
	double secs = info->secs > 0 ? info->secs : 1;
	bool tp = iv->mode == HS_MODE_TRACEPOINTS;
	char name[32], p50[16], p99[16], count[24];
	unsigned long long v;
	int z, o, i, rows = 0;

	if (info->clock)
		fprintf(f, "%s  ", info->clock);
	fprintf(f, "interval %.2f s", info->secs);
	if (!tp)
		fprintf(f, "  mode %s", hs_mode_name(iv->mode, false));
	fprintf(f, "\n");
	/*
	 * Every mode knows zone and order: the fallback's from the first
	 * page of each batch (hintstat.h, struct hs_fb_span).
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
	/* A fallback that could not place its batches: their sums only. */
	if (!tp && !rows && (t->passes || t->pass_batches)) {
		fprintf(f, "%-8s %5s %11s %8s %8s %8s %11s\n", "ZONE", "ORDER",
			"HINTED-MiB", "MiB/s", "ENTRIES", "BATCHES",
			"FAILED-MiB");
		print_fallback_rows(f, t, secs);
	} else if (rows) {
		fprintf(f, "%-8s %5s %11.3f %8.1f %8llu %8llu %11.3f\n",
			"TOTAL", "", bytes / MIB, bytes / MIB / secs, entries,
			batches, failed / MIB);
	} else {
		fprintf(f, "no batch reported\n");
	}
	fprintf(f, "passes %llu (requeued %llu, err ", t->passes,
		t->passes_requeued);
	if (tp)
		fprintf(f, "%llu)  pass-MiB %.3f  requests %llu", t->passes_err,
			t->pass_bytes / MIB, t->requests);
	else
		fprintf(f, "-)  pass-MiB %.3f  requests -", t->pass_bytes / MIB);
	if (info->events)
		fprintf(f, "  dropped %llu", t->dropped_events);
	fprintf(f, "\n");
	fprintf(f, "%-20s %8s %9s %9s\n", "LATENCY", "COUNT", "p50", "p99");
	for (i = 0; i < HS_NR_HISTS; i++) {
		const struct hs_hist *h = &iv->hists[i];
		bool avail = hs_hist_avail(iv->mode, i);

		if (avail && hs_percentile(h, 50, &v))
			hs_fmt_ns(p50, sizeof(p50), v);
		else
			snprintf(p50, sizeof(p50), "-");
		if (avail && hs_percentile(h, 99, &v))
			hs_fmt_ns(p99, sizeof(p99), v);
		else
			snprintf(p99, sizeof(p99), "-");
		if (avail)
			snprintf(count, sizeof(count), "%llu", h->count);
		else
			snprintf(count, sizeof(count), "-");
		fprintf(f, "%-20s %8s %9s %9s\n", hist_titles[i], count,
			p50, p99);
	}
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
	char title[64], name[32];
	int i, z;

	for (i = 0; i < HS_NR_HISTS; i++) {
		if (!hs_hist_avail(iv->mode, i)) {
			fprintf(f, "\n%s (ns): - (not measured in mode %s)\n",
				hist_titles[i], hs_mode_name(iv->mode, false));
			continue;
		}
		/* The fallback knows a react's zone, not a pass's. */
		if (!per_zone || i == HS_HIST_PASS ||
		    (iv->mode != HS_MODE_TRACEPOINTS && i != HS_HIST_REACT)) {
			fprintf(f, "\n");
			hs_print_log2_hist(f, &iv->hists[i], hist_titles[i]);
			continue;
		}
		for (z = 0; z < HS_MAX_ZONES; z++) {
			if (!iv->zone_hists[z][i].count && !iv->zone_names[z][0])
				continue;
			snprintf(title, sizeof(title), "%s, zone %s",
				 hist_titles[i],
				 hs_zone_name(iv, z, name, sizeof(name)));
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

#define TOT(name, field, tp_only) \
	{ name, offsetof(struct hs_totals, field), tp_only }

/* JSON counters in print order; tp_only: null in the fallback modes. */
static const struct {
	const char *name;
	size_t off;
	bool tp_only;
} json_totals[] = {
	TOT("passes", passes, false),
	TOT("batches", pass_batches, false),
	TOT("bytes", pass_bytes, false),
	TOT("failed_bytes", pass_failed_bytes, false),
	TOT("passes_requeued", passes_requeued, false),
	TOT("passes_err", passes_err, true),
	TOT("requests", requests, true),
	TOT("requests_queued", requests_queued, true),
	TOT("cycles", cycles, true),
	TOT("cycles_budget_exhausted", cycles_budget_exhausted, true),
	TOT("fills", fills, true),
	TOT("reacts", reacts, false),
	TOT("react_errors", react_errors, false),
	TOT("drains", drains, true),
	TOT("drain_reported", drain_reported, true),
	TOT("drain_merged", drain_merged, true),
	TOT("unattributed", unattributed, false),
	TOT("out_of_range", out_of_range, true),
	TOT("dropped_events", dropped_events, false),
};

static void json_counters(FILE *f, const struct hs_snapshot *s, bool events)
{
	bool tp = s->mode == HS_MODE_TRACEPOINTS;
	char name[32];
	size_t k;
	int z, o, i, n = 0;

	for (k = 0; k < sizeof(json_totals) / sizeof(json_totals[0]); k++) {
		fprintf(f, "\"%s\":", json_totals[k].name);
		if (!tp && json_totals[k].tp_only)
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
	fputc('}', f);
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

void hs_prom_hist(FILE *f, const char *name, const char *help,
		  const struct hs_hist *h)
{
	unsigned long long cum = 0, min, max;
	int k;

	hs_prom_head(f, name, "histogram", help);
	/* Every finite log2 bucket, so the set never changes. */
	for (k = 0; k < HS_MAX_SLOTS - 1; k++) {
		cum += h->slots[k];
		hs_slot_range(k, &min, &max);
		fprintf(f, "%s_bucket{le=\"", name);
		prom_seconds(f, max);
		fprintf(f, "\"} %llu\n", cum);
	}
	cum += h->slots[HS_MAX_SLOTS - 1];
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	fprintf(f, "%s_sum ", name);
	prom_seconds(f, h->sum);
	fprintf(f, "\n%s_count %llu\n", name, h->count);
}

void hs_print_prom(FILE *f, const struct hs_snapshot *s)
{
	const struct hs_totals *t = &s->totals;
	bool tp = s->mode == HS_MODE_TRACEPOINTS;
	int i;

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
	if (tp)
		hs_prom_counter(f, "pagehint_requests_total",
			     "Reporting requests made by frees (page_hinting_request).",
			     t->requests);
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
		fprintf(f, " batches=%u bytes=%llu failed_bytes=%llu duration_ns=%llu requeued=%u err=%d\n",
			e->a, e->bytes, e->c64, e->ns, e->flag, e->err);
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
		fprintf(f, ",\"batches\":%u,\"bytes\":%llu,\"failed_bytes\":%llu,\"duration_ns\":%llu,\"requeued\":%u,\"err\":%d",
			e->a, e->bytes, e->c64, e->ns, e->flag, e->err);
		break;
	}
	fprintf(f, "}\n");
}
