/* The C API of newer Pythons, for the oldest one supported (3.11), so that
 * the code is written once, against the current API: PyErr_Fetch(),
 * PyErr_Restore() and PyErr_NormalizeException() are deprecated since
 * 3.12, for the exception-object pair below. */
#ifndef MP_PYCOMPAT_H
#define MP_PYCOMPAT_H

#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000
/* The pending exception (normalised, its traceback attached), taken out of
 * the error indicator; NULL if none. */
static inline PyObject *PyErr_GetRaisedException(void)
{
    PyObject *type, *value, *tb;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* Make `exc` (a reference given away, or NULL: cleared) the pending one. */
static inline void PyErr_SetRaisedException(PyObject *exc)
{
    if (!exc) {
        PyErr_Clear();
        return;
    }
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
}
#endif

#endif
