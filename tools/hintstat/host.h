/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hintstat host: definitions shared by bpf/hintstat_host.bpf.c and user
 * space (host.c). The BPF side sees one VMM process: its discards of
 * guest RAM (madvise, fallocate) and its page faults on guest RAM.
 * Every value is a cumulative counter since attach.
 */
#ifndef __HINTSTAT_HOST_H
#define __HINTSTAT_HOST_H

#include "hintstat.h"

/*
 * Guest RAM blocks of the VMM (QEMU: -m, and each memory backend: NUMA
 * nodes, pc-dimm, virtio-mem), each one address range, perhaps spanning
 * several VMAs.
 */
#define HH_MAX_RANGES		16
/* The VMM's fds on files backing guest RAM (memory-backend-file/memfd). */
#define HH_MAX_FDS		16
#define HH_PAGE_SHIFT		12
/* A host huge page (x86-64 PMD): the unit of the THP split figure. */
#define HH_UNIT_SHIFT		21

/* madvise advice values and the fallocate flag (uapi). */
#define HH_MADV_FREE		8
#define HH_MADV_DONTNEED	4
#define HH_MADV_REMOVE		9
#define HH_FALLOC_PUNCH_HOLE	0x02
#define HH_ENOMEM		12

enum hh_hist_id {
	HH_HIST_MADVISE,	/* madvise on guest RAM, sys_enter -> sys_exit */
	HH_HIST_PUNCH,		/* fallocate(PUNCH_HOLE) on a guest RAM file */
	HH_NR_HISTS,
};

struct hh_range {
	unsigned long long lo;		/* [lo, hi) in the VMM's address space */
	unsigned long long hi;
	unsigned long long first_page;	/* its first bit in the page bitmap */
	unsigned long long file_off;	/* file-backed: offset of lo in the file */
	unsigned long long file;	/* file-backed: its file, 1.. (0: anonymous) */
	unsigned long long first_unit;	/* its first bit in the cut bitmap */
};

struct hh_totals {
	/* madvise(DONTNEED|REMOVE|FREE) that succeeded, inside guest RAM */
	unsigned long long madv_calls;
	unsigned long long madv_bytes;
	unsigned long long madv_dontneed_bytes;
	unsigned long long madv_remove_bytes;
	unsigned long long madv_free_bytes;
	/* the same calls' bytes outside guest RAM (the VMM's own heap) */
	unsigned long long outside_calls;
	unsigned long long outside_bytes;
	/* fallocate(PUNCH_HOLE) on a file backing guest RAM, and others */
	unsigned long long punch_calls;
	unsigned long long punch_bytes;
	unsigned long long punch_other_calls;
	unsigned long long punch_other_bytes;
	/* discard calls on guest RAM the kernel failed */
	unsigned long long errors;
	/* user page faults on guest RAM (not KVM's, one per THP) */
	unsigned long long faults;
	/* bytes of discarded guest RAM found resident again (pagemap) */
	unsigned long long refault_bytes;
	/* KVM: kvm_page_fault events of the VMM (no address filter) */
	unsigned long long kvm_faults;
	/* discarded pages past the bitmap (never counted as refaults) */
	unsigned long long untracked_pages;
	/* host huge pages (PMD-mapped THPs) discards split (host_thp.h) */
	unsigned long long thp_splits;
};

struct hh_state {
	struct hh_totals totals;
	struct hs_hist hists[HH_NR_HISTS];
};

/*
 * Host events, in struct hs_event (hintstat.h) so that record files keep
 * one format (header mode HS_MODE_HOST). Field use by type:
 *   discard:     bytes inside guest RAM, ns = latency, a = madvise advice
 *   punch:       bytes punched in a guest RAM file, ns = latency
 *   outside:     bytes of a discard outside guest RAM
 *   punch_other: bytes punched in another file
 *   error:       a discard call on guest RAM failed, err = its return
 *   fault:       a user page fault on guest RAM (flag unused, 0)
 *   kvm_fault:   a kvm_page_fault of the VMM
 *   untracked:   bytes = discarded pages past the refault bitmap
 *   refault:     bytes of discarded guest RAM found resident again by
 *                one pagemap scan (user space, every interval while
 *                pagemap can be read)
 *   thp_split:   bytes = host huge pages that discards split, found by
 *                one PAGEMAP_SCAN (user space, every interval while it
 *                works)
 *   rss:         bytes = the VMM's RSS (written by user space)
 *   vmm:         a = pid, bytes = guest RAM size, flag = RAM is a file
 *                (user space, the first record)
 */
enum hh_event_type {
	HH_EV_DISCARD = 0x200,
	HH_EV_PUNCH,
	HH_EV_OUTSIDE,
	HH_EV_PUNCH_OTHER,
	HH_EV_ERROR,
	HH_EV_FAULT,
	HH_EV_KVM_FAULT,
	HH_EV_UNTRACKED,
	HH_EV_RSS,
	HH_EV_VMM,
	HH_EV_REFAULT,
	HH_EV_THP_SPLIT,
	HH_EV_END_TYPES,
};

#ifndef __bpf__
/* The host view's API (host.c), for hintstat.c. */
struct hs_replay;
/* hintstat host ...: argv[0] is "hintstat host". */
int hs_host_main(int argc, char **argv);
/* hintstat report of a host record (mode host): 0, or 1 after a message. */
int hs_host_report(const struct hs_replay *r, const char *path, bool json,
		   bool hist, const char *prom);
#endif

#endif /* __HINTSTAT_HOST_H */
