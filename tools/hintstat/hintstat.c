// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat - show free page reporting ("page hinting") at work.
 *
 * Attaches BPF programs to the page_hinting trace events (the pagehint
 * kernel series) and prints, every interval, the bytes hinted per zone
 * and order, passes, batches and the latency percentiles of passes,
 * device calls and zone lock holds; or log2 histograms (-H), JSON lines
 * (-j), a Prometheus text file (--prom), or every event (-e).
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "hintstat.h"
#include "report.h"
#include "hintstat.skel.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

static struct env {
	double interval;
	long count;
	double duration;
	bool hist;
	bool json;
	bool timestamp;
	bool events;
	bool bpf_stats;
	bool verbose;
	const char *prom;
	int npos;
} env = {
	.interval = 1,
	.count = -1,
};

static volatile sig_atomic_t exiting;
static struct hintstat_bpf *skel;
static struct hs_snapshot names;	/* zone names for streamed events */
static unsigned long long received[HS_NR_EVENT_TYPES];

const char *argp_program_version = "hintstat 0.1";
const char *argp_program_bug_address = "the pagehint project's issue tracker";
const char argp_program_doc[] =
"Show free page reporting (page hinting) at work.\n"
"\n"
"USAGE: hintstat [-H] [-j] [-e] [-T] [--prom FILE] [-i SEC] [-d SEC]\n"
"                [interval [count]]\n"
"\n"
"Needs root and a kernel with the page_hinting trace events (the pagehint\n"
"series) and BTF. Bytes are attributed to the zone and to the order of the\n"
"free list a batch was completed on. p50/p99 are upper bounds of log2\n"
"buckets (the true value is at most that, more than half of it).\n"
"\n"
"EXAMPLES:\n"
"    hintstat              # table every second until Ctrl-C\n"
"    hintstat 5 3          # three 5-second intervals\n"
"    hintstat -H -d 30     # log2 histograms each second for 30 s\n"
"    hintstat -j           # one JSON object per interval\n"
"    hintstat -j -e        # and every event, one JSON object each\n"
"    hintstat --prom /run/pagehint.prom 10  # Prometheus file every 10 s\n"
"    hintstat -T -S        # timestamps, BPF run time per program\n";

#define OPT_PROM 1000

static const struct argp_option opts[] = {
	{ "interval", 'i', "SEC", 0, "Print every SEC seconds (default 1)", 0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{ "histogram", 'H', NULL, 0, "Print log2 histograms of the latencies", 0 },
	{ "json", 'j', NULL, 0, "Print JSON lines instead of tables", 0 },
	{ "events", 'e', NULL, 0, "Stream and print every event (ring buffer)", 0 },
	{ "prom", OPT_PROM, "FILE", 0, "Write Prometheus text to FILE each interval", 0 },
	{ "timestamp", 'T', NULL, 0, "Include the wall-clock time", 0 },
	{ "bpf-stats", 'S', NULL, 0, "Measure the BPF programs' run time", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf's debug output", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static double parse_secs(struct argp_state *state, const char *what,
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

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case 'i':
		env.interval = parse_secs(state, "interval", arg);
		break;
	case 'd':
		env.duration = parse_secs(state, "duration", arg);
		break;
	case 'H':
		env.hist = true;
		break;
	case 'j':
		env.json = true;
		break;
	case 'e':
		env.events = true;
		break;
	case 'T':
		env.timestamp = true;
		break;
	case 'S':
		env.bpf_stats = true;
		break;
	case 'v':
		env.verbose = true;
		break;
	case OPT_PROM:
		if (!*arg)
			argp_error(state, "--prom needs a file name");
		env.prom = arg;
		break;
	case ARGP_KEY_ARG:
		if (env.npos == 0) {
			env.interval = parse_secs(state, "interval", arg);
		} else if (env.npos == 1) {
			errno = 0;
			env.count = strtol(arg, &end, 10);
			if (errno || end == arg || *end || env.count < 1)
				argp_error(state, "invalid count '%s': want a positive integer",
					   arg);
		} else {
			argp_error(state, "unexpected argument '%s'", arg);
		}
		env.npos++;
		break;
	case ARGP_KEY_END:
		if (env.json && env.hist)
			argp_error(state, "-j and -H do not mix: JSON carries the histograms");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *format,
			   va_list args)
{
	if (!env.verbose)
		return 0;
	(void)level;
	return vfprintf(stderr, format, args);
}

static void sig_handler(int sig)
{
	(void)sig;
	exiting = 1;
}

static void die_hint(const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One line saying what is wrong, one saying what to do. */
static void die_hint(const char *hint, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hintstat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nhint: %s\n", hint);
}

static const char * const tp_names[] = {
	"request", "fill", "react", "drain", "cycle", "pass",
};

/* 0, or 1 after printing why hintstat cannot run on this kernel. */
static int check_kernel(void)
{
	char missing[128] = "", name[64];
	struct btf *btf;
	size_t i;
	int err;

	if (access(VMLINUX_BTF, R_OK)) {
		die_hint("build the kernel with CONFIG_DEBUG_INFO_BTF=y",
			 "the kernel has no BTF (%s: %s)", VMLINUX_BTF,
			 strerror(errno));
		return 1;
	}
	btf = btf__load_vmlinux_btf();
	err = libbpf_get_error(btf);
	if (err) {
		die_hint("build the kernel with CONFIG_DEBUG_INFO_BTF=y",
			 "cannot load the kernel's BTF: %s", strerror(-err));
		return 1;
	}
	for (i = 0; i < sizeof(tp_names) / sizeof(tp_names[0]); i++) {
		snprintf(name, sizeof(name), "btf_trace_page_hinting_%s",
			 tp_names[i]);
		if (btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) < 0) {
			strncat(missing, missing[0] ? ", " : "",
				sizeof(missing) - strlen(missing) - 1);
			strncat(missing, tp_names[i],
				sizeof(missing) - strlen(missing) - 1);
		}
	}
	btf__free(btf);
	if (missing[0]) {
		die_hint("boot a kernel with the pagehint series (kernel/0001-mm-page_reporting-add-page_hinting-tracepoints.patch)",
			 "the kernel lacks the pagehint series: no page_hinting tracepoint %s",
			 missing);
		return 1;
	}
	return 0;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	const struct hs_event *e = data;

	(void)ctx;
	if (len < sizeof(*e))
		return 0;
	if (e->type < HS_NR_EVENT_TYPES)
		received[e->type]++;
	/* A zone's name is recorded by its first fill, before its event. */
	memcpy(names.zone_names, skel->bss->zone_names,
	       sizeof(names.zone_names));
	if (env.json)
		hs_print_event_json(stdout, e, &names);
	else
		hs_print_event(stdout, e, &names);
	return 0;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void take_snapshot(struct hs_snapshot *s, const struct hintstat_bpf *obj)
{
	memcpy(&s->totals, &obj->bss->totals, sizeof(s->totals));
	memcpy(s->hists, obj->bss->hists, sizeof(s->hists));
	memcpy(s->zo, obj->bss->zo_stats, sizeof(s->zo));
	memcpy(s->zone_names, obj->bss->zone_names, sizeof(s->zone_names));
	memcpy(s->events, received, sizeof(s->events));
}

/* Run count and time of each program (-S): a JSON member or a table. */
static void print_bpf_stats(FILE *f, const struct hintstat_bpf *obj, bool json)
{
	struct bpf_prog_info info;
	struct bpf_program *prog;
	__u32 len;
	int n = 0;

	if (json)
		fprintf(f, "\"bpf_stats\":{");
	else
		fprintf(f, "%-12s %12s %14s %10s\n", "PROGRAM", "RUN_CNT",
			"RUN_TIME_NS", "NS/RUN");
	bpf_object__for_each_program(prog, obj->obj) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		if (json)
			fprintf(f, "%s\"%s\":{\"run_cnt\":%llu,\"run_time_ns\":%llu}",
				n++ ? "," : "", bpf_program__name(prog),
				(unsigned long long)info.run_cnt,
				(unsigned long long)info.run_time_ns);
		else
			fprintf(f, "%-12s %12llu %14llu %10.0f\n",
				bpf_program__name(prog),
				(unsigned long long)info.run_cnt,
				(unsigned long long)info.run_time_ns,
				info.run_cnt ? (double)info.run_time_ns / info.run_cnt : 0.0);
	}
	if (json)
		fprintf(f, "}");
}

static int print_interval(const struct hintstat_bpf *obj,
			  struct hs_snapshot *prev, double *t_prev)
{
	static struct hs_snapshot cur, iv;
	struct hs_interval_info info = { .events = env.events };
	char clock[16];
	double t = now_mono();
	struct tm tm;
	time_t wall;
	int i, err;
	char *extra = NULL;
	size_t extra_len = 0;
	FILE *mem;

	take_snapshot(&cur, obj);
	if (env.json && env.bpf_stats) {
		/* Read with the snapshot, so the counts line up with it. */
		mem = open_memstream(&extra, &extra_len);
		if (mem) {
			print_bpf_stats(mem, obj, true);
			if (!fclose(mem))
				info.extra = extra;
		}
	}
	hs_snapshot_diff(&iv, &cur, prev);
	info.ts = t;
	info.secs = t - *t_prev;
	if (env.timestamp) {
		wall = time(NULL);
		localtime_r(&wall, &tm);
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
		info.clock = clock;
	}
	if (env.json) {
		hs_print_json(stdout, &iv, &cur, &info);
	} else {
		hs_print_table(stdout, &iv, &info);
		for (i = 0; env.hist && i < HS_NR_HISTS; i++) {
			printf("\n");
			hs_print_log2_hist(stdout, &iv.hists[i], hs_hist_title(i));
		}
		printf("\n");
	}
	fflush(stdout);
	free(extra);
	if (env.prom) {
		err = hs_write_prom_file(env.prom, &cur);
		if (err) {
			die_hint("check that the directory exists and is writable",
				 "cannot write %s: %s", env.prom, strerror(-err));
			return 1;
		}
	}
	*prev = cur;
	*t_prev = t;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.args_doc = "[interval [count]]",
		.doc = argp_program_doc,
	};
	static struct hs_snapshot prev;
	struct ring_buffer *rb = NULL;
	struct hintstat_bpf *obj = NULL;
	double t_start, t_prev, next, end = 0, t;
	int err, stats_fd = -1, rc = 1, timeout;
	long printed = 0;

	argp_err_exit_status = 2;
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;

	if (geteuid() != 0) {
		die_hint("run it as root, e.g. sudo hintstat",
			 "must be run as root (loading BPF needs CAP_BPF and CAP_PERFMON)");
		return 1;
	}
	if (check_kernel())
		return 1;

	libbpf_set_print(libbpf_print_fn);

	obj = hintstat_bpf__open();
	if (!obj) {
		die_hint("rerun with -v for libbpf's log",
			 "cannot open the BPF object: %s", strerror(errno));
		return 1;
	}
	obj->rodata->stream_events = env.events;
	skel = obj;

	err = hintstat_bpf__load(obj);
	if (err) {
		die_hint("rerun with -v for libbpf's log and the verifier's",
			 "the kernel refused the BPF programs: %s",
			 strerror(-err));
		goto cleanup;
	}
	err = hintstat_bpf__attach(obj);
	if (err) {
		die_hint("rerun with -v for libbpf's log",
			 "cannot attach to the page_hinting tracepoints: %s",
			 strerror(-err));
		goto cleanup;
	}
	if (env.events) {
		rb = ring_buffer__new(bpf_map__fd(obj->maps.events),
				      handle_event, NULL, NULL);
		if (!rb) {
			die_hint("rerun with -v for libbpf's log",
				 "cannot open the ring buffer: %s",
				 strerror(errno));
			goto cleanup;
		}
	}
	if (env.bpf_stats) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0)
			fprintf(stderr, "hintstat: warning: cannot enable BPF run-time stats: %s\n",
				strerror(-stats_fd));
	}

	if (signal(SIGINT, sig_handler) == SIG_ERR ||
	    signal(SIGTERM, sig_handler) == SIG_ERR) {
		die_hint("this should not happen", "cannot set signal handlers: %s",
			 strerror(errno));
		goto cleanup;
	}

	fprintf(stderr, "Tracing page hinting... Hit Ctrl-C to end.\n");

	t_start = t_prev = now_mono();
	next = t_start + env.interval;
	if (env.duration)
		end = t_start + env.duration;
	/* prev stays zero: the first interval starts at attach time. */
	rc = 0;
	while (1) {
		t = now_mono();
		if (!exiting && t < next && !(end && t >= end)) {
			double until = end && end < next ? end : next;

			timeout = (int)((until - t) * 1000) + 1;
			if (rb)
				err = ring_buffer__poll(rb, timeout);
			else
				err = poll(NULL, 0, timeout);
			if (err < 0 && errno != EINTR && err != -EINTR) {
				fprintf(stderr, "hintstat: polling the ring buffer: %s\n",
					strerror(errno));
				rc = 1;
				break;
			}
			continue;
		}
		if (rb)
			ring_buffer__consume(rb);
		if (print_interval(obj, &prev, &t_prev)) {
			rc = 1;
			break;
		}
		printed++;
		if (exiting || (env.count > 0 && printed >= env.count) ||
		    (end && t >= end))
			break;
		while (next <= t)
			next += env.interval;
	}
	if (env.bpf_stats && stats_fd >= 0 && !env.json)
		print_bpf_stats(stdout, obj, false);

cleanup:
	if (stats_fd >= 0)
		close(stats_fd);
	ring_buffer__free(rb);
	hintstat_bpf__destroy(obj);
	return rc;
}
