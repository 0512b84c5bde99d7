/* mp_table: a case-insensitive mapping over an apr_table_t (headers,
 * notes, subprocess_env, get_config(), apache.table()).  A key added more
 * than once (add()) reads back as a list, as in mod_python 3.5. */
#include "objects/mp_objects.h"

typedef struct {
    PyObject_HEAD
    apr_table_t *t;
    apr_pool_t *pool;     /* where strings we set are copied */
    mp_scope *scope;      /* of the request or connection `t` lives in, or NULL */
    int own_pool;         /* apache.table(): pool is ours to destroy */
    int headers;          /* refuse CR/LF (no response splitting) */
} mp_table;

/* A request's table is only valid in its request's scope, a connection
 * handler's in its connection's. */
static int table_alive(mp_table *self)
{
    return !self->scope || mp_scope_conn(self->scope) != NULL;
}

static void tbl_dealloc(mp_table *self);

static PyObject *table_new(PyTypeObject *type, apr_table_t *t, mp_scope *scope,
                           apr_pool_t *pool, int headers)
{
    mp_table *self = (mp_table *)type->tp_alloc(type, 0);

    if (!self)
        return NULL;
    self->t = t;
    self->pool = pool;
    self->scope = scope;
    if (scope)
        mp_scope_incref(scope);
    self->own_pool = 0;
    self->headers = headers;
    return (PyObject *)self;
}

PyObject *mp_table_wrap(mp_pystate *st, apr_table_t *t, mp_scope *scope,
                        apr_pool_t *pool, int headers)
{
    return table_new(st->table_type, t, scope, pool, headers);
}

/* An empty table with its own pool and no scope. */
static PyObject *table_new_own(PyTypeObject *type)
{
    apr_pool_t *p;
    mp_table *self;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        return PyErr_NoMemory();
    if (!(self = (mp_table *)table_new(type, apr_table_make(p, 8), NULL, p, 0))) {
        apr_pool_destroy(p);
        return NULL;
    }
    self->own_pool = 1;
    return (PyObject *)self;
}

PyObject *mp_table_copy(mp_pystate *st, const apr_table_t *src, int drop_empty)
{
    PyObject *t = table_new_own(st->table_type);
    const apr_array_header_t *a = apr_table_elts(src);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;

    for (int i = 0; t && i < a->nelts; i++)
        if (!drop_empty || (e[i].val && *e[i].val))
            apr_table_set(((mp_table *)t)->t, e[i].key, e[i].val);
    return t;
}

apr_table_t *mp_table_get(PyObject *o)
{
    /* Ours, of any interpreter, or a subclass: found by the deallocator
     * its type or a base has, not by a type object of one interpreter. */
    for (PyTypeObject *t = Py_TYPE(o); t; t = t->tp_base)
        if (t->tp_dealloc == (destructor)tbl_dealloc)
            return ((mp_table *)o)->t;
    return NULL;
}

/* ------------------------------------------------------------ access */

typedef struct {
    const char *key;
    PyObject *out;        /* str, then list once a second value appears */
} collect_t;

static int collect_one(void *data, const char *key, const char *val)
{
    collect_t *c = data;
    PyObject *v = mp_str_from_c(val);

    if (!v)
        return 0;
    if (!c->out) {
        c->out = v;
        return 1;
    }
    if (!PyList_Check(c->out)) {
        PyObject *l = PyList_New(1);
        if (!l) {
            Py_DECREF(v);
            return 0;
        }
        PyList_SET_ITEM(l, 0, c->out);
        c->out = l;
    }
    PyList_Append(c->out, v);
    Py_DECREF(v);
    return 1;
}

/* The value(s) under key: new reference, or NULL with no error if absent. */
static PyObject *lookup(mp_table *self, PyObject *key)
{
    collect_t c = { NULL, NULL };

    if (!table_alive(self) || !(c.key = mp_str_to_c(self->pool, key, "table key", 0)))
        return NULL;
    apr_table_do(collect_one, &c, self->t, c.key, NULL);
    return c.out;
}

static PyObject *tbl_subscript(mp_table *self, PyObject *key)
{
    PyObject *v = lookup(self, key);

    if (!v && !PyErr_Occurred())
        PyErr_SetObject(PyExc_KeyError, key);
    return v;
}

static int tbl_ass(mp_table *self, PyObject *key, PyObject *val)
{
    const char *k, *v = NULL;

    if (!table_alive(self) || !(k = mp_str_to_c(self->pool, key, "table key", 1)))
        return -1;
    if (!val) {
        if (!apr_table_get(self->t, k)) {
            PyErr_SetObject(PyExc_KeyError, key);
            return -1;
        }
        apr_table_unset(self->t, k);
        return 0;
    }
    if (!(v = mp_str_to_c(self->pool, val, "table value", self->headers)))
        return -1;
    apr_table_setn(self->t, k, v);
    return 0;
}

static Py_ssize_t tbl_len(mp_table *self)
{
    return table_alive(self) ? apr_table_elts(self->t)->nelts : -1;
}

static int tbl_contains(mp_table *self, PyObject *key)
{
    PyObject *v = lookup(self, key);

    if (!v)
        return PyErr_Occurred() ? -1 : 0;
    Py_DECREF(v);
    return 1;
}

/* keys(), values() or items() as a list, duplicates included. */
static PyObject *listing(mp_table *self, int what)
{
    const apr_array_header_t *a;
    const apr_table_entry_t *e;
    PyObject *out;

    if (!table_alive(self) || !(out = PyList_New(0)))
        return NULL;
    a = apr_table_elts(self->t);
    e = (const apr_table_entry_t *)a->elts;
    for (int i = 0; i < a->nelts; i++) {
        PyObject *item;
        if (!e[i].key)
            continue;
        if (what == 0)
            item = mp_str_from_c(e[i].key);
        else if (what == 1)
            item = mp_str_from_c(e[i].val);
        else
            item = Py_BuildValue("(NN)", mp_str_from_c(e[i].key), mp_str_from_c(e[i].val));
        if (!item || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

static PyObject *tbl_keys(mp_table *self, PyObject *u) { return listing(self, 0); }
static PyObject *tbl_values(mp_table *self, PyObject *u) { return listing(self, 1); }
static PyObject *tbl_items(mp_table *self, PyObject *u) { return listing(self, 2); }

static PyObject *tbl_iter(mp_table *self)
{
    PyObject *keys = listing(self, 0), *it;

    if (!keys)
        return NULL;
    it = PyObject_GetIter(keys);
    Py_DECREF(keys);
    return it;
}

static PyObject *tbl_get(mp_table *self, PyObject *args)
{
    PyObject *key, *dflt = Py_None, *v;

    if (!PyArg_ParseTuple(args, "O|O:get", &key, &dflt))
        return NULL;
    if ((v = lookup(self, key)) || PyErr_Occurred())
        return v;
    Py_INCREF(dflt);
    return dflt;
}

static PyObject *tbl_has_key(mp_table *self, PyObject *key)
{
    int r = tbl_contains(self, key);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *tbl_add(mp_table *self, PyObject *args)
{
    PyObject *key, *val;
    const char *k, *v;

    if (!PyArg_ParseTuple(args, "OO:add", &key, &val) || !table_alive(self) ||
        !(k = mp_str_to_c(self->pool, key, "table key", 1)) ||
        !(v = mp_str_to_c(self->pool, val, "table value", self->headers)))
        return NULL;
    apr_table_addn(self->t, k, v);
    Py_RETURN_NONE;
}

static PyObject *tbl_setdefault(mp_table *self, PyObject *args)
{
    PyObject *key, *dflt = NULL, *v;

    if (!PyArg_ParseTuple(args, "O|O:setdefault", &key, &dflt))
        return NULL;
    if ((v = lookup(self, key)) || PyErr_Occurred())
        return v;
    if (dflt)
        Py_INCREF(dflt);
    else if (!(dflt = PyUnicode_FromString("")))
        return NULL;
    if (tbl_ass(self, key, dflt) < 0)
        Py_CLEAR(dflt);
    return dflt;
}

static PyObject *tbl_update(mp_table *self, PyObject *other)
{
    PyObject *items = PyMapping_Items(other);

    if (!items)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        if (tbl_ass(self, PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1)) < 0) {
            Py_DECREF(items);
            return NULL;
        }
    }
    Py_DECREF(items);
    Py_RETURN_NONE;
}

static PyObject *tbl_clear(mp_table *self, PyObject *u)
{
    if (!table_alive(self))
        return NULL;
    apr_table_clear(self->t);
    Py_RETURN_NONE;
}

static PyObject *tbl_copy(mp_table *self, PyObject *u)
{
    mp_table *c;

    if (!table_alive(self) || !(c = (mp_table *)table_new_own(Py_TYPE(self))))
        return NULL;
    c->t = apr_table_copy(c->pool, self->t);
    return (PyObject *)c;
}

static PyObject *tbl_repr(mp_table *self)
{
    PyObject *items = listing(self, 2), *r;

    if (!items)
        return NULL;
    r = PyUnicode_FromFormat("table(%R)", items);
    Py_DECREF(items);
    return r;
}

static PyObject *tbl_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    PyObject *init = NULL, *self, *r;

    if (!PyArg_ParseTuple(args, "|O:table", &init) || !(self = table_new_own(type)))
        return NULL;
    if (init) {
        r = tbl_update((mp_table *)self, init);
        if (!r) {
            Py_DECREF(self);
            return NULL;
        }
        Py_DECREF(r);
    }
    return self;
}

/* Not a GC type: a table refers to no Python object (but its type). */
static void tbl_dealloc(mp_table *self)
{
    PyTypeObject *type = Py_TYPE(self);

    mp_scope_decref(self->scope);
    if (self->own_pool)
        apr_pool_destroy(self->pool);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyMethodDef tbl_methods[] = {
    {"keys", (PyCFunction)tbl_keys, METH_NOARGS, NULL},
    {"values", (PyCFunction)tbl_values, METH_NOARGS, NULL},
    {"items", (PyCFunction)tbl_items, METH_NOARGS, NULL},
    {"get", (PyCFunction)tbl_get, METH_VARARGS, NULL},
    {"has_key", (PyCFunction)tbl_has_key, METH_O, NULL},
    {"add", (PyCFunction)tbl_add, METH_VARARGS, "add(key, value): keep existing values"},
    {"setdefault", (PyCFunction)tbl_setdefault, METH_VARARGS, NULL},
    {"update", (PyCFunction)tbl_update, METH_O, NULL},
    {"clear", (PyCFunction)tbl_clear, METH_NOARGS, NULL},
    {"copy", (PyCFunction)tbl_copy, METH_NOARGS, NULL},
    {NULL}
};

static PyType_Slot tbl_slots[] = {
    {Py_tp_doc, "case-insensitive mapping over an Apache table"},
    {Py_tp_dealloc, tbl_dealloc},
    {Py_tp_repr, tbl_repr},
    {Py_mp_length, tbl_len},
    {Py_mp_subscript, tbl_subscript},
    {Py_mp_ass_subscript, tbl_ass},
    {Py_sq_contains, tbl_contains},
    {Py_tp_iter, tbl_iter},
    {Py_tp_methods, tbl_methods},
    {Py_tp_new, tbl_new},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {0, NULL}
};

static PyType_Spec tbl_spec = {
    .name = "mod_python.table",
    .basicsize = sizeof(mp_table),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tbl_slots,
};

PyTypeObject *mp_table_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &tbl_spec, NULL);
}
