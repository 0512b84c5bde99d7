/* mod_python: what the C files share: configuration, phases, the Python
 * types, and the few functions one concern offers another. */
#ifndef MOD_PYTHON_H
#define MOD_PYTHON_H

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

#define MP_VERSION "4.0.0-dev"
#define MP_MAIN_INTERPRETER "main_interpreter"

extern module AP_MODULE_DECLARE_DATA python_module;

/* ------------------------------------------------------------ phases */

typedef enum {
    MP_POST_READ_REQUEST, MP_TRANS, MP_HEADER_PARSER, MP_INIT, MP_ACCESS,
    MP_AUTHEN, MP_AUTHZ, MP_TYPE, MP_FIXUP, MP_HANDLER, MP_LOG, MP_CLEANUP,
    MP_NPHASES
} mp_phase;

typedef struct {
    const char *directive;   /* "PythonAccessHandler" */
    const char *callable;    /* default object: "accesshandler" */
    int server_only;         /* RSRC_CONF, no "| .ext" */
    int go_on[3];            /* results that let the next stacked handler run */
} mp_phase_info;

extern const mp_phase_info mp_phases[MP_NPHASES];

/* ------------------------------------------------------------ config */

typedef struct {
    const char *spec;        /* as written: "mod::obj" */
    const char *module;      /* "mod" */
    const char *object;      /* "obj", or the phase's default */
    const char *directory;   /* handler directory with trailing '/', or NULL */
    apr_array_header_t *exts;/* ".ext" filters (const char *), or NULL */
    unsigned id;             /* unique in the process for configured
                                handlers (their Python names are cached by
                                it); 0 for req.add_handler()'s */
} mp_handler;

typedef struct {
    const char *interp;      /* PythonImport INTERPRETER */
    const char *module;
    const char *function;    /* or NULL */
    const char *where;       /* "file:line" for messages */
} mp_import;

typedef struct {
    apr_array_header_t *handlers[MP_NPHASES]; /* mp_handler; NULL = unset */
    apr_table_t *directives; /* req.get_config() */
    apr_table_t *options;    /* req.get_options() */
    int debug;               /* -1 = unset in all of these */
    int autoreload;
    int per_directory;
    int per_directive;
    const char *interpreter;
    const char *python_path;
    const char *importer_path; /* options' MP_OPT_IMPORTER_PATH, looked up
                                  when configured, not at every import */
} mp_dir_config;

#define MP_OPT_IMPORTER_PATH "mod_python.importer.path"

typedef struct {
    mp_dir_config *conf;         /* server-level values (get_config()) */
    apr_array_header_t *imports; /* mp_import, main server only */
    const char *python_home;
    int interp_limit;            /* PythonInterpLimit; 0 = unset */
} mp_server_config;

#define MP_DEFAULT_INTERP_LIMIT 64

/* Read at every phase of every request: inline. */
static inline mp_dir_config *mp_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &python_module);
}
mp_server_config *mp_srv_conf(const server_rec *s);
/* PythonInterpLimit: how many interpreters named after request paths a
 * process may have. */
int mp_interp_limit(const server_rec *s);
extern const command_rec mp_directives[];
void *mp_create_dir_config(apr_pool_t *p, char *dir);
void *mp_merge_dir_config(apr_pool_t *p, void *base, void *add);
void *mp_create_srv_config(apr_pool_t *p, server_rec *s);
void *mp_merge_srv_config(apr_pool_t *p, void *base, void *add);

/* Handler specs "module[::object]": split into module and object. */
int mp_parse_handler_spec(apr_pool_t *p, const char *spec, const char *deflt,
                          const char **module, const char **object);

/* ------------------------------------------------------------ dispatch */

int mp_run_phase(request_rec *r, mp_phase phase);
/* PythonInitHandler runs once per request: at post_read_request when the
 * server configures it, else at header_parser with the directory's
 * (mod_python's rule). */
int mp_run_init_phase(request_rec *r, int at_post_read);
/* Log the pending Python exception's traceback, line by line, each line
 * prefixed; clears it.  Never exits, whatever was raised (SystemExit). */
void mp_log_exception(request_rec *r, server_rec *s, const char *prefix);
/* Handler `h` raised in `phase`: log the traceback; with PythonDebug On
 * also send it, escaped, to the client.  The status to return. */
int mp_report_handler_error(request_rec *r, const mp_dir_config *c, mp_phase phase,
                            const mp_handler *h);
void mp_run_imports(server_rec *s, apr_pool_t *p);
void mp_register_cleanup_phase(request_rec *r);

/* ------------------------------------------------------------ request scope */

/* What a request object shares with the objects it hands out (its tables,
 * its connection object): the request_rec while the request lasts, and the
 * thread serving it.  Those objects touch httpd only through
 * mp_scope_request(), so one kept after the request, or used from another
 * thread (httpd's request and connection structures are not thread-safe),
 * raises RuntimeError instead of reading freed or foreign memory.  Not a
 * Python object, so the GC cannot lead anyone to a live request through it.
 * References are taken and dropped with the GIL held. */
typedef struct mp_scope {
    request_rec *r;          /* NULL once the request is over */
    pthread_t thread;        /* the thread serving r */
    unsigned refs;
} mp_scope;

/* A scope for `r` served by this thread, with one reference; NULL with
 * MemoryError. */
mp_scope *mp_scope_new(request_rec *r);
/* The same scope for a new request when nothing else holds it (`*sc` has
 * one reference), else a new one in its place.  -1 with MemoryError. */
int mp_scope_renew(mp_scope **sc, request_rec *r);
void mp_scope_decref(mp_scope *sc);
static inline void mp_scope_incref(mp_scope *sc) { sc->refs++; }
/* This thread serves the request from now on, with the GIL held: httpd
 * may run a request's last steps (its pool cleanups, under the event MPM's
 * write completion) in another thread than its handler's. */
static inline void mp_scope_adopt(mp_scope *sc)
{
    sc->thread = pthread_self();
}
/* The request is over: from any thread, without the GIL (a pool cleanup). */
static inline void mp_scope_end(mp_scope *sc)
{
    __atomic_store_n(&sc->r, NULL, __ATOMIC_RELEASE);
}
/* Sets the RuntimeError saying why `sc` cannot be used here; NULL. */
request_rec *mp_scope_refuse(const mp_scope *sc, const request_rec *r);
/* The request_rec, if the request lasts and this thread serves it; else
 * NULL with RuntimeError.  Read at every request method: inline. */
static inline request_rec *mp_scope_request(const mp_scope *sc)
{
    request_rec *r = __atomic_load_n(&sc->r, __ATOMIC_ACQUIRE);

    if (r && pthread_equal(sc->thread, pthread_self()))
        return r;
    return mp_scope_refuse(sc, r);
}

/* ------------------------------------------------------------ Python types */

/* Tables: case-insensitive mappings over an apr_table_t.  A request's or
 * connection's table lives in `scope` (it raises once that ends), and
 * copies the strings it is given into `pool`; mp_table_new_own() makes one
 * with its own pool and no scope. */
PyObject *mp_table_wrap(apr_table_t *t, mp_scope *scope, apr_pool_t *pool, int headers);
PyObject *mp_table_new_own(void);
/* A copy with its own pool (configuration is shared by every thread);
 * drop_empty leaves out empty values (get_options(): "unset"). */
PyObject *mp_table_copy(const apr_table_t *src, int drop_empty);
apr_table_t *mp_table_get(PyObject *o);
extern PyTypeObject mp_table_type;

typedef struct mp_request mp_request;
/* `interp_name` and `phase` are str objects the caller keeps alive (the
 * request takes its own references); phase may be Py_None. */
struct mp_interp;
PyObject *mp_request_new(request_rec *r, struct mp_interp *in);
/* After the request (detached): gives up the caller's reference, keeping
 * the object for a later request of `in` when nothing else holds it.  With
 * the GIL held in `in`. */
void mp_request_release(struct mp_interp *in, PyObject *req);
void mp_request_set_phase(PyObject *req, PyObject *phase);
struct mp_imp_request *mp_request_importer_state(PyObject *req);
void mp_request_detach(PyObject *req);
/* The calling thread serves req's request from now on (mp_scope_adopt). */
void mp_request_adopt(PyObject *req);
/* req.add_handler(): run `spec` later in this request, in phase `phase`. */
int mp_request_add_handler(request_rec *r, const char *phase, const char *spec,
                           const char *dir);
extern PyTypeObject mp_request_type;

PyObject *mp_server_new(server_rec *s);
server_rec *mp_server_rec(PyObject *o);
extern PyTypeObject mp_server_type;
/* req.connection: valid in the scope of the request it came from. */
PyObject *mp_conn_new(mp_scope *scope);
extern PyTypeObject mp_conn_type;

int mp_types_ready(void);

/* Text between httpd and Python, one rule both ways: bytes from httpd are
 * decoded as UTF-8 with surrogateescape (bytes that are not UTF-8 become
 * U+DC80..U+DCFF), and str is encoded back the same way, so an echoed
 * value keeps its bytes.  bytes objects go out as they are.
 * mp_str_to_c: str or bytes -> C string in pool `p`; NULL with an
 * exception (TypeError, UnicodeEncodeError, ValueError for NUL, and for
 * CR/LF when `no_crlf`).  `what` names the value in the error. */
const char *mp_str_to_c(apr_pool_t *p, PyObject *o, const char *what, int no_crlf);
PyObject *mp_str_from_c(const char *s);

/* PythonOption key as a switch: 1 (On, 1, true, yes), 0 (Off, 0, false,
 * no), -1 (unset or anything else). */
int mp_option_flag(const apr_table_t *options, const char *key);

/* log_error(msg[, level[, server]]) shared by _apache, req, server, conn. */
PyObject *mp_log_error(server_rec *s, const request_rec *r, const conn_rec *c,
                       PyObject *args);

/* The _apache built-in module of the current interpreter. */
PyObject *mp_apachemod_create(void);

/* ------------------------------------------------------------ host context */

/* What the importer and _apache see as "the configuration in force" in
 * this thread: set around every call into Python. */
typedef struct mp_context {
    request_rec *r;          /* or NULL outside a request */
    server_rec *s;           /* never NULL */
    PyObject *req;           /* borrowed request object, or NULL */
    const char *handler_dir; /* directory of the handler being run */
    struct mp_context *prev;
} mp_context;

void mp_context_push(mp_context *ctx);
void mp_context_pop(mp_context *ctx);
mp_context *mp_context_current(void);
extern const struct mp_importer_host mp_httpd_host;

/* The server given at child start, for code outside requests. */
extern server_rec *mp_main_server;

#endif
