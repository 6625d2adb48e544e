/*
 * ec.h - the one header of libec, the small library every epic-creator tool links.
 *
 * Concerns, one file each: err.c (exit codes, error struct, messages for main),
 * chars.c (UTF-8), clock.c (time), buf.c (a growable string), events.c (a task's
 * event log), verdict.c (a tool's verdict on its input, error.json), file.c
 * (bounded reads, atomic durable writes), stamp.c (make's stamps, holding the
 * xxh3 of what they stand for, checked on resume), open.c (the one way to open a spool
 * entry), json.c (Jansson load/dump with positions, bounded numbers; jsonfast.c reads
 * and writes well-formed text fast), jsonbin.c (a JSON value kept in binary, read
 * back fast), hash.c + sha256.c (XXH3, SHA-256), schema.c (JSON Schema subset
 * validator over the embedded schemas/; pattern.c, its patterns: pattern.h),
 * yaml.c + config.c (the config file), spool.c (spool
 * places, the drop protocol, the one id rule), claim.c (taking a request out of
 * incoming/), ratelimit.c (a token bucket per submitter), audit.c (the audit
 * log, a hash chain; its walk and rotation declared in audit.h), paths.c
 * (where things are; paths for make), rules.c (the built-in
 * persona engine; rulestext.c, rulesfacts.c, rulescompile.c, rulesload.c, rulesimage.c
 * (a rule base kept compiled: rulebase.h) share the private rules.h),
 * registry.c (persona registrations), plan.c (the persona plan), normalize.c
 * (any persona output to a PersonaOutput; normfield.c, normrecs.c and
 * normparts.c share the private norm.h), pii.c (personal data in text),
 * sanitize.c (text from outside made fit to keep), effort.c (effort and money,
 * read and written), extract.c (the JSON in an agent's text),
 * roadmap.c (recommendations merged, ordered and phased; roadmap.h), cache.c (the persona
 * output cache), task.c (a task through its pipeline), slurm.c (its make as a
 * Slurm job, performance.launcher: slurm; slurm.h), progress.c (a task's
 * progress on a terminal: the one part that prints, when asked to), proc.c (children as
 * filters), hooks.c (the plugin points), state.c (a task's WorkflowState from
 * its files), queue.c (an operator's moves: hold, release, requeue, delete) and
 * queuelist.c (the queues as an operator sees them), declared in queue.h;
 * cacheadmin.c (the persona output cache as an operator sees, prunes and checks
 * it), declared in cacheadmin.h.
 * trash.c (how an entry leaves the spool for good: renamed into tmp/, then removed
 * without following a link), declared in trash.h; retention.c (epic purge and epic
 * forget: what the retention: limits and the right to erasure remove), declared in
 * retention.h; crypt.c (encryption at rest: spool files sealed with AES-256-GCM)
 * and keys.c (the key store it uses), declared in crypt.h.
 * For the tools a person reads a result through: result.c (which result a command
 * names), markup.c (outside text kept text in HTML, Markdown and sh), sub.c (a
 * tool's subcommands: the table, the usage made from it), resultdiff.c
 * (what changed between two results), term.c (text for a person at a terminal:
 * colour, width, folding, the pager), render.c (epic render's report: what it
 * says, in which order), render-md.c and render-html.c (its two formats) and
 * rendertext.c (text made fit for a document), sharing render.h; export.c (a
 * result as a tracker's backlog: the items, the CSV writer, descriptions through a
 * markup; one file per format: export-jira.c, export-github.c, export-azure.c),
 * declared in export.h; health.c (the spool's health for epic-health and the
 * watcher's Prometheus file), declared in health.h; roles.c (security.roles: who
 * may run the admin commands, refusals audited through refused/, and the view
 * group's copies of results in view/), declared in roles.h.
 * llm.c (LLM APIs' wire formats; the prompt) and llmbudget.c (calls in flight and
 * money spent, across the spool), declared in llm.h.
 *
 * Library code never prints and never exits: it returns -1 or NULL and fills an
 * ec_err, and only main() decides what to say and with which exit code.
 */
#ifndef EC_H
#define EC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <jansson.h>

#ifndef EC_VERSION
#define EC_VERSION "0.1.0"
#endif

/* Exit codes: the one definition. Every man page lists them. */
enum {
	EC_EXIT_OK = 0,       /* success */
	EC_EXIT_REJECT = 1,   /* the input was rejected: permanent, do not retry */
	EC_EXIT_USAGE = 2,    /* bad command line */
	EC_EXIT_TEMP = 111,   /* temporary failure (I/O, lock, ENOSPC, timeout): retry */
};

/* Limits: the one definition of sizes that are not configuration. */
#define EC_MAX_REQUEST_BYTES   (4u << 20)   /* hard cap on any request file before parsing */
#define EC_MAX_JSON_BYTES      (16u << 20)  /* any other JSON document the tools read */
#define EC_MAX_JSON_DEPTH      64           /* deeper nesting is rejected */
#define EC_MAX_NAME            64           /* sanitised request base names (a task id adds 9) */
#define EC_MIN_DESCRIPTION     10           /* bytes, after trimming */
#define EC_TITLE_MAX           80           /* characters in an extracted title */
#define EC_MAX_COUNT           1000000000LL /* any count from outside (tokens, retries) */
#define EC_MAX_EFFORT_DAYS     100000       /* one recommendation's effort, person-days */

/*
 * An error: a message and the exit code it deserves. Filled by library calls that
 * fail; the message is complete ("file:line:col: what") and ready for main().
 */
typedef struct ec_err {
	int code;          /* EC_EXIT_REJECT or EC_EXIT_TEMP */
	char msg[1024];
} ec_err;

/* err.c */
extern const char *ec_progname;
void ec_setprogname(const char *argv0);
/* Fill e (if not NULL) and return -1, so callers write `return ec_fail(e, ...)`. */
int ec_fail(ec_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix an existing error message with "prefix: ". */
void ec_err_prefix(ec_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * For main() only: print "prog: msg" to stderr as one line, control characters
 * escaped (ec_escape_controls), so nothing from outside can forge a line of a log.
 * The message is kept as the verdict a later ec_exit() leaves. When stderr is the
 * journal (JOURNAL_STREAM), the line starts with its syslog priority: ec_warn <4>
 * warning, ec_info <6> information (not kept as the verdict), ec_die <3> error.
 */
void ec_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ec_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For main() only: say e->msg (an error) and ec_exit with e->code. */
void ec_die_err(const ec_err *e) __attribute__((noreturn));
void ec_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* s with control characters (C0, DEL, C1) and bytes that are not UTF-8 written as
 * \n, \t, \r, \xHH, into out (cap bytes, truncated). Returns out. */
char *ec_escape_controls(const char *s, char *out, size_t cap);
/* For main() only: the one optional FILE operand left after the options ("-"
 * when there is none), or NULL after warning "too many arguments: expected one
 * WHAT" (the caller then shows its usage). */
const char *ec_operand(int argc, char *const argv[], const char *what);
/* The last message ec_warn printed ("" if none). */
const char *ec_last_message(void);
/* For main() only: print a usage text (malloc'd, freed; NULL: out of memory) on
 * stdout for code 0, else on stderr, and exit with code. */
void ec_usage_exit(char *text, int code) __attribute__((noreturn));
/* For main() only: print "PROG VERSION" and exit 0. */
void ec_version_exit(void) __attribute__((noreturn));
/* For main() only: flush and check stdout, exit 111 if it could not be written. */
int ec_close_stdout(void);
/* Is errno a temporary condition (ENOSPC, EIO, EAGAIN, ...)? */
int ec_errno_is_temp(int err);

/* chars.c: what text is. ASCII classes, the same for every reader (no locale). */
static inline int ec_is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int ec_is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static inline int ec_is_alpha(int c) { return (c >= 'a' && c <= 'z') || ec_is_upper(c); }
static inline int ec_is_alnum(int c) { return ec_is_alpha(c) || ec_is_digit(c); }
static inline int ec_is_word(int c) { return ec_is_alnum(c) || c == '_'; }
static inline int ec_is_hex(int c) { return ec_is_digit(c) || ((c | 32) >= 'a' && (c | 32) <= 'f'); }
static inline int ec_is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static inline int ec_lower(int c) { return ec_is_upper(c) ? c + 32 : c; }
static inline int ec_upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
/* Length (1 to 4) of the well-formed UTF-8 sequence at s, or 0 if there is none
 * (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, the
 * NUL that ends s). */
size_t ec_utf8_seq(const unsigned char *s);
/* Characters (not bytes) in the first n bytes of UTF-8 s. */
size_t ec_utf8_chars(const char *s, size_t n);
/* The byte length of the longest prefix of s (well-formed UTF-8) with at most
 * max_chars characters and max_bytes bytes. */
size_t ec_utf8_prefix(const char *s, size_t max_chars, size_t max_bytes);
/* Replace every byte of s that is not part of well-formed UTF-8 with '?', in place. */
void ec_utf8_fix(char *s);
/* Cut an incomplete UTF-8 sequence off the end of s (as snprintf may leave one). */
void ec_utf8_trim(char *s);
/* Is s (may be NULL: no) one of the strings of the NULL-terminated list? */
int ec_in_list(const char *const *list, const char *s);
/* The index of the name of names[0..n-1] nearest to s, for a "did you mean": the
 * least edit distance (case folded, a swap of neighbours counting one) to a name,
 * a prefix of it or one of its '-'/'_' separated words, at most a third of s (none
 * for s of one or two letters: only exact prefixes); ties go to the nearer whole
 * name, then to the first. -1 when none is that close (or s is empty). */
int ec_nearest(const char *s, const char *const *names, size_t n);
/* The code point of the well-formed UTF-8 sequence of n bytes (ec_utf8_seq) at s. */
unsigned long ec_utf8_cp(const unsigned char *s, size_t n);
/* Is code point c one that must not reach a reader as it is: a C0 control other
 * than LF, TAB and CR, DEL, a C1 control, or a bidirectional control (the
 * embeddings, overrides and isolates, LRM, RLM, ALM: "Trojan Source")? The views
 * (render, export, show) write U+FFFD instead. */
int ec_cp_unsafe(unsigned long c);
/* Offset of the first byte of buf that does not start a well-formed UTF-8 sequence
 * (overlong forms and surrogates included), or -1 if all of it is UTF-8. */
long ec_utf8_invalid_at(const char *buf, size_t len);
/* "a UTF-16 byte order mark" (or UTF-32) when buf starts with one, else NULL. */
const char *ec_bom_name(const char *buf, size_t len);

/* clock.c: time. */
/* Wall-clock milliseconds since the epoch. */
long long ec_now_ms(void);
/* Milliseconds on the monotonic clock, for durations. */
long long ec_mono_ms(void);
/* Now as RFC 3339 UTC with milliseconds ("2026-11-25T21:41:45.261Z") into buf. */
void ec_iso_time(char *buf, size_t cap);
/* ms since the epoch as "2025-06-30T08:14:01.120Z" into out. */
void ec_time_format(long long ms, char out[32]);
/*
 * Parse an RFC 3339 date-time as the schemas allow it (YYYY-MM-DDTHH:MM:SS[.frac]
 * followed by Z or +HH:MM / -HH:MM): seconds since the epoch into *sec, the fraction
 * into *nsec (may be NULL), and, if utc is not NULL, the same instant in UTC with the
 * fraction as written. 0, or -1 if s is not one.
 */
int ec_time_parse(const char *s, long long *sec, long *nsec, char *utc, size_t cap);
/* The same as milliseconds since the epoch. */
int ec_time_parse_ms(const char *s, long long *ms);

/* buf.c: a growable string; zero-initialise it ({ 0 }). */
typedef struct ec_buf {
	char *p;                /* NUL-terminated once anything was put */
	size_t n, cap;
	int oom;                /* memory ran out: sticky, checked at ec_buf_take */
} ec_buf;
void ec_buf_put(ec_buf *b, const char *s, size_t n);
void ec_buf_putc(ec_buf *b, char c);
void ec_buf_puts(ec_buf *b, const char *s);
void ec_buf_printf(ec_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string (malloc'd, "" when nothing was put; the caller frees), or NULL when
 * memory ran out. The buffer is empty again afterwards. */
char *ec_buf_take(ec_buf *b);

/* verdict.c: how a tool in a task's pipeline tells the launcher why it failed. */
/* Where a non-zero exit leaves its verdict (--error-file); default $EPIC_ERROR_FILE,
 * which the launcher sets for make and the tools it runs (never for a persona
 * command or a hook: their exit is not the pipeline's verdict). NULL: none. */
void ec_verdict_file(const char *path);
/* The seed's ErrorType for the verdict; default by exit code (1 and 2
 * INVALID_INPUT, 111 SYSTEM_ERROR). */
void ec_verdict_type(const char *type);
/*
 * For main() only: exit with code, first leaving the verdict (this tool, the code,
 * the type, the last ec_warn message) in the verdict file when code is not 0. Every
 * exit of a pipeline tool goes through here, so a rejection (1, 2) is always on
 * record and never retried as temporary.
 */
void ec_exit(int code) __attribute__((noreturn));
/* Write error.json at path: which tool, its exit code, the seed's error type, why;
 * recoverable when code is EC_EXIT_TEMP. Written atomically and synced. */
int ec_verdict_write(const char *path, const char *tool, int code, const char *type,
    const char *msg, ec_err *e);
/* The same as DIR/error.json. */
int ec_task_error_write(const char *dir, const char *tool, int code, const char *type,
    const char *msg, ec_err *e);
/* How a launcher reads a verdict's exit code: 1 and 2 are rejections (final),
 * anything else is temporary. */
int ec_verdict_class(int code);

/* file.c */
/*
 * Read a whole file ("-" = stdin) of at most max bytes into a NUL-terminated
 * malloc'd buffer; *len gets the length. A larger file is EC_EXIT_REJECT naming
 * the limit. Caller frees.
 */
char *ec_read_file(const char *path, size_t max, size_t *len, ec_err *e);
/* A regular file of the effective user's, not through a symbolic link, or NULL:
 * for what only we may have written (a stamp). Caller frees. */
char *ec_read_own_file(const char *path, size_t max, size_t *len);
/* Open a file the caller names (a path, "-" = a duplicate of stdin) to read it as
 * a stream: the descriptor, or -1 with e (EC_EXIT_REJECT missing, else as errno). */
int ec_open_read(const char *path, ec_err *e);
/* The same from an open descriptor (name for messages); the caller closes fd.
 * A sealed file is opened (crypt.c). */
char *ec_read_fd(int fd, const char *name, size_t max, size_t *len, ec_err *e);
/* The bytes as they are on disk, sealed or not. */
char *ec_read_fd_raw(int fd, const char *name, size_t max, size_t *len, ec_err *e);
/* Flags for ec_write_atomic. */
enum {
	EC_W_FSYNC = 1,     /* fsync the file and its directory: must survive a crash */
	EC_W_IFCHANGED = 2, /* leave an existing file with the same bytes untouched (mtime kept) */
	EC_W_MODE_PRIVATE = 4, /* 0600 instead of 0644 (umask applies) */
	EC_W_MODE_GROUP = 8,   /* exactly 0640, whatever the umask (a view copy) */
};
/*
 * Write buf to path atomically: a dot-temp in the same directory, write all,
 * (fsync), rename over path, (fsync the directory). The temp is unlinked on every
 * failure path, so a reader sees the old file or the new one, never a half one.
 * Returns 0 written, 1 unchanged (EC_W_IFCHANGED), -1 error (EC_EXIT_TEMP).
 */
int ec_write_atomic(const char *path, const void *buf, size_t len, int flags, ec_err *e);
/* Write to stdout when path is "-" or NULL, else ec_write_atomic. */
int ec_write_output(const char *path, const void *buf, size_t len, int flags, ec_err *e);
/* mkdir -p with mode; 0 or -1 (EC_EXIT_TEMP). */
int ec_mkdir_p(const char *path, unsigned mode, ec_err *e);
/* fsync a directory by path. */
int ec_fsync_dir(const char *dir, ec_err *e);
/* The names in the open directory dfd (left open and where it was: a dup is
 * read), sorted, without dot-names (".", "..", temps, claims, trash), read in
 * whole: the caller may rename entries away while it walks them. NULL-terminated,
 * malloc'd (ec_names_free); NULL with errno when the directory cannot be read. */
char **ec_dir_names(int dfd);
void ec_names_free(char **names);

/* stamp.c: make's stamps, holding the xxh3 of what they stand for. */
/* Write stamp (atomically, unsynced) with one "XXH3  NAME" line for each file. */
int ec_stamp_write(const char *stamp, const char *const *files, size_t n, ec_err *e);
/* Check the stamps of the task STATE/ID (.parse.stamp, personas/.*.stamp) against
 * the outputs they list; remove each that does not hold, with the outputs that do
 * not match, so make redoes them. Returns how many were removed. */
int ec_stamps_check(const char *spool, const char *state, const char *id);
/* Does a stamp beside path (its own .NAME.stamp, else .parse.stamp) record exactly
 * these bytes under path's name? Then one of our tools wrote and checked them. */
int ec_stamp_vouches(const char *path, const void *buf, size_t len);
/* Load JSON from path (or "-") and check it against schema, unless a stamp vouches
 * for its bytes; errors name the file. New reference, or NULL with e. */
json_t *ec_json_load_valid(const char *path, size_t max, const char *schema, ec_err *e);
/* Append one line atomically (single write(2), O_APPEND); line must end in '\n'.
 * The file is created 0644 if missing. For a path the caller names; a spool file
 * is appended to with ec_spool_append. */
int ec_append_line(const char *path, const char *line, size_t len, ec_err *e);
/* The same through an open O_APPEND descriptor, which it closes. */
int ec_append_fd(int fd, const char *name, const char *line, size_t len, ec_err *e);

/* open.c: the one way to open an entry of the spool (see the file's header). */
enum {
	EC_OPEN_DIR = 1,        /* a directory, not a regular file */
	EC_OPEN_ANY_OWNER = 2,  /* any owner (a request in incoming/, a directory a
	                         * submitter must pass); else the effective uid's */
};
/*
 * Open rel, a path beneath the directory descriptor dirfd (AT_FDCWD: the cwd), with
 * no component a symbolic link and the last opened O_NONBLOCK, then judged on the
 * descriptor: a regular file with exactly one link (a directory with EC_OPEN_DIR),
 * owned by the effective user unless EC_OPEN_ANY_OWNER. oflags: O_RDONLY, or
 * O_WRONLY|O_APPEND|O_CREAT and the like (a created file is 0600). st, if not NULL,
 * gets the descriptor's fstat. Returns the descriptor, or -1 with errno and e:
 * EC_EXIT_REJECT naming what is there instead ("'x' is a FIFO, expected a regular
 * file") or that it is missing (errno ENOENT); EC_EXIT_TEMP for I/O.
 */
int ec_open_beneath(int dirfd, const char *rel, int oflags, int how, struct stat *st, ec_err *e);
/* A descriptor (O_PATH) of the spool root, opened once per process. -1 with e. */
int ec_spool_rootfd(const char *spool, ec_err *e);
/* ec_open_beneath relative to the spool root: rel is "active/ID/.lock" and the like. */
int ec_spool_open(const char *spool, const char *rel, int oflags, int how, struct stat *st, ec_err *e);
/* The spool file rel (ec_spool_open with how): read (ec_read_fd; caller frees); mapped
 * read-only (munmap *len bytes; NULL with e->code 0 if sealed: read it); read and parsed
 * (one of ours; new reference); a line appended (created 0600), as ec_append_line. */
char *ec_spool_read(const char *spool, const char *rel, size_t max, size_t *len, int how, ec_err *e);
void *ec_spool_map(const char *spool, const char *rel, size_t max, size_t *len, ec_err *e);
json_t *ec_spool_json(const char *spool, const char *rel, size_t max, ec_err *e);
int ec_spool_append(const char *spool, const char *rel, const char *line, size_t len, ec_err *e);
/* Keep what a tool worked out for the next ones, as the spool file rel
 * ("cache/valid/NAME"), atomically and unsynced, its directory made if need be;
 * only in a spool that has a cache already (keeping makes no spool). Best effort. */
void ec_spool_keep(const char *spool, const char *rel, const void *buf, size_t len);
/* 1 if path exists (any type), else 0; a base name without dirs or last extension, malloc'd. */
int ec_exists(const char *path);
char *ec_basename_noext(const char *path);
/* The extension (without the dot) of a path's base name, or "". Borrowed. */
const char *ec_extension(const char *path);

/* jsonbin.c: a JSON value kept in binary, for what the tools keep for themselves:
 * the value as bytes (malloc'd; *len their count), or NULL when memory ran out. */
char *ec_jsonbin_encode(const json_t *j, size_t *len);
/* The value back, or NULL when the bytes are not exactly what ec_jsonbin_encode
 * wrote (cut, changed, another format). New reference. */
json_t *ec_jsonbin_decode(const char *buf, size_t len);

/* json.c */
/*
 * Parse JSON text (REJECT_DUPLICATES, no NUL, depth <= EC_MAX_JSON_DEPTH).
 * name is used in messages: "name:line:col: reason". Returns a new reference.
 */
json_t *ec_json_loadb(const char *buf, size_t len, const char *name, ec_err *e);
/* jsonfast.c: well-formed JSON read fast, or NULL (then Jansson says what is wrong);
 * j as json_dumps writes it (sorted keys, EC_JSON_REAL, indent spaces a level or
 * -1: compact) and a newline, malloc'd (*len bytes). */
json_t *ec_json_fastparse(const char *buf, size_t len);
char *ec_json_fastdump(const json_t *j, int indent, size_t *len);
/* Ten significant digits: 0.35, not 0.34999999999999998; ours never need more. */
#define EC_JSON_REAL JSON_REAL_PRECISION(10)
/* ec_read_file + ec_json_loadb. New reference. */
json_t *ec_json_load_file(const char *path, size_t max, ec_err *e);
/* Canonical text: sorted keys, 2-space indent, trailing newline. malloc'd. */
char *ec_json_dumps(const json_t *j);
/* Canonical compact one line (for jsonl), with trailing newline. malloc'd. */
char *ec_json_dumps_line(const json_t *j);
/* Canonical text written with ec_write_output; returns as ec_write_atomic. */
int ec_json_write(const char *path, const json_t *j, int flags, ec_err *e);
/* Format a JSON path element: appends ".key" or "[i]" to buf (cap bytes). */
void ec_jpath_key(char *buf, size_t cap, const char *base, const char *key);
void ec_jpath_index(char *buf, size_t cap, const char *base, size_t i);
/* A JSON path kept as a chain of frames on the stack while a document is walked,
 * formatted ("$.a[2].b") only when a message names it: walking does not pay for
 * messages. */
#define EC_JPATH_CAP 512
typedef struct ec_jpath {
	const struct ec_jpath *up;      /* NULL: the root's child */
	const char *key;                /* a member name, or NULL for the array index */
	size_t index;
} ec_jpath;
void ec_jpath_format(const ec_jpath *p, char *buf, size_t cap);
/* v as a long long, when it is finite and lo <= v <= hi: checked before any cast,
 * so a number from outside (1e300, NaN) can never be undefined behaviour. The
 * fraction is dropped. 0, or -1 when out of range. */
int ec_dbl_to_ll(double v, long long lo, long long hi, long long *out);
/* v rounded to the cent (half away from zero); v itself when |v| >= 1e13 or not finite. */
double ec_round2(double v);
/* A number as JSON: an integer when it is one (12, not 12.0). New reference. */
json_t *ec_json_number(double v);
/* The same as text: "12", "2.5". */
void ec_fmt_number(char *buf, size_t cap, double v);
/* Line and column (1-based; columns in characters) of byte offset off in buf. */
void ec_line_col(const char *buf, size_t off, int *line, int *col);
/* Borrowed lookups by dotted path "a.b.c" (no arrays); NULL if absent. */
json_t *ec_json_get(const json_t *root, const char *dotted);
const char *ec_json_get_str(const json_t *root, const char *dotted, const char *dflt);
json_int_t ec_json_get_int(const json_t *root, const char *dotted, json_int_t dflt);
int ec_json_get_bool(const json_t *root, const char *dotted, int dflt);

/* hash.c */
/* 16 lowercase hex digits of XXH3-64 into out[17]. */
void ec_xxh3_hex(const void *buf, size_t len, char out[17]);
uint64_t ec_xxh3(const void *buf, size_t len);
/* ec_xxh3_hex of a then b, as if they were one buffer (without making one). */
void ec_xxh3_hex2(const void *a, size_t alen, const void *b, size_t blen, char out[17]);
/* 64 lowercase hex digits of SHA-256 into out[65]. */
void ec_sha256_hex(const void *buf, size_t len, char out[65]);
/* Is s 16 lowercase hex digits (an ec_xxh3_hex)? */
int ec_xxh3_hex_valid(const char *s);

/* schema.c: validate against one of the embedded schemas/ (draft 2020-12 subset). */
/*
 * Validate doc against schema NAME ("epic-request", "config", ...). On the first
 * violation fill e with "$.path: expected ..." (EC_EXIT_REJECT) and, if bad_path is
 * not NULL, copy the JSON path there (cap 512). 0 valid, -1 invalid.
 */
int ec_schema_validate(const char *name, const json_t *doc, char *bad_path, ec_err *e);
/* Fill absent properties that have a "default" in the schema, recursively. */
int ec_schema_apply_defaults(const char *name, json_t *doc, ec_err *e);
/* The embedded schema text by NAME, or NULL. Borrowed, NUL-terminated. */
const char *ec_schema_text(const char *name);
/* ec_schema_validate of doc, parsed from bytes, remembered per content: a pass is
 * kept as an empty file in the spool's cache/valid/ (named by the schema's and the
 * bytes' XXH3), so what every tool of a task reads (registrations, the config) is
 * checked once. */
int ec_schema_validate_kept(const char *name, const json_t *doc, const void *bytes, size_t len,
    char *bad_path, ec_err *e);

/* yaml.c */
/*
 * Parse a YAML document into JSON (plain scalars: null/true/false/numbers typed,
 * everything else a string). lines, if not NULL, gets a new object mapping each
 * JSON path ("$.a.b") to its "line:col" in the file. New reference.
 */
json_t *ec_yaml_loadb(const char *buf, size_t len, const char *name, json_t **lines, ec_err *e);

/* config.c */
/*
 * Load the config: path, else $EPIC_CONFIG, else <datadir>/epic-creator.yml,
 * validated against schemas/config, defaults applied. Errors name file:line:col
 * and the key path. New reference.
 */
json_t *ec_config_load(const char *path, ec_err *e);
/* The same from bytes (name for messages), for a reader that has them already. */
json_t *ec_config_loadb(const char *buf, size_t len, const char *name, ec_err *e);
/* The config file ec_config_load would read (opt, $EPIC_CONFIG, the default), or
 * NULL when there is none and the built-in defaults apply. Borrowed. */
const char *ec_config_path(const char *opt);
/* Parse "1GB", "512MiB", "64k" into bytes; -1 if not a size. */
long long ec_parse_size(const char *s);

/* paths.c */
/* The pipeline data directory (epic.mk, personas/, epic-creator.yml): $EPIC_DATADIR,
 * else <exe>/../pipeline in a checkout, else the compiled-in install dir. Borrowed. */
const char *ec_datadir(void);
/* The directory holding the running executable (for sibling tools). Borrowed. */
const char *ec_bindir(void);
/* path made absolute against the current directory (lexically: symbolic links are
 * kept, "." and ".." resolved), so it still means the same file from a task's
 * directory. malloc'd; NULL on ENOMEM or ENAMETOOLONG. */
char *ec_abspath(const char *path);
/* path escaped for a make prerequisite list or a := value ("a b" -> "a\ b", "$" ->
 * "$$"), malloc'd; NULL with errno EINVAL when it holds what make cannot take at
 * all there (a control character, '\\', '(' or ')'). */
char *ec_make_escape(const char *path);

/* spool.c */
/* The longest task id: a sanitised name, '-' and 8 hex digits. */
#define EC_MAX_ID (EC_MAX_NAME + 9)
/* The one id rule: is id a task id? [A-Za-z0-9._-], not starting with '.' or '-',
 * 1 to EC_MAX_ID bytes, the way ec_task_id makes them. Every tool and command that
 * takes an id from outside checks it here and exits 2 on anything else. */
int ec_id_valid(const char *id);
/* What kind of request a file is, as the extension it is kept under: json, md or
 * txt. The name's own when the pipeline knows it (markdown -> md, text -> txt), else
 * by content: json when it starts with '{' or '[', md with '#', else txt. name "-" is
 * standard input. The one rule, for epic-parse, epic run, submit and the watcher.
 * Borrowed. */
const char *ec_request_ext(const char *name, const char *buf, size_t len);
/* Spool root: opt, else $EPIC_SPOOL, else ./spool in a checkout, else the XDG state
 * dir. Borrowed until the next call. */
const char *ec_spool_root(const char *opt);
/* Create the root (0710) and tmp/ incoming/ (01730), active/ done/ failed/
 * deferred/ hold/ cache/ log/ (0700) under it; only what does not exist yet is created,
 * and with exactly those modes (an existing directory's mode is left alone). */
int ec_spool_init(const char *root, ec_err *e);
/*
 * Drop a request by the Maildir protocol: buf into a unique dot-file in tmp/,
 * fsync, rename to incoming/ID.EXT (never over an existing file), sync incoming/.
 * ext is json, md or txt. Returns 0 dropped, 1 incoming/ID.EXT was already there
 * (nothing written), -1 error (EC_EXIT_TEMP for I/O; nothing left in tmp/).
 */
int ec_spool_drop(const char *root, const char *id, const char *ext, const void *buf,
    size_t len, ec_err *e);
/* Sanitise a base name into [A-Za-z0-9._-], no leading dot, at most EC_MAX_NAME
 * bytes, into out (cap >= EC_MAX_NAME+1). Returns 0, or -1 if nothing usable is left. */
int ec_sanitize_name(const char *in, char *out, size_t cap);
/* Task id: "<sanitised base>-<first 8 hex of xxh3(content)>" into out. */
int ec_task_id(const char *base, const void *content, size_t len, char *out, size_t cap);

/* claim.c: taking a request out of incoming/ (see the file's header). */
enum {
	EC_CLAIM_LATER,         /* not yet: still being written (c->retry_at) */
	EC_CLAIM_GONE,          /* nothing to do: another watcher took it, or it is not a request name */
	EC_CLAIM_NEW,           /* active/ID holds it now */
	EC_CLAIM_DUPLICATE,     /* the same bytes are task ID already (in c->state); dropped */
	EC_CLAIM_REJECTED,      /* kept for good in failed/ID with error.json (c->why) */
};
typedef struct ec_claim_opts {
	long long settle_ms;    /* a file not renamed in must be this old (watcher.settleMs) */
	long long grace_ms;     /* JSON that does not parse waits this long (watcher.parseGraceMs) */
	int renamed;            /* it arrived by rename: complete, no settling */
} ec_claim_opts;
typedef struct ec_claim {
	char id[EC_MAX_ID + 1];
	const char *ext;        /* json, md or txt */
	uid_t uid;              /* the submitter: the owner of the file in incoming/ */
	char who[129];          /* metadata.requestedBy: a label, not an identity */
	const char *state;      /* EC_CLAIM_DUPLICATE: where the task is */
	long long retry_at;     /* EC_CLAIM_LATER or an error: when to look again (ms) */
	char why[600];          /* EC_CLAIM_REJECTED: the reason, as in error.json */
} ec_claim;
/* Claim incoming/name. Returns an EC_CLAIM_* value, or -1 with e (EC_EXIT_TEMP;
 * c->retry_at says when to try again; the request is where it was, or in a claim
 * directory that ec_claim_recover returns). */
int ec_claim_take(const char *spool, const char *name, const ec_claim_opts *o, ec_claim *c,
    ec_err *e);
/* Return the requests of abandoned claims (a watcher that died between its renames)
 * to incoming/, calling returned(id) for each; remove epic run's abandoned staging
 * directories older than max_age_s. Returns the number of requests returned. */
int ec_claim_recover(const char *spool, long long max_age_s,
    void (*returned)(const char *id, void *arg), void *arg);
/* The task id of a request file called name holding buf: its base name when that
 * already ends in the content's hash (epic submit names files so), else the name's
 * sanitised base and the hash (ec_task_id). */
void ec_claim_request_id(const char *name, const char *buf, size_t len, char *id, size_t cap);

/* ratelimit.c: a token bucket per submitter. */
typedef struct ec_bucket {
	uid_t uid;
	double tokens;
	long long last;         /* ms */
} ec_bucket;
typedef struct ec_ratelimit {
	ec_bucket *v;
	size_t n;
} ec_ratelimit;
/* Take a token for uid at now (ms), per_min a minute up to burst (per_min 0: no
 * limit). Returns 0, or the ms until a token is there. */
long long ec_ratelimit_take(ec_ratelimit *r, uid_t uid, double per_min, double burst,
    long long now);
void ec_ratelimit_free(ec_ratelimit *r);

/* audit.c: log/audit.jsonl. */
/* Append event ev (an object; "time" is added when it has none) as one line.
 * Write it before the move it records. 0 or -1 with e. */
int ec_audit(const char *spool, json_t *ev, ec_err *e);

/* registry.c: persona registrations (pipeline/personas/NAME.json). */
typedef struct ec_persona {
	char *name;
	int review_order;
	int required;
	int timeout;            /* seconds */
	char **deps;            /* NULL-terminated */
	int modes;              /* bit set of EC_MODE_* */
	char *version;
	char *rules_path;       /* absolute, or NULL for a command persona */
	char **command;         /* argv, NULL-terminated, or NULL */
	char *fallback;         /* or NULL */
	char *fallback_rules;   /* made an agent by personas.NAME.llm: its rule base, or NULL */
	char *reg_path;         /* the registration file */
	json_t *focus_areas;    /* array, new reference */
	/* What the rest of the pipeline knows of it, from the registration alone, so a
	 * new persona is a file, never a C change. */
	int enforce_devops;     /* required and blocking when a request sets enforceDevops */
	char *id_prefix;        /* of the recommendation ids the normalizer assigns, or NULL */
	char *area;             /* the area it reviews (risks, gaps), or NULL: its name */
	char *gap_priority;     /* low | medium | high | critical */
	char *gap_advice;       /* what to do when its review is missing, or NULL */
} ec_persona;

enum { EC_MODE_MVP = 1, EC_MODE_STANDARD = 2, EC_MODE_ENTERPRISE = 4 };
int ec_mode_bit(const char *mode);   /* 0 if unknown */
/* Is s a persona name (^[a-z0-9][a-z0-9-]{0,62}$)? */
int ec_persona_name_valid(const char *s);

typedef struct ec_registry {
	ec_persona *v;
	size_t n;               /* sorted by review_order */
} ec_registry;

/* Load every registration on $EPIC_PERSONA_PATH (default <datadir>/personas),
 * checking schema, rule base existence, duplicate orders, unknown dependencies and
 * cycles. Errors name the file. 0 or -1. */
int ec_registry_load(ec_registry *r, ec_err *e);
/* Apply the config's personas.NAME overrides (required, timeout, dependencies; llm:
 * persona-llm, the rules as fallback) and check again (names, dependencies, cycles). */
int ec_registry_configure(ec_registry *r, const json_t *cfg, ec_err *e);
const ec_persona *ec_registry_find(const ec_registry *r, const char *name);
/* Can persona p run: its rule base loads, or its program is there to execute (on
 * $PATH when it names no directory)? `persona-run --health` asks the program itself. */
int ec_persona_available(const ec_persona *p);
void ec_registry_free(ec_registry *r);

/* rules.c: the built-in persona engine. */
/*
 * Apply a rule base to a PersonaInput and return a new PersonaOutput (canonical,
 * status "completed"; executionTime 0, the caller measures). Deterministic.
 */
json_t *ec_rules_apply(const json_t *rulebase, const json_t *input, ec_err *e);
/* What a rule base finds to assess in a PersonaInput's epic (auto selection): the
 * number of specific recommendations it would make, and the titles of the most
 * specific three ("; "-joined, cut to fit). */
typedef struct ec_relevance {
	int score;
	char why[240];
} ec_relevance;
int ec_rules_relevance(const json_t *rulebase, const json_t *input, ec_relevance *rel, ec_err *e);
/* rulesload.c: load and validate a rule base file (schema rule-base). New reference. */
json_t *ec_rules_load(const char *path, ec_err *e);
/* The same from bytes (name for messages). trusted: these exact bytes passed the
 * schema before, skip it (the engine's own checks still run). New reference. */
json_t *ec_rules_loadb(const char *buf, size_t len, const char *name, int trusted, ec_err *e);
/* (its fingerprint, and ec_rules_load_kept, a rule base kept compiled: rulebase.h) */

/* normalize.c: any persona output (clean JSON, JSON in prose or a ```json fence,
 * an agent's near-JSON) -> a canonical PersonaOutput. */
typedef struct ec_norm_opts {
	const char *persona;     /* persona.name is set to this */
	int review_order;        /* persona.reviewOrder */
	const char *version;     /* metadata.version when the output has none */
	const char *id_prefix;   /* for missing recommendation ids ("SEC"); NULL: derived from persona */
} ec_norm_opts;
/*
 * Normalize raw (len bytes; name for messages) into a canonical PersonaOutput that
 * validates against schemas/persona-output: enums mapped, ids assigned, duplicates
 * dropped, costs parsed into effortDays, strings sanitised and capped, PII redacted
 * (counted in metadata.redactions). New reference, or NULL with e filled
 * (EC_EXIT_REJECT, naming the JSON path) when nothing usable can be made of it.
 */
json_t *ec_normalize(const char *raw, size_t len, const char *name, const ec_norm_opts *o, ec_err *e);

/* pii.c: personal data in text. */
/* Redact PII in a NUL-terminated malloc'd string in place (may realloc *s); adds the
 * counts by kind ("email", "phone", "card", "ip", "iban", "ssn") to counts (may be
 * NULL). Returns the number of redactions. When memory runs out, *oom is set and *s
 * left as it was; with oom NULL, *s is emptied instead (it leaks nothing). */
size_t ec_redact_pii(char **s, json_t *counts, int *oom);
/* Set by config.c from security.redactRequests. */
void ec_pii_redact_requests(int on);
/* The request (buf, a .EXT file) as it is to be kept when security.redactRequests
 * is on: a malloc'd redacted copy (length in *outlen), or NULL to keep it as it came
 * (off, nothing found, not text, or out of memory). JSON stays JSON. */
char *ec_redact_request(const char *buf, size_t len, const char *ext, size_t *outlen);

/* extract.c: the JSON object in an agent's text (see the file's header). */
typedef struct ec_extract {
	/* in: how well a candidate object fits (0: not at all; *items breaks ties) */
	int (*score)(const json_t *obj, size_t *items, void *arg);
	/* in, may be NULL: a fitting object inside a wrapper (borrowed), its key into key */
	json_t *(*unwrap)(const json_t *obj, char *key, size_t cap, void *arg);
	void *arg;
	/* out: what finding it took */
	int bom;                /* a UTF-8 byte order mark was skipped */
	size_t commas;          /* trailing commas removed */
	char where[160];        /* "JSON taken from a ``` fence at line 3", "" for the whole text */
	char unwrap_key[48];    /* the wrapper it was taken out of, "" if none */
} ec_extract;
/* The best-fitting object in raw (len bytes, UTF-8 without NUL; name for messages).
 * New reference, or NULL with e: EC_EXIT_REJECT naming the position or "$", or
 * EC_EXIT_TEMP without memory. */
json_t *ec_extract_json(const char *raw, size_t len, const char *name, ec_extract *x, ec_err *e);

/* roadmap.c: the personas' recommendations merged, ordered and phased. */
enum { EC_RM_LOW, EC_RM_MEDIUM, EC_RM_HIGH, EC_RM_CRITICAL };   /* priorities, in order */
/* The rank of a priority name (EC_RM_*); an unknown name or NULL ranks low. */
int ec_priority_rank(const char *name);
/* The name of a priority's rank (EC_RM_*). */
const char *ec_priority_name(int rank);
/* The roadmap itself, epic-aggregate's, is declared in roadmap.h. */

/* effort.c: effort in person-days and money, read and written. */
/* A decimal number at s: digits with optional thousands commas ("12,500") and one
 * decimal point. Returns the bytes used (0: none) and the value in *v. */
size_t ec_decimal_at(const char *s, double *v);
/* Effort in person-days from the words of a cost: the first "N unit" or "N-M unit"
 * (also "N to M", en or em dash) with a time unit (hours / 8, days, weeks * 5,
 * sprints * 10, months * 20, years * 240), else a bare t-shirt size (XS..XXL). Money
 * ("$12,500", "5k", "EUR 3,000") is no effort without a day rate. 1 found, else 0. */
int ec_effort_parse(const char *text, double *min, double *max);
/* effortDays as given ({min, max} numbers, 0 <= min <= max <= EC_MAX_EFFORT_DAYS, or
 * one number) as a new {min, max} object, or NULL when it is not one. */
json_t *ec_effort_given(const json_t *v);
/* "2-5 person-days", "3 person-days", "1 person-day" (to the cent). */
void ec_effort_days_text(char *buf, size_t cap, double min, double max);
/* A duration in working days for people: days below two weeks ("2-4 days"), else
 * whole weeks of five days, rounded up ("6-9 weeks"). */
void ec_effort_duration_text(char *buf, size_t cap, double min, double max);
/* Whole money units with thousands separators: 24000 -> "24,000". */
void ec_money_text(char *buf, size_t cap, double v);
/* "EUR 12,800 - 24,000", or "EUR 12,800" when both ends are equal. */
void ec_budget_text(char *buf, size_t cap, const char *currency, double min, double max);

/* sanitize.c: text from outside made fit to keep. */
enum {
	EC_TEXT_PARAGRAPHS,     /* paragraphs kept: at most one blank line between them */
	EC_TEXT_LINE,           /* one line: white space collapsed, a heading mark and
	                         * emphasis around the whole line taken off */
};
/* in with control characters, ANSI escapes, invisible and bidirectional characters
 * and HTML tags taken out and white space tidied (mode); *changed (may be NULL) says
 * whether anything but white space went. malloc'd, or NULL without memory. */
char *ec_text_sanitize(const char *in, int mode, int *changed);
/* Cut *sp to at most cap characters on a character boundary, ending in "…" (white
 * space before it trimmed). 0, or -1 without memory. */
int ec_text_cut(char **sp, size_t cap);

/* cache.c: the persona output cache, spool/cache/ab/<sha256>.json. */
/* The cache key (64 hex + NUL) for a description (normalized here: lowercased,
 * trimmed, white space collapsed) or an explicit cacheKey, a persona and a mode. */
void ec_cache_key(const char *description, const char *cache_key, const char *persona,
    const char *mode, char out[65]);
/*
 * Look an entry up. Returns the cached PersonaOutput (new reference) when the entry
 * exists with the same version and upstream hash; *expired tells whether ttl seconds
 * have passed since it was written (the caller decides: a miss normally, a fallback after failures). NULL on a
 * miss (no entry, other version or upstream, unreadable or corrupt entry).
 */
json_t *ec_cache_get(const char *spool, const char *key, const char *version,
    const char *upstream, long long ttl, long long now, int *expired);
/* Store an entry atomically (safe under concurrent writers: last rename wins). */
int ec_cache_put(const char *spool, const char *key, const char *version,
    const char *upstream, long long ttl, long long now, const json_t *output, ec_err *e);

/* sub.c: a tool's subcommands (git-style), as a table ending in { NULL }. */
typedef struct ec_sub {
	const char *name;
	const char *synopsis;   /* after "usage: PROG NAME "; "%s" in it is PROG again */
	const char *help;       /* what it does, and its own options */
} ec_sub;
/* The subcommand called name, or NULL. */
const ec_sub *ec_sub_find(const ec_sub *subs, const char *name);
/* The usage text: the synopsis of current (NULL: of every one); when full, then
 * current's help (or about) and tail (the options all share, the exit codes).
 * malloc'd; NULL without memory. */
char *ec_sub_usage(const ec_sub *subs, const ec_sub *current, int full, const char *about,
    const char *tail);
/* For main() only (err.c): the subcommand arg (argv[1], or NULL) names; for -h/--help
 * usage(0), for -V/--version the version, for none or an unknown one usage(2),
 * which must not return. */
const ec_sub *ec_sub_main(const ec_sub *subs, const char *arg, void (*usage)(int));

/* markup.c: outside text kept text in a document or a script. */
/* s with & < > " ' as entities: fit for HTML text and attribute values. */
void ec_html_put(ec_buf *b, const char *s);
/* s as Markdown text (CommonMark, GitHub's too): inline punctuation backslash-
 * escaped, block markers escaped where s or a line of it starts, a single LF a
 * hard line break, "@name" no mention. */
void ec_md_put(ec_buf *b, const char *s);
/* s as one sh word in single quotes (' written '\''). */
void ec_sh_quote(ec_buf *b, const char *s);
/* The same, but s as it is when no character of it is special to sh. */
void ec_sh_word(ec_buf *b, const char *s);

/* result.c: a finished epic (an EpicResponse), for the views a person reads. */
/*
 * Load the result arg names: a file (or "-", stdin), else a task id (its epic.json
 * in done/), else with arg NULL the most recently finished task in done/. Checked
 * against schemas/epic-response. name gets what was read, for messages. New
 * reference; NULL with e (EC_EXIT_REJECT: no such file or task, not finished, not
 * an EpicResponse; EC_EXIT_TEMP: I/O).
 */
json_t *ec_result_load(const char *spool, const char *arg, char *name, size_t cap, ec_err *e);
/* The recommendations in the order people act on them: blocking first, then by
 * priority (critical first), then by id. New reference (an array of the same
 * objects); NULL when memory ran out. */
json_t *ec_result_ordered(const json_t *result);
/* The recommendation of result with this id, or NULL. Borrowed. */
json_t *ec_result_rec(const json_t *result, const char *id);
/* A public https URL where the cited reference can be read (pipeline/
 * references.json, the longest matching prefix), or NULL. Borrowed. Only a URL
 * that any markup takes as it is (no quote, space, bracket, parenthesis, pipe or
 * angle bracket) is given: the views write it without escaping. */
const char *ec_reference_url(const char *ref);

/* task.c: one task directory through the pipeline (epic run, the watcher). */
typedef struct ec_task_opts {
	const char *spool;      /* the spool root */
	const char *config;     /* the config file, or NULL for the default */
	int jobs;               /* make -j */
	int timeout;            /* the workflow timeout, seconds */
	int progress;           /* print per-persona progress on stderr */
	int nowait;             /* do not wait for a task locked by another launcher */
	volatile int *stop;     /* set asynchronously (a signal): stop the run, keep it resumable */
	int launcher;   /* EC_LAUNCH_LOCAL forks make, EC_LAUNCH_SLURM a Slurm job (slurm.c) */
	char partition[72], account[72];        /* slurm: sbatch's; "" the cluster's default */
	long long mem_mb;       /* slurm: --mem in MiB (performance.memoryLimit); 0 none */
	int leave_jobs;         /* slurm: a stop leaves the job running (performance.slurm.onStop) */
} ec_task_opts;
enum { EC_LAUNCH_LOCAL = 0, EC_LAUNCH_SLURM = 1 };
/* The state ("active", "done", "failed", "deferred") of task id, its directory in
 * dir; NULL if there is none, or id is not a task id (ec_id_valid), or what is
 * there is not a real directory of the owner's (a symbolic link never is). */
const char *ec_task_find(const char *spool, const char *id, char *dir, size_t cap);
/* Create spool/active/ID holding request.EXT (built in tmp/, renamed in whole).
 * 0 created, 1 the task already exists (in any state), -1 error. */
int ec_task_create(const char *spool, const char *id, const char *ext, const void *buf,
    size_t len, ec_err *e);
/*
 * Run the task's pipeline under its lock and move it: to done/ on success, to
 * failed/ when its input was rejected; it stays in active/ (resumable) on a
 * temporary failure. A task in failed/ is moved back to active/ and retried.
 * Returns 0, EC_EXIT_REJECT or EC_EXIT_TEMP (e, which must not be NULL, says why);
 * dir gets the task's final path.
 */
int ec_task_run(const char *id, const ec_task_opts *o, char *dir, size_t cap, ec_err *e);
/* The same in steps, for a launcher running several tasks at once. */
typedef struct ec_task_job {
	char id[192];
	char dir[4096];         /* the task directory, updated as it moves */
	const char *state;      /* where it is: active, done, failed or deferred */
	int lock_fd;            /* held while the task runs */
	pid_t pid;              /* make, or epic-parse before it (parsing) */
	int pidfd;              /* readable when it exits; -1 without pidfd support */
	int status;             /* make's wait status */
	int parsing;            /* the launcher runs epic-parse before make (task.c) */
	int exited, timed_out, stopped, timeout;
	long long deadline;     /* the workflow timeout, epoch seconds */
	/* progress.c, with o->progress only: */
	off_t progress_off;     /* of checkpoints.jsonl, read up to here */
	json_t *progress_seen;  /* persona -> "running", "done" or "failed" */
	int progress_total;     /* personas in plan.json; 0 before it exists */
	int progress_drawn;     /* the status line is on the terminal */
	long long progress_t0, progress_last;   /* ec_mono_ms(): started, last drawn */
	int slurm, slurm_leave; /* slurm.c: pid is the submitter of a Slurm job (and onStop) */
	int slurm_fd;           /* what the submitter says (a pipe); -1 when closed */
	char slurm_job[32];     /* the job id, "" before sbatch said it */
	char slurm_end[96];     /* "end RC STATE EXITCODE" or "exit RC" (sbatch submitted nothing) */
	char slurm_line[128];   /* a line being read, slurm_len bytes of it */
	size_t slurm_len;
} ec_task_job;
/* Lock the task (waiting unless o->nowait), move it to active/ if it was failed or
 * deferred, start make. 0 started; -1 with e (EC_EXIT_TEMP: locked, I/O). */
int ec_task_start(const char *id, const ec_task_opts *o, ec_task_job *j, ec_err *e);
/* 1 when make has ended (or the workflow timeout stopped it), 0 while it runs. */
int ec_task_poll(ec_task_job *j, const ec_task_opts *o);
/* Stop the run now (TERM, grace, KILL to make's group): the task stays resumable. */
void ec_task_stop(ec_task_job *j);
/* How the ended run went, from make's status and the verdict a tool left
 * (verdict.c): 0, EC_EXIT_REJECT or EC_EXIT_TEMP (e says why). Moves nothing. */
int ec_task_verdict(ec_task_job *j, const ec_task_opts *o, ec_err *e);
/* Act on verdict rc: move the task to done/ (0) or failed/ (EC_EXIT_REJECT), or
 * leave it in active/ (temporary), and release the lock. A launcher that keeps a
 * record writes it between the two, so the record never misses a move. Returns rc,
 * or EC_EXIT_TEMP when the move to done/ failed. */
int ec_task_settle(ec_task_job *j, const ec_task_opts *o, int rc, ec_err *e);
/* Both: verdict, then settle. */
int ec_task_finish(ec_task_job *j, const ec_task_opts *o, ec_err *e);

/* progress.c: the task's progress as one line on stderr, rewritten in place:
 * "[3/6] security-specialist  2.1 s" (personas done of plan.json's, the one
 * running, the time so far), from the new lines of its checkpoints.jsonl; a retry
 * or a failure gets a line of its own. Call update as often as convenient (it
 * redraws at most every 100 ms); end clears the line and frees what update kept. */
void ec_progress_update(const char *spool, ec_task_job *j);
void ec_progress_end(ec_task_job *j);

/*
 * The retry state of a deferred task: attempts made, its submitter, and when the next
 * attempt is due (epoch ms), kept as the name and mtime of an empty file
 * STATE/ID/.retry.N.UID that is created once and then only renamed and re-timed, so a
 * full disk cannot reset it. Read: 0, or -1 when there is none. Write (to active/ID,
 * before the task moves to deferred/): 0 or -1 with e.
 */
int ec_task_retry_read(const char *spool, const char *state, const char *id, int *attempts,
    uid_t *uid, long long *due_ms);
int ec_task_retry_write(const char *spool, const char *id, int attempts, uid_t uid,
    long long due_ms, ec_err *e);

/* events.c: a task's event log, checkpoints.jsonl (see the file's header for the
 * policy on cut and malformed lines). */
#define EC_EVENT_LINE_MAX   4095            /* + nothing: one write(2) <= PIPE_BUF, newline included */
#define EC_EVENTS_MAX_BYTES (64u << 20)
typedef struct ec_event {
	json_t *j;              /* the line's object (owned by the ec_events) */
	const char *persona;    /* borrowed from j */
	const char *event;      /* borrowed from j */
	const char *time;       /* borrowed from j */
	long long ms;           /* time, milliseconds since the epoch */
} ec_event;
typedef struct ec_events {
	ec_event *v;
	size_t n;
	size_t skipped;         /* complete lines that were not events */
	int torn;               /* the last line had no newline (being written, or cut) */
	size_t end;             /* bytes up to the end of the last complete line */
} ec_events;
/* Is s a known event ("before", "after", ...)? An ErrorType of the seed's? */
int ec_event_name_valid(const char *s);
int ec_error_type_valid(const char *s);
/* Is j an event? 0, or -1 with why. */
int ec_event_check(const json_t *j, char *why, size_t cap);
/* The events of buf (name for messages); report(msg, arg), if not NULL, hears about
 * the first few lines skipped. 0, or -1 with e (out of memory). */
int ec_events_parse(const char *buf, size_t len, const char *name, ec_events *out,
    void (*report)(const char *msg, void *arg), void *arg, ec_err *e);
/* The same from the file path; a file that does not exist holds no event. */
int ec_events_read(const char *path, ec_events *out, void (*report)(const char *msg, void *arg),
    void *arg, ec_err *e);
void ec_events_free(ec_events *ev);
/* Append event ev (persona, event, ...) to DIR/checkpoints.jsonl with one write: its
 * time set to now, msg (may be NULL) as its message, cut so the line fits. */
int ec_event_append(const char *dir, json_t *ev, const char *msg, ec_err *e);

/* state.c: a task's WorkflowState and TaskStatus, derived from its files. */
typedef struct ec_planned {     /* one persona of the plan */
	char *stem;             /* "03-security-specialist" (owned) */
	const char *name;       /* points into stem, after "NN-" */
} ec_planned;
typedef struct ec_task_state {  /* a task directory, loaded */
	/* set by the caller before ec_state_load (kept by it and ec_state_free): who
	 * hears about a malformed file of the task; NULL: nobody */
	void (*report)(const char *msg, void *arg);
	void *arg;
	char dir[PATH_MAX];     /* as given, without trailing slashes: for messages */
	char real[PATH_MAX];    /* absolute */
	char id[161];
	const char *state;      /* active, done or failed: the directory it sits in */
	json_t *req;            /* epic-request.json, or NULL */
	char mode[16];          /* from the request, else plan.json's, or "" */
	ec_planned *plan;
	size_t nplan;
	int has_plan;           /* plan.json listed the personas */
	ec_events ev;           /* checkpoints.jsonl */
} ec_task_state;
/* Is dir a task directory (a directory holding a request, epic-request.json,
 * plan.json or personas/)? 0, or -1 with e (EC_EXIT_REJECT naming it, or TEMP). */
int ec_state_check_dir(const char *dir, ec_err *e);
/* Copy dir into out (PATH_MAX) without trailing slashes ("/" stays "/"). */
void ec_state_clean_dir(char *out, const char *dir);
/* scandir filter of personas/: NN-NAME.json, not a dot-file, .input.json or .raw.json. */
struct dirent;
int ec_state_output_file(const struct dirent *d);
/* Load what a state needs of task directory dir: where it is, its id, request, plan
 * and events; malformed files are reported (t->report) when warn is set. 0, or -1
 * with e; ec_state_free in both cases. */
int ec_state_load(ec_task_state *t, const char *dir, int warn, ec_err *e);
/* Read the task's checkpoints.jsonl again (it may have grown). 0 or -1 with e. */
int ec_state_read_events(ec_task_state *t, int warn, ec_err *e);
void ec_state_free(ec_task_state *t);
/* The task's WorkflowState (schemas/workflow-state), validated. New reference, or
 * NULL with e. */
json_t *ec_state_workflow(const ec_task_state *t, int warn, ec_err *e);
/* Its TaskStatus line, from the WorkflowState. New reference. */
json_t *ec_state_status(const ec_task_state *t, const json_t *wf);

/* proc.c: run a child as a filter (command personas, hooks). */
typedef struct ec_proc {
	char *const *argv;          /* execvp'd */
	const char *const *env;     /* "NAME=value" added to its environment; NULL-terminated */
	const char *input;          /* written to its stdin */
	size_t inlen;
	int timeout;                /* seconds; then its whole process group is killed */
	size_t out_cap;             /* stdout beyond this many bytes is a failure */
	int err_fd;                 /* its stderr, or -1 to inherit ours */
	long long mem_limit;        /* RLIMIT_AS bytes, 0 for none */
	long long cpu_limit;        /* RLIMIT_CPU seconds, 0 for none */
	/* results */
	char *out;                  /* its stdout, NUL-terminated, malloc'd (on success) */
	size_t outlen;
	int status;                 /* exit status, -signal, or -1 if it never ran to the end */
	int timed_out, too_big;
	char msg[256];              /* what went wrong */
} ec_proc;
/* Run p->argv. 0 when it exited 0 in time (p->out is the caller's to free); -1
 * otherwise, with p->msg and the result fields saying why. */
int ec_proc_run(ec_proc *p);
/* For main(): on SIGTERM, SIGINT or SIGHUP, kill the running child's process group
 * too, then die of the signal. */
void ec_proc_forward_signals(void);
/* Stop process group pid: TERM, up to grace_ms for pid to exit, then KILL; reaps pid
 * (its wait status in *st) and KILLs what is left of the group. */
void ec_proc_kill_group(pid_t pid, int *st, long long grace_ms);

/* hooks.c: the seed's plugin points, as run-parts directories of filters. */
/*
 * Run every executable in <hooks>/<stage>.d/ (hooks: $EPIC_HOOKS_DIR, else
 * <datadir>/hooks) in name order, each a filter: doc as JSON on stdin, the new doc as
 * JSON on stdout. Returns the final doc (a new reference; doc itself when there is no
 * hook, without starting a process), or NULL with e naming the hook and what it did
 * wrong. task_id and persona (may be NULL) are passed in the environment.
 */
json_t *ec_hooks_run(const char *stage, json_t *doc, const char *task_id, const char *persona,
    ec_err *e);

/* plan.c: which personas review a request, in which order, and how. */
typedef struct ec_plan_step {
	char name[72];
	int order, required, timeout;
	int enforced;           /* required and blocking because of enforceDevops */
	const char *kind;       /* rules | command | inline | skip */
	const char *skip;       /* why skipped, a keyword (excluded, disabled, unsupported-mode,
	                         * irrelevant) */
	int relevance;          /* auto selection: its score, -1 where not scored */
	char why[240];          /* auto selection: what it found to assess */
	const ec_persona *p;    /* its registration (borrowed), NULL for an inline custom persona */
	json_t *deps;           /* a custom persona's dependencies (borrowed), or NULL */
	char **reg_deps;        /* else the registration's (borrowed) */
	const char *id_prefix;  /* of the ids the normalizer assigns (borrowed), or NULL */
} ec_plan_step;
/* The steps for request, sorted by review order (*out is malloc'd, the caller frees
 * it). A clash of review orders is EC_EXIT_REJECT naming the JSON path. */
int ec_plan_compute(const ec_registry *reg, const json_t *cfg, const json_t *request,
    ec_plan_step **out, size_t *nout, ec_err *e);
/* Whether the request asks for auto selection (options.select "auto"). */
int ec_plan_auto(const json_t *request);
/* The sentence for a skip keyword ("excluded" -> "excluded by the request"). */
const char *ec_plan_skip_reason(const char *keyword);
/* The steps as plan.json (schemas/plan.schema.json). New reference. */
json_t *ec_plan_json(const ec_plan_step *v, size_t n, const json_t *request);
/* Steps back from a plan.json document (validated here); p looked up in reg when
 * reg is not NULL; deps and reg_deps are NULL. *out malloc'd. 0 or -1 with e. */
int ec_plan_from_json(const json_t *plan, const ec_registry *reg, ec_plan_step **out,
    size_t *nout, ec_err *e);
/* The plan of the request read from request_path: plan.json beside it when it is this
 * request's (a task's, as epic-parse made it), else ec_plan_compute. 0 or -1 with e. */
int ec_plan_load(const char *request_path, const ec_registry *reg, const json_t *cfg,
    const json_t *request, ec_plan_step **out, size_t *nout, ec_err *e);

/* term.c: text for a person at a terminal (epic-show, epic-diff). Colour escapes
 * are the caller's; these functions measure, cut and fold plain text. */
#define EC_TERM_MIN_WIDTH 40     /* narrower, the columns of a table would not fit */
#define EC_TERM_MAX_WIDTH 1000
/* Whether to colour what goes to fd: when "always" 1, "never" 0, "auto" (or NULL)
 * 1 only on a terminal with NO_COLOR unset or empty and TERM not "dumb"
 * (https://no-color.org); -1 when when is none of these. */
int ec_term_color(const char *when, int fd);
/* Columns of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else 80; clamped to
 * EC_TERM_MIN_WIDTH..EC_TERM_MAX_WIDTH. */
int ec_term_width(int fd);
/* Lines of the terminal on fd, or 0 when fd is not one. */
int ec_term_height(int fd);
/* Columns the first n bytes of UTF-8 s take (wide East Asian characters 2,
 * combining marks 0, no locale needed). */
size_t ec_term_cols(const char *s, size_t n);
/* s (outside text, may be NULL) as one line a terminal cannot be steered by: no
 * control character or escape sequence, no bidirectional override, white space
 * collapsed (ec_text_sanitize). malloc'd, or NULL without memory. */
char *ec_term_clean(const char *s);
/* Append s (clean, one line) cut to at most cols columns on a character boundary,
 * ending in an ellipsis when cut. Returns the columns appended. */
size_t ec_term_put_cut(ec_buf *b, const char *s, size_t cols);
/* Append s (clean, one line) folded at spaces to width columns, the first line
 * starting at column at, the others indented by indent spaces; a word longer than
 * a line is broken on a character boundary. Ends with a newline. Returns the lines. */
int ec_term_put_fold(ec_buf *b, const char *s, size_t at, size_t width, size_t indent);
/* The pager command: $EPIC_PAGER, else $PAGER, else "less"; NULL when that is
 * empty or "cat" (no pager). Borrowed. */
const char *ec_term_pager(void);
/* Print text on stdout, through the pager (sh -c, LESS=FRX and LV=-c unless set)
 * when use_pager, stdout is a terminal and text has more lines than it; straight
 * when the pager cannot be started. 0, or -1 with e (EC_EXIT_TEMP). */
int ec_term_page(const char *text, size_t len, int use_pager, ec_err *e);
/* The SGR parameters ("1;31") that colour a priority or risk level, critical to low
 * (an unknown level is low). */
const char *ec_term_level_sgr(const char *level);
/* Select graphic rendition code ("1", "31", "" resets) when color is on. */
void ec_term_sgr(ec_buf *b, int color, const char *code);

/* resultdiff.c: what changed between two results (epic-diff). */
/* The differences between results a and b (EpicResponses, named na and nb) as the
 * document epic-diff(1) describes: sides, recommendations added, removed and
 * changed, cost, risk and roadmap, the count of differences and whether they are
 * equal. New reference; NULL when memory ran out. */
json_t *ec_result_diff(const json_t *a, const char *na, const json_t *b, const char *nb);

/* render.c, render-md.c, render-html.c: a finished epic as one document for people
 * (epic render). The result is an EpicResponse as ec_result_load returns it; all of
 * its text is escaped for the format. The document (malloc'd, the caller frees), or
 * NULL with e (EC_EXIT_TEMP: out of memory). */
/* CommonMark, with GitHub-style tables. */
char *ec_render_md(const json_t *result, ec_err *e);
/* One self-contained HTML page: inline CSS, no script, printable, WCAG 2.2 AA. */
char *ec_render_html(const json_t *result, ec_err *e);

#endif
