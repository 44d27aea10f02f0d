/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat: definitions shared by bpf/hintstat.bpf.c and user space.
 *
 * Every value the BPF side keeps is a cumulative counter since the
 * programs were attached; user space takes differences per interval.
 */
#ifndef __HINTSTAT_H
#define __HINTSTAT_H

/*
 * Bounds of the per (zone, order) table. MAX_NR_ZONES is at most 6 and
 * NR_PAGE_ORDERS at most 15 on the architectures Linux supports today;
 * anything beyond is counted in hs_totals.out_of_range.
 */
#define HS_MAX_ZONES		8
#define HS_MAX_ORDERS		16
#define HS_ZONE_NAME_LEN	16

/*
 * log2 histogram: slot 0 holds the value 0, slot k >= 1 holds
 * [2^(k-1), 2^k - 1]; the last slot also takes everything above.
 */
#define HS_MAX_SLOTS		42

enum hs_hist_id {
	HS_HIST_PASS,		/* page_hinting_pass.duration_ns */
	HS_HIST_REACT,		/* page_hinting_react.duration_ns */
	HS_HIST_FILL_LOCK,	/* page_hinting_fill.lock_ns */
	HS_HIST_DRAIN_LOCK,	/* page_hinting_drain.lock_ns */
	HS_HIST_PASS_MAX_LOCK,	/* page_hinting_pass.max_lock_ns */
	HS_NR_HISTS,
};

struct hs_hist {
	unsigned long long slots[HS_MAX_SLOTS];
	unsigned long long count;
	unsigned long long sum;
};

/*
 * Per (zone index, order of the free list the batch was completed on),
 * attributed at react time to the zone/order of the fill before it.
 */
struct hs_zo_stats {
	unsigned long long bytes;		/* reported without error */
	unsigned long long failed_bytes;	/* report failed */
	unsigned long long entries;		/* scatterlist entries reported */
	unsigned long long batches;
};

struct hs_totals {
	/* From page_hinting_pass: the kernel's own per-pass sums. */
	unsigned long long passes;
	unsigned long long pass_batches;
	unsigned long long pass_bytes;
	unsigned long long pass_failed_bytes;
	unsigned long long passes_requeued;
	unsigned long long passes_err;
	/* From the other events. */
	unsigned long long requests;
	unsigned long long requests_queued;
	unsigned long long cycles;
	unsigned long long cycles_budget_exhausted;
	unsigned long long fills;
	unsigned long long reacts;
	unsigned long long react_errors;
	unsigned long long drains;
	unsigned long long drain_reported;
	unsigned long long drain_merged;
	/*
	 * From page_hinting_reuse: reported blocks that left their free
	 * list, their bytes by why, and the bytes allocations took of them
	 * (the part the host refaults; the rest becomes reportable again).
	 */
	unsigned long long reuses;
	unsigned long long reuse_allocated_bytes;
	unsigned long long reuse_alloc_bytes;
	unsigned long long reuse_merge_bytes;
	unsigned long long reuse_isolate_bytes;
	unsigned long long reuse_offline_bytes;
	/* A react with no fill before it, or a zone/order past the table. */
	unsigned long long unattributed;
	unsigned long long out_of_range;
	/* Ring buffer records that could not be reserved. */
	unsigned long long dropped_events;
};

enum hs_event_type {
	HS_EV_REQUEST,
	HS_EV_FILL,
	HS_EV_REACT,
	HS_EV_DRAIN,
	HS_EV_CYCLE,
	HS_EV_PASS,
	HS_EV_REUSE,
	HS_NR_EVENT_TYPES,
};

/* page_hinting_reuse.why: enum page_reporting_reuse in mm/page_reporting.h */
enum hs_reuse_why {
	HS_REUSE_ALLOC,
	HS_REUSE_MERGE,
	HS_REUSE_ISOLATE,
	HS_REUSE_OFFLINE,
	HS_NR_REUSE_WHY,
};

/* Record-file-only types (hintstat record): never from the BPF side. */
#define HS_REC_DROPPED	0x100	/* bytes = ring buffer drops so far */
#define HS_REC_END	0x101	/* bytes = drops in total; the last record */

/*
 * How the BPF side gets its events. Tracepoints: the pagehint series'
 * page_hinting events. Fallback (stock kernels): a pass from entry/exit
 * of page_reporting_process(), a batch from entry/exit of
 * virtio-balloon's report callback, by fentry/fexit or kprobe/kretprobe.
 */
enum hs_mode {
	HS_MODE_TRACEPOINTS,
	HS_MODE_FENTRY,
	HS_MODE_KPROBE,
	HS_MODE_HOST,		/* hintstat host: host.h events, record files */
	/*
	 * Neither the events nor fentry nor kprobes: a pass from the
	 * workqueue_execute_start/end tracepoints of page_reporting_process,
	 * what is reported now from /proc/kpageflags (kpageflags.h).
	 * After HS_MODE_HOST: record files store the mode's number.
	 */
	HS_MODE_WORKQUEUE,
	HS_NR_MODES,
};

/* Workqueue mode: the pass in progress (one at a time per device). */
struct hs_wq_pass {
	unsigned long long start_ns;
	unsigned long long work;	/* &prdev->work.work */
	unsigned int active;
	unsigned int pad;
};

/*
 * The batch between its fill and its react (valid), and the zone of the
 * last fill, for the drain that follows the react (last_zone).
 */
struct hs_batch_ctx {
	unsigned int zone;
	unsigned int order;
	unsigned int valid;
	unsigned int last_zone;
};

/*
 * Everything the aggregator (aggregate.h) keeps: in BPF .bss live, in
 * user space when hintstat report replays a record file. zone_hists
 * holds the react and lock-hold histograms per zone (-Z); its pass
 * entries stay empty (a pass spans every zone).
 */
struct hs_state {
	struct hs_totals totals;
	struct hs_hist hists[HS_NR_HISTS];
	struct hs_hist zone_hists[HS_MAX_ZONES][HS_NR_HISTS];
	struct hs_zo_stats zo[HS_MAX_ZONES * HS_MAX_ORDERS];
	struct hs_batch_ctx cur;
};

/* Fallback mode: the pass and the device call in progress. */
struct hs_fb_pass {
	unsigned long long start_ns;
	unsigned long long bytes;
	unsigned long long failed_bytes;
	unsigned int batches;
	unsigned int active;
};

struct hs_fb_react {
	unsigned long long start_ns;
	unsigned long long bytes;
	unsigned int nents;
	unsigned int active;
	unsigned short zone;
	unsigned char order;
	unsigned char zo_known;
	unsigned int pad;
};

/*
 * Fallback mode: where a batch is. Mainline fills a batch within one
 * zone, from its end, carrying a part-filled batch over to the zone's
 * next free list; so its first scatterlist entry is from the free list
 * the batch was completed on, as the last fill before a react says in
 * the tracepoint mode. The order is that entry's length, the zone the
 * one whose span holds the pfn of its struct page (pfn = (page -
 * vmemmap base) / sizeof(struct page)); user space reads the spans from
 * /proc/zoneinfo.
 */
#define HS_FB_MAX_SPANS		16
#define HS_FB_VMEMMAP_L4	0xffffea0000000000ULL	/* __VMEMMAP_BASE_L4 */

struct hs_fb_span {
	unsigned long long lo_pfn;	/* start_pfn */
	unsigned long long hi_pfn;	/* start_pfn + spanned; 0: unused */
	unsigned int zone;		/* zone index in its node */
	unsigned int pad;
};

/*
 * One ring buffer record per trace event. Field use by type:
 *   request: a = old_state, flag = queued
 *   fill:    zone, order, mt, a = entries, bytes, ns = lock_ns
 *   react:   a = entries, bytes, ns = duration_ns, err; in the fallback
 *            modes also zone, order and flag = HS_REACT_ZO when they
 *            are known (no fill precedes a fallback react)
 *   drain:   a = entries, b = reported, c = merged, err, ns = lock_ns
 *   cycle:   zone, order, mt, a = isolated, b = batches,
 *            flag = budget_exhausted, ns = duration_ns, err
 *   pass:    a = batches, b = max_lock_ns (saturated at 2^32 - 1: 4.3 s
 *            with interrupts off is a hard lockup already), bytes,
 *            c64 = failed_bytes, ns = duration_ns, flag = requeued, err
 *   reuse:   zone, order, a = why (enum hs_reuse_why), bytes = the
 *            block's bytes, c64 = the bytes an allocation took of it
 */
#define HS_REACT_ZO	1

struct hs_event {
	unsigned long long ts_ns;	/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	unsigned long long bytes;
	unsigned long long ns;
	unsigned long long c64;
	unsigned int type;
	unsigned int a;
	unsigned int b;
	unsigned int c;
	int err;
	unsigned short zone;
	unsigned char order;
	unsigned char mt;
	unsigned char flag;
	unsigned char pad[3];
};

#endif /* __HINTSTAT_H */
