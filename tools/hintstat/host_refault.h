/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat host: the refault figure. Discarded guest RAM pages (a bitmap
 * the BPF side sets at each discard's sys_exit, mmapped here) that the
 * VMM's page tables map again (/proc/PID/pagemap). ok is false, and why
 * says why, when pagemap or the bitmap cannot be read: the figure is then
 * unknown ("-", null), never 0.
 */
#ifndef __HINTSTAT_HOST_REFAULT_H
#define __HINTSTAT_HOST_REFAULT_H

#include <stdbool.h>
#include <stddef.h>
#include "host.h"

struct hh_refault {
	int pid;
	int fd;				/* /proc/PID/pagemap */
	unsigned long long *bm;		/* the bitmap, mmapped */
	size_t bm_len;			/* its mapping's length */
	unsigned long long words;	/* bitmap words */
	bool ok;
	char why[160];
	unsigned long long total;	/* bytes resident again since attach */
	unsigned long long ns, pages;	/* the latest scan's cost */
};

/*
 * Map the bitmap (bitmap_fd, words long) and open pid's pagemap, reading
 * the entry of va (guest RAM) once: rs->ok, or why not (said on stderr).
 */
void hh_refault_open(struct hh_refault *rs, int pid, int bitmap_fd,
		     unsigned long long words, unsigned long long va);
/*
 * One scan of the marked pages of ranges[0..n) below bitmap page limit,
 * timed: rs->total grows by the bytes resident again. 0, or -errno when
 * pagemap could not be read (a VMM that just exited reads empty: the
 * caller tells that from a failure with hh_refault_fail).
 */
int hh_refault_scan(struct hh_refault *rs, const struct hh_range *ranges,
		    int n, unsigned long long limit);
/* The figure is unknown from now on: err from hh_refault_scan. */
void hh_refault_fail(struct hh_refault *rs, int err);
void hh_refault_close(struct hh_refault *rs);

#endif /* __HINTSTAT_HOST_REFAULT_H */
