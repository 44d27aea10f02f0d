// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat host: what a VMM does with the free pages its guest reports.
 *
 * Syscall tracepoints only (fentry and kprobes are not available on every
 * host): madvise(MADV_DONTNEED|MADV_REMOVE|MADV_FREE) and
 * fallocate(FALLOC_FL_PUNCH_HOLE) by the VMM's threads, timed from
 * sys_enter to sys_exit, counted inside the guest-RAM mappings user space
 * found in /proc/PID/maps (a VMM also discards its own heap: counted
 * apart). A bitmap of the guest RAM pages remembers what was discarded;
 * user space mmaps it and reads the VMM's /proc/PID/pagemap for the
 * marked pages: those present again are the refaults (host.c). Faults
 * alone cannot tell: one fault maps a whole THP, and under KVM guest
 * accesses never reach exceptions:page_fault_user.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "host_aggregate.h"

/* Set by user space before load. */
const volatile __u32 vmm_tgid = 0;
/* hintstat host record: every event to the ring buffer too. */
const volatile bool stream_events = false;

/* Set by user space after load, before attach. */
struct hh_range ranges[HH_MAX_RANGES] = {};
/* The VMM's fds on RAM files, and the file (hh_range.file) of each. */
int ram_fds[HH_MAX_FDS] = {};
__u32 ram_fd_file[HH_MAX_FDS] = {};
__u64 bitmap_pages = 0;

struct hh_state hst = {};
/* Ring buffer records that could not be reserved. */
__u64 dropped_events = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* The syscall tracepoints' records (tracefs format, stable ABI). */
struct hh_sys_enter {
	__u64 common;
	long nr;
	unsigned long args[6];
};

struct hh_sys_exit {
	__u64 common;
	long nr;
	long ret;
};

struct hh_page_fault {
	__u64 common;
	unsigned long address;
	unsigned long ip;
	unsigned long error_code;
};

enum { HH_CALL_MADVISE, HH_CALL_PUNCH };

/* A discard call between its sys_enter and its sys_exit, by thread. */
struct hh_pending {
	__u64 ts;
	__u64 start;	/* madvise: address; fallocate: file offset */
	__u64 len;
	__u32 call;
	__u32 advice;	/* madvise: behavior; fallocate: its RAM file, 0: none */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct hh_pending);
} pending SEC(".maps");

/*
 * One bit per guest RAM page, set when discarded; sized by user space,
 * which mmaps it and clears the bits of pages it finds resident again.
 * Both sides change words with atomic ops only.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} discarded SEC(".maps");

/*
 * One bit per 2 MiB unit of guest RAM, set when a discard covered part
 * of it (a host THP there is split); user space takes the bits every
 * interval and asks the kernel which units are still PMD-mapped.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cut SEC(".maps");

/* Account an event and, when recording, copy it to the ring buffer. */
static __always_inline void emit(__u32 type, __u64 bytes, __u64 ns, __u32 a,
				 int err, __u8 flag)
{
	struct hs_event e, *r;

	__builtin_memset(&e, 0, sizeof(e));
	e.ts_ns = bpf_ktime_get_ns();
	e.type = type;
	e.bytes = bytes;
	e.ns = ns;
	e.a = a;
	e.err = err;
	e.flag = flag;
	hh_account(&hst, &e);
	if (!stream_events)
		return;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&dropped_events, 1);
		return;
	}
	__builtin_memcpy(r, &e, sizeof(*r));
	bpf_ringbuf_submit(r, 0);
}

static __always_inline bool is_vmm(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == vmm_tgid;
}

static __always_inline void begin(__u32 call, __u64 start, __u64 len,
				  __u32 advice)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct hh_pending p = {
		.ts = bpf_ktime_get_ns(),
		.start = start,
		.len = len,
		.call = call,
		.advice = advice,
	};

	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
}

struct mark_ctx {
	__u64 p0;	/* first page, bitmap index */
	__u64 p1;	/* one past the last */
};

/* bpf_loop callback: set the bits of word p0 / 64 + i within [p0, p1). */
static long mark_word(__u64 i, struct mark_ctx *m)
{
	__u64 w = (m->p0 >> 6) + i, lo, hi, mask;
	__u32 key = (__u32)w;
	__u64 *word;

	lo = w << 6;
	hi = lo + 64;
	if (lo < m->p0)
		lo = m->p0;
	if (hi > m->p1)
		hi = m->p1;
	if (lo >= hi)
		return 1;
	mask = (hi - lo == 64) ? ~0ULL : ((1ULL << (hi - lo)) - 1) << (lo & 63);
	word = bpf_map_lookup_elem(&discarded, &key);
	if (word)
		__sync_fetch_and_or(word, mask);
	return 0;
}

/* Mark the whole pages of [lo, hi), inside range r, as discarded. */
static __always_inline void mark_pages(const struct hh_range *r, __u64 lo,
				       __u64 hi)
{
	struct mark_ctx m;

	/* Whole pages only: a partial page is not dropped. */
	m.p0 = r->first_page + ((lo - r->lo + (1 << HH_PAGE_SHIFT) - 1)
				>> HH_PAGE_SHIFT);
	m.p1 = r->first_page + ((hi - r->lo) >> HH_PAGE_SHIFT);
	if (m.p1 > bitmap_pages) {
		emit(HH_EV_UNTRACKED, m.p1 - (m.p0 > bitmap_pages ?
					       m.p0 : bitmap_pages),
		     0, 0, 0, 0);
		m.p1 = bitmap_pages;
	}
	if (m.p0 < m.p1)
		bpf_loop(((m.p1 - 1) >> 6) - (m.p0 >> 6) + 1, mark_word, &m, 0);
}

static __always_inline void cut_unit(const struct hh_range *r, __u64 addr)
{
	__u64 u = r->first_unit + (addr >> HH_UNIT_SHIFT) -
		  (r->lo >> HH_UNIT_SHIFT);
	__u32 key = (__u32)(u >> 6);
	__u64 *word = bpf_map_lookup_elem(&cut, &key);

	if (word)
		__sync_fetch_and_or(word, 1ULL << (u & 63));
}

/* [lo, hi) of range r was discarded: mark the 2 MiB units it cut into. */
static __always_inline void mark_cut(const struct hh_range *r, __u64 lo,
				     __u64 hi)
{
	__u64 part = (1ULL << HH_UNIT_SHIFT) - 1;

	if (lo & part)
		cut_unit(r, lo);
	if (hi & part)
		cut_unit(r, hi - 1);
}

enum { HH_MARK_PAGES = 1, HH_MARK_CUT = 2 };

/* Bytes of [start, start + len) inside guest RAM; marked as mark says. */
static __always_inline __u64 account_range(__u64 start, __u64 len, int mark)
{
	__u64 inside = 0, lo, hi;
	int i;

	for (i = 0; i < HH_MAX_RANGES; i++) {
		struct hh_range *r = &ranges[i];

		if (r->hi <= r->lo)
			continue;
		lo = start > r->lo ? start : r->lo;
		hi = start + len < r->hi ? start + len : r->hi;
		if (lo >= hi)
			continue;
		inside += hi - lo;
		if (mark & HH_MARK_PAGES)
			mark_pages(r, lo, hi);
		if (mark & HH_MARK_CUT)
			mark_cut(r, lo, hi);
	}
	return inside;
}

/*
 * A hole punched in RAM file `file` at [off, off + len): mark the pages of
 * every mapping of that file that shows that part of it (a file range
 * maps to an address range through the mapping's file offset).
 */
static __always_inline void mark_file_range(__u64 off, __u64 len, __u32 file)
{
	__u64 lo, hi, end = off + len;
	int i;

	for (i = 0; i < HH_MAX_RANGES; i++) {
		struct hh_range *r = &ranges[i];
		__u64 f1 = r->file_off + (r->hi - r->lo);

		if (r->hi <= r->lo || r->file != file)
			continue;
		lo = off > r->file_off ? off : r->file_off;
		hi = end < f1 ? end : f1;
		if (lo < hi) {
			mark_pages(r, r->lo + (lo - r->file_off),
				   r->lo + (hi - r->file_off));
			mark_cut(r, r->lo + (lo - r->file_off),
				 r->lo + (hi - r->file_off));
		}
	}
}

SEC("tracepoint/syscalls/sys_enter_madvise")
int hh_madvise_enter(struct hh_sys_enter *ctx)
{
	__u32 advice = (__u32)ctx->args[2];

	if (!is_vmm())
		return 0;
	if (advice != HH_MADV_DONTNEED && advice != HH_MADV_REMOVE &&
	    advice != HH_MADV_FREE)
		return 0;
	begin(HH_CALL_MADVISE, ctx->args[0], ctx->args[1], advice);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_fallocate")
int hh_fallocate_enter(struct hh_sys_enter *ctx)
{
	int fd = (int)ctx->args[0], i;
	__u32 ram = 0;

	if (!is_vmm() || !(ctx->args[1] & HH_FALLOC_PUNCH_HOLE))
		return 0;
	/* ram: the RAM file fd is open on (1..), 0 for any other file. */
	for (i = 0; i < HH_MAX_FDS; i++)
		if (ram_fd_file[i] && ram_fds[i] == fd)
			ram = ram_fd_file[i];
	begin(HH_CALL_PUNCH, ctx->args[2], ctx->args[3], ram);
	return 0;
}

/*
 * Mark what a call discarded, at sys_exit and not at sys_enter: user
 * space counts a marked page that is present as resident again, and a
 * page marked at sys_enter is still present until the call zaps it. A
 * fault between the zap and sys_exit is not lost either way: its page
 * is present when user space looks. madvise can fail with ENOMEM after
 * zapping the mapped part of its range: marked too (a page it did not
 * zap is then counted once as resident again); any other error zapped
 * nothing. MADV_FREE is not marked: its pages stay mapped until reclaim
 * takes them, so present would not mean refaulted.
 */
static __always_inline void mark_discarded(const struct hh_pending *p,
					   long ret)
{
	if (p->call == HH_CALL_PUNCH) {
		if (!ret && p->advice)
			mark_file_range(p->start, p->len, p->advice);
		return;
	}
	/* MADV_FREE splits a huge page it covers in part, all the same. */
	if (!ret || ret == -HH_ENOMEM)
		account_range(p->start, p->len, HH_MARK_CUT |
			      (p->advice != HH_MADV_FREE ? HH_MARK_PAGES : 0));
}

static __always_inline void end(struct hh_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct hh_pending *p;
	__u64 ns, inside;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return;
	ns = bpf_ktime_get_ns() - p->ts;
	mark_discarded(p, ctx->ret);
	/* A call that failed discarded nothing, inside guest RAM or out. */
	if (ctx->ret) {
		emit(HH_EV_ERROR, p->len, ns, p->advice, ctx->ret, 0);
		goto out;
	}
	if (p->call == HH_CALL_PUNCH) {
		emit(p->advice ? HH_EV_PUNCH : HH_EV_PUNCH_OTHER, p->len, ns,
		     0, 0, 0);
		goto out;
	}
	inside = account_range(p->start, p->len, 0);
	if (inside < p->len)
		emit(HH_EV_OUTSIDE, p->len - inside, ns, p->advice, 0, 0);
	if (inside)
		emit(HH_EV_DISCARD, inside, ns, p->advice, 0, 0);
out:
	bpf_map_delete_elem(&pending, &tid);
}

SEC("tracepoint/syscalls/sys_exit_madvise")
int hh_madvise_exit(struct hh_sys_exit *ctx)
{
	if (is_vmm())
		end(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_fallocate")
int hh_fallocate_exit(struct hh_sys_exit *ctx)
{
	if (is_vmm())
		end(ctx);
	return 0;
}

/*
 * A user page fault of the VMM on guest RAM. Not a refault count: one
 * fault may map a 2 MiB THP, and KVM's faults never come here.
 */
SEC("tracepoint/exceptions/page_fault_user")
int hh_page_fault(struct hh_page_fault *ctx)
{
	__u64 addr = ctx->address;
	int i;

	if (!is_vmm())
		return 0;
	for (i = 0; i < HH_MAX_RANGES; i++) {
		struct hh_range *r = &ranges[i];

		if (addr >= r->lo && addr < r->hi) {
			emit(HH_EV_FAULT, 1 << HH_PAGE_SHIFT, 0, 0, 0, 0);
			return 0;
		}
	}
	return 0;
}

/* Under KVM, guest accesses fault in the kernel, not in user mode. */
SEC("tracepoint/kvm/kvm_page_fault")
int hh_kvm_fault(void *ctx)
{
	if (is_vmm())
		emit(HH_EV_KVM_FAULT, 0, 0, 0, 0, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
