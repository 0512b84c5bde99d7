/* Message ids of the error log: every line mod_python writes itself starts
 * with "MPnnnnn: " (lines a handler writes with log_error() are its own).
 * This is the one list of them.  An id names one message for good: a
 * message that goes keeps its number retired, a new one takes the next.
 * Next free: 00017. */
#ifndef MP_LOGNO_H
#define MP_LOGNO_H

#define MPLOGNO(n) "MP" #n ": "

/* interp/mp_interp.c */
#define MPLOG_PY_START_FAILED   MPLOGNO(00001) /* Python cannot start (home) */
#define MPLOG_PY_STARTED        MPLOGNO(00002) /* Python started: version, home */
#define MPLOG_INTERP_CREATE     MPLOGNO(00003) /* sub-interpreter cannot be made */
#define MPLOG_INTERP_SETUP      MPLOGNO(00004) /* ... nor set up: it is broken */
#define MPLOG_INTERP_CREATED    MPLOGNO(00005) /* debug: interpreter created */
#define MPLOG_INTERP_LIMIT      MPLOGNO(00006) /* PythonInterpLimit reached */
#define MPLOG_INTERP_NESTED     MPLOGNO(00007) /* entered from inside another */
#define MPLOG_INTERP_BROKEN     MPLOGNO(00008) /* a request for a broken one */
#define MPLOG_INTERP_SHARED_GIL MPLOGNO(00017) /* auto: an extension refused
                                                   its own GIL: shared now */
#define MPLOG_OPTIMIZE_RESTART  MPLOGNO(00016) /* PythonOptimize changed on restart */
/* httpd/ */
#define MPLOG_AUTHEN_NO_USER    MPLOGNO(00009) /* authen OK without req.user */
#define MPLOG_HANDLER_ERROR     MPLOGNO(00010) /* a handler raised: traceback */
#define MPLOG_IMPORT_ERROR      MPLOGNO(00011) /* PythonImport raised */
#define MPLOG_REQUEST_OBJECT    MPLOGNO(00012) /* request object not made */
#define MPLOG_IMPORTER          MPLOGNO(00013) /* the importer's log lines */
/* objects/ */
#define MPLOG_PYTHON_PATH       MPLOGNO(00014) /* PythonPath failed */
#define MPLOG_CLEANUP_ERROR     MPLOGNO(00015) /* register_cleanup callable raised */
/* httpd/mp_filter.c (00020-00029 kept for filters) */
#define MPLOG_FILTER_ERROR      MPLOGNO(00020) /* a Python filter raised: traceback */
#define MPLOG_FILTER_UNKNOWN    MPLOGNO(00021) /* filter name not configured here */
#define MPLOG_FILTER_REQUEST    MPLOGNO(00022) /* request object not made for a filter */

/* config/mp_locks.c: _global_lock's locks (ids 00050-00059 are theirs
 * and objects/mp_process.c's) */
#define MPLOG_LOCKS_CREATED     MPLOGNO(00050) /* info: the locks, mechanism */
#define MPLOG_LOCKS_CREATE      MPLOGNO(00051) /* a lock cannot be made: no start */
#define MPLOG_LOCKS_CHILD       MPLOGNO(00052) /* ... nor taken up by a child */
#define MPLOG_LOCKS_OPTION_IGNORED MPLOGNO(00053) /* lock option outside main server */
#define MPLOG_LOCKS_KEPT        MPLOGNO(00054) /* a restart keeps the locks */
#define MPLOG_LOCKS_MECH        MPLOGNO(00057) /* Mutex mechanism refused: no start */
/* objects/mp_process.c: child-exit cleanups */
#define MPLOG_EXIT_CLEANUP_ERROR MPLOGNO(00055) /* a child-exit cleanup raised */
#define MPLOG_EXIT_CLEANUP_SKIPPED MPLOGNO(00056) /* exit from inside Python */
/* httpd/mp_connection.c: PythonConnectionHandler (00030-00039) */
#define MPLOG_CONN_HANDLER_ERROR MPLOGNO(00030) /* it raised: traceback */
#define MPLOG_CONN_RESULT       MPLOGNO(00031) /* it returned no OK/DECLINED/DONE */
#define MPLOG_CONN_OBJECT       MPLOGNO(00032) /* connection object not made */
/* httpd/mp_status.c: mod_status's page (00040-00049) */
#define MPLOG_STATUS_ERROR      MPLOGNO(00040) /* an interpreter's modules left out */
/* lib/python/mod_python/wsgi.py (written from Python):
 *   MP00070  PythonOption mod_python.wsgi.application is not set (500)
 *   MP00071  the application module has no such callable: declined
 *   MP00072  the URI is not under mod_python.wsgi.base_uri: declined
 *   MP00073  mod_python.wsgi.reload: an application reloaded (NOTICE)
 *   MP00074  a bad mod_python.wsgi.reload / application option (500)
 *   MP00075  the client went away during a response (INFO) */

#endif
