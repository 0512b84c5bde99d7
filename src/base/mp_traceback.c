/* The one formatter of Python exceptions (see mp_traceback.h). */
#include "base/mp_traceback.h"

PyObject *mp_traceback_lines(void)
{
    PyObject *exc = PyErr_GetRaisedException(), *mod, *lines = NULL;

    if ((mod = PyImport_ImportModule("traceback")))
        lines = PyObject_CallMethod(mod, "format_exception", "O", exc ? exc : Py_None);
    if (!lines || !PyList_Check(lines)) {
        PyErr_Clear();
        Py_XSETREF(lines, Py_BuildValue("[s]", "(traceback unavailable)"));
    }
    Py_XDECREF(mod);
    Py_XDECREF(exc);
    return lines;
}
