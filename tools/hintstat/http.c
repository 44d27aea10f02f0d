// SPDX-License-Identifier: GPL-2.0
/*
 * --prom [HOST]:PORT: a minimal HTTP/1.0 responder inside the main loop.
 *
 * Every socket is non-blocking and in the loop's poll set: a connection
 * is read when poll says so, its answer is built once the request head
 * is complete and sent as the socket takes it, and it is closed when
 * done or after HS_HTTP_TIMEOUT seconds. A full table closes its oldest
 * connection for a new one, so idle clients can delay neither the
 * intervals nor the other clients.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include "cli.h"
#include "http.h"

/* The request line: the head up to its first newline. */
static size_t line_len(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return nl ? (size_t)(nl - buf) : len;
}

static bool head_complete(const char *buf, size_t len)
{
	return memmem(buf, len, "\r\n\r\n", 4) || memmem(buf, len, "\n\n", 2);
}

enum hs_http_verdict hs_http_parse(const char *buf, size_t len, bool *head)
{
	size_t n, m;
	const char *target;

	*head = false;
	if (!head_complete(buf, len))
		return len >= HS_HTTP_REQ_MAX ? HS_HTTP_BAD : HS_HTTP_MORE;
	n = line_len(buf, len);
	m = memchr(buf, ' ', n) ? (size_t)((char *)memchr(buf, ' ', n) - buf) : n;
	if (m == n || m == 0)
		return HS_HTTP_BAD;
	if (m == 4 && !memcmp(buf, "HEAD", 4))
		*head = true;
	else if (m != 3 || memcmp(buf, "GET", 3))
		return HS_HTTP_BAD_METHOD;
	target = buf + m + 1;
	n -= m + 1;
	/* "/metrics", then the end of the line, a space or a query. */
	if (n < 8 || memcmp(target, "/metrics", 8))
		return HS_HTTP_NOT_FOUND;
	if (n > 8 && !memchr(" ?\r", target[8], 3))
		return HS_HTTP_NOT_FOUND;
	return HS_HTTP_METRICS;
}

/* "65535" and nothing else: the port, or -1. */
static int parse_port(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

static bool ipv4_like(const char *s, size_t n)
{
	return n && strspn(s, "0123456789.") >= n;
}

int hs_prom_addr(const char *arg, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	const char *colon = strrchr(arg, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t n;
	int port;

	memset(ss, 0, sizeof(*ss));
	if (!colon)
		return 0;
	n = colon - arg;
	/* A file name may hold a colon: only these are addresses. */
	if (n && arg[0] != '[' && !ipv4_like(arg, n) &&
	    (n != 9 || strncmp(arg, "localhost", 9)))
		return 0;
	port = parse_port(colon + 1);
	if (port < 0 || n >= sizeof(host))
		return -1;
	memcpy(host, arg, n);
	host[n] = '\0';
	if (!n) {
		ss->ss_family = AF_UNSPEC;
	} else if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = '\0';
		a6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -1;
		a6->sin6_port = htons(port);
	} else {
		a4->sin_family = AF_INET;
		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -1;
		a4->sin_port = htons(port);
	}
	return port;
}

static int listen_on(int family, const struct sockaddr *a, socklen_t len,
		     bool dual)
{
	int fd, one = 1, zero = 0;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Best effort: a restart may find the port in TIME_WAIT. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dual)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				 sizeof(zero));
	if (bind(fd, a, len) || listen(fd, HS_HTTP_MAX_CONNS)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Every address: IPv6 and IPv4 on one socket, IPv4 alone without IPv6. */
static int listen_any(int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd;

	fd = listen_on(AF_INET6, (struct sockaddr *)&a6, sizeof(a6), true);
	if (fd >= 0 || fd == -EADDRINUSE)
		return fd;
	return listen_on(AF_INET, (struct sockaddr *)&a4, sizeof(a4), false);
}

int hs_http_open(struct hs_http *h, const char *prom)
{
	struct sockaddr_storage ss;
	int port, i, fd;

	h->lfd = -1;
	for (i = 0; i < HS_HTTP_MAX_CONNS; i++)
		h->c[i].fd = -1;
	port = prom ? hs_prom_addr(prom, &ss) : 0;
	if (port <= 0)
		return 0;
	if (ss.ss_family == AF_UNSPEC)
		fd = listen_any(port);
	else
		fd = listen_on(ss.ss_family, (struct sockaddr *)&ss,
			       ss.ss_family == AF_INET6 ?
			       sizeof(struct sockaddr_in6) :
			       sizeof(struct sockaddr_in), false);
	if (fd < 0) {
		hs_die_hint("choose a free port and an address of this host, e.g. --prom 127.0.0.1:9669",
			    "cannot listen on %s: %s", prom, strerror(-fd));
		return 1;
	}
	h->lfd = fd;
	return 0;
}

int hs_http_pollfds(const struct hs_http *h, struct pollfd *p)
{
	const struct hs_http_conn *c;
	int n = 0, i;

	if (h->lfd < 0)
		return 0;
	p[n++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
	for (i = 0; i < HS_HTTP_MAX_CONNS; i++) {
		c = &h->c[i];
		if (c->fd >= 0)
			p[n++] = (struct pollfd){
				.fd = c->fd,
				.events = c->out ? POLLOUT : POLLIN };
	}
	return n;
}

static void conn_close(struct hs_http_conn *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->used = c->out_len = c->out_off = 0;
	c->draining = false;
}

/* A free slot, else the oldest connection closed for the new one. */
static struct hs_http_conn *conn_slot(struct hs_http *h)
{
	struct hs_http_conn *old = &h->c[0];
	int i;

	for (i = 0; i < HS_HTTP_MAX_CONNS; i++) {
		if (h->c[i].fd < 0)
			return &h->c[i];
		if (h->c[i].since < old->since)
			old = &h->c[i];
	}
	conn_close(old);
	h->evicted++;
	return old;
}

static void accept_all(struct hs_http *h, double now)
{
	struct hs_http_conn *c;
	int fd, i;

	/* At most a table's worth per call: the interval comes first. */
	for (i = 0; i < HS_HTTP_MAX_CONNS; i++) {
		fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = conn_slot(h);
		c->fd = fd;
		c->since = now;
	}
}

/* The whole answer in c->out: head, then the body unless HEAD. */
static int build_answer(struct hs_http_conn *c, enum hs_http_verdict v,
			bool head, void (*print)(FILE *, const void *),
			const void *arg)
{
	static const char * const status[] = {
		[HS_HTTP_METRICS] = "200 OK",
		[HS_HTTP_NOT_FOUND] = "404 Not Found",
		[HS_HTTP_BAD_METHOD] = "405 Method Not Allowed",
		[HS_HTTP_BAD] = "400 Bad Request",
	};
	static const char * const text[] = {
		[HS_HTTP_NOT_FOUND] = "see /metrics\n",
		[HS_HTTP_BAD_METHOD] = "GET or HEAD only\n",
		[HS_HTTP_BAD] = "bad request\n",
	};
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int n;

	f = open_memstream(&body, &len);
	if (!f)
		return -1;
	if (v == HS_HTTP_METRICS)
		print(f, arg);
	else
		fputs(text[v], f);
	if (fclose(f)) {
		free(body);
		return -1;
	}
	n = asprintf(&c->out, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     status[v], v == HS_HTTP_METRICS ?
		     "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
		     len, head ? "" : body);
	free(body);
	if (n < 0) {
		c->out = NULL;
		return -1;
	}
	c->out_len = n;
	return 0;
}

/* Read what came; the answer once the head is complete. false: close. */
static bool conn_read(struct hs_http_conn *c,
		      void (*print)(FILE *, const void *), const void *arg)
{
	enum hs_http_verdict v;
	bool head;
	ssize_t r;

	while (c->used < sizeof(c->req)) {
		r = recv(c->fd, c->req + c->used, sizeof(c->req) - c->used, 0);
		if (r > 0) {
			c->used += r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return false;
		break;
	}
	v = hs_http_parse(c->req, c->used, &head);
	if (v == HS_HTTP_MORE)
		return true;
	return !build_answer(c, v, head, print, arg);
}

/*
 * Send what the socket takes. Once all is sent, shut the write side and
 * read to EOF: closing with unread request bytes would reset the
 * connection and lose the answer. false: failed, close.
 */
static bool conn_write(struct hs_http *h, struct hs_http_conn *c)
{
	ssize_t w;

	while (c->out_off < c->out_len) {
		w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += w;
			continue;
		}
		return w < 0 && (errno == EAGAIN || errno == EINTR);
	}
	h->served++;
	free(c->out);
	c->out = NULL;
	c->draining = true;
	return !shutdown(c->fd, SHUT_WR);
}

/* Discard what the client still sends. false: EOF or error, close. */
static bool conn_drain(struct hs_http_conn *c)
{
	char buf[512];
	ssize_t r;

	do {
		r = recv(c->fd, buf, sizeof(buf), 0);
	} while (r > 0);
	return r < 0 && (errno == EAGAIN || errno == EINTR);
}

void hs_http_serve(struct hs_http *h, void (*print)(FILE *, const void *),
		   const void *arg)
{
	double now = hs_now_mono();
	struct hs_http_conn *c;
	bool keep;
	int i;

	if (h->lfd < 0)
		return;
	accept_all(h, now);
	for (i = 0; i < HS_HTTP_MAX_CONNS; i++) {
		c = &h->c[i];
		if (c->fd < 0)
			continue;
		if (now - c->since > HS_HTTP_TIMEOUT) {
			conn_close(c);
			h->timed_out++;
			continue;
		}
		if (c->draining)
			keep = conn_drain(c);
		else
			keep = c->out || conn_read(c, print, arg);
		if (keep && c->out)
			keep = conn_write(h, c);
		if (!keep)
			conn_close(c);
	}
}

void hs_http_close(struct hs_http *h)
{
	int i;

	for (i = 0; i < HS_HTTP_MAX_CONNS; i++)
		if (h->c[i].fd >= 0)
			conn_close(&h->c[i]);
	if (h->lfd >= 0)
		close(h->lfd);
	h->lfd = -1;
}
