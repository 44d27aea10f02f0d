// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: hintstat host --guest's parser of the guest's
 * stream. The first bytes choose how the rest is cut into reads and how
 * much host time passes between them; the parser's promises are checked
 * after every read.
 */
#include <stdlib.h>
#include <string.h>
#include "../guest_stream.h"

#define RAM (1ULL << 30)

static void check(const struct hs_gstream *g, unsigned long long lines,
		  unsigned long long bad)
{
	/* Counters only grow; a refusal says why; no line past the cap. */
	if (g->lines < lines || g->bad < bad || g->used > sizeof(g->buf))
		abort();
	if (g->bad > bad && !g->why[0])
		abort();
	if (g->restarts > g->lines)
		abort();
	if (g->seen != (g->lines > 0))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct hs_gstream g;
	unsigned long long lines, bad, host = 0;
	double now = 100;
	size_t n;

	if (size < 2)
		return 0;
	hs_gstream_init(&g, RAM);
	while (size > 1) {
		/* A read of 1 to 256 bytes, 0 to 2.55 s after the last. */
		n = 1 + data[0];
		now += data[1] / 100.0;
		host += (unsigned long long)data[1] << 20;
		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		lines = g.lines;
		bad = g.bad;
		hs_gstream_feed(&g, (const char *)data, n, now, host);
		check(&g, lines, bad);
		data += n;
		size -= n;
	}
	return 0;
}
