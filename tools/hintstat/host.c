// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat host - what the VMM does with the pages its guest reports.
 *
 * Finds the VMMs (QEMU, Firecracker, Cloud Hypervisor; -p one of them)
 * and their guest RAM (host_vmm.c), attaches a bpf/hintstat_host.bpf.c
 * object per VMM to the syscall (and, for one VMM, fault) tracepoints,
 * and prints every interval, per VMM, the bytes discarded inside guest
 * RAM, the discard latency, what the VMM discarded outside guest RAM, the
 * bytes of discarded guest RAM resident again (host_refault.c), the host
 * huge pages split (host_thp.c) and the VMM's RSS. With --guest SOCKET it
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
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
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
#include "run_loop.h"
#include "hintstat_host.skel.h"

#define MIB (1024.0 * 1024.0)

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

/* At most this many VMMs at once; more are said once and left out. */
#define HH_MAX_VMS 256

/* One VMM traced: its guest RAM, BPF object, scans and figures. */
struct vm_run {
	struct hh_vm vm;
	const struct ram_sizes *sizes;	/* --ram, or its command line's */
	struct hintstat_host_bpf *obj;
	int pidfd;			/* readable once the VMM exits; -1 */
	struct hh_refault rs;
	struct hh_thp thp;
	const char *divergence_reason;
	struct hh_state cur, prev;	/* since attach; at the last print */
	long long rss, rss_first, rss_max;
	unsigned long long vm_size;	/* VmSize: a change means new maps */
	double t_start;
	bool gone;			/* exited: its last figures are out */
};

/* A VMM seen whose guest RAM is not mapped (yet), and since when. */
struct vm_wait {
	int pid;
	double since;
	bool given_up;
};

static volatile sig_atomic_t exiting;
static struct guest_stream gs = { .fd = -1 };
static struct hs_http http = { .lfd = -1 };
/* The VMMs traced; multi: every one found (no -p), in a row each. */
static struct vm_run *vms[HH_MAX_VMS];
static int nvms;
static bool multi;
static struct vm_wait waits[HH_MAX_VMS];
static int nwaits;
/* The host's kernel (uname), or a host record's. */
static char host_release[80];

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
"traces every QEMU, Firecracker and Cloud Hypervisor process (or those\n"
"named like NAME) at once: a row (a JSON line, labelled Prometheus\n"
"series) per VMM and a total, VMMs started later picked up, those that\n"
"exit retired with their summary; user and KVM fault counts are then\n"
"left out (null). --guest and record follow one VMM.\n"
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
"    hintstat host                 # every VMM on this host, every second\n"
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

static bool traced(int pid)
{
	int i;

	for (i = 0; i < nvms; i++)
		if (vms[i]->vm.target.pid == pid)
			return true;
	return false;
}

/*
 * The VMMs to trace: -p's, or every process that looks like a VMM (or
 * is named like -n's NAME). Their count, -1 when /proc cannot be read.
 */
static int find_vmms(struct vmm **out)
{
	struct vmm *found = NULL, *nf, v;
	struct dirent *d;
	int n = 0, self = getpid();
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		int pid = atoi(d->d_name);

		if (pid <= 0 || pid == self || traced(pid) ||
		    !hh_may_be_vmm(pid, env.name) ||
		    !hh_read_vmm(pid, &v, false) || !hh_is_vmm_name(&v, env.name))
			continue;
		nf = realloc(found, (n + 1) * sizeof(*found));
		if (!nf)
			break;
		found = nf;
		found[n++] = v;
	}
	closedir(dir);
	*out = found;
	return n;
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

/* Syscall tracepoints there, tracefs mounted if nobody did; or a message. */
static bool syscall_tracepoints(void)
{
	/* libbpf finds tracepoint ids in tracefs. */
	if (access("/sys/kernel/tracing/events", F_OK) &&
	    access("/sys/kernel/debug/tracing/events", F_OK) &&
	    mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		fprintf(stderr, "hintstat: mounted tracefs on /sys/kernel/tracing\n");
	if (tracepoint_exists("syscalls", "sys_enter_madvise"))
		return true;
	hs_die_hint("mount -t tracefs nodev /sys/kernel/tracing; the kernel needs CONFIG_FTRACE_SYSCALLS=y",
		    "no syscall tracepoints (syscalls:sys_enter_madvise not in tracefs)");
	return false;
}

/* Open the BPF object for vr's VMM, its bitmaps sized by vr->sizes. */
static int open_host(struct vm_run *vr)
{
	unsigned long long size = hh_sum_sizes(vr->sizes);
	struct hintstat_host_bpf *obj;
	int err;

	obj = hintstat_host_bpf__open();
	if (!obj)
		return -errno;
	vr->obj = obj;
	obj->rodata->vmm_tgid = vr->vm.target.pid;
	obj->rodata->stream_events = env.record;
	/* One bit per 4 KiB page of all the blocks declared, 64 per word. */
	err = bpf_map__set_max_entries(obj->maps.discarded,
				       ((size >> HH_PAGE_SHIFT) + 63) / 64 + 1);
	/* One per 2 MiB unit, and one more per block (unaligned ends). */
	if (!err)
		err = bpf_map__set_max_entries(obj->maps.cut,
					       hh_cut_words(vr->sizes));
	/* Not recording: the ring buffer stays empty, one page is enough. */
	if (!err && !env.record)
		err = bpf_map__set_max_entries(obj->maps.events,
					       sysconf(_SC_PAGESIZE));
	if (err)
		return err;
	/*
	 * Fault programs run on every user fault of the host (every KVM
	 * fault): once per VMM traced. With every VMM traced, their figures
	 * are left out rather than multiply that cost.
	 */
	bpf_program__set_autoload(obj->progs.hh_kvm_fault, !multi &&
				  tracepoint_exists("kvm", "kvm_page_fault"));
	bpf_program__set_autoload(obj->progs.hh_page_fault, !multi &&
				  tracepoint_exists("exceptions", "page_fault_user"));
	err = hintstat_host_bpf__load(obj);
	if (!err)
		obj->bss->bitmap_pages = ((size >> HH_PAGE_SHIFT) + 63) / 64 * 64;
	return err;
}

/*
 * vr's guest RAM blocks, waiting up to 10 s (a VMM just started may not
 * have mapped them) when wait. 0, -ENOENT (none), -ESRCH (it exited) or
 * -errno (maps unreadable).
 */
static int first_ram(struct vm_run *vr, bool wait)
{
	bool changed;
	int err, tries;

	for (tries = 0; tries < (wait ? 200 : 1); tries++) {
		if (tries)
			usleep(50000);
		err = hh_find_ram(&vr->vm, vr->obj->bss, vr->sizes, &changed);
		if (err != -ENOENT || exiting)
			break;
		if (hh_vmm_rss(vr->vm.target.pid) < 0)
			return -ESRCH;
	}
	return err < 0 ? err : 0;
}

/* Why first_ram failed, as hintstat says it. */
static void ram_error(const struct vm_run *vr, int err)
{
	const struct vmm *t = &vr->vm.target;

	if (err == -ENOENT)
		hs_die_hint("give the guest's memory size with --ram SIZE[,SIZE...], one per RAM block",
			    "no mapping of %s (the guest RAM, %s) in /proc/%d/maps",
			    hh_sizes_str(vr->sizes), env.ram.n ? "from --ram" :
			    t->ram_default ? "the VMM's default size" :
			    "from its command line", t->pid);
	else if (err == -ESRCH)
		hs_die_hint("start the VM again; its log says why it stopped",
			    "%s (pid %d) exited before its guest RAM was mapped",
			    t->comm, t->pid);
	else
		hs_die_hint("check the pid; the VMM may have exited",
			    "cannot read /proc/%d/maps: %s", t->pid,
			    strerror(-err));
}

static void vm_close(struct vm_run *vr)
{
	if (!vr)
		return;
	hh_thp_close(&vr->thp);
	hh_refault_close(&vr->rs);
	if (vr->pidfd >= 0)
		close(vr->pidfd);
	hintstat_host_bpf__destroy(vr->obj);	/* its links too */
	free(vr);
}

/*
 * Trace VMM v: its BPF object loaded and attached, its RAM found, its
 * scans open. NULL after a message; *err then says why (-ENOENT: its
 * RAM is not mapped yet, said only when wait).
 */
static struct vm_run *vm_open(const struct vmm *v, bool wait, int *err)
{
	struct vm_run *vr = calloc(1, sizeof(*vr));
	struct hintstat_host_bpf *obj;

	*err = -ENOMEM;
	if (!vr)
		return NULL;
	vr->pidfd = -1;
	vr->vm.target = *v;
	/* Linux 5.3+; else the loop looks at the VMM every half second. */
	vr->pidfd = (int)syscall(SYS_pidfd_open, v->pid, 0);
	vr->sizes = env.ram.n ? &env.ram : &vr->vm.target.ram;
	vr->divergence_reason = hh_guess_reason(v);
	*err = open_host(vr);
	if (*err) {
		hs_die_hint("rerun with -v for libbpf's log",
			    "cannot load the host BPF programs: %s",
			    strerror(-*err));
		goto fail;
	}
	*err = first_ram(vr, wait);
	if (*err) {
		if (wait || *err != -ENOENT)
			ram_error(vr, *err);
		goto fail;
	}
	*err = hintstat_host_bpf__attach(vr->obj);
	if (*err) {
		hs_die_hint("rerun with -v for libbpf's log",
			    "cannot attach the host BPF programs: %s",
			    strerror(-*err));
		goto fail;
	}
	obj = vr->obj;
	hh_refault_open(&vr->rs, v->pid, bpf_map__fd(obj->maps.discarded),
			bpf_map__max_entries(obj->maps.discarded),
			obj->bss->ranges[0].lo);
	hh_thp_open(&vr->thp, bpf_map__fd(obj->maps.cut),
		    bpf_map__max_entries(obj->maps.cut),
		    vr->rs.ok ? vr->rs.fd : -1, obj->bss->ranges,
		    HH_MAX_RANGES);
	vr->rss = vr->rss_first = vr->rss_max = hh_vmm_status(v->pid,
								   &vr->vm_size);
	if (vr->rss < 0)
		vr->rss = 0;
	vr->t_start = hs_now_mono();
	fprintf(stderr, "hintstat: mode: host, pid %d (%s), guest RAM %llu MiB%s in %d block%s\n",
		v->pid, multi ? v->name : v->comm, vr->vm.ram_total >> 20,
		vr->vm.ram_file ? " (file-backed)" : "", vr->vm.nblocks,
		vr->vm.nblocks == 1 ? "" : "s");
	return vr;
fail:
	vm_close(vr);
	return NULL;
}

/*
 * A VMM whose RAM is not mapped yet: tried again each interval, for 10 s,
 * then said once and left out. True while it may still come.
 */
static struct vm_wait *wait_of(int pid, double now)
{
	int i;

	for (i = 0; i < nwaits && waits[i].pid != pid; i++)
		;
	if (i == nwaits) {
		if (nwaits == HH_MAX_VMS)
			return NULL;
		waits[nwaits++] = (struct vm_wait){ .pid = pid, .since = now };
	}
	return &waits[i];
}

static bool still_waiting(int pid, double now)
{
	struct vm_wait *w = wait_of(pid, now);

	if (!w || w->given_up)
		return false;
	if (now - w->since < 10)
		return true;
	w->given_up = true;
	fprintf(stderr, "hintstat: pid %d: no guest RAM mapping in 10 s, left out (hint: --ram SIZE)\n",
		pid);
	return false;
}

/* A VMM that failed otherwise (said already): not tried again. */
static void give_up(int pid, double now)
{
	struct vm_wait *w = wait_of(pid, now);

	if (w)
		w->given_up = true;
}

/* Every interval with no -p: trace VMMs that appeared. */
static void discover(double now)
{
	struct vmm *found = NULL;
	struct vm_run *vr;
	int n, i, err;

	n = find_vmms(&found);
	for (i = 0; i < n && nvms < HH_MAX_VMS; i++) {
		if (traced(found[i].pid) || !still_waiting(found[i].pid, now))
			continue;
		vr = vm_open(&found[i], false, &err);
		if (vr)
			vms[nvms++] = vr;
		else if (err != -ENOENT)
			give_up(found[i].pid, now);
	}
	free(found);
}

/* The VMMs at the start: 0, or 1 (none, an error) / 2 (usage). */
static int open_vms(void)
{
	struct vmm *found = NULL, v;
	int n, i, err;

	if (env.pid) {
		if (!hh_read_vmm(env.pid, &v, true)) {
			hs_die_hint("list the VMMs with 'hintstat host' (no -p), or pgrep -a qemu",
				    "no process with pid %d", env.pid);
			return 1;
		}
		if (!syscall_tracepoints())
			return 1;
		vms[0] = vm_open(&v, true, &err);
		nvms = vms[0] ? 1 : 0;
		return nvms ? 0 : 1;
	}
	n = find_vmms(&found);
	if (n < 0) {
		hs_die_hint("mount /proc", "cannot read /proc: %s", strerror(errno));
		return 1;
	}
	if (!n) {
		if (env.name)
			hs_die_hint("check the name with pgrep -a NAME, or give -p PID",
				    "no process named like '%s'", env.name);
		else
			hs_die_hint("start the VM first, or give its pid with -p PID",
				    "no VMM process found (looked for qemu-system-*, qemu-kvm, firecracker, cloud-hypervisor)");
		free(found);
		return 1;
	}
	if (n > 1 && (env.guest || env.record)) {
		hs_die_hint("choose one with -p PID",
			    "%d VMMs match, and %s follows one", n,
			    env.guest ? "--guest" : "record");
		free(found);
		return 2;
	}
	if (!syscall_tracepoints()) {
		free(found);
		return 1;
	}
	/* Several: one whose RAM is not mapped yet is tried again later. */
	for (i = 0; i < n && nvms < HH_MAX_VMS; i++) {
		vms[nvms] = vm_open(&found[i], n == 1, &err);
		if (vms[nvms])
			nvms++;
		else if (err != -ENOENT && err != -ESRCH)
			break;
	}
	if (!nvms && n > 1)
		hs_die_hint("give the guest's memory size with --ram SIZE[,SIZE...]",
			    "none of the %d VMMs found has its guest RAM mapped", n);
	free(found);
	return nvms ? 0 : 1;
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
static unsigned long long discarded(const struct vm_run *vr,
				    const struct hh_totals *t)
{
	return vr->vm.ram_file ? t->punch_bytes : t->madv_bytes;
}

static unsigned long long discard_calls(const struct vm_run *vr,
					const struct hh_totals *t)
{
	return vr->vm.ram_file ? t->punch_calls : t->madv_calls;
}

static const struct hs_hist *discard_hist(const struct vm_run *vr,
					  const struct hh_state *s)
{
	return &s->hists[vr->vm.ram_file ? HH_HIST_PUNCH : HH_HIST_MADVISE];
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

/* "%llu" of v, or null when it is not known. */
static void json_known(FILE *f, const char *key, bool known,
		       unsigned long long v)
{
	if (known)
		fprintf(f, ",\"%s\":%llu", key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

static void json_totals(FILE *f, const struct vm_run *vr,
			const struct hh_totals *t)
{
	fprintf(f, "\"discarded_bytes\":%llu,\"discard_calls\":%llu,"
		"\"madvised_bytes\":%llu,\"madvise_calls\":%llu,"
		"\"dontneed_bytes\":%llu,\"remove_bytes\":%llu,\"free_bytes\":%llu,"
		"\"punched_bytes\":%llu,\"punch_calls\":%llu,"
		"\"outside_bytes\":%llu,\"outside_calls\":%llu,"
		"\"punched_other_bytes\":%llu,\"errors\":%llu,"
		"\"untracked_pages\":%llu",
		discarded(vr, t), discard_calls(vr, t), t->madv_bytes,
		t->madv_calls, t->madv_dontneed_bytes, t->madv_remove_bytes,
		t->madv_free_bytes, t->punch_bytes, t->punch_calls,
		t->outside_bytes, t->outside_calls, t->punch_other_bytes,
		t->errors, t->untracked_pages);
	/* Unknown is null, never 0. */
	json_known(f, "user_faults", !multi, t->faults);
	json_known(f, "kvm_faults", !multi, t->kvm_faults);
	json_known(f, "refault_bytes", vr->rs.ok, t->refault_bytes);
	json_known(f, "thp_splits", vr->thp.ok, t->thp_splits);
}

static void json_guest(FILE *f, const struct vm_run *vr)
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
			hs_json_str(f, vr->divergence_reason);
		else
			fprintf(f, "null");
	}
	fputc('}', f);
}

static void json_percentiles(const struct hs_hist *h)
{
	unsigned long long v;

	printf("{\"p50\":");
	if (hs_percentile(h, 50, &v))
		printf("%llu", v);
	else
		printf("null");
	printf(",\"p99\":");
	if (hs_percentile(h, 99, &v))
		printf("%llu", v);
	else
		printf("null");
	printf("}");
}

static void print_json(const struct vm_run *vr, const struct hh_state *iv,
		       double ts, double secs, const char *clock)
{
	const struct hs_hist *h = discard_hist(vr, iv);

	printf("{\"version\":%d,\"mode\":\"host\",", HS_JSON_VERSION);
	if (clock)
		printf("\"time\":\"%s\",", clock);
	printf("\"pid\":%d,\"comm\":", vr->vm.target.pid);
	hs_json_str(stdout, vr->vm.target.comm);
	printf(",\"name\":");
	hs_json_str(stdout, vr->vm.target.name);
	printf(",\"ram_bytes\":%llu,\"ram_file\":%s,\"ts\":%.6f,\"interval_s\":%.6f,",
	       vr->vm.ram_total, vr->vm.ram_file ? "true" : "false", ts, secs);
	json_totals(stdout, vr, &iv->totals);
	printf(",\"rss_bytes\":%lld,", vr->rss);
	/* The latest pagemap scan's cost; live only. */
	if (vr->rs.ok && vr->rs.bm)
		printf("\"refault_scan_ns\":%llu,\"refault_scan_pages\":%llu,",
		       vr->rs.ns, vr->rs.pages);
	else
		printf("\"refault_scan_ns\":null,\"refault_scan_pages\":null,");
	printf("\"hist\":{\"discard_ns\":");
	hs_json_hist(stdout, h);
	printf("},\"percentiles\":{\"discard_ns\":");
	json_percentiles(h);
	printf("},\"total\":{");
	json_totals(stdout, vr, &vr->cur.totals);
	printf("}");
	json_guest(stdout, vr);
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

/* The guest stream's lines under the table (--guest). */
static void print_guest_notes(const struct vm_run *vr)
{
	if (divergence())
		printf("DIVERGENCE: %.1f MiB reported by the guest, not discarded: %s\n",
		       divergence() / MIB, vr->divergence_reason);
	if (gs.gone)
		printf("(guest stream gone: showing the host side only)\n");
	if (gs.p.bad)
		printf("(guest stream: %llu bad lines refused, the latest: %s)\n",
		       gs.p.bad, gs.p.why);
}

/* The one VMM's interval (-p): a table as wide as its figures. */
static void print_table(const struct vm_run *vr, const struct hh_state *iv,
			double secs, const char *clock)
{
	const struct hh_totals *t = &iv->totals;
	char p50[16], p99[16], refault[16] = "-";

	fmt_percentiles(discard_hist(vr, iv), p50, p99);
	if (vr->rs.ok)
		snprintf(refault, sizeof(refault), "%.1f",
			 t->refault_bytes / MIB);
	if (clock)
		printf("%s\n", clock);
	printf("%9s %8s %6s %7s %7s %7s %8s %8s%s\n", "DISC_MiB", "MiB/s",
	       "CALLS", "p50", "p99", "OUT_MiB", "RFLT_MiB", "RSS_MiB",
	       env.guest ? " GUEST_MiB" : "");
	printf("%9.1f %8.1f %6llu %7s %7s %7.1f %8s %8.1f",
	       discarded(vr, t) / MIB,
	       secs > 0 ? discarded(vr, t) / MIB / secs : 0.0,
	       discard_calls(vr, t), p50, p99, t->outside_bytes / MIB, refault,
	       vr->rss / MIB);
	if (env.guest && gs.p.seen)
		printf(" %9.1f", gs.p.hinted / MIB);
	else if (env.guest)
		printf(" %9s", "-");
	printf("\n");
	if (env.guest)
		print_guest_notes(vr);
	if (hs_opt.hist) {
		printf("\n");
		hs_print_log2_hist(stdout, discard_hist(vr, iv), "discard latency");
	}
	printf("\n");
}

/* A row of the every-VMM table: a VMM's interval, or the total. */
static void print_row(const char *pid, const char *name,
		      const struct hh_totals *t, unsigned long long disc,
		      unsigned long long calls, bool rflt_known,
		      bool splits_known, double rss, double secs)
{
	char refault[16] = "-", splits[16] = "-";

	if (rflt_known)
		snprintf(refault, sizeof(refault), "%.1f",
			 t->refault_bytes / MIB);
	if (splits_known)
		snprintf(splits, sizeof(splits), "%llu", t->thp_splits);
	printf("%7s %-16.16s %9.1f %8.1f %6llu %7.1f %8s %6s %8.1f\n", pid,
	       name, disc / MIB, secs > 0 ? disc / MIB / secs : 0.0, calls,
	       t->outside_bytes / MIB, refault, splits, rss / MIB);
}

/* Every VMM's interval (no -p), ivs[i] for vms[i], and their total. */
static void print_rows(const struct hh_state *ivs, double secs,
		       const char *clock)
{
	struct hh_totals sum = {};
	unsigned long long disc = 0, calls = 0;
	bool rflt = true, splits = true;
	double rss = 0;
	char pid[16];
	int i;

	if (clock)
		printf("%s\n", clock);
	printf("%7s %-16s %9s %8s %6s %7s %8s %6s %8s\n", "PID", "VM",
	       "DISC_MiB", "MiB/s", "CALLS", "OUT_MiB", "RFLT_MiB", "SPLITS",
	       "RSS_MiB");
	for (i = 0; i < nvms; i++) {
		const struct vm_run *vr = vms[i];
		const struct hh_totals *t = &ivs[i].totals;

		snprintf(pid, sizeof(pid), "%d", vr->vm.target.pid);
		print_row(pid, vr->vm.target.name, t, discarded(vr, t),
			  discard_calls(vr, t), vr->rs.ok, vr->thp.ok, vr->rss,
			  secs);
		disc += discarded(vr, t);
		calls += discard_calls(vr, t);
		sum.outside_bytes += t->outside_bytes;
		sum.refault_bytes += t->refault_bytes;
		sum.thp_splits += t->thp_splits;
		rflt &= vr->rs.ok;
		splits &= vr->thp.ok;
		rss += vr->rss;
	}
	print_row("", "TOTAL", &sum, disc, calls, rflt, splits, rss, secs);
	printf("\n");
}

/* Prometheus series of hintstat host, each VMM's figures by these ids. */
enum prom_id {
	PM_DISC, PM_CALLS, PM_OUT, PM_ERR, PM_UFLT, PM_RFLT, PM_SPLIT, PM_RSS,
	PM_NR,
};

static const struct {
	const char *name, *type, *help;
} prom_metrics[PM_NR] = {
	[PM_DISC] = { "pagehint_host_discarded_bytes_total", "counter",
		"Bytes of guest RAM the VMM discarded (madvise, or fallocate for file-backed RAM)." },
	[PM_CALLS] = { "pagehint_host_discard_calls_total", "counter",
		"Discard calls on guest RAM that succeeded." },
	[PM_OUT] = { "pagehint_host_outside_bytes_total", "counter",
		"Bytes the VMM discarded outside guest RAM (its own heap)." },
	[PM_ERR] = { "pagehint_host_discard_errors_total", "counter",
		"Discard calls on guest RAM that failed." },
	[PM_UFLT] = { "pagehint_host_user_faults_total", "counter",
		"User page faults of the VMM on guest RAM (not KVM's; one per THP)." },
	[PM_RFLT] = { "pagehint_host_refault_bytes_total", "counter",
		"Bytes of discarded guest RAM the VMM maps again (its pagemap shows them present or swapped)." },
	[PM_SPLIT] = { "pagehint_host_thp_splits_total", "counter",
		"Host huge pages (PMD-mapped THPs) of guest RAM that discards split." },
	[PM_RSS] = { "pagehint_host_rss_bytes", "gauge",
		"Resident set size of the VMM." },
};

/* vr's figure m, false when it is unknown (left out: a 0 would lie). */
static bool prom_value(const struct vm_run *vr, enum prom_id m,
		       unsigned long long *v)
{
	const struct hh_totals *t = &vr->cur.totals;

	switch (m) {
	case PM_DISC:
		*v = discarded(vr, t);
		return true;
	case PM_CALLS:
		*v = discard_calls(vr, t);
		return true;
	case PM_OUT:
		*v = t->outside_bytes;
		return true;
	case PM_ERR:
		*v = t->errors;
		return true;
	case PM_UFLT:
		*v = t->faults;
		return !multi;
	case PM_RFLT:
		*v = t->refault_bytes;
		return vr->rs.ok;
	case PM_SPLIT:
		*v = t->thp_splits;
		return vr->thp.ok;
	case PM_RSS:
		*v = vr->rss;
		return vr->rss >= 0;
	default:
		return false;
	}
}

/*
 * vr's labels: none with -p (one VMM, as hintstat host always printed),
 * else pid and the VM's name, escaped as the text format asks.
 */
static void prom_labels(const struct vm_run *vr, char *buf, size_t len)
{
	const char *p;
	size_t at;

	buf[0] = '\0';
	if (!multi)
		return;
	at = snprintf(buf, len, "pid=\"%d\",vm=\"", vr->vm.target.pid);
	for (p = vr->vm.target.name; *p && at + 4 < len; p++) {
		if (*p == '\\' || *p == '"')
			buf[at++] = '\\';
		if (*p == '\n') {
			buf[at++] = '\\';
			buf[at++] = 'n';
			continue;
		}
		buf[at++] = *p;
	}
	snprintf(buf + at, len - at, "\"");
}

/* The guest stream's series (--guest: one VMM). */
static void print_prom_guest(FILE *f)
{
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

/* Every VMM's figures since attach (vms[i]->cur), a family at a time. */
static void print_prom(FILE *f, const void *arg)
{
	char labels[160];
	unsigned long long v;
	bool head;
	int m, i;

	(void)arg;
	hs_prom_info(f, "host", host_release);
	for (m = 0; m < PM_NR; m++) {
		head = false;
		for (i = 0; i < nvms; i++) {
			if (!prom_value(vms[i], m, &v))
				continue;
			if (!head)
				hs_prom_head(f, prom_metrics[m].name,
					     prom_metrics[m].type,
					     prom_metrics[m].help);
			head = true;
			prom_labels(vms[i], labels, sizeof(labels));
			fprintf(f, labels[0] ? "%s{%s} %llu\n" : "%s%s %llu\n",
				prom_metrics[m].name, labels, v);
		}
	}
	if (nvms)
		hs_prom_head(f, "pagehint_host_discard_duration_seconds",
			     "histogram",
			     "Discard syscall latency on guest RAM, sys_enter to sys_exit.");
	for (i = 0; i < nvms; i++) {
		prom_labels(vms[i], labels, sizeof(labels));
		hs_prom_hist_series(f, "pagehint_host_discard_duration_seconds",
				    labels, discard_hist(vms[i], &vms[i]->cur));
	}
	if (!multi)
		print_prom_guest(f);
}

/* vr's figures since attach, on stderr (its end, or hintstat's). */
static void summary(const struct vm_run *vr, double secs)
{
	const struct hh_totals *t = &vr->cur.totals;
	char p50[16], p99[16], refault[64] = "refaults unknown";
	char splits[64] = "huge page splits unknown", who[96] = "";

	fmt_percentiles(discard_hist(vr, &vr->cur), p50, p99);
	if (vr->rs.ok)
		snprintf(refault, sizeof(refault),
			 "%.1f MiB (%llu pages) refaulted",
			 t->refault_bytes / MIB,
			 t->refault_bytes >> HH_PAGE_SHIFT);
	if (vr->thp.ok)
		snprintf(splits, sizeof(splits), "%llu host huge pages split",
			 t->thp_splits);
	if (multi)
		snprintf(who, sizeof(who), " of %s (pid %d)",
			 vr->vm.target.name, vr->vm.target.pid);
	fprintf(stderr, "hintstat: summary%s over %.1f s: discarded %.1f MiB of guest RAM in %llu calls (p50 %s, p99 %s), %llu failed; %.1f MiB outside guest RAM in %llu calls; %s; %s; RSS %.1f MiB at start, %.1f MiB max\n",
		who, secs, discarded(vr, t) / MIB, discard_calls(vr, t), p50,
		p99, t->errors, t->outside_bytes / MIB, t->outside_calls,
		refault, splits, vr->rss_first / MIB, vr->rss_max / MIB);
}

/* The guest stream's part of the summary (--guest). */
static void summary_guest(void)
{
	if (gs.p.seen)
		fprintf(stderr, "hintstat: while the guest streamed: guest hinted %.1f MiB, host discarded %.1f MiB, %.1f MiB not discarded%s%s\n",
			gs.p.hinted / MIB, (gs.p.host_at - gs.p.host_base) / MIB,
			divergence() / MIB, divergence() ? ": " : "",
			divergence() ? vms[0]->divergence_reason : "");
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
static void scan_interval(struct vm_run *vr, double t, bool alive)
{
	unsigned long long before = vr->rs.total, splits = vr->thp.splits;
	struct hh_range *ranges = vr->obj->bss->ranges;
	int err;

	if (alive)
		hh_thp_scan(&vr->thp, ranges, HH_MAX_RANGES);
	if (vr->thp.ok)
		rec_user(HH_EV_THP_SPLIT, t, vr->thp.splits - splits, 0, false);
	if (!vr->rs.ok)
		return;
	if (alive) {
		err = hh_refault_scan(&vr->rs, ranges, HH_MAX_RANGES,
				      vr->obj->bss->bitmap_pages);
		/* A VMM that just exited reads empty: no error then. */
		if (err && hh_vmm_rss(vr->vm.target.pid) >= 0)
			hh_refault_fail(&vr->rs, err);
	}
	if (vr->rs.ok)
		rec_user(HH_EV_REFAULT, t, vr->rs.total - before, 0, false);
}

/* What the BPF side counted, with the figures user space counts. */
static void take_state(struct vm_run *vr)
{
	vr->cur = vr->obj->bss->hst;
	vr->cur.totals.refault_bytes = vr->rs.total;
	vr->cur.totals.thp_splits = vr->thp.splits;
}

/*
 * The end of vr's interval: its RSS, scans and RAM blocks (looked for
 * again: a block hotplugged or moved), its figures taken; gone once it
 * exited.
 */
static void vm_interval(struct vm_run *vr, double t)
{
	unsigned long long size = vr->vm_size;
	long long rss = hh_vmm_status(vr->vm.target.pid, &size);
	bool changed;

	scan_interval(vr, t, rss >= 0);
	/* Mappings added or removed change VmSize: only then read maps. */
	if (rss >= 0 && size != vr->vm_size &&
	    hh_find_ram(&vr->vm, vr->obj->bss, vr->sizes, &changed) >= 0 &&
	    changed)
		fprintf(stderr, "hintstat: pid %d: guest RAM now %llu MiB in %d block%s\n",
			vr->vm.target.pid, vr->vm.ram_total >> 20,
			vr->vm.nblocks, vr->vm.nblocks == 1 ? "" : "s");
	vr->vm_size = size;
	take_state(vr);
	if (rss < 0) {
		vr->gone = true;
		return;
	}
	vr->rss = rss;
	if (rss > vr->rss_max)
		vr->rss_max = rss;
	rec_user(HH_EV_RSS, t, rss, 0, false);
}

/*
 * host record -o FILE: the header (mode host; the VMM's name in the
 * first zone-name slot), then the VMM record. 0, or 1 after a message.
 */
static int record_start(const struct vm_run *vr, double t_start)
{
	char names[HS_MAX_ZONES][HS_ZONE_NAME_LEN] = {};

	snprintf(names[0], HS_ZONE_NAME_LEN, "%.15s", vr->vm.target.comm);
	if (hs_recorder_open(hs_opt.output, HS_MODE_HOST, t_start, names))
		return 1;
	rec_user(HH_EV_VMM, t_start, vr->vm.ram_total, vr->vm.target.pid,
		 vr->vm.ram_file);
	return 0;
}

int hs_host_report(const struct hs_replay *r, const char *path, bool json,
		   bool hist, const char *prom)
{
	double secs = (r->end_ns - r->hdr.start_ns) / 1e9;
	static struct vm_run rep;
	int err;

	rep.vm.target.pid = r->pid;
	snprintf(rep.vm.target.comm, sizeof(rep.vm.target.comm), "%s",
		 r->hdr.zone_names[0]);
	snprintf(rep.vm.target.name, sizeof(rep.vm.target.name), "%s",
		 rep.vm.target.comm);
	rep.vm.ram_total = r->ram_bytes;
	rep.vm.ram_file = r->ram_file;
	rep.rss = r->rss_last;
	rep.rs.ok = r->refault_known;
	rep.thp.ok = r->thp_known;
	rep.cur = r->host;
	snprintf(host_release, sizeof(host_release), "%s", r->hdr.release);
	vms[0] = &rep;
	nvms = 1;
	hs_opt.hist = hist;
	if (json) {
		print_json(&rep, &r->host, r->end_ns / 1e9, secs, NULL);
	} else if (!prom || hist) {
		printf("record %s: host mode, %s (pid %u), kernel %s, %llu events, %llu dropped%s\n",
		       path, rep.vm.target.comm, rep.vm.target.pid,
		       r->hdr.release, r->records,
		       r->snap.totals.dropped_events,
		       r->complete ? "" : ", cut short");
		print_table(&rep, &r->host, secs, NULL);
	}
	if (prom) {
		err = hs_write_file_atomic(prom, print_prom, NULL);
		if (err) {
			hs_die_hint("check that the directory exists and is writable",
				    "cannot write %s: %s", prom, strerror(-err));
			return 1;
		}
	}
	return fflush(stdout) ? 1 : 0;
}

/* The interval's output: JSON lines or the table, to stdout. */
static void print_interval(double t, double secs)
{
	static struct hh_state ivs[HH_MAX_VMS];
	struct tm tm;
	char clock[16] = "";
	time_t wall;
	int i;

	if (hs_opt.timestamp) {
		wall = time(NULL);
		localtime_r(&wall, &tm);
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	}
	for (i = 0; i < nvms; i++) {
		diff_state(&ivs[i], &vms[i]->cur, &vms[i]->prev);
		vms[i]->prev = vms[i]->cur;
		if (hs_opt.json)
			print_json(vms[i], &ivs[i], t, secs,
				   clock[0] ? clock : NULL);
	}
	if (hs_opt.json)
		return;
	if (multi)
		print_rows(ivs, secs, clock[0] ? clock : NULL);
	else if (nvms)
		print_table(vms[0], &ivs[0], secs, clock[0] ? clock : NULL);
}

/* VMMs that exited: their end said, and no longer traced. */
static void retire_gone(double t)
{
	int i, j;

	for (i = j = 0; i < nvms; i++) {
		struct vm_run *vr = vms[i];

		if (!vr->gone) {
			vms[j++] = vr;
			continue;
		}
		fprintf(stderr, "hintstat: %s (pid %d) exited while tracing\n",
			vr->vm.target.comm, vr->vm.target.pid);
		if (multi) {
			summary(vr, t - vr->t_start);
			vm_close(vr);
		} else {
			vms[j++] = vr;	/* -p: its summary ends hintstat */
		}
	}
	nvms = j;
}

/* The host view's fds between intervals: -p's pidfd, guest stream, HTTP. */
static int loop_fds(void *ctx, struct pollfd *pfd, int max)
{
	int nfd = 0;

	(void)ctx;
	(void)max;	/* the loop has room for all of these */
	/* -p's VMM exiting ends the interval at once. */
	if (!multi && vms[0]->pidfd >= 0)
		pfd[nfd++] = (struct pollfd){ .fd = vms[0]->pidfd,
					      .events = POLLIN };
	if (gs.fd >= 0)
		pfd[nfd++] = (struct pollfd){ .fd = gs.fd, .events = POLLIN };
	return nfd + hs_http_pollfds(&http, pfd + nfd);
}

/* Woken between intervals: the figures for HTTP, the guest's lines. */
static int loop_woke(void *ctx)
{
	int i;

	(void)ctx;
	for (i = 0; i < nvms; i++)
		take_state(vms[i]);
	if (!multi && nvms)
		guest_read(discarded(vms[0], &vms[0]->cur.totals));
	hs_http_serve(&http, print_prom, NULL);
	return 0;
}

/* -p's VMM exited: its interval ends now. */
static bool loop_cut(void *ctx)
{
	(void)ctx;
	return !multi && hh_vmm_rss(vms[0]->vm.target.pid) < 0;
}

/* Start what the options ask: guest stream, HTTP, record. 0 or 1. */
static int start_outputs(struct ring_buffer **rb)
{
	int err;

	if (env.guest) {
		hs_gstream_init(&gs.p, vms[0]->vm.ram_total);
		err = guest_connect(env.guest);
		if (err) {
			hs_die_hint("give QEMU -chardev socket,id=hs,path=SOCKET,server=on,wait=off and a virtserialport on it",
				    "cannot connect to the guest stream %s: %s",
				    env.guest, strerror(-err));
			return 1;
		}
	}
	if (hs_http_open(&http, hs_opt.prom))
		return 1;
	if (!env.record)
		return 0;
	*rb = ring_buffer__new(bpf_map__fd(vms[0]->obj->maps.events),
			       handle_host_event, NULL, NULL);
	if (!*rb) {
		hs_die_hint("rerun with -v for libbpf's log",
			    "cannot open the ring buffer: %s", strerror(errno));
		return 1;
	}
	return record_start(vms[0], hs_now_mono());
}

/* Everything at an interval's end but the printing. 0, or 1 to stop. */
static int end_interval(double t)
{
	double silent;
	int i;

	for (i = 0; i < nvms; i++)
		vm_interval(vms[i], t);
	if (multi)
		return 0;
	guest_read(discarded(vms[0], &vms[0]->cur.totals));
	if (hs_recorder_sync(t, vms[0]->obj->bss->dropped_events))
		return 1;
	silent = 3 * hs_opt.interval > 3 ? 3 * hs_opt.interval : 3;
	if (env.guest && gs.p.seen && !gs.gone && t - gs.p.last > silent) {
		fprintf(stderr, "hintstat: guest stream gone (no line for %.0f s)\n",
			t - gs.p.last);
		gs.gone = true;
	}
	return 0;
}

/* Print the interval and write --prom FILE. 0, 1 on error, 2: stdout gone. */
static int output_interval(double t, double secs)
{
	int err;

	print_interval(t, secs);
	if (hs_stdout_flush())
		return hs_stdout_gone ? 2 : 1;
	if (hs_opt.prom && !hs_http_on(&http)) {
		err = hs_write_file_atomic(hs_opt.prom, print_prom, NULL);
		if (err) {
			hs_die_hint("check that the directory exists and is writable",
				    "cannot write %s: %s", hs_opt.prom,
				    strerror(-err));
			return 1;
		}
	}
	return 0;
}

/* The interval's end for the run loop: 0 go on, 1 error, 2 done. */
static int loop_interval(void *ctx, double t, double secs)
{
	int rc;

	(void)ctx;
	if (end_interval(t))
		return 1;
	rc = output_interval(t, secs);
	if (rc)
		return rc;
	retire_gone(t);
	if (!multi && vms[0]->gone)
		return 2;
	if (multi && !exiting)
		discover(t);
	return 0;
}

/* Intervals until the end: 0, or 1 after a message. */
static int run(struct ring_buffer *rb)
{
	struct hs_loop loop = {
		.rb = rb, .fds = loop_fds, .woke = loop_woke, .cut = loop_cut,
		.interval = loop_interval, .exiting = &exiting,
		/* Without a pidfd, look at the VMM every half second. */
		.max_wait = 0.5,
	};

	return hs_run_loop(&loop);
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
	struct ring_buffer *rb = NULL;
	struct utsname uts;
	int rc, i;

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
	multi = !env.pid;
	if (!uname(&uts))
		snprintf(host_release, sizeof(host_release), "%s", uts.release);
	if (signal(SIGINT, sig_handler) == SIG_ERR ||
	    signal(SIGTERM, sig_handler) == SIG_ERR ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;
	rc = open_vms();
	if (rc)
		return rc;
	rc = start_outputs(&rb);
	if (!rc) {
		fprintf(stderr, multi ? "Tracing every VMM's discards... Hit Ctrl-C to end.\n" :
			"Tracing the VMM's discards... Hit Ctrl-C to end.\n");
		rc = run(rb);
		for (i = 0; i < nvms; i++)
			summary(vms[i], hs_now_mono() - vms[i]->t_start);
		if (!multi)
			summary_guest();
		if (rb)
			(void)ring_buffer__consume(rb);	/* the last events */
		if (hs_recorder_close(true, nvms ? vms[0]->obj->bss->dropped_events : 0))
			rc = 1;
	}
	hs_recorder_close(false, 0);
	ring_buffer__free(rb);
	hs_http_close(&http);
	if (gs.fd >= 0)
		close(gs.fd);
	for (i = 0; i < nvms; i++)
		vm_close(vms[i]);
	return rc;
}
