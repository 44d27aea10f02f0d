// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat's command-line plumbing shared by the guest view (hintstat.c)
 * and the host view (host.c): argument parsing, errors, the clock, the
 * record file writer and the --prom :PORT responder (see cli.h).
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "record.h"
#include "cli.h"

double hs_parse_secs(struct argp_state *state, const char *what,
			 const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= 0.001 && v <= 86400))
		argp_error(state, "invalid %s '%s': want seconds, 0.001 to 86400",
			   what, arg);
	return v;
}

struct hs_common_opts hs_opt = {
	.interval = 1,
	.count = -1,
};

#define OPT_PROM 1000

static const struct argp_option common_opts[] = {
	{ "interval", 'i', "SEC", 0, "Print every SEC seconds (default 1)", 0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{ "histogram", 'H', NULL, 0, "Print log2 histograms of the latencies", 0 },
	{ "json", 'j', NULL, 0, "Print JSON lines instead of tables", 0 },
	{ "prom", OPT_PROM, "FILE|:PORT", 0,
	  "Write Prometheus text to FILE each interval, or serve it on PORT", 0 },
	{ "output", 'o', "FILE", 0, "record: the record file to write", 0 },
	{ "timestamp", 'T', NULL, 0, "Include the wall-clock time", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf's debug output", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case 'i':
		hs_opt.interval = hs_parse_secs(state, "interval", arg);
		break;
	case 'd':
		hs_opt.duration = hs_parse_secs(state, "duration", arg);
		break;
	case 'H':
		hs_opt.hist = true;
		break;
	case 'j':
		hs_opt.json = true;
		break;
	case 'T':
		hs_opt.timestamp = true;
		break;
	case 'v':
		hs_opt.verbose = true;
		break;
	case 'o':
		if (!*arg)
			argp_error(state, "-o needs a file name");
		hs_opt.output = arg;
		break;
	case OPT_PROM:
		if (!*arg)
			argp_error(state, "--prom needs a file name or :PORT");
		if (hs_prom_port(arg) < 0)
			argp_error(state, "invalid --prom '%s': want a file or :PORT (1 to 65535)",
				   arg);
		hs_opt.prom = arg;
		break;
	case ARGP_KEY_ARG:
		hs_parse_positional(state, arg, hs_opt.npos++, &hs_opt.interval,
				    &hs_opt.count);
		break;
	case ARGP_KEY_END:
		if (hs_opt.json && hs_opt.hist)
			argp_error(state, "-j and -H do not mix: JSON carries the histograms");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp hs_common_argp = {
	.options = common_opts,
	.parser = common_parse,
};

const struct argp_child hs_common_children[] = {
	{ &hs_common_argp, 0, NULL, 0 },
	{},
};

void hs_parse_positional(struct argp_state *state, const char *arg, int n,
			 double *interval, long *count)
{
	char *end;

	if (n == 0) {
		*interval = hs_parse_secs(state, "interval", arg);
	} else if (n == 1) {
		errno = 0;
		*count = strtol(arg, &end, 10);
		if (errno || end == arg || *end || *count < 1)
			argp_error(state, "invalid count '%s': want a positive integer",
				   arg);
	} else {
		argp_error(state, "unexpected argument '%s'", arg);
	}
}

int hs_prom_port(const char *arg)
{
	char *end;
	long v;

	if (arg[0] != ':')
		return 0;
	errno = 0;
	v = strtol(arg + 1, &end, 10);
	if (errno || end == arg + 1 || *end || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

void hs_die_hint(const char *hint, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hintstat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nhint: %s\n", hint);
}

/*
 * The record file of hintstat record and hintstat host record, one per
 * process: write errors are kept (the first) and said at the next sync.
 */
static FILE *rec;
static int rec_err;
static const char *rec_path;
static unsigned long long rec_dropped;

static void rec_write(int err)
{
	if (err && !rec_err)
		rec_err = err;
}

static int rec_check(void)
{
	if (!rec_err)
		return 0;
	hs_die_hint("check the free space and the file system",
		    "cannot write %s: %s", rec_path, strerror(-rec_err));
	return 1;
}

int hs_recorder_open(const char *path, unsigned int mode, double t_start,
		     char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN])
{
	struct utsname u;

	rec_path = path;
	rec = fopen(path, "wb");
	if (!rec) {
		hs_die_hint("check that the directory exists and is writable",
			    "cannot create %s: %s", path, strerror(errno));
		return 1;
	}
	if (uname(&u))
		strcpy(u.release, "?");
	rec_write(hs_rec_write_header(rec, mode,
				      (unsigned long long)(t_start * 1e9),
				      (long long)time(NULL), u.release, names));
	return rec_check();
}

void hs_recorder_event(const struct hs_event *e)
{
	if (rec)
		rec_write(hs_rec_write_event(rec, e));
}

int hs_recorder_sync(double t, unsigned long long dropped)
{
	if (!rec)
		return 0;
	if (dropped != rec_dropped)
		rec_write(hs_rec_write_mark(rec, HS_REC_DROPPED,
					    (unsigned long long)(t * 1e9),
					    dropped));
	rec_dropped = dropped;
	if (fflush(rec))
		rec_write(-errno);
	return rec_check();
}

int hs_recorder_close(bool end, unsigned long long dropped)
{
	if (!rec)
		return 0;
	if (end)
		rec_write(hs_rec_write_mark(rec, HS_REC_END,
					    (unsigned long long)(hs_now_mono() * 1e9),
					    dropped));
	if (fclose(rec))
		rec_write(-errno);
	rec = NULL;
	return end ? rec_check() : 0;
}

double hs_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * --prom :PORT: a minimal HTTP/1.0 responder, single-threaded, on a
 * non-blocking socket the main loop polls. GET /metrics answers the
 * exposition of the totals at that moment; a client gets at most a
 * second to send its request line, then the connection is closed.
 */
int hs_http_listen(int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd, one = 1, zero = 0;

	/* IPv6 and IPv4 on one socket; IPv4 alone where there is no IPv6. */
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (!bind(fd, (struct sockaddr *)&a6, sizeof(a6)) &&
		    !listen(fd, 16))
			return fd;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void http_send(int fd, const char *status, const char *type,
		      const char *body, size_t len)
{
	char head[256];
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	size_t off = 0, n;
	ssize_t w;
	int hl;

	hl = snprintf(head, sizeof(head),
		      "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		      status, type, len);
	/* Head then body, waiting at most a second for room each time. */
	for (int part = 0; part < 2; part++) {
		const char *buf = part ? body : head;

		n = part ? len : (size_t)hl;
		off = 0;
		while (off < n) {
			w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
			if (w > 0) {
				off += w;
				continue;
			}
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return;
			if (poll(&p, 1, 1000) <= 0)
				return;
		}
	}
}

static void http_answer(int fd, void (*print)(FILE *, const void *),
			const void *arg)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char req[2048], *body = NULL;
	size_t used = 0, len = 0;
	ssize_t r;
	FILE *mem;
	double until = hs_now_mono() + 1;

	while (used < sizeof(req) - 1 && !memmem(req, used, "\r\n\r\n", 4) &&
	       !memmem(req, used, "\n\n", 2)) {
		r = recv(fd, req + used, sizeof(req) - 1 - used, 0);
		if (r > 0) {
			used += r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		if (hs_now_mono() >= until || poll(&p, 1, 100) < 0)
			break;
	}
	req[used] = '\0';
	if (strncmp(req, "GET ", 4) && strncmp(req, "HEAD ", 5)) {
		http_send(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
		return;
	}
	if (strncmp(strchr(req, ' ') + 1, "/metrics", 8) ||
	    !strchr(" ?", strchr(req, ' ')[9])) {
		http_send(fd, "404 Not Found", "text/plain", "see /metrics\n", 13);
		return;
	}
	mem = open_memstream(&body, &len);
	if (!mem)
		return;
	print(mem, arg);
	if (fclose(mem)) {
		free(body);
		return;
	}
	if (!strncmp(req, "HEAD ", 5))
		len = 0;
	http_send(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
		  body, len);
	free(body);
}

int hs_prom_listen(const char *prom)
{
	int port = prom ? hs_prom_port(prom) : 0, fd;

	if (port <= 0)
		return -1;
	fd = hs_http_listen(port);
	if (fd < 0) {
		hs_die_hint("choose a free port, e.g. --prom :9669",
			    "cannot listen on port %d: %s", port, strerror(-fd));
		return -2;
	}
	return fd;
}

void hs_http_serve(int lfd, void (*print)(FILE *, const void *),
		   const void *arg)
{
	int fd, i;

	for (i = 0; i < 16; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		http_answer(fd, print, arg);
		close(fd);
	}
}
