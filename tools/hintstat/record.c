// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hintstat record files: a header, then fixed-size records (struct
 * hs_event) as the ring buffer delivered them, then an END record.
 * Replaying one runs every event through hs_account(), the aggregator
 * the BPF programs run live, so a report prints what the live view
 * would have printed for the same events.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aggregate.h"
#include "record.h"
#include "host_aggregate.h"

_Static_assert(sizeof(struct hs_rec_header) == HS_REC_HEADER_SIZE,
	       "record header size");

void hs_zone_names_from_zoneinfo(const char *path,
				 char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN])
{
	char line[256], zone[64];
	int node, i = 0;
	FILE *f;

	memset(names, 0, HS_MAX_ZONES * HS_ZONE_NAME_LEN);
	f = fopen(path, "r");
	if (!f)
		return;
	/* "Node 0, zone    DMA32": every zone of a node, in index order. */
	while (i < HS_MAX_ZONES && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %63s", &node, zone) != 2)
			continue;
		if (node != 0)
			break;
		zone[HS_ZONE_NAME_LEN - 1] = '\0';
		memcpy(names[i++], zone, HS_ZONE_NAME_LEN);
	}
	fclose(f);
}

int hs_zone_spans_from_zoneinfo(const char *path, struct hs_fb_span *spans,
				int max)
{
	unsigned long long spanned = 0, start;
	int node, cur_node = -1, zone = -1, n = 0;
	char line[256], name[64];
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return 0;
	/* Per zone: "Node N, zone NAME", ..., "spanned N", ..., "start_pfn: N". */
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %63s", &node, name) == 2) {
			zone = node == cur_node ? zone + 1 : 0;
			cur_node = node;
			spanned = 0;
		} else if (sscanf(line, " spanned %llu", &spanned) == 1) {
			continue;
		} else if (sscanf(line, " start_pfn: %llu", &start) == 1 &&
			   zone >= 0 && zone < HS_MAX_ZONES && spanned) {
			spans[n].lo_pfn = start;
			spans[n].hi_pfn = start + spanned;
			spans[n].zone = zone;
			spans[n].pad = 0;
			n++;
		}
	}
	fclose(f);
	return n;
}

unsigned long long hs_kallsyms_addr(const char *path, const char *sym,
				    bool *found)
{
	unsigned long long addr;
	char line[256], type, name[128];
	FILE *f;

	*found = false;
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %127s", &addr, &type, name) == 3 &&
		    !strcmp(name, sym)) {
			*found = true;
			fclose(f);
			return addr;
		}
	}
	fclose(f);
	return 0;
}

unsigned long long hs_vmemmap_base_addr(const char *path, bool *found)
{
	return hs_kallsyms_addr(path, "vmemmap_base", found);
}

static int write_all(FILE *f, const void *buf, size_t len)
{
	if (fwrite(buf, 1, len, f) != len)
		return errno ? -errno : -EIO;
	return 0;
}

int hs_rec_write_header(FILE *f, unsigned int mode, unsigned long long start_ns,
			long long start_wall, const char *release,
			char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN])
{
	struct hs_rec_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, HS_REC_MAGIC, sizeof(h.magic));
	h.version = HS_REC_VERSION;
	h.header_size = sizeof(h);
	h.record_size = sizeof(struct hs_event);
	h.mode = mode;
	h.start_ns = start_ns;
	h.start_wall = start_wall;
	snprintf(h.release, sizeof(h.release), "%s", release ? release : "");
	memcpy(h.zone_names, names, sizeof(h.zone_names));
	/* Names are NUL-terminated within their slot. */
	for (int i = 0; i < HS_MAX_ZONES; i++)
		h.zone_names[i][HS_ZONE_NAME_LEN - 1] = '\0';
	return write_all(f, &h, sizeof(h));
}

int hs_rec_write_event(FILE *f, const struct hs_event *e)
{
	return write_all(f, e, sizeof(*e));
}

int hs_rec_write_mark(FILE *f, unsigned int type, unsigned long long ts_ns,
		      unsigned long long dropped)
{
	struct hs_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.ts_ns = ts_ns;
	e.bytes = dropped;
	return write_all(f, &e, sizeof(e));
}

static int refuse(struct hs_replay *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct hs_replay *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

static bool zeroes(const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		if (*c++)
			return false;
	return true;
}

static bool terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

/* bad_record() of a host record. */
static const char *bad_host_record(const struct hs_event *e)
{
	if (e->type < HH_EV_DISCARD || e->type >= HH_EV_END_TYPES)
		return "unknown record type";
	if (e->flag > 1)
		return "flag not 0 or 1";
	/* A scan's record has its figure and nothing else. */
	if ((e->type == HH_EV_REFAULT || e->type == HH_EV_THP_SPLIT) &&
	    (e->ns || e->c64 || e->a || e->b || e->c || e->err || e->zone ||
	     e->order || e->mt || e->flag))
		return "a scan record with fields other than its figure";
	/* Refaults are whole 4 KiB pages. */
	if (e->type == HH_EV_REFAULT &&
	    (e->bytes & ((1ULL << HH_PAGE_SHIFT) - 1)))
		return "a refault record with more than whole pages";
	/* Splits of at most every 2 MiB unit of 16 EiB: no wrap. */
	if (e->type == HH_EV_THP_SPLIT && e->bytes >> (64 - HH_UNIT_SHIFT))
		return "a split record beyond any guest RAM";
	return "";
}

/* What a record the writer could have made looks like; "" if fine. */
static const char *bad_record(const struct hs_event *e, bool host)
{
	if (!zeroes(e->pad, sizeof(e->pad)))
		return "non-zero padding";
	if (host && e->type != HS_REC_DROPPED && e->type != HS_REC_END)
		return bad_host_record(e);
	if (e->type == HS_REC_DROPPED || e->type == HS_REC_END)
		return zeroes(&e->ns, offsetof(struct hs_event, type) -
			      offsetof(struct hs_event, ns)) &&
		       !e->a && !e->b && !e->c && !e->err && !e->zone &&
		       !e->order && !e->mt && !e->flag ? "" :
		       "a mark record with event fields set";
	if (e->type >= HS_NR_EVENT_TYPES)
		return "unknown record type";
	if (e->zone >= HS_MAX_ZONES && e->zone != 0xffff)
		return "zone index out of range";
	if (e->flag > 1)
		return "flag not 0 or 1";
	return "";
}

/* A host record: the aggregator, or what user space wrote. */
static void replay_host(struct hs_replay *r, const struct hs_event *e)
{
	switch (e->type) {
	case HH_EV_RSS:
		r->rss_last = e->bytes;
		if (e->bytes > r->rss_max)
			r->rss_max = e->bytes;
		break;
	case HH_EV_VMM:
		r->pid = e->a;
		r->ram_bytes = e->bytes;
		r->ram_file = e->flag;
		break;
	case HH_EV_REFAULT:
		/* Written every interval while pagemap could be read. */
		r->refault_known = true;
		hh_account(&r->host, e);
		break;
	case HH_EV_THP_SPLIT:
		r->thp_known = true;
		hh_account(&r->host, e);
		break;
	default:
		hh_account(&r->host, e);
	}
	r->records++;
}

int hs_replay_stream(FILE *f, const char *name, struct hs_replay *r)
{
	struct hs_rec_header *h = &r->hdr;
	unsigned long long off, dropped = 0;
	struct hs_event e;
	const char *why;
	size_t n;
	int i;

	memset(r, 0, sizeof(*r));
	n = fread(h, 1, sizeof(*h), f);
	if (n >= sizeof(h->magic) &&
	    memcmp(h->magic, HS_REC_MAGIC, sizeof(h->magic)))
		return refuse(r, "%s is not a hintstat record file (bad magic)",
			      name);
	if (n < sizeof(*h))
		return refuse(r, "%s: truncated header (%zu of %zu bytes)",
			      name, n, sizeof(*h));
	if (h->version != HS_REC_VERSION)
		return refuse(r, "%s: record format version %u, this hintstat reads version %d",
			      name, h->version, HS_REC_VERSION);
	if (h->header_size != sizeof(*h) ||
	    h->record_size != sizeof(struct hs_event))
		return refuse(r, "%s: corrupt header (header %u, record %u bytes; want %zu, %zu)",
			      name, h->header_size, h->record_size, sizeof(*h),
			      sizeof(struct hs_event));
	if (h->mode >= HS_NR_MODES)
		return refuse(r, "%s: corrupt header (mode %u)", name, h->mode);
	if (!terminated(h->release, sizeof(h->release)) ||
	    !zeroes(h->reserved, sizeof(h->reserved)))
		return refuse(r, "%s: corrupt header", name);
	for (i = 0; i < HS_MAX_ZONES; i++)
		if (!terminated(h->zone_names[i], HS_ZONE_NAME_LEN))
			return refuse(r, "%s: corrupt header (zone name %d)",
				      name, i);

	off = sizeof(*h);
	r->end_ns = h->start_ns;
	while ((n = fread(&e, 1, sizeof(e), f)) > 0) {
		if (n < sizeof(e))
			return refuse(r, "%s: truncated record at byte %llu (%zu of %zu bytes)",
				      name, off, n, sizeof(e));
		if (r->complete)
			return refuse(r, "%s: data after the end record at byte %llu",
				      name, off);
		why = bad_record(&e, h->mode == HS_MODE_HOST);
		if (*why)
			return refuse(r, "%s: corrupt record at byte %llu: %s",
				      name, off, why);
		if (e.type == HS_REC_DROPPED || e.type == HS_REC_END) {
			if (e.bytes < dropped)
				return refuse(r, "%s: corrupt record at byte %llu: drop count went down",
					      name, off);
			dropped = e.bytes;
			if (e.type == HS_REC_END)
				r->complete = true;
		} else if (h->mode == HS_MODE_HOST) {
			replay_host(r, &e);
		} else {
			hs_account(&r->st, &e);
			r->snap.events[e.type]++;
			r->records++;
		}
		if (e.ts_ns > r->end_ns)
			r->end_ns = e.ts_ns;
		off += sizeof(e);
	}
	if (ferror(f))
		return refuse(r, "%s: read error: %s", name, strerror(errno));

	hs_snapshot_from_state(&r->snap, &r->st);
	r->snap.totals.dropped_events = dropped;
	r->snap.mode = h->mode;
	snprintf(r->snap.release, sizeof(r->snap.release), "%s", h->release);
	memcpy(r->snap.zone_names, h->zone_names, sizeof(r->snap.zone_names));
	return 0;
}

int hs_replay_file(const char *path, struct hs_replay *r)
{
	FILE *f = fopen(path, "rb");
	int err;

	if (!f) {
		memset(r, 0, sizeof(*r));
		return refuse(r, "cannot open %s: %s", path, strerror(errno));
	}
	err = hs_replay_stream(f, path, r);
	fclose(f);
	return err;
}
