/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat record files: write them (hintstat record) and replay them
 * through the aggregator the BPF side uses (hintstat report). No libbpf
 * here, so the unit tests link this file alone. The format is in
 * hintstat(8), RECORD FILES.
 */
#ifndef __HINTSTAT_RECORD_H
#define __HINTSTAT_RECORD_H

#include <stdbool.h>
#include <stdio.h>
#include "hintstat.h"
#include "host.h"
#include "report.h"

#define HS_REC_MAGIC		"HSTATREC"	/* 8 bytes, no NUL */
#define HS_REC_VERSION		1
#define HS_REC_HEADER_SIZE	512
#define HS_REC_RELEASE_LEN	80

/* At the start of a record file, in the recording machine's byte order. */
struct hs_rec_header {
	char magic[8];
	unsigned int version;		/* HS_REC_VERSION */
	unsigned int header_size;	/* HS_REC_HEADER_SIZE */
	unsigned int record_size;	/* sizeof(struct hs_event) */
	unsigned int mode;		/* enum hs_mode */
	unsigned long long start_ns;	/* CLOCK_MONOTONIC at attach */
	long long start_wall;		/* time(2) at attach */
	char release[HS_REC_RELEASE_LEN];	/* uname -r */
	char zone_names[HS_MAX_ZONES][HS_ZONE_NAME_LEN];
	unsigned char reserved[HS_REC_HEADER_SIZE - 40 - HS_REC_RELEASE_LEN -
			       HS_MAX_ZONES * HS_ZONE_NAME_LEN];
};

/* A record file replayed: the totals "hintstat report" prints. */
struct hs_replay {
	struct hs_rec_header hdr;
	struct hs_state st;		/* the aggregator's state */
	struct hs_snapshot snap;	/* and what the printers take */
	unsigned long long records;	/* events replayed */
	unsigned long long end_ns;	/* END record, else the last event */
	bool complete;			/* the END record was there */
	/* mode HS_MODE_HOST: the host aggregator's state and the VMM */
	struct hh_state host;
	unsigned long long rss_last, rss_max;	/* HH_EV_RSS records */
	unsigned long long ram_bytes;
	unsigned int pid;
	bool ram_file;
	bool refault_known;	/* HH_EV_REFAULT records: pagemap was read */
	bool thp_known;		/* HH_EV_THP_SPLIT records: PAGEMAP_SCAN worked */
	char err[320];			/* why the file was refused */
};

/* Zone names of node 0 from /proc/zoneinfo, by zone index. */
void hs_zone_names_from_zoneinfo(const char *path,
				 char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN]);

/*
 * The pfn span of every non-empty zone of every node from /proc/zoneinfo
 * (start_pfn, spanned), with its zone index in its node; at most max.
 * The number of spans, 0 when the file cannot be read.
 */
int hs_zone_spans_from_zoneinfo(const char *path, struct hs_fb_span *spans,
				int max);

/*
 * Address of the kernel's vmemmap_base from a kallsyms file: 0 and *found
 * false when the symbol is not there (a kernel with a fixed memory
 * layout); 0 and *found true when it is hidden (kptr_restrict).
 */
unsigned long long hs_vmemmap_base_addr(const char *path, bool *found);
/* Same for any symbol of the kernel proper (no module column). */
unsigned long long hs_kallsyms_addr(const char *path, const char *sym,
				    bool *found);

/* Writers: 0 or -errno. */
int hs_rec_write_header(FILE *f, unsigned int mode, unsigned long long start_ns,
			long long start_wall, const char *release,
			char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN]);
int hs_rec_write_event(FILE *f, const struct hs_event *e);
/* HS_REC_DROPPED or HS_REC_END with the ring buffer drops so far. */
int hs_rec_write_mark(FILE *f, unsigned int type, unsigned long long ts_ns,
		      unsigned long long dropped);

/*
 * Read a record file and aggregate its events. 0, or -1 with r->err
 * saying what is wrong (never a crash, whatever the file holds).
 */
int hs_replay_file(const char *path, struct hs_replay *r);
/* Same from an open stream; name is used in messages. */
int hs_replay_stream(FILE *f, const char *name, struct hs_replay *r);

#endif /* __HINTSTAT_RECORD_H */
