/* The importer's insides, shared by its three files: mp_importer.c (cache
 * entries, locks, freshness, loading), mp_importer_find.c (finding files and
 * remembering where names resolve) and mp_importer_py.c (the Python-level
 * object and its methods).  Not for the rest of mod_python. */
#ifndef MP_IMPORTER_INT_H
#define MP_IMPORTER_INT_H

#include "importer/mp_importer.h"
#include "base/mp_tls.h"
#include "base/mp_pycompat.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#define MP_MAX_DEPTH 256

typedef struct mp_entry mp_entry;

/* Per OS thread: which entry this thread waits for (guarded by `mu`). */
typedef struct mp_tinfo {
    mp_entry *waiting_on;
} mp_tinfo;

typedef struct mp_importer {
    PyObject_HEAD
    const mp_importer_host *host;
    char *interp_name;
    PyObject *cache;        /* {path: entry} */
    PyObject *builtins;     /* builtins copy whose __import__ is our hook */
    PyObject *orig_import;  /* the real builtins.__import__ */
    PyObject *s_mp_info;    /* interned "__mp_info__" */
    PyObject *s_mp_path;    /* interned "__mp_path__" */
    PyObject *s_file;       /* interned "__file__" */
    PyObject *resolved;     /* {name: [resolution records]}, see mp_importer_find.c */
    PyTypeObject *entry_type; /* ModuleInfo, made with the importer */
    unsigned long resolved_epoch;
    PyObject *retired;      /* {weakref to a replaced module} */
    PyObject *on_retired;   /* their callback: sets collect_due */
    int collect_due;        /* a retired module was let go: collect */
    int optimize;           /* sys.flags.optimize, part of the code's key */
    char *bc_dir;           /* the bytecode directory last prepared */
    int bc_ok;              /* ...and whether it is usable */
    pthread_mutex_t mu;
    unsigned long generation;
    unsigned long changes;  /* bumped by whatever may change what an import
                               returns without a file event: see memos */
    int frozen;
    int notify;             /* use file-change notification (else stat) */
    unsigned long stats;    /* stat() calls made, for introspection */
} mp_importer;

struct mp_entry {
    PyObject_HEAD
    PyObject *path;         /* str */
    PyObject *module;       /* last good module, or NULL */
    PyObject *loading;      /* module whose body runs now, or NULL */
    PyObject *children;     /* tuple of child paths */
    PyObject *code;         /* the last good version's code... */
    PyObject *source;       /* ...and its source (bytes) */
    PyObject *last_error;   /* one line (str) about the last failed load */
    struct timespec mtime, ctime;
    off_t size;
    ino_t ino;
    dev_t dev;
    unsigned long generation;
    unsigned long load_count;
    unsigned long hits;
    double last_check;
    unsigned long load_epoch;     /* watch epoch polled before the last load */
    unsigned long verified_epoch; /* epoch at which the whole tree was fresh */
    int watched;            /* its directory is watched: no stat needed */
    int failed;             /* the last load attempt raised */
    int warned_removed;
    mp_tinfo *owner;        /* guarded by mu */
    int waiters;            /* guarded by mu */
    pthread_cond_t cv;
};

/* The module whose body this thread is executing: its imports are its
 * children. */
typedef struct mp_frame {
    mp_importer *imp;
    mp_entry *entry;
    PyObject *children;     /* list of paths */
    struct mp_frame *prev;
} mp_frame;


/* d[key] (borrowed) or NULL.  The keys looked up are str, whose comparison
 * cannot fail; unlike PyDict_GetItem this does not save and restore the
 * exception state, which costs more than the lookup itself; so it must
 * not be used while an exception is pending. */
static inline PyObject *mp_imp_dict_get(PyObject *d, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(d, key);

    if (!v)
        PyErr_Clear();
    return v;
}

/* mp_importer_find.c: the file `name` last resolved to with these parts,
 * if that resolution is remembered (and was watched, when `check`);
 * borrowed, or NULL. */
PyObject *mp_imp_resolved_file(mp_importer *imp, PyObject *name, PyObject *path,
                               PyObject *search, int check);
/* search (a list or NULL) as a record keeps it, and the comparison */
PyObject *mp_imp_search_key(PyObject *search);
int mp_imp_same_search(PyObject *search, PyObject *key);

/* mp_importer.c */
void mp_imp_log(mp_importer *imp, int log, const char *what, PyObject *path);
/* log the pending exception's traceback, then clear it */
void mp_imp_log_exception(mp_importer *imp, const char *what, PyObject *path);
void mp_imp_stat_record(mp_entry *e, const struct stat *st);
double mp_imp_now(void);
/* run `code` as mod's body, its imports recorded as e's *children */
PyObject *mp_imp_exec_body(mp_importer *imp, mp_entry *e, PyObject *mod,
                           PyObject *code, PyObject **children);
int mp_imp_want_check(mp_importer *imp, int autoreload);
unsigned long mp_imp_current_epoch(mp_importer *imp, mp_imp_request *rq);
/* `check`: 1 to check freshness (with `epoch` from mp_imp_current_epoch) */
PyObject *mp_imp_import_path(mp_importer *imp, PyObject *path,
                             const struct stat *st, int check,
                             unsigned long epoch, int log);
/* import `name` if it is a file of ours; NULL without an exception if not */
PyObject *mp_imp_import_file(mp_importer *imp, PyObject *name, int autoreload,
                             int log, PyObject *path, PyObject *globals);
PyObject *mp_imp_do_import(mp_importer *imp, PyObject *name, int autoreload,
                           int log, PyObject *path, PyObject *globals);

/* mp_importer_load.c: (re)load e from its file, entry lock held;
 * `own_file`: the only reason is that e's own file changed (e is loaded,
 * its last load worked, no child is newer) */
int mp_imp_entry_load(mp_importer *imp, mp_entry *e, int log, int own_file);

/* mp_importer_find.c */
void mp_imp_watch_parent(const char *path, int *ok);
PyObject *mp_imp_resolve_cached(mp_importer *imp, PyObject *name, PyObject *path,
                                PyObject *globals, struct stat *st, int check,
                                unsigned long epoch);

#endif
