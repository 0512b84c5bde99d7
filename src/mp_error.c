/* Python exceptions into httpd's error log, and, for a handler with
 * PythonDebug On, into the response. */
#include "mod_python.h"
#include "mp_interp.h"

APLOG_USE_MODULE(python);

/* The pending exception as traceback lines (a new list), and cleared. */
static PyObject *fetch_traceback(void)
{
    PyObject *type, *value, *tb, *mod, *lines = NULL;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if ((mod = PyImport_ImportModule("traceback")))
        lines = PyObject_CallMethod(mod, "format_exception", "OOO", type,
                                    value ? value : Py_None, tb ? tb : Py_None);
    if (!lines) {
        PyErr_Clear();
        lines = Py_BuildValue("[s]", "(traceback unavailable)");
    }
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return lines;
}

static void log_lines(request_rec *r, server_rec *s, const char *prefix,
                      PyObject *lines)
{
    for (Py_ssize_t i = 0; lines && i < PyList_Size(lines); i++) {
        const char *text = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));
        const char *nl;
        for (; text && *text; text = *nl ? nl + 1 : nl) {
            nl = strchr(text, '\n');
            if (!nl)
                nl = text + strlen(text);
            if (r)
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s: %.*s", prefix,
                              (int)(nl - text), text);
            else
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s: %.*s", prefix,
                             (int)(nl - text), text);
        }
    }
    PyErr_Clear();
}

void mp_log_exception(request_rec *r, server_rec *s, const char *prefix)
{
    PyObject *lines = fetch_traceback();

    log_lines(r, s, prefix, lines);
    Py_XDECREF(lines);
}

int mp_report_handler_error(request_rec *r, const mp_dir_config *c, mp_phase phase,
                            const mp_handler *h)
{
    const char *prefix = apr_psprintf(r->pool, "%s %s", mp_phases[phase].directive,
                                      h->spec);
    PyObject *lines = fetch_traceback();
    const char *body = NULL;
    mp_interp *in;

    log_lines(r, NULL, prefix, lines);
    if (c->debug > 0 && phase != MP_LOG && phase != MP_CLEANUP) {
        body = apr_psprintf(r->pool, "<pre>\nMod_python error: \"%s\"\n\n",
                            ap_escape_html(r->pool, prefix));
        for (Py_ssize_t i = 0; lines && i < PyList_Size(lines); i++) {
            const char *t = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));
            if (t)
                body = apr_pstrcat(r->pool, body, ap_escape_html(r->pool, t), NULL);
        }
        body = apr_pstrcat(r->pool, body, "</pre>\n", NULL);
    }
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
