/* The one formatter of Python exceptions (see mp_traceback.h). */
#include "base/mp_traceback.h"

PyObject *mp_traceback_lines(void)
{
    PyObject *type, *value, *tb, *mod, *lines = NULL;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if ((mod = PyImport_ImportModule("traceback")))
        lines = PyObject_CallMethod(mod, "format_exception", "OOO", type,
                                    value ? value : Py_None, tb ? tb : Py_None);
    if (!lines || !PyList_Check(lines)) {
        PyErr_Clear();
        Py_XSETREF(lines, Py_BuildValue("[s]", "(traceback unavailable)"));
    }
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return lines;
}
