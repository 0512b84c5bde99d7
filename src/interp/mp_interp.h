/* The interpreter layer: Python started once in the parent, sub-
 * interpreters by name, every thread's own thread states, and the request
 * context of the code running in them.  Entering and leaving an
 * interpreter goes through mp_interp_enter() and mp_interp_leave() only,
 * so that what a new Python version changes about sub-interpreters changes
 * here alone.  Uses the base layer only: what an interpreter holds for the
 * layers above is theirs (mp_interp.state), set up through mp_interp_hooks. */
#ifndef MP_INTERP_H
#define MP_INTERP_H

#include "base/mp_base.h"

#define MP_MAIN_INTERPRETER "main_interpreter"

/* ------------------------------------------------------------ context */

/* What the code running in an interpreter works for: "the configuration
 * in force" for the importer and _apache.  Pushed by mp_interp_enter(),
 * popped by mp_interp_leave(); the caller owns it and may fill `req`,
 * `handler_dir` and the handler list in between. */
typedef struct mp_context {
    request_rec *r;          /* or NULL outside a request */
    server_rec *s;           /* never NULL */
    PyObject *req;           /* borrowed request object, or NULL */
    const char *handler_dir; /* directory of the handler being run */
    struct mp_context *prev;
    const apr_array_header_t *handlers; /* the phase's mp_handler list
                                           (config layer), for req.hlist */
    int handler_index;       /* the one being run */
} mp_context;

/* This thread's innermost context, or NULL (a thread Python code started). */
mp_context *mp_context_current(void);

/* ------------------------------------------------------------ interpreters */

typedef struct mp_interp {
    char *name;
    PyInterpreterState *istate;
    void *state;             /* the upper layers' (mp_interp_hooks.setup) */
    /* Objects whose last reference went in a thread without the GIL (the
     * end of a request): released the next time the interpreter is
     * entered, sparing every request a second GIL round trip. */
    struct mp_pending *pending; /* to release at the next entry: a
                                   lock-free stack (atomic) */
    int broken;              /* set-up failed: never entered */
    int own_gil;             /* made with its own GIL (PythonInterpreterGIL) */
    int auto_gil;            /* ... by `auto`: may give it up (mp_interp_refused) */
    int replaced;            /* by a shared-GIL one of the same name: the
                                name finds that one now (atomic) */
    struct mp_interp *next;
} mp_interp;

/* The link by which an object waits for mp_interp_release_later(): a
 * member of the object, so that giving it back allocates nothing. */
typedef struct mp_pending {
    struct mp_pending *next;
} mp_pending;

/* What the layers above do with an interpreter, given once at start-up. */
typedef struct mp_interp_hooks {
    /* A new interpreter, entered (GIL held, context pushed): set
     * in->state.  -1 with a Python exception: the interpreter is broken. */
    int (*setup)(mp_interp *in, server_rec *s);
    /* Drop the object linked by `p`, given to mp_interp_release_later(),
     * GIL held in `in`. */
    void (*release)(mp_interp *in, mp_pending *p);
    /* PythonInterpreterGIL of the server an interpreter is made for. */
    mp_gil_mode (*gil)(const server_rec *s);
} mp_interp_hooks;

/* Start Python in the parent (once per process; later calls do nothing). */
/* Start Python in the parent (once: later calls only check); optimize is
 * PythonOptimize: 1 = -OO, 0 = off, -1 = unset (off). */
apr_status_t mp_python_init(server_rec *s, const char *home, int optimize);
/* The hooks, and PythonInterpLimit: how many interpreters named after
 * request paths a process may have.  In the parent, before any child. */
void mp_interp_configure(const mp_interp_hooks *hooks, int path_named_limit);
/* In a new child: make the inherited interpreter fit for this process. */
void mp_python_child_init(void);

/* Take the GIL with this OS thread's own thread state for interpreter
 * `name` (created on first use) and push `ctx`.  `fallback` is NULL for a
 * name from the configuration; else the name comes from a request path
 * (per directory, per directive), and once the limit of such interpreters
 * is reached no new one is made: `fallback` (the virtual host's) is
 * entered instead.  NULL with the reason logged if the interpreter cannot
 * be created.  Must not be called with the GIL held. */
mp_interp *mp_interp_enter(const char *name, const char *fallback, mp_context *ctx);
/* Pop the context and release what mp_interp_enter took. */
void mp_interp_leave(mp_interp *interp);

/* With the GIL held in `in` and an exception set: if it is an extension
 * module refusing to load in an interpreter with its own GIL, and `in` got
 * its own GIL from PythonInterpreterGIL auto, log which module refused and
 * replace `in`: its name is given to a new interpreter with the shared
 * GIL, made at the next mp_interp_enter() (the old one is left to the
 * threads inside it, and never entered again).  1 if so (also when
 * another thread replaced it first), else 0; the exception stays set. */
int mp_interp_refused(mp_interp *in, server_rec *s);

/* Around calls into httpd that may run hooks or block (write, read,
 * internal_redirect): give the GIL up and take it back.  A hook that runs
 * meanwhile in this thread may enter any interpreter, this one included. */
mp_interp *mp_interp_suspend(void);
void mp_interp_resume(mp_interp *interp);

/* The interpreter this thread is inside, or NULL. */
mp_interp *mp_interp_current(void);

/* The interpreters of this process, newest first, for reading: the first,
 * then each one's `next` (NULL at the end).  Interpreters are never
 * removed, so the walk needs no lock; one created meanwhile may be missed.
 * A broken one (`broken` set) must not be entered. */
mp_interp *mp_interp_first(void);

/* "own" or "shared": what PythonInterpreterGIL gave `in`. */
static inline const char *mp_interp_gil_name(const mp_interp *in)
{
    return in->own_gil ? "own" : "shared";
}

/* Release the object linked by `p` (a reference owned by the caller, of
 * interpreter `in`) without holding the GIL: hooks.release does it at the
 * next mp_interp_enter(in).  Lock-free: any thread, any time. */
void mp_interp_release_later(mp_interp *in, mp_pending *p);

#endif
