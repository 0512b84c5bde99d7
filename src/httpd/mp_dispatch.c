/* Running handlers: choose the interpreter, find the request object, apply
 * PythonPath, resolve `module::object` through the importer, call it, and
 * turn what it returns (or raises) into an httpd status.  Also the
 * cleanup phase and PythonImport. */
#include "httpd/mp_httpd.h"

#include "importer/mp_watch.h"

#include "http_core.h"
#include "http_request.h"

APLOG_USE_MODULE(python);

/* ---------------------------------------------------- interpreter choice */

/* The name of the interpreter to run r's handlers in.  A name made from a
 * request path comes with the virtual host's as *fallback, for when
 * PythonInterpLimit is reached (mp_interp_enter); else *fallback is NULL. */
const char *mp_interp_name(request_rec *r, const mp_dir_config *c,
                           const char *handler_dir, const char **fallback)
{
    const char *host = r->server->server_hostname ? r->server->server_hostname
                                                  : MP_MAIN_INTERPRETER;

    *fallback = NULL;
    if (c->interpreter)
        return c->interpreter;
    if (c->per_directory > 0) {
        if (!r->filename)
            return MP_MAIN_INTERPRETER;
        *fallback = host;
        if (r->finfo.filetype == APR_DIR)
            return r->filename[strlen(r->filename) - 1] == '/'
                   ? r->filename : apr_pstrcat(r->pool, r->filename, "/", NULL);
        return ap_make_dirstr_parent(r->pool, r->filename);
    }
    if (c->per_directive > 0) {
        if (!handler_dir || !*handler_dir)
            return MP_MAIN_INTERPRETER;
        *fallback = host;
        return handler_dir;
    }
    return host;
}

/* ------------------------------------------------------ calling handlers */

/* A handler's names as Python objects.  Made once per interpreter for a
 * configured handler (kept in the interpreter by handler id), per call for
 * one added by req.add_handler(). */
typedef struct mp_handler_names {
    PyObject *module;   /* "mod" */
    PyObject *path;     /* [handler directory], or NULL */
    PyObject *attrs;    /* ("a", "b") for "mod::a.b" */
    mp_import_memo memo; /* the module's last import (configured handlers) */
} mp_handler_names;

static void names_clear(mp_handler_names *n)
{
    mp_import_memo_clear(&n->memo);
    Py_CLEAR(n->module);
    Py_CLEAR(n->path);
    Py_CLEAR(n->attrs);
}

/* "a.b" -> ("a", "b"), interned: attribute names. */
static PyObject *split_dotted(const char *dotted)
{
    PyObject *s = PyUnicode_FromString(dotted), *dot = NULL, *parts = NULL, *t = NULL;

    if (s && (dot = PyUnicode_FromString(".")) && (parts = PyUnicode_Split(s, dot, -1))) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(parts); i++)
            PyUnicode_InternInPlace(&PyList_GET_ITEM(parts, i));
        t = PyList_AsTuple(parts);
    }
    Py_XDECREF(s);
    Py_XDECREF(dot);
    Py_XDECREF(parts);
    return t;
}

static int names_make(mp_handler_names *n, const mp_handler *h)
{
    memset(n, 0, sizeof(*n));
    if (!(n->attrs = split_dotted(h->object)) ||
        !(n->module = PyUnicode_FromString(h->module)) ||
        (h->directory && !(n->path = Py_BuildValue("[s]", h->directory)))) {
        names_clear(n);
        return -1;
    }
    return 0;
}

/* An interpreter's names of configured handlers, by mp_handler.id. */
typedef struct mp_handler_cache {
    mp_handler_names **names;
    unsigned n;
} mp_handler_cache;

/* Room for id in `in`'s cache; -1 with MemoryError. */
static int cache_reserve(mp_pystate *st, unsigned id)
{
    mp_handler_cache *c = st->handlers;
    mp_handler_names **a;
    unsigned cap = id + 16;

    if (!c && !(c = st->handlers = calloc(1, sizeof(*c))))
        goto nomem;
    if (id < c->n)
        return 0;
    if (!(a = realloc(c->names, cap * sizeof(*a))))
        goto nomem;
    memset(a + c->n, 0, (cap - c->n) * sizeof(*a));
    c->names = a;
    c->n = cap;
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

/* The cached names of configured handler `h` in `in` (borrowed), made on
 * first use; NULL with an exception if they cannot be made. */
static mp_handler_names *names_cached(mp_interp *in, const mp_handler *h)
{
    mp_pystate *st = mp_pystate_of(in);
    mp_handler_names *n;

    if (cache_reserve(st, h->id) < 0)
        return NULL;
    if ((n = st->handlers->names[h->id]))
        return n;
    if (!(n = malloc(sizeof(*n))))
        return (mp_handler_names *)PyErr_NoMemory();
    if (names_make(n, h) < 0) {
        free(n);
        return NULL;
    }
    return st->handlers->names[h->id] = n;
}

/* getattr(obj, name), straight from the namespace of a plain module: for
 * a name not starting with "_", ModuleType has no descriptor that could
 * take precedence, so the dict lookup is the whole of getattr when it
 * finds the name.  New reference. */
static PyObject *get_attr(PyObject *obj, PyObject *name)
{
    PyObject *v;

    if (PyModule_CheckExact(obj) && PyUnicode_GET_LENGTH(name) &&
        PyUnicode_READ_CHAR(name, 0) != '_' &&
        (v = PyDict_GetItemWithError(PyModule_GetDict(obj), name))) {
        Py_INCREF(v);
        return v;
    }
    return PyErr_Occurred() ? NULL : PyObject_GetAttr(obj, name);
}

/* The module a handler names is missing its first name: say which file,
 * as 3.5 did ("module '/d/m.py' contains no 'handler'"); or, for a silent
 * handler (PythonHandlerModule), no error at all. */
static void no_such_object(PyObject *mod, PyObject *name, int silent)
{
    PyObject *file;

    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return;
    PyErr_Clear();
    if (silent)
        return;
    file = PyObject_GetAttrString(mod, "__file__");
    PyErr_Clear();
    PyErr_Format(PyExc_AttributeError, "module '%S' contains no '%S'",
                 file ? file : Py_None, name);
    Py_XDECREF(file);
}

/* getattr along the names; a class met on the way is instantiated with
 * `arg` first and the next name looked up on the instance (3.5's rule:
 * "mod::Class.method" calls Class(req).method(req)).  New reference;
 * NULL with an exception, or without one for a missing silent handler. */
static PyObject *resolve_object(PyObject *mod, PyObject *attrs, PyObject *arg, int silent)
{
    PyObject *obj = mod, *next;

    Py_INCREF(obj);
    for (Py_ssize_t i = 0; obj && i < PyTuple_GET_SIZE(attrs); i++) {
        if (i && arg && PyType_Check(obj)) {
            next = PyObject_CallOneArg(obj, arg);
            Py_SETREF(obj, next);
            if (!obj)
                break;
        }
        next = get_attr(obj, PyTuple_GET_ITEM(attrs, i));
        if (!next && !i)
            no_such_object(mod, PyTuple_GET_ITEM(attrs, 0), silent);
        Py_DECREF(obj);
        obj = next;
    }
    return obj;
}

/* A configured handler's names are kept: its import goes through their
 * memo. */
static PyObject *handler_object(mp_interp *in, mp_handler_names *n, int kept,
                                PyObject *arg, int silent)
{
    PyObject *imp = mp_pystate_of(in)->importer;
    PyObject *mod = kept ? mp_importer_import_memo(imp, &n->memo, n->module, n->path)
                         : mp_importer_import(imp, n->module, -1, -1, n->path);
    PyObject *obj = mod ? resolve_object(mod, n->attrs, arg, silent) : NULL;

    Py_XDECREF(mod);
    return obj;
}

PyObject *mp_handler_object(mp_interp *in, const mp_handler *h, PyObject *arg)
{
    mp_handler_names own;
    mp_handler_names *n = h->id ? names_cached(in, h)
                                : names_make(&own, h) == 0 ? &own : NULL;
    PyObject *obj = n ? handler_object(in, n, n != &own, arg, h->silent) : NULL;

    if (n == &own)
        names_clear(&own);
    return obj;
}

PyObject *mp_handler_call(mp_interp *in, const mp_dir_config *c, PyObject *obj,
                          PyObject *arg)
{
    /* PythonEnablePdb On in a server started with -X (-DONE_PROCESS): the
     * handler runs under pdb, on httpd's terminal. */
    if (c->enable_pdb > 0 && ap_exists_config_define("ONE_PROCESS"))
        return PyObject_CallMethod(mp_pystate_of(in)->apache, "_call_under_pdb", "OO",
                                   obj, arg);
    return PyObject_CallOneArg(obj, arg);
}

/* What a handler may give httpd: OK, DECLINED, DONE or an HTTP status.
 * Anything else (httpd's SUSPENDED, its filter codes, a value cut to an
 * int) would hang the connection or send nonsense: ValueError, 500. */
static int result_code(const mp_handler *h, PyObject *v, const char *how)
{
    int overflow;
    long n = PyLong_AsLongAndOverflow(v, &overflow);

    if (n == -1 && PyErr_Occurred())
        return HTTP_INTERNAL_SERVER_ERROR;
    if (!overflow && (n == OK || n == DECLINED || n == DONE || ap_is_HTTP_VALID_RESPONSE(n)))
        return (int)n;
    PyErr_Format(PyExc_ValueError, "handler %s %s %R: not apache.OK, apache.DECLINED, "
                 "apache.DONE or an HTTP status (100-599)", h->spec, how, v);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* SERVER_RETURN((code, status)): status sets req.status unless 0. */
static int set_status(request_rec *r, PyObject *st)
{
    int overflow;
    long n = PyLong_AsLongAndOverflow(st, &overflow);

    if (n == -1 && PyErr_Occurred())
        return -1;
    if (!n && !overflow)
        return 0;
    if (overflow || !ap_is_HTTP_VALID_RESPONSE(n)) {
        PyErr_Format(PyExc_ValueError, "SERVER_RETURN status %R is not an HTTP "
                     "status (100-599)", st);
        return -1;
    }
    r->status = (int)n;
    return 0;
}

/* What SERVER_RETURN carries: code, or (code, status).  An exception is
 * left set when it carries something httpd must not get. */
static int server_return_code(request_rec *r, const mp_handler *h, PyObject *exc)
{
    PyObject *args = PyObject_GetAttrString(exc, "args"), *v;
    int rc = HTTP_INTERNAL_SERVER_ERROR;

    PyErr_Clear();
    v = args && PyTuple_Check(args) && PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, 0) : NULL;
    if (v && PyTuple_Check(v) && PyTuple_GET_SIZE(v) == 2) {
        PyObject *st = PyTuple_GET_ITEM(v, 1);
        if (PyLong_Check(st) && set_status(r, st) < 0)
            goto out;
        v = PyTuple_GET_ITEM(v, 0);
    }
    if (v == Py_None || !v)
        rc = OK;
    else if (PyLong_Check(v))
        rc = result_code(h, v, "raised SERVER_RETURN with");
out:
    Py_XDECREF(args);
    return rc;
}

/* The handler's result as an httpd status, with what it raised handled;
 * an exception is left set for what must be reported. */
static int handler_result(mp_interp *in, request_rec *r, const mp_handler *h,
                          PyObject *res)
{
    PyObject *exc;
    int rc;

    if (res && PyLong_Check(res))
        return result_code(h, res, "returned");
    if (res) {
        PyErr_Format(PyExc_TypeError, "handler %s returned %R, not an int "
                     "(apache.OK, apache.DECLINED or an HTTP status)", h->spec, res);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!PyErr_ExceptionMatches(mp_pystate_of(in)->server_return))
        return HTTP_INTERNAL_SERVER_ERROR;
    exc = PyErr_GetRaisedException();
    rc = server_return_code(r, h, exc);
    Py_XDECREF(exc);
    return rc;
}

/* A silent handler (PythonHandlerModule) whose module lacks the phase's
 * object is skipped: the phase goes on as if it were not there. */
#define SKIPPED INT_MIN
/* PythonInterpreterGIL auto: the handler's module could not be imported
 * because an extension refused the interpreter's own GIL; the interpreter
 * is replaced by a shared-GIL one, where the phase may run again. */
#define RETRY (INT_MIN + 1)

static int call_handler(mp_interp *in, request_rec *r, PyObject *req,
                        const mp_dir_config *c, mp_phase phase, const mp_handler *h)
{
    PyObject *obj = mp_handler_object(in, h, req), *res = NULL;
    int rc;

    if (obj)
        res = mp_handler_call(in, c, obj, req);
    if (!obj && !PyErr_Occurred())
        rc = SKIPPED;
    else if (!obj && mp_interp_refused(in, r->server))
        rc = RETRY;   /* the exception stays set for run_list */
    else
        rc = handler_result(in, r, h, res);
    if (PyErr_Occurred() && rc != RETRY)
        rc = mp_report_handler_error(r, c, phase, h);
    Py_XDECREF(obj);
    Py_XDECREF(res);
    return rc;
}

static int ext_matches(const request_rec *r, const apr_array_header_t *exts)
{
    const char *base, *dot;

    if (!exts)
        return 1;
    if (!r->filename)
        return 0;
    base = strrchr(r->filename, '/');
    dot = strrchr(base ? base : r->filename, '.');
    for (int i = 0; dot && i < exts->nelts; i++)
        if (!strcmp(dot, APR_ARRAY_IDX(exts, i, const char *)))
            return 1;
    return 0;
}

static int goes_on(mp_phase phase, int rc)
{
    int f = mp_phases[phase].go_on;

    return (rc == OK && (f & MP_GO_ON_OK)) || (rc == DECLINED && (f & MP_GO_ON_DECLINED));
}

/* The request's watch epoch for the importer's change check, polled
 * before the GIL was taken (0: the importer polls itself). */
static void give_epoch(PyObject *req, unsigned long epoch)
{
    mp_imp_request *rq = mp_request_importer_state(req);

    if (!rq->epoch)
        rq->epoch = epoch;
}

static int run_list(mp_interp *in, request_rec *r, const mp_dir_config *c,
                    const apr_array_header_t *list, mp_phase phase, mp_context *ctx,
                    unsigned long epoch)
{
    int rc = DECLINED, called = 0;

    if (!(ctx->req = mp_request_of(r, in))) {
        mp_log_exception(MPLOG_REQUEST_OBJECT, r, NULL,
                         "mod_python: cannot create the request object");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    give_epoch(ctx->req, epoch);
    if (mp_pystate_apply_path(in, c->python_path, r, r->server) < 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    mp_request_set_phase(ctx->req, mp_pystate_of(in)->phase_names[phase]);
    /* The configured handlers, then those added by req.add_handler(), even
     * while this phase runs (nelts is read at every step). */
    for (int pass = 0; pass < 2; pass++) {
        const apr_array_header_t *l = pass ? mp_request_added(r, phase) : list;
        for (int i = 0; l && i < l->nelts; i++) {
            const mp_handler *h = &APR_ARRAY_IDX(l, i, mp_handler);
            if (!ext_matches(r, h->exts))
                continue;
            ctx->handler_dir = h->directory;
            ctx->handlers = l;
            ctx->handler_index = i;
            int hrc = call_handler(in, r, ctx->req, c, phase, h);
            if (hrc == SKIPPED)
                continue;
            if (hrc == RETRY && !called) {   /* nothing of the phase ran yet */
                PyErr_Clear();
                rc = RETRY;
                goto done;
            }
            if (hrc == RETRY)
                hrc = mp_report_handler_error(r, c, phase, h);
            called = 1;
            rc = hrc;
            if (!goes_on(phase, rc))
                goto done;
        }
    }
done:
    mp_request_set_phase(ctx->req, Py_None);
    return rc;
}

static const apr_array_header_t *first_list(request_rec *r, const mp_dir_config *c,
                                            mp_phase phase)
{
    const apr_array_header_t *l = c ? c->handlers[phase] : NULL;

    return l && l->nelts ? l : mp_request_added(r, phase);
}

/* Kept out of line: most phases of most requests have no Python handler,
 * and mp_run_phase() answers those without setting up a frame this big. */
static int __attribute__((noinline))
run_phase(request_rec *r, const mp_dir_config *c, const apr_array_header_t *list,
          mp_phase phase)
{
    mp_context ctx = { r, r->server, NULL, NULL, NULL };
    mp_interp *in;
    const char *name, *fallback;
    unsigned long epoch;
    int rc;

    if (phase == MP_HANDLER && (!r->handler || (strcmp(r->handler, "mod_python") &&
                                                strcmp(r->handler, "python-program"))))
        return DECLINED;
    name = mp_interp_name(r, c, APR_ARRAY_IDX(list, 0, mp_handler).directory, &fallback);
    /* The importer's change check drains inotify once per request (a
     * read()): here, before the GIL is taken, not while holding it; by the
     * request's first Python phase only (the later ones have its epoch). */
    epoch = c && c->autoreload != 0 && !mp_request_touched(r) ? mp_watch_poll() : 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!(in = mp_interp_enter(name, fallback, &ctx)))
            return HTTP_INTERNAL_SERVER_ERROR;
        rc = run_list(in, r, c, c ? c->handlers[phase] : NULL, phase, &ctx, epoch);
        mp_host_collect_later(r, in);
        mp_interp_leave(in);
        if (rc != RETRY)
            break;
        rc = HTTP_INTERNAL_SERVER_ERROR;   /* twice: cannot happen (shared) */
    }
    if (phase == MP_AUTHEN && rc == OK && !r->user) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MPLOG_AUTHEN_NO_USER
                      "PythonAuthenHandler returned "
                      "OK but did not set req.user");
        rc = HTTP_INTERNAL_SERVER_ERROR;
    } else if (phase == MP_AUTHEN && rc == HTTP_UNAUTHORIZED) {
        ap_note_auth_failure(r);
    }
    return rc;
}

int mp_run_phase(request_rec *r, mp_phase phase)
{
    const mp_dir_config *c = mp_dir_conf(r);
    const apr_array_header_t *list = first_list(r, c, phase);

    return list ? run_phase(r, c, list, phase) : DECLINED;
}

/* Set on r->pool when PythonInitHandler ran at post_read_request. */
#define INIT_RAN "mod_python.init_ran"

int mp_run_init_phase(request_rec *r, int at_post_read)
{
    const mp_dir_config *c = mp_dir_conf(r);
    const apr_array_header_t *list = first_list(r, c, MP_INIT);
    void *ran = NULL;

    /* Most requests have no init handler: they leave before the lookup. */
    if (!list)
        return DECLINED;
    if (at_post_read)
        apr_pool_userdata_setn("1", INIT_RAN, NULL, r->pool);
    else if (apr_pool_userdata_get(&ran, INIT_RAN, r->pool) == APR_SUCCESS && ran)
        return DECLINED;
    return run_phase(r, c, list, MP_INIT);
}

/* ------------------------------------------------------ cleanup phase */

static apr_status_t run_cleanup_phase(void *data)
{
    mp_run_phase(data, MP_CLEANUP);
    return APR_SUCCESS;
}

void mp_register_cleanup_phase(request_rec *r)
{
    const mp_dir_config *c = mp_dir_conf(r);

    if (c && c->handlers[MP_CLEANUP])
        apr_pool_cleanup_register(r->pool, r, run_cleanup_phase,
                                  apr_pool_cleanup_null);
}

/* ------------------------------------------------------ PythonImport */

/* 1 if it is to be run again: its module could not be imported in an
 * interpreter of PythonInterpreterGIL auto, replaced for that reason. */
static int run_import(server_rec *s, const mp_import *imp)
{
    mp_context ctx = { NULL, s, NULL, NULL, NULL };
    mp_interp *in = mp_interp_enter(imp->interp, NULL, &ctx);
    PyObject *name, *mod = NULL, *attrs = NULL, *fn = NULL, *res = NULL;
    const char *what;
    int again = 0;

    if (!in)
        return 0;
    if (mp_pystate_apply_path(in, mp_srv_conf(s)->conf->python_path, NULL, s) == 0 &&
        (name = PyUnicode_FromString(imp->module))) {
        mod = mp_importer_import(mp_pystate_of(in)->importer, name, -1, -1, NULL);
        Py_DECREF(name);
    }
    if (mod && imp->function && (attrs = split_dotted(imp->function)) &&
        (fn = resolve_object(mod, attrs, NULL, 0)))
        res = PyObject_CallNoArgs(fn);
    if (!mod && PyErr_Occurred() && (again = mp_interp_refused(in, s)))
        PyErr_Clear();
    if (PyErr_Occurred()) {
        what = apr_psprintf(s->process->pool, "PythonImport %s%s%s (%s)",
                            imp->module, imp->function ? "::" : "",
                            imp->function ? imp->function : "", imp->where);
        mp_log_exception(MPLOG_IMPORT_ERROR, NULL, s, what);
    }
    Py_XDECREF(mod);
    Py_XDECREF(attrs);
    Py_XDECREF(fn);
    Py_XDECREF(res);
    mp_interp_leave(in);
    return again;
}

/* PythonInterpreterGIL auto replaced the interpreter of `last`: its lines
 * run again in the new one, from the first: the earlier ones ran in the
 * old one. */
static void rerun_imports(server_rec *main_server, const mp_import *last)
{
    for (server_rec *s = main_server; s; s = s->next) {
        const apr_array_header_t *a = mp_srv_conf(s)->imports;
        for (int i = 0; a && i < a->nelts; i++) {
            const mp_import *imp = &APR_ARRAY_IDX(a, i, mp_import);
            if (!strcmp(imp->interp, last->interp))
                run_import(s, imp);
            if (imp == last)
                return;
        }
    }
}

void mp_run_imports(server_rec *main_server)
{
    for (server_rec *s = main_server; s; s = s->next) {
        const apr_array_header_t *a = mp_srv_conf(s)->imports;
        for (int i = 0; a && i < a->nelts; i++)
            if (run_import(s, &APR_ARRAY_IDX(a, i, mp_import)))
                rerun_imports(main_server, &APR_ARRAY_IDX(a, i, mp_import));
    }
}
