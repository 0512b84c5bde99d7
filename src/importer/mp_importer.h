/* The module importer: modules cached by absolute path, dependencies,
 * safe reload.  Free of httpd: it reaches its host (configuration in force,
 * logging, the request's module cache) only through mp_importer_host, so the
 * Check suite drives it with real files and real threads. */
#ifndef MP_IMPORTER_H
#define MP_IMPORTER_H

#include <Python.h>

/* What the importer keeps for one request, inside the host's request: one
 * module per path (the first one inline, as most requests import one; the
 * others in a dict made on demand) and the watch epoch polled at the
 * request's first check (0: not polled yet).  Zeroed by the host, which
 * passes it to the two functions below from its tp_traverse and tp_clear;
 * clearing makes it fit for a new request. */
typedef struct mp_imp_request {
    PyObject *path1, *module1;
    PyObject *modules;
    unsigned long epoch;
} mp_imp_request;

int mp_imp_request_traverse(mp_imp_request *rq, visitproc visit, void *arg);
void mp_imp_request_clear(mp_imp_request *rq);

/* Every callback runs with the GIL held, in the thread that imports; the
 * host finds "the configuration in force" from its own thread-local state. */
typedef struct mp_importer_host {
    void *data;
    /* PythonAutoReload in force: 1 or 0. */
    int (*autoreload)(void *data);
    /* Import logging in force (PythonDebug or mod_python.importer.log). */
    int (*logging)(void *data);
    /* PythonOption mod_python.importer.path, evaluated: a new reference to a
     * list of directories; NULL without an exception when unset; NULL with
     * an exception when it does not evaluate to a list. */
    PyObject *(*search_path)(void *data);
    /* Directory of the handler in force (for "~/x"), or NULL. */
    const char *(*handler_dir)(void *data);
    /* The current request's importer state, or NULL outside a request. */
    mp_imp_request *(*request)(void *data);
    /* One line to the log at NOTICE. */
    void (*log)(void *data, const char *msg);
    /* PythonOption mod_python.importer.on_reload_error keep: 1, else 0. */
    int (*keep_last_good)(void *data);
    /* PythonOption mod_python.importer.bytecode: 0 when Off, else 1. */
    int (*bytecode)(void *data);
    /* PythonOption mod_python.importer.bytecode_dir, or NULL. */
    const char *(*bytecode_dir)(void *data);
} mp_importer_host;

/* A new importer (a Python object) for one interpreter.  `host` must outlive
 * it.  Its methods: import_module(), freeze(), frozen, modules(), tree(). */
PyObject *mp_importer_new(const mp_importer_host *host, const char *interp_name);

/* import_module(name, autoreload, log, path) from C: autoreload and log are
 * 1, 0, or -1 for "configuration in force"; path is a list or NULL.  Returns
 * a new reference. */
PyObject *mp_importer_import(PyObject *importer, PyObject *name,
                             int autoreload, int log, PyObject *path);

/* One import a caller makes again and again (a configured handler's
 * module): what it found is remembered here, and given back without
 * resolving the name or looking up the cache while nothing it depends on
 * changed: no module loaded or dropped, the same checking (PythonAutoReload,
 * freeze), the same mod_python.importer.path and, when modules are
 * checked, no file event since (which needs file-change notification and
 * every directory of the module's tree watched; else every call is a full
 * import).  The request's own module for the path still comes first, as
 * for any import.  Zeroed to start; cleared with mp_import_memo_clear()
 * (GIL held); one memo per (interpreter, name, path). */
typedef struct mp_import_memo {
    PyObject *entry;        /* the cache entry found */
    PyObject *search;       /* mod_python.importer.path then (tuple or None) */
    unsigned long changes;  /* the importer's change count then */
    unsigned long epoch;    /* the watch epoch then (0: not checking) */
    int check;
} mp_import_memo;

/* mp_importer_import(importer, name, -1, -1, path) through `memo`. */
PyObject *mp_importer_import_memo(PyObject *importer, mp_import_memo *memo,
                                  PyObject *name, PyObject *path);
void mp_import_memo_clear(mp_import_memo *memo);

/* Retired modules (replaced by a reload) are held in reference cycles
 * (the module's dict and its functions) that only Python's cyclic GC
 * frees; left to its schedule, memory grows by a version per reload.  When
 * the last user of a retired module lets go of it, a collection is due:
 * the host runs it where no response waits for it.  _due needs no GIL;
 * _collect (GIL held) returns the number of collections run (0 or 1). */
int mp_importer_collect_due(PyObject *importer);
int mp_importer_collect(PyObject *importer);

#endif
