/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat host: host huge pages split by the guest's reports.
 *
 * A discard that covers part of a 2 MiB unit mapped by one host THP (a
 * PMD) splits it: the rest of the unit is then mapped by 4 KiB PTEs,
 * and stays so. The BPF side sets a unit's bit in the `cut` bitmap when
 * a successful discard covers part of it; every interval user space
 * takes those bits, then asks the kernel which units are PMD-mapped now
 * (PAGEMAP_SCAN, PAGE_IS_HUGE, Linux 6.7+): a cut unit that was PMD-mapped
 * at the previous scan and is not now was split.
 */
#ifndef __HINTSTAT_HOST_THP_H
#define __HINTSTAT_HOST_THP_H

#include <stdbool.h>
#include "host.h"

struct hh_thp {
	int pagemap_fd;			/* the VMM's pagemap, not owned */
	unsigned long long *cut;	/* the BPF bitmap, mmapped */
	size_t cut_len;
	unsigned long long words;	/* of cut, and of huge */
	unsigned long long *huge;	/* PMD-mapped at the last scan */
	bool ok;
	char why[160];
	unsigned long long splits;	/* since attach */
};

/*
 * Map the cut bitmap (cut_fd, words long) and take a first look at which
 * units are PMD-mapped. t->ok, or t->why says why the figure is unknown.
 */
void hh_thp_open(struct hh_thp *t, int cut_fd, unsigned long long words,
		 int pagemap_fd, const struct hh_range *ranges, int n);
/* One interval: the splits since the last scan added to t->splits. */
void hh_thp_scan(struct hh_thp *t, const struct hh_range *ranges, int n);
void hh_thp_close(struct hh_thp *t);

#endif /* __HINTSTAT_HOST_THP_H */
