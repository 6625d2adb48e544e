/*
 * crypt.h - encryption at rest: crypt.c seals and opens spool files, keys.c keeps
 * the keys. file.c calls it for every read and atomic write; config.c turns it on.
 */
#ifndef EC_CRYPT_H
#define EC_CRYPT_H

#include "ec.h"

#define EC_KEY_BYTES 32
#define EC_KEY_ID_MAX 32
/*
 * crypt.c: encryption at rest (see its header). file.c seals what ec_write_atomic
 * writes to a covered place while it is enabled (the config's
 * security.encryptAtRest, set by ec_config_load) and opens a sealed file that
 * ec_read_fd meets, whatever the setting.
 */
void ec_crypt_enable(int on);
int ec_crypt_on(void);
/* Does buf start as a sealed file does? */
int ec_crypt_sealed(const void *buf, size_t len);
/* The binding of a file (by its descriptor when fd >= 0, else by path) into out:
 * its path below its state directory or the cache. 0, or -1 when it has none. */
int ec_crypt_binding(const char *path, int fd, char *out, size_t cap);
/* Is a file with this binding sealed when encryption is on? */
int ec_crypt_covers(const char *binding);
/* buf sealed with the current key for binding: malloc'd, *outlen set; NULL with e. */
char *ec_crypt_seal(const char *binding, const void *buf, size_t len, size_t *outlen, ec_err *e);
/* A sealed buf opened (binding NULL: the file has none, which is an error); name for
 * messages. NUL-terminated malloc'd plaintext; NULL with e (EC_EXIT_REJECT when it
 * fails authentication, EC_EXIT_TEMP when its key is missing). */
char *ec_crypt_open(const char *binding, const char *name, const void *buf, size_t len,
    size_t *outlen, ec_err *e);
/* buf (*len bytes, malloc'd, as read from fd; name for messages) as a reader takes
 * it: itself when it is not sealed, else opened in the place fd is (buf freed, *len
 * the plaintext's). NULL with e as ec_crypt_open. */
char *ec_crypt_open_fd(int fd, const char *name, char *buf, size_t *len, ec_err *e);
/* The key id in a sealed file's header into id; 0, or -1 if buf is not one. */
int ec_crypt_key_id(const void *buf, size_t len, char id[EC_KEY_ID_MAX + 1]);

/* n bytes from the kernel's CSPRNG (getrandom). 0, or -1 with e. */
int ec_random_bytes(void *buf, size_t n, ec_err *e);
/* Overwrite n bytes of p (plaintext, a key), then free it. */
void ec_wipe_free(void *p, size_t n);

/* keys.c: the key store (see its header). */
/* The key directory: $EPIC_KEY_DIR, $CREDENTIALS_DIRECTORY, ~/.config/epic-creator/keys. */
const char *ec_key_dir(void);
int ec_key_id_ok(const char *id);
/* Key ID's bytes; 0, or -1 with e (EC_EXIT_TEMP for any fault of the store). */
int ec_key_get(const char *id, unsigned char key[EC_KEY_BYTES], ec_err *e);
/* The current key (the greatest id) and its id. */
int ec_key_current(char id[EC_KEY_ID_MAX + 1], unsigned char key[EC_KEY_BYTES], ec_err *e);
/* The ids in the key directory, sorted, NULL-terminated (ec_names_free). */
char **ec_key_ids(ec_err *e);
/* Make a new key that sorts after every other (it becomes the current one). */
int ec_key_new(char id[EC_KEY_ID_MAX + 1], ec_err *e);

/* A key file (how 0) or the key directory (EC_OPEN_DIR), named by the operator:
 * not through a final symbolic link, checked on the descriptor (st may be NULL).
 * Every failure is EC_EXIT_TEMP. */
int ec_open_key_file(const char *path, int how, struct stat *st, ec_err *e);

#endif
