/* The filter object (3.5's mp_filter): what a Python input or output filter
 * is given at each call.  It reads the stream in pieces (an output
 * filter the brigade httpd passed, an input filter what it fetches from
 * upstream), writes to what it hands on, and touches httpd only during
 * its call, in the thread making it (its own scope): kept and used later,
 * or from another thread, it raises RuntimeError.  The GIL is given up
 * while the rest of the filter chain runs. */
#include "objects/mp_filter.h"

/* read() without a length on an output filter returns at most this much:
 * a 1 GB static file comes as one bucket, and is read in pieces.  The
 * filter is called again until it has read everything (httpd/mp_filter.c). */
#define MP_FILTER_READ_MAX ((apr_size_t)64 * 1024)
/* An output filter's writes are passed on once they reach this much, so
 * that a filter writing a large body does not hold it all. */
#define MP_FILTER_PASS_AT ((apr_size_t)64 * 1024)

typedef struct {
    PyObject_HEAD
    mp_scope *scope;         /* this call's: ended with it */
    mp_filter_state *fs;     /* NULL once the call is over */
    PyObject *req;           /* filter.req (writable, as in 3.5) */
    int is_input;
    int closed;              /* fs->closed when the call ended */
    int softspace;
} mp_filter;

mp_filter_state *mp_filter_state_new(request_rec *r, const mp_handler *h, const char *name,
                                     int is_input)
{
    mp_filter_state *fs = apr_pcalloc(r->pool, sizeof(*fs));
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;

    fs->h = h;
    fs->name = name;
    fs->is_input = is_input;
    fs->pending = apr_brigade_create(r->pool, ba);
    fs->out = apr_brigade_create(r->pool, ba);
    fs->tmp = apr_brigade_create(r->pool, ba);
    return fs;
}

PyObject *mp_filter_new(mp_pystate *st, mp_filter_state *fs, PyObject *req)
{
    mp_filter *self = PyObject_GC_New(mp_filter, st->filter_type);

    if (!self)
        return NULL;
    if (!(self->scope = mp_scope_new(fs->f->r))) {
        self->fs = NULL;
        self->req = NULL;
        Py_DECREF(self);
        return NULL;
    }
    self->fs = fs;
    self->req = req;
    Py_XINCREF(req);
    self->is_input = fs->is_input;
    self->closed = fs->closed;
    self->softspace = 0;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

void mp_filter_end(PyObject *o)
{
    mp_filter *self = (mp_filter *)o;

    mp_scope_end(self->scope);
    self->closed = self->fs->closed;
    self->fs = NULL;
}

/* The state, during the call and in its thread; else NULL with
 * RuntimeError. */
static mp_filter_state *live(mp_filter *self)
{
    if (mp_scope_request(self->scope))
        return self->fs;
    if (!self->fs) {
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError, "the filter call is over: a filter object "
                        "can only be used during the call it was given to");
    }
    return NULL;
}

static mp_filter_state *open_state(mp_filter *self)
{
    mp_filter_state *fs = live(self);

    if (fs && fs->closed) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed filter");
        return NULL;
    }
    return fs;
}

static PyObject *os_error(const char *what, apr_status_t rv)
{
    char buf[120];

    PyErr_Format(PyExc_OSError, "%s: %s", what, apr_strerror(rv, buf, sizeof(buf)));
    return NULL;
}

/* ------------------------------------------------------------ the chain */

apr_status_t mp_filter_pass_out(mp_filter_state *fs, int flush)
{
    apr_status_t rv;

    if (flush)
        APR_BRIGADE_INSERT_TAIL(fs->out, apr_bucket_flush_create(fs->out->bucket_alloc));
    if (APR_BRIGADE_EMPTY(fs->out))
        return APR_SUCCESS;
    fs->sent = 1;
    fs->out_len = 0;
    rv = ap_pass_brigade(fs->f->next, fs->out);
    apr_brigade_cleanup(fs->out);
    return rv;
}

/* The same from Python: the GIL given up meanwhile.  -1 with OSError. */
static int pass_out(mp_filter_state *fs, int flush)
{
    mp_interp *in = mp_interp_suspend();
    apr_status_t rv = mp_filter_pass_out(fs, flush);

    mp_interp_resume(in);
    fs->rc = rv;
    if (rv == APR_SUCCESS)
        return 0;
    os_error("Write failed, client closed connection", rv);
    return -1;
}

/* Input: one brigade from upstream, in the mode and size the reader asked
 * for (bytes or a line), into `bb`, the GIL given up.  -1 with OSError. */
static int fetch(mp_filter_state *fs, apr_bucket_brigade *bb)
{
    mp_interp *in = mp_interp_suspend();
    apr_status_t rv = ap_get_brigade(fs->f->next, bb, fs->mode, fs->block,
                                     fs->readbytes > 0 ? fs->readbytes : AP_IOBUFSIZE);

    mp_interp_resume(in);
    fs->rc = rv;
    fs->fetched = 1;
    if (rv == APR_SUCCESS || APR_STATUS_IS_EAGAIN(rv))
        return 0;
    os_error("Input filter read error", rv);
    return -1;
}

/* ------------------------------------------------------------ reading */

/* A bucket's data; a pipe or socket bucket (length unknown) may block,
 * so the GIL is given up for it. */
static apr_status_t bucket_read(apr_bucket *b, const char **data, apr_size_t *n)
{
    mp_interp *in;
    apr_status_t rv;

    if (b->length != (apr_size_t)-1)
        return apr_bucket_read(b, data, n, APR_BLOCK_READ);
    in = mp_interp_suspend();
    rv = apr_bucket_read(b, data, n, APR_BLOCK_READ);
    mp_interp_resume(in);
    return rv;
}

/* Move data from the front of `src` to fs->tmp: at most `max` bytes, and
 * up to the first newline when `line` (*eol set).  Stops at EOS, left in
 * place.  A FLUSH is noted (passed on after the call), other metadata
 * goes on in order with what the filter writes.  *got: bytes moved. */
static apr_status_t gather(mp_filter_state *fs, apr_bucket_brigade *src, apr_size_t max,
                           int line, apr_size_t *got, int *eol)
{
    const char *data, *nl;
    apr_size_t n;
    apr_status_t rv;

    while (*got < max && !*eol && !APR_BRIGADE_EMPTY(src)) {
        apr_bucket *b = APR_BRIGADE_FIRST(src);
        if (APR_BUCKET_IS_EOS(b))
            break;
        fs->progress = 1;
        if (APR_BUCKET_IS_METADATA(b)) {
            APR_BUCKET_REMOVE(b);
            if (APR_BUCKET_IS_FLUSH(b)) {
                fs->flush = 1;
                apr_bucket_destroy(b);
            } else {
                APR_BRIGADE_INSERT_TAIL(fs->out, b);
            }
            continue;
        }
        if ((rv = bucket_read(b, &data, &n)) != APR_SUCCESS)
            return rv;
        if (n > max - *got)
            apr_bucket_split(b, n = max - *got);
        if (line && (nl = memchr(data, '\n', n))) {
            if ((apr_size_t)(nl - data) + 1 < n)
                apr_bucket_split(b, n = (apr_size_t)(nl - data) + 1);
            *eol = 1;
        }
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(fs->tmp, b);
        *got += n;
    }
    return APR_SUCCESS;
}

/* What gather() collected, as bytes; fs->tmp emptied. */
static PyObject *collected(mp_filter_state *fs, apr_size_t got)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)got);
    apr_size_t len = got;

    if (out && apr_brigade_flatten(fs->tmp, PyBytes_AS_STRING(out), &len) != APR_SUCCESS) {
        Py_CLEAR(out);
        os_error("Filter read error", APR_EGENERAL);
    }
    apr_brigade_cleanup(fs->tmp);
    return out;
}

/* Nothing gathered: None at the end of the stream (the EOS consumed),
 * else b"" (this call's input is used up). */
static PyObject *nothing(mp_filter_state *fs, apr_bucket_brigade *src)
{
    if (!APR_BRIGADE_EMPTY(src) && APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(src))) {
        apr_bucket_delete(APR_BRIGADE_FIRST(src));
        fs->eos_in = 1;
        fs->progress = 1;
    }
    if (fs->eos_in)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(NULL, 0);
}

static int has_data(apr_bucket_brigade *bb)
{
    return !APR_BRIGADE_EMPTY(bb);
}

/* read([len]) and readline([len]).  An input filter fetches from upstream
 * when it has nothing left, once per call (then b"": the call's input is
 * used up), and more only to finish a line readline() started: a filter
 * reading in a loop sees the body a piece per call, never whole. */
static PyObject *do_read(mp_filter *self, PyObject *args, int line)
{
    Py_ssize_t len = -1;
    mp_filter_state *fs = open_state(self);
    apr_bucket_brigade *src;
    apr_size_t max, got = 0;
    apr_status_t rv;
    int eol = 0;

    if (!fs || !PyArg_ParseTuple(args, line ? "|n:readline" : "|n:read", &len))
        return NULL;
    max = len >= 0 ? (apr_size_t)len : line ? (apr_size_t)-1 : MP_FILTER_READ_MAX;
    src = fs->is_input ? fs->pending : fs->in;
    if (fs->is_input && !has_data(src) && !fs->eos_in && !fs->fetched && fetch(fs, src) < 0)
        return NULL;
    for (;;) {
        if ((rv = gather(fs, src, max, line, &got, &eol)) != APR_SUCCESS) {
            apr_brigade_cleanup(fs->tmp);
            return os_error("Filter read error", rv);
        }
        if (!fs->is_input || !line || !got || eol || got >= max || has_data(src) ||
            fs->eos_in)
            break;
        /* readline: the line it started goes on upstream */
        if (fetch(fs, src) < 0 || !has_data(src))
            break;
    }
    if (PyErr_Occurred()) {
        apr_brigade_cleanup(fs->tmp);
        return NULL;
    }
    return got ? collected(fs, got) : nothing(fs, src);
}

static PyObject *flt_read(mp_filter *self, PyObject *args)
{
    return do_read(self, args, 0);
}

static PyObject *flt_readline(mp_filter *self, PyObject *args)
{
    return do_read(self, args, 1);
}

/* ------------------------------------------------------------ writing */

/* write(data): the text rule of req.write() (mp_data_buffer()). */
static PyObject *flt_write(mp_filter *self, PyObject *data)
{
    mp_filter_state *fs = open_state(self);
    Py_buffer buf;
    apr_status_t rv;

    if (!fs || mp_data_buffer(data, &buf, "write()") < 0)
        return NULL;
    /* The body may change length: httpd counts it again (or chunks it). */
    if (!fs->is_input && !fs->length_dropped) {
        apr_table_unset(fs->f->r->headers_out, "Content-Length");
        fs->length_dropped = 1;
    }
    rv = apr_brigade_write(fs->out, NULL, NULL, buf.buf, (apr_size_t)buf.len);
    fs->out_len += (apr_size_t)buf.len;
    PyBuffer_Release(&buf);
    if (rv != APR_SUCCESS)
        return os_error("Filter write error", rv);
    if (!fs->is_input && fs->out_len >= MP_FILTER_PASS_AT && pass_out(fs, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* flush(): an output filter passes what it wrote, with a FLUSH.  What an
 * input filter writes goes to its reader when the call returns. */
static PyObject *flt_flush(mp_filter *self, PyObject *unused)
{
    mp_filter_state *fs = live(self);

    if (!fs || (!fs->is_input && !fs->closed && pass_out(fs, 1) < 0))
        return NULL;
    Py_RETURN_NONE;
}

/* close(): the end of the stream, after what was written. */
static PyObject *flt_close(mp_filter *self, PyObject *unused)
{
    mp_filter_state *fs = live(self);

    if (!fs)
        return NULL;
    if (fs->closed)
        Py_RETURN_NONE;
    APR_BRIGADE_INSERT_TAIL(fs->out, apr_bucket_eos_create(fs->out->bucket_alloc));
    fs->closed = self->closed = 1;
    if (!fs->is_input && pass_out(fs, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The end of the stream among what moved to fs->out: the filter closed. */
static void note_eos(mp_filter *self, mp_filter_state *fs)
{
    if (has_data(fs->out) && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(fs->out)))
        fs->eos_in = fs->closed = self->closed = 1;
}

/* pass_on(): the rest of this call's input goes on unchanged, after what
 * the filter wrote.  An input filter with nothing left fetches once. */
static PyObject *flt_pass_on(mp_filter *self, PyObject *unused)
{
    mp_filter_state *fs = open_state(self);
    apr_bucket_brigade *src;

    if (!fs)
        return NULL;
    fs->progress = 1;
    src = fs->is_input ? fs->pending : fs->in;
    if (fs->is_input && !has_data(src) && !fs->eos_in) {
        if (fetch(fs, fs->out) < 0)
            return NULL;
    } else {
        APR_BRIGADE_CONCAT(fs->out, src);
    }
    note_eos(self, fs);
    if (!fs->is_input && pass_out(fs, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* disable(): from now on this filter passes the stream through, without
 * calling Python, for the rest of the request. */
static PyObject *flt_disable(mp_filter *self, PyObject *unused)
{
    mp_filter_state *fs = live(self);

    if (!fs)
        return NULL;
    fs->disabled = 1;
    Py_RETURN_NONE;
}

static PyMethodDef flt_methods[] = {
    {"read", (PyCFunction)flt_read, METH_VARARGS,
     "read([len]) -> bytes; b'' when this call's input is used up, None at the end"},
    {"readline", (PyCFunction)flt_readline, METH_VARARGS, "readline([len]) -> bytes or None"},
    {"write", (PyCFunction)flt_write, METH_O, "write(data): to the next filter"},
    {"flush", (PyCFunction)flt_flush, METH_NOARGS, NULL},
    {"close", (PyCFunction)flt_close, METH_NOARGS, "send the end of the stream"},
    {"pass_on", (PyCFunction)flt_pass_on, METH_NOARGS, "pass the rest on unchanged"},
    {"disable", (PyCFunction)flt_disable, METH_NOARGS,
     "pass everything through from now on, without calling Python"},
    {NULL}
};

/* ------------------------------------------------------------ attributes */

enum { A_NAME, A_HANDLER, A_DIR };

static PyObject *get_str(mp_filter *self, void *which)
{
    mp_filter_state *fs = live(self);

    if (!fs)
        return NULL;
    switch ((intptr_t)which) {
    case A_NAME:
        return mp_str_from_c(fs->name);
    case A_HANDLER:
        return mp_str_from_c(fs->h->spec);
    default:
        return mp_str_from_c(fs->h->directory);
    }
}

static PyObject *get_req(mp_filter *self, void *u)
{
    PyObject *req = self->req ? self->req : Py_None;

    Py_INCREF(req);
    return req;
}

static int set_req(mp_filter *self, PyObject *v, void *u)
{
    if (!v) {
        PyErr_SetString(PyExc_AttributeError, "can't delete filter attributes");
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(self->req, v);
    return 0;
}

static PyObject *get_closed(mp_filter *self, void *u)
{
    return PyLong_FromLong(self->fs ? self->fs->closed : self->closed);
}

static PyObject *get_int(mp_filter *self, void *which)
{
    return PyLong_FromLong(which ? self->softspace : self->is_input);
}

static int set_softspace(mp_filter *self, PyObject *v, void *u)
{
    long n = v ? PyLong_AsLong(v) : -1;

    if (!v)
        PyErr_SetString(PyExc_AttributeError, "can't delete filter attributes");
    if (PyErr_Occurred())
        return -1;
    self->softspace = n != 0;
    return 0;
}

static PyGetSetDef flt_getset[] = {
    {"name", (getter)get_str, NULL, "the filter's name", (void *)A_NAME},
    {"handler", (getter)get_str, NULL, "module[::object]", (void *)A_HANDLER},
    {"dir", (getter)get_str, NULL, "the handler's directory, or None", (void *)A_DIR},
    {"req", (getter)get_req, (setter)set_req, "the request object", NULL},
    {"closed", (getter)get_closed, NULL, "1 once close() sent the end", NULL},
    {"is_input", (getter)get_int, NULL, "1 for an input filter", (void *)0},
    {"softspace", (getter)get_int, (setter)set_softspace, NULL, (void *)1},
    {NULL}
};

/* ------------------------------------------------------------ lifecycle */

static int flt_traverse(mp_filter *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->req);
    return 0;
}

static int flt_clear(mp_filter *self)
{
    Py_CLEAR(self->req);
    return 0;
}

static void flt_dealloc(mp_filter *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    flt_clear(self);
    mp_scope_decref(self->scope);
    PyObject_GC_Del(self);
    Py_DECREF(type);
}

static PyObject *flt_repr(mp_filter *self)
{
    return PyUnicode_FromFormat("<mod_python %s filter%s>", self->is_input ? "input" : "output",
                                self->fs ? "" : " (call over)");
}

static PyType_Slot flt_slots[] = {
    {Py_tp_doc, "a Python filter's view of the stream, during one call"},
    {Py_tp_dealloc, flt_dealloc},
    {Py_tp_traverse, flt_traverse},
    {Py_tp_clear, flt_clear},
    {Py_tp_repr, flt_repr},
    {Py_tp_methods, flt_methods},
    {Py_tp_getset, flt_getset},
    {0, NULL}
};

static PyType_Spec flt_spec = {
    .name = "mod_python.mp_filter",
    .basicsize = sizeof(mp_filter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = flt_slots,
};

PyTypeObject *mp_filter_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &flt_spec, NULL);
}
