// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat: aggregate the page_hinting trace events (free page reporting)
 * in the kernel. See tracepoints/page_hinting.h for the events, their
 * fields and units.
 *
 * Reporting runs in one kworker at a time and a batch goes fill -> react
 * -> drain, so the zone and order of a fill are kept in a global until
 * the react that reports the batch. fill and drain run with the zone lock
 * held: everything here is array maps (.bss) and a ring buffer, no hash
 * map, no allocation, no sleeping helper.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "hintstat.h"
#include "bits.bpf.h"

/* Set by user space before load: stream every event to the ring buffer. */
const volatile bool stream_events = false;

struct hs_totals totals = {};
struct hs_hist hists[HS_NR_HISTS] = {};
struct hs_zo_stats zo_stats[HS_MAX_ZONES * HS_MAX_ORDERS] = {};
char zone_names[HS_MAX_ZONES][HS_ZONE_NAME_LEN] = {};

/* The batch between its fill and its react. */
struct batch_ctx {
	__u32 zone;
	__u32 order;
	__u32 valid;
};

static struct batch_ctx cur;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* zone_idx(zone): its position in zone->zone_pgdat->node_zones[]. */
static __always_inline int zone_index(struct zone *zone)
{
	struct pglist_data *pgdat = BPF_CORE_READ(zone, zone_pgdat);
	__u64 base, size, z = (__u64)zone;
	int i;

	if (!pgdat)
		return -1;
	base = (__u64)pgdat + bpf_core_field_offset(struct pglist_data,
						     node_zones);
	size = bpf_core_type_size(struct zone);
	for (i = 0; i < HS_MAX_ZONES; i++) {
		if (z == base + i * size)
			return i;
	}
	return -1;
}

/* The zone's name, once, for user space (zone->name is static). */
static __always_inline void record_zone_name(struct zone *zone, int zi)
{
	if (zi < 0 || zi >= HS_MAX_ZONES || zone_names[zi][0])
		return;
	bpf_probe_read_kernel_str(zone_names[zi], HS_ZONE_NAME_LEN,
				  BPF_CORE_READ(zone, name));
}

static __always_inline void hist_add(int id, __u64 v)
{
	struct hs_hist *h;
	__u64 slot = v ? log2l(v) + 1 : 0;

	if (id < 0 || id >= HS_NR_HISTS)
		return;
	h = &hists[id];
	if (slot >= HS_MAX_SLOTS)
		slot = HS_MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum, v);
}

static __always_inline struct hs_event *event_reserve(__u32 type)
{
	struct hs_event *e;

	if (!stream_events)
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&totals.dropped_events, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

SEC("tp_btf/page_hinting_request")
int BPF_PROG(hs_request, unsigned int old_state, bool queued)
{
	struct hs_event *e;

	__sync_fetch_and_add(&totals.requests, 1);
	if (queued)
		__sync_fetch_and_add(&totals.requests_queued, 1);
	e = event_reserve(HS_EV_REQUEST);
	if (e) {
		e->a = old_state;
		e->flag = queued;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp_btf/page_hinting_fill")
int BPF_PROG(hs_fill, struct zone *zone, unsigned int order, unsigned int mt,
	     unsigned int entries, u64 bytes, u64 lock_ns)
{
	int zi = zone_index(zone);
	struct hs_event *e;

	__sync_fetch_and_add(&totals.fills, 1);
	hist_add(HS_HIST_FILL_LOCK, lock_ns);

	if (zi >= 0 && zi < HS_MAX_ZONES && order < HS_MAX_ORDERS) {
		cur.zone = zi;
		cur.order = order;
		cur.valid = 1;
		record_zone_name(zone, zi);
	} else {
		cur.valid = 0;
		__sync_fetch_and_add(&totals.out_of_range, 1);
	}

	e = event_reserve(HS_EV_FILL);
	if (e) {
		e->zone = zi < 0 ? 0xffff : zi;
		e->order = order;
		e->mt = mt;
		e->a = entries;
		e->bytes = bytes;
		e->ns = lock_ns;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp_btf/page_hinting_react")
int BPF_PROG(hs_react, unsigned int entries, u64 bytes, u64 duration_ns,
	     int err)
{
	struct hs_zo_stats *s;
	struct hs_event *e;
	__u32 idx;

	__sync_fetch_and_add(&totals.reacts, 1);
	if (err)
		__sync_fetch_and_add(&totals.react_errors, 1);
	hist_add(HS_HIST_REACT, duration_ns);

	if (cur.valid) {
		idx = cur.zone * HS_MAX_ORDERS + cur.order;
		if (idx < HS_MAX_ZONES * HS_MAX_ORDERS) {
			s = &zo_stats[idx];
			if (err)
				__sync_fetch_and_add(&s->failed_bytes, bytes);
			else
				__sync_fetch_and_add(&s->bytes, bytes);
			__sync_fetch_and_add(&s->entries, entries);
			__sync_fetch_and_add(&s->batches, 1);
		}
		cur.valid = 0;
	} else {
		__sync_fetch_and_add(&totals.unattributed, 1);
	}

	e = event_reserve(HS_EV_REACT);
	if (e) {
		e->a = entries;
		e->bytes = bytes;
		e->ns = duration_ns;
		e->err = err;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp_btf/page_hinting_drain")
int BPF_PROG(hs_drain, unsigned int entries, unsigned int reported,
	     unsigned int merged, int err, u64 lock_ns)
{
	struct hs_event *e;

	__sync_fetch_and_add(&totals.drains, 1);
	__sync_fetch_and_add(&totals.drain_reported, reported);
	__sync_fetch_and_add(&totals.drain_merged, merged);
	hist_add(HS_HIST_DRAIN_LOCK, lock_ns);

	e = event_reserve(HS_EV_DRAIN);
	if (e) {
		e->a = entries;
		e->b = reported;
		e->c = merged;
		e->err = err;
		e->ns = lock_ns;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp_btf/page_hinting_cycle")
int BPF_PROG(hs_cycle, struct zone *zone, unsigned int order, unsigned int mt,
	     unsigned int isolated, unsigned int batches, bool budget_exhausted,
	     u64 duration_ns, int err)
{
	struct hs_event *e;
	int zi;

	__sync_fetch_and_add(&totals.cycles, 1);
	if (budget_exhausted)
		__sync_fetch_and_add(&totals.cycles_budget_exhausted, 1);
	zi = zone_index(zone);
	record_zone_name(zone, zi);

	e = event_reserve(HS_EV_CYCLE);
	if (e) {
		e->zone = zi < 0 ? 0xffff : zi;
		e->order = order;
		e->mt = mt;
		e->a = isolated;
		e->b = batches;
		e->flag = budget_exhausted;
		e->ns = duration_ns;
		e->err = err;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("tp_btf/page_hinting_pass")
int BPF_PROG(hs_pass, unsigned int batches, u64 bytes, u64 failed_bytes,
	     u64 duration_ns, bool requeued, int err)
{
	struct hs_event *e;

	__sync_fetch_and_add(&totals.passes, 1);
	__sync_fetch_and_add(&totals.pass_batches, batches);
	__sync_fetch_and_add(&totals.pass_bytes, bytes);
	__sync_fetch_and_add(&totals.pass_failed_bytes, failed_bytes);
	if (requeued)
		__sync_fetch_and_add(&totals.passes_requeued, 1);
	if (err)
		__sync_fetch_and_add(&totals.passes_err, 1);
	hist_add(HS_HIST_PASS, duration_ns);

	e = event_reserve(HS_EV_PASS);
	if (e) {
		e->a = batches;
		e->bytes = bytes;
		e->c64 = failed_bytes;
		e->ns = duration_ns;
		e->flag = requeued;
		e->err = err;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
