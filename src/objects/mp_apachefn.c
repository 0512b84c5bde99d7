/* _apache.parse_qs / parse_qsl (the parser is base/mp_qs.c: pure C) and
 * _apache.config_tree, as mod_python 3.5 had them. */
#include "objects/mp_apachefn.h"

#include "base/mp_qs.h"
#include "util_cfgtree.h"

/* ------------------------------------------------------------ query strings */

typedef struct {
    PyObject *out;   /* the list or dict being filled */
    int bytes;       /* the query string was bytes: so are the fields */
} qs_out;

/* Our text rule (mp_base.h), with a length: a field may hold %00. */
static PyObject *qs_text(const char *s, size_t n, int bytes)
{
    if (bytes)
        return PyBytes_FromStringAndSize(s, (Py_ssize_t)n);
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape");
}

/* mp_qs_field_fn: 1 (stop) with a Python exception. */
static int qs_to_list(void *data, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    qs_out *q = data;
    PyObject *pair = Py_BuildValue("(NN)", qs_text(name, nlen, q->bytes),
                                   qs_text(value, vlen, q->bytes));
    int rc = pair ? PyList_Append(q->out, pair) : -1;

    Py_XDECREF(pair);
    return rc < 0;
}

static int qs_to_dict(void *data, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    qs_out *q = data;
    PyObject *k = qs_text(name, nlen, q->bytes), *v = NULL, *list = NULL, *fresh = NULL;
    int rc = 1;

    if (!k || !(v = qs_text(value, vlen, q->bytes)))
        goto done;
    if (!(fresh = PyList_New(0)) || !(list = PyDict_SetDefault(q->out, k, fresh)))
        goto done;
    rc = PyList_Append(list, v) < 0;  /* list is borrowed from the dict */
done:
    Py_XDECREF(k);
    Py_XDECREF(v);
    Py_XDECREF(fresh);
    return rc;
}

/* Parse args (qs[, keep_blank[, strict]]) into `out`, field by field with
 * `fn`: out, or NULL with an exception (out released). */
static PyObject *qs_parse(PyObject *args, const char *fmt, mp_qs_field_fn fn, PyObject *out)
{
    PyObject *qs, *b = NULL;
    int keep = 0, strict = 0, rc = 1;
    qs_out q = { out, 0 };
    const char *bad = NULL;
    char *buf = NULL;
    size_t badlen = 0;

    if (!out || !PyArg_ParseTuple(args, fmt, &qs, &keep, &strict))
        goto done;
    if (PyUnicode_Check(qs))
        b = PyUnicode_AsEncodedString(qs, "utf-8", "surrogateescape");
    else if (PyBytes_Check(qs)) {
        q.bytes = 1;
        b = qs;
        Py_INCREF(b);
    } else
        PyErr_Format(PyExc_TypeError, "query string must be str or bytes, not %.100s",
                     Py_TYPE(qs)->tp_name);
    if (!b || !(buf = PyMem_Malloc(PyBytes_GET_SIZE(b) + 1)))
        goto done;
    rc = mp_qs_parse(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b),
                     (keep ? MP_QS_KEEP_BLANK : 0) | (strict ? MP_QS_STRICT : 0),
                     buf, fn, &q, &bad, &badlen);
    if (rc == MP_QS_BAD_FIELD) {
        PyObject *field = qs_text(bad, badlen, q.bytes);
        if (field)
            PyErr_Format(PyExc_ValueError, "bad query field: %R", field);
        Py_XDECREF(field);
    }
done:
    if (!buf && b)
        PyErr_NoMemory();
    PyMem_Free(buf);
    Py_XDECREF(b);
    if (rc) {
        Py_XDECREF(out);
        return NULL;
    }
    return out;
}

PyObject *mp_ap_parse_qs(PyObject *module, PyObject *args)
{
    return qs_parse(args, "O|pp:parse_qs", qs_to_dict, PyDict_New());
}

PyObject *mp_ap_parse_qsl(PyObject *module, PyObject *args)
{
    return qs_parse(args, "O|pp:parse_qsl", qs_to_list, PyList_New(0));
}

/* ------------------------------------------------------------ config_tree */

/* A level of the tree as 3.5 gave it: each directive a (directive, args)
 * tuple, followed by the list of its children when it has some. */
static PyObject *tree_level(const ap_directive_t *d)
{
    PyObject *list = PyList_New(0), *item = NULL;

    if (!list)
        return NULL;
    if (Py_EnterRecursiveCall(" in config_tree()"))
        goto fail;
    for (; d; d = d->next) {
        item = Py_BuildValue("(NN)", mp_str_from_c(d->directive), mp_str_from_c(d->args));
        if (!item || PyList_Append(list, item) < 0)
            break;
        Py_CLEAR(item);
        if (d->first_child && (!(item = tree_level(d->first_child)) ||
                               PyList_Append(list, item) < 0))
            break;
        Py_CLEAR(item);
    }
    Py_LeaveRecursiveCall();
    if (!d)
        return list;
fail:
    Py_XDECREF(item);
    Py_DECREF(list);
    return NULL;
}

PyObject *mp_ap_config_tree(PyObject *module, PyObject *unused)
{
    /* httpd's tree lives in the configuration pool, unchanged while the
     * child serves (each restart makes new children with a new tree). */
    return tree_level(ap_conftree);
}
