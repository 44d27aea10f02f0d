// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat host --guest: parse the guest's hintstat -j lines (see
 * guest_stream.h). A line gives the guest's totals since its hintstat
 * attached ("total":{"bytes":N,"failed_bytes":N}); what counts is their
 * rise from line to line, so a restarted guest hintstat (totals lower
 * than before) starts a new segment instead of an underflow.
 */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "guest_stream.h"

void hs_gstream_init(struct hs_gstream *g, unsigned long long ram)
{
	memset(g, 0, sizeof(*g));
	g->ram = ram;
}

static void refuse(struct hs_gstream *g, const char *why, const char *what)
{
	g->bad++;
	snprintf(g->why, sizeof(g->why), "%s%s", why, what);
}

/* A non-negative integer member of obj, or false. */
static bool get_count(json_t *obj, const char *key, unsigned long long *v)
{
	json_t *n = json_object_get(obj, key);

	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return false;
	*v = (unsigned long long)json_integer_value(n);
	return true;
}

/* What the guest may have added since its line before, in bytes. */
static unsigned long long bound(const struct hs_gstream *g, double now)
{
	double secs = g->seen && now > g->last ? now - g->last : 0;
	double b = (double)g->ram * (1 + secs / HS_GS_SECS_PER_RAM);

	return b >= 1.8e19 ? ~0ULL : (unsigned long long)b;
}

/* The rise from the guest's previous total; a lower total is a restart. */
static unsigned long long rise(unsigned long long prev, unsigned long long cur,
			       bool *restart)
{
	if (cur < prev) {
		*restart = true;
		return cur;
	}
	return cur - prev;
}

static void take(struct hs_gstream *g, json_t *root, unsigned long long bytes,
		 unsigned long long failed, double now,
		 unsigned long long host_now)
{
	const char *mode = json_string_value(json_object_get(root, "mode"));
	unsigned long long db = 0, df = 0;
	bool restart = false;

	if (g->seen) {
		db = rise(g->g_bytes, bytes, &restart);
		df = rise(g->g_failed, failed, &restart);
		if (restart) {
			/* Both count again from the new hintstat's attach. */
			db = bytes;
			df = failed;
		}
		if (db > bound(g, now) || df > bound(g, now)) {
			char what[96];

			snprintf(what, sizeof(what), "+%llu bytes in %.1f s, guest RAM %llu",
				 db > df ? db : df, now - g->last, g->ram);
			refuse(g, "more than the guest's RAM allows: ", what);
			return;
		}
		g->restarts += restart;
	} else {
		g->host_base = host_now;
		g->seen = true;
	}
	g->hinted += db;
	g->failed += df;
	g->g_bytes = bytes;
	g->g_failed = failed;
	g->host_at = host_now;
	g->last = now;
	g->lines++;
	if (mode)
		snprintf(g->mode, sizeof(g->mode), "%s", mode);
}

/* One line, without its newline. true when it was taken. */
static bool line(struct hs_gstream *g, const char *s, size_t len, double now,
		 unsigned long long host_now)
{
	unsigned long long bytes, failed, lines = g->lines;
	json_error_t err;
	json_t *root, *total;

	if (len && s[len - 1] == '\r')
		len--;
	if (!len)
		return false;	/* a blank line says nothing */
	root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		refuse(g, "not JSON: ", err.text);
		return false;
	}
	total = json_object_get(root, "total");
	if (!json_is_object(total) || !get_count(total, "bytes", &bytes) ||
	    !get_count(total, "failed_bytes", &failed))
		refuse(g, "not a hintstat -j line: ",
		       "no \"total\" with \"bytes\" and \"failed_bytes\" counts");
	else
		take(g, root, bytes, failed, now, host_now);
	json_decref(root);
	return g->lines > lines;
}

unsigned long long hs_gstream_feed(struct hs_gstream *g, const char *data,
				   size_t len, double now,
				   unsigned long long host_now)
{
	unsigned long long good = 0;
	const char *nl;
	size_t n;

	while (len) {
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) : len;
		if (!g->skipping && g->used + n > sizeof(g->buf)) {
			refuse(g, "a line longer than 64 KiB", "");
			g->skipping = true;
			g->used = 0;
		}
		if (!g->skipping) {
			memcpy(g->buf + g->used, data, n);
			g->used += n;
		}
		if (!nl)
			break;
		if (!g->skipping)
			good += line(g, g->buf, g->used, now, host_now);
		g->skipping = false;
		g->used = 0;
		data = nl + 1;
		len -= n + 1;
	}
	return good;
}
