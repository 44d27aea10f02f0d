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
#include "aggregate.h"

/* Set by user space before load: stream every event to the ring buffer. */
const volatile bool stream_events = false;
/* and the kernel's PAGE_SHIFT, to turn page_hinting_reuse's pages to bytes */
const volatile unsigned int page_shift = 12;

/* Counters, histograms, the (zone, order) table: see aggregate.h. */
struct hs_state st = {};
char zone_names[HS_MAX_ZONES][HS_ZONE_NAME_LEN] = {};

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

/* Account an event and, when streaming, copy it to the ring buffer. */
static __always_inline void emit(struct hs_event *e)
{
	struct hs_event *r;

	e->ts_ns = bpf_ktime_get_ns();
	hs_account(&st, e);
	if (!stream_events)
		return;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&st.totals.dropped_events, 1);
		return;
	}
	__builtin_memcpy(r, e, sizeof(*r));
	bpf_ringbuf_submit(r, 0);
}

#define EVENT(name, t)						\
	struct hs_event name;					\
	__builtin_memset(&name, 0, sizeof(name));		\
	name.type = t

SEC("tp_btf/page_hinting_request")
int BPF_PROG(hs_request, unsigned int old_state, bool queued)
{
	EVENT(e, HS_EV_REQUEST);

	e.a = old_state;
	e.flag = queued;
	emit(&e);
	return 0;
}

SEC("tp_btf/page_hinting_fill")
int BPF_PROG(hs_fill, struct zone *zone, unsigned int order, unsigned int mt,
	     unsigned int entries, u64 bytes, u64 lock_ns)
{
	int zi = zone_index(zone);
	EVENT(e, HS_EV_FILL);

	record_zone_name(zone, zi);
	e.zone = zi < 0 ? 0xffff : zi;
	e.order = order < 0xff ? order : 0xff;
	e.mt = mt;
	e.a = entries;
	e.bytes = bytes;
	e.ns = lock_ns;
	emit(&e);
	return 0;
}

SEC("tp_btf/page_hinting_react")
int BPF_PROG(hs_react, unsigned int entries, u64 bytes, u64 duration_ns,
	     int err)
{
	EVENT(e, HS_EV_REACT);

	e.a = entries;
	e.bytes = bytes;
	e.ns = duration_ns;
	e.err = err;
	emit(&e);
	return 0;
}

SEC("tp_btf/page_hinting_drain")
int BPF_PROG(hs_drain, unsigned int entries, unsigned int reported,
	     unsigned int merged, int err, u64 lock_ns)
{
	EVENT(e, HS_EV_DRAIN);

	e.a = entries;
	e.b = reported;
	e.c = merged;
	e.err = err;
	e.ns = lock_ns;
	emit(&e);
	return 0;
}

SEC("tp_btf/page_hinting_cycle")
int BPF_PROG(hs_cycle, struct zone *zone, unsigned int order, unsigned int mt,
	     unsigned int isolated, unsigned int batches, bool budget_exhausted,
	     u64 duration_ns, int err)
{
	int zi = zone_index(zone);
	EVENT(e, HS_EV_CYCLE);

	record_zone_name(zone, zi);
	e.zone = zi < 0 ? 0xffff : zi;
	e.order = order < 0xff ? order : 0xff;
	e.mt = mt;
	e.a = isolated;
	e.b = batches;
	e.flag = budget_exhausted;
	e.ns = duration_ns;
	e.err = err;
	emit(&e);
	return 0;
}

SEC("tp_btf/page_hinting_pass")
int BPF_PROG(hs_pass, unsigned int batches, u64 bytes, u64 failed_bytes,
	     u64 duration_ns, bool requeued, int err, u64 max_lock_ns)
{
	EVENT(e, HS_EV_PASS);

	e.a = batches;
	e.b = max_lock_ns < 0xffffffffULL ? max_lock_ns : 0xffffffffU;
	e.bytes = bytes;
	e.c64 = failed_bytes;
	e.ns = duration_ns;
	e.flag = requeued;
	e.err = err;
	emit(&e);
	return 0;
}

/*
 * Fires from the allocator with the zone lock held, on every reported
 * block that leaves a free list; only while this program is attached.
 */
SEC("tp_btf/page_hinting_reuse")
int BPF_PROG(hs_reuse, struct zone *zone, unsigned int order,
	     unsigned long allocated, unsigned int why)
{
	int zi = zone_index(zone);
	EVENT(e, HS_EV_REUSE);

	record_zone_name(zone, zi);
	e.zone = zi < 0 ? 0xffff : zi;
	e.order = order < 0xff ? order : 0xff;
	e.a = why;
	e.bytes = (1ULL << (order & 63)) << page_shift;
	e.c64 = (u64)allocated << page_shift;
	emit(&e);
	return 0;
}

/*
 * Fallback for kernels without the series (hintstat loads these instead
 * of the tp_btf programs above). Only two functions of mainline free page
 * reporting stay out of line: page_reporting_process() (a pass, in a
 * kworker, one at a time) and the device's report callback, virtio-
 * balloon's virtballoon_free_page_report() (a batch, called from the
 * pass). Their entry and exit give a pass event and a react event; no
 * fill, drain, cycle or request, so no zone, order or lock hold.
 */
#define PAGE_REPORTING_REQUESTED	1	/* mm/page_reporting.c */
#define SG_CHAIN			0x01UL	/* include/linux/scatterlist.h */
#define SG_END				0x02UL
#define SG_PAGE_LINK_MASK		(SG_CHAIN | SG_END)
#define HS_SG_MAX			32	/* PAGE_REPORTING_CAPACITY */

/* Globals, not static: clang would split a static struct in scalars. */
struct hs_fb_pass fb_pass = {};
struct hs_fb_react fb_react = {};
/* kretprobe has no arguments: the pass's device, saved at entry. */
__u64 fb_prdev = 0;

/* Set by user space before attaching the fallback (struct hs_fb_span). */
struct hs_fb_span fb_spans[HS_FB_MAX_SPANS] = {};
/* &vmemmap_base from /proc/kallsyms; 0: the fixed 4-level base. */
__u64 fb_vmemmap_addr = 0;

/*
 * Walk the nents entries of a scatterlist like sg_next(): stop at the
 * entry marked last, follow a chain entry. Reporting hands a plain array
 * of at most PAGE_REPORTING_CAPACITY entries. Sets fb_react.bytes and
 * gives the first entry's page and length: mainline fills the array
 * from its end and carries a part-filled batch over to the next free
 * list of the zone, so the first entry is from the free list the batch
 * was completed on (what a fill event before a react says too).
 */
static __always_inline void sg_walk(__u64 sg, __u32 nents, __u64 *page,
				    __u32 *len0)
{
	__u64 link_off = bpf_core_field_offset(struct scatterlist, page_link);
	__u64 len_off = bpf_core_field_offset(struct scatterlist, length);
	__u64 size = bpf_core_type_size(struct scatterlist);
	unsigned long link;
	__u64 bytes = 0;
	__u32 len, i;

	*page = 0;
	*len0 = 0;
	/* One path per entry, so the verifier's walk stays linear. */
	for (i = 0; i < HS_SG_MAX; i++) {
		if (i >= nents || !sg ||
		    bpf_probe_read_kernel(&link, sizeof(link),
					  (void *)(sg + link_off)))
			break;
		if (link & SG_CHAIN) {
			/* A chain entry holds no data: go where it points. */
			sg = link & ~SG_PAGE_LINK_MASK;
			if (!sg || bpf_probe_read_kernel(&link, sizeof(link),
							 (void *)(sg + link_off)))
				break;
		}
		len = 0;
		bpf_probe_read_kernel(&len, sizeof(len), (void *)(sg + len_off));
		bytes += len;
		if (!i) {
			*page = link & ~SG_PAGE_LINK_MASK;
			*len0 = len;
		}
		if (link & SG_END)
			break;
		sg += size;
	}
	fb_react.bytes = bytes;
}

/*
 * The batch's zone and order from its first page (struct hs_fb_span):
 * order from the length (4 KiB pages, x86-64), zone from the pfn.
 */
static __always_inline void fb_where(__u64 page, __u32 len)
{
	__u64 base = HS_FB_VMEMMAP_L4, pfn, pages = len >> 12;
	__u32 i, order = 0;

	fb_react.zo_known = 0;
	if (!page || !pages || (pages & (pages - 1)))
		return;
	for (i = 0; i < HS_MAX_ORDERS; i++) {
		if (pages >> i == 1) {
			order = i;
			break;
		}
	}
	if (i == HS_MAX_ORDERS)
		return;
	if (fb_vmemmap_addr &&
	    bpf_probe_read_kernel(&base, sizeof(base), (void *)fb_vmemmap_addr))
		return;
	/*
	 * Without CONFIG_SPARSEMEM_VMEMMAP struct pages sit in the direct
	 * map, below any vmemmap base: such batches stay unattributed.
	 */
	if (page < base)
		return;
	pfn = (page - base) / bpf_core_type_size(struct page);
	for (i = 0; i < HS_FB_MAX_SPANS; i++) {
		if (!fb_spans[i].hi_pfn)
			break;
		if (pfn >= fb_spans[i].lo_pfn && pfn < fb_spans[i].hi_pfn &&
		    fb_spans[i].zone < HS_MAX_ZONES) {
			fb_react.zone = fb_spans[i].zone;
			fb_react.order = order;
			fb_react.zo_known = 1;
			return;
		}
	}
}

/* A kernel pointer as a plain number, for arithmetic the verifier allows. */
static __always_inline __u64 addr_of(const void *p)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &p);
	return v;
}

static __always_inline void fb_pass_enter(__u64 work)
{
	/* work is &prdev->work.work; a delayed_work starts with its work. */
	fb_prdev = work - bpf_core_field_offset(struct page_reporting_dev_info,
						work);
	__builtin_memset(&fb_pass, 0, sizeof(fb_pass));
	fb_pass.start_ns = bpf_ktime_get_ns();
	fb_pass.active = 1;
}

static __always_inline void fb_pass_exit(void)
{
	__u64 now = bpf_ktime_get_ns();
	int state;
	EVENT(e, HS_EV_PASS);

	if (!fb_pass.active)
		return;		/* attached in the middle of a pass */
	fb_pass.active = 0;
	e.a = fb_pass.batches;
	e.bytes = fb_pass.bytes;
	e.c64 = fb_pass.failed_bytes;
	e.ns = now - fb_pass.start_ns;
	/* Another request came during the pass: it is queued again. */
	if (fb_prdev &&
	    !bpf_probe_read_kernel(&state, sizeof(state),
				   (void *)(fb_prdev + bpf_core_field_offset(
				   struct page_reporting_dev_info, state))))
		e.flag = state == PAGE_REPORTING_REQUESTED;
	emit(&e);
}

static __always_inline void fb_react_enter(__u64 sg, unsigned int nents)
{
	__u64 page;
	__u32 len;

	sg_walk(sg, nents, &page, &len);
	fb_where(page, len);
	fb_react.nents = nents;
	fb_react.start_ns = bpf_ktime_get_ns();
	fb_react.active = 1;
}

static __always_inline void fb_react_exit(int err)
{
	__u64 now = bpf_ktime_get_ns();
	EVENT(e, HS_EV_REACT);

	if (!fb_react.active)
		return;
	fb_react.active = 0;
	e.a = fb_react.nents;
	e.bytes = fb_react.bytes;
	e.ns = now - fb_react.start_ns;
	e.err = err;
	if (fb_react.zo_known) {
		e.zone = fb_react.zone;
		e.order = fb_react.order;
		e.flag = HS_REACT_ZO;
	}
	if (fb_pass.active) {
		fb_pass.batches++;
		if (err)
			fb_pass.failed_bytes += e.bytes;
		else
			fb_pass.bytes += e.bytes;
	}
	emit(&e);
}

SEC("fentry/page_reporting_process")
int BPF_PROG(fb_pass_fentry, struct work_struct *work)
{
	fb_pass_enter(addr_of(work));
	return 0;
}

SEC("fexit/page_reporting_process")
int BPF_PROG(fb_pass_fexit, struct work_struct *work)
{
	fb_pass_exit();
	return 0;
}

SEC("fentry/virtballoon_free_page_report")
int BPF_PROG(fb_react_fentry, struct page_reporting_dev_info *pr,
	     struct scatterlist *sg, unsigned int nents)
{
	fb_react_enter(addr_of(sg), nents);
	return 0;
}

SEC("fexit/virtballoon_free_page_report")
int BPF_PROG(fb_react_fexit, struct page_reporting_dev_info *pr,
	     struct scatterlist *sg, unsigned int nents, int ret)
{
	fb_react_exit(ret);
	return 0;
}

SEC("kprobe/page_reporting_process")
int BPF_KPROBE(fb_pass_kprobe, struct work_struct *work)
{
	fb_pass_enter(addr_of(work));
	return 0;
}

SEC("kretprobe/page_reporting_process")
int BPF_KRETPROBE(fb_pass_kretprobe)
{
	fb_pass_exit();
	return 0;
}

SEC("kprobe/virtballoon_free_page_report")
int BPF_KPROBE(fb_react_kprobe, struct page_reporting_dev_info *pr,
	       struct scatterlist *sg, unsigned int nents)
{
	fb_react_enter(addr_of(sg), nents);
	return 0;
}

SEC("kretprobe/virtballoon_free_page_report")
int BPF_KRETPROBE(fb_react_kretprobe, int ret)
{
	fb_react_exit(ret);
	return 0;
}

/*
 * Workqueue mode: kernels with neither the page_hinting events nor
 * fentry nor kprobes still run each pass as the work item
 * page_reporting_process. tp_btf reads work->func directly, without
 * bpf_probe_read_kernel() (refused under lockdown=confidentiality) and
 * without tracefs. User space sets wq_func from /proc/kallsyms.
 */
const volatile __u64 wq_func = 0;
struct hs_wq_pass wq_pass = {};

SEC("tp_btf/workqueue_execute_start")
int BPF_PROG(wq_pass_start, struct work_struct *work)
{
	if (!wq_func || (__u64)work->func != wq_func)
		return 0;
	wq_pass.work = (__u64)work;
	wq_pass.start_ns = bpf_ktime_get_ns();
	wq_pass.active = 1;
	return 0;
}

/*
 * The work item may be freed by its function, so the end is matched by
 * its address alone (older kernels' event has no function argument).
 * The workqueue never runs one work item twice at once.
 */
SEC("tp_btf/workqueue_execute_end")
int BPF_PROG(wq_pass_end, struct work_struct *work)
{
	__u64 now = bpf_ktime_get_ns();
	EVENT(e, HS_EV_PASS);

	if (!wq_pass.active || wq_pass.work != (__u64)work)
		return 0;
	wq_pass.active = 0;
	e.ns = now - wq_pass.start_ns;
	emit(&e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
