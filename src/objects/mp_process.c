/* What lasts as long as the process: mod_python 3.5's global locks, seen
 * from Python, and the cleanups that run when a child process exits. */
#include "objects/mp_process.h"
#include "config/mp_locks.h"

#include "http_main.h"

APLOG_USE_MODULE(python);

/* ------------------------------------------------------------ locks */

/* The lock (server, key[, index]) names, as 3.5 chose it: `index`, or for
 * -1 abs(hash(key)) % (n - 1) + 1, index 0 being kept for dbm locking.
 * Python's hash of a str is the same in every child: they are forked
 * from the parent that started Python, and sub-interpreters share the
 * hash secret.  -1 with an exception. */
static int lock_index(PyObject *args, const char *format, const char *fn)
{
    PyObject *srv, *key;
    int index = -1, n = mp_locks_count();
    Py_hash_t h;
    Py_uhash_t u;

    if (!PyArg_ParseTuple(args, format, &srv, &key, &index))
        return -1;
    if (!mp_server_rec(srv)) {
        PyErr_Format(PyExc_TypeError, "%s: the first argument must be a server object", fn);
        return -1;
    }
    if (!n) {
        PyErr_Format(PyExc_RuntimeError, "%s: this process has no locks (see the "
                     "error log)", fn);
        return -1;
    }
    if (index < -1 || index >= n) {
        PyErr_Format(PyExc_ValueError, "%s: lock index %d is out of range: "
                     "there are %d locks (" MP_OPT_MUTEX_LOCKS ")", fn, index, n);
        return -1;
    }
    if (index >= 0)
        return index;
    if ((h = PyObject_Hash(key)) == -1 && PyErr_Occurred())
        return -1;
    u = h < 0 ? (Py_uhash_t)0 - (Py_uhash_t)h : (Py_uhash_t)h;
    return (int)(u % (Py_uhash_t)(n - 1)) + 1;
}

static PyObject *lock_error(const char *fn, int index, apr_status_t rv)
{
    char buf[128];

    if (rv == APR_EINVAL)
        PyErr_Format(PyExc_ValueError, "%s: lock %d is not held in this process",
                     fn, index);
    else
        PyErr_Format(PyExc_ValueError, "%s: lock %d failed: %s", fn, index,
                     apr_strerror(rv, buf, sizeof(buf)));
    return NULL;
}

PyObject *mp_apache_global_lock(PyObject *module, PyObject *args)
{
    int i = lock_index(args, "OO|i:_global_lock", "_global_lock");
    apr_status_t rv;

    if (i < 0)
        return NULL;
    /* Other threads of this process run Python meanwhile, the holder of
     * the lock among them. */
    Py_BEGIN_ALLOW_THREADS
    rv = mp_lock(i);
    Py_END_ALLOW_THREADS
    if (rv != APR_SUCCESS)
        return lock_error("_global_lock", i, rv);
    Py_RETURN_NONE;
}

PyObject *mp_apache_global_trylock(PyObject *module, PyObject *args)
{
    int i = lock_index(args, "OO|i:_global_trylock", "_global_trylock");
    apr_status_t rv;

    if (i < 0)
        return NULL;
    if ((rv = mp_trylock(i)) == APR_EBUSY)
        Py_RETURN_FALSE;
    if (rv != APR_SUCCESS)
        return lock_error("_global_trylock", i, rv);
    Py_RETURN_TRUE;
}

PyObject *mp_apache_global_unlock(PyObject *module, PyObject *args)
{
    int i = lock_index(args, "OO|i:_global_unlock", "_global_unlock");
    apr_status_t rv;

    if (i < 0)
        return NULL;
    if ((rv = mp_unlock(i)) != APR_SUCCESS)
        return lock_error("_global_unlock", i, rv);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ child exit */

typedef struct mp_exit_cleanup {
    char *interp;            /* the interpreter callable and data belong to */
    server_rec *s;
    PyObject *callable, *data;
    struct mp_exit_cleanup *next;
} mp_exit_cleanup;

/* Newest first (pool cleanups' order, as 3.5 ran them).  Pushed without a
 * lock by any thread; taken whole at exit, which prefork may do from a
 * signal handler. */
static mp_exit_cleanup *exit_list;

static void run_exit_cleanup(mp_exit_cleanup *c)
{
    mp_context ctx = { NULL, c->s, NULL, NULL, NULL };
    mp_interp *in = mp_interp_enter(c->interp, NULL, &ctx);
    PyObject *r;

    if (in) {
        if (!(r = PyObject_CallOneArg(c->callable, c->data)))
            mp_log_exception(MPLOG_EXIT_CLEANUP_ERROR, NULL, c->s,
                             "register_cleanup (child exit) callable");
        Py_XDECREF(r);
        Py_DECREF(c->callable);
        Py_DECREF(c->data);
        mp_interp_leave(in);
    }
    /* else the reason is logged; the objects cannot be touched */
    free(c->interp);
    free(c);
}

static apr_status_t run_exit_cleanups(void *unused)
{
    mp_exit_cleanup *c = __atomic_exchange_n(&exit_list, NULL, __ATOMIC_ACQ_REL), *next;

    /* prefork ends a child from its signal handler, which may have
     * interrupted this very thread inside Python: it cannot go in again. */
    if (c && mp_interp_current()) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ap_server_conf,
                     MPLOG_EXIT_CLEANUP_SKIPPED "mod_python: the child process "
                     "exits while its thread runs Python: its child-exit "
                     "cleanups (register_cleanup) are not run");
        return APR_SUCCESS;
    }
    for (; c; c = next) {
        next = c->next;
        run_exit_cleanup(c);
    }
    return APR_SUCCESS;
}

void mp_process_child_init(apr_pool_t *pchild)
{
    /* Python is never finalised in a child: they can run whenever the
     * pool goes, the last thing before the process exits. */
    apr_pool_cleanup_register(pchild, NULL, run_exit_cleanups, apr_pool_cleanup_null);
}

/* Run callable(data) at child exit in the interpreter of `st`, the one
 * running this code (its objects can live nowhere else). */
static PyObject *add_exit_cleanup(mp_pystate *st, server_rec *s, PyObject *callable,
                                  PyObject *data, const char *fn)
{
    mp_exit_cleanup *c;
    const char *name = PyUnicode_AsUTF8(st->name);

    if (!PyCallable_Check(callable)) {
        PyErr_Format(PyExc_TypeError, "%s: the callable argument is not callable", fn);
        return NULL;
    }
    if (!name)
        return NULL;
    if (!(c = malloc(sizeof(*c))) || !(c->interp = strdup(name))) {
        free(c);
        return PyErr_NoMemory();
    }
    c->s = s;
    c->callable = callable;
    c->data = data ? data : Py_None;   /* 3.5 calls callable(None) */
    Py_INCREF(c->callable);
    Py_INCREF(c->data);
    c->next = __atomic_load_n(&exit_list, __ATOMIC_ACQUIRE);
    while (!__atomic_compare_exchange_n(&exit_list, &c->next, c, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_ACQUIRE))
        ;
    Py_RETURN_NONE;
}

/* _apache.register_cleanup(interpreter, server, callable[, data]) */
PyObject *mp_apache_register_cleanup(PyObject *module, PyObject *args)
{
    mp_pystate *st = PyModule_GetState(module);
    PyObject *srv, *callable, *data = NULL;
    const char *interp;
    server_rec *s;

    if (!PyArg_ParseTuple(args, "sOO|O:register_cleanup", &interp, &srv, &callable, &data))
        return NULL;
    if (!(s = mp_server_rec(srv))) {
        PyErr_SetString(PyExc_TypeError, "register_cleanup: the second argument "
                        "must be a server object");
        return NULL;
    }
    /* 3.5 ran it in the interpreter named; objects of one interpreter
     * cannot be used in another. */
    if (PyUnicode_CompareWithASCIIString(st->name, interp) != 0) {
        PyErr_Format(PyExc_ValueError, "register_cleanup: interpreter '%s' is not "
                     "this one ('%U'): a callable runs where it was made", interp,
                     st->name);
        return NULL;
    }
    return add_exit_cleanup(st, s, callable, data, "register_cleanup");
}

/* server.register_cleanup(req, callable[, data]) */
PyObject *mp_srv_register_cleanup(PyObject *self, PyObject *args)
{
    mp_pystate *st = mp_pystate_of_type(Py_TYPE(self));
    PyObject *req, *callable, *data = NULL;

    if (!PyArg_ParseTuple(args, "OO|O:register_cleanup", &req, &callable, &data))
        return NULL;
    if (!PyObject_TypeCheck(req, st->request_type)) {
        PyErr_SetString(PyExc_TypeError, "register_cleanup: the first argument "
                        "must be a request object");
        return NULL;
    }
    return add_exit_cleanup(st, mp_server_rec(self), callable, data, "register_cleanup");
}
