/*
 * crypt.c - encryption at rest (security.encryptAtRest): spool files sealed with
 * AES-256-GCM through OpenSSL's EVP API (libcrypto loaded when first needed, see
 * evp_load), read back by every tool through file.c.
 *
 * A sealed file is
 *     "\x89ECSEAL\n" | version 1 | key id length | key id | 96-bit nonce | ciphertext | 128-bit tag
 * The magic's first byte is not text, so a sealed file is never taken for a
 * request or for JSON. The nonce is random for every write (getrandom(2); GCM's
 * limit of 2^32 random nonces per key is far beyond a spool's writes between two
 * rotations). The header and the file's binding are the additional authenticated
 * data, so neither the key id nor the place can be changed, and a sealed file
 * cannot be swapped for another: the binding is the file's path below its state
 * directory ("ID/personas/01-product-owner.json", the same in active/ and done/, as
 * a task moves whole) or below the cache ("cache/ab/<sha256>.json").
 *
 * What is sealed (when on): every file a tool writes in a task directory or as a
 * persona cache entry, but for the ones nothing personal reaches and that make or an
 * operator must read as they are: dot-files (locks, make's stamps), plan.mk,
 * plan.json and config.json. Appended logs (*.jsonl, *.log: checkpoints.jsonl,
 * task.log, the audit log) are never written whole, so never sealed: they hold ids,
 * timings and hashes, not the request's text. incoming/ is not sealed:
 * a submitter has no key; the claim seals the request as it takes it.
 *
 * Reading never depends on the setting: a sealed file is opened wherever it is met,
 * and one that fails authentication is an error (EC_EXIT_REJECT), never returned as
 * it is; a missing key is EC_EXIT_TEMP (keys.c).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dlfcn.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "crypt.h"

#define MAGIC "\x89" "ECSEAL\n"
#define MAGIC_LEN 8
#define VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16

static int enabled;

/*
 * EVP comes from libcrypto.so, loaded at the first seal or open. Linked in, the
 * provider machinery EVP needs is megabytes of tables with pointers that every
 * process would relocate at its start (95 more page faults, about 0.3 ms an exec,
 * ten execs an epic) whether it ever seals or not; loaded here, a spool without
 * encryption pays nothing and one with it pays the load once per process that
 * meets a sealed file. (SHA-256 stays linked in: sha256.c.)
 */
#define STR_(x) #x
#define STR(x) STR_(x)
#define LIBCRYPTO "libcrypto.so." STR(OPENSSL_SHLIB_VERSION)

typedef struct evp_api {
	__typeof__(EVP_CIPHER_CTX_new) *ctx_new;
	__typeof__(EVP_CIPHER_CTX_free) *ctx_free;
	__typeof__(EVP_CIPHER_CTX_ctrl) *ctx_ctrl;
	__typeof__(EVP_aes_256_gcm) *aes_256_gcm;
	__typeof__(EVP_EncryptInit_ex) *enc_init;
	__typeof__(EVP_EncryptUpdate) *enc_update;
	__typeof__(EVP_EncryptFinal_ex) *enc_final;
	__typeof__(EVP_DecryptInit_ex) *dec_init;
	__typeof__(EVP_DecryptUpdate) *dec_update;
	__typeof__(EVP_DecryptFinal_ex) *dec_final;
} evp_api;
static evp_api evp;
static void *libcrypto;

static int
evp_load(ec_err *e)
{
	static const struct { const char *name; size_t at; } syms[] = {
		{ "EVP_CIPHER_CTX_new", offsetof(evp_api, ctx_new) },
		{ "EVP_CIPHER_CTX_free", offsetof(evp_api, ctx_free) },
		{ "EVP_CIPHER_CTX_ctrl", offsetof(evp_api, ctx_ctrl) },
		{ "EVP_aes_256_gcm", offsetof(evp_api, aes_256_gcm) },
		{ "EVP_EncryptInit_ex", offsetof(evp_api, enc_init) },
		{ "EVP_EncryptUpdate", offsetof(evp_api, enc_update) },
		{ "EVP_EncryptFinal_ex", offsetof(evp_api, enc_final) },
		{ "EVP_DecryptInit_ex", offsetof(evp_api, dec_init) },
		{ "EVP_DecryptUpdate", offsetof(evp_api, dec_update) },
		{ "EVP_DecryptFinal_ex", offsetof(evp_api, dec_final) },
	};
	evp_api api;

	if (libcrypto)
		return 0;
	if (!(libcrypto = dlopen(LIBCRYPTO, RTLD_NOW | RTLD_LOCAL)))
		return ec_fail(e, EC_EXIT_TEMP, "cannot load %s for encryption at rest: %s",
		    LIBCRYPTO, dlerror());
	for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
		void *f = dlsym(libcrypto, syms[i].name);
		if (!f) {
			dlclose(libcrypto);
			libcrypto = NULL;
			return ec_fail(e, EC_EXIT_TEMP, "%s has no %s", LIBCRYPTO, syms[i].name);
		}
		/* POSIX: a function's address comes as a void *, of the same size. */
		memcpy((char *)&api + syms[i].at, &f, sizeof f);
	}
	/* Not openssl.cnf: nothing in it is for us, and reading it is most of the
	 * start (sha256.c says the same of the digests). */
	{
		__typeof__(OPENSSL_init_crypto) *init;
		void *f = dlsym(libcrypto, "OPENSSL_init_crypto");
		memcpy(&init, &f, sizeof f);
		if (init)
			init(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	}
	evp = api;
	return 0;
}

int
ec_random_bytes(void *buf, size_t n, ec_err *e)
{
	/* The kernel's CSPRNG, as OpenSSL's own generator seeds from it. */
	for (size_t got = 0; got < n; ) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);
		if (r < 0 && errno != EINTR)
			return ec_fail(e, EC_EXIT_TEMP, "no randomness: getrandom: %s", strerror(errno));
		if (r > 0)
			got += (size_t)r;
	}
	return 0;
}

void
ec_crypt_enable(int on)
{
	enabled = on;
}

int
ec_crypt_on(void)
{
	return enabled;
}

int
ec_crypt_sealed(const void *buf, size_t len)
{
	return len >= MAGIC_LEN && memcmp(buf, MAGIC, MAGIC_LEN) == 0;
}

static int
is_state_dir(const char *s, size_t n)
{
	static const char *const dirs[] = { "active", "done", "failed", "deferred", "hold" };

	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		if (strlen(dirs[i]) == n && !memcmp(dirs[i], s, n))
			return 1;
	return 0;
}

static int
is_hex2(const char *s, size_t n)
{
	return n == 2 && strchr("0123456789abcdef", s[0]) && strchr("0123456789abcdef", s[1]) &&
	    s[0] && s[1];
}

/* The binding of the canonical absolute path abs into out, or -1 when abs is not a
 * task's file or a cache entry. */
static int
binding_of(const char *abs, char *out, size_t cap)
{
	const char *comp[PATH_MAX / 2];
	size_t len[PATH_MAX / 2], n = 0;

	for (const char *p = abs; *p; ) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp[n] = p;
		while (*p && *p != '/')
			p++;
		len[n] = (size_t)(p - comp[n]);
		if (++n == sizeof comp / sizeof *comp)
			return -1;
	}
	if (n >= 3 && len[n - 3] == 5 && !memcmp(comp[n - 3], "cache", 5) &&
	    is_hex2(comp[n - 2], len[n - 2])) {
		if ((size_t)snprintf(out, cap, "cache/%s", comp[n - 2]) >= cap)
			return -1;
		return 0;
	}
	for (size_t i = n >= 3 ? n - 3 + 1 : 0; i-- > 0; )
		if (is_state_dir(comp[i], len[i])) {
			const char *id = comp[i + 1], *rest = comp[i + 1] + len[i + 1];
			size_t idlen = len[i + 1];
			/* A task is built in active/.KIND.ID.XXXXXX (.claim. in claim.c,
			 * .new. in task.c) and renamed to active/ID whole: its files are
			 * bound to the task they will be. */
			if (idlen && id[0] == '.') {
				const char *kind = memchr(id + 1, '.', idlen - 1);
				const char *dot = memrchr(id, '.', idlen);
				if (!kind || dot <= kind + 1)
					return -1;
				idlen = (size_t)(dot - kind) - 1;
				id = kind + 1;
			}
			if ((size_t)snprintf(out, cap, "%.*s%s", (int)idlen, id, rest) >= cap)
				return -1;
			return 0;
		}
	return -1;
}

int
ec_crypt_binding(const char *path, int fd, char *out, size_t cap)
{
	char abs[PATH_MAX];

	if (fd >= 0) {
		char link[64];
		ssize_t n;
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		if ((n = readlink(link, abs, sizeof abs - 1)) <= 0)
			return -1;
		abs[n] = '\0';
	} else {
		const char *slash = strrchr(path, '/');
		char dir[PATH_MAX];
		if (!slash)
			snprintf(dir, sizeof dir, ".");
		else if (slash == path)
			snprintf(dir, sizeof dir, "/");
		else
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
		if (!realpath(dir, abs))
			return -1;
		if (strlen(abs) + strlen(slash ? slash : path) + 2 > sizeof abs)
			return -1;
		strcat(abs, "/");
		strcat(abs, slash ? slash + 1 : path);
	}
	return binding_of(abs, out, cap);
}

int
ec_crypt_covers(const char *binding)
{
	const char *base = strrchr(binding, '/');

	const char *ext;

	base = base ? base + 1 : binding;
	ext = strrchr(base, '.');
	/* Appended logs are never written whole, so never sealed. */
	if (ext && (!strcmp(ext, ".jsonl") || !strcmp(ext, ".log")))
		return 0;
	return base[0] != '.' && strcmp(base, "plan.mk") && strcmp(base, "plan.json") &&
	    strcmp(base, "config.json");
}

/* Feed the additional authenticated data: the header, then the binding. */
static int
aad(EVP_CIPHER_CTX *c, int enc, const unsigned char *hdr, size_t hlen, const char *binding)
{
	int n;
	__typeof__(EVP_EncryptUpdate) *update = enc ? evp.enc_update : evp.dec_update;

	return update(c, NULL, &n, hdr, (int)hlen) == 1 &&
	    update(c, NULL, &n, (const unsigned char *)binding, (int)strlen(binding)) == 1;
}

char *
ec_crypt_seal(const char *binding, const void *in, size_t len, size_t *outlen, ec_err *e)
{
	unsigned char key[EC_KEY_BYTES], *out, *p;
	char id[EC_KEY_ID_MAX + 1];
	size_t idlen, hlen;
	EVP_CIPHER_CTX *c = NULL;
	int n, ok = 0;

	if (len > INT_MAX - 1024) {
		ec_fail(e, EC_EXIT_REJECT, "'%s': too large to seal", binding);
		return NULL;
	}
	if (evp_load(e) < 0 || ec_key_current(id, key, e) < 0)
		return NULL;
	idlen = strlen(id);
	hlen = MAGIC_LEN + 2 + idlen + NONCE_LEN;
	if (!(out = malloc(hlen + len + TAG_LEN + 1))) {
		ec_fail(e, EC_EXIT_TEMP, "cannot seal '%s': out of memory", binding);
		return NULL;
	}
	p = out;
	memcpy(p, MAGIC, MAGIC_LEN);
	p += MAGIC_LEN;
	*p++ = VERSION;
	*p++ = (unsigned char)idlen;
	memcpy(p, id, idlen);
	p += idlen;
	if (ec_random_bytes(p, NONCE_LEN, NULL) < 0)
		goto done;
	if (!(c = evp.ctx_new()) ||
	    evp.enc_init(c, evp.aes_256_gcm(), NULL, key, p) != 1 ||
	    !aad(c, 1, out, hlen, binding))
		goto done;
	p += NONCE_LEN;
	if (evp.enc_update(c, p, &n, in, (int)len) != 1)
		goto done;
	p += n;
	if (evp.enc_final(c, p, &n) != 1)
		goto done;
	p += n;
	if (evp.ctx_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, p) != 1)
		goto done;
	*outlen = (size_t)(p - out) + TAG_LEN;
	ok = 1;
done:
	if (c)
		evp.ctx_free(c);
	explicit_bzero(key, sizeof key);
	if (!ok) {
		free(out);
		ec_fail(e, EC_EXIT_TEMP, "cannot seal '%s': OpenSSL failed", binding);
		return NULL;
	}
	return (char *)out;
}

int
ec_crypt_key_id(const void *buf, size_t len, char id[EC_KEY_ID_MAX + 1])
{
	const unsigned char *b = buf;
	size_t idlen;

	if (!ec_crypt_sealed(buf, len) || len < MAGIC_LEN + 2 || b[MAGIC_LEN] != VERSION)
		return -1;
	idlen = b[MAGIC_LEN + 1];
	if (idlen == 0 || idlen > EC_KEY_ID_MAX || len < MAGIC_LEN + 2 + idlen + NONCE_LEN + TAG_LEN)
		return -1;
	memcpy(id, b + MAGIC_LEN + 2, idlen);
	id[idlen] = '\0';
	return ec_key_id_ok(id) ? 0 : -1;
}

char *
ec_crypt_open(const char *binding, const char *name, const void *in, size_t len,
    size_t *outlen, ec_err *e)
{
	const unsigned char *b = in;
	unsigned char key[EC_KEY_BYTES], tag[TAG_LEN];
	char id[EC_KEY_ID_MAX + 1], *out;
	size_t hlen, clen;
	EVP_CIPHER_CTX *c = NULL;
	int n, m, ok = 0;

	if (ec_crypt_key_id(in, len, id) < 0) {
		ec_fail(e, EC_EXIT_REJECT, "'%s': a sealed file with a header this version "
		    "cannot read (version %u, or cut short)", name, len > MAGIC_LEN ? b[MAGIC_LEN] : 0);
		return NULL;
	}
	if (!binding) {
		ec_fail(e, EC_EXIT_REJECT, "'%s': a sealed file outside the spool's task and "
		    "cache directories (a sealed file opens only in its place)", name);
		return NULL;
	}
	if (evp_load(e) < 0)
		return NULL;
	if (ec_key_get(id, key, e) < 0) {
		ec_err_prefix(e, "'%s' is sealed with key '%s'", name, id);
		return NULL;
	}
	hlen = MAGIC_LEN + 2 + strlen(id) + NONCE_LEN;
	clen = len - hlen - TAG_LEN;
	memcpy(tag, b + len - TAG_LEN, TAG_LEN);
	if (!(out = malloc(clen + 1))) {
		explicit_bzero(key, sizeof key);
		ec_fail(e, EC_EXIT_TEMP, "cannot open '%s': out of memory", name);
		return NULL;
	}
	if ((c = evp.ctx_new()) &&
	    evp.dec_init(c, evp.aes_256_gcm(), NULL, key, b + hlen - NONCE_LEN) == 1 &&
	    aad(c, 0, b, hlen, binding) &&
	    evp.dec_update(c, (unsigned char *)out, &n, b + hlen, (int)clen) == 1 &&
	    evp.ctx_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
	    evp.dec_final(c, (unsigned char *)out + n, &m) == 1)
		ok = 1;
	if (c)
		evp.ctx_free(c);
	explicit_bzero(key, sizeof key);
	if (!ok) {
		explicit_bzero(out, clen);
		free(out);
		ec_fail(e, EC_EXIT_REJECT, "'%s': fails authentication with key '%s' (altered, "
		    "cut, moved from another place, or a wrong key)", name, id);
		return NULL;
	}
	out[clen] = '\0';
	*outlen = clen;
	return out;
}

void
ec_wipe_free(void *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
	free(p);
}

char *
ec_crypt_open_fd(int fd, const char *name, char *buf, size_t *len, ec_err *e)
{
	char bind[PATH_MAX], *plain;
	int bound;

	if (!ec_crypt_sealed(buf, *len))
		return buf;
	bound = ec_crypt_binding(name, fd, bind, sizeof bind) == 0;
	plain = ec_crypt_open(bound ? bind : NULL, name, buf, *len, len, e);
	free(buf);
	return plain;
}
