/*
 * registry.c - the persona registry: one registration file per persona.
 *
 * Adding a persona is dropping pipeline/personas/NAME.json; removing it is deleting
 * the file. EPIC_PERSONA_PATH (colon-separated) lists directories searched in order;
 * the first registration of a name wins, so a directory early on the path overrides
 * single personas (the parallel profile does exactly that). Everything wrong with a
 * registration is an error naming its file: schema, missing rule base, a duplicate
 * reviewOrder, an unknown dependency, a dependency cycle.
 */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ec.h"

#define REG_MAX_BYTES (256u << 10)

int
ec_mode_bit(const char *mode)
{
	if (!mode)
		return 0;
	if (!strcmp(mode, "mvp")) return EC_MODE_MVP;
	if (!strcmp(mode, "standard")) return EC_MODE_STANDARD;
	if (!strcmp(mode, "enterprise")) return EC_MODE_ENTERPRISE;
	return 0;
}

int
ec_persona_name_valid(const char *s)
{
	size_t n = 0;

	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return 0;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return n <= 63;
}

static char **
strv(const json_t *arr)
{
	size_t i, n = json_array_size(arr);
	char **v = calloc(n + 1, sizeof *v);
	json_t *x;

	if (!v)
		return NULL;
	json_array_foreach(arr, i, x)
		v[i] = strdup(json_string_value(x));
	return v;
}

static void
strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void
persona_free(ec_persona *p)
{
	free(p->name);
	strv_free(p->deps);
	free(p->version);
	free(p->rules_path);
	strv_free(p->command);
	free(p->fallback);
	free(p->fallback_rules);
	free(p->reg_path);
	json_decref(p->focus_areas);
	free(p->id_prefix);
	free(p->area);
	free(p->gap_priority);
	free(p->gap_advice);
}

const ec_persona *
ec_registry_find(const ec_registry *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0)
			return &r->v[i];
	return NULL;
}

void
ec_registry_free(ec_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		persona_free(&r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/*
 * realpath(path), malloc'd, or NULL. Every registration and rule base of a
 * directory shares its directory: that is resolved once per process (a readlink per
 * component of it, for each of a dozen files, in every tool of a task), and only a
 * file that is itself a symbolic link is resolved in full.
 */
static char *
canonical(const char *path)
{
	static struct { char *dir, *real; } seen[4];
	static size_t next;
	const char *slash = strrchr(path, '/');
	char *dir, *out;
	struct stat st;
	size_t i;

	if (!slash || !slash[1] || !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..") ||
	    lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
		return realpath(path, NULL);
	if (!(dir = strndup(path, (size_t)(slash - path) + (slash == path))))
		return NULL;
	for (i = 0; i < sizeof seen / sizeof *seen && !(seen[i].dir && !strcmp(seen[i].dir, dir)); i++)
		;
	if (i == sizeof seen / sizeof *seen) {
		char *real = realpath(dir, NULL);
		if (!real) {
			free(dir);
			return NULL;
		}
		i = next++ % (sizeof seen / sizeof *seen);
		free(seen[i].dir);
		free(seen[i].real);
		seen[i].dir = dir;
		seen[i].real = real;
	} else
		free(dir);
	if ((out = malloc(strlen(seen[i].real) + strlen(slash) + 1)))
		sprintf(out, "%s%s", strcmp(seen[i].real, "/") ? seen[i].real : "", slash);
	return out;
}

/* Parse one registration file into p. */
static int
load_one(const char *path, ec_persona *p, ec_err *e)
{
	size_t len, i;
	char *buf = ec_read_file(path, REG_MAX_BYTES, &len, e), want[PATH_MAX];
	json_t *j = buf ? ec_json_loadb(buf, len, path, e) : NULL, *x;
	const char *base = strrchr(path, '/');
	int bad;

	if (!j) {
		free(buf);
		return -1;
	}
	/* Every tool of a task reads the registry: checked once per content. */
	bad = ec_schema_validate_kept("persona-registration", j, buf, len, NULL, e) < 0;
	free(buf);
	if (bad) {
		ec_err_prefix(e, "%s", path);
		json_decref(j);
		return -1;
	}
	base = base ? base + 1 : path;
	snprintf(want, sizeof want, "%s.json", json_string_value(json_object_get(j, "name")));
	if (strcmp(want, base) != 0) {
		json_decref(j);
		return ec_fail(e, EC_EXIT_REJECT, "%s: $.name: expected the file's name, '%.*s'", path,
		    (int)(strlen(base) - 5), base);
	}
	memset(p, 0, sizeof *p);
	p->name = strdup(json_string_value(json_object_get(j, "name")));
	p->review_order = (int)json_integer_value(json_object_get(j, "reviewOrder"));
	p->required = json_is_true(json_object_get(j, "required"));
	p->timeout = (int)ec_json_get_int(j, "timeout", 300);
	p->deps = strv(json_object_get(j, "dependencies"));
	json_array_foreach(json_object_get(j, "supportedModes"), i, x)
		p->modes |= ec_mode_bit(json_string_value(x));
	if (!json_object_get(j, "supportedModes"))
		p->modes = EC_MODE_MVP | EC_MODE_STANDARD | EC_MODE_ENTERPRISE;
	p->version = strdup(ec_json_get_str(j, "version", "0"));
	/* Absolute: plan.mk names it as a prerequisite from inside the task directory. */
	if (!(p->reg_path = canonical(path)))
		p->reg_path = strdup(path);
	p->focus_areas = json_incref(json_object_get(j, "focusAreas"));
	if (!p->focus_areas)
		p->focus_areas = json_array();
	if ((x = json_object_get(j, "fallback")))
		p->fallback = strdup(json_string_value(x));
	p->enforce_devops = json_is_true(json_object_get(j, "enforceDevops"));
	if ((x = json_object_get(j, "idPrefix")))
		p->id_prefix = strdup(json_string_value(x));
	if ((x = json_object_get(j, "area")))
		p->area = strdup(json_string_value(x));
	p->gap_priority = strdup(ec_json_get_str(j, "gapPriority", "medium"));
	if ((x = json_object_get(j, "gapAdvice")))
		p->gap_advice = strdup(json_string_value(x));
	if ((x = json_object_get(j, "command"))) {
		p->command = strv(x);
		/* A relative program path is relative to the registration, as a rule base's
		 * is; resolved here once, for every tool that runs or checks it. */
		if (p->command && p->command[0] && strchr(p->command[0], '/') && p->command[0][0] != '/') {
			const char *slash = strrchr(p->reg_path, '/');
			char abs[PATH_MAX * 2];
			snprintf(abs, sizeof abs, "%.*s/%s", slash ? (int)(slash - p->reg_path) : 1,
			    slash ? p->reg_path : ".", p->command[0]);
			free(p->command[0]);
			p->command[0] = strdup(abs);
		}
	}
	if ((x = json_object_get(j, "rules"))) {
		char rp[PATH_MAX * 2], dir[PATH_MAX];
		const char *rel = json_string_value(x);
		snprintf(dir, sizeof dir, "%s", path);
		*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = '\0';
		if (rel[0] == '/')
			snprintf(rp, sizeof rp, "%s", rel);
		else
			snprintf(rp, sizeof rp, "%s/%s", *dir ? dir : ".", rel);
		if (!(p->rules_path = canonical(rp))) {
			json_decref(j);
			persona_free(p);
			return ec_fail(e, EC_EXIT_REJECT, "%s: $.rules: rule base '%s' not found", path, rp);
		}
	}
	json_decref(j);
	return 0;
}

static int
by_order(const void *a, const void *b)
{
	const ec_persona *x = a, *y = b;
	return x->review_order - y->review_order;
}

static int
filter_json(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

/* Depth-first search for a cycle through the dependency graph from i. */
static int
cyclic(const ec_registry *r, size_t i, char *state)
{
	state[i] = 1;
	for (char **d = r->v[i].deps; d && *d; d++) {
		const ec_persona *q = ec_registry_find(r, *d);
		size_t j = (size_t)(q - r->v);
		if (state[j] == 1 || (state[j] == 0 && cyclic(r, j, state)))
			return 1;
	}
	state[i] = 2;
	return 0;
}

static int
check(ec_registry *r, ec_err *e)
{
	char *state;

	for (size_t i = 0; i < r->n; i++) {
		if (i > 0 && r->v[i].review_order == r->v[i - 1].review_order)
			return ec_fail(e, EC_EXIT_REJECT, "%s: $.reviewOrder: %d is already used by '%s'",
			    r->v[i].reg_path, r->v[i].review_order, r->v[i - 1].name);
		for (char **d = r->v[i].deps; d && *d; d++)
			if (!ec_registry_find(r, *d))
				return ec_fail(e, EC_EXIT_REJECT,
				    "%s: $.dependencies: unknown persona '%s'", r->v[i].reg_path, *d);
		if (r->v[i].fallback && !ec_registry_find(r, r->v[i].fallback))
			return ec_fail(e, EC_EXIT_REJECT, "%s: $.fallback: unknown persona '%s'",
			    r->v[i].reg_path, r->v[i].fallback);
	}
	if (!(state = calloc(r->n ? r->n : 1, 1)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	for (size_t i = 0; i < r->n; i++)
		if (state[i] == 0 && cyclic(r, i, state)) {
			free(state);
			return ec_fail(e, EC_EXIT_REJECT, "%s: $.dependencies: dependency cycle through '%s'",
			    r->v[i].reg_path, r->v[i].name);
		}
	free(state);
	return 0;
}

int
ec_registry_configure(ec_registry *r, const json_t *cfg, ec_err *e)
{
	json_t *personas = json_object_get(cfg, "personas"), *pc, *x;
	const char *name;

	json_object_foreach(personas, name, pc) {
		ec_persona *p = (ec_persona *)ec_registry_find(r, name);
		if (!p)
			return ec_fail(e, EC_EXIT_REJECT, "config: $.personas.%s: no persona '%s' is registered",
			    name, name);
		if (json_is_boolean(x = json_object_get(pc, "required")))
			p->required = json_is_true(x);
		if (json_is_integer(x = json_object_get(pc, "timeout")))
			p->timeout = (int)json_integer_value(x);
		if (json_is_array(x = json_object_get(pc, "dependencies"))) {
			strv_free(p->deps);
			p->deps = strv(x);
		}
		/* An agent profile: the persona asks an LLM through persona-llm (the one
		 * beside this program when there is one), and its own rules answer when
		 * the agent fails. */
		if (json_is_object(json_object_get(pc, "llm")) && p->rules_path) {
			char prog[PATH_MAX];
			char **cmd = calloc(2, sizeof *cmd);
			snprintf(prog, sizeof prog, "%s/persona-llm", ec_bindir());
			if (!cmd || !(cmd[0] = strdup(access(prog, X_OK) == 0 ? prog : "persona-llm"))) {
				free(cmd);
				return ec_fail(e, EC_EXIT_TEMP, "out of memory");
			}
			strv_free(p->command);
			p->command = cmd;
			free(p->fallback_rules);
			p->fallback_rules = p->rules_path;
			p->rules_path = NULL;
		}
	}
	return check(r, e);
}

int
ec_registry_load(ec_registry *r, ec_err *e)
{
	const char *env = getenv("EPIC_PERSONA_PATH");
	char dflt[PATH_MAX], *path, *dir, *save = NULL;
	size_t cap = 0;

	r->v = NULL;
	r->n = 0;
	snprintf(dflt, sizeof dflt, "%s/personas", ec_datadir());
	if (!(path = strdup(env && *env ? env : dflt)))
		return ec_fail(e, EC_EXIT_TEMP, "out of memory");
	for (dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		struct dirent **names;
		int n = scandir(dir, &names, filter_json, alphasort);
		if (n < 0)
			continue;   /* a missing directory on the path is not an error */
		for (int k = 0; k < n; k++) {
			char file[PATH_MAX], *name = ec_basename_noext(names[k]->d_name);
			int skip = name && ec_registry_find(r, name) != NULL;
			free(name);
			snprintf(file, sizeof file, "%s/%s", dir, names[k]->d_name);
			if (!skip && r->n == cap) {
				ec_persona *nv = realloc(r->v, (cap = cap ? cap * 2 : 8) * sizeof *nv);
				if (!nv)
					skip = -1;
				else
					r->v = nv;
			}
			if (skip == 0 && load_one(file, &r->v[r->n], e) == 0)
				r->n++;
			else if (skip == 0 || skip < 0) {
				for (int m = k; m < n; m++)
					free(names[m]);
				free(names);
				free(path);
				ec_registry_free(r);
				return skip < 0 ? ec_fail(e, EC_EXIT_TEMP, "out of memory") : -1;
			}
			free(names[k]);
		}
		free(names);
	}
	free(path);
	if (r->n == 0) {
		ec_registry_free(r);
		return ec_fail(e, EC_EXIT_REJECT, "no persona registrations found on '%s'",
		    env && *env ? env : dflt);
	}
	qsort(r->v, r->n, sizeof *r->v, by_order);
	if (check(r, e) < 0) {
		ec_registry_free(r);
		return -1;
	}
	return 0;
}

/* Can persona p run? Its rule base loads, or its program is there to execute (as
 * `epic personas` judges it; `persona-run --health` asks the program itself). */
int
ec_persona_available(const ec_persona *p)
{
	const char *env;
	char *copy, *dir, *save = NULL;
	int ok = 0;

	if (p->rules_path) {
		ec_err e;
		json_t *rb = ec_rules_load(p->rules_path, &e);
		json_decref(rb);
		return rb != NULL;
	}
	if (!p->command || !p->command[0])
		return 0;
	if (strchr(p->command[0], '/'))
		return access(p->command[0], X_OK) == 0;
	env = getenv("PATH");
	if (!(copy = strdup(env ? env : "/usr/bin:/bin")))
		return 0;
	for (dir = strtok_r(copy, ":", &save); dir && !ok; dir = strtok_r(NULL, ":", &save)) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, p->command[0]);
		ok = access(path, X_OK) == 0;
	}
	free(copy);
	return ok;
}
