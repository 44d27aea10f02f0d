/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hintstat host: the VMMs on this host and their guest RAM. A VMM's
 * command line declares the sizes of its RAM blocks (QEMU -m and memory
 * backends, Cloud Hypervisor --memory and --memory-zone); the blocks are
 * the runs of mappings of those sizes in its /proc/PID/maps, given to
 * the BPF programs as ranges, each with its place in the page bitmap
 * (refaults) and the 2 MiB unit bitmap (huge page splits).
 */
#ifndef __HINTSTAT_HOST_VMM_H
#define __HINTSTAT_HOST_VMM_H

#include <stdbool.h>
#include <sys/types.h>
#include "host.h"

/* The sizes of a VMM's guest RAM blocks, as declared (bytes). */
struct ram_sizes {
	unsigned long long v[HH_MAX_RANGES];
	int n;
};

/* A process that looks like a VMM. */
struct vmm {
	int pid;
	char comm[32];
	char cmdline[4096];	/* NULs turned into spaces */
	char name[64];		/* QEMU -name guest=, Firecracker --id, or comm */
	struct ram_sizes ram;	/* from its command line */
	bool ram_default;	/* no size given there: the VMM's default */
};

/*
 * A guest RAM block found in the VMM's maps: one address range, perhaps
 * several VMAs, and its place in the discard bitmap. slot is its index in
 * the BPF program's ranges[]; a block keeps both while it stays mapped.
 */
struct ram_block {
	unsigned long long lo, hi, off, first_page, first_unit;
	char *file;		/* backing file as maps names it, or NULL */
	int slot;
};

/* One VMM and the guest RAM found in it so far. */
struct hh_vm {
	struct vmm target;
	struct ram_block blocks[HH_MAX_RANGES];
	int nblocks;
	/* The next free page of the refault bitmap, unit of the cut bitmap. */
	unsigned long long next_page, next_unit;
	unsigned long long ram_total;	/* bytes in the blocks found */
	bool ram_file;			/* a block is a file (memfd, hugetlbfs) */
};

struct hintstat_host_bpf__bss;

unsigned long long hh_sum_sizes(const struct ram_sizes *s);
/* "1G,512M": true with every size in out, false on any bad one. */
bool hh_parse_ram_list(const char *arg, struct ram_sizes *out);
/* "512+512 MiB": the declared block sizes, for messages (static buffer). */
const char *hh_sizes_str(const struct ram_sizes *sz);
/* Words of the 2 MiB unit bitmap for blocks of these sizes. */
unsigned long long hh_cut_words(const struct ram_sizes *sizes);

/*
 * Process pid's name, command line and declared RAM; false when it is
 * gone. wait_argv: wait up to 1 s for the command line of a process that
 * is just exec'ing.
 */
bool hh_read_vmm(int pid, struct vmm *v, bool wait_argv);
/* A known VMM's name, or one containing name when given. */
bool hh_is_vmm_name(const struct vmm *v, const char *name);
/* Why a VMM may skip discarding what its guest reported, if we can tell. */
const char *hh_guess_reason(const struct vmm *v);
/* The RSS of process pid in bytes; -1 once it is gone (or a zombie). */
long long hh_vmm_rss(int pid);
/* The same, and its address space's size (VmSize) in *vm_size. */
long long hh_vmm_status(int pid, unsigned long long *vm_size);
/*
 * Whether pid may be a VMM, from its comm alone (one small read): a
 * scan of /proc reads a command line only then.
 */
bool hh_may_be_vmm(int pid, const char *name);

/*
 * Find vm's guest RAM blocks in /proc/PID/maps and publish them in bss;
 * again every interval. The number of blocks (-ENOENT when none yet), or
 * -errno when maps cannot be read. *changed: anything moved.
 */
int hh_find_ram(struct hh_vm *vm, struct hintstat_host_bpf__bss *bss,
		const struct ram_sizes *sizes, bool *changed);

#endif /* __HINTSTAT_HOST_VMM_H */
