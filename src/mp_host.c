/* The importer's host inside httpd: "the configuration in force" is the
 * request's per-directory configuration while a request runs Python, and
 * the server's otherwise (PythonImport, module scope at child start). */
#include "mod_python.h"
#include "mp_importer.h"
#include "mp_interp.h"
#include "mp_tls.h"

APLOG_USE_MODULE(python);

static MP_THREAD_LOCAL mp_context *tl_ctx;

server_rec *mp_main_server;

void mp_context_push(mp_context *ctx)
{
    ctx->prev = tl_ctx;
    tl_ctx = ctx;
}

void mp_context_pop(mp_context *ctx)
{
    tl_ctx = ctx->prev;
}

mp_context *mp_context_current(void)
{
    return tl_ctx;
}

static const mp_dir_config *conf_in_force(void)
{
    if (tl_ctx && tl_ctx->r)
        return mp_dir_conf(tl_ctx->r);
    return mp_srv_conf(tl_ctx ? tl_ctx->s : mp_main_server)->conf;
}

static int host_autoreload(void *data)
{
    return conf_in_force()->autoreload != 0;  /* default On */
}

static int host_logging(void *data)
{
    const mp_dir_config *c = conf_in_force();
    return c->debug > 0 || mp_option_flag(c->options, "mod_python.importer.log") == 1;
}

/* PythonOption mod_python.importer.path: a Python list expression,
 * evaluated once per distinct string per interpreter. */
static PyObject *host_search_path(void *data)
{
    const char *expr = conf_in_force()->importer_path;
    mp_interp *in;
    PyObject *key, *val;

    if (!expr || !*expr || !(in = mp_interp_current()))
        return NULL;
    if (!(key = PyUnicode_FromString(expr)))
        return NULL;
    val = PyDict_GetItemWithError(in->importer_paths, key);
    if (val) {
        Py_INCREF(val);
    } else if (!PyErr_Occurred()) {
        val = PyRun_String(expr, Py_eval_input, PyModule_GetDict(in->apache),
                           PyModule_GetDict(in->apache));
        if (val && !PyList_Check(val)) {
            PyErr_Format(PyExc_TypeError,
                         "PythonOption mod_python.importer.path must evaluate "
                         "to a list, not %s", Py_TYPE(val)->tp_name);
            Py_CLEAR(val);
        }
        if (val && PyDict_SetItem(in->importer_paths, key, val) < 0)
            Py_CLEAR(val);
    }
    Py_DECREF(key);
    return val;
}

static const char *host_handler_dir(void *data)
{
    return tl_ctx ? tl_ctx->handler_dir : NULL;
}

static mp_imp_request *host_request(void *data)
{
    return tl_ctx && tl_ctx->req ? mp_request_importer_state(tl_ctx->req) : NULL;
}

/* One log record per line: traceback text arrives with embedded newlines. */
static void host_log(void *data, const char *msg)
{
    server_rec *s = tl_ctx ? tl_ctx->s : mp_main_server;
    const char *nl;

    for (; *msg; msg = *nl ? nl + 1 : nl) {
        nl = strchr(msg, '\n');
        if (!nl)
            nl = msg + strlen(msg);
        if (nl > msg)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "%.*s", (int)(nl - msg), msg);
    }
}

const mp_importer_host mp_httpd_host = {
    NULL, host_autoreload, host_logging, host_search_path, host_handler_dir,
    host_request, host_log,
};
