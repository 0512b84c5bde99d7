/* The module importer (see DESIGN.md, "The importer").
 *
 * Modules are cached per interpreter in a dict keyed by the normalised
 * absolute path of their file, never in sys.modules.  Each cache entry is a
 * Python object (it is also the module's __mp_info__) holding the last good
 * module, the file's identity when it was loaded, its children and a
 * generation number.
 *
 * Locking: the GIL makes the dict and the entries' Python fields atomic.
 * `mu` (the cache lock) guards entry creation and each entry's lock state
 * (owner, waiters).  An entry's lock is held while checking-and-loading that
 * module; waiting for it happens with the GIL released.  No Python API is
 * called while `mu` is held, so a thread holding `mu` never waits for the GIL.
 */
#include "mp_importer.h"
#include "mp_path.h"
#include "mp_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    PyObject *resolved;     /* {(name, path, importer file, search list): (file, watched)} */
    unsigned long resolved_epoch;
    pthread_mutex_t mu;
    unsigned long generation;
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

static __thread mp_tinfo tl_info;
static __thread mp_frame *tl_frame;
/* While a resolution is to be cached: cleared if a directory searched
 * cannot be watched (a new file there would go unnoticed). */
static __thread int *tl_search_watched;

static PyTypeObject mp_entry_type;
static PyTypeObject mp_importer_type;

/* ---------------------------------------------------------------- log */

static int want_log(mp_importer *imp, int log)
{
    return log >= 0 ? log : imp->host->logging(imp->host->data);
}

static void imp_log(mp_importer *imp, int log, const char *what, PyObject *path)
{
    char buf[1024];

    if (!want_log(imp, log))
        return;
    snprintf(buf, sizeof(buf), "mod_python (pid=%d, interpreter='%s'): %s '%s'",
             (int)getpid(), imp->interp_name, what, PyUnicode_AsUTF8(path));
    imp->host->log(imp->host->data, buf);
}

/* Log the pending exception's traceback line by line, then clear it.  Hook
 * failures are always logged, whatever the log switch says. */
static void imp_log_exception(mp_importer *imp, const char *what, PyObject *path)
{
    PyObject *type, *value, *tb, *lines = NULL, *tbmod;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    imp_log(imp, 1, what, path);
    tbmod = PyImport_ImportModule("traceback");
    if (tbmod)
        lines = PyObject_CallMethod(tbmod, "format_exception", "OOO", type,
                                    value ? value : Py_None, tb ? tb : Py_None);
    if (lines && PyList_Check(lines)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
            const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));
            if (s)
                imp->host->log(imp->host->data, s);
        }
    }
    PyErr_Clear();
    Py_XDECREF(lines);
    Py_XDECREF(tbmod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* -------------------------------------------------------------- paths */

static int is_file(mp_importer *imp, const char *path, struct stat *st)
{
    imp->stats++;
    return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

/* Watch the directory of `path`; clear *ok if it cannot be watched. */
static void watch_parent(const char *path, int *ok)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;

    if (n >= sizeof(dir))
        n = 0;
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (mp_watch_dir(n ? dir : "/") < 0)
        *ok = 0;
}

/* A path we cached whose file is gone: keep serving it (st_nlink 0 tells
 * the caller there is no stat to trust). */
static int cached_gone(mp_importer *imp, const char *path, struct stat *st)
{
    PyObject *key = PyUnicode_FromString(path);
    int has = key && PyDict_GetItemWithError(imp->cache, key) != NULL;

    Py_XDECREF(key);
    PyErr_Clear();
    if (has)
        memset(st, 0, sizeof(*st));
    return has;
}

/* Try `base` and `base.py`: a new normalised str, or NULL (no error). */
static PyObject *try_file(mp_importer *imp, const char *dir, const char *name,
                          struct stat *st)
{
    char buf[4096];
    size_t n;
    int r;

    if (dir)
        r = snprintf(buf, sizeof(buf) - 3, "%s/%s", dir, name);
    else
        r = snprintf(buf, sizeof(buf) - 3, "%s", name);
    if (r < 0 || r >= (int)sizeof(buf) - 3 || buf[0] != '/')
        return NULL;
    mp_path_normalise(buf);
    if (tl_search_watched && *tl_search_watched)
        watch_parent(buf, tl_search_watched);
    n = strlen(buf);
    if (n < 3 || strcmp(buf + n - 3, ".py") != 0)
        strcat(buf, ".py");
    if (is_file(imp, buf, st) || cached_gone(imp, buf, st))
        return PyUnicode_FromString(buf);
    buf[strlen(buf) - 3] = '\0';
    if (is_file(imp, buf, st))
        return PyUnicode_FromString(buf);
    return NULL;
}

/* NAME.py in each directory of `dirs` (a list, or NULL). */
static PyObject *search_dirs(mp_importer *imp, PyObject *dirs, const char *name,
                             struct stat *st)
{
    if (!dirs || !PyList_Check(dirs))
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dirs); i++) {
        PyObject *d = PyList_GET_ITEM(dirs, i);
        const char *ds = PyUnicode_Check(d) ? PyUnicode_AsUTF8(d) : NULL;
        if (!ds) {
            PyErr_Clear();
            continue;
        }
        PyObject *found = try_file(imp, ds, name, st);
        if (found)
            return found;
    }
    return NULL;
}

/* The directory of the managed module owning `globals`, into buf, or 0. */
static int module_dir(mp_importer *imp, PyObject *globals, char *buf, size_t n)
{
    PyObject *file;
    const char *s, *slash;

    if (!globals || !PyDict_Check(globals) ||
        !PyDict_GetItem(globals, imp->s_mp_info))
        return 0;
    file = PyDict_GetItem(globals, imp->s_file);
    s = file && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
    if (!s || !(slash = strrchr(s, '/')) || (size_t)(slash - s) >= n) {
        PyErr_Clear();
        return 0;
    }
    memcpy(buf, s, slash - s);
    buf[slash - s] = '\0';
    if (!buf[0])
        strcpy(buf, "/");
    return 1;
}

/* Where a plain name is searched: `path`, the importing module's directory,
 * its __mp_path__, then mod_python.importer.path. */
static PyObject *search_plain(mp_importer *imp, const char *name,
                              PyObject *path, PyObject *globals,
                              struct stat *st)
{
    char dir[4096];
    PyObject *found, *extra;

    if ((found = search_dirs(imp, path, name, st)))
        return found;
    if (module_dir(imp, globals, dir, sizeof(dir))) {
        if ((found = try_file(imp, dir, name, st)))
            return found;
        if ((found = search_dirs(imp, PyDict_GetItem(globals, imp->s_mp_path),
                                 name, st)))
            return found;
    }
    extra = imp->host->search_path(imp->host->data);
    if (!extra)
        return NULL;
    found = search_dirs(imp, extra, name, st);
    Py_DECREF(extra);
    return found;
}

/* The file a name refers to: a new str; NULL without an exception means
 * "not ours, use the standard import". */
static PyObject *resolve(mp_importer *imp, const char *name, PyObject *path,
                         PyObject *globals, struct stat *st)
{
    char dir[4096];
    const char *base = NULL;
    PyObject *found;

    switch (mp_name_classify(name)) {
    case MP_NAME_ABSOLUTE:
        found = try_file(imp, NULL, name, st);
        break;
    case MP_NAME_HOME:
        base = imp->host->handler_dir(imp->host->data);
        found = base ? try_file(imp, base, name + 2, st) : NULL;
        break;
    case MP_NAME_RELATIVE:
        if (module_dir(imp, globals, dir, sizeof(dir)))
            base = dir;
        else
            base = imp->host->handler_dir(imp->host->data);
        found = base ? try_file(imp, base, name, st) : NULL;
        break;
    case MP_NAME_INVALID:
        PyErr_Format(PyExc_ImportError,
                     "module name '%s': use an absolute path, '~/', './' or '../'",
                     name);
        return NULL;
    case MP_NAME_DOTTED:
        return NULL;  /* a package module: the standard import's */
    default:
        return search_plain(imp, name, path, globals, st);
    }
    if (!found && !PyErr_Occurred())
        PyErr_Format(PyExc_ImportError, "No module file found for '%s'%s%s",
                     name, base ? " in " : "", base ? base : "");
    return found;
}

/* -------------------------------------------------------------- entries */

static int stat_differs(const mp_entry *e, const struct stat *st)
{
    return e->mtime.tv_sec != st->st_mtim.tv_sec ||
           e->mtime.tv_nsec != st->st_mtim.tv_nsec ||
           e->ctime.tv_sec != st->st_ctim.tv_sec ||
           e->ctime.tv_nsec != st->st_ctim.tv_nsec ||
           e->size != st->st_size || e->ino != st->st_ino ||
           e->dev != st->st_dev;
}

static void stat_record(mp_entry *e, const struct stat *st)
{
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
    e->size = st->st_size;
    e->ino = st->st_ino;
    e->dev = st->st_dev;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static mp_entry *entry_new(PyObject *path)
{
    mp_entry *e = PyObject_GC_New(mp_entry, &mp_entry_type);

    if (!e)
        return NULL;
    Py_INCREF(path);
    e->path = path;
    e->module = e->loading = NULL;
    e->children = PyTuple_New(0);
    memset(&e->mtime, 0, sizeof(e->mtime));
    memset(&e->ctime, 0, sizeof(e->ctime));
    e->size = 0;
    e->ino = 0;
    e->dev = 0;
    e->generation = e->load_count = e->hits = 0;
    e->last_check = 0;
    e->failed = e->warned_removed = 0;
    e->load_epoch = e->verified_epoch = 0;
    e->watched = 0;
    e->owner = NULL;
    e->waiters = 0;
    pthread_cond_init(&e->cv, NULL);
    PyObject_GC_Track(e);
    if (!e->children) {
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

/* Find or create the entry for `path` (new reference).  The GIL is the
 * cache lock here: dict lookups are atomic under it, and SetDefault keeps a
 * concurrent creator (entry_new may run the GC, which may switch threads)
 * from installing a second entry for the same path. */
static mp_entry *entry_get(mp_importer *imp, PyObject *path)
{
    mp_entry *e = (mp_entry *)PyDict_GetItemWithError(imp->cache, path), *got;

    if (e) {
        Py_INCREF(e);
        return e;
    }
    if (PyErr_Occurred() || !(e = entry_new(path)))
        return NULL;
    got = (mp_entry *)PyDict_SetDefault(imp->cache, path, (PyObject *)e);
    Py_XINCREF(got);
    Py_DECREF(e);
    return got;
}

enum { LOCK_OWNED, LOCK_REENTERED, LOCK_CYCLE };

/* Would waiting for `e` close a cycle of threads waiting on each other? */
static int would_deadlock(const mp_entry *e, const mp_tinfo *me)
{
    const mp_tinfo *t = e->owner;

    for (int n = 0; t && n < 10000; n++) {
        if (t == me)
            return 1;
        if (!t->waiting_on)
            return 0;
        t = t->waiting_on->owner;
    }
    return 0;
}

static int entry_lock(mp_importer *imp, mp_entry *e)
{
    mp_tinfo *me = &tl_info;
    int rc = -1;

    pthread_mutex_lock(&imp->mu);
    if (!e->owner)
        e->owner = me, rc = LOCK_OWNED;
    else if (e->owner == me)
        rc = LOCK_REENTERED;
    pthread_mutex_unlock(&imp->mu);
    if (rc >= 0)
        return rc;

    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&imp->mu);
    for (;;) {
        if (!e->owner) {
            e->owner = me;
            rc = LOCK_OWNED;
            break;
        }
        if (would_deadlock(e, me)) {
            rc = LOCK_CYCLE;
            break;
        }
        me->waiting_on = e;
        e->waiters++;
        pthread_cond_wait(&e->cv, &imp->mu);
        e->waiters--;
        me->waiting_on = NULL;
    }
    pthread_mutex_unlock(&imp->mu);
    Py_END_ALLOW_THREADS
    return rc;
}

static void entry_unlock(mp_importer *imp, mp_entry *e)
{
    pthread_mutex_lock(&imp->mu);
    e->owner = NULL;
    if (e->waiters)
        pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&imp->mu);
}

static int entry_has_waiters(mp_importer *imp, mp_entry *e)
{
    int n;
    pthread_mutex_lock(&imp->mu);
    n = e->waiters;
    pthread_mutex_unlock(&imp->mu);
    return n;
}

/* ------------------------------------------------------------- freshness */

static void warn_removed(mp_importer *imp, mp_entry *e)
{
    if (!e->warned_removed) {
        e->warned_removed = 1;
        imp_log(imp, 1, "Module file removed, keeping the cached module", e->path);
    }
}

/* Has e's own file changed since it was loaded?  With notification on
 * and its directory watched, an event naming it says so (exact, even for
 * a same-size rewrite within one clock tick) and no syscall is needed;
 * otherwise compare stat() with what was loaded.  A removed file is not a
 * change: the cached module keeps serving. */
static int file_changed(mp_importer *imp, mp_entry *e, const struct stat *st,
                        unsigned long epoch)
{
    const char *path = PyUnicode_AsUTF8(e->path);
    struct stat own;

    if (epoch && e->watched) {
        if (mp_watch_changed(path) <= e->load_epoch)
            return 0;
        st = NULL;  /* an event: still, a removed file is not a change */
    }
    if (!st) {
        imp->stats++;
        if (stat(path, &own) != 0) {
            warn_removed(imp, e);
            return 0;
        }
        if (epoch && e->watched)
            return 1;
        st = &own;
    }
    return stat_differs(e, st);
}

/* Is `e` usable as it is: loaded, its file unchanged, every child (any
 * depth) fresh and not reloaded after it?  1 yes, 0 no.  `st` is the file's
 * stat when the caller already has it; *watched is cleared when some file
 * of the tree had to be checked with stat. */
static int entry_fresh(mp_importer *imp, mp_entry *e, const struct stat *st,
                       unsigned long epoch, int depth, int *watched)
{
    PyObject *kids;
    int fresh = 1;

    if (!e->module || e->failed)
        return 0;
    if (depth > MP_MAX_DEPTH)
        return 1;
    e->last_check = now();
    if (!(epoch && e->watched))
        *watched = 0;
    if (file_changed(imp, e, st, epoch))
        return 0;
    kids = e->children;
    Py_INCREF(kids);
    for (Py_ssize_t i = 0; fresh && i < PyTuple_GET_SIZE(kids); i++) {
        mp_entry *c = (mp_entry *)PyDict_GetItem(imp->cache,
                                                 PyTuple_GET_ITEM(kids, i));
        fresh = c && c->generation <= e->generation &&
                entry_fresh(imp, c, NULL, epoch, depth + 1, watched);
    }
    Py_DECREF(kids);
    return fresh;
}

/* The watch epoch for this check: polled once per request (remembered in
 * the request's module cache), on every call outside a request; 0 when
 * notification is off. */
static unsigned long current_epoch(mp_importer *imp, PyObject *rcache)
{
    PyObject *v;
    unsigned long e;

    if (!imp->notify)
        return 0;
    if (rcache && (v = PyDict_GetItem(rcache, (PyObject *)imp)))
        return PyLong_AsUnsignedLong(v);
    e = mp_watch_poll();
    if (rcache && (v = PyLong_FromUnsignedLong(e))) {
        if (PyDict_SetItem(rcache, (PyObject *)imp, v) < 0)
            PyErr_Clear();
        Py_DECREF(v);
    }
    PyErr_Clear();
    return e;
}

/* -------------------------------------------------------------- loading */

static PyObject *read_source(const char *path, struct stat *st)
{
    PyObject *src = NULL;
    ssize_t got = 0, r = 0;
    int fd;

    Py_BEGIN_ALLOW_THREADS
    fd = open(path, O_RDONLY | O_CLOEXEC);
    Py_END_ALLOW_THREADS
    if (fd < 0 || fstat(fd, st) < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_ImportError, path);
        goto done;
    }
    if (!(src = PyBytes_FromStringAndSize(NULL, st->st_size)))
        goto done;
    Py_BEGIN_ALLOW_THREADS
    while (got < st->st_size &&
           (r = read(fd, PyBytes_AS_STRING(src) + got, st->st_size - got)) > 0)
        got += r;
    Py_END_ALLOW_THREADS
    if (r < 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_ImportError, path);
        Py_CLEAR(src);
    } else if (got < st->st_size) {
        _PyBytes_Resize(&src, got);  /* truncated while we read it */
    }
done:
    if (fd >= 0)
        close(fd);
    return src;
}

/* A fresh module object for `e`: synthetic name, real __file__. */
static PyObject *module_new(mp_importer *imp, mp_entry *e)
{
    const char *p = PyUnicode_AsUTF8(e->path);
    uint64_t h = 1469598103934665603ULL;  /* FNV-1a 64 of the path */
    char name[40];
    PyObject *m, *d, *mp_path;

    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(name, sizeof(name), "_mp_%016llx", (unsigned long long)h);
    if (!(m = PyModule_New(name)))
        return NULL;
    d = PyModule_GetDict(m);
    if (!(mp_path = PyList_New(0)) ||
        PyDict_SetItem(d, imp->s_file, e->path) < 0 ||
        PyDict_SetItem(d, imp->s_mp_info, (PyObject *)e) < 0 ||
        PyDict_SetItem(d, imp->s_mp_path, mp_path) < 0 ||
        PyDict_SetItemString(d, "__builtins__", imp->builtins) < 0) {
        Py_XDECREF(mp_path);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(mp_path);
    return m;
}

/* Call old.<hook>(args...) if the hook exists: 1 called, 0 absent, -1 it
 * raised (exception set). */
static int call_hook(PyObject *old, const char *hook, PyObject *arg)
{
    PyObject *fn, *r;

    if (!old || !(fn = PyObject_GetAttrString(old, hook))) {
        PyErr_Clear();
        return 0;
    }
    r = arg ? PyObject_CallOneArg(fn, arg) : PyObject_CallNoArgs(fn);
    Py_DECREF(fn);
    Py_XDECREF(r);
    return r ? 1 : -1;
}

/* The module the new code runs in: fresh, after giving the old module's
 * __mp_clone__ the chance to carry state over.  If the hook raises, the old
 * module is purged and dropped and the new one starts empty. */
static PyObject *prepare_module(mp_importer *imp, mp_entry *e, int log)
{
    PyObject *mod = module_new(imp, e), *old = e->module;
    int rc;

    if (!mod || !old)
        return mod;
    Py_INCREF(old);
    rc = call_hook(old, "__mp_clone__", mod);
    if (rc > 0)
        imp_log(imp, log, "Cloned module", e->path);
    if (rc < 0) {
        imp_log_exception(imp, "__mp_clone__ failed, purging module", e->path);
        if (call_hook(old, "__mp_purge__", NULL) < 0)
            imp_log_exception(imp, "__mp_purge__ failed for module", e->path);
        else
            imp_log(imp, log, "Purged module", e->path);
        Py_CLEAR(e->module);   /* purged: no longer a last good version */
        Py_DECREF(mod);
        mod = module_new(imp, e);
    }
    Py_DECREF(old);
    return mod;
}

/* Run `code` as the body of `mod`, recording the modules it imports. */
static PyObject *exec_body(mp_importer *imp, mp_entry *e, PyObject *mod,
                           PyObject *code, PyObject **children)
{
    mp_frame frame = { imp, e, PyList_New(0), tl_frame };
    PyObject *d = PyModule_GetDict(mod), *r = NULL;

    if (!frame.children)
        return NULL;
    tl_frame = &frame;
    Py_INCREF(mod);
    Py_XSETREF(e->loading, mod);
    r = PyEval_EvalCode(code, d, d);
    Py_CLEAR(e->loading);
    tl_frame = frame.prev;
    if (r)
        *children = PyList_AsTuple(frame.children);
    Py_DECREF(frame.children);
    if (r && !*children)
        Py_CLEAR(r);
    return r;
}

/* Load (or reload) `e` from its file.  On failure the last good module, if
 * any, stays in place and the exception is set. */
static int entry_load(mp_importer *imp, mp_entry *e, int log)
{
    const char *path = PyUnicode_AsUTF8(e->path);
    PyObject *src = NULL, *code = NULL, *mod = NULL, *r = NULL, *kids = NULL;
    struct stat st;
    unsigned long epoch = 0;
    int rc = -1, watched = imp->notify;

    /* Watch first, then take the epoch, then read: a change after the read
     * is an event after this epoch. */
    if (watched)
        watch_parent(path, &watched);
    if (watched)
        epoch = mp_watch_poll();
    if (!(src = read_source(path, &st)))
        goto done;
    code = Py_CompileStringExFlags(PyBytes_AS_STRING(src), path,
                                   Py_file_input, NULL, -1);
    if (!code)
        goto done;
    imp_log(imp, log, e->load_count ? "Reimporting module" : "Importing module",
            e->path);
    if (!(mod = prepare_module(imp, e, log)))
        goto done;
    if (!(r = exec_body(imp, e, mod, code, &kids)))
        goto done;
    Py_XSETREF(e->module, mod);
    mod = NULL;
    Py_XSETREF(e->children, kids);
    stat_record(e, &st);
    e->load_epoch = epoch;
    e->watched = epoch != 0;
    e->generation = ++imp->generation;
    e->load_count++;
    e->failed = 0;
    e->warned_removed = 0;
    e->last_check = now();
    rc = 0;
done:
    if (rc < 0)
        e->failed = 1;
    Py_XDECREF(src);
    Py_XDECREF(code);
    Py_XDECREF(mod);
    Py_XDECREF(r);
    return rc;
}

/* ------------------------------------------------------------ importing */

static PyObject *import_path(mp_importer *imp, PyObject *path,
                             const struct stat *st, int autoreload, int log);

static void note_child(mp_importer *imp, PyObject *path)
{
    mp_frame *f = tl_frame;
    int has;

    if (!f || f->imp != imp || PyUnicode_Compare(f->entry->path, path) == 0)
        return;
    has = PySequence_Contains(f->children, path);
    if (has == 0 && PyList_Append(f->children, path) < 0)
        has = -1;
    if (has < 0)
        PyErr_Clear();
}

/* With the entry lock held: bring children up to date, then (re)load `e`
 * if it is still stale.  0 or -1 with an exception. */
static int entry_refresh(mp_importer *imp, mp_entry *e, int check, int log,
                         unsigned long epoch)
{
    PyObject *kids = e->children;
    mp_frame *outer = tl_frame;
    int stale = !e->module || e->failed;

    if (e->module && !check)
        return 0;
    Py_INCREF(kids);
    tl_frame = NULL;  /* refreshing e's children does not make them the caller's */
    for (Py_ssize_t i = 0; !stale && i < PyTuple_GET_SIZE(kids); i++) {
        PyObject *m = import_path(imp, PyTuple_GET_ITEM(kids, i), NULL, 1, log);
        mp_entry *c;
        if (!m) {
            tl_frame = outer;
            Py_DECREF(kids);
            return -1;
        }
        Py_DECREF(m);
        c = (mp_entry *)PyDict_GetItem(imp->cache, PyTuple_GET_ITEM(kids, i));
        stale = !c || c->generation > e->generation;
    }
    tl_frame = outer;
    Py_DECREF(kids);
    if (!stale)
        stale = file_changed(imp, e, NULL, epoch);
    return stale ? entry_load(imp, e, log) : 0;
}

/* A module we could not take the lock of: the partly initialised one that
 * this thread (or a thread waiting on us) is executing. */
static PyObject *partial_module(mp_importer *imp, mp_entry *e, int log)
{
    PyObject *m = e->loading ? e->loading : e->module;

    imp_log(imp, log, "Import cycle, using the partly initialised module", e->path);
    if (!m)
        PyErr_Format(PyExc_ImportError, "import cycle on '%U'", e->path);
    Py_XINCREF(m);
    return m;
}

static PyObject *import_slow(mp_importer *imp, mp_entry *e, int check, int log,
                             unsigned long epoch)
{
    PyObject *m = NULL;
    int rc = entry_lock(imp, e);

    if (rc != LOCK_OWNED)
        return partial_module(imp, e, log);
    if (entry_refresh(imp, e, check, log, epoch) == 0) {
        m = e->module;
        Py_INCREF(m);
        if (PyDict_SetDefault(imp->cache, e->path, (PyObject *)e) == NULL)
            Py_CLEAR(m);
    } else if (!e->module && !entry_has_waiters(imp, e) &&
               PyDict_GetItem(imp->cache, e->path) == (PyObject *)e) {
        /* A failed first import leaves nothing cached. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyDict_DelItem(imp->cache, e->path);
        PyErr_Restore(type, value, tb);
    }
    entry_unlock(imp, e);
    return m;
}

/* Is e (and its whole tree) fresh?  Once a check found the tree fresh with
 * every file watched, the answer holds until the next file event: O(1). */
static int tree_fresh(mp_importer *imp, mp_entry *e, const struct stat *st,
                      unsigned long epoch)
{
    int watched = 1;

    if (!e->module || e->failed)
        return 0;
    if (epoch && e->verified_epoch == epoch)
        return 1;
    if (!entry_fresh(imp, e, st, epoch, 0, &watched))
        return 0;
    if (epoch && watched)
        e->verified_epoch = epoch;
    return 1;
}

static int want_check(mp_importer *imp, int autoreload)
{
    if (imp->frozen)
        return 0;
    return autoreload < 0 ? imp->host->autoreload(imp->host->data) : autoreload;
}

static PyObject *import_path(mp_importer *imp, PyObject *path,
                             const struct stat *st, int autoreload, int log)
{
    PyObject *rcache = imp->host->request_cache(imp->host->data), *m;
    unsigned long epoch = 0;
    mp_entry *e;
    int check;

    if (rcache && (m = PyDict_GetItem(rcache, path))) {
        Py_INCREF(m);
        note_child(imp, path);
        return m;
    }
    if (!(e = entry_get(imp, path)))
        return NULL;
    check = want_check(imp, autoreload);
    if (check)
        epoch = current_epoch(imp, rcache);
    if (st && st->st_nlink == 0)
        st = NULL;  /* found in the cache only: its file is gone */
    if (e->module && (!check || tree_fresh(imp, e, st, epoch))) {
        e->hits++;
        m = e->module;
        Py_INCREF(m);
    } else {
        m = import_slow(imp, e, check, log, epoch);
    }
    /* Partial modules (cycles) are not dependencies, nor cached per request. */
    if (m && m != e->loading) {
        note_child(imp, path);
        if (rcache && PyDict_SetItem(rcache, path, m) < 0)
            Py_CLEAR(m);
    }
    Py_DECREF(e);
    return m;
}

/* The standard import, for names that are not files of ours: returns the
 * named module itself (the submodule for "a.b"). */
static PyObject *standard_import(PyObject *name)
{
    PyObject *top = PyImport_ImportModuleLevelObject(name, NULL, NULL, NULL, 0);

    if (!top)
        return NULL;
    Py_DECREF(top);
    return PyImport_GetModule(name);
}

/* The resolution cache: {name: [record, ...]}, a record being the tuple
 * (path, importing file, search path, file found or None, watched) with
 * path and search path as tuples or None.  A lookup compares a record's
 * parts with the call's, element by element (the same str objects come
 * back call after call, so mostly by pointer): no allocation, no hashing
 * beyond the name's, on the hot path. */
#define RESOLVED_PER_NAME 8

enum { R_PATH, R_FILE, R_SEARCH, R_FOUND, R_WATCHED, R_SIZE };

static int same_str(PyObject *a, PyObject *b)
{
    return a == b || (PyUnicode_Check(a) && PyUnicode_Check(b) &&
                      PyUnicode_Compare(a, b) == 0);
}

/* list (or NULL/None) against the tuple (or None) a record keeps */
static int same_seq(PyObject *list, PyObject *tuple)
{
    Py_ssize_t n;

    if (!list || list == Py_None || !PyList_Check(list))
        return tuple == Py_None;
    if (tuple == Py_None || (n = PyList_GET_SIZE(list)) != PyTuple_GET_SIZE(tuple))
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!same_str(PyList_GET_ITEM(list, i), PyTuple_GET_ITEM(tuple, i)))
            return 0;
    return 1;
}

static PyObject *importing_file(mp_importer *imp, PyObject *globals)
{
    PyObject *file;

    if (globals && PyDict_Check(globals) && PyDict_GetItem(globals, imp->s_mp_info) &&
        (file = PyDict_GetItem(globals, imp->s_file)))
        return file;
    return Py_None;
}

static PyObject *find_record(PyObject *records, PyObject *path, PyObject *file,
                             PyObject *search)
{
    for (Py_ssize_t i = 0; records && i < PyList_GET_SIZE(records); i++) {
        PyObject *r = PyList_GET_ITEM(records, i);
        if (same_seq(path, PyTuple_GET_ITEM(r, R_PATH)) &&
            same_str(file, PyTuple_GET_ITEM(r, R_FILE)) &&
            same_seq(search, PyTuple_GET_ITEM(r, R_SEARCH)))
            return r;
    }
    return NULL;
}

static PyObject *as_tuple(PyObject *list)
{
    if (!list || !PyList_Check(list)) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    return PyList_AsTuple(list);
}

static void add_record(mp_importer *imp, PyObject *name, PyObject *path,
                       PyObject *file, PyObject *search, PyObject *found,
                       int watched, PyObject *stale)
{
    PyObject *records = PyDict_GetItem(imp->resolved, name), *r;
    Py_ssize_t at;

    if (stale && records && (at = PySequence_Index(records, stale)) >= 0)
        PySequence_DelItem(records, at);  /* replaced, not duplicated */

    r = Py_BuildValue("(NONOO)", as_tuple(path), file, as_tuple(search),
                      found ? found : Py_None, watched ? Py_True : Py_False);
    if (r && !records && (records = PyList_New(0)) &&
        PyDict_SetItem(imp->resolved, name, records) == 0)
        Py_DECREF(records);  /* the dict keeps it */
    if (r && records && PyList_GET_SIZE(records) >= RESOLVED_PER_NAME)
        PySequence_DelItem(records, 0);
    if (r && records)
        PyList_Append(records, r);
    Py_XDECREF(r);
    PyErr_Clear();
}

/* resolve(), remembered: for good when modules are not checked; while no
 * file event happened, when they are and every directory searched is
 * watched.  Relative forms ("~/", "./") are resolved every time.
 * st->st_nlink is 0 when no stat was made. */
static PyObject *resolve_cached(mp_importer *imp, PyObject *name, PyObject *path,
                                PyObject *globals, struct stat *st, int check,
                                unsigned long epoch)
{
    const char *s = PyUnicode_AsUTF8(name);
    PyObject *file = importing_file(imp, globals), *search, *rec, *found;
    int watched = imp->notify;

    if (!s)
        return NULL;
    if (s[0] == '~' || s[0] == '.' || (check && !epoch))
        return resolve(imp, s, path, globals, st);
    if (check && imp->resolved_epoch != epoch) {
        PyDict_Clear(imp->resolved);
        imp->resolved_epoch = epoch;
    }
    search = imp->host->search_path(imp->host->data);
    if (!search && PyErr_Occurred())
        return NULL;
    rec = find_record(PyDict_GetItem(imp->resolved, name), path, file, search);
    if (rec && (!check || PyTuple_GET_ITEM(rec, R_WATCHED) == Py_True)) {
        Py_XDECREF(search);
        memset(st, 0, sizeof(*st));
        found = PyTuple_GET_ITEM(rec, R_FOUND);
        if (found == Py_None)
            return NULL;
        Py_INCREF(found);
        return found;
    }
    tl_search_watched = watched ? &watched : NULL;
    found = resolve(imp, s, path, globals, st);
    tl_search_watched = NULL;
    if (!PyErr_Occurred())
        add_record(imp, name, path, file, search, found, watched, rec);
    Py_XDECREF(search);
    return found;
}

static PyObject *do_import(mp_importer *imp, PyObject *name, int autoreload,
                           int log, PyObject *path, PyObject *globals)
{
    PyObject *file, *m;
    struct stat st;
    int check = want_check(imp, autoreload);
    unsigned long epoch = 0;

    if (path && path != Py_None && !PyList_Check(path)) {
        PyErr_SetString(PyExc_TypeError, "import_module(): path must be a list or None");
        return NULL;
    }
    if (check)
        epoch = current_epoch(imp, imp->host->request_cache(imp->host->data));
    file = resolve_cached(imp, name, path, globals, &st, check, epoch);
    if (!file)
        return PyErr_Occurred() ? NULL : standard_import(name);
    m = import_path(imp, file, &st, check, log);
    Py_DECREF(file);
    return m;
}

PyObject *mp_importer_import(PyObject *importer, PyObject *name,
                             int autoreload, int log, PyObject *path)
{
    return do_import((mp_importer *)importer, name, autoreload, log, path, NULL);
}

void mp_importer_freeze(PyObject *importer)
{
    ((mp_importer *)importer)->frozen = 1;
}

/* --------------------------------------------------- Python-level methods */

static int tristate(PyObject *o)
{
    return (!o || o == Py_None) ? -1 : PyObject_IsTrue(o);
}

/* import_module(name, autoreload=None, log=None, path=None), parsed by
 * hand (vectorcall): it is called on every request of some applications. */
static PyObject *imp_import_module(mp_importer *imp, PyObject *const *args,
                                   Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"name", "autoreload", "log", "path"};
    PyObject *v[4] = {NULL, NULL, NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    int a, l;

    if (nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "import_module() takes at most 4 arguments");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        v[i] = args[i];
    for (Py_ssize_t k = 0; k < nkw; k++) {
        const char *kn = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
        int i = 0;
        while (i < 4 && kn && strcmp(kn, names[i]) != 0)
            i++;
        if (i == 4 || v[i]) {
            PyErr_Format(PyExc_TypeError, "import_module() got %s argument '%s'",
                         i == 4 ? "an unexpected" : "a duplicate", kn ? kn : "?");
            return NULL;
        }
        v[i] = args[nargs + k];
    }
    if (!v[0] || !PyUnicode_Check(v[0])) {
        PyErr_SetString(PyExc_TypeError, "import_module() needs a module name (str)");
        return NULL;
    }
    if ((a = tristate(v[1])) == -1 && PyErr_Occurred())
        return NULL;
    if ((l = tristate(v[2])) == -1 && PyErr_Occurred())
        return NULL;
    return do_import(imp, v[0], a, l, v[3], PyEval_GetGlobals());
}

/* __import__ for managed modules: plain names found beside the module (or
 * on its search path) go through the importer, the rest to the real one. */
static PyObject *imp_hook(mp_importer *imp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "globals", "locals", "fromlist", "level", NULL};
    PyObject *name, *globals = NULL, *locals = NULL, *fromlist = NULL;
    int level = 0;
    const char *s;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|OOOi:__import__", kwlist,
                                     &name, &globals, &locals, &fromlist, &level))
        return NULL;
    s = PyUnicode_AsUTF8(name);
    if (s && level == 0 && *s && !strchr(s, '.') && !strchr(s, '/') &&
        globals && PyDict_Check(globals) &&
        PyDict_GetItem(globals, imp->s_mp_info)) {
        struct stat st;
        int check = want_check(imp, -1);
        unsigned long epoch = check ? current_epoch(imp,
                                  imp->host->request_cache(imp->host->data)) : 0;
        PyObject *file = resolve_cached(imp, name, NULL, globals, &st, check, epoch), *m;
        if (file) {
            m = import_path(imp, file, &st, check, -1);
            Py_DECREF(file);
            return m;
        }
        if (PyErr_Occurred())
            return NULL;
    }
    return PyObject_Call(imp->orig_import, args, kw);
}

static PyObject *imp_freeze(mp_importer *imp, PyObject *unused)
{
    imp->frozen = 1;
    Py_RETURN_NONE;
}

static PyObject *entry_info(mp_entry *e)
{
    return Py_BuildValue("{s:O,s:k,s:k,s:k,s:O,s:d,s:O,s:O}",
                         "file", e->path, "generation", e->generation,
                         "load_count", e->load_count, "hits", e->hits,
                         "children", e->children, "last_check", e->last_check,
                         "failed", e->failed ? Py_True : Py_False,
                         "module", e->module ? e->module : Py_None);
}

static PyObject *imp_modules(mp_importer *imp, PyObject *unused)
{
    PyObject *out = PyDict_New(), *k, *v;
    Py_ssize_t pos = 0;

    while (out && PyDict_Next(imp->cache, &pos, &k, &v)) {
        PyObject *info = entry_info((mp_entry *)v);
        if (!info || PyDict_SetItem(out, k, info) < 0)
            Py_CLEAR(out);
        Py_XDECREF(info);
    }
    return out;
}

static int tree_add(mp_importer *imp, PyObject *lines, PyObject *path,
                    int depth, PyObject *seen)
{
    mp_entry *e = (mp_entry *)PyDict_GetItem(imp->cache, path);
    int cyc = PySet_Contains(seen, path);
    PyObject *line;

    static const char pad[] = "                                ";
    int indent = depth * 2 < (int)sizeof(pad) - 1 ? depth * 2 : (int)sizeof(pad) - 1;

    line = PyUnicode_FromFormat("%s%U (generation %lu, loads %lu, hits %lu)%s",
                                pad + sizeof(pad) - 1 - indent, path, e ? e->generation : 0UL,
                                e ? e->load_count : 0UL, e ? e->hits : 0UL,
                                !e ? " [not loaded]" : cyc ? " [...]" : "");
    if (!line || PyList_Append(lines, line) < 0) {
        Py_XDECREF(line);
        return -1;
    }
    Py_DECREF(line);
    if (!e || cyc || PySet_Add(seen, path) < 0)
        return cyc < 0 ? -1 : 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(e->children); i++)
        if (tree_add(imp, lines, PyTuple_GET_ITEM(e->children, i), depth + 1, seen) < 0)
            return -1;
    return PySet_Discard(seen, path) < 0 ? -1 : 0;
}

/* The cache as a dependency tree: roots are modules no one imports. */
static PyObject *imp_tree(mp_importer *imp, PyObject *unused)
{
    PyObject *lines = PyList_New(0), *kids = PySet_New(NULL), *seen = PySet_New(NULL);
    PyObject *k, *v, *out = NULL, *sep = NULL;
    Py_ssize_t pos = 0;

    if (!lines || !kids || !seen)
        goto done;
    while (PyDict_Next(imp->cache, &pos, &k, &v))
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(((mp_entry *)v)->children); i++)
            if (PySet_Add(kids, PyTuple_GET_ITEM(((mp_entry *)v)->children, i)) < 0)
                goto done;
    pos = 0;
    while (PyDict_Next(imp->cache, &pos, &k, &v))
        if (!PySet_Contains(kids, k) && tree_add(imp, lines, k, 0, seen) < 0)
            goto done;
    if ((sep = PyUnicode_FromString("\n")))
        out = PyUnicode_Join(sep, lines);
done:
    Py_XDECREF(sep);
    Py_XDECREF(lines);
    Py_XDECREF(kids);
    Py_XDECREF(seen);
    return out;
}

static PyObject *imp_get_frozen(mp_importer *imp, void *unused)
{
    return PyBool_FromLong(imp->frozen);
}

static PyMethodDef imp_methods[] = {
    {"import_module", (PyCFunction)(void (*)(void))imp_import_module,
     METH_FASTCALL | METH_KEYWORDS,
     "import_module(name, autoreload=None, log=None, path=None)"},
    {"__import__", (PyCFunction)(void (*)(void))imp_hook,
     METH_VARARGS | METH_KEYWORDS, "the import statement in managed modules"},
    {"freeze", (PyCFunction)imp_freeze, METH_NOARGS,
     "stop all reloading in this interpreter for good"},
    {"modules", (PyCFunction)imp_modules, METH_NOARGS,
     "{path: info} of the cached modules"},
    {"tree", (PyCFunction)imp_tree, METH_NOARGS,
     "the cached modules as a dependency tree (text)"},
    {NULL}
};

static PyObject *imp_get_stats(mp_importer *imp, void *unused)
{
    return PyLong_FromUnsignedLong(imp->stats);
}

static PyObject *imp_get_notify(mp_importer *imp, void *unused)
{
    return PyBool_FromLong(imp->notify);
}

static int imp_set_notify(mp_importer *imp, PyObject *v, void *unused)
{
    int on = v ? PyObject_IsTrue(v) : -1;

    if (on < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "notify cannot be deleted");
        return -1;
    }
    imp->notify = on;
    PyDict_Clear(imp->resolved);
    return 0;
}

static PyGetSetDef imp_getset[] = {
    {"frozen", (getter)imp_get_frozen, NULL, "freeze() was called", NULL},
    {"notify", (getter)imp_get_notify, (setter)imp_set_notify,
     "use file-change notification (inotify) rather than stat()", NULL},
    {"stat_calls", (getter)imp_get_stats, NULL, "stat() calls made so far", NULL},
    {NULL}
};

static int imp_traverse(mp_importer *imp, visitproc visit, void *arg)
{
    Py_VISIT(imp->cache);
    Py_VISIT(imp->resolved);
    Py_VISIT(imp->builtins);
    Py_VISIT(imp->orig_import);
    return 0;
}

static int imp_clear(mp_importer *imp)
{
    Py_CLEAR(imp->cache);
    Py_CLEAR(imp->resolved);
    Py_CLEAR(imp->builtins);
    Py_CLEAR(imp->orig_import);
    return 0;
}

static void imp_dealloc(mp_importer *imp)
{
    PyObject_GC_UnTrack(imp);
    imp_clear(imp);
    Py_XDECREF(imp->s_mp_info);
    Py_XDECREF(imp->s_mp_path);
    Py_XDECREF(imp->s_file);
    pthread_mutex_destroy(&imp->mu);
    PyMem_Free(imp->interp_name);
    PyObject_GC_Del(imp);
}

static PyTypeObject mp_importer_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_python.Importer",
    .tp_basicsize = sizeof(mp_importer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "mod_python's module importer for one interpreter",
    .tp_dealloc = (destructor)imp_dealloc,
    .tp_traverse = (traverseproc)imp_traverse,
    .tp_clear = (inquiry)imp_clear,
    .tp_methods = imp_methods,
    .tp_getset = imp_getset,
};

/* --------------------------------------------------------- entry type */

static int entry_traverse(mp_entry *e, visitproc visit, void *arg)
{
    Py_VISIT(e->module);
    Py_VISIT(e->loading);
    Py_VISIT(e->children);
    return 0;
}

static int entry_clear(mp_entry *e)
{
    Py_CLEAR(e->module);
    Py_CLEAR(e->loading);
    Py_CLEAR(e->children);
    return 0;
}

static void entry_dealloc(mp_entry *e)
{
    PyObject_GC_UnTrack(e);
    entry_clear(e);
    Py_XDECREF(e->path);
    pthread_cond_destroy(&e->cv);
    PyObject_GC_Del(e);
}

static PyObject *entry_get_children(mp_entry *e, void *unused)
{
    return PySequence_List(e->children);
}

static PyObject *entry_get_num(mp_entry *e, void *which)
{
    switch ((intptr_t)which) {
    case 0: return PyLong_FromUnsignedLong(e->generation);
    case 1: return PyLong_FromUnsignedLong(e->load_count);
    case 2: return PyLong_FromUnsignedLong(e->hits);
    default: return PyFloat_FromDouble(e->last_check);
    }
}

static PyObject *entry_get_file(mp_entry *e, void *unused)
{
    Py_INCREF(e->path);
    return e->path;
}

static PyGetSetDef entry_getset[] = {
    {"file", (getter)entry_get_file, NULL, "the module's file", NULL},
    {"children", (getter)entry_get_children, NULL, "paths it imported", NULL},
    {"generation", (getter)entry_get_num, NULL, "load generation", (void *)0},
    {"load_count", (getter)entry_get_num, NULL, "times loaded", (void *)1},
    {"hits", (getter)entry_get_num, NULL, "cache hits", (void *)2},
    {"last_check", (getter)entry_get_num, NULL, "time of last check", (void *)3},
    {NULL}
};

static PyObject *entry_repr(mp_entry *e)
{
    return PyUnicode_FromFormat("<mod_python module info %R generation %lu>",
                                e->path, e->generation);
}

static PyTypeObject mp_entry_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_python.ModuleInfo",
    .tp_basicsize = sizeof(mp_entry),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "__mp_info__: the importer's record of a module",
    .tp_dealloc = (destructor)entry_dealloc,
    .tp_traverse = (traverseproc)entry_traverse,
    .tp_clear = (inquiry)entry_clear,
    .tp_getset = entry_getset,
    .tp_repr = (reprfunc)entry_repr,
};

int mp_importer_init_types(void)
{
    if (PyType_Ready(&mp_entry_type) < 0 || PyType_Ready(&mp_importer_type) < 0)
        return -1;
    return 0;
}

/* The builtins managed modules see: a copy whose __import__ is our hook. */
static int make_builtins(mp_importer *imp)
{
    PyObject *b = PyEval_GetBuiltins(), *hook;

    if (!b || !(imp->builtins = PyDict_Copy(b)))
        return -1;
    imp->orig_import = PyDict_GetItemString(b, "__import__");
    if (!imp->orig_import) {
        PyErr_SetString(PyExc_RuntimeError, "builtins.__import__ is missing");
        return -1;
    }
    Py_INCREF(imp->orig_import);
    hook = PyObject_GetAttrString((PyObject *)imp, "__import__");
    if (!hook || PyDict_SetItemString(imp->builtins, "__import__", hook) < 0) {
        Py_XDECREF(hook);
        return -1;
    }
    Py_DECREF(hook);
    return 0;
}

PyObject *mp_importer_new(const mp_importer_host *host, const char *interp_name)
{
    mp_importer *imp = PyObject_GC_New(mp_importer, &mp_importer_type);

    if (!imp)
        return NULL;
    imp->host = host;
    imp->cache = imp->builtins = imp->orig_import = imp->resolved = NULL;
    imp->generation = imp->resolved_epoch = 0;
    imp->frozen = 0;
    imp->notify = 1;
    imp->stats = 0;
    pthread_mutex_init(&imp->mu, NULL);
    imp->interp_name = PyMem_Malloc(strlen(interp_name) + 1);
    imp->s_mp_info = PyUnicode_InternFromString("__mp_info__");
    imp->s_mp_path = PyUnicode_InternFromString("__mp_path__");
    imp->s_file = PyUnicode_InternFromString("__file__");
    PyObject_GC_Track(imp);
    if (!imp->interp_name || !imp->s_mp_info || !imp->s_mp_path ||
        !imp->s_file || !(imp->cache = PyDict_New()) ||
        !(imp->resolved = PyDict_New()) || make_builtins(imp) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        Py_DECREF(imp);
        return NULL;
    }
    strcpy(imp->interp_name, interp_name);
    return (PyObject *)imp;
}
