// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* hintstat host: host huge pages split by discards (see host_thp.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "host_thp.h"

/*
 * PAGEMAP_SCAN (include/uapi/linux/fs.h, Linux 6.7): Debian 12's headers
 * predate it, so its ABI is spelled out here.
 */
struct hh_page_region {
	unsigned long long start, end, categories;
};

struct hh_pm_scan_arg {
	unsigned long long size, flags, start, end, walk_end, vec, vec_len,
			   max_pages, category_inverted, category_mask,
			   category_anyof_mask, return_mask;
};

#define HH_PAGEMAP_SCAN	_IOWR('f', 16, struct hh_pm_scan_arg)
#define HH_PAGE_IS_PRESENT	(1ULL << 3)
#define HH_PAGE_IS_HUGE		(1ULL << 6)
#define HH_SCAN_VEC		256

static void thp_off(struct hh_thp *t, const char *what, int err)
{
	snprintf(t->why, sizeof(t->why), "%s%s%s%s", what, err ? ": " : "",
		 err ? strerror(err) : "", err == ENOTTY || err == EINVAL ?
		 " (PAGEMAP_SCAN needs Linux 6.7 or later)" : "");
	t->ok = false;
	fprintf(stderr, "hintstat: huge page splits unknown: %s\n", t->why);
}

static void set_unit(unsigned long long *bm, unsigned long long u)
{
	bm[u >> 6] |= 1ULL << (u & 63);
}

/* Set in huge[] the units of range r that are PMD-mapped now; -errno. */
static int scan_huge(struct hh_thp *t, const struct hh_range *r,
		     unsigned long long *huge)
{
	struct hh_page_region vec[HH_SCAN_VEC];
	struct hh_pm_scan_arg a = {
		.size = sizeof(a), .start = r->lo, .end = r->hi,
		.vec = (unsigned long long)(unsigned long)vec,
		.vec_len = HH_SCAN_VEC,
		.category_mask = HH_PAGE_IS_HUGE | HH_PAGE_IS_PRESENT,
		.return_mask = HH_PAGE_IS_HUGE,
	};
	unsigned long long base = r->lo >> HH_UNIT_SHIFT, u, lim;
	long n, i;

	lim = t->words * 64;
	do {
		n = ioctl(t->pagemap_fd, HH_PAGEMAP_SCAN, &a);
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			for (u = vec[i].start >> HH_UNIT_SHIFT;
			     u < vec[i].end >> HH_UNIT_SHIFT; u++)
				if (r->first_unit + u - base < lim)
					set_unit(huge, r->first_unit + u - base);
		/* A full vector: go on from where the walk stopped. */
		a.start = a.walk_end;
	} while (n == HH_SCAN_VEC && a.start < a.end);
	return 0;
}

/* huge[] for every range; false (and the figure off) on an error. */
static bool scan_all(struct hh_thp *t, const struct hh_range *ranges, int n,
		     unsigned long long *huge)
{
	int i, err;

	memset(huge, 0, t->words * sizeof(*huge));
	for (i = 0; i < n; i++) {
		if (ranges[i].hi <= ranges[i].lo)
			continue;
		err = scan_huge(t, &ranges[i], huge);
		if (err) {
			thp_off(t, "PAGEMAP_SCAN of the VMM's pagemap", -err);
			return false;
		}
	}
	return true;
}

void hh_thp_open(struct hh_thp *t, int cut_fd, unsigned long long words,
		 int pagemap_fd, const struct hh_range *ranges, int n)
{
	long pg = sysconf(_SC_PAGESIZE);

	memset(t, 0, sizeof(*t));
	t->pagemap_fd = pagemap_fd;
	t->words = words;
	if (pagemap_fd < 0) {
		thp_off(t, "the VMM's pagemap cannot be read", 0);
		return;
	}
	t->cut_len = (words * sizeof(*t->cut) + pg - 1) / pg * pg;
	t->cut = mmap(NULL, t->cut_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      cut_fd, 0);
	t->huge = calloc(words, sizeof(*t->huge));
	if (t->cut == MAP_FAILED || !t->huge) {
		if (t->cut == MAP_FAILED)
			t->cut = NULL;
		thp_off(t, "cannot map the split bitmap", errno);
		return;
	}
	t->ok = scan_all(t, ranges, n, t->huge);
}

void hh_thp_scan(struct hh_thp *t, const struct hh_range *ranges, int n)
{
	unsigned long long *now, cut, w;

	if (!t->ok)
		return;
	now = calloc(t->words, sizeof(*now));
	if (!now)
		return;		/* this interval's splits wait for the next */
	/*
	 * Take the cut bits first: a discard sets its bit at sys_exit, after
	 * the split, so a unit whose bit is taken is seen split below.
	 */
	for (w = 0; w < t->words; w++) {
		cut = __atomic_exchange_n(&t->cut[w], 0, __ATOMIC_SEQ_CST);
		t->huge[w] &= cut;	/* huge before, and cut since */
	}
	if (scan_all(t, ranges, n, now))
		for (w = 0; w < t->words; w++) {
			t->splits += __builtin_popcountll(t->huge[w] & ~now[w]);
			t->huge[w] = now[w];
		}
	free(now);
}

void hh_thp_close(struct hh_thp *t)
{
	if (t->cut)
		munmap(t->cut, t->cut_len);
	free(t->huge);
	t->cut = NULL;
	t->huge = NULL;
}
