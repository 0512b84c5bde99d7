/* Python errors into httpd's error log: the one place that splits text
 * into log records, and evaluates a directive's list expression. */
#include "base/mp_base.h"

APLOG_USE_MODULE(python);

void mp_log_lines(int level, request_rec *r, server_rec *s, const char *id,
                  const char *prefix, const char *text)
{
    const char *nl, *sep = prefix ? ": " : "";

    if (!prefix)
        prefix = "";
    for (; text && *text; text = *nl ? nl + 1 : nl) {
        nl = strchr(text, '\n');
        if (!nl)
            nl = text + strlen(text);
        if (nl == text)
            continue;
        if (r)
            ap_log_rerror(APLOG_MARK, level, 0, r, "%s%s%s%.*s", id, prefix, sep,
                          (int)(nl - text), text);
        else
            ap_log_error(APLOG_MARK, level, 0, s, "%s%s%s%.*s", id, prefix, sep,
                         (int)(nl - text), text);
    }
}

void mp_log_traceback(const char *id, request_rec *r, server_rec *s,
                      const char *prefix, PyObject *lines)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++)
        mp_log_lines(APLOG_ERR, r, s, id, prefix,
                     PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i)));
    PyErr_Clear();  /* a line that was not UTF-8 is left out */
}

void mp_log_exception(const char *id, request_rec *r, server_rec *s, const char *prefix)
{
    PyObject *lines = mp_traceback_lines();

    mp_log_traceback(id, r, s, prefix, lines);
    Py_DECREF(lines);
}

PyObject *mp_eval_list(const char *expr, PyObject *globals, const char *what)
{
    PyObject *val = PyRun_String(expr, Py_eval_input, globals, globals);

    if (val && !PyList_Check(val)) {
        PyErr_Format(PyExc_TypeError, "%s must evaluate to a list, not %s: %s",
                     what, Py_TYPE(val)->tp_name, expr);
        Py_CLEAR(val);
    }
    return val;
}
