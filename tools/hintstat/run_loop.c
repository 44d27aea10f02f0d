// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The run loop both views plug into (see run_loop.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "http.h"
#include "run_loop.h"

/* The ring buffer, a guest stream, a pidfd, the --prom responder. */
#define HS_LOOP_FDS (4 + HS_HTTP_POLLFDS)

/* Wait until `until` at most, then read what came. 0, or 1 to stop. */
static int wait_once(const struct hs_loop *l, double until)
{
	struct pollfd pfd[HS_LOOP_FDS];
	double now = hs_now_mono();
	int nfd = 0;

	if (l->max_wait && until > now + l->max_wait)
		until = now + l->max_wait;
	if (l->rb)
		pfd[nfd++] = (struct pollfd){ .fd = ring_buffer__epoll_fd(l->rb),
					      .events = POLLIN };
	if (l->fds)
		nfd += l->fds(l->ctx, pfd + nfd, HS_LOOP_FDS - nfd);
	if (poll(pfd, nfd, (int)((until - now) * 1000) + 1) < 0 &&
	    errno != EINTR) {
		fprintf(stderr, "hintstat: polling: %s\n", strerror(errno));
		return 1;
	}
	if (l->rb && ring_buffer__consume(l->rb) < 0 && !*l->exiting) {
		fprintf(stderr, "hintstat: reading the ring buffer: %s\n",
			strerror(errno));
		return 1;
	}
	return l->woke ? l->woke(l->ctx) : 0;
}

int hs_run_loop(const struct hs_loop *l)
{
	double t_prev = hs_now_mono(), next, end = 0, t;
	long printed = 0;
	int rc;

	next = t_prev + hs_opt.interval;
	if (hs_opt.duration)
		end = t_prev + hs_opt.duration;
	for (;;) {
		t = hs_now_mono();
		if (!*l->exiting && t < next && !(end && t >= end) &&
		    !(l->cut && l->cut(l->ctx))) {
			if (wait_once(l, end && end < next ? end : next))
				return 1;
			continue;
		}
		/* An error here shows as dropped events in a record. */
		if (l->rb)
			(void)ring_buffer__consume(l->rb);
		rc = l->interval(l->ctx, t, t - t_prev);
		if (rc)
			return rc == 2 ? 0 : 1;
		t_prev = t;
		printed++;
		if (*l->exiting || (hs_opt.count > 0 && printed >= hs_opt.count) ||
		    (end && t >= end))
			return 0;
		while (next <= t)
			next += hs_opt.interval;
	}
}
