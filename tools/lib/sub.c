/*
 * sub.c - tools with subcommands (epic-audit, epic-cache, epic-key, epic-queue, git-style):
 * the table of subcommands, finding one by name, and the usage text made from the
 * table, so every such tool says its synopsis the same way.
 */
#include <string.h>

#include "ec.h"

const ec_sub *
ec_sub_find(const ec_sub *subs, const char *name)
{
	for (const ec_sub *s = subs; s->name; s++)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

char *
ec_sub_usage(const ec_sub *subs, const ec_sub *current, int full, const char *about,
    const char *tail)
{
	ec_buf b = { 0 };
	int first = 1;

	for (const ec_sub *s = subs; s->name; s++) {
		if (current && s != current)
			continue;
		ec_buf_printf(&b, "%s %s %s ", first ? "usage:" : "      ", ec_progname, s->name);
		/* A synopsis of several lines names the program again as "%s". */
		for (const char *p = s->synopsis; *p; p++)
			if (p[0] == '%' && p[1] == 's') {
				ec_buf_puts(&b, ec_progname);
				p++;
			} else
				ec_buf_putc(&b, *p);
		ec_buf_putc(&b, '\n');
		first = 0;
	}
	if (full) {
		ec_buf_printf(&b, "\n%s", current ? current->help : about);
		ec_buf_puts(&b, tail);
	}
	return ec_buf_take(&b);
}
