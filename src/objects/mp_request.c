/* The request object: mod_python 3.5's names and behaviour over
 * request_rec.  One per (request, interpreter), reused across phases.  It
 * touches request_rec only through its scope (mp_scope): in the thread
 * serving the request, while the request lasts.  Once the request is over,
 * if nothing else holds it, it is emptied and kept for a later request.
 * It is not tracked by the GC while it serves a request or waits for
 * reuse (gc.get_objects() must not lead other code to it); an ended one
 * that something still holds is, so that cycles through it are freed. */
#include "objects/mp_objects.h"
#include "objects/mp_body.h"
#include "objects/mp_req_http.h"
#include "objects/mp_req_wsgi.h"
#include "objects/mp_hlist.h"
#include "objects/mp_finfo.h"
#include "objects/mp_req_filter.h"

#include "http_core.h"

#include <structmember.h>

APLOG_USE_MODULE(python);

static int req_clear(struct mp_request *self);

/* request_rec's tables as attributes: field, headers (CR/LF refused). */
#define REQ_TABLES(X) \
    X(headers_in, 1) X(headers_out, 1) X(err_headers_out, 1) \
    X(subprocess_env, 0) X(notes, 0)

#define X(field, headers) TABLE_##field,
enum { REQ_TABLES(X) NTABLES };
#undef X

struct mp_request {
    PyObject_HEAD
    mp_scope *scope;         /* the request_rec, while it lasts */
    PyObject *dict;          /* arbitrary attributes: req.foo = ... */
    PyObject *tables[NTABLES]; /* by TABLE_headers_in... (REQ_TABLES) */
    PyObject *server, *connection;
    PyObject *phase;         /* "PythonHandler" or None */
    PyObject *interpreter;
    PyObject *conf[2];       /* get_config(), get_options(): made once per
                                request, then the same table (3.5's were
                                live; these are this request's own) */
    mp_imp_request imp;      /* importer: one module per path per request */
    mp_body body;            /* req.read() and co. (mp_body.c) */
    mp_req_wsgi wsgi;        /* mp_req_wsgi.c's members */
    mp_pending pending;      /* given back at the request's end */
};

/* Python 3.11 specialises `req.write(...)` (LOAD_METHOD) only on an
 * object whose __dict__ exists, 3.12 and later only on one without: on
 * 3.11 every request object has one from the start, kept empty between
 * requests, so that a handler's method calls stay on the fast path (about
 * 300 instructions a request for a hello world). */
#if PY_VERSION_HEX < 0x030C0000
#define MP_EAGER_DICT 1
#endif

/* The object's emptied __dict__ to keep across requests, taken out of it;
 * NULL when there is none to keep. */
static PyObject *dict_to_keep(mp_request *self)
{
#ifdef MP_EAGER_DICT
    PyObject *d = self->dict;

    if (d && Py_REFCNT(d) == 1 && PyDict_CheckExact(d)) {
        self->dict = NULL;
        PyDict_Clear(d);
        return d;
    }
#endif
    (void)self;
    return NULL;
}

static int dict_ensure(mp_request *self)
{
#ifdef MP_EAGER_DICT
    if (!self->dict && !(self->dict = PyDict_New()))
        return -1;
#endif
    (void)self;
    return 0;
}

/* Everything a request leaves behind, so that the object can serve
 * another request; `interpreter`, the GC tracking and an empty __dict__
 * stay. */
static void req_reset(mp_request *self)
{
    PyObject *phase = self->phase, *dict = dict_to_keep(self);

    req_clear(self);
    self->dict = dict;
    mp_body_release(&self->body);
    memset(&self->wsgi, 0, sizeof(self->wsgi));
    Py_INCREF(Py_None);
    self->phase = Py_None;
    Py_DECREF(phase);
}

/* An ended request's object: tracked by the GC from now on, and given up. */
static void req_give_up(PyObject *req)
{
    if (!PyObject_GC_IsTracked(req))
        PyObject_GC_Track(req);
    Py_DECREF(req);
}

/* Request objects of ended requests, kept per interpreter for reuse. */
#define MP_SPARE_REQUESTS 16

typedef struct mp_spares {
    PyObject *objs[MP_SPARE_REQUESTS];
    int n;
} mp_spares;

static mp_spares *spares_of(mp_interp *in)
{
    mp_pystate *st = mp_pystate_of(in);

    if (!st->spares && !(st->spares = calloc(1, sizeof(*st->spares))))
        PyErr_NoMemory();
    return st->spares;
}

static PyObject *request_new(request_rec *r, mp_interp *in)
{
    mp_spares *sp = spares_of(in);
    mp_request *self;

    if (!sp)
        return NULL;
    while (sp->n) {
        self = (mp_request *)sp->objs[--sp->n];
        /* nothing can have taken a reference since (spares are out of the
         * GC's reach): checked all the same, it is cheap */
        if (Py_REFCNT(self) != 1) {
            req_give_up((PyObject *)self);
            continue;
        }
        if (mp_scope_renew(&self->scope, r) < 0 || dict_ensure(self) < 0) {
            Py_DECREF(self);
            return NULL;
        }
        return (PyObject *)self;
    }
    if (!(self = PyObject_GC_New(mp_request, mp_pystate_of(in)->request_type)))
        return NULL;
    if (!(self->scope = mp_scope_new(r))) {
        PyObject_GC_Del(self);
        return NULL;
    }
    self->dict = NULL;
    self->conf[0] = self->conf[1] = NULL;
    memset(self->tables, 0, sizeof(self->tables));
    self->server = self->connection = NULL;
    self->phase = Py_None;
    Py_INCREF(Py_None);
    self->interpreter = mp_pystate_of(in)->name;
    Py_INCREF(self->interpreter);
    memset(&self->imp, 0, sizeof(self->imp));
    memset(&self->body, 0, sizeof(self->body));
    memset(&self->wsgi, 0, sizeof(self->wsgi));
    if (dict_ensure(self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

void mp_request_release(mp_interp *in, mp_pending *p)
{
    PyObject *req = (PyObject *)((char *)p - offsetof(mp_request, pending));
    mp_spares *sp = mp_pystate_of(in)->spares;  /* made by request_new() */

    /* Only an object nobody else holds is reused, checked again after the
     * reset: what it drops may run code (__del__) that takes a reference,
     * or even serves a subrequest that takes or returns spares. */
    if (Py_REFCNT(req) == 1 && sp->n < MP_SPARE_REQUESTS) {
        req_reset((mp_request *)req);
        if (Py_REFCNT(req) == 1 && sp->n < MP_SPARE_REQUESTS) {
            sp->objs[sp->n++] = req;
            return;
        }
    }
    req_give_up(req);
}

/* ------------------------------------------------------------ per request */

/* One request object per (request_rec, interpreter), released when the
 * request pool goes. */
typedef struct mp_reqobj {
    mp_interp *interp;
    PyObject *req;
    struct mp_reqobj *next;
} mp_reqobj;

/* What mod_python keeps per request (r->request_config): its request
 * objects and the handlers added with req.add_handler(). */
typedef struct {
    mp_reqobj *objs;
    apr_array_header_t *added[MP_NPHASES];
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

/* The request is over: its objects say so from now on, and are released
 * at the next entry into their interpreter (no GIL here). */
static apr_status_t reqobj_release(void *data)
{
    mp_reqobj *o = data;

    mp_scope_end(((mp_request *)o->req)->scope);
    mp_interp_release_later(o->interp, &((mp_request *)o->req)->pending);
    o->req = NULL;
    return APR_SUCCESS;
}

PyObject *mp_request_of(request_rec *r, mp_interp *in)
{
    mp_reqstate *st = reqstate(r);
    mp_reqobj *o;

    for (o = st->objs; o; o = o->next)
        if (o->interp == in) {
            mp_scope_adopt(((mp_request *)o->req)->scope);
            return o->req;
        }
    o = apr_pcalloc(r->pool, sizeof(*o));
    if (!(o->req = request_new(r, in)))
        return NULL;
    o->interp = in;
    o->next = st->objs;
    st->objs = o;
    apr_pool_cleanup_register(r->pool, o, reqobj_release, apr_pool_cleanup_null);
    return o->req;
}

const apr_array_header_t *mp_request_added(const request_rec *r, mp_phase phase)
{
    const mp_reqstate *st = ap_get_module_config(r->request_config, &python_module);

    return st && st->added[phase] && st->added[phase]->nelts ? st->added[phase] : NULL;
}

/* Where req.add_handler()'s module is looked for: `dir` made absolute
 * and canonical with a trailing '/' (3.5), or else the directory of the
 * handler calling it, so that a module beside it is found.  "" when
 * there is neither; NULL with OSError. */
static const char *handler_dir(request_rec *r, const char *dir)
{
    mp_context *ctx = mp_context_current();
    char *canon;
    apr_status_t rv;

    if (!dir)
        return ctx && ctx->handler_dir ? ctx->handler_dir : "";
    if ((rv = apr_filepath_merge(&canon, NULL, dir, APR_FILEPATH_TRUENAME, r->pool))) {
        PyErr_Format(PyExc_OSError, "add_handler: directory '%s': error %d", dir, rv);
        return NULL;
    }
    return canon[0] && canon[strlen(canon) - 1] == '/' ? canon
                                                       : apr_pstrcat(r->pool, canon, "/", NULL);
}

/* req.add_handler(): run `spec` later in this request, in phase `phase`. */
static int add_handler(request_rec *r, const char *phase, const char *spec,
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
    if (!(h->directory = handler_dir(r, dir))) {
        st->added[i]->nelts--;
        return -1;
    }
    if (!*h->directory)
        h->directory = NULL;
    return 0;
}

void mp_request_set_phase(PyObject *req, PyObject *phase)
{
    Py_INCREF(phase);
    Py_XSETREF(((mp_request *)req)->phase, phase);
}

mp_imp_request *mp_request_importer_state(PyObject *req)
{
    return &((mp_request *)req)->imp;
}

/* The request_rec, or NULL with RuntimeError once the request is over or
 * from a thread not serving it. */
static inline request_rec *live(mp_request *self)
{
    return mp_scope_request(self->scope);
}

request_rec *mp_request_rec(PyObject *req)
{
    return live((mp_request *)req);
}

mp_req_wsgi *mp_request_wsgi(PyObject *req)
{
    return &((mp_request *)req)->wsgi;
}

/* ------------------------------------------------------------ output */

/* Small unflushed writes only append to httpd's buffer: giving the GIL up
 * for them would cost more (a GIL hand-off per write) than it saves. */
#define MP_WRITE_KEEP_GIL 8192

/* ap_rwrite() takes an int length: more is written in pieces. */
static int write_all(request_rec *r, const char *p, Py_ssize_t len)
{
    enum { PIECE = 1 << 30 };
    int rc = 0;

    while (len > 0 && rc >= 0) {
        int n = len > PIECE ? PIECE : (int)len;
        rc = ap_rwrite(p, n, r);
        p += n;
        len -= n;
    }
    return rc;
}

/* write(data, flush=1); fast-call: a hello world calls it once per request. */
static PyObject *req_write(mp_request *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer buf;
    long flush = 1;
    int rc;
    request_rec *r = live(self);
    mp_interp *in = NULL;

    if (!r)
        return NULL;
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "write() takes 1 or 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (nargs > 1 && (flush = PyLong_AsLong(args[1])) == -1 && PyErr_Occurred())
        return NULL;
    if (mp_data_buffer(args[0], &buf, "write()") < 0)
        return NULL;
    if (flush || buf.len >= MP_WRITE_KEEP_GIL)
        in = mp_interp_suspend();
    rc = write_all(r, buf.buf, buf.len);
    if (rc >= 0 && flush)
        rc = ap_rflush(r);
    if (in)
        mp_interp_resume(in);
    if (rc >= 0)
        self->wsgi.bytes_queued += buf.len;
    PyBuffer_Release(&buf);
    if (rc < 0) {
        PyErr_SetString(PyExc_OSError, "Write failed, client closed connection.");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *req_flush(mp_request *self, PyObject *u)
{
    request_rec *r = live(self);
    mp_interp *in;
    int rc;

    if (!r)
        return NULL;
    in = mp_interp_suspend();
    rc = ap_rflush(r);
    mp_interp_resume(in);
    if (rc < 0) {
        PyErr_SetString(PyExc_OSError, "Flush failed, client closed connection.");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Open `path` for sendfile() and check the range against its size:
 * *len < 0 means "to the end".  NULL, or the problem (an APR error in *st
 * when that is what it is). */
static const char *sendfile_open(request_rec *r, const char *path, apr_off_t offset,
                                 apr_off_t *len, apr_file_t **fd, apr_status_t *st)
{
    apr_finfo_t fi;

    if ((*st = apr_file_open(fd, path, APR_READ | APR_SENDFILE_ENABLED, APR_OS_DEFAULT,
                             r->pool)) != APR_SUCCESS ||
        (*st = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, *fd)) != APR_SUCCESS)
        return "";
    if (fi.filetype != APR_REG)
        return apr_psprintf(r->pool, "%s is a directory or not a regular file", path);
    if (offset > fi.size)
        return apr_psprintf(r->pool, "offset %" APR_OFF_T_FMT " is past the end of %s "
                            "(%" APR_OFF_T_FMT " bytes)", offset, path, fi.size);
    if (*len < 0)
        *len = fi.size - offset;
    else if (*len > fi.size - offset)
        return apr_psprintf(r->pool, "offset %" APR_OFF_T_FMT " + length %" APR_OFF_T_FMT
                            " is past the end of %s (%" APR_OFF_T_FMT " bytes)",
                            offset, *len, path, fi.size);
    return NULL;
}

/* sendfile(path[, offset[, length]]): the bytes sent.  length -1 (the
 * default) sends the rest of the file. */
static PyObject *req_sendfile(mp_request *self, PyObject *args)
{
    const char *path, *problem;
    long long offset = 0, len = -1;
    request_rec *r = live(self);
    apr_file_t *fd;
    apr_off_t n;
    apr_size_t sent = 0;
    apr_status_t st = APR_SUCCESS;
    mp_interp *in;
    char err[120];

    if (!r || !PyArg_ParseTuple(args, "s|LL:sendfile", &path, &offset, &len))
        return NULL;
    if (offset < 0 || len < -1) {
        PyErr_Format(PyExc_ValueError, "sendfile(%s): %s %lld is negative", path,
                     offset < 0 ? "offset" : "length", offset < 0 ? offset : len);
        return NULL;
    }
    n = (apr_off_t)len;
    in = mp_interp_suspend();
    problem = sendfile_open(r, path, (apr_off_t)offset, &n, &fd, &st);
    if (!problem && n > 0)
        st = ap_send_fd(fd, r, (apr_off_t)offset, (apr_size_t)n, &sent);
    mp_interp_resume(in);
    self->wsgi.bytes_queued += sent;
    if (problem && *problem)
        PyErr_Format(PyExc_ValueError, "sendfile: %s", problem);
    else if (st != APR_SUCCESS)
        PyErr_Format(PyExc_OSError, "sendfile(%s): %s", path,
                     apr_strerror(st, err, sizeof(err)));
    return PyErr_Occurred() ? NULL : PyLong_FromSize_t(sent);
}

/* ------------------------------------------------------------ input */

static PyObject *req_read(mp_request *self, PyObject *args)
{
    Py_ssize_t n = -1;
    request_rec *r = live(self);

    if (!r || !PyArg_ParseTuple(args, "|n:read", &n))
        return NULL;
    return mp_body_read(&self->body, r, n);
}

static PyObject *req_readline(mp_request *self, PyObject *args)
{
    Py_ssize_t limit = -1;
    request_rec *r = live(self);

    if (!r || !PyArg_ParseTuple(args, "|n:readline", &limit))
        return NULL;
    return mp_body_readline(&self->body, r, limit);
}

static PyObject *req_readlines(mp_request *self, PyObject *args)
{
    Py_ssize_t hint = -1;
    request_rec *r = live(self);

    if (!r || !PyArg_ParseTuple(args, "|n:readlines", &hint))
        return NULL;
    return mp_body_readlines(&self->body, r, hint);
}

/* ------------------------------------------------------------ config */

/* The request's own copy of its configuration, made on first use: what a
 * handler writes in it stays for the rest of the request (3.5 handed out
 * the configuration itself, which every request and thread shared). */
static PyObject *conf_table(mp_request *self, int options)
{
    request_rec *r = live(self);
    const mp_dir_config *c;

    if (!r)
        return NULL;
    if (!self->conf[options]) {
        c = mp_dir_conf(r);
        self->conf[options] = mp_table_copy(mp_pystate_of_type(Py_TYPE(self)),
                                            options ? c->options : c->directives, options);
        if (!self->conf[options])
            return NULL;
    }
    Py_INCREF(self->conf[options]);
    return self->conf[options];
}

static PyObject *req_get_config(mp_request *self, PyObject *u)
{
    return conf_table(self, 0);
}

static PyObject *req_get_options(mp_request *self, PyObject *u)
{
    return conf_table(self, 1);
}

static PyObject *req_log_error(mp_request *self, PyObject *args)
{
    request_rec *r = live(self);
    return r ? mp_log_error(r->server, r, NULL, args) : NULL;
}

/* ------------------------------------------------------------ misc methods */

typedef struct {
    char *interp;
    server_rec *server;
    mp_scope *scope;
    PyObject *callable, *data;
} mp_cleanup;

static apr_status_t run_cleanup(void *arg)
{
    mp_cleanup *c = arg;
    mp_context ctx = { NULL, c->server, NULL, NULL, NULL };
    mp_interp *in = mp_interp_enter(c->interp, NULL, &ctx);

    if (!in)
        return APR_SUCCESS;
    mp_scope_adopt(c->scope);
    mp_scope_decref(c->scope);
    PyObject *r = PyObject_CallOneArg(c->callable, c->data);
    if (!r)
        mp_log_exception(MPLOG_CLEANUP_ERROR, NULL, c->server, "register_cleanup callable");
    Py_XDECREF(r);
    Py_DECREF(c->callable);
    Py_DECREF(c->data);
    mp_interp_leave(in);
    return APR_SUCCESS;
}

static PyObject *req_register_cleanup(mp_request *self, PyObject *args)
{
    PyObject *callable, *data = Py_None;  /* 3.5: callable(None) */
    request_rec *r = live(self);
    mp_cleanup *c;

    if (!r || !PyArg_ParseTuple(args, "O|O:register_cleanup", &callable, &data))
        return NULL;
    if (!PyCallable_Check(callable)) {
        PyErr_SetString(PyExc_TypeError, "register_cleanup: first argument must be callable");
        return NULL;
    }
    c = apr_palloc(r->pool, sizeof(*c));
    c->interp = apr_pstrdup(r->pool, PyUnicode_AsUTF8(self->interpreter));
    c->server = r->server;
    c->scope = self->scope;
    mp_scope_incref(c->scope);
    c->callable = callable;
    c->data = data;
    Py_INCREF(callable);
    Py_INCREF(data);
    apr_pool_cleanup_register(r->pool, c, run_cleanup, apr_pool_cleanup_null);
    Py_RETURN_NONE;
}

static PyObject *req_add_handler(mp_request *self, PyObject *args)
{
    const char *phase, *handler, *dir = NULL;
    request_rec *r = live(self);

    if (!r || !PyArg_ParseTuple(args, "ss|z:add_handler", &phase, &handler, &dir))
        return NULL;
    return add_handler(r, phase, handler, dir) < 0 ? NULL
                                                              : (Py_INCREF(Py_None), Py_None);
}

static PyMethodDef req_methods[] = {
    {"write", (PyCFunction)(void (*)(void))req_write, METH_FASTCALL, "write(data, flush=1)"},
    {"flush", (PyCFunction)req_flush, METH_NOARGS, NULL},
    {"sendfile", (PyCFunction)req_sendfile, METH_VARARGS, "sendfile(path[, offset[, len]])"},
    {"read", (PyCFunction)req_read, METH_VARARGS, "read([len]) -> bytes"},
    {"readline", (PyCFunction)req_readline, METH_VARARGS, "readline([len]) -> bytes"},
    {"readlines", (PyCFunction)req_readlines, METH_VARARGS, "readlines([sizehint])"},
    {"get_config", (PyCFunction)req_get_config, METH_NOARGS, NULL},
    {"get_options", (PyCFunction)req_get_options, METH_NOARGS, NULL},
    {"log_error", (PyCFunction)req_log_error, METH_VARARGS, "log_error(msg[, level])"},
    {"register_cleanup", (PyCFunction)req_register_cleanup, METH_VARARGS, NULL},
    {"add_handler", (PyCFunction)req_add_handler, METH_VARARGS,
     "add_handler(phase, handler[, dir])"},
    MP_REQ_HTTP_METHODS
    MP_REQ_WSGI_METHODS
    MP_REQ_FILTER_METHODS
    {NULL}
};

/* ------------------------------------------------------------ attributes */

/* String fields of request_rec as attributes, each listed once: field,
 * writable, None accepted on write (NULL in request_rec). */
#define REQ_STR_FIELDS(X) \
    X(uri, 1, 0) X(unparsed_uri, 0, 0) X(args, 1, 1) X(method, 0, 0) \
    X(protocol, 0, 0) X(hostname, 0, 0) X(filename, 1, 0) X(path_info, 1, 0) \
    X(the_request, 0, 0) X(user, 1, 1) X(handler, 1, 1) \
    X(canonical_filename, 1, 0) X(content_encoding, 0, 0) X(status_line, 1, 1) \
    X(useragent_ip, 0, 0) X(ap_auth_type, 1, 1) X(content_type, 1, 0) \
    X(range, 0, 0) X(vlist_validator, 0, 0)

/* Integer fields (int or apr_off_t): field, writable. */
#define REQ_INT_FIELDS(X) \
    X(status, 1) X(proto_num, 0) X(header_only, 0) X(method_number, 0) \
    X(bytes_sent, 0) X(sent_bodyct, 0) X(no_cache, 1) X(no_local_copy, 1) \
    X(assbackwards, 1) X(proxyreq, 1) X(chunked, 1) X(clength, 0) \
    X(remaining, 0) X(read_length, 0) X(read_chunked, 0) X(expecting_100, 0) \
    X(used_path_info, 1) X(allowed, 0) X(read_body, 0) X(eos_sent, 0)

#define X(field, w, n) STR_##field,
enum { REQ_STR_FIELDS(X) NSTR_FIELDS };
#undef X
#define X(field, w) INT_##field,
enum { REQ_INT_FIELDS(X) NINT_FIELDS };
#undef X

typedef struct {
    size_t off;
    int writable;
    int nullable;    /* None is accepted on write */
} str_field;

#define X(field, w, n) [STR_##field] = {offsetof(request_rec, field), w, n},
static const str_field str_fields[NSTR_FIELDS] = { REQ_STR_FIELDS(X) };
#undef X

static PyObject *get_str(mp_request *self, void *idx)
{
    request_rec *r = live(self);
    return r ? mp_str_from_c(*(const char **)((char *)r + str_fields[(intptr_t)idx].off))
             : NULL;
}

static int set_str(mp_request *self, PyObject *v, void *idx)
{
    const str_field *f = &str_fields[(intptr_t)idx];
    request_rec *r = live(self);
    const char *s = NULL;

    if (!r)
        return -1;
    if (!f->writable) {
        PyErr_SetString(PyExc_AttributeError, "attribute is read-only");
        return -1;
    }
    if (!v || (v == Py_None && !f->nullable)) {
        PyErr_SetString(PyExc_TypeError, "attribute cannot be deleted or None");
        return -1;
    }
    if (v != Py_None && !(s = mp_str_to_c(r->pool, v, "request attribute", 1)))
        return -1;
    if (f == &str_fields[STR_content_type]) {
        ap_set_content_type(r, s);
        self->wsgi.content_type_set = 1;
    } else
        *(const char **)((char *)r + f->off) = s;
    return 0;
}

typedef struct {
    size_t off;
    int size;        /* sizeof the field */
    int writable;
} int_field;

#define X(field, w) \
    [INT_##field] = {offsetof(request_rec, field), sizeof(((request_rec *)0)->field), w},
static const int_field int_fields[NINT_FIELDS] = { REQ_INT_FIELDS(X) };
#undef X

static PyObject *get_int(mp_request *self, void *idx)
{
    const int_field *f = &int_fields[(intptr_t)idx];
    request_rec *r = live(self);
    const char *p;

    if (!r)
        return NULL;
    p = (const char *)r + f->off;
    return PyLong_FromLongLong(f->size == sizeof(int) ? *(const int *)p
                                                      : *(const apr_off_t *)p);
}

static int set_int(mp_request *self, PyObject *v, void *idx)
{
    const int_field *f = &int_fields[(intptr_t)idx];
    request_rec *r = live(self);
    long n;

    if (!r)
        return -1;
    if (!f->writable || !v) {
        PyErr_SetString(PyExc_AttributeError, "attribute is read-only");
        return -1;
    }
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "an int is required, not %s", Py_TYPE(v)->tp_name);
        return -1;
    }
    /* Any C int, status too, as in 3.5: httpd answers 500 for a status it
     * cannot send (tried from 0, -1 and 99 to 600 and INT_MAX). */
    n = PyLong_AsLong(v);
    if ((n == -1 && PyErr_Occurred()) || n < INT_MIN || n > INT_MAX) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "value %R out of range", v);
        return -1;
    }
    *(int *)((char *)r + f->off) = (int)n;
    return 0;
}

typedef struct {
    size_t off;
    int headers;
} table_field;

#define X(field, h) [TABLE_##field] = {offsetof(request_rec, field), h},
static const table_field table_fields[NTABLES] = { REQ_TABLES(X) };
#undef X

static PyObject *get_table(mp_request *self, void *idx)
{
    const table_field *f = &table_fields[(intptr_t)idx];
    request_rec *r = live(self);
    apr_table_t *t;
    int i = (int)(intptr_t)idx;

    if (!r)
        return NULL;
    t = *(apr_table_t **)((char *)r + f->off);
    /* httpd may swap a table (internal redirect): follow it. */
    if (!self->tables[i] || mp_table_get(self->tables[i]) != t)
        Py_XSETREF(self->tables[i], mp_table_wrap(mp_pystate_of_type(Py_TYPE(self)), t,
                                                  self->scope, r->pool, f->headers));
    Py_XINCREF(self->tables[i]);
    return self->tables[i];
}

static PyObject *get_server(mp_request *self, void *u)
{
    request_rec *r = live(self);

    if (!r)
        return NULL;
    if (!self->server &&
        !(self->server = mp_server_new(mp_pystate_of_type(Py_TYPE(self)), r->server)))
        return NULL;
    Py_INCREF(self->server);
    return self->server;
}

static PyObject *get_connection(mp_request *self, void *u)
{
    if (!live(self))
        return NULL;
    if (!self->connection &&
        !(self->connection = mp_conn_new(mp_pystate_of_type(Py_TYPE(self)), self->scope)))
        return NULL;
    Py_INCREF(self->connection);
    return self->connection;
}

static PyObject *get_obj(mp_request *self, void *which)
{
    PyObject *o = which ? self->interpreter : self->phase;
    Py_INCREF(o);
    return o;
}

static PyObject *get_time(mp_request *self, void *which)
{
    request_rec *r = live(self);

    if (!r)
        return NULL;
    return PyFloat_FromDouble((which ? r->mtime : r->request_time) / (double)APR_USEC_PER_SEC);
}

static PyGetSetDef req_getset[] = {
#define X(field, w, n) \
    {#field, (getter)get_str, (setter)set_str, NULL, (void *)(intptr_t)STR_##field},
    REQ_STR_FIELDS(X)
#undef X
#define X(field, w) \
    {#field, (getter)get_int, (setter)set_int, NULL, (void *)(intptr_t)INT_##field},
    REQ_INT_FIELDS(X)
#undef X
#define X(field, h) {#field, (getter)get_table, NULL, NULL, (void *)(intptr_t)TABLE_##field},
    REQ_TABLES(X)
#undef X
    MP_REQ_HTTP_GETSET
    MP_REQ_WSGI_GETSET
    MP_REQ_HLIST_GETSET
    MP_REQ_FINFO_GETSET
    {"server", (getter)get_server, NULL, NULL, NULL},
    {"connection", (getter)get_connection, NULL, NULL, NULL},
    {"phase", (getter)get_obj, NULL, NULL, (void *)0},
    {"interpreter", (getter)get_obj, NULL, NULL, (void *)1},
    {"request_time", (getter)get_time, NULL, NULL, (void *)0},
    {"mtime", (getter)get_time, NULL, NULL, (void *)1},
    {NULL}
};

/* ------------------------------------------------------------ lifecycle */

static int req_traverse(mp_request *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->dict);
    Py_VISIT(self->conf[0]);
    Py_VISIT(self->conf[1]);
    for (int i = 0; i < NTABLES; i++)
        Py_VISIT(self->tables[i]);
    Py_VISIT(self->server);      /* their attributes may refer back */
    Py_VISIT(self->connection);
    return mp_imp_request_traverse(&self->imp, visit, arg);
}

static int req_clear(mp_request *self)
{
    Py_CLEAR(self->dict);
    Py_CLEAR(self->conf[0]);
    Py_CLEAR(self->conf[1]);
    for (int i = 0; i < NTABLES; i++)
        Py_CLEAR(self->tables[i]);
    Py_CLEAR(self->server);
    Py_CLEAR(self->connection);
    mp_imp_request_clear(&self->imp);
    return 0;
}

static void req_dealloc(mp_request *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    req_clear(self);
    Py_XDECREF(self->phase);
    Py_XDECREF(self->interpreter);
    mp_body_release(&self->body);
    mp_scope_decref(self->scope);
    PyObject_GC_Del(self);
    Py_DECREF(type);
}

static PyObject *req_repr(mp_request *self)
{
    request_rec *r = live(self);

    if (r)
        return PyUnicode_FromFormat("<mod_python request %s %s>", r->method, r->uri);
    PyErr_Clear();
    return PyUnicode_FromString("<mod_python request (over or of another thread)>");
}

static PyMemberDef req_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(mp_request, dict), READONLY},
    {NULL}
};

static PyType_Slot req_slots[] = {
    {Py_tp_doc, "the request being served"},
    {Py_tp_dealloc, req_dealloc},
    {Py_tp_traverse, req_traverse},
    {Py_tp_clear, req_clear},
    {Py_tp_repr, req_repr},
    {Py_tp_methods, req_methods},
    {Py_tp_getset, req_getset},
    {Py_tp_members, req_members},
    MP_REQ_WSGI_SLOTS
    {0, NULL}
};

static PyType_Spec req_spec = {
    .name = "mod_python.mp_request",   /* __name__ mp_request, as in 3.5 */
    .basicsize = sizeof(mp_request),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = req_slots,
};

PyTypeObject *mp_request_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &req_spec, NULL);
}
