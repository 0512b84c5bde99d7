/* The httpd layer: the module record and its hooks (mod_python.c), the
 * running of handlers in each phase (mp_dispatch.c), the importer's host
 * (mp_host.c), the reporting of handler errors (mp_error.c), connection
 * handlers (mp_connection.c) and the section of mod_status's page
 * (mp_status.c).  The top layer: it may use every other one;
 * nothing uses it.  What its files share is declared here. */
#ifndef MP_HTTPD_H
#define MP_HTTPD_H

#include "objects/mp_objects.h"

/* mp_dispatch.c */
int mp_run_phase(request_rec *r, mp_phase phase);
/* The interpreter for r's handlers configured in handler_dir (NULL: none);
 * a name made from a request path comes with the virtual host's as
 * *fallback (PythonInterpLimit), else *fallback is NULL. */
const char *mp_interp_name(request_rec *r, const mp_dir_config *c,
                           const char *handler_dir, const char **fallback);
/* The object handler `h` names in `in` (entered): its module imported
 * through the importer, then the attributes followed, a class on the way
 * instantiated with `arg` (3.5: "mod::Class.method" is Class(arg).method).
 * New reference; NULL with an exception, or without one when a silent
 * handler's (PythonHandlerModule) module lacks the object. */
PyObject *mp_handler_object(mp_interp *in, const mp_handler *h, PyObject *arg);
/* obj(arg), or under pdb with PythonEnablePdb On and httpd -X: how every
 * kind of handler is called.  New reference; NULL with an exception. */
PyObject *mp_handler_call(mp_interp *in, const mp_dir_config *c, PyObject *obj,
                          PyObject *arg);
/* PythonInitHandler runs once per request: at post_read_request when the
 * server configures it, else at header_parser with the directory's
 * (mod_python's rule). */
int mp_run_init_phase(request_rec *r, int at_post_read);
void mp_register_cleanup_phase(request_rec *r);
void mp_run_imports(server_rec *s);

/* mp_connection.c: PythonConnectionHandler, for process_connection:
 * DECLINED at once where the connection's server has none. */
int mp_run_connection(conn_rec *c);
/* For child_stopping: an ungraceful stop ends the handlers' reads. */
void mp_connections_stopping(int graceful);

/* mp_error.c: handler `h` raised in `phase`: log the traceback; with
 * PythonDebug On also send it, escaped, to the client.  The status to
 * return. */
int mp_report_handler_error(request_rec *r, const mp_dir_config *c, mp_phase phase,
                            const mp_handler *h);

/* mp_host.c: give the interpreter layer what it calls back (set-up of a new
 * interpreter with an importer hosted by httpd, release of request
 * objects) and PythonInterpLimit.  In the parent, at post_config. */
void mp_host_configure(server_rec *s);
/* Before leaving `in` at the end of a phase: if a module retired by a
 * reload was let go of, collect it once r's response went out (see
 * mp_importer_collect()). */
void mp_host_collect_later(request_rec *r, mp_interp *in);
/* In a new child: watch the configured handlers' directories. */
void mp_host_watch_handler_dirs(apr_pool_t *p, server_rec *s);

/* mp_filter_dispatch.c: httpd's filter functions for Python filters, registered as
 * MOD_PYTHON and given to the configuration for PythonInputFilter and
 * PythonOutputFilter.  From the module's register_hooks. */
void mp_filter_register(void);
/* mp_status.c: the imported modules of each interpreter on mod_status's
 * /server-status page (HTML and ?auto), through its optional status hook:
 * harmless where mod_status is not loaded.  From register_hooks. */
void mp_status_register(void);
/* mp_error.c: the PythonDebug page for traceback `lines` (a filter's). */
const char *mp_error_page(request_rec *r, const char *prefix, PyObject *lines);

#endif
