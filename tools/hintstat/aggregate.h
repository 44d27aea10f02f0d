/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat's aggregator: how one event updates the counters, log2
 * histograms and per (zone, order) table. The same code runs in BPF
 * (bpf/hintstat.bpf.c, live, on the kernel's events) and in user space
 * (record.c, when "hintstat report" replays a record file), so the two
 * cannot disagree. Plain C both compilers take: no libc, no BPF helper,
 * bounded indices the verifier can follow, atomic adds (the BPF side
 * may run on several CPUs; in user space they are merely adds).
 */
#ifndef __HINTSTAT_AGGREGATE_H
#define __HINTSTAT_AGGREGATE_H

#include "hintstat.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define HS_ADD(p, v) __sync_fetch_and_add(p, v)

/*
 * v & (n - 1), n a power of two, for an index already known in range:
 * in BPF an AND the compiler cannot drop or move to a copy of v, so the
 * verifier sees the bound on the register used for the access.
 */
#ifdef __bpf__
#define HS_BOUND(v, n) ({						\
		unsigned long long __b = (v);				\
		asm volatile("%[b] &= %[m]" : [b] "+r"(__b)		\
			     : [m] "i"((n) - 1));			\
		__b;							\
	})
#else
#define HS_BOUND(v, n) ((v) & ((n) - 1))
#endif

/*
 * Histogram slot of v: 0 for 0, else floor(log2(v)) + 1, capped at the
 * last slot. Branch-light floor(log2()) for the verifier.
 */
static __always_inline unsigned int hs_slot_of(unsigned long long v)
{
	unsigned int x, r = 0, s;

	if (!v)
		return 0;
	x = (unsigned int)v;
	if (v >> 32) {
		x = (unsigned int)(v >> 32);
		r = 32;
	}
	s = (x > 0xFFFF) << 4; x >>= s; r |= s;
	s = (x > 0xFF) << 3; x >>= s; r |= s;
	s = (x > 0xF) << 2; x >>= s; r |= s;
	s = (x > 0x3) << 1; x >>= s; r |= s;
	r |= (x >> 1);
	r++;
	return r < HS_MAX_SLOTS ? r : HS_MAX_SLOTS - 1;
}

static __always_inline void hs_hist_add(struct hs_hist *h,
					unsigned long long v)
{
	unsigned int slot = hs_slot_of(v);

	if (slot >= HS_MAX_SLOTS)
		return;
	HS_ADD(&h->slots[slot], 1);
	HS_ADD(&h->count, 1);
	HS_ADD(&h->sum, v);
}

/* A histogram, and its per-zone copy when the zone is known. */
static __always_inline void hs_hist_zone_add(struct hs_state *st, int id,
					     unsigned int zone,
					     unsigned long long v)
{
	if (id < 0 || id >= HS_NR_HISTS)
		return;
	hs_hist_add(&st->hists[id], v);
	if (zone < HS_MAX_ZONES)
		hs_hist_add(&st->zone_hists[HS_BOUND(zone, HS_MAX_ZONES)][id], v);
}

/* A reported block left its free list (page_hinting_reuse). */
static __always_inline void hs_account_reuse(struct hs_totals *t,
					     const struct hs_event *e)
{
	HS_ADD(&t->reuses, 1);
	HS_ADD(&t->reuse_allocated_bytes, e->c64);
	switch (e->a) {
	case HS_REUSE_ALLOC:
		HS_ADD(&t->reuse_alloc_bytes, e->bytes);
		break;
	case HS_REUSE_MERGE:
		HS_ADD(&t->reuse_merge_bytes, e->bytes);
		break;
	case HS_REUSE_ISOLATE:
		HS_ADD(&t->reuse_isolate_bytes, e->bytes);
		break;
	case HS_REUSE_OFFLINE:
		HS_ADD(&t->reuse_offline_bytes, e->bytes);
		break;
	default:
		HS_ADD(&t->out_of_range, 1);
	}
}

/*
 * Account one event (struct hs_event, hintstat.h). fill remembers the
 * batch's zone and order for the react that reports it. The fallback
 * modes have no fill: their react carries its zone and order when the
 * BPF side could tell them (HS_REACT_ZO), else it is unattributed.
 */
static __always_inline void hs_account(struct hs_state *st,
				       const struct hs_event *e)
{
	struct hs_totals *t = &st->totals;
	struct hs_batch_ctx *c = &st->cur;
	struct hs_zo_stats *s;
	unsigned int idx;

	switch (e->type) {
	case HS_EV_REQUEST:
		HS_ADD(&t->requests, 1);
		if (e->flag)
			HS_ADD(&t->requests_queued, 1);
		break;
	case HS_EV_FILL:
		HS_ADD(&t->fills, 1);
		if (e->zone < HS_MAX_ZONES && e->order < HS_MAX_ORDERS) {
			c->zone = e->zone;
			c->order = e->order;
			c->valid = 1;
			c->last_zone = e->zone;
		} else {
			c->valid = 0;
			c->last_zone = HS_MAX_ZONES;
			HS_ADD(&t->out_of_range, 1);
		}
		hs_hist_zone_add(st, HS_HIST_FILL_LOCK, c->last_zone, e->ns);
		break;
	case HS_EV_REACT:
		HS_ADD(&t->reacts, 1);
		if (e->err)
			HS_ADD(&t->react_errors, 1);
		/* The fallback has no fill: its react says where it is. */
		if (!c->valid && (e->flag & HS_REACT_ZO) &&
		    e->zone < HS_MAX_ZONES && e->order < HS_MAX_ORDERS) {
			c->zone = e->zone;
			c->order = e->order;
			c->valid = 1;
		}
		hs_hist_zone_add(st, HS_HIST_REACT,
				 c->valid ? c->zone : HS_MAX_ZONES, e->ns);
		if (c->valid) {
			/* fill checked zone < HS_MAX_ZONES, order < HS_MAX_ORDERS */
			idx = HS_BOUND(c->zone * HS_MAX_ORDERS + c->order,
				       HS_MAX_ZONES * HS_MAX_ORDERS);
			s = &st->zo[idx];
			if (e->err)
				HS_ADD(&s->failed_bytes, e->bytes);
			else
				HS_ADD(&s->bytes, e->bytes);
			HS_ADD(&s->entries, e->a);
			HS_ADD(&s->batches, 1);
			c->valid = 0;
		} else {
			HS_ADD(&t->unattributed, 1);
		}
		break;
	case HS_EV_DRAIN:
		HS_ADD(&t->drains, 1);
		HS_ADD(&t->drain_reported, e->b);
		HS_ADD(&t->drain_merged, e->c);
		hs_hist_zone_add(st, HS_HIST_DRAIN_LOCK, c->last_zone, e->ns);
		break;
	case HS_EV_CYCLE:
		HS_ADD(&t->cycles, 1);
		if (e->flag)
			HS_ADD(&t->cycles_budget_exhausted, 1);
		break;
	case HS_EV_PASS:
		HS_ADD(&t->passes, 1);
		HS_ADD(&t->pass_batches, e->a);
		HS_ADD(&t->pass_bytes, e->bytes);
		HS_ADD(&t->pass_failed_bytes, e->c64);
		if (e->flag)
			HS_ADD(&t->passes_requeued, 1);
		if (e->err)
			HS_ADD(&t->passes_err, 1);
		hs_hist_zone_add(st, HS_HIST_PASS, HS_MAX_ZONES, e->ns);
		/* 0 in the fallback modes, whose report hides this histogram */
		hs_hist_zone_add(st, HS_HIST_PASS_MAX_LOCK, HS_MAX_ZONES, e->b);
		break;
	case HS_EV_REUSE:
		hs_account_reuse(t, e);
		break;
	}
}

#endif /* __HINTSTAT_AGGREGATE_H */
