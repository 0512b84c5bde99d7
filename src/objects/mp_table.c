/* mp_table: a case-insensitive mapping over an apr_table_t (headers,
 * notes, subprocess_env, get_config(), apache.table()).  A key added more
 * than once (add()) reads back as a list from t[key], and as its first
 * value from get(), as in mod_python 3.5; tables compare as the dicts
 * they read as.  Subclassable (3.5 allowed it). */
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
    if (!val) {             /* a missing key is no error (3.5) */
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

/* The first value under key (3.5: get() never gives a list). */
static PyObject *tbl_get(mp_table *self, PyObject *args)
{
    PyObject *key, *dflt = Py_None;
    const char *k, *v;

    if (!PyArg_ParseTuple(args, "O|O:get", &key, &dflt) || !table_alive(self) ||
        !(k = mp_str_to_c(self->pool, key, "table key", 0)))
        return NULL;
    if ((v = apr_table_get(self->t, k)))
        return mp_str_from_c(v);
    Py_INCREF(dflt);
    return dflt;
}

static PyObject *tbl_has_key(mp_table *self, PyObject *key)
{
    int r = tbl_contains(self, key);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static int add_pair(mp_table *self, PyObject *key, PyObject *val)
{
    const char *k, *v;

    if (!table_alive(self) || !(k = mp_str_to_c(self->pool, key, "table key", 1)) ||
        !(v = mp_str_to_c(self->pool, val, "table value", self->headers)))
        return -1;
    apr_table_addn(self->t, k, v);
    return 0;
}

static PyObject *tbl_add(mp_table *self, PyObject *args)
{
    PyObject *key, *val;

    if (!PyArg_ParseTuple(args, "OO:add", &key, &val) || add_pair(self, key, val) < 0)
        return NULL;
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

/* ------------------------------------------------------------ update */

/* update() and table(x) take keys and values through str() (3.5: so
 * {1: 2} sets "1" to "2"); str and bytes as they are. */
static int set_converted(mp_table *self, PyObject *k, PyObject *v)
{
    PyObject *ks, *vs = NULL;
    int rc = -1;

    ks = PyUnicode_Check(k) || PyBytes_Check(k) ? Py_NewRef(k) : PyObject_Str(k);
    if (ks)
        vs = PyUnicode_Check(v) || PyBytes_Check(v) ? Py_NewRef(v) : PyObject_Str(v);
    if (vs)
        rc = tbl_ass(self, ks, vs);
    Py_XDECREF(ks);
    Py_XDECREF(vs);
    return rc;
}

/* From another table: each of its keys gets all its values there. */
static int update_from_table(mp_table *self, mp_table *other)
{
    PyObject *items = listing(other, 2);
    Py_ssize_t i, n;
    int rc = 0;

    if (!items)
        return -1;
    n = PyList_GET_SIZE(items);
    for (i = 0; rc == 0 && i < n; i++)
        rc = tbl_ass(self, PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0), NULL);
    for (i = 0; rc == 0 && i < n; i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        rc = add_pair(self, PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1));
    }
    Py_DECREF(items);
    return rc;
}

/* From a mapping: its keys() and [] (3.5's way: any object with both). */
static int update_from_keys(mp_table *self, PyObject *other)
{
    PyObject *keys = PyMapping_Keys(other), *it = NULL, *k, *v;
    int rc = -1;

    if (!keys || !(it = PyObject_GetIter(keys)))
        goto done;
    while ((k = PyIter_Next(it))) {
        v = PyObject_GetItem(other, k);
        rc = v ? set_converted(self, k, v) : -1;
        Py_DECREF(k);
        Py_XDECREF(v);
        if (rc < 0)
            goto done;
    }
    rc = PyErr_Occurred() ? -1 : 0;
done:
    Py_XDECREF(keys);
    Py_XDECREF(it);
    return rc;
}

/* From an iterable of (key, value) pairs, as dict.update() takes them. */
static int update_from_pairs(mp_table *self, PyObject *other)
{
    PyObject *it = PyObject_GetIter(other), *item, *pair;
    Py_ssize_t i = 0;
    int rc = 0;

    if (!it)
        return -1;
    while (rc == 0 && (item = PyIter_Next(it))) {
        if (!(pair = PySequence_Fast(item, ""))) {
            PyErr_Format(PyExc_TypeError, "cannot convert table update sequence element "
                         "#%zd to a sequence", i);
            rc = -1;
        } else if (PySequence_Fast_GET_SIZE(pair) != 2) {
            PyErr_Format(PyExc_ValueError, "table update sequence element #%zd has "
                         "length %zd; 2 is required", i, PySequence_Fast_GET_SIZE(pair));
            rc = -1;
        } else {
            rc = set_converted(self, PySequence_Fast_GET_ITEM(pair, 0),
                               PySequence_Fast_GET_ITEM(pair, 1));
        }
        Py_XDECREF(pair);
        Py_DECREF(item);
        i++;
    }
    Py_DECREF(it);
    return rc == 0 && PyErr_Occurred() ? -1 : rc;
}

static int update(mp_table *self, PyObject *other)
{
    if (mp_table_get(other))
        return update_from_table(self, (mp_table *)other);
    if (PyObject_HasAttrString(other, "keys"))
        return update_from_keys(self, other);
    return update_from_pairs(self, other);
}

static PyObject *tbl_update(mp_table *self, PyObject *other)
{
    if (update(self, other) < 0)
        return NULL;
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

/* Remove and return the last (key, value) added.  APR removes a key's
 * values all at once: the table is refilled with the entries but the last,
 * in their order (the strings stay in the pool). */
static PyObject *tbl_popitem(mp_table *self, PyObject *u)
{
    const apr_array_header_t *a;
    const apr_table_entry_t *e;
    apr_table_entry_t *keep;
    PyObject *pair;
    int n;

    if (!table_alive(self))
        return NULL;
    a = apr_table_elts(self->t);
    e = (const apr_table_entry_t *)a->elts;
    if (!a->nelts) {
        PyErr_SetString(PyExc_KeyError, "popitem(): table is empty");
        return NULL;
    }
    n = a->nelts - 1;
    if (!(pair = Py_BuildValue("(NN)", mp_str_from_c(e[n].key), mp_str_from_c(e[n].val))))
        return NULL;
    if (!(keep = PyMem_New(apr_table_entry_t, n + 1))) {
        Py_DECREF(pair);
        return PyErr_NoMemory();
    }
    memcpy(keep, e, n * sizeof(*keep));
    apr_table_clear(self->t);
    for (int i = 0; i < n; i++)
        apr_table_addn(self->t, keep[i].key, keep[i].val);
    PyMem_Free(keep);
    return pair;
}

/* iterkeys() & co.: over a snapshot, as keys() & co. */
static PyObject *iter_over(mp_table *self, int what)
{
    PyObject *l = listing(self, what), *it;

    if (!l)
        return NULL;
    it = PyObject_GetIter(l);
    Py_DECREF(l);
    return it;
}

static PyObject *tbl_iterkeys(mp_table *self, PyObject *u) { return iter_over(self, 0); }
static PyObject *tbl_itervalues(mp_table *self, PyObject *u) { return iter_over(self, 1); }
static PyObject *tbl_iteritems(mp_table *self, PyObject *u) { return iter_over(self, 2); }

/* ------------------------------------------------------------ compare, repr */

/* A key as compared: str.lower() of it, as a case-insensitive mapping's
 * keys compare; other objects as they are.  A new reference. */
static PyObject *folded(PyObject *k)
{
    if (PyUnicode_Check(k))
        return PyObject_CallMethod(k, "lower", NULL);
    Py_INCREF(k);
    return k;
}

/* The dict a table reads as, for comparisons: each key (folded) to
 * t[key], a list for a repeated key. */
static PyObject *as_dict(mp_table *self)
{
    const apr_array_header_t *a;
    const apr_table_entry_t *e;
    PyObject *d;

    if (!table_alive(self) || !(d = PyDict_New()))
        return NULL;
    a = apr_table_elts(self->t);
    e = (const apr_table_entry_t *)a->elts;
    for (int i = 0; i < a->nelts; i++) {
        collect_t c = { e[i].key, NULL };
        PyObject *k;
        int j = 0, rc;
        while (j < i && (!e[j].key || strcasecmp(e[j].key, e[i].key)))
            j++;
        if (!e[i].key || j < i)   /* a later value of a key already in */
            continue;
        apr_table_do(collect_one, &c, self->t, e[i].key, NULL);
        k = PyErr_Occurred() ? NULL : mp_str_from_c(e[i].key);  /* no memory */
        Py_XSETREF(k, k ? folded(k) : NULL);
        rc = k && c.out ? PyDict_SetItem(d, k, c.out) : -1;
        Py_XDECREF(k);
        Py_XDECREF(c.out);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

/* A dict with its keys folded. */
static PyObject *folded_dict(PyObject *src)
{
    PyObject *d = PyDict_New(), *k, *v, *fk;
    Py_ssize_t pos = 0;

    while (d && PyDict_Next(src, &pos, &k, &v)) {
        if (!(fk = folded(k)) || PyDict_SetItem(d, fk, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(fk);
    }
    return d;
}

/* As 3.5, compared as the dicts they read as, with a table or a dict (so
 * < raises TypeError); keys case-insensitively, as the table has them. */
static PyObject *tbl_richcompare(mp_table *self, PyObject *other, int op)
{
    PyObject *a, *b, *r = NULL;

    if (!mp_table_get(other) && !PyDict_Check(other))
        Py_RETURN_NOTIMPLEMENTED;
    if (!(a = as_dict(self)))
        return NULL;
    b = mp_table_get(other) ? as_dict((mp_table *)other) : folded_dict(other);
    if (b)
        r = PyObject_RichCompare(a, b, op);
    Py_DECREF(a);
    Py_XDECREF(b);
    return r;
}

/* A dict's repr, with each pair of a repeated key (3.5). */
static PyObject *tbl_repr(mp_table *self)
{
    PyObject *items = listing(self, 2), *parts = NULL, *sep = NULL, *body = NULL, *r = NULL;

    if (!items || !(parts = PyList_New(PyList_GET_SIZE(items))))
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        PyObject *s = PyUnicode_FromFormat("%R: %R", PyTuple_GET_ITEM(kv, 0),
                                           PyTuple_GET_ITEM(kv, 1));
        if (!s)
            goto done;
        PyList_SET_ITEM(parts, i, s);
    }
    if ((sep = PyUnicode_FromString(", ")) && (body = PyUnicode_Join(sep, parts)))
        r = PyUnicode_FromFormat("{%U}", body);
done:
    Py_XDECREF(items);
    Py_XDECREF(parts);
    Py_XDECREF(sep);
    Py_XDECREF(body);
    return r;
}

/* ------------------------------------------------------------ the type */

/* table([x]): new empty, then __init__ fills it, so a subclass's
 * __init__ may call the base's with x. */
static PyObject *tbl_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    return table_new_own(type);
}

static int tbl_init(mp_table *self, PyObject *args, PyObject *kw)
{
    PyObject *init = NULL;

    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "table() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "|O:table", &init))
        return -1;
    return init ? update(self, init) : 0;
}

/* Not a GC type: a table refers to no Python object (but its type).  A
 * subclass with a __dict__ is one: Python's subtype_dealloc untracks it
 * and clears its dict before it calls this. */
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
    {"iterkeys", (PyCFunction)tbl_iterkeys, METH_NOARGS, NULL},
    {"itervalues", (PyCFunction)tbl_itervalues, METH_NOARGS, NULL},
    {"iteritems", (PyCFunction)tbl_iteritems, METH_NOARGS, NULL},
    {"get", (PyCFunction)tbl_get, METH_VARARGS, "get(key[, default]): the first value"},
    {"has_key", (PyCFunction)tbl_has_key, METH_O, NULL},
    {"add", (PyCFunction)tbl_add, METH_VARARGS, "add(key, value): keep existing values"},
    {"setdefault", (PyCFunction)tbl_setdefault, METH_VARARGS, NULL},
    {"update", (PyCFunction)tbl_update, METH_O,
     "update(mapping or (key, value) pairs): keys and values through str()"},
    {"popitem", (PyCFunction)tbl_popitem, METH_NOARGS, "remove and return the last pair"},
    {"clear", (PyCFunction)tbl_clear, METH_NOARGS, NULL},
    {"copy", (PyCFunction)tbl_copy, METH_NOARGS, NULL},
    {NULL}
};

static PyType_Slot tbl_slots[] = {
    {Py_tp_doc, "case-insensitive mapping over an Apache table"},
    {Py_tp_dealloc, tbl_dealloc},
    {Py_tp_repr, tbl_repr},
    {Py_tp_richcompare, tbl_richcompare},
    {Py_mp_length, tbl_len},
    {Py_mp_subscript, tbl_subscript},
    {Py_mp_ass_subscript, tbl_ass},
    {Py_sq_contains, tbl_contains},
    {Py_tp_iter, tbl_iter},
    {Py_tp_methods, tbl_methods},
    {Py_tp_new, tbl_new},
    {Py_tp_init, tbl_init},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {0, NULL}
};

/* type(t).__name__ is "mp_table", which 3.5 code may check. */
static PyType_Spec tbl_spec = {
    .name = "mod_python.mp_table",
    .basicsize = sizeof(mp_table),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tbl_slots,
};

PyTypeObject *mp_table_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &tbl_spec, NULL);
}
