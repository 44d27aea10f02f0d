/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat host's aggregator: how one host event (host.h) updates the
 * counters and histograms. The BPF side (bpf/hintstat_host.bpf.c) runs
 * it live and "hintstat report" runs it on a record file, so the two
 * cannot disagree. Plain C for both compilers, as aggregate.h.
 */
#ifndef __HINTSTAT_HOST_AGGREGATE_H
#define __HINTSTAT_HOST_AGGREGATE_H

#include "host.h"
#include "aggregate.h"

static __always_inline void hh_account(struct hh_state *st,
				       const struct hs_event *e)
{
	struct hh_totals *t = &st->totals;

	switch (e->type) {
	case HH_EV_DISCARD:
		HS_ADD(&t->madv_calls, 1);
		HS_ADD(&t->madv_bytes, e->bytes);
		if (e->a == HH_MADV_DONTNEED)
			HS_ADD(&t->madv_dontneed_bytes, e->bytes);
		else if (e->a == HH_MADV_REMOVE)
			HS_ADD(&t->madv_remove_bytes, e->bytes);
		else
			HS_ADD(&t->madv_free_bytes, e->bytes);
		hs_hist_add(&st->hists[HH_HIST_MADVISE], e->ns);
		break;
	case HH_EV_PUNCH:
		HS_ADD(&t->punch_calls, 1);
		HS_ADD(&t->punch_bytes, e->bytes);
		hs_hist_add(&st->hists[HH_HIST_PUNCH], e->ns);
		break;
	case HH_EV_OUTSIDE:
		HS_ADD(&t->outside_calls, 1);
		HS_ADD(&t->outside_bytes, e->bytes);
		break;
	case HH_EV_PUNCH_OTHER:
		HS_ADD(&t->punch_other_calls, 1);
		HS_ADD(&t->punch_other_bytes, e->bytes);
		break;
	case HH_EV_ERROR:
		HS_ADD(&t->errors, 1);
		break;
	case HH_EV_FAULT:
		HS_ADD(&t->faults, 1);
		break;
	case HH_EV_REFAULT:
		HS_ADD(&t->refault_bytes, e->bytes);
		break;
	case HH_EV_KVM_FAULT:
		HS_ADD(&t->kvm_faults, 1);
		break;
	case HH_EV_UNTRACKED:
		HS_ADD(&t->untracked_pages, e->bytes);
		break;
	case HH_EV_THP_SPLIT:
		HS_ADD(&t->thp_splits, e->bytes);
		break;
	}
}

#endif /* __HINTSTAT_HOST_AGGREGATE_H */
