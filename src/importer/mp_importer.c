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
#include "importer/mp_importer_int.h"
#include "base/mp_traceback.h"
#include "importer/mp_watch.h"

#include <string.h>
#include <unistd.h>   /* getpid */

static MP_THREAD_LOCAL mp_tinfo tl_info;
static MP_THREAD_LOCAL mp_frame *tl_frame;

/* ---------------------------------------------------------------- log */

static int want_log(mp_importer *imp, int log)
{
    return log >= 0 ? log : imp->host->logging(imp->host->data);
}

void mp_imp_log(mp_importer *imp, int log, const char *what, PyObject *path)
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
void mp_imp_log_exception(mp_importer *imp, const char *what, PyObject *path)
{
    PyObject *lines = mp_traceback_lines();

    mp_imp_log(imp, 1, what, path);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
        const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));
        if (s)
            imp->host->log(imp->host->data, s);
    }
    PyErr_Clear();
    Py_DECREF(lines);
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

void mp_imp_stat_record(mp_entry *e, const struct stat *st)
{
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
    e->size = st->st_size;
    e->ino = st->st_ino;
    e->dev = st->st_dev;
}

double mp_imp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static mp_entry *entry_new(mp_importer *imp, PyObject *path)
{
    mp_entry *e = PyObject_GC_New(mp_entry, imp->entry_type);

    if (!e)
        return NULL;
    Py_INCREF(path);
    e->path = path;
    e->module = e->loading = e->code = e->source = e->last_error = NULL;
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
    if (PyErr_Occurred() || !(e = entry_new(imp, path)))
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
        mp_imp_log(imp, 1, "Module file removed, keeping the cached module", e->path);
    }
}

/* Has e's own file changed since it was loaded?  With notification on
 * and its directory watched, an event naming it says so (exact, even for
 * a same-size rewrite within one clock tick) and no syscall is needed;
 * a file a writer still has open has not changed yet (and clears
 * *watched, so that the next check looks again).  Otherwise compare
 * stat() with what was loaded.  A removed file is not a change: the cached
 * module keeps serving. */
static int file_changed(mp_importer *imp, mp_entry *e, const struct stat *st,
                        unsigned long epoch, int *watched)
{
    const char *path = PyUnicode_AsUTF8(e->path);
    struct stat own;
    int writing;

    if (epoch && e->watched) {
        if (mp_watch_changed(path, &writing) <= e->load_epoch)
            return 0;
        if (writing) {
            if (watched)
                *watched = 0;
            return 0;
        }
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
    e->last_check = mp_imp_now();
    if (!(epoch && e->watched))
        *watched = 0;
    if (file_changed(imp, e, st, epoch, watched))
        return 0;
    kids = e->children;
    Py_INCREF(kids);
    for (Py_ssize_t i = 0; fresh && i < PyTuple_GET_SIZE(kids); i++) {
        mp_entry *c = (mp_entry *)mp_imp_dict_get(imp->cache,
                                                 PyTuple_GET_ITEM(kids, i));
        fresh = c && c->generation <= e->generation &&
                entry_fresh(imp, c, NULL, epoch, depth + 1, watched);
    }
    Py_DECREF(kids);
    return fresh;
}

/* The watch epoch for this check: polled once per request (the first
 * check of the request), on every call outside a request; 0 when
 * notification is off. */
unsigned long mp_imp_current_epoch(mp_importer *imp, mp_imp_request *rq)
{
    unsigned long e;

    if (!imp->notify)
        return 0;
    if (rq && rq->epoch)
        return rq->epoch;
    e = mp_watch_poll();
    if (rq)
        rq->epoch = e;
    return e;
}

/* ------------------------------------------------------- module bodies */

/* Run `code` as the body of `mod`, recording the modules it imports. */
PyObject *mp_imp_exec_body(mp_importer *imp, mp_entry *e, PyObject *mod,
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

/* ------------------------------------------------------------ importing */

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
    int stale = !e->module || e->failed, own_file = 0;

    if (e->module && !check)
        return 0;
    Py_INCREF(kids);
    tl_frame = NULL;  /* refreshing e's children does not make them the caller's */
    for (Py_ssize_t i = 0; !stale && i < PyTuple_GET_SIZE(kids); i++) {
        PyObject *m = mp_imp_import_path(imp, PyTuple_GET_ITEM(kids, i), NULL, 1,
                                         epoch, log);
        mp_entry *c;
        if (!m) {
            tl_frame = outer;
            Py_DECREF(kids);
            return -1;
        }
        Py_DECREF(m);
        c = (mp_entry *)mp_imp_dict_get(imp->cache, PyTuple_GET_ITEM(kids, i));
        stale = !c || c->generation > e->generation;
    }
    tl_frame = outer;
    Py_DECREF(kids);
    if (!stale)
        stale = own_file = file_changed(imp, e, NULL, epoch, NULL);
    return stale ? mp_imp_entry_load(imp, e, log, own_file) : 0;
}

/* A module we could not take the lock of: the partly initialised one that
 * this thread (or a thread waiting on us) is executing. */
static PyObject *partial_module(mp_importer *imp, mp_entry *e, int log)
{
    PyObject *m = e->loading ? e->loading : e->module;

    mp_imp_log(imp, log, "Import cycle, using the partly initialised module", e->path);
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
        /* A failed first import leaves nothing cached (PyDict_GetItem:
         * the load's exception is pending). */
        PyObject *exc = PyErr_GetRaisedException();
        PyDict_DelItem(imp->cache, e->path);
        imp->changes++;
        PyErr_SetRaisedException(exc);
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

int mp_imp_want_check(mp_importer *imp, int autoreload)
{
    if (imp->frozen)
        return 0;
    return autoreload < 0 ? imp->host->autoreload(imp->host->data) : autoreload;
}

int mp_imp_request_traverse(mp_imp_request *rq, visitproc visit, void *arg)
{
    Py_VISIT(rq->path1);
    Py_VISIT(rq->module1);
    Py_VISIT(rq->modules);
    return 0;
}

void mp_imp_request_clear(mp_imp_request *rq)
{
    Py_CLEAR(rq->path1);
    Py_CLEAR(rq->module1);
    Py_CLEAR(rq->modules);
    rq->epoch = 0;
}

/* The module this request already has for `path` (borrowed), or NULL. */
static PyObject *request_module(const mp_imp_request *rq, PyObject *path)
{
    if (rq->path1 && (rq->path1 == path || PyUnicode_Compare(rq->path1, path) == 0))
        return rq->module1;
    return rq->modules ? mp_imp_dict_get(rq->modules, path) : NULL;
}

static int request_remember(mp_imp_request *rq, PyObject *path, PyObject *m)
{
    if (!rq->path1) {
        rq->path1 = Py_NewRef(path);
        rq->module1 = Py_NewRef(m);
        return 0;
    }
    if (!rq->modules && !(rq->modules = PyDict_New()))
        return -1;
    return PyDict_SetItem(rq->modules, path, m);
}

/* The request's own module for `path` (a new reference), or NULL. */
static PyObject *request_first(mp_importer *imp, mp_imp_request *rq, PyObject *path)
{
    PyObject *m = rq ? request_module(rq, path) : NULL;

    if (m) {
        Py_INCREF(m);
        note_child(imp, path);
    }
    return m;
}

/* `m` (a new reference, or NULL), found for e, as a dependency and as the
 * request's module for its path.  Partial modules (cycles) are neither. */
static PyObject *deliver(mp_importer *imp, mp_imp_request *rq, mp_entry *e, PyObject *m)
{
    if (m && m != e->loading) {
        note_child(imp, e->path);
        if (rq && request_remember(rq, e->path, m) < 0)
            Py_CLEAR(m);
    }
    return m;
}

PyObject *mp_imp_import_path(mp_importer *imp, PyObject *path,
                             const struct stat *st, int check,
                             unsigned long epoch, int log)
{
    mp_imp_request *rq = imp->host->request(imp->host->data);
    PyObject *m;
    mp_entry *e;

    if ((m = request_first(imp, rq, path)))
        return m;
    if (!(e = entry_get(imp, path)))
        return NULL;
    if (st && st->st_nlink == 0)
        st = NULL;  /* found in the cache only: its file is gone */
    if (e->module && (!check || tree_fresh(imp, e, st, epoch))) {
        e->hits++;
        m = e->module;
        Py_INCREF(m);
    } else {
        m = import_slow(imp, e, check, log, epoch);
    }
    m = deliver(imp, rq, e, m);
    Py_DECREF(e);
    return m;
}

/* ------------------------------------------------------------ memos */

void mp_import_memo_clear(mp_import_memo *memo)
{
    PyObject *e = memo->entry, *search = memo->search;

    memo->entry = memo->search = NULL;
    Py_XDECREF(e);
    Py_XDECREF(search);
}

/* The memo's entry if an import now would find it again (see
 * mp_import_memo), else NULL. */
static mp_entry *memo_valid(mp_importer *imp, const mp_import_memo *memo, int check,
                            unsigned long epoch, PyObject *search)
{
    mp_entry *e = (mp_entry *)memo->entry;

    if (!e || memo->changes != imp->changes || memo->check != check ||
        memo->epoch != epoch || !mp_imp_same_search(search, memo->search))
        return NULL;
    return e->module ? e : NULL;
}

/* After a full import of `name` returned m: remember it if the same
 * import would find it again until `changes` or the epoch move: resolved
 * from a remembered (watched) resolution, to a module that is its entry's
 * good one and, when checking, whose whole tree was found fresh, watched,
 * at this epoch. */
static void memo_fill(mp_importer *imp, mp_import_memo *memo, PyObject *name,
                      PyObject *path, PyObject *m, int check, unsigned long epoch,
                      unsigned long changes, PyObject *search)
{
    const char *s = PyUnicode_AsUTF8(name);
    PyObject *file, *key, *old_entry = memo->entry, *old_search = memo->search;
    mp_entry *e;

    if (!s || s[0] == '~' || s[0] == '.' || (check && !epoch) ||
        !(file = mp_imp_resolved_file(imp, name, path, search, check)) ||
        !(e = (mp_entry *)mp_imp_dict_get(imp->cache, file)) || e->module != m ||
        e->failed || (check && e->verified_epoch != epoch) ||
        !(key = mp_imp_search_key(search))) {
        PyErr_Clear();
        return;
    }
    /* the old references go last: letting go of them may run code */
    memo->entry = Py_NewRef((PyObject *)e);
    memo->search = key;
    memo->changes = changes;
    memo->epoch = epoch;
    memo->check = check;
    Py_XDECREF(old_entry);
    Py_XDECREF(old_search);
}

PyObject *mp_importer_import_memo(PyObject *importer, mp_import_memo *memo,
                                  PyObject *name, PyObject *path)
{
    mp_importer *imp = (mp_importer *)importer;
    mp_imp_request *rq = imp->host->request(imp->host->data);
    int check = mp_imp_want_check(imp, -1);
    unsigned long epoch = check ? mp_imp_current_epoch(imp, rq) : 0;
    unsigned long changes = imp->changes;
    PyObject *search = imp->host->search_path(imp->host->data), *m;
    mp_entry *e;

    if (!search && PyErr_Occurred())
        return NULL;
    if ((e = memo_valid(imp, memo, check, epoch, search))) {
        if (!(m = request_first(imp, rq, e->path))) {
            e->hits++;
            m = deliver(imp, rq, e, Py_NewRef(e->module));
        }
    } else if ((m = mp_imp_do_import(imp, name, -1, -1, path, NULL))) {
        memo_fill(imp, memo, name, path, m, check, epoch, changes, search);
    }
    Py_XDECREF(search);
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

PyObject *mp_imp_import_file(mp_importer *imp, PyObject *name, int autoreload,
                             int log, PyObject *path, PyObject *globals)
{
    PyObject *file, *m;
    struct stat st;
    int check = mp_imp_want_check(imp, autoreload);
    unsigned long epoch = 0;

    /* one poll per call: resolving and checking share this epoch */
    if (check)
        epoch = mp_imp_current_epoch(imp, imp->host->request(imp->host->data));
    file = mp_imp_resolve_cached(imp, name, path, globals, &st, check, epoch);
    if (!file)
        return NULL;
    m = mp_imp_import_path(imp, file, &st, check, epoch, log);
    Py_DECREF(file);
    return m;
}

PyObject *mp_imp_do_import(mp_importer *imp, PyObject *name, int autoreload,
                           int log, PyObject *path, PyObject *globals)
{
    PyObject *m;

    if (path && path != Py_None && !PyList_Check(path)) {
        PyErr_SetString(PyExc_TypeError, "import_module(): path must be a list or None");
        return NULL;
    }
    m = mp_imp_import_file(imp, name, autoreload, log, path, globals);
    if (!m && !PyErr_Occurred())
        m = standard_import(name);
    return m;
}

PyObject *mp_importer_import(PyObject *importer, PyObject *name,
                             int autoreload, int log, PyObject *path)
{
    return mp_imp_do_import((mp_importer *)importer, name, autoreload, log, path, NULL);
}
