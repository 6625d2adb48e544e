/*
 * sha256.c - SHA-256 (cache keys, the audit chain: anything an adversary might want
 * to collide). Its own file so only the tools that need it link libcrypto, whose
 * loading dominates a process start on these machines.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ec.h"

void
ec_sha256_hex(const void *buf, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	/* EVP_Digest cannot fail for SHA-256 on in-memory data short of OOM; an
	 * all-zero digest then is still a valid (if colliding) cache key. */
	static int initialised;

	/* Skip reading openssl.cnf: a digest needs no configuration, and loading it
	 * costs every process that hashes. */
	if (!initialised++)
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	if (!EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL))
		n = 32, memset(md, 0, sizeof md);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
