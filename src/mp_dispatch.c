/* Running handlers: choose the interpreter, find the request object, apply
 * PythonPath, resolve `module::object` through the importer, call it, and
 * turn what it returns (or raises) into an httpd status. */
#include "mod_python.h"
#include "mp_importer.h"
#include "mp_interp.h"

#include "http_core.h"
#include "http_request.h"

APLOG_USE_MODULE(python);

/* One request object per (request_rec, interpreter), kept in the request
 * config and released when the request pool goes. */
typedef struct mp_reqobj {
    mp_interp *interp;
    PyObject *req;
    struct mp_reqobj *next;
} mp_reqobj;

/* What mod_python keeps per request: its request objects and the handlers
 * added with req.add_handler(). */
typedef struct {
    mp_reqobj *objs;
    apr_array_header_t *added[MP_NPHASES];
    int init_ran;            /* PythonInitHandler ran at post_read_request */
} mp_reqstate;

static mp_reqstate *reqstate(request_rec *r)
{
    mp_reqstate *st = ap_get_module_config(r->request_config, &python_module);

    if (!st) {
        st = apr_pcalloc(r->pool, sizeof(*st));
        ap_set_module_config(r->request_config, &python_module, st);
    }
    return st;
}

/* ---------------------------------------------------- interpreter choice */

/* The name of the interpreter to run r's handlers in.  A name made from a
 * request path comes with the virtual host's as *fallback, for when
 * PythonInterpLimit is reached (mp_interp_enter); else *fallback is NULL. */
static const char *interp_name(request_rec *r, const mp_dir_config *c,
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

/* ---------------------------------------------------------- PythonPath */

/* PythonPath is evaluated once per distinct string per interpreter, under
 * a lock so that two threads cannot both extend sys.path. */
static int apply_python_path(mp_interp *in, const char *expr, request_rec *r,
                             server_rec *s)
{
    PyObject *key, *val = NULL, *syspath;
    int rc = -1, done;

    if (!expr)
        return 0;
    if (!(key = PyUnicode_FromString(expr)))
        goto out;
    if ((done = PySet_Contains(in->path_done, key)) != 0) {
        rc = done > 0 ? 0 : -1;
        goto out;
    }
    if (!PyThread_acquire_lock(in->path_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(in->path_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    if ((done = PySet_Contains(in->path_done, key)) == 0) {
        val = PyRun_String(expr, Py_eval_input, PyModule_GetDict(in->apache),
                           PyModule_GetDict(in->apache));
        if (val && !PyList_Check(val))
            PyErr_Format(PyExc_TypeError, "PythonPath must evaluate to a list, "
                         "not %s: %s", Py_TYPE(val)->tp_name, expr);
        else if (val && (syspath = PySys_GetObject("path")) &&
                 PyList_SetSlice(syspath, 0, PyList_GET_SIZE(syspath), val) == 0)
            done = PySet_Add(in->path_done, key) == 0;
    }
    PyThread_release_lock(in->path_lock);
    rc = done > 0 ? 0 : -1;
out:
    if (rc < 0)
        mp_log_exception(r, s, "PythonPath");
    Py_XDECREF(key);
    Py_XDECREF(val);
    return rc;
}

/* ------------------------------------------------------ request objects */

/* The request is over: the object stops touching request_rec now, and is
 * released the next time its interpreter is entered. */
static apr_status_t reqobj_release(void *data)
{
    mp_reqobj *o = data;

    mp_request_detach(o->req);
    mp_interp_release_later(o->interp, o->req);
    o->req = NULL;
    return APR_SUCCESS;
}

/* The request object of `r` in interpreter `in` (borrowed). */
static PyObject *request_object(mp_interp *in, request_rec *r)
{
    mp_reqstate *st = reqstate(r);
    mp_reqobj *o;

    for (o = st->objs; o; o = o->next)
        if (o->interp == in) {
            mp_request_adopt(o->req);
            return o->req;
        }
    o = apr_pcalloc(r->pool, sizeof(*o));
    if (!(o->req = mp_request_new(r, in)))
        return NULL;
    o->interp = in;
    o->next = st->objs;
    st->objs = o;
    apr_pool_cleanup_register(r->pool, o, reqobj_release, apr_pool_cleanup_null);
    return o->req;
}

/* ------------------------------------------------------ calling handlers */

/* A handler's names as Python objects.  Made once per interpreter for a
 * configured handler (kept in the interpreter by handler id), per call for
 * one added by req.add_handler(). */
typedef struct mp_handler_names {
    PyObject *module;   /* "mod" */
    PyObject *path;     /* [handler directory], or NULL */
    PyObject *attrs;    /* ("a", "b") for "mod::a.b" */
} mp_handler_names;

static void names_clear(mp_handler_names *n)
{
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

/* The cached names of configured handler `h` in `in` (borrowed), made on
 * first use; NULL with an exception if they cannot be made. */
static const mp_handler_names *names_cached(mp_interp *in, const mp_handler *h)
{
    mp_handler_names *n;

    if (h->id >= in->n_handler_names) {
        unsigned cap = h->id + 16;
        mp_handler_names **a = realloc(in->handler_names, cap * sizeof(*a));
        if (!a)
            return (mp_handler_names *)PyErr_NoMemory();
        memset(a + in->n_handler_names, 0, (cap - in->n_handler_names) * sizeof(*a));
        in->handler_names = a;
        in->n_handler_names = cap;
    }
    if ((n = in->handler_names[h->id]))
        return n;
    if (!(n = malloc(sizeof(*n))))
        return (mp_handler_names *)PyErr_NoMemory();
    if (names_make(n, h) < 0) {
        free(n);
        return NULL;
    }
    return in->handler_names[h->id] = n;
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

/* getattr along the names. New reference. */
static PyObject *resolve_object(PyObject *mod, PyObject *attrs)
{
    PyObject *obj = mod, *next;

    Py_INCREF(obj);
    for (Py_ssize_t i = 0; obj && i < PyTuple_GET_SIZE(attrs); i++) {
        next = get_attr(obj, PyTuple_GET_ITEM(attrs, i));
        Py_DECREF(obj);
        obj = next;
    }
    return obj;
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
    PyObject *type, *value, *tb;
    int rc;

    if (res && PyLong_Check(res))
        return result_code(h, res, "returned");
    if (res) {
        PyErr_Format(PyExc_TypeError, "handler %s returned %R, not an int "
                     "(apache.OK, apache.DECLINED or an HTTP status)", h->spec, res);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!PyErr_ExceptionMatches(in->server_return))
        return HTTP_INTERNAL_SERVER_ERROR;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    rc = server_return_code(r, h, value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return rc;
}

static int call_handler(mp_interp *in, request_rec *r, PyObject *req,
                        const mp_dir_config *c, mp_phase phase, const mp_handler *h)
{
    mp_handler_names own;
    const mp_handler_names *n = h->id ? names_cached(in, h)
                                      : names_make(&own, h) == 0 ? &own : NULL;
    PyObject *mod = NULL, *obj = NULL, *res = NULL;
    int rc = HTTP_INTERNAL_SERVER_ERROR;

    if (n)
        mod = mp_importer_import(in->importer, n->module, -1, -1, n->path);
    if (mod)
        obj = resolve_object(mod, n->attrs);
    if (obj)
        res = PyObject_CallOneArg(obj, req);
    if (n)
        rc = handler_result(in, r, h, res);
    if (PyErr_Occurred())
        rc = mp_report_handler_error(r, c, phase, h);
    if (n == &own)
        names_clear(&own);
    Py_XDECREF(mod);
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
    for (int i = 0; i < 3; i++)
        if (mp_phases[phase].go_on[i] == rc)
            return 1;
    return 0;
}

static int run_list(mp_interp *in, request_rec *r, const mp_dir_config *c,
                    const apr_array_header_t *list, mp_phase phase, mp_context *ctx)
{
    int rc = DECLINED;

    if (!(ctx->req = request_object(in, r))) {
        mp_log_exception(r, NULL, "mod_python: cannot create the request object");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apply_python_path(in, c->python_path, r, r->server) < 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    mp_request_set_phase(ctx->req, in->phase_names[phase]);
    /* The configured handlers, then those added by req.add_handler(), even
     * while this phase runs (nelts is read at every step). */
    for (int pass = 0; pass < 2; pass++) {
        const apr_array_header_t *l = pass ? reqstate(r)->added[phase] : list;
        for (int i = 0; l && i < l->nelts; i++) {
            const mp_handler *h = &APR_ARRAY_IDX(l, i, mp_handler);
            if (!ext_matches(r, h->exts))
                continue;
            ctx->handler_dir = h->directory;
            rc = call_handler(in, r, ctx->req, c, phase, h);
            if (!goes_on(phase, rc))
                goto done;
        }
    }
done:
    mp_request_set_phase(ctx->req, Py_None);
    return rc;
}

int mp_request_add_handler(request_rec *r, const char *phase, const char *spec,
                           const char *dir)
{
    mp_reqstate *st = reqstate(r);
    mp_handler *h;
    int i;

    for (i = 0; i < MP_NPHASES; i++)
        if (i != MP_CLEANUP && !strcmp(phase, mp_phases[i].directive))
            break;
    if (i == MP_NPHASES) {
        PyErr_Format(PyExc_IndexError, "Invalid phase: %s", phase);
        return -1;
    }
    if (!st->added[i])
        st->added[i] = apr_array_make(r->pool, 2, sizeof(mp_handler));
    h = apr_array_push(st->added[i]);
    memset(h, 0, sizeof(*h));
    h->spec = apr_pstrdup(r->pool, spec);
    if (mp_parse_handler_spec(r->pool, h->spec, mp_phases[i].callable, &h->module,
                              &h->object) < 0) {
        st->added[i]->nelts--;
        PyErr_Format(PyExc_ValueError, "invalid handler '%s' (expected module[::object])", spec);
        return -1;
    }
    if (dir)
        h->directory = dir[0] && dir[strlen(dir) - 1] == '/'
                       ? apr_pstrdup(r->pool, dir) : apr_pstrcat(r->pool, dir, "/", NULL);
    return 0;
}

static const apr_array_header_t *first_list(request_rec *r, const mp_dir_config *c,
                                            mp_phase phase)
{
    const apr_array_header_t *l = c ? c->handlers[phase] : NULL;
    const mp_reqstate *st;

    if (l && l->nelts)
        return l;
    st = ap_get_module_config(r->request_config, &python_module);
    return st && st->added[phase] && st->added[phase]->nelts ? st->added[phase] : NULL;
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
    int rc;

    if (phase == MP_HANDLER && (!r->handler || (strcmp(r->handler, "mod_python") &&
                                                strcmp(r->handler, "python-program"))))
        return DECLINED;
    name = interp_name(r, c, APR_ARRAY_IDX(list, 0, mp_handler).directory, &fallback);
    in = mp_interp_enter(name, fallback, r->server);
    if (!in)
        return HTTP_INTERNAL_SERVER_ERROR;
    mp_context_push(&ctx);
    rc = run_list(in, r, c, c ? c->handlers[phase] : NULL, phase, &ctx);
    mp_context_pop(&ctx);
    mp_interp_leave(in);
    if (phase == MP_AUTHEN && rc == OK && !r->user) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PythonAuthenHandler returned "
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

int mp_run_init_phase(request_rec *r, int at_post_read)
{
    const mp_reqstate *st;

    if (at_post_read) {
        if (!mp_dir_conf(r)->handlers[MP_INIT])
            return DECLINED;
        reqstate(r)->init_ran = 1;
    } else if ((st = ap_get_module_config(r->request_config, &python_module)) &&
               st->init_ran) {
        return DECLINED;
    }
    return mp_run_phase(r, MP_INIT);
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

static void run_import(server_rec *s, const mp_import *imp)
{
    mp_context ctx = { NULL, s, NULL, NULL, NULL };
    mp_interp *in = mp_interp_enter(imp->interp, NULL, s);
    PyObject *name, *mod = NULL, *attrs = NULL, *fn = NULL, *res = NULL;
    const char *what;

    if (!in)
        return;
    mp_context_push(&ctx);
    if (apply_python_path(in, mp_srv_conf(s)->conf->python_path, NULL, s) == 0 &&
        (name = PyUnicode_FromString(imp->module))) {
        mod = mp_importer_import(in->importer, name, -1, -1, NULL);
        Py_DECREF(name);
    }
    if (mod && imp->function && (attrs = split_dotted(imp->function)) &&
        (fn = resolve_object(mod, attrs)))
        res = PyObject_CallNoArgs(fn);
    if (PyErr_Occurred()) {
        what = apr_psprintf(s->process->pool, "PythonImport %s%s%s (%s)",
                            imp->module, imp->function ? "::" : "",
                            imp->function ? imp->function : "", imp->where);
        mp_log_exception(NULL, s, what);
    }
    Py_XDECREF(mod);
    Py_XDECREF(attrs);
    Py_XDECREF(fn);
    Py_XDECREF(res);
    mp_context_pop(&ctx);
    mp_interp_leave(in);
}

void mp_run_imports(server_rec *main_server, apr_pool_t *p)
{
    for (server_rec *s = main_server; s; s = s->next) {
        const apr_array_header_t *a = mp_srv_conf(s)->imports;
        for (int i = 0; a && i < a->nelts; i++)
            run_import(s, &APR_ARRAY_IDX(a, i, mp_import));
    }
    (void)p;
}
