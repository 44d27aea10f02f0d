// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* hintstat host: the refault figure (see host_refault.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cli.h"
#include "host_refault.h"

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAPPED	(1ULL << 62)
/* Bitmap words per pread: 64 pages each, 32 KiB of pagemap at most. */
#define SCAN_RUN_WORDS	64

/* The refault figure is unknown from now on; say why, once. */
static void refault_off(struct hh_refault *rs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rs->why, sizeof(rs->why), fmt, ap);
	va_end(ap);
	rs->ok = false;
	fprintf(stderr, "hintstat: refaults unknown: %s\n", rs->why);
}

void hh_refault_open(struct hh_refault *rs, int pid, int bitmap_fd,
		     unsigned long long words, unsigned long long va)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned long long e;
	char path[64];
	ssize_t n;

	memset(rs, 0, sizeof(*rs));
	rs->fd = -1;
	rs->pid = pid;
	rs->words = words;
	rs->bm_len = (rs->words * sizeof(*rs->bm) + pg - 1) / pg * pg;
	rs->bm = mmap(NULL, rs->bm_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      bitmap_fd, 0);
	if (rs->bm == MAP_FAILED) {
		rs->bm = NULL;
		refault_off(rs, "cannot mmap the discard bitmap: %s",
			    strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	rs->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (rs->fd < 0) {
		refault_off(rs, "cannot open %s: %s", path, strerror(errno));
		return;
	}
	/* One entry of guest RAM: what the scans will read. */
	n = pread(rs->fd, &e, sizeof(e), (va >> HH_PAGE_SHIFT) * sizeof(e));
	if (n != sizeof(e)) {
		refault_off(rs, "cannot read %s: %s", path,
			    n < 0 ? strerror(errno) : "short read");
		return;
	}
	rs->ok = true;
}

/* The bits of bitmap word w that stand for pages [p0, p1). */
static unsigned long long word_mask(unsigned long long w,
				    unsigned long long p0,
				    unsigned long long p1)
{
	unsigned long long lo = w << 6, hi = lo + 64;

	if (lo < p0)
		lo = p0;
	if (hi > p1)
		hi = p1;
	if (lo >= hi)
		return 0;
	return hi - lo == 64 ? ~0ULL : ((1ULL << (hi - lo)) - 1) << (lo & 63);
}

/*
 * Pages [p0, p1) of range r (at most SCAN_RUN_WORDS words): take their
 * bits, read their pagemap entries in one pread, count those present or
 * swapped as resident again and put back the bits of the others. Taking
 * the bits before reading means a discard racing with the scan is never
 * lost: its sys_exit sets the bit again, or its page reads absent and
 * the bit goes back. 0, or -errno when pagemap could not be read.
 */
static int scan_run(struct hh_refault *rs, const struct hh_range *r,
		    unsigned long long p0, unsigned long long p1)
{
	static unsigned long long pm[SCAN_RUN_WORDS * 64];
	unsigned long long taken[SCAN_RUN_WORDS + 1], w, w0 = p0 >> 6, m, keep;
	unsigned long long va = r->lo + ((p0 - r->first_page) << HH_PAGE_SHIFT);
	size_t len = (p1 - p0) * sizeof(pm[0]);
	bool read_ok;
	ssize_t n;
	int err, b;

	for (w = w0; w <= (p1 - 1) >> 6; w++) {
		m = word_mask(w, p0, p1);
		taken[w - w0] = __atomic_fetch_and(&rs->bm[w], ~m,
						   __ATOMIC_SEQ_CST) & m;
	}
	n = pread(rs->fd, pm, len, (va >> HH_PAGE_SHIFT) * sizeof(pm[0]));
	err = n < 0 ? -errno : 0;
	read_ok = n == (ssize_t)len;
	for (w = w0; w <= (p1 - 1) >> 6; w++) {
		keep = 0;
		for (b = 0; b < 64; b++) {
			if (!(taken[w - w0] & (1ULL << b)))
				continue;
			if (read_ok && (pm[(w << 6) + b - p0] &
					(PM_PRESENT | PM_SWAPPED)))
				rs->total += 1ULL << HH_PAGE_SHIFT;
			else
				keep |= 1ULL << b;
		}
		if (keep)
			__atomic_fetch_or(&rs->bm[w], keep, __ATOMIC_SEQ_CST);
	}
	rs->pages += p1 - p0;
	return read_ok ? 0 : err ? err : -EIO;
}

/* The marked pages of range r, below bitmap page limit, run by run. */
static int scan_range(struct hh_refault *rs, const struct hh_range *r,
		      unsigned long long limit)
{
	unsigned long long end, p0, p1, w, w1;
	int err;

	end = r->first_page + ((r->hi - r->lo) >> HH_PAGE_SHIFT);
	if (end > limit)
		end = limit;
	if (end > rs->words * 64)
		end = rs->words * 64;
	for (p0 = r->first_page; p0 < end; p0 = p1) {
		w = p0 >> 6;
		p1 = (w + 1) << 6;
		if (__atomic_load_n(&rs->bm[w], __ATOMIC_RELAXED) &
		    word_mask(w, p0, end)) {
			/* Only words with bits set: a pread per run of them. */
			for (w1 = w + 1; w1 < w + SCAN_RUN_WORDS &&
			     (w1 << 6) < end &&
			     __atomic_load_n(&rs->bm[w1], __ATOMIC_RELAXED); w1++)
				;
			p1 = w1 << 6;
			err = scan_run(rs, r, p0, p1 < end ? p1 : end);
			if (err)
				return err;
		}
		if (p1 > end)
			p1 = end;
	}
	return 0;
}

int hh_refault_scan(struct hh_refault *rs, const struct hh_range *ranges,
		    int n, unsigned long long limit)
{
	double t0 = hs_now_mono();
	int i, err = 0;

	if (!rs->ok)
		return 0;
	rs->pages = 0;
	for (i = 0; i < n && !err; i++)
		if (ranges[i].hi > ranges[i].lo)
			err = scan_range(rs, &ranges[i], limit);
	rs->ns = (unsigned long long)((hs_now_mono() - t0) * 1e9);
	return err;
}

void hh_refault_fail(struct hh_refault *rs, int err)
{
	refault_off(rs, "cannot read /proc/%d/pagemap: %s", rs->pid,
		    strerror(-err));
}

void hh_refault_close(struct hh_refault *rs)
{
	if (rs->bm)
		munmap(rs->bm, rs->bm_len);
	if (rs->fd >= 0)
		close(rs->fd);
	rs->bm = NULL;
	rs->fd = -1;
}
