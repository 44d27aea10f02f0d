/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The run loop both views plug into (hintstat.c, host.c): an interval
 * every hs_opt.interval seconds until Ctrl-C, -d or the count; between
 * intervals, a poll on the ring buffer and the mode's fds (the --prom
 * responder, a guest stream, a VMM's pidfd). A mode supplies its fds,
 * what to do when woken, and its interval's end.
 */
#ifndef __HINTSTAT_RUN_LOOP_H
#define __HINTSTAT_RUN_LOOP_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>

struct ring_buffer;

struct hs_loop {
	struct ring_buffer *rb;		/* consumed on each wake; or NULL */
	/* The mode's fds to wait on: fill at most max, return how many. */
	int (*fds)(void *ctx, struct pollfd *pfd, int max);
	/* After each wake (the ring buffer read): 0, or 1 to stop (error). */
	int (*woke)(void *ctx);
	/* True: end this interval now (the VMM traced exited). */
	bool (*cut)(void *ctx);
	/* The interval's end: 0 go on, 1 stop on an error, 2 stop (done). */
	int (*interval)(void *ctx, double t, double secs);
	void *ctx;
	double max_wait;		/* at most this between wakes; 0: none */
	volatile sig_atomic_t *exiting;	/* set by the signal handler */
};

/* Intervals until the end: 0, or 1 after a message. */
int hs_run_loop(const struct hs_loop *l);

#endif /* __HINTSTAT_RUN_LOOP_H */
