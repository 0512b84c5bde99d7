/* Interpreters and thread states.  Entering and leaving an interpreter goes
 * through mp_interp_enter() and mp_interp_leave() only, so that what a new
 * Python version changes about sub-interpreters changes here alone. */
#ifndef MP_INTERP_H
#define MP_INTERP_H

#include "mod_python.h"

#include <pthread.h>

#define MP_SPARE_REQUESTS 16

typedef struct mp_interp {
    char *name;
    PyInterpreterState *istate;
    /* Owned references, valid only inside this interpreter: */
    PyObject *importer;      /* mp_importer */
    PyObject *apache;        /* the mod_python.apache module */
    PyObject *server_return; /* apache.SERVER_RETURN */
    PyObject *path_done;     /* set of PythonPath strings already applied */
    PyObject *importer_paths;/* {mod_python.importer.path string: list} */
    PyThread_type_lock path_lock;
    PyObject *name_obj;      /* the name as a str */
    PyObject *phase_names[MP_NPHASES]; /* "PythonHandler"... as str */
    struct mp_handler_names **handler_names; /* by mp_handler.id, see mp_dispatch.c */
    /* Request objects of ended requests, for reuse (see mp_request.c). */
    PyObject *spare_requests[MP_SPARE_REQUESTS];
    int nspare_requests;
    unsigned n_handler_names;
    /* Objects whose last reference went in a thread without the GIL (the
     * end of a request): released the next time the interpreter is
     * entered, sparing every request a second GIL round trip. */
    pthread_mutex_t pending_mu;
    PyObject **pending;      /* guarded by pending_mu */
    size_t npending, cappending;
    int broken;              /* set-up failed: never entered */
    struct mp_interp *next;
} mp_interp;

/* Release request object `req` (of interpreter `in`, detached) without
 * holding the GIL: done (mp_request_release) at the next mp_interp_enter(in). */
void mp_interp_release_later(mp_interp *in, PyObject *req);

/* Start Python in the parent (once per process; later calls do nothing). */
apr_status_t mp_python_init(apr_pool_t *p, server_rec *s, const char *home);
/* In a new child: make the inherited interpreter fit for this process. */
void mp_python_child_init(void);

/* Take the GIL with this OS thread's own thread state for interpreter
 * `name` (created on first use).  `fallback` is NULL for a name from the
 * configuration; else the name comes from a request path (per directory,
 * per directive), and once PythonInterpLimit such interpreters exist in the
 * process no new one is made: `fallback` (the virtual host's) is entered
 * instead.  NULL with the reason logged if the interpreter cannot be
 * created.  Must not be called with the GIL held. */
mp_interp *mp_interp_enter(const char *name, const char *fallback, server_rec *s);
/* Release what mp_interp_enter took. */
void mp_interp_leave(mp_interp *interp);

/* Around calls into httpd that may run hooks or block (write, read,
 * internal_redirect): give the GIL up and take it back.  A hook that runs
 * meanwhile in this thread may enter any interpreter, this one included. */
mp_interp *mp_interp_suspend(void);
void mp_interp_resume(mp_interp *interp);

/* The interpreter this thread is inside, or NULL. */
mp_interp *mp_interp_current(void);

#endif
