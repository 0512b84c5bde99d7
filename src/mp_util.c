/* Small conversions shared by the Python types: strings in and out of C,
 * log_error(), and readying every type once. */
#include "mod_python.h"

APLOG_USE_MODULE(python);

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

int mp_option_flag(const apr_table_t *options, const char *key)
{
    const char *v = apr_table_get(options, key);

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

PyObject *mp_log_error(server_rec *s, const request_rec *r, const conn_rec *c,
                       PyObject *args)
{
    const char *msg;
    int level = APLOG_ERR;
    PyObject *srv = NULL;

    if (!PyArg_ParseTuple(args, "s|iO:log_error", &msg, &level, &srv))
        return NULL;
    if (level <= 0 || level > APLOG_TRACE8)  /* 3.5: level 0 means ERR */
        level = APLOG_ERR;
    if (srv && srv != Py_None) {
        if (!PyObject_TypeCheck(srv, &mp_server_type)) {
            PyErr_SetString(PyExc_TypeError, "log_error: server must be a server object");
            return NULL;
        }
        s = mp_server_rec(srv);
    }
    Py_BEGIN_ALLOW_THREADS
    if (r)
        ap_log_rerror(APLOG_MARK, level, 0, r, "%s", msg);
    else if (c)
        ap_log_cerror(APLOG_MARK, level, 0, c, "%s", msg);
    else
        ap_log_error(APLOG_MARK, level, 0, s, "%s", msg);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

int mp_types_ready(void)
{
    PyTypeObject *types[] = { &mp_table_type, &mp_request_type, &mp_server_type,
                              &mp_conn_type };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (PyType_Ready(types[i]) < 0)
            return -1;
    return 0;
}
