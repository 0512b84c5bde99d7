/* The Python object layer: mod_python 3.5's objects over httpd's
 * structures (request, connection, server, table), the `_apache` module,
 * and what each interpreter keeps for them (mp_pystate).  Uses the layers
 * below: interp, config, importer, base. */
#ifndef MP_OBJECTS_H
#define MP_OBJECTS_H

#include "base/mp_base.h"
#include "config/mp_config.h"
#include "importer/mp_importer.h"
#include "interp/mp_interp.h"

/* ------------------------------------------------------------ request scope */

/* What a request object shares with the objects it hands out (its tables,
 * its connection object): the request_rec while the request lasts, and the
 * thread serving it.  Those objects touch httpd only through
 * mp_scope_request(), so one kept after the request, or used from another
 * thread (httpd's request and connection structures are not thread-safe),
 * raises RuntimeError instead of reading freed or foreign memory.  Not a
 * Python object, so the GC cannot lead anyone to a live request through it.
 * References are taken and dropped with the GIL held.  A connection
 * handler's connection object has a scope of its own, with no request:
 * valid while that handler runs. */
typedef struct mp_scope {
    request_rec *r;          /* NULL once the request is over */
    pthread_t thread;        /* the thread serving r */
    unsigned refs;
    conn_rec *c;             /* r's connection; or, in a connection handler's
                                scope (r NULL), its connection: NULL once over */
    int of_conn;             /* a connection handler's: no request */
} mp_scope;

/* A scope for `r` served by this thread, with one reference; NULL with
 * MemoryError. */
mp_scope *mp_scope_new(request_rec *r);
/* A scope for a connection handler's connection `c`, served by this
 * thread, with one reference; NULL with MemoryError. */
mp_scope *mp_scope_new_conn(conn_rec *c);
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
    __atomic_store_n(&sc->c, NULL, __ATOMIC_RELEASE);
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

/* Sets the RuntimeError saying why `sc`'s connection cannot be used here. */
conn_rec *mp_scope_refuse_conn(const mp_scope *sc, const conn_rec *c);
/* The conn_rec, if the request (or connection handler) lasts and this
 * thread serves it; else NULL with RuntimeError.  What objects of a
 * connection and tables check. */
static inline conn_rec *mp_scope_conn(const mp_scope *sc)
{
    conn_rec *c = __atomic_load_n(&sc->c, __ATOMIC_ACQUIRE);

    if (c && pthread_equal(sc->thread, pthread_self()))
        return c;
    return mp_scope_refuse_conn(sc, c);
}

/* ------------------------------------------------------------ Python types */

/* The types are heap types, made for each interpreter by its _apache
 * module (mp_apachemod.c) and kept in its state: what makes an object
 * takes that state (mp_pystate_of(in) or mp_pystate_of_type()). */
struct mp_pystate;

/* Tables: case-insensitive mappings over an apr_table_t.  A request's or
 * connection's table lives in `scope` (it raises once that ends), and
 * copies the strings it is given into `pool`. */
PyObject *mp_table_wrap(struct mp_pystate *st, apr_table_t *t, mp_scope *scope,
                        apr_pool_t *pool, int headers);
/* A copy with its own pool (configuration is shared by every thread);
 * drop_empty leaves out empty values (get_options(): "unset"). */
PyObject *mp_table_copy(struct mp_pystate *st, const apr_table_t *src, int drop_empty);
/* The apr_table_t of a table object, or NULL if `o` is not one. */
apr_table_t *mp_table_get(PyObject *o);
PyTypeObject *mp_table_type_new(PyObject *module);

typedef struct mp_request mp_request;
/* The request object of `r` in interpreter `in` (borrowed), made on first
 * use (or a spare one reused) and released with r's pool; this thread
 * serves the request from now on (the event MPM may run a request's last
 * steps in another thread than its handler's).  NULL with an exception. */
PyObject *mp_request_of(request_rec *r, mp_interp *in);
/* After the request (detached): gives up the caller's reference, keeping
 * the object for a later request of `in` when nothing else holds it.  With
 * the GIL held in `in`. */
void mp_request_release(mp_interp *in, mp_pending *p);
/* `phase` is a str the caller keeps alive, or Py_None. */
void mp_request_set_phase(PyObject *req, PyObject *phase);
mp_imp_request *mp_request_importer_state(PyObject *req);
/* The handlers req.add_handler() added to `phase` of r, or NULL. */
const apr_array_header_t *mp_request_added(const request_rec *r, mp_phase phase);
/* Has Python run for r (a request object made, or a handler added)?  The
 * hooks ask it before anything else: inline, one load. */
static inline int mp_request_touched(const request_rec *r)
{
    return ap_get_module_config(r->request_config, &python_module) != NULL;
}
PyTypeObject *mp_request_type_new(PyObject *module);

PyObject *mp_server_new(struct mp_pystate *st, server_rec *s);
/* The server_rec of a server object, or NULL if `o` is not one. */
server_rec *mp_server_rec(PyObject *o);
PyTypeObject *mp_server_type_new(PyObject *module);
/* req.connection: valid in the scope of the request it came from; its
 * read(), readline() and write() (mp_conn_io.c) are a connection
 * handler's only. */
PyObject *mp_conn_new(struct mp_pystate *st, mp_scope *scope);
PyTypeObject *mp_conn_type_new(PyObject *module);
/* The filter object's type (mp_filter.h has the rest). */
PyTypeObject *mp_filter_type_new(PyObject *module);
/* A connection handler's connection object for `c` (conn.hlist shows
 * `h`): valid in this thread until mp_conn_end().  NULL with an exception. */
PyObject *mp_conn_for_handler(struct mp_pystate *st, conn_rec *c, const mp_handler *h);
/* The connection handler has returned: `conn` raises RuntimeError from now
 * on, as do its notes. */
void mp_conn_end(PyObject *conn);


/* A new _apache module for the current interpreter: its state zeroed but
 * for the types, made by its exec slot. */
PyObject *mp_apachemod_new(void);
/* Bind the importer's functions (import_module, freeze_modules...) in. */
int mp_apachemod_bind(PyObject *module, PyObject *importer);

/* log_error(msg[, level[, server]]) shared by _apache, req, server, conn. */
PyObject *mp_log_error(server_rec *s, const request_rec *r, const conn_rec *c,
                       PyObject *args);

/* ------------------------------------------------------------ per interpreter */

/* What an interpreter keeps for the Python layer (in->state): the state of
 * its _apache module.  The types are made by the module's exec slot
 * (mp_apachemod.c), the rest by mp_pystate_setup() (mp_pystate.c); the two
 * pointers at the end are their owners' (made and read by them only). */
typedef struct mp_pystate {
    PyObject *module;        /* _apache, kept for the interpreter's life */
    PyTypeObject *table_type, *request_type, *server_type, *conn_type;
    PyTypeObject *hlist_type;
    PyTypeObject *finfo_type;
    PyTypeObject *filter_type;          /* mp_filter.c */
    PyObject *importer;      /* mp_importer */
    PyObject *apache;        /* the mod_python.apache module */
    PyObject *server_return; /* apache.SERVER_RETURN */
    PyObject *name;          /* the interpreter's name as a str */
    PyObject *phase_names[MP_NPHASES]; /* "PythonHandler"... as str */
    PyObject *path_done;     /* set of PythonPath strings applied */
    PyThread_type_lock path_lock;
    PyObject *lists;         /* {list expression: its list} */
    PyObject *srv_conf;      /* {(server_rec address, 0|1): its table}:
                                server.get_config()/get_options() */
    struct mp_spares *spares;            /* mp_request.c */
    struct mp_handler_cache *handlers;   /* httpd/mp_dispatch.c */
} mp_pystate;

static inline mp_pystate *mp_pystate_of(const mp_interp *in)
{
    return in->state;
}
/* The state of the _apache module that made `type` or a base of it. */
mp_pystate *mp_pystate_of_type(PyTypeObject *type);
/* Visit and clear the PyObject references of a state (module GC). */
int mp_pystate_traverse(mp_pystate *st, visitproc visit, void *arg);
void mp_pystate_clear(mp_pystate *st);

/* Set up the new interpreter `in` (entered): _apache with the importer
 * (for `host`), mod_python.apache, in->state.  -1 with an exception. */
int mp_pystate_setup(mp_interp *in, const mp_importer_host *host, int notify,
                     server_rec *s);
/* PythonPath `expr` (NULL: none) applied to sys.path, once per distinct
 * string per interpreter; -1 with the reason logged. */
int mp_pystate_apply_path(mp_interp *in, const char *expr, request_rec *r,
                          server_rec *s);
/* A list expression of the configuration, evaluated once per distinct
 * string per interpreter: a new reference; NULL with an exception. */
PyObject *mp_pystate_list(mp_interp *in, const char *expr, const char *what);

#endif
