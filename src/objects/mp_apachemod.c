/* The `_apache` built-in module, one instance per interpreter (multi-phase
 * initialisation): its state is the interpreter's mp_pystate, its exec
 * slot makes the object types (heap types) for that interpreter, and the
 * importer's entry points are bound in.  mod_python/apache.py re-exports
 * it.  Also log_error(), which every object shares. */
#include "objects/mp_objects.h"
#include "objects/mp_hlist.h"
#include "objects/mp_apachefn.h"
#include "objects/mp_process.h"
#include "objects/mp_pspfn.h"

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
        if (!(s = mp_server_rec(srv))) {
            PyErr_SetString(PyExc_TypeError, "log_error: server must be a server object");
            return NULL;
        }
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
    MP_APACHEFN_METHODS
    MP_APACHEMOD_PROCESS_METHODS
    MP_PSPFN_METHODS
    {NULL}
};

static int apmod_exec(PyObject *m);

static PyModuleDef_Slot apmod_slots[] = {
    {Py_mod_exec, apmod_exec},
#if PY_VERSION_HEX >= 0x030C0000
    /* Everything is in the module's state and heap types, and no C static
     * holds a Python object: it loads in interpreters with their own GIL. */
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL}
};

static int apmod_traverse(PyObject *m, visitproc visit, void *arg)
{
    return mp_pystate_traverse(PyModule_GetState(m), visit, arg);
}

static int apmod_clear(PyObject *m)
{
    mp_pystate_clear(PyModule_GetState(m));
    return 0;
}

static struct PyModuleDef apmod_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_apache",
    .m_doc = "mod_python's C side",
    .m_size = sizeof(mp_pystate),
    .m_methods = apmod_methods,
    .m_slots = apmod_slots,
    .m_traverse = apmod_traverse,
    .m_clear = apmod_clear,
};

mp_pystate *mp_pystate_of_type(PyTypeObject *type)
{
    /* Never NULL for the types the module made, or their subclasses. */
    return PyModule_GetState(PyType_GetModuleByDef(type, &apmod_def));
}

/* The object types of this interpreter, and the constants. */
static int apmod_exec(PyObject *m)
{
    mp_pystate *st = PyModule_GetState(m);

    if (!(st->table_type = mp_table_type_new(m)) ||
        !(st->request_type = mp_request_type_new(m)) ||
        !(st->server_type = mp_server_type_new(m)) ||
        !(st->conn_type = mp_conn_type_new(m)) ||
        !(st->hlist_type = mp_hlist_type_new(m)) ||
        !(st->finfo_type = mp_finfo_type_new(m)) ||
        !(st->filter_type = mp_filter_type_new(m)) ||
        mp_finfo_add_constants(m) < 0)
        return -1;
    if (PyModule_AddObjectRef(m, "table", (PyObject *)st->table_type) < 0 ||
        PyModule_AddObjectRef(m, "request", (PyObject *)st->request_type) < 0 ||
        PyModule_AddIntConstant(m, "MODULE_MAGIC_NUMBER_MAJOR", MODULE_MAGIC_NUMBER_MAJOR) < 0 ||
        PyModule_AddIntConstant(m, "MODULE_MAGIC_NUMBER_MINOR", MODULE_MAGIC_NUMBER_MINOR) < 0 ||
        PyModule_AddIntConstant(m, "AP_CONN_UNKNOWN", AP_CONN_UNKNOWN) < 0 ||
        PyModule_AddIntConstant(m, "AP_CONN_CLOSE", AP_CONN_CLOSE) < 0 ||
        PyModule_AddIntConstant(m, "AP_CONN_KEEPALIVE", AP_CONN_KEEPALIVE) < 0 ||
        PyModule_AddStringConstant(m, "version", MP_VERSION) < 0)
        return -1;
    return 0;
}

PyObject *mp_apachemod_new(void)
{
    PyObject *machinery = NULL, *spec = NULL, *m = NULL;

    if (!(machinery = PyImport_ImportModule("importlib.machinery")) ||
        !(spec = PyObject_CallMethod(machinery, "ModuleSpec", "sO", "_apache", Py_None)) ||
        !(m = PyModule_FromDefAndSpec(&apmod_def, spec)))
        goto done;
    if (PyModule_ExecDef(m, &apmod_def) < 0)
        Py_CLEAR(m);
done:
    Py_XDECREF(machinery);
    Py_XDECREF(spec);
    return m;
}

/* Give `_apache` the importer's entry points. */
int mp_apachemod_bind(PyObject *apmod, PyObject *importer)
{
    static const char *const names[][2] = {
        {"import_module", "import_module"}, {"freeze_modules", "freeze"},
        {"module_cache", "modules"}, {"module_tree", "tree"},
    };

    if (PyModule_AddObjectRef(apmod, "importer", importer) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        PyObject *f = PyObject_GetAttrString(importer, names[i][1]);
        if (!f || PyModule_AddObject(apmod, names[i][0], f) < 0) {
            Py_XDECREF(f);
            return -1;
        }
    }
    return 0;
}
