/* fuzz_result - a result (an EpicResponse) named on a command line, as the views
 * read it: checked against the schema as ec_result_load does, then rendered in
 * both formats, exported in every format and compared with itself. A result is
 * outside input (a file anyone may have edited). */
#include "fuzz.h"
#include "export.h"

FUZZ_SETUP_ONLY()

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	json_t *r = ec_json_loadb((const char *)data, size, "fuzz", NULL), *d;
	char *md, *html;
	ec_buf b = { 0 }, s = { 0 }, j = { 0 };
	ec_export x;
	ec_err e;

	if (!r || ec_schema_validate("epic-response", r, NULL, NULL) < 0) {
		json_decref(r);
		return 0;
	}
	md = ec_render_md(r, &e);
	html = ec_render_html(r, &e);
	if (!md || !html)
		abort();
	/* Whatever the result says, the page has no element of its making. */
	if (strstr(html, "<script") || strstr(html, "href=\"javascript"))
		abort();
	free(md);
	free(html);
	if (ec_export_open(&x, r, &e) < 0)
		abort();
	if (ec_export_csv(&x, &b) < 0 || ec_export_jira(&x, &b) < 0 || ec_export_azure(&x, &b) < 0 ||
	    ec_export_github(&x, &s, &j) < 0)
		abort();
	ec_export_close(&x);
	free(ec_buf_take(&b));
	free(ec_buf_take(&s));
	free(ec_buf_take(&j));
	/* A result compared with itself is equal. */
	d = ec_result_diff(r, "a", r, "b");
	if (!d || !json_is_true(json_object_get(d, "equal")))
		abort();
	json_decref(d);
	json_decref(r);
	return 0;
}
