/* Text between httpd and Python (the rule is in mp_base.h), and
 * PythonOption switches. */
#include "base/mp_base.h"

const char *mp_str_to_c(apr_pool_t *p, PyObject *o, const char *what, int no_crlf)
{
    PyObject *b = NULL;
    const char *s;
    Py_ssize_t n;
    char *out;

    if (PyUnicode_Check(o) && PyUnicode_IS_ASCII(o)) {
        /* the common case: its bytes are the Latin-1 ones, no copy */
        s = (const char *)PyUnicode_DATA(o);
        n = PyUnicode_GET_LENGTH(o);
    } else if (PyUnicode_Check(o)) {
        /* UnicodeEncodeError for what has no bytes: a lone surrogate
         * outside U+DC80..U+DCFF */
        if (!(b = PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape")))
            return NULL;
        s = PyBytes_AS_STRING(b);
        n = PyBytes_GET_SIZE(b);
    } else if (PyBytes_Check(o)) {
        s = PyBytes_AS_STRING(o);
        n = PyBytes_GET_SIZE(o);
    } else {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %s", what,
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    if ((Py_ssize_t)strlen(s) != n) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL character", what);
        out = NULL;
    } else if (no_crlf && strpbrk(s, "\r\n")) {
        PyErr_Format(PyExc_ValueError, "%s contains CR or LF", what);
        out = NULL;
    } else {
        out = apr_pstrmemdup(p, s, n);
    }
    Py_XDECREF(b);
    return out;
}

/* The inverse of mp_str_to_c(): fails only for want of memory. */
PyObject *mp_str_from_c(const char *s)
{
    if (!s)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, strlen(s), "surrogateescape");
}

int mp_data_buffer(PyObject *o, Py_buffer *buf, const char *what)
{
    Py_ssize_t n;
    const char *s;
    PyObject *b;
    int rc;

    /* bytes and ASCII str, the common cases: their memory as it is, for as
     * long as `o` lives (the caller's argument), nothing to release. */
    if (PyBytes_CheckExact(o) || (PyUnicode_Check(o) && PyUnicode_IS_ASCII(o))) {
        if (PyBytes_CheckExact(o)) {
            s = PyBytes_AS_STRING(o);
            n = PyBytes_GET_SIZE(o);
        } else if (!(s = PyUnicode_AsUTF8AndSize(o, &n))) {
            return -1;
        }
        memset(buf, 0, sizeof(*buf));
        buf->buf = (void *)s;
        buf->len = n;
        buf->readonly = 1;
        buf->itemsize = 1;
        return 0;
    }
    if (PyUnicode_Check(o)) {
        if (!(b = PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape")))
            return -1;
        rc = PyObject_GetBuffer(b, buf, PyBUF_SIMPLE);
        Py_DECREF(b);   /* the buffer holds its own reference */
        return rc;
    }
    if (PyObject_CheckBuffer(o))
        return PyObject_GetBuffer(o, buf, PyBUF_SIMPLE);
    PyErr_Format(PyExc_TypeError, "%s argument must be str or a bytes-like object, "
                 "not %.100s", what, Py_TYPE(o)->tp_name);
    return -1;
}

int mp_option_flag(const apr_table_t *options, const char *key)
{
    return mp_flag_value(apr_table_get(options, key));
}

int mp_flag_value(const char *v)
{
    if (!v)
        return -1;
    if (!strcasecmp(v, "on") || !strcmp(v, "1") || !strcasecmp(v, "true") ||
        !strcasecmp(v, "yes"))
        return 1;
    if (!strcasecmp(v, "off") || !strcmp(v, "0") || !strcasecmp(v, "false") ||
        !strcasecmp(v, "no"))
        return 0;
    return -1;
}
