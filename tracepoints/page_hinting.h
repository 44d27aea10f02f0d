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
 * Units: every *_ns field is nanoseconds of local_clock(), every bytes
 * field is bytes. Duration and lock-hold fields are only measured while
 * the event that carries them is enabled; an event enabled in the middle
 * of a pass reports 0 for an interval whose start it did not see.
 *
 * Documentation: tracepoints/page_hinting.md in the pagehint project.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM page_hinting

#if !defined(_TRACE_PAGE_HINTING_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_PAGE_HINTING_H

#include <linux/types.h>
#include <linux/mmzone.h>
#include <linux/tracepoint.h>
#include <trace/events/mmflags.h>

/*
 * page_hinting_request - a reporting pass was requested by a free.
 * @old_state: reporting state before the request (0 idle, 1 requested,
 *             2 active)
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

	TP_printk("old_state=%u queued=%d",
		__entry->old_state, __entry->queued)
);

/*
 * page_hinting_fill - a batch was isolated and is about to be reported.
 * @zone: zone the batch was taken from (every entry of a batch is)
 * @order: order of the free list the batch was completed on; a batch
 *         may carry entries of several orders, @bytes is exact
 * @mt: migratetype of that free list
 * @entries: scatterlist entries in the batch
 * @bytes: bytes in the batch
 * @lock_ns: zone lock hold time spent filling this batch, summed over
 *           every lock section since the previous batch was drained
 */
TRACE_EVENT(page_hinting_fill,

	TP_PROTO(struct zone *zone, unsigned int order, unsigned int mt,
		 unsigned int entries, u64 bytes, u64 lock_ns),

	TP_ARGS(zone, order, mt, entries, bytes, lock_ns),

	TP_STRUCT__entry(
		__field(int, nid)
		__field(enum zone_type, zone_idx)
		__field(unsigned int, order)
		__field(unsigned int, mt)
		__field(unsigned int, entries)
		__field(u64, bytes)
		__field(u64, lock_ns)
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
 * @duration_ns: time spent in the device's report() call
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
 * @lock_ns: zone lock hold time of the drain itself
 */
TRACE_EVENT(page_hinting_drain,

	TP_PROTO(unsigned int entries, unsigned int reported,
		 unsigned int merged, int err, u64 lock_ns),

	TP_ARGS(entries, reported, merged, err, lock_ns),

	TP_STRUCT__entry(
		__field(unsigned int, entries)
		__field(unsigned int, reported)
		__field(unsigned int, merged)
		__field(int, err)
		__field(u64, lock_ns)
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
		__field(int, nid)
		__field(enum zone_type, zone_idx)
		__field(unsigned int, order)
		__field(unsigned int, mt)
		__field(unsigned int, isolated)
		__field(unsigned int, batches)
		__field(bool, budget_exhausted)
		__field(int, err)
		__field(u64, duration_ns)
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
 */
TRACE_EVENT(page_hinting_pass,

	TP_PROTO(unsigned int batches, u64 bytes, u64 failed_bytes,
		 u64 duration_ns, bool requeued, int err),

	TP_ARGS(batches, bytes, failed_bytes, duration_ns, requeued, err),

	TP_STRUCT__entry(
		__field(unsigned int, batches)
		__field(bool, requeued)
		__field(int, err)
		__field(u64, bytes)
		__field(u64, failed_bytes)
		__field(u64, duration_ns)
	),

	TP_fast_assign(
		__entry->batches = batches;
		__entry->requeued = requeued;
		__entry->err = err;
		__entry->bytes = bytes;
		__entry->failed_bytes = failed_bytes;
		__entry->duration_ns = duration_ns;
	),

	TP_printk("batches=%u bytes=%llu failed_bytes=%llu duration_ns=%llu requeued=%d err=%d",
		__entry->batches, __entry->bytes, __entry->failed_bytes,
		__entry->duration_ns, __entry->requeued, __entry->err)
);

#endif /* _TRACE_PAGE_HINTING_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
