// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat host - what the VMM does with the pages its guest reports.
 *
 * Finds the VMM (QEMU, Firecracker, Cloud Hypervisor) and its guest-RAM
 * mapping, attaches bpf/hintstat_host.bpf.c to the syscall and fault
 * tracepoints, and prints every interval the bytes discarded inside guest
 * RAM, the discard latency, what the VMM discarded outside guest RAM, the
 * bytes of discarded guest RAM resident again (from the VMM's pagemap)
 * and the VMM's RSS. With --guest SOCKET it
 * reads the JSON lines the guest's hintstat writes to a virtio-serial
 * port and shows the guest's hinted bytes next to the host's discards,
 * flagging bytes the host did not discard.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "host.h"
#include "host_refault.h"
#include "host_vmm.h"
#include "host_thp.h"
#include "report.h"
#include "record.h"
#include "cli.h"
#include "http.h"
#include "guest_stream.h"
#include "hintstat_host.skel.h"

#define MIB (1024.0 * 1024.0)
#define HH_MAX_LINKS 8

/* Besides the options both views take (hs_opt, cli.h). */
static struct host_env {
	int pid;
	const char *name;
	struct ram_sizes ram;	/* --ram SIZE[,SIZE...]; none: command line */
	const char *guest;	/* --guest SOCKET */
	bool record;
} env;

/* The guest's stream (--guest): its socket and its parser. */
struct guest_stream {
	int fd;
	bool gone;		/* EOF or silence: said once */
	unsigned long long bad_said;	/* bad lines already reported */
	struct hs_gstream p;
};

static volatile sig_atomic_t exiting;
static struct bpf_link *links[HH_MAX_LINKS];
static struct guest_stream gs = { .fd = -1 };
static struct hs_http http = { .lfd = -1 };
/* The VMM traced, and its guest RAM. */
static struct hh_vm the_vm;
/* Host huge pages split by discards. */
static struct hh_thp thp = { .pagemap_fd = -1 };
static const char *divergence_reason;
/* Totals since attach, for --prom :PORT and the summary. */
static struct hh_state cur_state;
static unsigned long long cur_rss;

static struct hh_refault rs = { .fd = -1 };

const char host_doc[] =
"Show what the VMM does with the free pages its guest reports.\n"
"\n"
"USAGE: hintstat host [-p PID | -n NAME] [--ram SIZE[,...]] [--guest SOCKET]\n"
"                     [-j | -H] [-T] [--prom FILE|[HOST]:PORT] [-i SEC]\n"
"                     [-d SEC] [interval [count]]\n"
"       hintstat host record -o FILE [the options above]\n"
"       hintstat report FILE [-j | -H] [--prom FILE]   (a host record too)\n"
"\n"
"Needs root. Counts, by syscall tracepoints only, the VMM's\n"
"madvise(MADV_DONTNEED|MADV_REMOVE|MADV_FREE) and fallocate(PUNCH_HOLE)\n"
"calls inside its guest RAM blocks (found in /proc/PID/maps from the\n"
"memory sizes on its command line: QEMU -m and memory-backend sizes, or\n"
"--ram; looked for again every interval), their latency, what it\n"
"discards outside guest RAM (its own heap), the bytes of discarded guest\n"
"RAM that are resident again (refaults: every interval, the discarded\n"
"pages the VMM's /proc/PID/pagemap shows present or swapped; unknown,\n"
"'-' or null, when pagemap cannot be read) and its RSS. Without -p it\n"
"looks for QEMU, Firecracker and Cloud Hypervisor processes (or NAME)\n"
"and lists them when several match.\n"
"\n"
"--guest SOCKET reads the JSON lines the guest's hintstat -j writes to a\n"
"virtio-serial port (QEMU: -chardev socket,id=hs,path=SOCKET,server=on,\n"
"wait=off -device virtio-serial-pci -device virtserialport,chardev=hs,\n"
"name=org.pagehint.hintstat) and joins them by time: bytes hinted in the\n"
"guest next to bytes discarded on the host, flagging what was reported\n"
"but not discarded. When the VMM exits, hintstat host prints its last\n"
"interval and a summary and exits 0.\n"
"\n"
"EXAMPLES:\n"
"    hintstat host                 # the only VMM on this host, every second\n"
"    hintstat host -n qemu -j      # JSON lines for the QEMU process\n"
"    hintstat host -p 4242 -H 10   # discard latency histograms every 10 s\n"
"    hintstat host -p 4242 --guest /run/vm1/hintstat.sock  # guest and host\n"
"    hintstat host -p 4242 --prom :9670  # Prometheus on :9670/metrics\n"
"    hintstat host -p 4242 --ram 2G,2G    # two RAM blocks (NUMA nodes)\n"
"    hintstat host record -o vm1.hsrec -p 4242 -d 60 > /dev/null\n"
"    hintstat report vm1.hsrec -j  # its totals, anywhere\n";

#define OPT_RAM 2000
#define OPT_GUEST 2001

static const struct argp_option host_opts[] = {
	{ "pid", 'p', "PID", 0, "The VMM's process id", 0 },
	{ "name", 'n', "NAME", 0, "Find the VMM by process name", 0 },
	{ "ram", OPT_RAM, "SIZE[,SIZE...]", 0,
	  "Guest RAM size (e.g. 1024M, 4G) if not on its command line; one per RAM block", 0 },
	{ "guest", OPT_GUEST, "SOCKET", 0,
	  "Join the guest's hintstat -j stream from this unix socket", 0 },
	{},
};

static error_t host_parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'p':
		if (!hs_str_pid(arg, &env.pid))
			argp_error(state, "invalid pid '%s': want a positive integer",
				   arg);
		break;
	case 'n':
		if (!*arg)
			argp_error(state, "-n needs a process name, e.g. -n qemu");
		env.name = arg;
		break;
	case OPT_RAM:
		if (!hh_parse_ram_list(arg, &env.ram))
			argp_error(state, "invalid --ram '%s': want sizes such as 1024M or 4G,512M (at most %d, each below 16 EiB)",
				   arg, HH_MAX_RANGES);
		break;
	case OPT_GUEST:
		if (!*arg)
			argp_error(state, "--guest needs the unix socket of the guest's stream");
		env.guest = arg;
		break;
	case ARGP_KEY_END:
		if (env.pid && env.name)
			argp_error(state, "-p and -n do not mix: give one of them");
		if (env.record && !hs_opt.output)
			argp_error(state, "record needs -o FILE");
		if (!env.record && hs_opt.output)
			argp_error(state, "-o FILE is for hintstat host record");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void sig_handler(int sig)
{
	(void)sig;
	exiting = 1;
}

/* The VMM to trace: target filled, or 1 (runtime) / 2 (ambiguous). */
static int find_vmm(void)
{
	struct vmm *found = NULL, v;
	struct dirent *d;
	int n = 0, i, self = getpid();
	DIR *dir;

	if (env.pid) {
		if (!hh_read_vmm(env.pid, &the_vm.target, true)) {
			hs_die_hint("list the VMMs with 'hintstat host' (no -p), or pgrep -a qemu",
				    "no process with pid %d", env.pid);
			return 1;
		}
		return 0;
	}
	dir = opendir("/proc");
	if (!dir) {
		hs_die_hint("mount /proc", "cannot read /proc: %s", strerror(errno));
		return 1;
	}
	while ((d = readdir(dir))) {
		int pid = atoi(d->d_name);

		if (pid <= 0 || pid == self || !hh_read_vmm(pid, &v, false) ||
		    !hh_is_vmm_name(&v, env.name))
			continue;
		found = realloc(found, (n + 1) * sizeof(*found));
		if (!found) {
			closedir(dir);
			return 1;
		}
		found[n++] = v;
	}
	closedir(dir);
	if (n == 1) {
		the_vm.target = found[0];
		free(found);
		return 0;
	}
	if (!n) {
		if (env.name)
			hs_die_hint("check the name with pgrep -a NAME, or give -p PID",
				    "no process named like '%s'", env.name);
		else
			hs_die_hint("start the VM first, or give its pid with -p PID",
				    "no VMM process found (looked for qemu-system-*, qemu-kvm, firecracker, cloud-hypervisor)");
		return 1;
	}
	fprintf(stderr, "hintstat: %d processes match%s%s%s; which one?\n", n,
		env.name ? " '" : "", env.name ? env.name : " a VMM name",
		env.name ? "'" : "");
	fprintf(stderr, "  %7s  %-15s %8s  %s\n", "PID", "COMM", "RAM_MiB",
		"COMMAND");
	for (i = 0; i < n; i++)
		fprintf(stderr, "  %7d  %-15s %8llu  %.48s\n", found[i].pid,
			found[i].comm, hh_sum_sizes(&found[i].ram) >> 20,
			found[i].cmdline);
	fprintf(stderr, "hint: choose one with -p PID\n");
	free(found);
	return 2;
}

static void detach_all(void)
{
	int i;

	for (i = 0; i < HH_MAX_LINKS; i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
}

static bool tracepoint_exists(const char *cat, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/%s", cat,
		 name);
	if (!access(path, F_OK))
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s/%s",
		 cat, name);
	return !access(path, F_OK);
}

/* Load with the VMM's pid and a bitmap for its RAM; NULL after a message. */
static struct hintstat_host_bpf *load_host(const struct ram_sizes *sizes)
{
	unsigned long long size = hh_sum_sizes(sizes);
	struct hintstat_host_bpf *obj;
	struct bpf_program *prog;
	int err, n = 0, tries;
	const char *what = "open";
	bool changed;

	/* libbpf finds tracepoint ids in tracefs: mount it if nobody did. */
	if (access("/sys/kernel/tracing/events", F_OK) &&
	    access("/sys/kernel/debug/tracing/events", F_OK) &&
	    mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		fprintf(stderr, "hintstat: mounted tracefs on /sys/kernel/tracing\n");
	if (!tracepoint_exists("syscalls", "sys_enter_madvise")) {
		hs_die_hint("mount -t tracefs nodev /sys/kernel/tracing; the kernel needs CONFIG_FTRACE_SYSCALLS=y",
			    "no syscall tracepoints (syscalls:sys_enter_madvise not in tracefs)");
		return NULL;
	}
	obj = hintstat_host_bpf__open();
	if (!obj) {
		err = -errno;
		goto fail;
	}
	obj->rodata->vmm_tgid = the_vm.target.pid;
	obj->rodata->stream_events = env.record;
	/* One bit per 4 KiB page of all the blocks declared, 64 per word. */
	err = bpf_map__set_max_entries(obj->maps.discarded,
				       ((size >> HH_PAGE_SHIFT) + 63) / 64 + 1);
	if (err)
		goto fail;
	/* One per 2 MiB unit, and one more per block (unaligned ends). */
	err = bpf_map__set_max_entries(obj->maps.cut, hh_cut_words(sizes));
	if (err)
		goto fail;
	bpf_program__set_autoload(obj->progs.hh_kvm_fault,
				  tracepoint_exists("kvm", "kvm_page_fault"));
	bpf_program__set_autoload(obj->progs.hh_page_fault,
				  tracepoint_exists("exceptions", "page_fault_user"));
	what = "load";
	err = hintstat_host_bpf__load(obj);
	if (err)
		goto fail;
	obj->bss->bitmap_pages = ((size >> HH_PAGE_SHIFT) + 63) / 64 * 64;
	/* A VMM just started may not have mapped its RAM yet: 10 s. */
	for (tries = 0; tries < 200; tries++) {
		err = hh_find_ram(&the_vm, obj->bss, sizes, &changed);
		if (err != -ENOENT || exiting)
			break;
		if (hh_vmm_rss(the_vm.target.pid) < 0) {
			err = -ESRCH;
			break;
		}
		usleep(50000);
	}
	if (err == -ENOENT) {
		hs_die_hint("give the guest's memory size with --ram SIZE[,SIZE...], one per RAM block",
			    "no mapping of %s (the guest RAM, %s) in /proc/%d/maps",
			    hh_sizes_str(sizes), env.ram.n ? "from --ram" :
			    the_vm.target.ram_default ? "the VMM's default size" :
			    "from its command line", the_vm.target.pid);
		hintstat_host_bpf__destroy(obj);
		return NULL;
	}
	if (err == -ESRCH) {
		hs_die_hint("start the VM again; its log says why it stopped",
			    "%s (pid %d) exited before its guest RAM was mapped",
			    the_vm.target.comm, the_vm.target.pid);
		hintstat_host_bpf__destroy(obj);
		return NULL;
	}
	if (err < 0) {
		hs_die_hint("check the pid; the VMM may have exited",
			    "cannot read /proc/%d/maps: %s", the_vm.target.pid,
			    strerror(-err));
		hintstat_host_bpf__destroy(obj);
		return NULL;
	}
	what = "attach";
	bpf_object__for_each_program(prog, obj->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		links[n] = bpf_program__attach(prog);
		err = libbpf_get_error(links[n]);
		if (err) {
			links[n] = NULL;
			goto fail;
		}
		n++;
	}
	return obj;
fail:
	detach_all();
	hintstat_host_bpf__destroy(obj);
	hs_die_hint("rerun with -v for libbpf's log",
		    "cannot %s the host BPF programs: %s", what, strerror(-err));
	return NULL;
}

/* --guest: connect to the stream's unix socket. 0 or -errno. */
static int guest_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	gs.fd = fd;
	return 0;
}

/* A refused guest line: said at the first and every power of two. */
static void guest_bad_lines(void)
{
	unsigned long long n = gs.p.bad;

	if (n == gs.bad_said)
		return;
	gs.bad_said = n;
	if (n & (n - 1))
		return;
	fprintf(stderr, "hintstat: guest stream: %llu bad line%s, the latest: %s\n",
		n, n > 1 ? "s" : "", gs.p.why);
}

/*
 * Read what the guest sent, a bounded amount per call so that a guest
 * flooding its port cannot hold the loop; EOF marks the stream gone.
 */
static void guest_read(unsigned long long host_now)
{
	char buf[16384];
	ssize_t r;
	int i;

	for (i = 0; gs.fd >= 0 && i < 16; i++) {
		r = read(gs.fd, buf, sizeof(buf));
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			close(gs.fd);
			gs.fd = -1;
			if (!gs.gone)
				fprintf(stderr, "hintstat: guest stream gone (socket closed)\n");
			gs.gone = true;
			break;
		}
		if (hs_gstream_feed(&gs.p, buf, r, hs_now_mono(), host_now) &&
		    gs.gone) {
			fprintf(stderr, "hintstat: guest stream back\n");
			gs.gone = false;
		}
	}
	guest_bad_lines();
}

/* Bytes the host dropped: what hits the guest RAM's memory. */
static unsigned long long discarded(const struct hh_totals *t)
{
	return the_vm.ram_file ? t->punch_bytes : t->madv_bytes;
}

static unsigned long long discard_calls(const struct hh_totals *t)
{
	return the_vm.ram_file ? t->punch_calls : t->madv_calls;
}

static const struct hs_hist *discard_hist(const struct hh_state *s)
{
	return &s->hists[the_vm.ram_file ? HH_HIST_PUNCH : HH_HIST_MADVISE];
}

static const char *stream_state(void)
{
	if (!env.guest)
		return "none";
	if (gs.gone)
		return "gone";
	return gs.p.seen ? "up" : "waiting";
}

/*
 * Reported in the guest but not discarded on the host, since the stream
 * began, both sides taken when the guest's latest line came (the join by
 * time): the host discards before the guest's device call returns, so a
 * positive difference is a divergence (0 while none). The host may be
 * ahead by what it discarded for a batch the guest has not printed yet.
 */
static unsigned long long divergence(void)
{
	unsigned long long g = gs.p.hinted, h = gs.p.host_at - gs.p.host_base;

	return g > h ? g - h : 0;
}

static void diff_state(struct hh_state *out, const struct hh_state *cur,
		       const struct hh_state *prev)
{
	const unsigned long long *c = (const void *)cur, *p = (const void *)prev;
	unsigned long long *o = (void *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(*o); i++)
		o[i] = c[i] - p[i];
}

static void json_totals(FILE *f, const struct hh_totals *t)
{
	fprintf(f, "\"discarded_bytes\":%llu,\"discard_calls\":%llu,"
		"\"madvised_bytes\":%llu,\"madvise_calls\":%llu,"
		"\"dontneed_bytes\":%llu,\"remove_bytes\":%llu,\"free_bytes\":%llu,"
		"\"punched_bytes\":%llu,\"punch_calls\":%llu,"
		"\"outside_bytes\":%llu,\"outside_calls\":%llu,"
		"\"punched_other_bytes\":%llu,\"errors\":%llu,"
		"\"user_faults\":%llu,\"kvm_faults\":%llu,"
		"\"untracked_pages\":%llu,\"refault_bytes\":",
		discarded(t), discard_calls(t), t->madv_bytes, t->madv_calls,
		t->madv_dontneed_bytes, t->madv_remove_bytes, t->madv_free_bytes,
		t->punch_bytes, t->punch_calls, t->outside_bytes,
		t->outside_calls, t->punch_other_bytes, t->errors, t->faults,
		t->kvm_faults, t->untracked_pages);
	/* Unknown is null, never 0. */
	if (rs.ok)
		fprintf(f, "%llu", t->refault_bytes);
	else
		fprintf(f, "null");
	if (thp.ok)
		fprintf(f, ",\"thp_splits\":%llu", t->thp_splits);
	else
		fprintf(f, ",\"thp_splits\":null");
}

static void json_guest(FILE *f)
{
	fprintf(f, ",\"guest\":{\"stream\":\"%s\"", stream_state());
	if (env.guest)
		fprintf(f, ",\"bad_lines\":%llu", gs.p.bad);
	if (gs.p.seen) {
		fprintf(f, ",\"mode\":");
		hs_json_str(f, gs.p.mode);
		fprintf(f, ",\"lines\":%llu,\"restarts\":%llu,"
			"\"hinted_bytes\":%llu,\"failed_bytes\":%llu,"
			"\"host_discarded_bytes\":%llu,"
			"\"not_discarded_bytes\":%llu,\"reason\":",
			gs.p.lines, gs.p.restarts, gs.p.hinted, gs.p.failed,
			gs.p.host_at - gs.p.host_base, divergence());
		if (divergence())
			hs_json_str(f, divergence_reason);
		else
			fprintf(f, "null");
	}
	fputc('}', f);
}

static void print_json(const struct hh_state *iv, const struct hh_state *tot,
		       double ts, double secs, const char *clock)
{
	const struct hs_hist *h = discard_hist(iv);
	unsigned long long v;

	printf("{\"version\":%d,\"mode\":\"host\",", HS_JSON_VERSION);
	if (clock)
		printf("\"time\":\"%s\",", clock);
	printf("\"pid\":%d,\"comm\":", the_vm.target.pid);
	hs_json_str(stdout, the_vm.target.comm);
	printf(",\"ram_bytes\":%llu,\"ram_file\":%s,\"ts\":%.6f,\"interval_s\":%.6f,",
	       the_vm.ram_total, the_vm.ram_file ? "true" : "false", ts, secs);
	json_totals(stdout, &iv->totals);
	printf(",\"rss_bytes\":%llu,", cur_rss);
	/* The latest pagemap scan's cost; live only. */
	if (rs.ok && rs.bm)
		printf("\"refault_scan_ns\":%llu,\"refault_scan_pages\":%llu,",
		       rs.ns, rs.pages);
	else
		printf("\"refault_scan_ns\":null,\"refault_scan_pages\":null,");
	printf("\"hist\":{\"discard_ns\":");
	hs_json_hist(stdout, h);
	printf("},\"percentiles\":{\"discard_ns\":{\"p50\":");
	if (hs_percentile(h, 50, &v))
		printf("%llu", v);
	else
		printf("null");
	printf(",\"p99\":");
	if (hs_percentile(h, 99, &v))
		printf("%llu", v);
	else
		printf("null");
	printf("}},\"total\":{");
	json_totals(stdout, &tot->totals);
	printf("}");
	json_guest(stdout);
	printf("}\n");
}

/* p50 and p99 of h as "1.50us", "-" when empty; 16-byte buffers. */
static void fmt_percentiles(const struct hs_hist *h, char *p50, char *p99)
{
	unsigned long long v;

	strcpy(p50, "-");
	strcpy(p99, "-");
	if (hs_percentile(h, 50, &v))
		hs_fmt_ns(p50, 16, v);
	if (hs_percentile(h, 99, &v))
		hs_fmt_ns(p99, 16, v);
}

static void print_table(const struct hh_state *iv, double secs,
			const char *clock)
{
	const struct hh_totals *t = &iv->totals;
	char p50[16], p99[16], refault[16] = "-";

	fmt_percentiles(discard_hist(iv), p50, p99);
	if (rs.ok)
		snprintf(refault, sizeof(refault), "%.1f",
			 t->refault_bytes / MIB);
	if (clock)
		printf("%s\n", clock);
	printf("%9s %8s %6s %7s %7s %7s %8s %8s%s\n", "DISC_MiB", "MiB/s",
	       "CALLS", "p50", "p99", "OUT_MiB", "RFLT_MiB", "RSS_MiB",
	       env.guest ? " GUEST_MiB" : "");
	printf("%9.1f %8.1f %6llu %7s %7s %7.1f %8s %8.1f", discarded(t) / MIB,
	       secs > 0 ? discarded(t) / MIB / secs : 0.0, discard_calls(t),
	       p50, p99, t->outside_bytes / MIB, refault, cur_rss / MIB);
	if (env.guest && gs.p.seen)
		printf(" %9.1f", gs.p.hinted / MIB);
	else if (env.guest)
		printf(" %9s", "-");
	printf("\n");
	if (env.guest && divergence())
		printf("DIVERGENCE: %.1f MiB reported by the guest, not discarded: %s\n",
		       divergence() / MIB, divergence_reason);
	if (env.guest && gs.gone)
		printf("(guest stream gone: showing the host side only)\n");
	if (env.guest && gs.p.bad)
		printf("(guest stream: %llu bad lines refused, the latest: %s)\n",
		       gs.p.bad, gs.p.why);
	if (hs_opt.hist) {
		printf("\n");
		hs_print_log2_hist(stdout, discard_hist(iv), "discard latency");
	}
	printf("\n");
}

static void print_prom(FILE *f, const void *arg)
{
	const struct hh_state *s = arg;
	const struct hh_totals *t = &s->totals;

	hs_prom_counter(f, "pagehint_host_discarded_bytes_total",
			"Bytes of guest RAM the VMM discarded (madvise, or fallocate for file-backed RAM).",
			discarded(t));
	hs_prom_counter(f, "pagehint_host_discard_calls_total",
			"Discard calls on guest RAM that succeeded.",
			discard_calls(t));
	hs_prom_counter(f, "pagehint_host_outside_bytes_total",
			"Bytes the VMM discarded outside guest RAM (its own heap).",
			t->outside_bytes);
	hs_prom_counter(f, "pagehint_host_discard_errors_total",
			"Discard calls on guest RAM that failed.", t->errors);
	hs_prom_counter(f, "pagehint_host_user_faults_total",
			"User page faults of the VMM on guest RAM (not KVM's; one per THP).",
			t->faults);
	/* Left out while unknown: a 0 would claim no refaults. */
	if (rs.ok)
		hs_prom_counter(f, "pagehint_host_refault_bytes_total",
				"Bytes of discarded guest RAM the VMM maps again (its pagemap shows them present or swapped).",
				t->refault_bytes);
	if (thp.ok)
		hs_prom_counter(f, "pagehint_host_thp_splits_total",
				"Host huge pages (PMD-mapped THPs) of guest RAM that discards split.",
				t->thp_splits);
	hs_prom_head(f, "pagehint_host_rss_bytes", "gauge",
		     "Resident set size of the VMM.");
	fprintf(f, "pagehint_host_rss_bytes %llu\n", cur_rss);
	hs_prom_hist(f, "pagehint_host_discard_duration_seconds",
		     "Discard syscall latency on guest RAM, sys_enter to sys_exit.",
		     discard_hist(s));
	if (env.guest)
		hs_prom_counter(f, "pagehint_host_guest_bad_lines_total",
				"Lines of the guest's stream refused (not JSON, not hintstat's, out of bounds).",
				gs.p.bad);
	if (!gs.p.seen)
		return;
	hs_prom_counter(f, "pagehint_host_guest_hinted_bytes_total",
			"Bytes the guest reported without error since its stream began.",
			gs.p.hinted);
	hs_prom_head(f, "pagehint_host_not_discarded_bytes", "gauge",
		     "Bytes the guest reported that the host did not discard.");
	fprintf(f, "pagehint_host_not_discarded_bytes %llu\n", divergence());
}

static void summary(const struct hh_state *tot, long long rss_first,
		    long long rss_max, double secs)
{
	const struct hh_totals *t = &tot->totals;
	char p50[16], p99[16], refault[64] = "refaults unknown";
	char splits[64] = "huge page splits unknown";

	fmt_percentiles(discard_hist(tot), p50, p99);
	if (rs.ok)
		snprintf(refault, sizeof(refault),
			 "%.1f MiB (%llu pages) refaulted",
			 t->refault_bytes / MIB,
			 t->refault_bytes >> HH_PAGE_SHIFT);
	if (thp.ok)
		snprintf(splits, sizeof(splits), "%llu host huge pages split",
			 t->thp_splits);
	fprintf(stderr, "hintstat: summary over %.1f s: discarded %.1f MiB of guest RAM in %llu calls (p50 %s, p99 %s), %llu failed; %.1f MiB outside guest RAM in %llu calls; %s; %s; RSS %.1f MiB at start, %.1f MiB max\n",
		secs, discarded(t) / MIB, discard_calls(t), p50, p99, t->errors,
		t->outside_bytes / MIB, t->outside_calls, refault, splits,
		rss_first / MIB, rss_max / MIB);
	if (gs.p.seen)
		fprintf(stderr, "hintstat: while the guest streamed: guest hinted %.1f MiB, host discarded %.1f MiB, %.1f MiB not discarded%s%s\n",
			gs.p.hinted / MIB, (gs.p.host_at - gs.p.host_base) / MIB,
			divergence() / MIB, divergence() ? ": " : "",
			divergence() ? divergence_reason : "");
	if (gs.p.bad || gs.p.restarts)
		fprintf(stderr, "hintstat: guest stream: %llu lines taken, %llu refused%s%s, %llu restarts of the guest's hintstat\n",
			gs.p.lines, gs.p.bad, gs.p.bad ? ", the latest: " : "",
			gs.p.bad ? gs.p.why : "", gs.p.restarts);
}

static int handle_host_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(struct hs_event))
		hs_recorder_event(data);
	return 0;
}

/* A record written by user space (RSS, the VMM's description). */
static void rec_user(unsigned int type, double t, unsigned long long bytes,
		     unsigned int a, bool flag)
{
	struct hs_event e = { .ts_ns = (unsigned long long)(t * 1e9),
			      .type = type, .bytes = bytes, .a = a,
			      .flag = flag };

	hs_recorder_event(&e);
}

/*
 * The interval's scans of the VMM's pagemap (skipped once the VMM is
 * gone: its pagemap reads empty) and, when recording, their figures as
 * records: huge pages split, bytes refaulted.
 */
static void refault_interval(struct hintstat_host_bpf *obj, double t,
			     bool vmm_alive)
{
	unsigned long long before = rs.total, splits = thp.splits;
	int err;

	if (vmm_alive)
		hh_thp_scan(&thp, obj->bss->ranges, HH_MAX_RANGES);
	if (thp.ok)
		rec_user(HH_EV_THP_SPLIT, t, thp.splits - splits, 0, false);
	if (!rs.ok)
		return;
	if (vmm_alive) {
		err = hh_refault_scan(&rs, obj->bss->ranges, HH_MAX_RANGES,
				      obj->bss->bitmap_pages);
		/* A VMM that just exited reads empty: no error then. */
		if (err && hh_vmm_rss(the_vm.target.pid) >= 0)
			hh_refault_fail(&rs, err);
	}
	if (rs.ok)
		rec_user(HH_EV_REFAULT, t, rs.total - before, 0, false);
}

/* What the BPF side counted, with the refaults user space counts. */
static void take_state(const struct hintstat_host_bpf *obj)
{
	cur_state = obj->bss->hst;
	cur_state.totals.refault_bytes = rs.total;
	cur_state.totals.thp_splits = thp.splits;
}

/*
 * host record -o FILE: the header (mode host; the VMM's name in the
 * first zone-name slot), then the VMM record. 0, or 1 after a message.
 */
static int record_start(double t_start)
{
	char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN] = {};

	snprintf(names[0], HS_ZONE_NAME_LEN, "%.15s", the_vm.target.comm);
	if (hs_recorder_open(hs_opt.output, HS_MODE_HOST, t_start, names))
		return 1;
	rec_user(HH_EV_VMM, t_start, the_vm.ram_total, the_vm.target.pid, the_vm.ram_file);
	return 0;
}

int hs_host_report(const struct hs_replay *r, const char *path, bool json,
		   bool hist, const char *prom)
{
	double secs = (r->end_ns - r->hdr.start_ns) / 1e9;
	int err;

	the_vm.target.pid = r->pid;
	snprintf(the_vm.target.comm, sizeof(the_vm.target.comm), "%s", r->hdr.zone_names[0]);
	the_vm.ram_total = r->ram_bytes;
	the_vm.ram_file = r->ram_file;
	cur_rss = r->rss_last;
	rs.ok = r->refault_known;
	thp.ok = r->thp_known;
	hs_opt.hist = hist;
	if (json) {
		print_json(&r->host, &r->host, r->end_ns / 1e9, secs, NULL);
	} else if (!prom || hist) {
		printf("record %s: host mode, %s (pid %u), kernel %s, %llu events, %llu dropped%s\n",
		       path, the_vm.target.comm, the_vm.target.pid, r->hdr.release, r->records,
		       r->snap.totals.dropped_events,
		       r->complete ? "" : ", cut short");
		print_table(&r->host, secs, NULL);
	}
	if (prom) {
		err = hs_write_file_atomic(prom, print_prom, &r->host);
		if (err) {
			hs_die_hint("check that the directory exists and is writable",
				    "cannot write %s: %s", prom, strerror(-err));
			return 1;
		}
	}
	return fflush(stdout) ? 1 : 0;
}

int hs_host_main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = host_opts,
		.parser = host_parse_arg,
		.children = hs_common_children,
		.args_doc = "[interval [count]]",
		.doc = host_doc,
	};
	static struct hh_state prev, iv;
	struct hintstat_host_bpf *obj = NULL;
	struct ring_buffer *rb = NULL;
	double t_start, t_prev, next, end = 0, t, silent;
	long long rss, rss_first, rss_max;
	int err, rc = 1, nfd;
	const struct ram_sizes *sizes;
	bool changed;
	/* The ring buffer, the guest stream, the HTTP responder's fds. */
	struct pollfd pfd[2 + HS_HTTP_POLLFDS];
	char clock[16];
	long printed = 0;
	bool vmm_gone = false;
	struct tm tm;
	time_t wall;

	if (argc > 1 && !strcmp(argv[1], "record")) {
		/* "hintstat host record ..." parses like "hintstat host ...". */
		env.record = true;
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (!hs_can_bpf()) {
		hs_die_hint("run it as root, e.g. sudo hintstat host, or give it CAP_BPF and CAP_PERFMON",
			    "missing capabilities: loading BPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)");
		return 1;
	}
	libbpf_set_print(hs_libbpf_print);
	err = find_vmm();
	if (err)
		return err;
	sizes = env.ram.n ? &env.ram : &the_vm.target.ram;
	if (!sizes->n) {
		hs_die_hint("give the guest's memory size with --ram SIZE",
			    "cannot tell the guest RAM size of %s (pid %d) from its command line",
			    the_vm.target.comm, the_vm.target.pid);
		return 1;
	}
	divergence_reason = hh_guess_reason(&the_vm.target);
	if (signal(SIGINT, sig_handler) == SIG_ERR ||
	    signal(SIGTERM, sig_handler) == SIG_ERR ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;
	obj = load_host(sizes);
	if (!obj)
		return 1;
	hh_refault_open(&rs, the_vm.target.pid, bpf_map__fd(obj->maps.discarded),
			bpf_map__max_entries(obj->maps.discarded),
			obj->bss->ranges[0].lo);
	hh_thp_open(&thp, bpf_map__fd(obj->maps.cut),
		    bpf_map__max_entries(obj->maps.cut), rs.ok ? rs.fd : -1,
		    obj->bss->ranges, HH_MAX_RANGES);
	if (env.guest) {
		hs_gstream_init(&gs.p, the_vm.ram_total);
		err = guest_connect(env.guest);
		if (err) {
			hs_die_hint("give QEMU -chardev socket,id=hs,path=SOCKET,server=on,wait=off and a virtserialport on it",
				    "cannot connect to the guest stream %s: %s",
				    env.guest, strerror(-err));
			goto cleanup;
		}
	}
	if (hs_http_open(&http, hs_opt.prom))
		goto cleanup;
	if (env.record) {
		rb = ring_buffer__new(bpf_map__fd(obj->maps.events),
				      handle_host_event, NULL, NULL);
		if (!rb) {
			hs_die_hint("rerun with -v for libbpf's log",
				    "cannot open the ring buffer: %s",
				    strerror(errno));
			goto cleanup;
		}
		if (record_start(hs_now_mono()))
			goto cleanup;
	}
	rss_first = rss_max = hh_vmm_rss(the_vm.target.pid);
	cur_rss = rss_first > 0 ? rss_first : 0;
	fprintf(stderr, "hintstat: mode: host, pid %d (%s), guest RAM %llu MiB%s in %d block%s\n",
		the_vm.target.pid, the_vm.target.comm, the_vm.ram_total >> 20,
		the_vm.ram_file ? " (file-backed)" : "", the_vm.nblocks,
		the_vm.nblocks == 1 ? "" : "s");
	fprintf(stderr, "Tracing the VMM's discards... Hit Ctrl-C to end.\n");

	t_start = t_prev = hs_now_mono();
	next = t_start + hs_opt.interval;
	if (hs_opt.duration)
		end = t_start + hs_opt.duration;
	rc = 0;
	while (1) {
		t = hs_now_mono();
		/* A VMM that exits ends the interval at once. */
		if (!exiting && t < next && !(end && t >= end) && hh_vmm_rss(the_vm.target.pid) >= 0) {
			double until = end && end < next ? end : next;

			/* Look at the VMM at least every half second. */
			if (until > t + 0.5)
				until = t + 0.5;

			nfd = 0;
			if (rb)
				pfd[nfd++] = (struct pollfd){
					.fd = ring_buffer__epoll_fd(rb),
					.events = POLLIN };
			if (gs.fd >= 0)
				pfd[nfd++] = (struct pollfd){ .fd = gs.fd,
							      .events = POLLIN };
			nfd += hs_http_pollfds(&http, pfd + nfd);
			if (poll(pfd, nfd, (int)((until - t) * 1000) + 1) < 0 &&
			    errno != EINTR) {
				rc = 1;
				break;
			}
			if (rb && ring_buffer__consume(rb) < 0 && !exiting) {
				fprintf(stderr, "hintstat: reading the ring buffer: %s\n",
					strerror(errno));
				rc = 1;
				break;
			}
			take_state(obj);
			guest_read(discarded(&cur_state.totals));
			hs_http_serve(&http, print_prom, &cur_state);
			continue;
		}
		/* An error here shows as dropped events in the record. */
		if (rb)
			(void)ring_buffer__consume(rb);
		rss = hh_vmm_rss(the_vm.target.pid);
		refault_interval(obj, t, rss >= 0);
		if (rss >= 0 && hh_find_ram(&the_vm, obj->bss, sizes, &changed) >= 0 && changed)
			fprintf(stderr, "hintstat: guest RAM now %llu MiB in %d block%s\n",
				the_vm.ram_total >> 20, the_vm.nblocks, the_vm.nblocks == 1 ? "" : "s");
		take_state(obj);
		guest_read(discarded(&cur_state.totals));
		if (rss < 0) {
			vmm_gone = true;
		} else {
			cur_rss = rss;
			if (rss > rss_max)
				rss_max = rss;
		}
		if (rss >= 0)
			rec_user(HH_EV_RSS, t, rss, 0, false);
		if (hs_recorder_sync(t, obj->bss->dropped_events)) {
			rc = 1;
			break;
		}
		silent = 3 * hs_opt.interval > 3 ? 3 * hs_opt.interval : 3;
		if (env.guest && gs.p.seen && !gs.gone && t - gs.p.last > silent) {
			fprintf(stderr, "hintstat: guest stream gone (no line for %.0f s)\n",
				t - gs.p.last);
			gs.gone = true;
		}
		diff_state(&iv, &cur_state, &prev);
		clock[0] = '\0';
		if (hs_opt.timestamp) {
			wall = time(NULL);
			localtime_r(&wall, &tm);
			strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
		}
		if (hs_opt.json)
			print_json(&iv, &cur_state, t, t - t_prev,
				   clock[0] ? clock : NULL);
		else
			print_table(&iv, t - t_prev,
				    clock[0] ? clock : NULL);
		if (hs_stdout_flush()) {
			rc = hs_stdout_gone ? 0 : 1;
			break;
		}
		if (hs_opt.prom && !hs_http_on(&http)) {
			err = hs_write_file_atomic(hs_opt.prom, print_prom, &cur_state);
			if (err) {
				hs_die_hint("check that the directory exists and is writable",
					    "cannot write %s: %s", hs_opt.prom,
					    strerror(-err));
				rc = 1;
				break;
			}
		}
		prev = cur_state;
		t_prev = t;
		printed++;
		if (vmm_gone) {
			fprintf(stderr, "hintstat: %s (pid %d) exited while tracing\n",
				the_vm.target.comm, the_vm.target.pid);
			break;
		}
		if (exiting || (hs_opt.count > 0 && printed >= hs_opt.count) ||
		    (end && t >= end))
			break;
		while (next <= t)
			next += hs_opt.interval;
	}
	summary(&cur_state, rss_first, rss_max, hs_now_mono() - t_start);
	if (rb)
		(void)ring_buffer__consume(rb);	/* the last events, best effort */
	if (hs_recorder_close(true, obj->bss->dropped_events))
		rc = 1;

cleanup:
	hs_recorder_close(false, 0);
	ring_buffer__free(rb);
	hs_http_close(&http);
	if (gs.fd >= 0)
		close(gs.fd);
	hh_thp_close(&thp);
	hh_refault_close(&rs);
	detach_all();
	hintstat_host_bpf__destroy(obj);
	return rc;
}
