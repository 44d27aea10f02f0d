// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat's command-line plumbing shared by the guest view (hintstat.c)
 * and the host view (host.c): argument parsing, errors, the clock, the
 * record file writer (see cli.h); the --prom responder is http.c.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "record.h"
#include "cli.h"
#include "http.h"

bool hs_str_secs(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return !errno && end != s && !*end && *v >= 0.001 && *v <= 86400;
}

double hs_parse_secs(struct argp_state *state, const char *what,
			 const char *arg)
{
	double v;

	if (!hs_str_secs(arg, &v))
		argp_error(state, "invalid %s '%s': want seconds, 0.001 to 86400",
			   what, arg);
	return v;
}

/* Digits only: strtol and strtoull take a sign and leading spaces. */
static bool all_digits(const char *s)
{
	return *s >= '0' && *s <= '9';
}

bool hs_str_count(const char *s, long *v)
{
	char *end;

	if (!all_digits(s))
		return false;
	errno = 0;
	*v = strtol(s, &end, 10);
	return !errno && !*end && *v >= 1;
}

bool hs_str_pid(const char *s, int *v)
{
	long l;

	if (!hs_str_count(s, &l) || l > INT_MAX)
		return false;
	*v = (int)l;
	return true;
}

/* The multiplier of a size suffix (K, M, G, T, B), 0 when none fits. */
static unsigned long long size_mul(char c)
{
	switch (toupper((unsigned char)c)) {
	case 'B':
		return 1;
	case 'K':
		return 1ULL << 10;
	case 'M':
		return 1ULL << 20;
	case 'G':
		return 1ULL << 30;
	case 'T':
		return 1ULL << 40;
	}
	return 0;
}

unsigned long long hs_parse_size(const char *s, char dflt)
{
	unsigned long long v, mul;
	char *end;

	if (!all_digits(s))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return 0;
	mul = size_mul(*end ? *end : dflt);
	/* After the suffix: nothing, "B" or "iB" (4G, 4GB, 4GiB). */
	if (!mul || (*end && end[1] && strcasecmp(end + 1, "B") &&
		     strcasecmp(end + 1, "iB")))
		return 0;
	if (v > ULLONG_MAX / mul)
		return 0;	/* it would wrap */
	return v * mul;
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
	{ "prom", OPT_PROM, "FILE|[HOST]:PORT", 0,
	  "Write Prometheus text to FILE each interval, or serve it on PORT (of HOST only when given)", 0 },
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
			argp_error(state, "invalid --prom '%s': want a file or [HOST]:PORT (an IPv4 address, [IPv6] or localhost; port 1 to 65535)",
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
	if (n == 0) {
		*interval = hs_parse_secs(state, "interval", arg);
	} else if (n == 1) {
		if (!hs_str_count(arg, count))
			argp_error(state, "invalid count '%s': want a positive integer",
				   arg);
	} else {
		argp_error(state, "unexpected argument '%s'", arg);
	}
}

int hs_prom_port(const char *arg)
{
	struct sockaddr_storage ss;

	return hs_prom_addr(arg, &ss);
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

bool hs_stdout_gone;

int hs_stdout_flush(void)
{
	if (!fflush(stdout))
		return 0;
	if (errno == EPIPE) {
		hs_stdout_gone = true;
		return 1;
	}
	hs_die_hint("check the file system the output goes to",
		    "cannot write the output: %s", strerror(errno));
	return 1;
}

double hs_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
