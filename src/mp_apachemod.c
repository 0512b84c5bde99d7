/* The `_apache` built-in module, one instance per interpreter (created by
 * mp_interp.c, which also binds the importer's functions into it).
 * mod_python/apache.py re-exports it. */
#include "mod_python.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_main.h"

static PyObject *ap_log_error_py(PyObject *m, PyObject *args)
{
    mp_context *ctx = mp_context_current();
    return mp_log_error(ctx ? ctx->s : mp_main_server, NULL, NULL, args);
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

PyObject *mp_apachemod_create(void)
{
    PyObject *m = PyModule_Create(&apmod_def);

    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "table", (PyObject *)&mp_table_type) < 0 ||
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
