/* Interpreters and thread states.
 *
 * Python starts once, in the httpd parent; children inherit it across fork
 * and repair it in mp_python_child_init().  Sub-interpreters are created in
 * the children, on first use, one per name.  Every OS thread has its own
 * PyThreadState per interpreter, created the first time that thread enters
 * that interpreter and never handed to another thread.  The GIL is held only
 * between mp_interp_enter() and mp_interp_leave(). */
#include "interp/mp_interp.h"
#include "base/mp_tls.h"
#include "base/mp_build.h"

#include <dlfcn.h>
#include <pthread.h>

APLOG_USE_MODULE(python);

typedef struct mp_tstate {
    mp_interp *interp;
    PyThreadState *ts;
    struct mp_tstate *next;
} mp_tstate;

/* Interpreters are only ever added, at the head, by a thread holding
 * create_mu, and published with release semantics: readers walk the list
 * without a lock. */
static mp_interp *registry;
static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;
/* Interpreters named after request paths, against PythonInterpLimit;
 * guarded by create_mu. */
static int n_path_named;
static int limit_logged;

static const mp_interp_hooks *hooks;
static int path_named_limit;

static MP_THREAD_LOCAL mp_tstate *tl_tstates;      /* this thread's thread states */
static MP_THREAD_LOCAL PyThreadState *tl_main_ts;  /* ... in the main interpreter */
static MP_THREAD_LOCAL mp_interp *tl_current;
static MP_THREAD_LOCAL mp_context *tl_ctx;

/* --------------------------------------------------------------- startup */

/* Keep libpython mapped when httpd unloads and reloads this module on a
 * restart: Python cannot be finalised and started again cleanly. */
static void pin_libpython(void)
{
    Dl_info info;

    if (dladdr((void *)Py_InitializeFromConfig, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
}

/* Python starts once per httpd: a restart cannot change what it started
 * with (its optimization level), and says so. */
static int started_optimized;

static apr_status_t python_started(server_rec *s, int optimize)
{
    if ((optimize > 0) != started_optimized)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MPLOG_OPTIMIZE_RESTART
                     "mod_python: PythonOptimize %s takes effect when httpd is "
                     "stopped and started, not on a restart", optimize > 0 ? "On" : "Off");
    return APR_SUCCESS;
}

apr_status_t mp_python_init(server_rec *s, const char *home, int optimize)
{
    PyConfig config;
    PyStatus st;

    if (Py_IsInitialized())
        return python_started(s, optimize);
    pin_libpython();
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  /* httpd owns the signals */
    config.parse_argv = 0;
    started_optimized = optimize > 0;
    config.optimization_level = started_optimized ? 2 : 0;  /* PythonOptimize: -OO */
    /* The home and program of the Python we were built against: without
     * them Python looks for "python3" on httpd's PATH and may find another
     * installation (a pyenv one) whose stdlib it cannot use. */
    st = PyConfig_SetBytesString(&config, &config.program_name, MP_PYTHON_EXECUTABLE);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetBytesString(&config, &config.home, home ? home : MP_PYTHON_HOME);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, MPLOG_PY_START_FAILED
                     "mod_python: cannot start Python (home '%s'): %s%s%s",
                     home ? home : MP_PYTHON_HOME,
                     st.func ? st.func : "", st.func ? ": " : "",
                     st.err_msg ? st.err_msg : "unknown error");
        return APR_EGENERAL;
    }
    PyEval_SaveThread();
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, MPLOG_PY_STARTED
                 "mod_python: Python %s started (home '%s')", Py_GetVersion(),
                 home ? home : MP_PYTHON_HOME);
    return APR_SUCCESS;
}

void mp_interp_configure(const mp_interp_hooks *h, int limit)
{
    hooks = h;
    path_named_limit = limit;
}

/* Python wants fork() between PyOS_BeforeFork() and PyOS_AfterFork_Child():
 * the first takes the import lock (and, from 3.13, the runtime's head lock,
 * stopping the world on free-threaded builds) that the second releases in
 * the child.  httpd's MPMs fork with no hook around it, so both run here, in
 * the child, which has one thread: the locks are free, the first takes
 * them, the second re-initialises and releases them.  3.12 and older only
 * re-created the lock, so AfterFork alone was harmless there; from 3.13 it
 * aborts ("unlocking a recursive mutex that is not owned by the current
 * thread") in every child. */
void mp_python_child_init(void)
{
    /* The forking thread of the parent held no GIL; its thread state is
     * this thread's now. */
    PyThreadState *ts = PyGILState_GetThisThreadState();

    PyEval_RestoreThread(ts);
    PyOS_BeforeFork();
    PyOS_AfterFork_Child();
    tl_main_ts = ts;
    PyEval_SaveThread();
}

/* ------------------------------------------------------------ registry */

mp_interp *mp_interp_first(void)
{
    return __atomic_load_n(&registry, __ATOMIC_ACQUIRE);
}

static mp_interp *registry_find(const char *name)
{
    mp_interp *in = mp_interp_first();

    while (in && (strcmp(in->name, name) != 0 ||
                  __atomic_load_n(&in->replaced, __ATOMIC_ACQUIRE)))
        in = in->next;
    return in;
}

/* With create_mu held. */
static void registry_add(mp_interp *in)
{
    in->next = registry;
    __atomic_store_n(&registry, in, __ATOMIC_RELEASE);
}

static PyThreadState *main_tstate(void)
{
    if (!tl_main_ts)
        tl_main_ts = PyGILState_GetThisThreadState();
    if (!tl_main_ts)
        tl_main_ts = PyThreadState_New(PyInterpreterState_Main());
    return tl_main_ts;
}

static int remember_tstate(mp_interp *in, PyThreadState *ts)
{
    mp_tstate *t = malloc(sizeof(*t));

    if (!t)
        return -1;
    t->interp = in;
    t->ts = ts;
    t->next = tl_tstates;
    tl_tstates = t;
    return 0;
}

/* This thread's own thread state for `in`, created on first use. */
static PyThreadState *thread_tstate(mp_interp *in)
{
    mp_tstate *t;
    PyThreadState *ts;

    for (t = tl_tstates; t; t = t->next)
        if (t->interp == in)
            return t->ts;
    if (in->istate == PyInterpreterState_Main())
        ts = main_tstate();
    else
        ts = PyThreadState_New(in->istate);
    if (ts && remember_tstate(in, ts) < 0)
        return NULL;
    return ts;
}

/* --------------------------------------------------------- interpreter setup */

static void log_python_error(server_rec *s, const char *id, const char *what,
                             const char *name)
{
    PyObject *exc = PyErr_GetRaisedException(), *str = NULL;
    const char *text = NULL;

    if (exc && (str = PyObject_Str(exc)) && PyUnicode_Check(str))
        text = PyUnicode_AsUTF8(str);
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 "%smod_python: %s in interpreter '%s': %s%s%s", id, what, name,
                 exc ? Py_TYPE(exc)->tp_name : "no Python exception set",
                 text ? ": " : "", text ? text : "");
    PyErr_Clear();
    Py_XDECREF(str);
    Py_XDECREF(exc);
}

#if PY_VERSION_HEX >= 0x030C0000
/* If the exception `e` is CPython's refusal of an extension module in an
 * interpreter with its own GIL (3.12, 3.13: ImportError "module X does not
 * support loading in subinterpreters"), X in `buf`. */
static int refusal_of(PyObject *e, char *buf, size_t size)
{
    static const char pre[] = "module ", post[] = " does not support loading in subinterpreters";
    const size_t npre = sizeof(pre) - 1, npost = sizeof(post) - 1;
    PyObject *str;
    const char *t;
    size_t n;
    int found = 0;

    if (!PyErr_GivenExceptionMatches(e, PyExc_ImportError) || !(str = PyObject_Str(e))) {
        PyErr_Clear();
        return 0;
    }
    if ((t = PyUnicode_AsUTF8(str)) && (n = strlen(t)) > npre + npost &&
        !strncmp(t, pre, npre) && !strcmp(t + n - npost, post)) {
        snprintf(buf, size, "%.*s", (int)(n - npre - npost), t + npre);
        found = 1;
    }
    PyErr_Clear();
    Py_DECREF(str);
    return found;
}

/* The module named by such a refusal in the exception set or its causes
 * (an import of it may have failed inside another import), in `buf`; the
 * exception stays set. */
static const char *refused_module(char *buf, size_t size)
{
    PyObject *exc = PyErr_GetRaisedException(), *e = Py_XNewRef(exc), *next;
    int found = 0;

    for (int depth = 0; e && !found && depth < 16; depth++) {
        found = refusal_of(e, buf, size);
        if (!(next = PyException_GetCause(e)))
            next = PyException_GetContext(e);
        Py_SETREF(e, next);
    }
    Py_XDECREF(e);
    PyErr_SetRaisedException(exc);
    return found ? buf : NULL;
}
#endif

/* Py_NewInterpreter(), or (3.12+, `own`) one with its own GIL.  PEP 684
 * wants its own allocator with it, and extension modules that do not say
 * they support it refused at import.  subprocess works (exec); os.fork()
 * does not: forking a thread of an httpd child is never what is meant.
 * Called with the main thread state; returns with the new one current,
 * or NULL (logged) with the main one current. */
static PyThreadState *new_interpreter(int own, const char *name, server_rec *s)
{
    PyThreadState *ts = NULL;

#if PY_VERSION_HEX >= 0x030C0000
    if (own) {
        const PyInterpreterConfig config = {
            .use_main_obmalloc = 0, .allow_fork = 0, .allow_exec = 1,
            .allow_threads = 1, .allow_daemon_threads = 1,
            .check_multi_interp_extensions = 1, .gil = PyInterpreterConfig_OWN_GIL,
        };
        PyStatus st = Py_NewInterpreterFromConfig(&ts, &config);

        if (PyStatus_Exception(st))
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, MPLOG_INTERP_CREATE
                         "mod_python: cannot create interpreter '%s' with its own "
                         "GIL: %s", name, st.err_msg ? st.err_msg : "unknown error");
        return PyStatus_Exception(st) ? NULL : ts;
    }
#endif
    (void)own;
    if (!(ts = Py_NewInterpreter()))
        log_python_error(s, MPLOG_INTERP_CREATE, "cannot create the interpreter", name);
    return ts;
}

static void log_shared_gil(server_rec *s, const char *name, const char *module)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MPLOG_INTERP_SHARED_GIL
                 "mod_python: PythonInterpreterGIL auto: interpreter '%s' %s the "
                 "shared GIL: %s%s%s", name, module ? "goes over to" : "has",
                 module ? "extension module '" : "its own could not be made",
                 module ? module : "", module ? "' does not support its own GIL" : "");
}

/* Make and set up interpreter `name` (with the GIL it is given); GIL
 * released on return.  NULL if it cannot be made; broken if its set-up
 * failed. */
static mp_interp *interp_make(const char *name, mp_gil_mode gil, server_rec *s)
{
    mp_interp *in;
    PyThreadState *ts;
    char refused[256];

    if (!(in = calloc(1, sizeof(*in))) || !(in->name = strdup(name))) {
        free(in);
        return NULL;
    }
    PyEval_RestoreThread(main_tstate());
    in->own_gil = gil != MP_GIL_SHARED;
    if (strcmp(name, MP_MAIN_INTERPRETER) == 0)
        in->own_gil = 0, ts = main_tstate();
    else if (!(ts = new_interpreter(in->own_gil, name, s)) && gil == MP_GIL_AUTO) {
        log_shared_gil(s, name, NULL);
        in->own_gil = 0;
        ts = new_interpreter(0, name, s);
    }
    if (!ts) {
        PyEval_SaveThread();
        free(in->name);
        free(in);
        return NULL;
    }
    in->auto_gil = in->own_gil && gil == MP_GIL_AUTO;
    in->istate = PyThreadState_GetInterpreter(ts);
    if (remember_tstate(in, ts) < 0 || hooks->setup(in, s) < 0) {
#if PY_VERSION_HEX >= 0x030C0000
        if (in->auto_gil && refused_module(refused, sizeof(refused))) {
            /* Its site or set-up imported it.  Left, not ended (see below). */
            log_shared_gil(s, name, refused);
            PyErr_Clear();
            PyEval_SaveThread();
            return interp_make(name, MP_GIL_SHARED, s);
        }
#endif
        log_python_error(s, MPLOG_INTERP_SETUP, "cannot set up the interpreter", name);
        /* Not ended (code run by site could have started threads, and
         * ending it then is fatal), but registered as broken: requests get
         * a 500 and no new interpreter is made, and leaked, for each. */
        in->broken = 1;
    }
    (void)refused;
    PyEval_SaveThread();
    return in;
}

/* Create interpreter `name`; returns with the GIL released.  One named
 * after a request path (`path_named`) is not made once PythonInterpLimit
 * such interpreters exist: NULL with *over set. */
static mp_interp *interp_create(const char *name, int path_named, int *over,
                                server_rec *s)
{
    mp_gil_mode gil = hooks->gil ? hooks->gil(s) : MP_GIL_SHARED;
    mp_interp *in;

    pthread_mutex_lock(&create_mu);
    /* The replacement of one that gave its own GIL up (auto) shares it. */
    for (in = mp_interp_first(); in && gil == MP_GIL_AUTO; in = in->next)
        if (in->replaced && !strcmp(in->name, name))
            gil = MP_GIL_SHARED;
    if ((in = registry_find(name)))
        goto done;
    if (path_named && n_path_named >= path_named_limit) {
        *over = 1;
        goto done;
    }
    if (!(in = interp_make(name, gil, s)))
        goto done;
    registry_add(in);
    n_path_named += path_named;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MPLOG_INTERP_CREATED
                 "mod_python: created interpreter '%s' (%s GIL)", name,
                 mp_interp_gil_name(in));
done:
    pthread_mutex_unlock(&create_mu);
    return in;
}

int mp_interp_refused(mp_interp *in, server_rec *s)
{
#if PY_VERSION_HEX >= 0x030C0000
    char module[256];

    if (!in->auto_gil || !refused_module(module, sizeof(module)))
        return 0;
    /* Under create_mu: a thread creating the replacement sees it. */
    pthread_mutex_lock(&create_mu);
    int first = !__atomic_exchange_n(&in->replaced, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&create_mu);
    if (first)
        log_shared_gil(s, in->name, module);
    return 1;
#else
    (void)in;
    (void)s;
    return 0;
#endif
}

static void log_over_limit(const char *name, const char *fallback, server_rec *s)
{
    /* Once per process at warning level: past the limit every new path
     * would log, and paths are the client's to choose. */
    int level = __atomic_exchange_n(&limit_logged, 1, __ATOMIC_RELAXED)
                ? APLOG_DEBUG : APLOG_WARNING;

    ap_log_error(APLOG_MARK, level, 0, s, MPLOG_INTERP_LIMIT
                 "mod_python: PythonInterpLimit (%d) "
                 "reached in this process: no interpreter '%s'; its requests, "
                 "and those of any other new directory, run in '%s'",
                 path_named_limit, name, fallback);
}

/* The interpreter called `name`, created on first use (see mp_interp_enter). */
static mp_interp *interp_get(const char *name, const char *fallback, server_rec *s)
{
    mp_interp *in = registry_find(name);
    int over = 0;

    if (in || (in = interp_create(name, fallback != NULL, &over, s)) || !over)
        return in;
    log_over_limit(name, fallback, s);
    if ((in = registry_find(fallback)))
        return in;
    return interp_create(fallback, 0, &over, s);
}

/* ------------------------------------------------------------ enter/leave */

void mp_interp_release_later(mp_interp *in, mp_pending *p)
{
    mp_pending *head = __atomic_load_n(&in->pending, __ATOMIC_RELAXED);

    do
        p->next = head;
    while (!__atomic_compare_exchange_n(&in->pending, &head, p, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
}

/* With the GIL held in `in`.  The whole stack is taken at once (no ABA:
 * nothing is ever popped alone); a release may run any code (__del__),
 * which may give more back: they wait for the next entry. */
static void release_pending(mp_interp *in)
{
    mp_pending *p = __atomic_exchange_n(&in->pending, NULL, __ATOMIC_ACQUIRE), *next;

    for (; p; p = next) {
        next = p->next;
        hooks->release(in, p);
    }
}

mp_interp *mp_interp_enter(const char *name, const char *fallback, mp_context *ctx)
{
    server_rec *s = ctx->s;
    mp_interp *in;
    PyThreadState *ts;

    if (!name || !*name)
        name = MP_MAIN_INTERPRETER;
    if (tl_current) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, MPLOG_INTERP_NESTED
                     "mod_python: refusing to enter interpreter '%s' from "
                     "inside '%s' (a call into httpd kept the GIL)",
                     name, tl_current->name);
        return NULL;
    }
    if (!(in = interp_get(name, fallback, s)))
        return NULL;
    if (in->broken) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, MPLOG_INTERP_BROKEN
                     "mod_python: interpreter '%s' failed to start (see the "
                     "first error); restart httpd after fixing it", name);
        return NULL;
    }
    if (!(ts = thread_tstate(in)))
        return NULL;
    PyEval_RestoreThread(ts);
    tl_current = in;
    ctx->prev = tl_ctx;
    tl_ctx = ctx;
    /* a peek: one given back meanwhile is caught next time */
    if (__atomic_load_n(&in->pending, __ATOMIC_RELAXED))
        release_pending(in);
    return in;
}

void mp_interp_leave(mp_interp *in)
{
    (void)in;
    tl_ctx = tl_ctx->prev;
    tl_current = NULL;
    PyEval_SaveThread();
}

mp_interp *mp_interp_suspend(void)
{
    mp_interp *in = tl_current;

    tl_current = NULL;
    PyEval_SaveThread();
    return in;
}

void mp_interp_resume(mp_interp *in)
{
    /* thread_tstate() found it when this thread entered: it cannot fail. */
    PyEval_RestoreThread(thread_tstate(in));
    tl_current = in;
}

mp_interp *mp_interp_current(void)
{
    return tl_current;
}

mp_context *mp_context_current(void)
{
    return tl_ctx;
}
