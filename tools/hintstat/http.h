/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --prom [HOST]:PORT: a minimal HTTP/1.0 responder that lives in the main
 * loop's poll set and never waits (http.c). The request parser and the
 * address parser need no socket, for the fuzz targets.
 */
#ifndef __HINTSTAT_HTTP_H
#define __HINTSTAT_HTTP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

/* Connections open at once; a new one closes the oldest past that. */
#define HS_HTTP_MAX_CONNS	64
/* The request head, request line and headers. */
#define HS_HTTP_REQ_MAX		2048
/* Seconds a client gets to send its request and take the answer. */
#define HS_HTTP_TIMEOUT		5.0
/* pollfds hs_http_pollfds() may add: the listener and each connection. */
#define HS_HTTP_POLLFDS		(1 + HS_HTTP_MAX_CONNS)

enum hs_http_verdict {
	HS_HTTP_MORE,		/* the head is not complete yet */
	HS_HTTP_METRICS,	/* GET or HEAD /metrics */
	HS_HTTP_NOT_FOUND,	/* another path */
	HS_HTTP_BAD_METHOD,	/* neither GET nor HEAD */
	HS_HTTP_BAD,		/* no request line, or a head too long */
};

/* What the first len bytes of a request ask; *head for a HEAD request. */
enum hs_http_verdict hs_http_parse(const char *buf, size_t len, bool *head);

/*
 * --prom: 0 when arg names a file, -1 when it is an invalid [HOST]:PORT,
 * else the port, with the address to bind in *ss (family AF_UNSPEC for
 * every address). HOST is an IPv4 literal, [IPv6] or localhost.
 */
int hs_prom_addr(const char *arg, struct sockaddr_storage *ss);

struct hs_http_conn {
	int fd;			/* -1: a free slot */
	double since;		/* hs_now_mono() at accept */
	size_t used;		/* request bytes in req */
	char req[HS_HTTP_REQ_MAX];
	char *out;		/* the answer, while it is being sent */
	size_t out_len, out_off;
	bool draining;		/* answered: reading to EOF, so no RST */
};

struct hs_http {
	int lfd;		/* -1: no responder */
	struct hs_http_conn c[HS_HTTP_MAX_CONNS];
	unsigned long long served, evicted, timed_out;
};

/* Listen when prom is [HOST]:PORT: 0 (also for a file or none), or 1 after a message. */
int hs_http_open(struct hs_http *h, const char *prom);
static inline bool hs_http_on(const struct hs_http *h)
{
	return h->lfd >= 0;
}
/* Add the responder's fds to p; returns how many (<= HS_HTTP_POLLFDS). */
int hs_http_pollfds(const struct hs_http *h, struct pollfd *p);
/* Accept, read, answer with print(f, arg), close; never blocks. */
void hs_http_serve(struct hs_http *h, void (*print)(FILE *, const void *),
		   const void *arg);
void hs_http_close(struct hs_http *h);

#endif /* __HINTSTAT_HTTP_H */
