/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What free page reporting has reported now, from /proc/kpageflags:
 * the free buddy blocks whose head carries PG_reported. PG_reported
 * aliases PG_uptodate, which a free page never has otherwise, so a
 * reported block is a page with KPF_BUDDY and KPF_UPTODATE. Every
 * kernel with free page reporting (5.7+) and CONFIG_PROC_PAGE_MONITOR
 * has this; no BPF, no events.
 *
 * Only reported blocks are looked for, and they are at least
 * page_reporting_order pages, aligned: one 8-byte read per such stride
 * (2 MiB with order 9), not per page.
 */
#ifndef __HINTSTAT_KPAGEFLAGS_H
#define __HINTSTAT_KPAGEFLAGS_H

#include <stdbool.h>
#include "hintstat.h"

#define HS_KPF_UPTODATE		3	/* include/uapi/linux/kernel-page-flags.h */
#define HS_KPF_BUDDY		10

/* Where to look and what a block can be. */
struct hs_kpf_cfg {
	struct hs_fb_span spans[HS_FB_MAX_SPANS];	/* zones, by pfn */
	int nspans;
	unsigned int min_order;		/* page_reporting_order */
	unsigned int max_order;		/* MAX_PAGE_ORDER */
	unsigned int page_size;
	bool exact;			/* read all of a block, not samples */
};

/* One scan: bytes reported now, by zone index and block order. */
struct hs_kpf_scan {
	unsigned long long bytes[HS_MAX_ZONES * HS_MAX_ORDERS];
	unsigned long long total;	/* sum of bytes[] */
	unsigned long long reads;	/* kpageflags entries read (8 bytes) */
	/* exact: bytes three samples would have added (blocks one up) */
	unsigned long long sampled_excess;
	unsigned long long ns;		/* what the scan cost, CLOCK_MONOTONIC */
	unsigned long long blocks;
};

/*
 * Fill cfg from the zones in zoneinfo, the orders in buddyinfo and the
 * page_reporting_order parameter file (pageblock order 9 when absent:
 * kernels before 5.14 have no parameter). 0, or -errno with *what
 * naming the file that could not be used.
 */
int hs_kpf_setup(struct hs_kpf_cfg *cfg, const char *zoneinfo,
		 const char *buddyinfo, const char *order_param,
		 const char **what);

/* Read page_reporting_order again: it can change at run time. */
void hs_kpf_read_order(struct hs_kpf_cfg *cfg, const char *order_param);

/* Scan kpageflags (an open fd) as cfg says: 0 or -errno. */
int hs_kpf_scan(int fd, const struct hs_kpf_cfg *cfg, struct hs_kpf_scan *out);

#endif /* __HINTSTAT_KPAGEFLAGS_H */
