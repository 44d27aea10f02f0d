// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the --prom responder's request parser, on every
 * prefix a client may have sent so far (a request arrives in pieces).
 */
#include <stdlib.h>
#include "../http.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	enum hs_http_verdict v, last = HS_HTTP_MORE;
	bool head;
	size_t n;

	if (size > HS_HTTP_REQ_MAX)
		size = HS_HTTP_REQ_MAX;	/* what a connection buffers */
	for (n = 0; n <= size; n++) {
		v = hs_http_parse((const char *)data, n, &head);
		if (v > HS_HTTP_BAD || (head && v != HS_HTTP_METRICS &&
					v != HS_HTTP_NOT_FOUND))
			abort();
		/* Once complete, more bytes never change the answer. */
		if (last != HS_HTTP_MORE && v != last)
			abort();
		last = v;
	}
	return 0;
}
