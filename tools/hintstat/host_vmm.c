// SPDX-License-Identifier: GPL-2.0
/*
 * hintstat host: finding VMMs and their guest RAM (see host_vmm.h):
 * sizes from a VMM's command line, blocks of those sizes in its
 * /proc/PID/maps, published to the BPF programs' ranges.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "host_vmm.h"
#include "hintstat_host.skel.h"

static void add_size(struct ram_sizes *s, unsigned long long v)
{
	if (v && s->n < HH_MAX_RANGES)
		s->v[s->n++] = v;
}

unsigned long long hh_sum_sizes(const struct ram_sizes *s)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < s->n; i++)
		sum += s->v[i] < ULLONG_MAX - sum ? s->v[i] : 0;
	return sum;
}

/* "1G,512M": true with every size in out, false on any bad one. */
bool hh_parse_ram_list(const char *arg, struct ram_sizes *out)
{
	char buf[64];
	const char *p = arg;
	size_t len;

	memset(out, 0, sizeof(*out));
	do {
		len = strcspn(p, ",");
		if (len >= sizeof(buf) || out->n == HH_MAX_RANGES)
			return false;
		snprintf(buf, sizeof(buf), "%.*s", (int)len, p);
		out->v[out->n] = hs_parse_size(buf, 'M');
		if (!out->v[out->n++])
			return false;
		p += len;
	} while (*p++ == ',');
	return true;
}

/* Read a small /proc file; its length, or -1. */
static ssize_t read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (ssize_t)n;
}

/*
 * A size in a QEMU option: "key=V" in "a=1,key=V,...", or "key":V in its
 * JSON form (libvirt writes -object as JSON). unit: V's default unit.
 * 0 when absent or not a size.
 */
static unsigned long long opt_size(const char *arg, const char *key,
				   char unit)
{
	char pat[32], buf[64];
	size_t klen;
	const char *p;

	klen = (size_t)snprintf(pat, sizeof(pat), "%s=", key);
	for (p = arg; (p = strstr(p, pat)); p++)
		if (p == arg || p[-1] == ',')
			break;
	if (!p) {
		klen = (size_t)snprintf(pat, sizeof(pat), "\"%s\":", key);
		p = strstr(arg, pat);
		if (!p)
			return 0;
		unit = 'B';
	}
	p += klen;
	p += strspn(p, " ");
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p, ",} "), p);
	return hs_parse_size(buf, unit);
}

/*
 * QEMU's RAM blocks: every memory-backend-* object, and -m's initial RAM
 * unless backends provide it (-numa ...,memdev= or -machine
 * memory-backend=). pc-dimm and virtio-mem devices use backends too.
 */
static bool qemu_ram(const char *argv, size_t len, struct ram_sizes *out)
{
	const char *a, *prev = "", *next;
	unsigned long long m = 0;
	bool m_by_backend = false;
	char buf[64];

	for (a = argv; a < argv + len; prev = a, a = next) {
		next = a + strlen(a) + 1;
		if (!strcmp(prev, "-m")) {
			/* -m [size=]SIZE[,slots=N,maxmem=SIZE] */
			m = opt_size(a, "size", 'M');
			snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(a, ","), a);
			if (!m)
				m = hs_parse_size(buf, 'M');
		} else if (!strcmp(prev, "-object") && strstr(a, "memory-backend"))
			add_size(out, opt_size(a, "size", 'B'));
		else if ((!strcmp(prev, "-numa") && strstr(a, "memdev")) ||
			 ((!strcmp(prev, "-machine") || !strcmp(prev, "-M")) &&
			  strstr(a, "memory-backend")))
			m_by_backend = true;
	}
	if (!m_by_backend)
		add_size(out, m ?: 128ULL << 20);	/* QEMU's default */
	return m || out->n > 1 || m_by_backend;
}

/* Cloud Hypervisor: --memory size=, and each --memory-zone size=. */
static bool ch_ram(const char *argv, size_t len, struct ram_sizes *out)
{
	const char *a, *flag = "";

	for (a = argv; a < argv + len; a += strlen(a) + 1) {
		if (!strncmp(a, "--", 2)) {
			flag = a;
			continue;
		}
		if (!strcmp(flag, "--memory") || !strcmp(flag, "--memory-zone"))
			add_size(out, opt_size(a, "size", 'B'));
	}
	if (out->n)
		return true;
	add_size(out, 512ULL << 20);	/* Cloud Hypervisor's default */
	return false;
}

/* Guest RAM block sizes from a VMM's command line (argv, NUL separated). */
static void ram_from_cmdline(const char *comm, const char *argv, size_t len,
			     struct vmm *v)
{
	if (!strncmp(comm, "qemu", 4))
		v->ram_default = !qemu_ram(argv, len, &v->ram);
	else if (!strncmp(comm, "cloud-hyperviso", 15))
		v->ram_default = !ch_ram(argv, len, &v->ram);
}

/*
 * The VM's name: QEMU's -name [guest=]NAME[,...] (libvirt writes
 * guest=), Firecracker's --id; else the process name.
 */
static void vm_name(struct vmm *v, const char *argv, size_t len)
{
	const char *a, *prev = "", *p;

	snprintf(v->name, sizeof(v->name), "%s", v->comm);
	for (a = argv; a < argv + len; prev = a, a += strlen(a) + 1) {
		if (!strcmp(prev, "-name")) {
			p = strstr(a, "guest=");
			p = p ? p + 6 : a;
			snprintf(v->name, sizeof(v->name), "%.*s",
				 (int)strcspn(p, ","), p);
		} else if (!strcmp(prev, "--id")) {
			snprintf(v->name, sizeof(v->name), "%.63s", a);
		}
	}
	if (!v->name[0])
		snprintf(v->name, sizeof(v->name), "%s", v->comm);
}

bool hh_read_vmm(int pid, struct vmm *v, bool wait_argv)
{
	char path[64], argv[4096];
	ssize_t n, i;
	int tries;

	memset(v, 0, sizeof(*v));
	v->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_file(path, v->comm, sizeof(v->comm)) < 0)
		return false;
	v->comm[strcspn(v->comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	/*
	 * exec closes O_CLOEXEC fds and sets comm before it fills in the new
	 * argv, so a VMM whose launcher returned at once (Python's Popen
	 * does) can still show an empty command line: wait up to 1 s for it
	 * rather than fall back to the default RAM size. Kernel threads
	 * never get one, hence the bound, and a scan of all of /proc does
	 * not wait.
	 */
	for (tries = 0; ; tries++) {
		n = read_file(path, argv, sizeof(argv));
		if (n < 0)
			return false;
		if (n > 0 || !wait_argv || tries == 100)
			break;
		usleep(10000);
	}
	ram_from_cmdline(v->comm, argv, n, v);
	vm_name(v, argv, n);
	for (i = 0; i < n && i < (ssize_t)sizeof(v->cmdline) - 1; i++)
		v->cmdline[i] = argv[i] ? argv[i] : ' ';
	v->cmdline[i] = '\0';
	return true;
}

/* A known VMM's process name (comm, cut at 15 characters). */
static bool known_vmm_comm(const char *comm)
{
	static const char * const known[] = {
		"qemu-system-", "qemu-kvm", "firecracker", "cloud-hyperviso",
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strncmp(comm, known[i], strlen(known[i])))
			return true;
	return false;
}

bool hh_may_be_vmm(int pid, const char *name)
{
	char path[64], comm[32];

	/* -n matches the program's name too: that needs the command line. */
	if (name)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	return read_file(path, comm, sizeof(comm)) >= 0 &&
	       known_vmm_comm(comm);
}

bool hh_is_vmm_name(const struct vmm *v, const char *name)
{
	char argv0[256];
	const char *base;

	snprintf(argv0, sizeof(argv0), "%.*s", (int)strcspn(v->cmdline, " "),
		 v->cmdline);
	base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	if (name)
		return strstr(v->comm, name) || strstr(base, name);
	return known_vmm_comm(v->comm);
}

/* A line of /proc/PID/maps. */
struct vma {
	unsigned long long lo, hi, off;
	bool rw;
	char *name;		/* "" when anonymous */
};

static void free_vmas(struct vma *v, int n)
{
	while (n-- > 0)
		free(v[n].name);
	free(v);
}

/* The VMM's mappings: their count, or -errno. */
static int read_maps(int pid, struct vma **out)
{
	char path[64], line[PATH_MAX + 128], perms[8];
	struct vma *v = NULL, *nv;
	int n = 0, cap = 0, name_at;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		name_at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &v[n].lo,
			   &v[n].hi, perms, &v[n].off, &name_at) < 4 ||
		    !name_at)
			continue;
		line[strcspn(line, "\n")] = '\0';
		v[n].rw = perms[0] == 'r' && perms[1] == 'w';
		v[n].name = strdup(line + name_at);
		if (v[n].name)
			n++;
	}
	fclose(f);
	*out = v;
	return n;
}

/* Whether VMA b continues VMA a as one mapping of the same thing. */
static bool continues(const struct vma *a, const struct vma *b)
{
	return b->lo == a->hi && b->rw == a->rw && !strcmp(a->name, b->name) &&
	       (!a->name[0] || b->off == a->off + (a->hi - a->lo));
}

/*
 * The guest RAM blocks among the mappings: runs of VMAs (one block may
 * be split into several by madvise or mprotect) whose length is one of
 * the declared sizes, each size taken once, the longest run first.
 */
static int match_blocks(const struct vma *v, int n,
			const struct ram_sizes *sizes, struct ram_block *out)
{
	bool used[HH_MAX_RANGES] = {};
	int i, j, k, best_j, best_k, nout = 0;
	unsigned long long len;

	for (i = 0; i < n && nout < HH_MAX_RANGES; i++) {
		if (!v[i].rw || v[i].name[0] == '[')
			continue;
		best_j = best_k = -1;
		len = 0;
		for (j = i; j < n && (j == i || continues(&v[j - 1], &v[j])); j++) {
			len += v[j].hi - v[j].lo;
			for (k = 0; k < sizes->n; k++)
				if (!used[k] && sizes->v[k] == len) {
					best_j = j;
					best_k = k;
				}
		}
		if (best_k < 0)
			continue;
		used[best_k] = true;
		out[nout] = (struct ram_block){
			.lo = v[i].lo, .hi = v[best_j].hi, .off = v[i].off,
			.file = v[i].name[0] ? strdup(v[i].name) : NULL,
			.slot = -1,
		};
		nout++;
		i = best_j;
	}
	return nout;
}

/*
 * Publish block b in BPF slot b->slot: hi last, so a half-written range
 * is never used (the programs skip hi <= lo); a slot that already says
 * the same is left alone, so no discard goes unseen meanwhile.
 */
static void publish(struct hintstat_host_bpf__bss *bss,
		    const struct ram_block *b, unsigned long long file)
{
	struct hh_range *r = &bss->ranges[b->slot];

	if (r->hi == b->hi && r->lo == b->lo && r->first_page == b->first_page &&
	    r->file_off == b->off && r->file == file &&
	    r->first_unit == b->first_unit)
		return;
	__atomic_store_n(&r->hi, 0, __ATOMIC_SEQ_CST);
	r->lo = b->lo;
	r->first_page = b->first_page;
	r->first_unit = b->first_unit;
	r->file_off = b->off;
	r->file = file;
	__atomic_store_n(&r->hi, b->hi, __ATOMIC_SEQ_CST);
}

/*
 * The file number of block i (hh_range.file): 1 + the index of the
 * first block on the same file; 0 when anonymous.
 */
static unsigned long long file_no(const struct ram_block *b, int i)
{
	int j;

	if (!b[i].file)
		return 0;
	for (j = 0; j < i; j++)
		if (b[j].file && !strcmp(b[j].file, b[i].file))
			break;
	return (unsigned long long)j + 1;
}

/*
 * Make found[] the blocks: those still mapped where they were keep their
 * slot and bitmap pages, new ones take a free slot and the next pages
 * (past the bitmap, their discards count as untracked), gone ones free
 * their slot. True when anything changed.
 */
static bool apply_blocks(struct hh_vm *vm, struct hintstat_host_bpf__bss *bss,
			 struct ram_block *found, int nfound)
{
	bool taken[HH_MAX_RANGES] = {}, changed = nfound != vm->nblocks;
	int i, j;

	for (i = 0; i < nfound; i++)
		for (j = 0; j < vm->nblocks; j++)
			if (vm->blocks[j].slot >= 0 && vm->blocks[j].lo == found[i].lo &&
			    vm->blocks[j].hi == found[i].hi) {
				found[i].slot = vm->blocks[j].slot;
				found[i].first_page = vm->blocks[j].first_page;
				found[i].first_unit = vm->blocks[j].first_unit;
				taken[found[i].slot] = true;
				vm->blocks[j].slot = -1;
			}
	for (j = 0; j < vm->nblocks; j++) {
		if (vm->blocks[j].slot >= 0) {
			__atomic_store_n(&bss->ranges[vm->blocks[j].slot].hi, 0,
					 __ATOMIC_SEQ_CST);
			changed = true;
		}
		free(vm->blocks[j].file);
	}
	for (i = 0; i < nfound; i++) {
		if (found[i].slot < 0) {
			for (j = 0; taken[j]; j++)
				;
			found[i].slot = j;
			taken[j] = true;
			found[i].first_page = vm->next_page;
			vm->next_page += (found[i].hi - found[i].lo) >> HH_PAGE_SHIFT;
			found[i].first_unit = vm->next_unit;
			vm->next_unit += ((found[i].hi - 1) >> HH_UNIT_SHIFT) -
				     (found[i].lo >> HH_UNIT_SHIFT) + 1;
			changed = true;
		}
		publish(bss, &found[i], file_no(found, i));
	}
	memcpy(vm->blocks, found, nfound * sizeof(*found));
	vm->nblocks = nfound;
	vm->ram_total = 0;
	vm->ram_file = false;
	for (i = 0; i < vm->nblocks; i++) {
		vm->ram_total += vm->blocks[i].hi - vm->blocks[i].lo;
		vm->ram_file |= vm->blocks[i].file != NULL;
	}
	return changed;
}

/*
 * The VMM's fds open on the RAM files ("/memfd:pc.ram (deleted)" in maps
 * is the fd's link target too), with their file numbers.
 */
static void find_ram_fds(struct hh_vm *vm, struct hintstat_host_bpf__bss *bss)
{
	char path[64], fdpath[320], link[PATH_MAX];
	struct dirent *d;
	int nfd = 0, i;
	DIR *dir;

	memset(bss->ram_fd_file, 0, sizeof(bss->ram_fd_file));
	if (!vm->ram_file)
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd", vm->target.pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir)) && nfd < HH_MAX_FDS) {
		ssize_t l;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, d->d_name);
		l = readlink(fdpath, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		for (i = 0; i < vm->nblocks; i++) {
			if (!vm->blocks[i].file || strcmp(link, vm->blocks[i].file))
				continue;
			bss->ram_fds[nfd] = atoi(d->d_name);
			bss->ram_fd_file[nfd++] = file_no(vm->blocks, i);
			break;
		}
	}
	if (dir)
		closedir(dir);
}

/*
 * Find the guest RAM blocks in /proc/PID/maps and give them to the BPF
 * programs; again every interval, so that blocks hotplugged, remapped
 * or unplugged are followed. The number of blocks (-ENOENT when none
 * yet), or -errno when maps cannot be read. *changed: anything moved.
 */
int hh_find_ram(struct hh_vm *vm, struct hintstat_host_bpf__bss *bss,
		const struct ram_sizes *sizes, bool *changed)
{
	struct ram_block found[HH_MAX_RANGES];
	struct vma *v = NULL;
	int n, nfound;

	n = read_maps(vm->target.pid, &v);
	if (n < 0)
		return n;
	nfound = match_blocks(v, n, sizes, found);
	free_vmas(v, n);
	*changed = apply_blocks(vm, bss, found, nfound);
	if (*changed)
		find_ram_fds(vm, bss);
	return vm->nblocks ? vm->nblocks : -ENOENT;
}

const char *hh_guess_reason(const struct vmm *v)
{
	if (strstr(v->cmdline, "vfio-pci"))
		return "VFIO device assigned: QEMU disables discards of guest RAM";
	if (strstr(v->cmdline, "hugetlbfs") || strstr(v->cmdline, "hugepages"))
		return "huge-page backed RAM: ranges not aligned to the huge page are ignored";
	if (strstr(v->cmdline, "postcopy") || strstr(v->cmdline, "-incoming"))
		return "migration: QEMU skips discards during postcopy";
	return "unknown: page poisoning in the guest, postcopy or a background snapshot make QEMU skip discards";
}

long long hh_vmm_status(int pid, unsigned long long *vm_size)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nVmSize:");
	if (p && vm_size)
		*vm_size = strtoull(p + 8, NULL, 10) * 1024;
	p = strstr(buf, "\nVmRSS:");
	if (!p)
		return -1;
	return strtoll(p + 7, NULL, 10) * 1024;
}

long long hh_vmm_rss(int pid)
{
	return hh_vmm_status(pid, NULL);
}

/* "512+512 MiB": the declared block sizes, for messages. */
const char *hh_sizes_str(const struct ram_sizes *sz)
{
	static char buf[HH_MAX_RANGES * 21 + 8];
	size_t at = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < sz->n; i++)
		at += snprintf(buf + at, sizeof(buf) - at, "%s%llu",
			       i ? "+" : "", sz->v[i] >> 20);
	snprintf(buf + at, sizeof(buf) - at, " MiB");
	return buf;
}

/* Words of the cut bitmap for blocks of these sizes. */
unsigned long long hh_cut_words(const struct ram_sizes *sizes)
{
	return ((hh_sum_sizes(sizes) >> HH_UNIT_SHIFT) + sizes->n + 63) / 64 + 1;
}
