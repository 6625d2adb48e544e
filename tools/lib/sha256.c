/*
 * sha256.c - SHA-256 (cache keys, the audit chain: anything an adversary might want
 * to collide). Its own file so only the tools that need it link libcrypto, whose
 * loading dominates a process start on these machines.
 *
 * OpenSSL's SHA256_Init/Update/Final, not EVP: in OpenSSL 3 the first EVP digest of
 * a process fetches its algorithm from the provider store, which builds that store
 * first: 3.5 M instructions, ~0.8 ms, in each of an epic's six persona-runs, for a
 * hash of a few hundred bytes. The low-level calls are the same assembly without
 * the fetch. They are deprecated in 3.0 (not removed); should they go, EVP_Digest
 * with OPENSSL_INIT_NO_LOAD_CONFIG is the fallback (git history).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "ec.h"

void
ec_sha256_hex(const void *buf, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, buf, len);
	SHA256_Final(md, &c);
	for (unsigned i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
