/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat report helpers: histogram maths, percentiles and the text,
 * JSON and Prometheus printers. No libbpf here, so the unit tests link
 * this file alone.
 */
#ifndef __HINTSTAT_REPORT_H
#define __HINTSTAT_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "hintstat.h"

#define HS_JSON_VERSION 1

/*
 * Workqueue mode: the memory reported now, from /proc/kpageflags
 * (kpageflags.h). A gauge, not a counter: an interval keeps its value
 * and the change since the previous scan.
 */
struct hs_reported_now {
	unsigned long long bytes[HS_MAX_ZONES * HS_MAX_ORDERS];
	unsigned long long total;
	long long change;		/* interval: total - previous total */
	unsigned long long scan_ns;	/* what the scan cost */
	unsigned long long reads;	/* kpageflags entries it read */
	bool exact;			/* orders from whole blocks */
	unsigned long long sampled_excess; /* exact: what samples add */
	bool valid;
};

/* Clock sources too coarse to time anything hintstat shows. */
#define HS_CLOCKSOURCE_LEN	32
/* hintstat's version: --version, pagehint_info. */
#define HS_VERSION		"0.2"
bool hs_clocksource_coarse(const char *name);
/* The current clocksource from path (sysfs), "" when unreadable. */
void hs_read_clocksource(const char *path, char *buf, size_t len);

/* Everything hintstat knows at one instant; counters are cumulative. */
struct hs_snapshot {
	struct hs_totals totals;
	struct hs_hist hists[HS_NR_HISTS];
	struct hs_zo_stats zo[HS_MAX_ZONES * HS_MAX_ORDERS];
	char zone_names[HS_MAX_ZONES][HS_ZONE_NAME_LEN];
	/* Ring buffer records received by user space, per event type. */
	unsigned long long events[HS_NR_EVENT_TYPES];
	/* Per zone react and lock-hold histograms (-Z). */
	struct hs_hist zone_hists[HS_MAX_ZONES][HS_NR_HISTS];
	/* enum hs_mode: what the printers can show ("-"/null otherwise). */
	unsigned int mode;
	struct hs_reported_now now;
	/* The clock durations come from; "" when not known (a record). */
	char clocksource[HS_CLOCKSOURCE_LEN];
	/* The kernel's release (uname -r), for pagehint_info; "" unknown. */
	char release[80];
};

/* What the interval printers need besides the counters. */
struct hs_interval_info {
	double ts;		/* CLOCK_MONOTONIC seconds at the end */
	double secs;		/* interval length in seconds */
	const char *clock;	/* wall clock "HH:MM:SS", NULL: not shown */
	bool events;		/* the ring buffer stream is on */
	const char *extra;	/* JSON members appended, NULL: none */
};

/* Histogram maths. */
unsigned int hs_slot(unsigned long long v);
void hs_slot_range(unsigned int slot, unsigned long long *min,
		   unsigned long long *max);
bool hs_percentile(const struct hs_hist *h, double p,
		   unsigned long long *val);

/* cur - prev, field by field; zone names come from cur. */
void hs_snapshot_diff(struct hs_snapshot *out, const struct hs_snapshot *cur,
		      const struct hs_snapshot *prev);

const char *hs_hist_name(int id);	/* "pass_ns", ... */
/* "tracepoints", "fallback (fentry)", ...; short: "fentry", ... */
const char *hs_mode_name(unsigned int mode, bool brief);
/* The mode measures this histogram (fallback: pass and react only). */
bool hs_hist_avail(unsigned int mode, int id);
/* The counters, histograms and table of an aggregator's state. */
void hs_snapshot_from_state(struct hs_snapshot *s, const struct hs_state *st);
const char *hs_hist_title(int id);	/* "pass duration", ... */
const char *hs_event_name(int type);	/* "fill", ... */
/* Zone name for a table index: the kernel's, or "zone<idx>". */
const char *hs_zone_name(const struct hs_snapshot *s, int zone, char *buf,
			 size_t len);

/* "999ns", "1.50us", "12.3ms", "2.00s": at most 7 characters. */
void hs_fmt_ns(char *buf, size_t len, unsigned long long ns);

/* Interval table (iv holds the interval's differences). */
void hs_print_table(FILE *f, const struct hs_snapshot *iv,
		    const struct hs_interval_info *info);
/* runqlat-style log2 histogram. */
void hs_print_log2_hist(FILE *f, const struct hs_hist *h, const char *title);
/* The histograms the mode measures; per zone too with per_zone (-Z). */
void hs_print_hists(FILE *f, const struct hs_snapshot *iv, bool per_zone);
/* One JSON object, one line: the interval and the totals since start. */
void hs_print_json(FILE *f, const struct hs_snapshot *iv,
		   const struct hs_snapshot *total,
		   const struct hs_interval_info *info);
/* Prometheus text exposition of the totals since start. */
void hs_print_prom(FILE *f, const struct hs_snapshot *total);
/* Same, to path via path.tmp and rename(); 0 or -errno. */
int hs_write_prom_file(const char *path, const struct hs_snapshot *total);
/* Same through print(f, arg): any text file replaced atomically. */
int hs_write_file_atomic(const char *path, void (*print)(FILE *, const void *),
			 const void *arg);
/* Building blocks for other printers (hintstat host). */
void hs_json_str(FILE *f, const char *s);
/* bpftrace's -f json histogram shape: [{"min":..,"max":..,"count":..}] */
void hs_json_hist(FILE *f, const struct hs_hist *h);
void hs_prom_head(FILE *f, const char *name, const char *type,
		  const char *help);
void hs_prom_counter(FILE *f, const char *name, const char *help,
		     unsigned long long v);
/* pagehint_info{version, mode, kernel} 1, the release escaped. */
void hs_prom_info(FILE *f, const char *mode, const char *release);
/*
 * A histogram in seconds, every log2 bucket; its series alone (no
 * HELP/TYPE), labels "" or 'k="v",...'.
 */
void hs_prom_hist_series(FILE *f, const char *name, const char *labels,
			 const struct hs_hist *h);
void hs_prom_hist(FILE *f, const char *name, const char *help,
		  const struct hs_hist *h);
/* One streamed event, as text (tracefs-like) or as a JSON line. */
void hs_print_event(FILE *f, const struct hs_event *e,
		    const struct hs_snapshot *names);
void hs_print_event_json(FILE *f, const struct hs_event *e,
			 const struct hs_snapshot *names);

#endif /* __HINTSTAT_REPORT_H */
