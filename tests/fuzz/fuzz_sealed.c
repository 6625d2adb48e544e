/* fuzz_sealed - a sealed spool file as ec_read_fd meets it (crypt.c): any bytes
 * behind the magic are opened with the key they name, in a place, and must fail
 * cleanly unless they are what was sealed there; and any plaintext sealed for a
 * place opens back to itself there and nowhere else. A sealed file is outside
 * input: a spool's files can be edited by whoever reaches the disk. */
#include "fuzz.h"
#include "crypt.h"

static const char magic[] = "\x89" "ECSEAL\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	(void)argc, (void)argv;

	fuzz_setup(dir, sizeof dir);
	setenv("EPIC_KEY_DIR", dir, 1);
	snprintf(path, sizeof path, "%s/k1.key", dir);
	fuzz_write(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 65);
	if (chmod(path, 0600) < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	size_t n, m;
	char *in, *plain, *sealed, *back;

	/* As found on disk, with the magic in front so the header is parsed. */
	if (!(in = malloc(size + 8)))
		return 0;
	memcpy(in, magic, 8);
	memcpy(in + 8, data, size);
	plain = ec_crypt_open("task-0123abcd/epic.json", "fuzz", in, size + 8, &n, NULL);
	free(plain);        /* opening forged bytes would take breaking GCM; no check here */
	free(in);
	/* Sealed and opened back: the same bytes, in its place only. */
	if (!(sealed = ec_crypt_seal("task-0123abcd/epic.json", data, size, &n, NULL)))
		abort();
	if (!ec_crypt_sealed(sealed, n))
		abort();
	if (!(back = ec_crypt_open("task-0123abcd/epic.json", "fuzz", sealed, n, &m, NULL)) ||
	    m != size || memcmp(back, data, size))
		abort();
	free(back);
	if ((back = ec_crypt_open("task-0123abcd/plan.json", "fuzz", sealed, n, &m, NULL)))
		abort();
	free(sealed);
	return 0;
}
