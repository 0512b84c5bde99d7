/* The `_apache` built-in module, one instance per interpreter, with the
 * importer's entry points bound in; mod_python/apache.py re-exports it.
 * Also what every object type shares: log_error(), readying the types. */
#include "objects/mp_objects.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_main.h"

APLOG_USE_MODULE(python);

PyObject *mp_log_error(server_rec *s, const request_rec *r, const conn_rec *c,
                       PyObject *args)
{
    const char *msg;
    int level = APLOG_ERR;
    PyObject *srv = NULL;

    if (!PyArg_ParseTuple(args, "s|iO:log_error", &msg, &level, &srv))
        return NULL;
    if (level <= 0 || level > APLOG_TRACE8)  /* 3.5: level 0 means ERR */
        level = APLOG_ERR;
    if (srv && srv != Py_None) {
        if (!PyObject_TypeCheck(srv, &mp_server_type)) {
            PyErr_SetString(PyExc_TypeError, "log_error: server must be a server object");
            return NULL;
        }
        s = mp_server_rec(srv);
    }
    Py_BEGIN_ALLOW_THREADS
    if (r)
        ap_log_rerror(APLOG_MARK, level, 0, r, "%s", msg);
    else if (c)
        ap_log_cerror(APLOG_MARK, level, 0, c, "%s", msg);
    else
        ap_log_error(APLOG_MARK, level, 0, s, "%s", msg);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

int mp_types_ready(void)
{
    PyTypeObject *types[] = { &mp_table_type, &mp_request_type, &mp_server_type,
                              &mp_conn_type };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (PyType_Ready(types[i]) < 0)
            return -1;
    return 0;
}

static PyObject *ap_log_error_py(PyObject *m, PyObject *args)
{
    mp_context *ctx = mp_context_current();
    return mp_log_error(ctx ? ctx->s : ap_server_conf, NULL, NULL, args);
}

static PyObject *ap_mpm_query_py(PyObject *m, PyObject *arg)
{
    int code = (int)PyLong_AsLong(arg), result = 0;

    if (code == -1 && PyErr_Occurred())
        return NULL;
    if (ap_mpm_query(code, &result) != APR_SUCCESS) {
        PyErr_Format(PyExc_ValueError, "mpm_query: unknown query %d", code);
        return NULL;
    }
    return PyLong_FromLong(result);
}

static PyObject *ap_exists_config_define_py(PyObject *m, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    return name ? PyBool_FromLong(ap_exists_config_define(name)) : NULL;
}

static PyObject *ap_server_root_py(PyObject *m, PyObject *u)
{
    return mp_str_from_c(ap_server_root);
}

static PyObject *ap_mpm_name_py(PyObject *m, PyObject *u)
{
    return mp_str_from_c(ap_show_mpm());
}

static PyMethodDef apmod_methods[] = {
    {"log_error", ap_log_error_py, METH_VARARGS, "log_error(msg[, level[, server]])"},
    {"mpm_query", ap_mpm_query_py, METH_O, "mpm_query(AP_MPMQ_*) -> int"},
    {"exists_config_define", ap_exists_config_define_py, METH_O,
     "was -D NAME given to httpd"},
    {"server_root", ap_server_root_py, METH_NOARGS, "httpd's ServerRoot"},
    {"mpm_name", ap_mpm_name_py, METH_NOARGS, "the MPM's name: prefork, worker, event"},
    {NULL}
};

static struct PyModuleDef apmod_def = {
    PyModuleDef_HEAD_INIT, "_apache", "mod_python's C side", -1, apmod_methods,
};

/* Give `_apache` the importer's entry points. */
static int bind_importer(PyObject *apmod, PyObject *importer)
{
    static const char *const names[][2] = {
        {"import_module", "import_module"}, {"freeze_modules", "freeze"},
        {"module_cache", "modules"}, {"module_tree", "tree"},
    };

    if (PyModule_AddObjectRef(apmod, "importer", importer) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        PyObject *m = PyObject_GetAttrString(importer, names[i][1]);
        if (!m || PyModule_AddObject(apmod, names[i][0], m) < 0) {
            Py_XDECREF(m);
            return -1;
        }
    }
    return 0;
}

PyObject *mp_apachemod_create(PyObject *importer)
{
    PyObject *m = PyModule_Create(&apmod_def);

    if (!m)
        return NULL;
    if (bind_importer(m, importer) < 0 ||
        PyModule_AddObjectRef(m, "table", (PyObject *)&mp_table_type) < 0 ||
        PyModule_AddObjectRef(m, "request", (PyObject *)&mp_request_type) < 0 ||
        PyModule_AddIntConstant(m, "MODULE_MAGIC_NUMBER_MAJOR", MODULE_MAGIC_NUMBER_MAJOR) < 0 ||
        PyModule_AddIntConstant(m, "MODULE_MAGIC_NUMBER_MINOR", MODULE_MAGIC_NUMBER_MINOR) < 0 ||
        PyModule_AddIntConstant(m, "AP_CONN_UNKNOWN", AP_CONN_UNKNOWN) < 0 ||
        PyModule_AddIntConstant(m, "AP_CONN_CLOSE", AP_CONN_CLOSE) < 0 ||
        PyModule_AddIntConstant(m, "AP_CONN_KEEPALIVE", AP_CONN_KEEPALIVE) < 0 ||
        PyModule_AddStringConstant(m, "version", MP_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
