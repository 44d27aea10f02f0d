// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reported blocks from /proc/kpageflags (see kpageflags.h).
 *
 * A reported block's head reads KPF_BUDDY | KPF_UPTODATE. Its order is
 * not in kpageflags; it comes from the buddy layout: every page inside
 * a free block reads KPF_BUDDY alone (stable_page_flags() asks
 * is_free_buddy_page() for a page with no references), so a head of
 * order k is of order k + 1 when it is aligned for it and the whole
 * upper half of that range reads as the inside of a free block: a free
 * block of order k starting there would have merged with it. But the
 * head of a smaller free block reads KPF_BUDDY alone too, so an upper
 * half with one page in use anywhere is a reported block of order k
 * next to a few free ones. By default the first, middle and last page
 * of the upper half are sampled: three reads, but on a 24 GiB host with
 * half its memory reported they added 0.3 to 1.3 % of the reported
 * bytes, as the layout moved (make bench-kpf). With cfg->exact every page of the upper half is read,
 * 4 KiB of kpageflags per block of order 10, about 70 us each there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kpageflags.h"
#include "record.h"

#define KPF_BIT(b)	(1ULL << (b))
#define KPF_REPORTED	(KPF_BIT(HS_KPF_BUDDY) | KPF_BIT(HS_KPF_UPTODATE))
#define KPF_FREE_INSIDE	KPF_BIT(HS_KPF_BUDDY)
/* pfn * 8 must fit in an off_t. */
#define KPF_MAX_PFN	(1ULL << 56)

/* Reads of one scan, with the last entry kept: order checks reread it. */
struct kpf_reader {
	int fd;
	unsigned long long pfn, flags, reads;
	unsigned long long sampled_excess;	/* pages, see block_order() */
	bool valid;
};

/* Entries of one read when a whole range is checked (4 KiB). */
#define KPF_CHUNK	512

/* 0, -ENXIO past the last pfn, or -errno. */
static int kpf_read(struct kpf_reader *r, unsigned long long pfn,
		    unsigned long long *flags)
{
	ssize_t n;

	if (r->valid && r->pfn == pfn) {
		*flags = r->flags;
		return 0;
	}
	if (pfn >= KPF_MAX_PFN)
		return -ENXIO;
	r->reads++;
	n = pread(r->fd, flags, sizeof(*flags), (off_t)(pfn * sizeof(*flags)));
	if (n < 0)
		return -errno;
	if (n != sizeof(*flags))
		return -ENXIO;
	r->pfn = pfn;
	r->flags = *flags;
	r->valid = true;
	return 0;
}

static bool free_inside(struct kpf_reader *r, unsigned long long pfn)
{
	unsigned long long f;

	return !kpf_read(r, pfn, &f) && f == KPF_FREE_INSIDE;
}

/* Every page of [pfn, pfn + n) reads as the inside of a free block. */
static bool all_free_inside(struct kpf_reader *r, unsigned long long pfn,
			    unsigned long long n)
{
	unsigned long long buf[KPF_CHUNK], want, i;
	ssize_t got;

	while (n) {
		want = n < KPF_CHUNK ? n : KPF_CHUNK;
		r->reads += want;
		got = pread(r->fd, buf, want * sizeof(*buf),
			    (off_t)(pfn * sizeof(*buf)));
		if (got != (ssize_t)(want * sizeof(*buf)))
			return false;
		for (i = 0; i < want; i++)
			if (buf[i] != KPF_FREE_INSIDE)
				return false;
		pfn += want;
		n -= want;
	}
	return true;
}

/* The order of the reported block whose head is pfn (see the top). */
static unsigned int block_order(struct kpf_reader *r,
				const struct hs_kpf_cfg *cfg,
				unsigned long long pfn, unsigned long long hi)
{
	unsigned int k = cfg->min_order;
	unsigned long long half;

	for (; k < cfg->max_order; k++) {
		half = 1ULL << k;
		if ((pfn & (2 * half - 1)) || pfn + 2 * half > hi)
			break;
		if (!free_inside(r, pfn + 2 * half - 1) ||
		    !free_inside(r, pfn + half + half / 2) ||
		    !free_inside(r, pfn + half))
			break;
		/* Where the samples alone would have gone one order up. */
		if (cfg->exact && !all_free_inside(r, pfn + half, half)) {
			r->sampled_excess += half;
			break;
		}
	}
	return k;
}

static void count_block(struct hs_kpf_scan *out, const struct hs_kpf_cfg *cfg,
			unsigned int zone, unsigned int order)
{
	unsigned long long bytes = (unsigned long long)cfg->page_size << order;

	if (zone < HS_MAX_ZONES && order < HS_MAX_ORDERS)
		out->bytes[zone * HS_MAX_ORDERS + order] += bytes;
	out->total += bytes;
	out->blocks++;
}

/* One zone's span from *next on; *next ends past what was scanned. */
static int scan_span(struct kpf_reader *r, const struct hs_kpf_cfg *cfg,
		     const struct hs_fb_span *s, unsigned long long *next,
		     struct hs_kpf_scan *out)
{
	unsigned long long step = 1ULL << cfg->min_order, pfn, f;
	unsigned int order;
	int err;

	pfn = s->lo_pfn > *next ? s->lo_pfn : *next;
	pfn = (pfn + step - 1) & ~(step - 1);
	while (pfn < s->hi_pfn && pfn + step <= s->hi_pfn) {
		err = kpf_read(r, pfn, &f);
		if (err == -ENXIO)
			break;
		if (err)
			return err;
		if ((f & KPF_REPORTED) != KPF_REPORTED) {
			pfn += step;
			continue;
		}
		order = block_order(r, cfg, pfn, s->hi_pfn);
		count_block(out, cfg, s->zone, order);
		pfn += 1ULL << order;
	}
	*next = pfn > *next ? pfn : *next;
	return 0;
}

int hs_kpf_scan(int fd, const struct hs_kpf_cfg *cfg, struct hs_kpf_scan *out)
{
	struct kpf_reader r = { .fd = fd };
	unsigned long long next = 0;
	struct timespec a, b;
	int i, err = 0;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* Spans in pfn order (hs_kpf_setup sorts them): overlaps count once. */
	for (i = 0; i < cfg->nspans && !err; i++)
		err = scan_span(&r, cfg, &cfg->spans[i], &next, out);
	clock_gettime(CLOCK_MONOTONIC, &b);
	out->reads = r.reads;
	out->sampled_excess = r.sampled_excess * cfg->page_size;
	out->ns = (b.tv_sec - a.tv_sec) * 1000000000ULL + b.tv_nsec - a.tv_nsec;
	return err;
}

/* MAX_PAGE_ORDER: the order columns of "Node 0, zone DMA  1 0 ..." - 1. */
static int max_order_from_buddyinfo(const char *path, unsigned int *max)
{
	char line[512], *p;
	int n = 0, off;
	long v;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	p = strstr(line, "zone");
	if (!p || sscanf(p, "zone %*s%n", &off) < 0)
		return -EINVAL;
	for (p += off; sscanf(p, "%ld%n", &v, &off) == 1; p += off)
		n++;
	if (n < 1 || n > HS_MAX_ORDERS)
		return -EINVAL;
	*max = n - 1;
	return 0;
}

static int read_uint(const char *path, unsigned int *v)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%u", v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static void sort_spans(struct hs_fb_span *s, int n)
{
	struct hs_fb_span t;
	int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && s[j - 1].lo_pfn > s[j].lo_pfn; j--) {
			t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
}

int hs_kpf_setup(struct hs_kpf_cfg *cfg, const char *zoneinfo,
		 const char *buddyinfo, const char *order_param,
		 const char **what)
{
	long page = sysconf(_SC_PAGESIZE);
	int err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->page_size = page > 0 ? page : 4096;
	cfg->nspans = hs_zone_spans_from_zoneinfo(zoneinfo, cfg->spans,
						  HS_FB_MAX_SPANS);
	*what = zoneinfo;
	if (!cfg->nspans)
		return -ENOENT;
	sort_spans(cfg->spans, cfg->nspans);
	*what = buddyinfo;
	err = max_order_from_buddyinfo(buddyinfo, &cfg->max_order);
	if (err)
		return err;
	hs_kpf_read_order(cfg, order_param);
	return 0;
}

void hs_kpf_read_order(struct hs_kpf_cfg *cfg, const char *order_param)
{
	unsigned int order;

	/*
	 * Before 5.14 there is no parameter, and it reads -1 until a
	 * device registers: pageblock_order then, 9 with 4 KiB pages.
	 */
	if (read_uint(order_param, &order) || order > cfg->max_order)
		order = 9;
	cfg->min_order = order < cfg->max_order ? order : cfg->max_order;
}
