/* The floor for any module that runs Python inside httpd: a content handler
 * that takes the GIL with its thread's own thread state, calls a Python
 * handler(req) with a bare request object (content_type,
 * set_content_length, write) and gives the GIL back.  No importer, no
 * reloading, no configuration, no sub-interpreter, no phases: what a full
 * module does per request on top of this is its own cost.
 *
 *     BenchPyFloorScript /path/hello.py    (defines handler(req))
 *
 * A benchmark reference point only, like mod_bench_hello.c. */
#include <Python.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_core.h"
#include "apr_strings.h"

#include <dlfcn.h>

static const char *script;
static PyObject *handler;
static __thread PyThreadState *tl_ts;

typedef struct {
    PyObject_HEAD
    request_rec *r;
} floor_req;

static PyObject *req_write(floor_req *self, PyObject *data)
{
    char *s;
    Py_ssize_t n;

    if (PyBytes_AsStringAndSize(data, &s, &n) < 0)
        return NULL;
    if (ap_rwrite(s, (int)n, self->r) < 0) {
        PyErr_SetString(PyExc_OSError, "write failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *req_set_content_length(floor_req *self, PyObject *n)
{
    long long v = PyLong_AsLongLong(n);

    if (v == -1 && PyErr_Occurred())
        return NULL;
    ap_set_content_length(self->r, (apr_off_t)v);
    Py_RETURN_NONE;
}

static int req_set_content_type(floor_req *self, PyObject *v, void *u)
{
    const char *s = v ? PyUnicode_AsUTF8(v) : NULL;

    if (!s)
        return -1;
    ap_set_content_type(self->r, apr_pstrdup(self->r->pool, s));
    return 0;
}

static PyMethodDef req_methods[] = {
    {"write", (PyCFunction)req_write, METH_O, NULL},
    {"set_content_length", (PyCFunction)req_set_content_length, METH_O, NULL},
    {NULL}
};

static PyGetSetDef req_getset[] = {
    {"content_type", NULL, (setter)req_set_content_type, NULL, NULL},
    {NULL}
};

static PyTypeObject floor_req_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "floor.request",
    .tp_basicsize = sizeof(floor_req),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = req_methods,
    .tp_getset = req_getset,
};

/* Start Python and define handler() from the script; with the GIL held. */
static int load_handler(server_rec *s)
{
    PyObject *code = NULL, *ns = NULL, *res = NULL;
    FILE *f = fopen(script, "r");
    char buf[8192];
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (PyType_Ready(&floor_req_type) == 0 && (ns = PyDict_New()) &&
        PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0 &&
        (code = Py_CompileString(buf, script, Py_file_input)) &&
        (res = PyEval_EvalCode(code, ns, ns)))
        handler = PyDict_GetItemString(ns, "handler");
    Py_XINCREF(handler);
    if (!handler)
        PyErr_Print();
    Py_XDECREF(code);
    Py_XDECREF(ns);
    Py_XDECREF(res);
    return handler ? 0 : -1;
}

static int floor_post_config(apr_pool_t *p, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    PyConfig config;
    Dl_info info;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    if (!script) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "BenchPyFloorScript is not set");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (Py_IsInitialized()) {
        /* A restart unloaded and reloaded this module (bench/restarts.py):
         * Python runs on, but this copy's handler and type are new.  The
         * old copy's type stays in object's subclass list, unmapped:
         * harmless here, nothing walks that list. */
        PyGILState_STATE g = PyGILState_Ensure();
        int rc = load_handler(s);

        PyGILState_Release(g);
        if (rc < 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "cannot load handler() from %s", script);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        return OK;
    }
    /* libpython stays mapped if httpd unloads this module on a restart */
    if (dladdr((void *)Py_InitializeFromConfig, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    if (PyStatus_Exception(Py_InitializeFromConfig(&config))) {
        PyConfig_Clear(&config);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    PyConfig_Clear(&config);
    if (load_handler(s) < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "cannot load handler() from %s", script);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    PyEval_SaveThread();
    return OK;
}

static void floor_child_init(apr_pool_t *p, server_rec *s)
{
    PyThreadState *ts = PyGILState_GetThisThreadState();

    PyEval_RestoreThread(ts);
    PyOS_AfterFork_Child();
    tl_ts = ts;
    PyEval_SaveThread();
}

static int floor_handler(request_rec *r)
{
    floor_req *req;
    PyObject *res = NULL;
    int rc = HTTP_INTERNAL_SERVER_ERROR;

    if (!r->handler || strcmp(r->handler, "bench-pyfloor"))
        return DECLINED;
    if (!tl_ts && !(tl_ts = PyThreadState_New(PyInterpreterState_Main())))
        return HTTP_INTERNAL_SERVER_ERROR;
    PyEval_RestoreThread(tl_ts);
    if ((req = PyObject_New(floor_req, &floor_req_type))) {
        req->r = r;
        res = PyObject_CallOneArg(handler, (PyObject *)req);
        req->r = NULL;
        Py_DECREF(req);
    }
    if (res && PyLong_Check(res))
        rc = (int)PyLong_AsLong(res);
    if (PyErr_Occurred())
        PyErr_Print();
    Py_XDECREF(res);
    PyEval_SaveThread();
    return rc;
}

static const char *set_script(cmd_parms *cmd, void *c, const char *path)
{
    script = path;
    return NULL;
}

static const command_rec floor_cmds[] = {
    AP_INIT_TAKE1("BenchPyFloorScript", set_script, NULL, RSRC_CONF,
                  "file defining handler(req)"),
    {NULL}
};

static void floor_hooks(apr_pool_t *p)
{
    ap_hook_post_config(floor_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(floor_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(floor_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(bench_pyfloor) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, floor_cmds, floor_hooks
};
