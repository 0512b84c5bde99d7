/* req.hlist and req.extension: the handler being run, as mod_python 3.5
 * showed it.  An hlist is a snapshot of the phase's handlers from the one
 * being run on, made when it is asked for: plain Python values, so it is
 * safe to keep after the request; next() moves along the snapshot only
 * (3.5's next() moved its own cursor too, not the dispatcher's). */
#include "objects/mp_objects.h"
#include "objects/mp_hlist.h"
#include "objects/mp_req_http.h"

/* One entry: (handler, silent, is_location, directory). */
enum { HL_HANDLER, HL_SILENT, HL_LOCATION, HL_DIRECTORY, HL_NFIELDS };

typedef struct {
    PyObject_HEAD
    PyObject *entries;       /* tuple of HL_NFIELDS-tuples */
    Py_ssize_t pos;
} mp_hlist;

static PyObject *entry_new(const mp_handler *h)
{
    const char *dir = h->location ? h->location : h->directory;

    return Py_BuildValue("(NiiN)", mp_str_from_c(h->spec), h->silent, h->location != NULL,
                         dir ? mp_str_from_c(dir) : Py_NewRef(Py_None));
}

/* The `n` handlers at `list`. */
static PyObject *entries_new(const mp_handler *list, int n)
{
    PyObject *t = PyTuple_New(n > 0 ? n : 0), *e;

    for (int i = 0; t && i < n; i++) {
        if (!(e = entry_new(&list[i])))
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, i, e);
    }
    return t;
}

PyObject *mp_hlist_new(mp_pystate *st, const mp_handler *list, int n)
{
    mp_hlist *self = PyObject_New(mp_hlist, st->hlist_type);

    if (!self)
        return NULL;
    self->pos = 0;
    if (!(self->entries = entries_new(list, n))) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void hl_dealloc(mp_hlist *self)
{
    PyTypeObject *type = Py_TYPE(self);

    Py_XDECREF(self->entries);
    PyObject_Free(self);
    Py_DECREF(type);
}

/* A field of the current entry; None past the end (3.5). */
static PyObject *hl_get(mp_hlist *self, void *field)
{
    if (self->pos >= PyTuple_GET_SIZE(self->entries))
        Py_RETURN_NONE;
    return Py_NewRef(PyTuple_GET_ITEM(PyTuple_GET_ITEM(self->entries, self->pos),
                                      (intptr_t)field));
}

static PyObject *hl_next(mp_hlist *self, PyObject *unused)
{
    if (self->pos < PyTuple_GET_SIZE(self->entries))
        self->pos++;
    Py_RETURN_NONE;
}

#define GET(name, f) {name, (getter)hl_get, NULL, NULL, (void *)(intptr_t)(f)}
static PyGetSetDef hl_getset[] = {
    GET("handler", HL_HANDLER), GET("silent", HL_SILENT),
    GET("is_location", HL_LOCATION), GET("directory", HL_DIRECTORY),
    {NULL}
};
#undef GET

static PyMethodDef hl_methods[] = {
    {"next", (PyCFunction)hl_next, METH_NOARGS, "move to the next handler of the phase"},
    {NULL}
};

static PyType_Slot hl_slots[] = {
    {Py_tp_dealloc, hl_dealloc},
    {Py_tp_getset, hl_getset},
    {Py_tp_methods, hl_methods},
    {Py_tp_doc, "the handlers of the phase being run, from the current one on"},
    {0, NULL}
};

static PyType_Spec hl_spec = {
    .name = "mod_python.mp_hlist",
    .basicsize = sizeof(mp_hlist),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = hl_slots,
};

PyTypeObject *mp_hlist_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &hl_spec, NULL);
}

/* ------------------------------------------------------ request members */

/* This thread's context if it runs a handler of `r`. */
static const mp_context *running(const request_rec *r)
{
    const mp_context *ctx = mp_context_current();

    return ctx && ctx->r == r && ctx->handlers ? ctx : NULL;
}

PyObject *mp_req_get_hlist(PyObject *req, void *unused)
{
    request_rec *r = mp_request_rec(req);
    const mp_context *ctx;

    if (!r)
        return NULL;
    if (!(ctx = running(r)))
        return mp_hlist_new(mp_pystate_of_type(Py_TYPE(req)), NULL, 0);
    return mp_hlist_new(mp_pystate_of_type(Py_TYPE(req)),
                        &APR_ARRAY_IDX(ctx->handlers, ctx->handler_index, mp_handler),
                        ctx->handlers->nelts - ctx->handler_index);
}

/* The extension of the requested file that selected the running handler
 * ("PythonHandler mod | .py"): ".py", else None (3.5). */
PyObject *mp_req_get_extension(PyObject *req, void *unused)
{
    request_rec *r = mp_request_rec(req);
    const mp_context *ctx;
    const char *base, *dot;

    if (!r)
        return NULL;
    if (!(ctx = running(r)) ||
        !APR_ARRAY_IDX(ctx->handlers, ctx->handler_index, mp_handler).exts || !r->filename)
        Py_RETURN_NONE;
    base = strrchr(r->filename, '/');
    dot = strrchr(base ? base : r->filename, '.');
    return dot ? mp_str_from_c(dot) : Py_NewRef(Py_None);
}
