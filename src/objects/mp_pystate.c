/* What each interpreter keeps for the Python layer: the importer, the
 * mod_python.apache module and names made once, and the list expressions
 * of the configuration (PythonPath, mod_python.importer.path), evaluated
 * once per distinct string. */
#include "objects/mp_objects.h"

APLOG_USE_MODULE(python);

/* With the new interpreter entered: everything or -1 with an exception
 * (the interpreter is then never used, so nothing is undone). */
static int fill(mp_pystate *st, const mp_interp *in, const mp_importer_host *host,
                int notify, server_rec *s)
{
    PyObject *modules = PyImport_GetModuleDict(), *srv = NULL, *argv = NULL, *gil = NULL;
    const char *name = in->name;
    int rc = -1;

    if (!(st->importer = mp_importer_new(host, name)) ||
        (!notify && PyObject_SetAttrString(st->importer, "notify", Py_False) < 0) ||
        mp_apachemod_bind(st->module, st->importer) < 0 ||
        PyDict_SetItemString(modules, "_apache", st->module) < 0)
        goto done;
    if (!(st->name = PyUnicode_InternFromString(name)) ||
        !(st->apache = PyImport_ImportModule("mod_python.apache")) ||
        !(gil = PyUnicode_FromString(mp_interp_gil_name(in))) ||
        !(st->server_return = PyObject_GetAttrString(st->apache, "SERVER_RETURN")) ||
        !(srv = mp_server_new(st, s)) ||
        PyObject_SetAttrString(st->apache, "main_server", srv) < 0 ||
        PyObject_SetAttrString(st->apache, "interpreter", st->name) < 0 ||
        PyObject_SetAttrString(st->apache, "interpreter_gil", gil) < 0 ||
        !(argv = Py_BuildValue("[s]", "mod_python")) ||
        PySys_SetObject("argv", argv) < 0)
        goto done;
    for (int i = 0; i < MP_NPHASES; i++)
        if (!(st->phase_names[i] = PyUnicode_InternFromString(mp_phases[i].directive)))
            goto done;
    if (!(st->path_done = PySet_New(NULL)) || !(st->lists = PyDict_New()) ||
        !(st->srv_conf = PyDict_New()))
        goto done;
    if (!(st->path_lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(srv);
    Py_XDECREF(argv);
    Py_XDECREF(gil);
    return rc;
}

int mp_pystate_setup(mp_interp *in, const mp_importer_host *host, int notify,
                     server_rec *s)
{
    /* The module is never released: it holds the state for as long as
     * the interpreter lives (interpreters are never ended). */
    PyObject *m = mp_apachemod_new();
    mp_pystate *st;

    if (!m)
        return -1;
    st = PyModule_GetState(m);
    st->module = m;
    in->state = st;
    return fill(st, in, host, notify, s);
}

int mp_pystate_traverse(mp_pystate *st, visitproc visit, void *arg)
{
    /* not st->module: a reference of the state to its own module */
    Py_VISIT(st->table_type);
    Py_VISIT(st->request_type);
    Py_VISIT(st->server_type);
    Py_VISIT(st->conn_type);
    Py_VISIT(st->hlist_type);
    Py_VISIT(st->finfo_type);
    Py_VISIT(st->filter_type);
    Py_VISIT(st->importer);
    Py_VISIT(st->apache);
    Py_VISIT(st->server_return);
    Py_VISIT(st->path_done);
    Py_VISIT(st->lists);
    Py_VISIT(st->srv_conf);
    return 0;
}

void mp_pystate_clear(mp_pystate *st)
{
    Py_CLEAR(st->table_type);
    Py_CLEAR(st->request_type);
    Py_CLEAR(st->server_type);
    Py_CLEAR(st->conn_type);
    Py_CLEAR(st->hlist_type);
    Py_CLEAR(st->finfo_type);
    Py_CLEAR(st->filter_type);
    Py_CLEAR(st->importer);
    Py_CLEAR(st->apache);
    Py_CLEAR(st->server_return);
    Py_CLEAR(st->name);
    for (int i = 0; i < MP_NPHASES; i++)
        Py_CLEAR(st->phase_names[i]);
    Py_CLEAR(st->path_done);
    Py_CLEAR(st->lists);
    Py_CLEAR(st->srv_conf);
}

PyObject *mp_pystate_list(mp_interp *in, const char *expr, const char *what)
{
    mp_pystate *st = mp_pystate_of(in);
    PyObject *key = PyUnicode_FromString(expr), *val = NULL;

    if (!key)
        return NULL;
    if ((val = PyDict_GetItemWithError(st->lists, key))) {
        Py_INCREF(val);
    } else if (!PyErr_Occurred() &&
               (val = mp_eval_list(expr, PyModule_GetDict(st->apache), what)) &&
               PyDict_SetItem(st->lists, key, val) < 0) {
        Py_CLEAR(val);
    }
    Py_DECREF(key);
    return val;
}

/* Under path_lock: two threads must not both extend sys.path. */
static int apply_path_locked(mp_interp *in, PyObject *key, const char *expr)
{
    mp_pystate *st = mp_pystate_of(in);
    PyObject *val, *syspath;
    int done = PySet_Contains(st->path_done, key);

    if (done != 0)
        return done > 0 ? 0 : -1;
    if (!(val = mp_pystate_list(in, expr, "PythonPath")))
        return -1;
    if (!(syspath = PySys_GetObject("path")))
        PyErr_SetString(PyExc_RuntimeError, "sys.path is missing");
    else if (PyList_SetSlice(syspath, 0, PyList_GET_SIZE(syspath), val) == 0)
        done = PySet_Add(st->path_done, key) == 0;
    Py_DECREF(val);
    return done > 0 ? 0 : -1;
}

int mp_pystate_apply_path(mp_interp *in, const char *expr, request_rec *r,
                          server_rec *s)
{
    mp_pystate *st = mp_pystate_of(in);
    PyObject *key;
    int rc = -1, done;

    if (!expr)
        return 0;
    if (!(key = PyUnicode_FromString(expr)))
        goto out;
    if ((done = PySet_Contains(st->path_done, key)) != 0) {
        rc = done > 0 ? 0 : -1;
        goto out;
    }
    if (!PyThread_acquire_lock(st->path_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(st->path_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    rc = apply_path_locked(in, key, expr);
    PyThread_release_lock(st->path_lock);
out:
    if (rc < 0)
        mp_log_exception(MPLOG_PYTHON_PATH, r, s, "PythonPath");
    Py_XDECREF(key);
    return rc;
}
