/* The one formatter of Python exceptions.  Python only (no httpd), so the
 * importer, which must stay free of httpd, uses it too. */
#ifndef MP_TRACEBACK_H
#define MP_TRACEBACK_H

#include "base/mp_pycompat.h"

/* The pending exception as traceback lines (a new list of str), and
 * cleared; never fails (a one-line list saying so instead). */
PyObject *mp_traceback_lines(void);

#endif
