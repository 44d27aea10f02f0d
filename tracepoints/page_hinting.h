/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Free page reporting ("page hinting") trace events.
 *
 * A reporting pass walks every zone; per free list (order, migratetype) a
 * cycle isolates unreported free pages into a batch of at most
 * PAGE_REPORTING_CAPACITY entries under the zone lock (fill), hands the
 * batch to the reporting device with the lock dropped (react), and puts
 * the pages back flagged as reported (drain).
 *
 * Units: every bytes field is bytes, every *_ns field nanoseconds.
 * Zone lock hold times (*lock_ns) are measured with local_clock(): the
 * lock is held with interrupts off, so start and end are read on one
 * CPU. Durations that span the device's sleeping report() call (react,
 * cycle, pass) use ktime_get_ns(), which is comparable across CPUs and
 * is the clock of the "mono" trace clock and of bpf_ktime_get_ns().
 * Both are measured only while the event that carries them is enabled;
 * an event enabled in the middle of a pass reports 0 for an interval
 * whose start it did not see.
 *
 * A pass takes the zone lock in critical sections: one from the start
 * of a free list until a batch is full, then one per batch from the
 * drain of the previous batch until the next is full, and one that ends
 * the list. Every event of a pass fires with the lock released;
 * page_hinting_reuse fires from the allocator, under it.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM page_hinting

#if !defined(_TRACE_PAGE_HINTING_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_PAGE_HINTING_H

#include <linux/types.h>
#include <linux/mmzone.h>
#include <linux/tracepoint.h>
#include <trace/events/mmflags.h>

/* prdev->state, as enumerated in mm/page_reporting.c */
#define show_page_hinting_state(state)					\
	__print_symbolic(state, { 0, "idle" }, { 1, "requested" },	\
			 { 2, "active" })

/*
 * page_hinting_request - a reporting pass was requested by a free.
 * @old_state: reporting state before the request (0 idle, 1 requested,
 *             2 active; printed by name)
 * @queued: true if the request queued the delayed work (old state idle)
 */
TRACE_EVENT(page_hinting_request,

	TP_PROTO(unsigned int old_state, bool queued),

	TP_ARGS(old_state, queued),

	TP_STRUCT__entry(
		__field(unsigned int, old_state)
		__field(bool, queued)
	),

	TP_fast_assign(
		__entry->old_state = old_state;
		__entry->queued = queued;
	),

	TP_printk("old_state=%s queued=%d",
		show_page_hinting_state(__entry->old_state),
		__entry->queued)
);

/*
 * page_hinting_fill - a batch was isolated and is about to be reported.
 * @zone: zone the batch was taken from (every entry of a batch is)
 * @order: order of the free list the batch was completed on; a batch
 *         may carry entries of several orders, @bytes is exact
 * @mt: migratetype of that free list
 * @entries: scatterlist entries in the batch
 * @bytes: bytes in the batch
 * @lock_ns: hold time of the zone lock critical section in which the
 *           batch got its last entry (with the previous batch's drain
 *           when that section started with one); one section, not a sum
 *
 * Fires after the zone lock was released, before the device is called.
 */
TRACE_EVENT(page_hinting_fill,

	TP_PROTO(struct zone *zone, unsigned int order, unsigned int mt,
		 unsigned int entries, u64 bytes, u64 lock_ns),

	TP_ARGS(zone, order, mt, entries, bytes, lock_ns),

	TP_STRUCT__entry(
		__field(u64, bytes)
		__field(u64, lock_ns)
		__field(int, nid)
		__field(enum zone_type, zone_idx)
		__field(unsigned int, order)
		__field(unsigned int, mt)
		__field(unsigned int, entries)
	),

	TP_fast_assign(
		__entry->nid = zone_to_nid(zone);
		__entry->zone_idx = zone_idx(zone);
		__entry->order = order;
		__entry->mt = mt;
		__entry->entries = entries;
		__entry->bytes = bytes;
		__entry->lock_ns = lock_ns;
	),

	TP_printk("nid=%d zone=%s order=%u mt=%u entries=%u bytes=%llu lock_ns=%llu",
		__entry->nid,
		__print_symbolic(__entry->zone_idx, ZONE_TYPE),
		__entry->order, __entry->mt, __entry->entries,
		__entry->bytes, __entry->lock_ns)
);

/*
 * page_hinting_react - the reporting device processed a batch.
 * @entries: scatterlist entries handed to the device
 * @bytes: bytes handed to the device
 * @duration_ns: time spent in the device's report() call (it sleeps
 *               until the host acknowledged the batch)
 * @err: its return value (0: the host was told about every entry)
 */
TRACE_EVENT(page_hinting_react,

	TP_PROTO(unsigned int entries, u64 bytes, u64 duration_ns, int err),

	TP_ARGS(entries, bytes, duration_ns, err),

	TP_STRUCT__entry(
		__field(unsigned int, entries)
		__field(int, err)
		__field(u64, bytes)
		__field(u64, duration_ns)
	),

	TP_fast_assign(
		__entry->entries = entries;
		__entry->err = err;
		__entry->bytes = bytes;
		__entry->duration_ns = duration_ns;
	),

	TP_printk("entries=%u bytes=%llu duration_ns=%llu err=%d",
		__entry->entries, __entry->bytes, __entry->duration_ns,
		__entry->err)
);

/*
 * page_hinting_drain - a reported batch was returned to the free lists.
 * @entries: scatterlist entries returned
 * @reported: entries flagged PageReported
 * @merged: entries that merged with a free buddy on the way back, so are
 *          not flagged (they are reported again at the higher order);
 *          0 when @err is set
 * @err: the device's return value; on error nothing is flagged
 * @lock_ns: time spent draining, with the zone lock held: the start of
 *           a critical section that may go on filling the next batch
 *
 * Fires once the zone lock was released after the drain.
 */
TRACE_EVENT(page_hinting_drain,

	TP_PROTO(unsigned int entries, unsigned int reported,
		 unsigned int merged, int err, u64 lock_ns),

	TP_ARGS(entries, reported, merged, err, lock_ns),

	TP_STRUCT__entry(
		__field(u64, lock_ns)
		__field(unsigned int, entries)
		__field(unsigned int, reported)
		__field(unsigned int, merged)
		__field(int, err)
	),

	TP_fast_assign(
		__entry->entries = entries;
		__entry->reported = reported;
		__entry->merged = merged;
		__entry->err = err;
		__entry->lock_ns = lock_ns;
	),

	TP_printk("entries=%u reported=%u merged=%u err=%d lock_ns=%llu",
		__entry->entries, __entry->reported, __entry->merged,
		__entry->err, __entry->lock_ns)
);

/*
 * page_hinting_cycle - one free list of a zone was processed.
 * Not emitted for free lists that were empty.
 * @zone: the zone
 * @order: order of the free list
 * @mt: migratetype of the free list
 * @isolated: entries isolated from this list (reported in this cycle or
 *            carried in a batch that a later list completes)
 * @batches: batches reported from within this cycle
 * @budget_exhausted: the per-list budget ran out; another pass follows
 * @duration_ns: time spent in the cycle, including reports
 * @err: the first report error, 0 if none
 */
TRACE_EVENT(page_hinting_cycle,

	TP_PROTO(struct zone *zone, unsigned int order, unsigned int mt,
		 unsigned int isolated, unsigned int batches,
		 bool budget_exhausted, u64 duration_ns, int err),

	TP_ARGS(zone, order, mt, isolated, batches, budget_exhausted,
		duration_ns, err),

	TP_STRUCT__entry(
		__field(u64, duration_ns)
		__field(int, nid)
		__field(enum zone_type, zone_idx)
		__field(unsigned int, order)
		__field(unsigned int, mt)
		__field(unsigned int, isolated)
		__field(unsigned int, batches)
		__field(int, err)
		__field(bool, budget_exhausted)
	),

	TP_fast_assign(
		__entry->nid = zone_to_nid(zone);
		__entry->zone_idx = zone_idx(zone);
		__entry->order = order;
		__entry->mt = mt;
		__entry->isolated = isolated;
		__entry->batches = batches;
		__entry->budget_exhausted = budget_exhausted;
		__entry->err = err;
		__entry->duration_ns = duration_ns;
	),

	TP_printk("nid=%d zone=%s order=%u mt=%u isolated=%u batches=%u budget_exhausted=%d duration_ns=%llu err=%d",
		__entry->nid,
		__print_symbolic(__entry->zone_idx, ZONE_TYPE),
		__entry->order, __entry->mt, __entry->isolated,
		__entry->batches, __entry->budget_exhausted,
		__entry->duration_ns, __entry->err)
);

/*
 * page_hinting_pass - a reporting pass (one run of the worker) ended.
 * @batches: batches reported in the pass
 * @bytes: bytes reported without error
 * @failed_bytes: bytes whose report failed
 * @duration_ns: duration of the pass
 * @requeued: more work was requested meanwhile (a budget ran out or a
 *            free asked for it); another pass is queued after the delay
 * @err: the error that ended the pass, 0 if none
 * @max_lock_ns: the longest zone lock critical section of the pass: the
 *               longest stretch reporting kept interrupts off on a CPU
 */
TRACE_EVENT(page_hinting_pass,

	TP_PROTO(unsigned int batches, u64 bytes, u64 failed_bytes,
		 u64 duration_ns, bool requeued, int err, u64 max_lock_ns),

	TP_ARGS(batches, bytes, failed_bytes, duration_ns, requeued, err,
		max_lock_ns),

	TP_STRUCT__entry(
		__field(u64, bytes)
		__field(u64, failed_bytes)
		__field(u64, duration_ns)
		__field(u64, max_lock_ns)
		__field(unsigned int, batches)
		__field(int, err)
		__field(bool, requeued)
	),

	TP_fast_assign(
		__entry->bytes = bytes;
		__entry->failed_bytes = failed_bytes;
		__entry->duration_ns = duration_ns;
		__entry->max_lock_ns = max_lock_ns;
		__entry->batches = batches;
		__entry->err = err;
		__entry->requeued = requeued;
	),

	TP_printk("batches=%u bytes=%llu failed_bytes=%llu duration_ns=%llu requeued=%d err=%d max_lock_ns=%llu",
		__entry->batches, __entry->bytes, __entry->failed_bytes,
		__entry->duration_ns, __entry->requeued, __entry->err,
		__entry->max_lock_ns)
);

/* enum page_reporting_reuse in mm/page_reporting.h */
#define show_page_hinting_reuse(why)					\
	__print_symbolic(why, { 0, "alloc" }, { 1, "merge" },		\
			 { 2, "isolate" }, { 3, "offline" })

/*
 * page_hinting_reuse - a reported block left its free list.
 * @zone: its zone
 * @order: its order
 * @allocated: pages of it handed out by an allocation (the allocation's
 *             size when the block was split for it); the host refaults
 *             them when they are touched. The rest of the block stays
 *             discarded on the host and becomes reportable again.
 * @why: alloc, merge (into a freed buddy), isolate (compaction, page
 *       isolation), offline (memory offlining, poisoning): enum
 *       page_reporting_reuse in mm/page_reporting.h
 *
 * Fires with the zone lock held, from the allocator: it does no more
 * than record its fields.
 */
TRACE_EVENT(page_hinting_reuse,

	TP_PROTO(struct zone *zone, unsigned int order,
		 unsigned long allocated, unsigned int why),

	TP_ARGS(zone, order, allocated, why),

	TP_STRUCT__entry(
		__field(unsigned long, allocated)
		__field(int, nid)
		__field(enum zone_type, zone_idx)
		__field(unsigned int, order)
		__field(unsigned int, why)
	),

	TP_fast_assign(
		__entry->allocated = allocated;
		__entry->nid = zone_to_nid(zone);
		__entry->zone_idx = zone_idx(zone);
		__entry->order = order;
		__entry->why = why;
	),

	TP_printk("nid=%d zone=%s order=%u allocated=%lu why=%s",
		__entry->nid,
		__print_symbolic(__entry->zone_idx, ZONE_TYPE),
		__entry->order, __entry->allocated,
		show_page_hinting_reuse(__entry->why))
);

#endif /* _TRACE_PAGE_HINTING_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
