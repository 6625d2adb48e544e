/*
 * fuzz_jsonbin - the binary form of a kept JSON value (jsonbin.c), as persona-run
 * reads a kept rule base back. The input is the payload: the harness puts the
 * magic and the payload's hash in front, so the decoder gets past its integrity
 * check and every length, count and nesting check is exercised. What decodes must
 * encode back to the same value.
 */
#include "fuzz.h"

FUZZ_SETUP_ONLY()

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *buf = malloc(size + 14), *again;
	uint64_t h = ec_xxh3(data, size);
	size_t len;
	json_t *j, *k;

	if (!buf)
		return 0;
	memcpy(buf, "ECJB1\n", 6);
	for (int i = 0; i < 8; i++)
		buf[6 + i] = (char)(h >> (8 * i));
	memcpy(buf + 14, data, size);
	if ((j = ec_jsonbin_decode(buf, size + 14))) {
		if (!(again = ec_jsonbin_encode(j, &len)) || !(k = ec_jsonbin_decode(again, len)) ||
		    !json_equal(j, k))
			abort();
		json_decref(k);
		free(again);
		json_decref(j);
	}
	free(buf);
	return 0;
}
