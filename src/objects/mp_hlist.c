/* The handler list object (3.5's mp_hlist, conn.hlist): the handlers of a
 * phase as a cursor.  `handler`, `silent`, `is_location` and `directory`
 * describe the current one; next() moves to the next, and past the last
 * all four are None.  It copies what it shows when made, so it refers to
 * nothing of httpd's and may be kept and used anywhere. */
#include "objects/mp_objects.h"

typedef struct {
    PyObject_HEAD
    PyObject *entries;   /* tuple of (handler, silent, is_location, directory) */
    Py_ssize_t at;       /* the current entry */
} mp_hlist;

enum { H_HANDLER, H_SILENT, H_IS_LOCATION, H_DIRECTORY, H_NFIELDS };

static PyObject *entry_new(const mp_handler *h)
{
    /* a <Location>'s handler shows its path as the directory (3.5) */
    const char *dir = h->directory ? h->directory : h->location;

    return Py_BuildValue("(NiiN)", mp_str_from_c(h->spec), h->silent != 0,
                         h->location != NULL, mp_str_from_c(dir));
}

PyObject *mp_hlist_new(mp_pystate *st, const mp_handler *list, int n)
{
    mp_hlist *self;
    PyObject *entries = PyTuple_New(n), *e;

    for (int i = 0; entries && i < n; i++) {
        if (!(e = entry_new(&list[i]))) {
            Py_CLEAR(entries);
            break;
        }
        PyTuple_SET_ITEM(entries, i, e);
    }
    if (!entries)
        return NULL;
    if (!(self = PyObject_New(mp_hlist, st->hlist_type))) {
        Py_DECREF(entries);
        return NULL;
    }
    self->entries = entries;
    self->at = 0;
    return (PyObject *)self;
}

static PyObject *hl_get(mp_hlist *self, void *which)
{
    if (self->at >= PyTuple_GET_SIZE(self->entries))
        Py_RETURN_NONE;
    return Py_NewRef(PyTuple_GET_ITEM(PyTuple_GET_ITEM(self->entries, self->at),
                                      (intptr_t)which));
}

static PyObject *hl_next(mp_hlist *self, PyObject *unused)
{
    if (self->at < PyTuple_GET_SIZE(self->entries))
        self->at++;
    Py_RETURN_NONE;
}

#define GET(name, id, doc) {name, (getter)hl_get, NULL, doc, (void *)(intptr_t)(id)}
static PyGetSetDef hl_getset[] = {
    GET("handler", H_HANDLER, "the handler as configured: module[::object]"),
    GET("silent", H_SILENT, "1 for PythonHandlerModule's (a missing object is skipped)"),
    GET("is_location", H_IS_LOCATION, "1 when configured in a <Location>"),
    GET("directory", H_DIRECTORY, "the handler's directory (or <Location> path), or None"),
    {NULL}
};
#undef GET

static PyMethodDef hl_methods[] = {
    {"next", (PyCFunction)hl_next, METH_NOARGS, "move to the next handler"},
    {NULL}
};

/* Not a GC type: its tuple holds only str, int and None. */
static void hl_dealloc(mp_hlist *self)
{
    PyTypeObject *type = Py_TYPE(self);

    Py_DECREF(self->entries);
    PyObject_Free(self);
    Py_DECREF(type);
}

static PyType_Slot hl_slots[] = {
    {Py_tp_dealloc, hl_dealloc},
    {Py_tp_getset, hl_getset},
    {Py_tp_methods, hl_methods},
    {0, NULL}
};

static PyType_Spec hl_spec = {
    .name = "mp_hlist",
    .basicsize = sizeof(mp_hlist),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = hl_slots,
};

PyTypeObject *mp_hlist_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &hl_spec, NULL);
}
