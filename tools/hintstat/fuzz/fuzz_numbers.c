// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the command line's number parsers (--ram sizes,
 * seconds, counts, pids, --prom [HOST]:PORT): a value in range or a
 * refusal, never a wrapped one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "../cli.h"
#include "../http.h"

/* The digits of s times the unit, or 0 when it would wrap. */
static unsigned long long want_size(const char *s, unsigned long long mul)
{
	unsigned long long v = 0;

	for (; *s >= '0' && *s <= '9'; s++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, *s - '0', &v))
			return 0;
	return __builtin_mul_overflow(v, mul, &v) ? 0 : v;
}

static unsigned long long unit(char c)
{
	switch (c | 0x20) {
	case 'b': return 1;
	case 'k': return 1ULL << 10;
	case 'm': return 1ULL << 20;
	case 'g': return 1ULL << 30;
	case 't': return 1ULL << 40;
	}
	return 0;
}

static void sizes(const char *s)
{
	unsigned long long v = hs_parse_size(s, 'M');
	const char *end = s + strspn(s, "0123456789");

	if (!v)
		return;
	/* Taken: digits, then a unit or none (MiB), and no wrap. */
	if (v != want_size(s, unit(*end ? *end : 'm')))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct sockaddr_storage ss;
	char s[128];
	double d;
	long c;
	int p;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	sizes(s);
	if (hs_str_secs(s, &d) && !(d >= 0.001 && d <= 86400))
		abort();
	if (hs_str_count(s, &c) && c < 1)
		abort();
	if (hs_str_pid(s, &p) && p < 1)
		abort();
	p = hs_prom_addr(s, &ss);
	if (p > 65535 || p < -1 || (p > 0 && ss.ss_family != AF_UNSPEC &&
				    ss.ss_family != AF_INET &&
				    ss.ss_family != AF_INET6))
		abort();
	return 0;
}
