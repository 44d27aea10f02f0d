/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat's command-line plumbing shared by the guest view (hintstat.c)
 * and the host view (host.c): argument parsing, errors, clock, the
 * --prom :PORT responder.
 */
#ifndef __HINTSTAT_CLI_H
#define __HINTSTAT_CLI_H

#include <argp.h>
#include <stdbool.h>
#include <stdio.h>
#include "hintstat.h"

/*
 * The number parsers (fuzzed): false, or 0 for a size, when s is not
 * wholly a valid value. Seconds 0.001 to 86400; a count >= 1; a pid
 * 1 to INT_MAX; a size "1024" (dflt unit), "512M", "4G", "4GiB", "1T"
 * in bytes, never wrapped.
 */
bool hs_str_secs(const char *s, double *v);
bool hs_str_count(const char *s, long *v);
bool hs_str_pid(const char *s, int *v);
unsigned long long hs_parse_size(const char *s, char dflt);
/* Seconds, 0.001 to 86400, or argp_error() naming what. */
double hs_parse_secs(struct argp_state *state, const char *what,
		     const char *arg);
/* Options both views take: -i -d -H -j --prom -o -T -v, [interval [count]]. */
struct hs_common_opts {
	double interval;
	long count;		/* -1: until stopped */
	double duration;	/* 0: until stopped */
	bool hist;
	bool json;
	bool timestamp;
	bool verbose;
	const char *prom;
	const char *output;	/* record -o */
	int npos;
};
extern struct hs_common_opts hs_opt;
/* argp children: the parser that fills hs_opt. */
extern const struct argp_child hs_common_children[];

/* The n-th positional argument: [interval [count]], or argp_error(). */
void hs_parse_positional(struct argp_state *state, const char *arg, int n,
			 double *interval, long *count);
/* --prom [HOST]:PORT: 0 when arg names a file, -1 when invalid, else the port. */
int hs_prom_port(const char *arg);
/* One line saying what is wrong, one saying what to do, on stderr. */
void hs_die_hint(const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * fflush(stdout): 0, else 1 after a message, or with hs_stdout_gone set
 * when the reader went away (EPIPE, SIGPIPE being ignored): the caller
 * ends as after Ctrl-C, END record included, exit 0 (as under head).
 */
int hs_stdout_flush(void);
extern bool hs_stdout_gone;
/* CLOCK_MONOTONIC in seconds. */
double hs_now_mono(void);

/*
 * The record file (hintstat record, hintstat host record): create it with
 * its header, add events, at each interval a drops mark when they grew
 * and a flush, at the end the END mark. 0, or 1 after a message.
 */
int hs_recorder_open(const char *path, unsigned int mode, double t_start,
		     char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN]);
void hs_recorder_event(const struct hs_event *e);
int hs_recorder_sync(double t, unsigned long long dropped);
/* end: write the END mark (else just close, after an error). */
int hs_recorder_close(bool end, unsigned long long dropped);

/* CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, in the effective set. */
bool hs_can_bpf(void);
#define HS_CAP_PERFMON	38
#define HS_CAP_BPF	39
#ifdef __LIBBPF_LIBBPF_H
/* libbpf's print callback: warnings always, the rest with -v. */
int hs_libbpf_print(enum libbpf_print_level level, const char *format,
		    va_list args);
#endif

#endif /* __HINTSTAT_CLI_H */
