/* A handler's exception: its traceback into httpd's error log, and, with
 * PythonDebug On, into the response. */
#include "httpd/mp_httpd.h"

APLOG_USE_MODULE(python);

/* The PythonDebug page stops growing past this size; the log has it all. */
#define MP_DEBUG_PAGE_MAX (256 * 1024)
#define MP_DEBUG_PAGE_TAIL 128   /* kept for the note and "</pre>" */

/* The page for the client, built line by line and joined once: each line
 * escaped once, never the page copied again for the next line. */
typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *parts;   /* escaped pieces, const char * */
    apr_size_t room;             /* bytes left for traceback lines */
    apr_size_t cut;              /* lines not shown (whole or in part) */
} mp_debug_page;

/* What ap_escape_html() makes of byte c. */
static apr_size_t escaped_len(char c)
{
    switch (c) {
    case '<': case '>': return 4;
    case '&': return 5;
    case '"': return 6;
    default: return 1;
    }
}

/* Add line s[0, len) escaped, or, once the page is full, as much of it as
 * fits (whole UTF-8 characters) and count it and what follows as cut. */
static void page_add(mp_debug_page *pg, const char *s, apr_size_t len)
{
    apr_size_t n, out = 0;

    if (pg->cut) {
        pg->cut++;
        return;
    }
    for (n = 0; n < len && out + escaped_len(s[n]) <= pg->room; n++)
        out += escaped_len(s[n]);
    if (n < len) {
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        pg->cut = 1;
    }
    if (n) {
        const char *e = ap_escape_html(pg->pool, apr_pstrmemdup(pg->pool, s, n));
        APR_ARRAY_PUSH(pg->parts, const char *) = e;
        pg->room -= strlen(e);
    }
}

/* The error page for the client: the traceback, HTML-escaped, at most
 * about MP_DEBUG_PAGE_MAX bytes.  Lines are counted as the log shows them. */
static const char *debug_page(request_rec *r, const char *prefix, PyObject *lines)
{
    mp_debug_page pg = {r->pool, apr_array_make(r->pool, 64, sizeof(const char *)), 0, 0};
    const char *head = apr_psprintf(r->pool, "<pre>\nMod_python error: \"%s\"\n\n",
                                     ap_escape_html(r->pool, prefix));
    apr_size_t used = strlen(head) + MP_DEBUG_PAGE_TAIL;

    APR_ARRAY_PUSH(pg.parts, const char *) = head;
    pg.room = used < MP_DEBUG_PAGE_MAX ? MP_DEBUG_PAGE_MAX - used : 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
        const char *t = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i)), *nl;
        for (; t && *t; t = nl) {
            nl = strchr(t, '\n');
            nl = nl ? nl + 1 : t + strlen(t);
            page_add(&pg, t, (apr_size_t)(nl - t));
        }
    }
    if (pg.cut)
        APR_ARRAY_PUSH(pg.parts, const char *) = apr_psprintf(r->pool,
            "\n... traceback cut: %" APR_SIZE_T_FMT " more lines, see the error log\n",
            pg.cut);
    APR_ARRAY_PUSH(pg.parts, const char *) = "</pre>\n";
    PyErr_Clear();
    return apr_array_pstrcat(r->pool, pg.parts, 0);
}

int mp_report_handler_error(request_rec *r, const mp_dir_config *c, mp_phase phase,
                            const mp_handler *h)
{
    const char *prefix = apr_psprintf(r->pool, "%s %s", mp_phases[phase].directive,
                                      h->spec);
    PyObject *lines;
    const char *body = NULL;
    mp_interp *in;

    mp_interp_refused(mp_interp_current(), r->server);   /* auto: for the next */
    lines = mp_traceback_lines();
    mp_log_traceback(MPLOG_HANDLER_ERROR, r, NULL, prefix, lines);
    if (c->debug > 0 && phase != MP_LOG && phase != MP_CLEANUP)
        body = debug_page(r, prefix, lines);
    PyErr_Clear();
    Py_XDECREF(lines);
    if (!body)
        return HTTP_INTERNAL_SERVER_ERROR;
    r->status = HTTP_INTERNAL_SERVER_ERROR;
    ap_set_content_type(r, "text/html");
    in = mp_interp_suspend();
    ap_rputs(body, r);
    mp_interp_resume(in);
    return DONE;
}

const char *mp_error_page(request_rec *r, const char *prefix, PyObject *lines)
{
    return debug_page(r, prefix, lines);
}
