// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the record reader (hintstat report FILE), guest and
 * host records alike, then the printers on what it accepted. A record
 * file may come from anywhere: whatever it holds, a refusal with a
 * reason or totals, never a crash (ASan, UBSan).
 */
#include <stdio.h>
#include <stdlib.h>
#include "../record.h"
#include "../report.h"

static FILE *sink(void)
{
	static FILE *null;

	if (!null)
		null = fopen("/dev/null", "w");
	if (!null)
		abort();
	return null;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct hs_replay r;
	struct hs_interval_info info = { .events = true };
	FILE *f;

	f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;	/* size 0 */
	if (hs_replay_stream(f, "fuzz", &r)) {
		if (!r.err[0])
			abort();	/* a refusal always says why */
	} else if (r.hdr.mode != HS_MODE_HOST) {
		info.ts = r.end_ns / 1e9;
		info.secs = (r.end_ns - r.hdr.start_ns) / 1e9;
		hs_print_json(sink(), &r.snap, &r.snap, &info);
		hs_print_table(sink(), &r.snap, &info);
		hs_print_hists(sink(), &r.snap, true);
		hs_print_prom(sink(), &r.snap);
	}
	fclose(f);
	return 0;
}
