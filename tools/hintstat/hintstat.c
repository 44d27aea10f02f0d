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
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "hintstat.h"
#include "report.h"
#include "record.h"
#include "cli.h"
#include "host.h"
#include "http.h"
#include "kpageflags.h"
#include "run_loop.h"
#include "hintstat.skel.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"
#define BALLOON_BTF "/sys/kernel/btf/virtio_balloon"
#define BALLOON_FN "virtballoon_free_page_report"
#define PASS_FN "page_reporting_process"
#define MAX_LINKS 16
#define KPAGEFLAGS "/proc/kpageflags"
#define REPORTING_ORDER "/sys/module/page_reporting/parameters/page_reporting_order"
#define CLOCKSOURCE "/sys/devices/system/clocksource/clocksource0/current_clocksource"
#define KPROBE_PMU "/sys/bus/event_source/devices/kprobe"

enum hs_cmd { CMD_LIVE, CMD_RECORD, CMD_REPORT };
/* --mode: which programs to load; auto tries them in this order. */
enum { MODE_AUTO = -1 };

/* Besides the options both views take (hs_opt, cli.h). */
static struct env {
	bool events;
	bool bpf_stats;
	bool per_zone;
	bool kpf_exact;		/* --exact-orders */
	const char *input;	/* report FILE */
	int mode;		/* enum hs_mode or MODE_AUTO */
	enum hs_cmd cmd;
	int npos;		/* report: its arguments */
} env = {
	.mode = MODE_AUTO,
};

static volatile sig_atomic_t exiting;
static struct hintstat_bpf *skel;
static struct hs_snapshot names;	/* zone names for streamed events */
static unsigned long long received[HS_NR_EVENT_TYPES];
static struct bpf_link *links[MAX_LINKS];
/* Why each mechanism was not used, for the error when none works. */
static char why_fentry[96], why_kprobe[96];
/* Workqueue mode: the kpageflags scan, its last result; -1: no scan. */
static int kpf_fd = -1;
static struct hs_kpf_cfg kpf_cfg;
static struct hs_reported_now last_now;
static char clocksource[HS_CLOCKSOURCE_LEN];
static char release[80];		/* uname -r, for pagehint_info */

const char *argp_program_version = "hintstat " HS_VERSION;
const char *argp_program_bug_address = "the pagehint project's issue tracker";
const char argp_program_doc[] =
"Show free page reporting (page hinting) at work.\n"
"\n"
"USAGE: hintstat [-H [-Z]] [-j] [-e] [-T] [--prom FILE|[HOST]:PORT]\n"
"                [-i SEC] [-d SEC] [--mode MODE] [interval [count]]\n"
"       hintstat record -o FILE [the options above]\n"
"       hintstat report FILE [-j | -H [-Z]] [--prom FILE]\n"
"       hintstat host [-p PID | -n NAME] [--guest SOCKET] [-j] ... (see\n"
"                hintstat host --help)\n"
"\n"
"Needs root and BTF. With the pagehint series' page_hinting trace events\n"
"it shows everything (mode: tracepoints); on a stock kernel it falls back\n"
"to fentry (else kprobes) on page_reporting_process and virtio-balloon's\n"
"report callback: passes, batches, bytes, errors and the pass and device\n"
"call times, '-' (JSON null) for the rest (mode: fallback). Bytes are\n"
"attributed to the zone and to the order of the free list a batch was\n"
"completed on. With neither fentry nor kprobes (locked-down or production\n"
"kernels) it runs on what every kernel with free page reporting has (mode:\n"
"workqueue): passes and their durations from the workqueue tracepoints,\n"
"and the memory reported now, by zone and order, from /proc/kpageflags.\n"
"p50/p99 are upper bounds of log2 buckets (the true value is at most\n"
"that, more than half of it). On a jiffies clocksource every duration is\n"
"marked unreliable ('*', JSON clock.reliable false).\n"
"\n"
"record streams every event to FILE (and prints what the live view\n"
"prints); report replays FILE through the same aggregation and prints the\n"
"totals, as the live view would have. Neither needs the other's kernel.\n"
"\n"
"EXAMPLES:\n"
"    hintstat              # table every second until Ctrl-C\n"
"    hintstat 5 3          # three 5-second intervals\n"
"    hintstat -H -d 30     # log2 histograms each second for 30 s\n"
"    hintstat -H -Z 10     # histograms per zone, every 10 s\n"
"    hintstat -j           # one JSON object per interval\n"
"    hintstat -j -e        # and every event, one JSON object each\n"
"    hintstat --prom /run/pagehint.prom 10  # Prometheus file every 10 s\n"
"    hintstat --prom :9669 # serve Prometheus on http://HOST:9669/metrics\n"
"    hintstat --mode kprobe  # force the kprobe fallback\n"
"    hintstat --mode workqueue 5  # workqueue tracepoints + kpageflags\n"
"    hintstat --mode workqueue --exact-orders  # read whole blocks\n"
"    hintstat record -o ci.hsrec -d 60 > /dev/null  # record 60 s\n"
"    hintstat report ci.hsrec -j  # its totals as one JSON line\n"
"    hintstat -T -S        # timestamps, BPF run time per program\n";

#define OPT_MODE 1001
#define OPT_EXACT_ORDERS 1002

static const struct argp_option opts[] = {
	{ "per-zone", 'Z', NULL, 0, "With -H: a histogram per zone", 0 },
	{ "events", 'e', NULL, 0, "Stream and print every event (ring buffer)", 0 },
	{ "mode", OPT_MODE, "MODE", 0,
	  "auto (default), tracepoints, fentry, kprobe or workqueue", 0 },
	{ "bpf-stats", 'S', NULL, 0, "Measure the BPF programs' run time", 0 },
	{ "exact-orders", OPT_EXACT_ORDERS, NULL, 0,
	  "workqueue mode: read every page of a reported block, not samples, to tell its order (about 70 us per 4 MiB block)", 0 },
	{},
};

static void check_combination(struct argp_state *state)
{
	if (env.per_zone && !hs_opt.hist)
		argp_error(state, "-Z needs -H: it splits the histograms by zone");
	if (env.cmd == CMD_RECORD && !hs_opt.output)
		argp_error(state, "record needs -o FILE");
	if (env.cmd != CMD_RECORD && hs_opt.output)
		argp_error(state, "-o FILE is for hintstat record");
	if (env.kpf_exact && env.mode != MODE_AUTO &&
	    env.mode != HS_MODE_WORKQUEUE)
		argp_error(state, "--exact-orders is for the workqueue mode (auto falls back to it)");
	if (env.cmd == CMD_REPORT) {
		if (!env.input)
			argp_error(state, "report needs a record FILE");
		if (env.events || env.bpf_stats || hs_opt.duration ||
		    env.mode != MODE_AUTO || hs_opt.timestamp ||
		    env.kpf_exact)
			argp_error(state, "report takes only -j, -H, -Z and --prom FILE");
		if (hs_opt.prom && hs_prom_port(hs_opt.prom))
			argp_error(state, "report writes --prom to a FILE, it serves no port");
	}
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'Z':
		env.per_zone = true;
		break;
	case 'e':
		env.events = true;
		break;
	case 'S':
		env.bpf_stats = true;
		break;
	case OPT_EXACT_ORDERS:
		env.kpf_exact = true;
		break;
	case OPT_MODE:
		if (!strcmp(arg, "auto"))
			env.mode = MODE_AUTO;
		else if (!strcmp(arg, "tracepoints"))
			env.mode = HS_MODE_TRACEPOINTS;
		else if (!strcmp(arg, "fentry"))
			env.mode = HS_MODE_FENTRY;
		else if (!strcmp(arg, "kprobe"))
			env.mode = HS_MODE_KPROBE;
		else if (!strcmp(arg, "workqueue"))
			env.mode = HS_MODE_WORKQUEUE;
		else
			argp_error(state, "invalid mode '%s': want auto, tracepoints, fentry, kprobe or workqueue",
				   arg);
		break;
	case ARGP_KEY_ARG:
		if (env.cmd == CMD_REPORT) {
			if (env.npos++)
				argp_error(state, "unexpected argument '%s'", arg);
			env.input = arg;
			break;
		}
		return ARGP_ERR_UNKNOWN;	/* [interval [count]] */
	case ARGP_KEY_END:
		check_combination(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/*
 * libbpf's warnings always reach stderr, its info and debug output with
 * -v. While auto mode tries the modes in turn their failures are
 * expected, and the line that says which mode runs (or that none can)
 * names each one's error: the warnings are held, then dropped.
 */
static FILE *held;
static char *held_buf;
static size_t held_len;

int hs_libbpf_print(enum libbpf_print_level level, const char *format,
		    va_list args)
{
	if (hs_opt.verbose)
		return vfprintf(stderr, format, args);
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(held ? held : stderr, format, args);
}

static void libbpf_hold(void)
{
	held = open_memstream(&held_buf, &held_len);
}

static void libbpf_drop(void)
{
	if (!held)
		return;
	(void)fclose(held);	/* a memstream: nothing to lose */
	held = NULL;
	free(held_buf);
	held_buf = NULL;
}

/* CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN: what loading BPF needs. */
bool hs_can_bpf(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return geteuid() == 0;
#define HAS_CAP(c) (d[(c) / 32].effective & (1U << ((c) % 32)))
	return HAS_CAP(CAP_SYS_ADMIN) ||
	       (HAS_CAP(HS_CAP_BPF) && HAS_CAP(HS_CAP_PERFMON));
#undef HAS_CAP
}

static void sig_handler(int sig)
{
	(void)sig;
	exiting = 1;
}

static const char * const tp_names[] = {
	"request", "fill", "react", "drain", "cycle", "pass",
};

/* A function of the kernel or of a module, in BTF. */
static bool btf_has_func(struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
}

/*
 * The mode to run in (enum hs_mode; the fallback modes are tried fentry
 * first), or -1 after printing why hintstat cannot run on this kernel.
 */
static int detect_mode(void)
{
	char missing[128] = "", name[64];
	struct btf *btf, *mod = NULL;
	bool pass_fn, balloon_fn;
	size_t i;
	int err;

	if (access(VMLINUX_BTF, R_OK)) {
		hs_die_hint("build the kernel with CONFIG_DEBUG_INFO_BTF=y",
			 "the kernel has no BTF (%s: %s)", VMLINUX_BTF,
			 strerror(errno));
		return -1;
	}
	btf = btf__load_vmlinux_btf();
	err = libbpf_get_error(btf);
	if (err) {
		hs_die_hint("build the kernel with CONFIG_DEBUG_INFO_BTF=y",
			 "cannot load the kernel's BTF: %s", strerror(-err));
		return -1;
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
	if (!missing[0] && (env.mode == MODE_AUTO ||
			    env.mode == HS_MODE_TRACEPOINTS)) {
		btf__free(btf);
		return HS_MODE_TRACEPOINTS;
	}
	if (env.mode == HS_MODE_TRACEPOINTS) {
		btf__free(btf);
		hs_die_hint("boot a kernel with the pagehint series (kernel/0001-mm-page_reporting-add-page_hinting-tracepoints.patch), or use --mode auto",
			 "the kernel lacks the pagehint series: no page_hinting tracepoint %s",
			 missing);
		return -1;
	}
	/* Fallback: the pass in vmlinux, the report callback in its module. */
	pass_fn = btf_has_func(btf, PASS_FN);
	if (!access(BALLOON_BTF, R_OK)) {
		mod = btf__parse_split(BALLOON_BTF, btf);
		if (libbpf_get_error(mod))
			mod = NULL;
	}
	balloon_fn = btf_has_func(mod, BALLOON_FN) || btf_has_func(btf, BALLOON_FN);
	btf__free(mod);
	btf__free(btf);
	if (!pass_fn) {
		hs_die_hint("boot a kernel with the pagehint series, or one with CONFIG_PAGE_REPORTING=y",
			 "neither the page_hinting tracepoints nor %s() are in this kernel",
			 PASS_FN);
		return -1;
	}
	if (env.mode == HS_MODE_WORKQUEUE)
		return HS_MODE_WORKQUEUE;
	/* Another reporting device (hv_balloon): only the workqueue sees it. */
	if (!balloon_fn && env.mode == MODE_AUTO) {
		snprintf(why_fentry, sizeof(why_fentry), "no %s()", BALLOON_FN);
		snprintf(why_kprobe, sizeof(why_kprobe), "no %s()", BALLOON_FN);
		return HS_MODE_WORKQUEUE;
	}
	if (!balloon_fn) {
		hs_die_hint("modprobe virtio_balloon, and give the VM -device virtio-balloon-pci,free-page-reporting=on",
			 "no page_hinting tracepoints, and no free page reporting device to fall back on (%s() not found: virtio_balloon not loaded?)",
			 BALLOON_FN);
		return -1;
	}
	return env.mode == MODE_AUTO ? HS_MODE_FENTRY : env.mode;
}

/* The programs of a mode, by their section. */
static bool prog_in_mode(const struct bpf_program *prog, int mode)
{
	const char *sec = bpf_program__section_name(prog);

	switch (mode) {
	case HS_MODE_TRACEPOINTS:
		return !strncmp(sec, "tp_btf/page_hinting_", 20);
	case HS_MODE_WORKQUEUE:
		return !strncmp(sec, "tp_btf/workqueue_", 17);
	case HS_MODE_FENTRY:
		return !strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6);
	case HS_MODE_KPROBE:
		return !strncmp(sec, "kprobe/", 7) || !strncmp(sec, "kretprobe/", 10);
	}
	return false;
}

static void detach_all(void)
{
	int i;

	for (i = 0; i < MAX_LINKS; i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
}

/*
 * The fallback tells a batch's zone from the pfn of its first page: give
 * it the zones' spans and where vmemmap starts (struct hs_fb_span). With
 * vmemmap_base hidden by kptr_restrict no span is given, so no batch is
 * attributed to a wrong zone; its bytes still count, as unattributed.
 */
static void fallback_setup(struct hintstat_bpf *obj)
{
	bool found;

	obj->bss->fb_vmemmap_addr = hs_vmemmap_base_addr("/proc/kallsyms",
							 &found);
	if (found && !obj->bss->fb_vmemmap_addr) {
		if (hs_opt.verbose)
			fprintf(stderr, "hintstat: vmemmap_base hidden in /proc/kallsyms: batches without zone\n");
		return;
	}
	hs_zone_spans_from_zoneinfo("/proc/zoneinfo", obj->bss->fb_spans,
				    HS_FB_MAX_SPANS);
	/* The BPF side names a zone at its first fill: none here. */
	hs_zone_names_from_zoneinfo("/proc/zoneinfo", obj->bss->zone_names);
}

/*
 * Workqueue mode: the pass function's address for the BPF side, and the
 * kpageflags scan. Without the address nothing can be told apart: an
 * error. Without kpageflags the passes still count; the reported bytes
 * show as '-'.
 */
static int workqueue_setup(struct hintstat_bpf *obj, const char **what)
{
	const char *file;
	bool found;
	int err;

	obj->rodata->wq_func = hs_kallsyms_addr("/proc/kallsyms", PASS_FN,
						&found);
	if (!obj->rodata->wq_func) {
		*what = found ? "kallsyms (address hidden by kernel.kptr_restrict)" :
				"kallsyms (no " PASS_FN ")";
		return -ENOENT;
	}
	err = hs_kpf_setup(&kpf_cfg, "/proc/zoneinfo", "/proc/buddyinfo",
			   REPORTING_ORDER, &file);
	kpf_cfg.exact = env.kpf_exact;
	if (!err) {
		kpf_fd = open(KPAGEFLAGS, O_RDONLY | O_CLOEXEC);
		err = kpf_fd < 0 ? -errno : 0;
		file = KPAGEFLAGS;
	}
	if (err)
		fprintf(stderr, "hintstat: warning: %s: %s: reported bytes not shown (hint: a kernel with CONFIG_PROC_PAGE_MONITOR=y)\n",
			file, strerror(-err));
	return 0;
}

/* Workqueue mode: scan what is reported now into last_now. */
static void scan_reported(void)
{
	struct hs_kpf_scan sc;

	if (kpf_fd < 0)
		return;
	hs_kpf_read_order(&kpf_cfg, REPORTING_ORDER);
	if (hs_kpf_scan(kpf_fd, &kpf_cfg, &sc)) {
		last_now.valid = false;
		return;
	}
	memcpy(last_now.bytes, sc.bytes, sizeof(last_now.bytes));
	last_now.total = sc.total;
	last_now.scan_ns = sc.ns;
	last_now.reads = sc.reads;
	last_now.exact = kpf_cfg.exact;
	last_now.sampled_excess = sc.sampled_excess;
	last_now.valid = true;
}

/*
 * Open, load and attach the programs of one mode. 0, or -errno with
 * *what saying which step failed (the object is destroyed then).
 */
static int load_mode(int mode, struct hintstat_bpf **out, const char **what)
{
	struct bpf_program *prog;
	struct hintstat_bpf *obj;
	int err, n = 0;

	*out = NULL;
	obj = hintstat_bpf__open();
	if (!obj) {
		*what = "open";
		return errno ? -errno : -EINVAL;
	}
	obj->rodata->stream_events = env.events || env.cmd == CMD_RECORD;
	obj->rodata->page_shift = __builtin_ctzl(sysconf(_SC_PAGESIZE));
	if (mode == HS_MODE_WORKQUEUE) {
		err = workqueue_setup(obj, what);
		if (err)
			goto fail;
	}
	bpf_object__for_each_program(prog, obj->obj)
		bpf_program__set_autoload(prog, prog_in_mode(prog, mode));
	err = hintstat_bpf__load(obj);
	if (err) {
		*what = "load";
		goto fail;
	}
	if (mode == HS_MODE_FENTRY || mode == HS_MODE_KPROBE)
		fallback_setup(obj);
	/* The BPF side names a zone at its first fill: none here. */
	if (mode == HS_MODE_WORKQUEUE)
		hs_zone_names_from_zoneinfo("/proc/zoneinfo",
					    obj->bss->zone_names);
	bpf_object__for_each_program(prog, obj->obj) {
		if (!prog_in_mode(prog, mode))
			continue;
		if (n >= MAX_LINKS) {
			err = -E2BIG;
			*what = "attach";
			goto fail;
		}
		links[n] = bpf_program__attach(prog);
		err = libbpf_get_error(links[n]);
		if (err) {
			links[n] = NULL;
			*what = "attach";
			goto fail;
		}
		n++;
	}
	*out = obj;
	return 0;
fail:
	detach_all();
	hintstat_bpf__destroy(obj);
	return err;
}

/* "what: error" into buf, for the message when no mode works. */
static void note_why(char *buf, size_t len, const char *what, int err)
{
	snprintf(buf, len, "%s: %s", what, strerror(-err));
}

/* kprobes: "not built in" when the kernel has no kprobe PMU. */
static void note_why_kprobe(const char *what, int err)
{
	if (access(KPROBE_PMU, F_OK))
		snprintf(why_kprobe, sizeof(why_kprobe), "not built in");
	else
		note_why(why_kprobe, sizeof(why_kprobe), what, err);
}

/*
 * Load the mode detect_mode() chose. In auto, fentry falls back to
 * kprobes and kprobes to the workqueue tracepoints, each failure noted.
 */
static struct hintstat_bpf *load_bpf(int *mode)
{
	struct hintstat_bpf *obj;
	const char *what = "";
	int err;

	if (env.mode == MODE_AUTO)
		libbpf_hold();
	err = load_mode(*mode, &obj, &what);
	if (err && *mode == HS_MODE_FENTRY && env.mode == MODE_AUTO) {
		note_why(why_fentry, sizeof(why_fentry), what, err);
		*mode = HS_MODE_KPROBE;
		err = load_mode(*mode, &obj, &what);
	}
	if (err && *mode == HS_MODE_KPROBE && env.mode == MODE_AUTO) {
		note_why_kprobe(what, err);
		*mode = HS_MODE_WORKQUEUE;
		err = load_mode(*mode, &obj, &what);
	}
	libbpf_drop();
	if (!err) {
		if (why_fentry[0] && env.mode == MODE_AUTO)
			fprintf(stderr, "hintstat: no page_hinting events; fentry: %s; kprobes: %s\n",
				why_fentry, why_kprobe);
		return obj;
	}
	if (why_fentry[0])
		hs_die_hint("rerun with -v for libbpf's log; a kernel with the pagehint series shows everything",
			 "nothing to trace with: no page_hinting events; fentry: %s; kprobes: %s; workqueue: %s: %s",
			 why_fentry, why_kprobe, what, strerror(-err));
	else if (!strcmp(what, "load"))
		hs_die_hint("rerun with -v for libbpf's log and the verifier's",
			 "the kernel refused the BPF programs (mode %s): %s",
			 hs_mode_name(*mode, false), strerror(-err));
	else if (!strcmp(what, "attach") || !strcmp(what, "open"))
		hs_die_hint("rerun with -v for libbpf's log",
			 "cannot %s the BPF programs (mode %s): %s", what,
			 hs_mode_name(*mode, false), strerror(-err));
	else
		hs_die_hint("run as root with kernel.kptr_restrict at 0 or 1",
			 "cannot find the reporting work (mode %s): %s",
			 hs_mode_name(*mode, false), what);
	return NULL;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	const struct hs_event *e = data;

	(void)ctx;
	if (len < sizeof(*e))
		return 0;
	if (e->type < HS_NR_EVENT_TYPES)
		received[e->type]++;
	hs_recorder_event(e);
	if (!env.events)
		return 0;
	/* A zone's name is recorded by its first fill, before its event. */
	memcpy(names.zone_names, skel->bss->zone_names,
	       sizeof(names.zone_names));
	if (hs_opt.json)
		hs_print_event_json(stdout, e, &names);
	else
		hs_print_event(stdout, e, &names);
	return 0;
}

static int run_mode;

static void take_snapshot(struct hs_snapshot *s, const struct hintstat_bpf *obj)
{
	hs_snapshot_from_state(s, &obj->bss->st);
	memcpy(s->zone_names, obj->bss->zone_names, sizeof(s->zone_names));
	memcpy(s->events, received, sizeof(s->events));
	s->mode = run_mode;
	s->now = last_now;
	memcpy(s->clocksource, clocksource, sizeof(s->clocksource));
	snprintf(s->release, sizeof(s->release), "%s", release);
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

/* --prom [HOST]:PORT (http.c). */
static struct hs_http http = { .lfd = -1 };

/* GET /metrics: the totals at that moment. */
static void prom_live(FILE *f, const void *arg)
{
	static struct hs_snapshot cur;

	take_snapshot(&cur, arg);
	hs_print_prom(f, &cur);
}

static int print_interval(const struct hintstat_bpf *obj,
			  struct hs_snapshot *prev, double *t_prev)
{
	static struct hs_snapshot cur, iv;
	struct hs_interval_info info = {
		.events = env.events || env.cmd == CMD_RECORD,
	};
	char clock[16];
	double t;
	struct tm tm;
	time_t wall;
	int err;
	char *extra = NULL;
	size_t extra_len = 0;
	FILE *mem;

	/*
	 * The scan takes milliseconds: the interval ends when the counters
	 * are read, after it, so an event counted is one before the end.
	 */
	scan_reported();
	hs_read_clocksource(CLOCKSOURCE, clocksource, sizeof(clocksource));
	t = hs_now_mono();
	take_snapshot(&cur, obj);
	if (hs_opt.json && env.bpf_stats) {
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
	if (hs_opt.timestamp) {
		wall = time(NULL);
		localtime_r(&wall, &tm);
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
		info.clock = clock;
	}
	if (hs_opt.json) {
		hs_print_json(stdout, &iv, &cur, &info);
	} else {
		hs_print_table(stdout, &iv, &info);
		if (hs_opt.hist)
			hs_print_hists(stdout, &iv, env.per_zone);
		printf("\n");
	}
	free(extra);
	if (hs_stdout_flush())
		return 1;
	if (hs_recorder_sync(t, cur.totals.dropped_events))
		return 1;
	if (hs_opt.prom && !hs_http_on(&http)) {
		err = hs_write_prom_file(hs_opt.prom, &cur);
		if (err) {
			hs_die_hint("check that the directory exists and is writable",
				 "cannot write %s: %s", hs_opt.prom, strerror(-err));
			return 1;
		}
	}
	*prev = cur;
	*t_prev = t;
	return 0;
}

/* report -j: the record's own member, its release as a JSON string. */
static int record_json(const struct hs_replay *r, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	if (!f)
		return 1;
	fprintf(f, "\"record\":{\"version\":%u,\"release\":", r->hdr.version);
	hs_json_str(f, r->hdr.release);
	fprintf(f, ",\"records\":%llu,\"complete\":%s}", r->records,
		r->complete ? "true" : "false");
	fputc('\0', f);
	return fclose(f) || !memchr(buf, '\0', len);
}

/* hintstat report FILE: the record's totals, as the live view prints. */
static int report(void)
{
	static struct hs_replay r;
	struct hs_interval_info info = { .events = true };
	/* The record member: a release of 80 bytes, each escaped to 6. */
	char extra[640];
	int err;

	if (hs_replay_file(env.input, &r)) {
		hs_die_hint("give a file written by hintstat record -o; a damaged one must be recorded again",
			 "%s", r.err);
		return 1;
	}
	if (!r.complete)
		fprintf(stderr, "hintstat: warning: %s has no end record: the recording was cut short, reporting the %llu events it holds\n",
			env.input, r.records);
	if (r.hdr.mode == HS_MODE_HOST)
		return hs_host_report(&r, env.input, hs_opt.json, hs_opt.hist, hs_opt.prom);
	info.ts = r.end_ns / 1e9;
	info.secs = (r.end_ns - r.hdr.start_ns) / 1e9;
	if (hs_opt.json) {
		/* The file may come from anywhere: release is escaped. */
		if (record_json(&r, extra, sizeof(extra))) {
			hs_die_hint("this should not happen", "cannot format the record's header");
			return 1;
		}
		info.extra = extra;
		hs_print_json(stdout, &r.snap, &r.snap, &info);
	} else if (!hs_opt.prom || hs_opt.hist) {
		printf("record %s: kernel %s, mode %s, %llu events, %llu dropped%s\n",
		       env.input, r.hdr.release, hs_mode_name(r.hdr.mode, false),
		       r.records, r.snap.totals.dropped_events,
		       r.complete ? "" : ", cut short");
		hs_print_table(stdout, &r.snap, &info);
		if (hs_opt.hist)
			hs_print_hists(stdout, &r.snap, env.per_zone);
	}
	if (hs_opt.prom) {
		err = hs_write_prom_file(hs_opt.prom, &r.snap);
		if (err) {
			hs_die_hint("check that the directory exists and is writable",
				 "cannot write %s: %s", hs_opt.prom, strerror(-err));
			return 1;
		}
	}
	return fflush(stdout) ? 1 : 0;
}

/* record -o FILE: create it and write its header. 0 or 1 after a message. */
static int record_start(double t_start)
{
	char zones[HS_MAX_ZONES][HS_ZONE_NAME_LEN];

	hs_zone_names_from_zoneinfo("/proc/zoneinfo", zones);
	return hs_recorder_open(hs_opt.output, run_mode, t_start, zones);
}

/* The guest view in the run loop: the --prom responder's fds. */
static int loop_fds(void *ctx, struct pollfd *pfd, int max)
{
	(void)ctx;
	(void)max;	/* the loop has room for them */
	return hs_http_pollfds(&http, pfd);
}

static int loop_woke(void *ctx)
{
	hs_http_serve(&http, prom_live, ctx);
	return 0;
}

static struct hs_snapshot *loop_prev;
static double loop_t_prev;

/* The interval's table or JSON line: 0, or 1 (error) / 2 (reader gone). */
static int loop_interval(void *ctx, double t, double secs)
{
	(void)t;
	(void)secs;	/* print_interval keeps its own clock */
	if (print_interval(ctx, loop_prev, &loop_t_prev))
		return hs_stdout_gone ? 2 : 1;
	return 0;
}

/* Intervals from t_prev until the end: 0, or 1 after a message. */
static int run(struct hintstat_bpf *obj, struct ring_buffer *rb,
	       struct hs_snapshot *prev, double t_prev)
{
	struct hs_loop loop = {
		.rb = rb, .fds = loop_fds, .woke = loop_woke,
		.interval = loop_interval, .ctx = obj, .exiting = &exiting,
	};

	loop_prev = prev;
	loop_t_prev = t_prev;
	return hs_run_loop(&loop);
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.children = hs_common_children,
		.args_doc = "[interval [count]]",
		.doc = argp_program_doc,
	};
	static struct hs_snapshot prev;
	struct ring_buffer *rb = NULL;
	struct hintstat_bpf *obj = NULL;
	double t_start, t_prev;
	struct utsname uts;
	int err, stats_fd = -1, rc = 1;

	argp_err_exit_status = 2;
	if (argc > 1 && !strcmp(argv[1], "host")) {
		argv[1] = "hintstat host";
		return hs_host_main(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "record"))
		env.cmd = CMD_RECORD;
	else if (argc > 1 && !strcmp(argv[1], "report"))
		env.cmd = CMD_REPORT;
	if (env.cmd != CMD_LIVE) {
		/* "hintstat record ..." parses like "hintstat ...". */
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (env.cmd == CMD_REPORT)
		return report();

	if (!hs_can_bpf()) {
		hs_die_hint("run it as root, e.g. sudo hintstat, or give it CAP_BPF and CAP_PERFMON",
			 "missing capabilities: loading BPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)");
		return 1;
	}
	libbpf_set_print(hs_libbpf_print);
	run_mode = detect_mode();
	if (run_mode < 0)
		return 1;

	obj = load_bpf(&run_mode);
	if (!obj)
		return 1;
	skel = obj;
	if (env.events || env.cmd == CMD_RECORD) {
		rb = ring_buffer__new(bpf_map__fd(obj->maps.events),
				      handle_event, NULL, NULL);
		if (!rb) {
			hs_die_hint("rerun with -v for libbpf's log",
				 "cannot open the ring buffer: %s",
				 strerror(errno));
			goto cleanup;
		}
	}
	if (hs_http_open(&http, hs_opt.prom))
		goto cleanup;
	if (env.bpf_stats) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0)
			fprintf(stderr, "hintstat: warning: cannot enable BPF run-time stats: %s\n",
				strerror(-stats_fd));
	}

	/* A reader gone (| head) ends the run with its END record. */
	if (signal(SIGINT, sig_handler) == SIG_ERR ||
	    signal(SIGTERM, sig_handler) == SIG_ERR ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		hs_die_hint("this should not happen", "cannot set signal handlers: %s",
			 strerror(errno));
		goto cleanup;
	}

	t_start = t_prev = hs_now_mono();
	/* The first interval's change is from what was reported at start. */
	scan_reported();
	prev.now = last_now;
	if (env.cmd == CMD_RECORD && record_start(t_start))
		goto cleanup;
	fprintf(stderr, "hintstat: mode: %s\n", hs_mode_name(run_mode, false));
	if (run_mode == HS_MODE_WORKQUEUE)
		fprintf(stderr, "hintstat: not measured in this mode, shown as '-': bytes and batches per pass, device calls, requests, cycles, fill and drain lock hold\n");
	else if (run_mode != HS_MODE_TRACEPOINTS)
		fprintf(stderr, "hintstat: not measured in this mode, shown as '-': requests, cycles, fill and drain lock hold\n");
	hs_read_clocksource(CLOCKSOURCE, clocksource, sizeof(clocksource));
	if (!uname(&uts))
		snprintf(release, sizeof(release), "%s", uts.release);
	if (hs_clocksource_coarse(clocksource))
		fprintf(stderr, "hintstat: warning: clocksource %s: durations are in ticks and unreliable, marked '*'\n",
			clocksource);
	if (env.cmd == CMD_RECORD)
		fprintf(stderr, "Recording page hinting to %s... Hit Ctrl-C to end.\n",
			hs_opt.output);
	else
		fprintf(stderr, "Tracing page hinting... Hit Ctrl-C to end.\n");

	/* prev stays zero: the first interval starts at attach time. */
	rc = run(obj, rb, &prev, t_prev);
	if (env.bpf_stats && stats_fd >= 0 && !hs_opt.json)
		print_bpf_stats(stdout, obj, false);
	if (hs_recorder_close(true, obj->bss->st.totals.dropped_events))
		rc = 1;

cleanup:
	hs_recorder_close(false, 0);
	hs_http_close(&http);
	if (stats_fd >= 0)
		close(stats_fd);
	ring_buffer__free(rb);
	if (kpf_fd >= 0)
		close(kpf_fd);
	detach_all();
	hintstat_bpf__destroy(obj);
	return rc;
}
