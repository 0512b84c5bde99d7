/* The bottom layer: what every other layer may use, and which uses none of
 * them.  Python's and httpd's headers, the one rule for text between the
 * two, the one exception formatter, log-line splitter and list-expression
 * evaluator, and the message ids of the error log. */
#ifndef MP_BASE_H
#define MP_BASE_H

#include <Python.h>

#include <pthread.h>
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_tables.h"
#include "apr_strings.h"

#include "base/mp_logno.h"
#include "base/mp_pycompat.h"
#include "base/mp_names.h"
#include "base/mp_traceback.h"

#define MP_VERSION "4.0.0-dev"

/* PythonInterpreterGIL: how a new sub-interpreter gets its GIL (the
 * configuration's word, the interpreter layer's to act on). */
typedef enum {
    MP_GIL_SHARED,  /* the main interpreter's, as Py_NewInterpreter() */
    MP_GIL_OWN,     /* its own (Python 3.12+, PEP 684): runs in parallel */
    MP_GIL_AUTO     /* its own, or shared where an extension refuses it */
} mp_gil_mode;

/* ------------------------------------------------------------ text */

/* Text between httpd and Python, one rule both ways: bytes from httpd are
 * decoded as UTF-8 with surrogateescape (bytes that are not UTF-8 become
 * U+DC80..U+DCFF), and str is encoded back the same way, so an echoed
 * value keeps its bytes.  bytes objects go out as they are.
 * mp_str_to_c: str or bytes -> C string in pool `p`; NULL with an
 * exception (TypeError, UnicodeEncodeError, ValueError for NUL, and for
 * CR/LF when `no_crlf`).  `what` names the value in the error. */
const char *mp_str_to_c(apr_pool_t *p, PyObject *o, const char *what, int no_crlf);
PyObject *mp_str_from_c(const char *s);
/* Data to send: a bytes-like object as it is, a str by the same rule
 * (UTF-8 with surrogateescape), in `buf` (PyBuffer_Release() it).  -1 with
 * TypeError naming `what` for anything else.  `o` must outlive the use of
 * `buf` (bytes and ASCII str are lent, not referenced). */
int mp_data_buffer(PyObject *o, Py_buffer *buf, const char *what);

/* PythonOption key as a switch: 1 (On, 1, true, yes), 0 (Off, 0, false,
 * no), -1 (unset or anything else). */
int mp_option_flag(const apr_table_t *options, const char *key);
/* The same for a value: 1, 0, or -1 (NULL or anything else). */
int mp_flag_value(const char *v);

/* ------------------------------------------------------------ errors */

/* Log `text` one record per line (tracebacks and import logs carry
 * newlines), each line after message id `id` (mp_logno.h) and "prefix: "
 * when prefix is given; through ap_log_rerror when there is a request, so
 * the line has its context. */
void mp_log_lines(int level, request_rec *r, server_rec *s, const char *id,
                  const char *prefix, const char *text);

/* Log traceback `lines` (from mp_traceback_lines) at error level, record
 * by record, each after `id` and "prefix: ". */
void mp_log_traceback(const char *id, request_rec *r, server_rec *s,
                      const char *prefix, PyObject *lines);

/* Log the pending Python exception's traceback, line by line, each line
 * prefixed; clears it.  Never exits, whatever was raised (SystemExit). */
void mp_log_exception(const char *id, request_rec *r, server_rec *s,
                      const char *prefix);

/* Evaluate `expr` (a directive's Python list expression) in `globals`: a
 * new reference to the list; NULL with an exception, TypeError naming
 * `what` when it is not a list. */
PyObject *mp_eval_list(const char *expr, PyObject *globals, const char *what);

#endif
