/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat host --guest: the parser of the guest's stream, the JSON lines
 * the guest's hintstat -j writes to a virtio-serial port. The guest is
 * not trusted: every line is parsed with jansson, checked and bounded by
 * the guest's RAM; a line that fails is counted with its reason, never
 * believed. No socket and no BPF here, for the fuzz target.
 */
#ifndef __HINTSTAT_GUEST_STREAM_H
#define __HINTSTAT_GUEST_STREAM_H

#include <stdbool.h>
#include <stddef.h>

/* A longer line is not hintstat's: skipped to its newline, counted bad. */
#define HS_GS_LINE_MAX		65536
/*
 * A line may add at most the guest's RAM plus its RAM per this many
 * seconds since the line before (on the host's clock): reporting cannot
 * hand back more than the whole RAM ten times a second.
 */
#define HS_GS_SECS_PER_RAM	0.1

struct hs_gstream {
	char buf[HS_GS_LINE_MAX];
	size_t used;
	bool skipping;			/* in a line too long, up to its newline */
	unsigned long long ram;		/* the guest's RAM: the bound */
	bool seen;			/* a good line came */
	unsigned long long lines;	/* good lines */
	unsigned long long bad;		/* refused lines */
	char why[256];			/* the latest refused line's reason */
	unsigned long long restarts;	/* the guest's totals went down */
	/* The guest's latest totals, as it printed them. */
	unsigned long long g_bytes, g_failed;
	/* Since the first good line, across restarts. */
	unsigned long long hinted, failed;
	/* The host's discarded bytes at the first and the latest good line. */
	unsigned long long host_base, host_at;
	double last;			/* host time of the latest good line */
	char mode[32];
};

void hs_gstream_init(struct hs_gstream *g, unsigned long long ram);
/*
 * Take len bytes from the stream, read at host time now when the host
 * had discarded host_now bytes. Returns the good lines among them.
 */
unsigned long long hs_gstream_feed(struct hs_gstream *g, const char *data,
				   size_t len, double now,
				   unsigned long long host_now);

#endif /* __HINTSTAT_GUEST_STREAM_H */
