/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Bit helpers shared by pagehint's BPF programs (the libbpf-tools
 * bits.bpf.h idea): branch-light integer log2 the verifier accepts.
 */
#ifndef __BITS_BPF_H
#define __BITS_BPF_H

/* floor(log2(v)) of a non-zero 32-bit value. */
static __always_inline __u64 log2(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* floor(log2(v)) of a non-zero 64-bit value. */
static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	if (hi)
		return log2(hi) + 32;
	return log2(v);
}

#endif /* __BITS_BPF_H */
