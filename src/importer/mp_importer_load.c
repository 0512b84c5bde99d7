/* Loading a module from its file (see DESIGN.md, "The importer"):
 * reading a source no writer is still writing, the code for it (the last
 * version's when the source is the same, else the on-disk cache, else the
 * compiler), the new module object and the hooks around it, what happens
 * when it fails, and the old versions it retires.  The cache entries, their
 * locks and the freshness rules are mp_importer.c's. */
#include "importer/mp_importer_int.h"
#include "importer/mp_bytecode.h"
#include "importer/mp_watch.h"
#include "base/mp_names.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a first import waits for a writer to finish the file. */
#define FIRST_LOAD_WAIT_MS 2000
/* A file without history, written less than RECENT_S ago, is read once
 * SETTLE_MS passed without an event for it. */
#define RECENT_S 2
#define SETTLE_MS 100
/* A change becomes visible a moment before its event is queued (O_TRUNC
 * empties the file inside open(), which queues IN_MODIFY on its way out):
 * a file changed less than FRESH_MS ago is polled again FRESH_MS after. */
#define FRESH_MS 100

/* ------------------------------------------------------------- sources */

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

/* Is `path` being written, or was it written after `since`?  Only known
 * with notification on (`since` non-zero). */
static int busy(const char *path, unsigned long since, int check_since)
{
    int writing;
    unsigned long changed = mp_watch_changed(path, &writing);

    return writing || (check_since && changed > since);
}

static void sleep_ms(int ms)
{
    Py_BEGIN_ALLOW_THREADS
    usleep(ms * 1000);
    Py_END_ALLOW_THREADS
}

/* Milliseconds since st's last change (ctime), or a large number. */
static long age_ms(const struct stat *st)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (now.tv_sec - st->st_ctim.tv_sec) * 1000L +
           (now.tv_nsec - st->st_ctim.tv_nsec) / 1000000L;
}

/* Did a writer touch `path` since `since` (when it was read as `st`), as
 * far as events, or its stat() now, say? */
static int written_since(const char *path, unsigned long since,
                         const struct stat *st)
{
    long age = age_ms(st);
    struct stat now;

    if (age >= 0 && age < FRESH_MS)
        sleep_ms(FRESH_MS - (int)age);
    mp_watch_poll();
    if (busy(path, since, 1) || stat(path, &now) != 0)
        return 1;
    return now.st_size != st->st_size || now.st_ino != st->st_ino ||
           now.st_ctim.tv_sec != st->st_ctim.tv_sec ||
           now.st_ctim.tv_nsec != st->st_ctim.tv_nsec;
}

/* A first import in a directory watched only now knows no history: a file
 * written in the last seconds may still be open.  Wait until an event says
 * (then the rules of read_stable() apply) or SETTLE_MS pass without one. */
static void settle(const char *path)
{
    struct stat st;
    int writing;

    if (mp_watch_changed(path, &writing) || stat(path, &st) != 0 ||
        time(NULL) - st.st_mtime > RECENT_S)
        return;
    for (int ms = 0; ms < SETTLE_MS; ms += 10) {
        sleep_ms(10);
        mp_watch_poll();
        if (mp_watch_changed(path, &writing))
            return;
    }
}

/* Read e's file into *src (its stat in *st, the watch epoch polled before
 * reading in *epoch).  With notification on, a file a writer may still
 * have open is not used: *src is left NULL when e has a last good version
 * (the caller keeps it), and a first import waits a while for the writer
 * to finish.  A write during our read counts as still writing.  0 or -1
 * with an exception. */
static int read_stable(mp_importer *imp, mp_entry *e, PyObject **src,
                       struct stat *st, unsigned long *epoch)
{
    const char *path = PyUnicode_AsUTF8(e->path);
    int watched = imp->notify, waited = 0;

    /* Watch first, then take the epoch, then read: a change after the read
     * is an event after this epoch. */
    if (watched)
        mp_imp_watch_parent(path, &watched);
    if (watched && !mp_is_py_name(path) && mp_watch_file(path) < 0)
        watched = 0;   /* app.wsgi: its events are not recorded unasked */
    if (watched && !e->code)
        settle(path);
    for (;;) {
        *epoch = watched ? mp_watch_poll() : 0;
        if (!*epoch || !busy(path, 0, 0)) {
            if (!(*src = read_source(path, st)))
                return -1;
            if (!*epoch || !written_since(path, *epoch, st))
                return 0;
            Py_CLEAR(*src);
        }
        if (e->code || waited >= FIRST_LOAD_WAIT_MS)
            break;
        sleep_ms(10);
        waited += 10;
    }
    if (e->code)
        return 0;
    return (*src = read_source(path, st)) ? 0 : -1;  /* waited long enough */
}

/* PythonOption mod_python.importer.bytecode_dir, checked (and created)
 * once per value in this process, after httpd gave up root: NULL when
 * unset or refused (said once in the log). */
static const char *bytecode_dir(mp_importer *imp)
{
    const char *dir = imp->host->bytecode_dir(imp->host->data);
    char err[512], msg[1024];

    if (!dir)
        return NULL;
    if (!imp->bc_dir || strcmp(imp->bc_dir, dir) != 0) {
        free(imp->bc_dir);
        if (!(imp->bc_dir = strdup(dir)))
            return NULL;
        imp->bc_ok = mp_bc_prepare(dir, err, sizeof(err)) == 0;
        if (!imp->bc_ok) {
            snprintf(msg, sizeof(msg), "mod_python: PythonOption %s %s not used: %s",
                     "mod_python.importer.bytecode_dir", dir, err);
            imp->host->log(imp->host->data, msg);
        }
    }
    return imp->bc_ok ? imp->bc_dir : NULL;
}

static int same_bytes(PyObject *a, PyObject *b)
{
    return PyBytes_GET_SIZE(a) == PyBytes_GET_SIZE(b) &&
           !memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), PyBytes_GET_SIZE(a));
}

/* The code for source `src`, new reference: the last good version's when
 * the source is the same (a reload because a child changed), else the
 * on-disk cache's, else compiled (and stored there).  Keyed by the exact
 * source, never by mtime: two saves within one clock tick share it. */
static PyObject *get_code(mp_importer *imp, mp_entry *e, PyObject *src)
{
    const char *path = PyUnicode_AsUTF8(e->path), *dir = NULL;
    const char *s = PyBytes_AS_STRING(src);
    size_t n = PyBytes_GET_SIZE(src);
    PyObject *code;

    if (imp->host->bytecode(imp->host->data)) {
        if (e->code && e->source && same_bytes(e->source, src))
            return Py_NewRef(e->code);
        dir = bytecode_dir(imp);
    }
    if (dir && (code = mp_bc_load(dir, path, s, n, imp->optimize)))
        return code;
    code = Py_CompileStringExFlags(s, path, Py_file_input, NULL, -1);
    if (code && dir)
        mp_bc_store(dir, path, s, n, code, imp->optimize);  /* else: compiled each time */
    return code;
}

/* ------------------------------------------------------------- modules */

/* A fresh module object for `e`.  Its __name__ is the file's name without
 * ".py", the name the user wrote: it is what tracebacks, reprs, class names
 * and logger names show.  Not being in sys.modules, it collides with
 * nothing; __file__ says which one it is. */
static PyObject *module_new(mp_importer *imp, mp_entry *e)
{
    const char *path = PyUnicode_AsUTF8(e->path), *base = strrchr(path, '/');
    size_t n;
    PyObject *name, *m = NULL, *d, *mp_path = NULL;

    base = base ? base + 1 : path;
    n = strlen(base);
    if (n > 3 && !strcmp(base + n - 3, ".py"))
        n -= 3;
    if (!(name = PyUnicode_DecodeFSDefaultAndSize(base, n)) ||
        !(m = PyModule_NewObject(name)))
        goto done;
    d = PyModule_GetDict(m);
    if (!(mp_path = PyList_New(0)) ||
        PyDict_SetItem(d, imp->s_file, e->path) < 0 ||
        PyDict_SetItem(d, imp->s_mp_info, (PyObject *)e) < 0 ||
        PyDict_SetItem(d, imp->s_mp_path, mp_path) < 0 ||
        PyDict_SetItemString(d, "__builtins__", imp->builtins) < 0)
        Py_CLEAR(m);
done:
    Py_XDECREF(name);
    Py_XDECREF(mp_path);
    return m;
}

/* `old`, a module a reload replaced or a failed clone purged, is retired:
 * when its last user lets go of it, a collection becomes due. */
static void retire(mp_importer *imp, PyObject *old)
{
    PyObject *wr;

    if (!old)
        return;
    if (!(wr = PyWeakref_NewRef(old, imp->on_retired)) ||
        PySet_Add(imp->retired, wr) < 0)
        PyErr_Clear();  /* then the GC frees it on its own schedule */
    Py_XDECREF(wr);
}

/* Call old.<hook>(args...) if the module defines the hook: 1 called, 0
 * absent, -1 it raised (exception set).  Looked up in the module's dict:
 * a hook is a module-level name, and most modules have none, where a
 * failing getattr would build an AttributeError at every reload. */
static int call_hook(PyObject *old, const char *hook, PyObject *arg)
{
    PyObject *fn, *r;

    if (!old || !(fn = PyDict_GetItemString(PyModule_GetDict(old), hook)))
        return 0;
    Py_INCREF(fn);  /* the call may rebind it */
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
        mp_imp_log(imp, log, "Cloned module", e->path);
    if (rc < 0) {
        mp_imp_log_exception(imp, "__mp_clone__ failed, purging module", e->path);
        if (call_hook(old, "__mp_purge__", NULL) < 0)
            mp_imp_log_exception(imp, "__mp_purge__ failed for module", e->path);
        else
            mp_imp_log(imp, log, "Purged module", e->path);
        retire(imp, e->module);
        Py_CLEAR(e->module);   /* purged: no longer a last good version */
        Py_DECREF(mod);
        mod = module_new(imp, e);
    }
    Py_DECREF(old);
    return mod;
}

/* ------------------------------------------------------------- loading */

/* The pending exception in one line, for introspection. */
static void note_error(mp_entry *e)
{
    PyObject *exc = PyErr_GetRaisedException(), *line;

    line = exc ? PyUnicode_FromFormat("%s: %S", Py_TYPE(exc)->tp_name, exc) : NULL;
    if (line)
        Py_XSETREF(e->last_error, line);
    PyErr_Clear();
    PyErr_SetRaisedException(exc);
}

/* A load raised.  With PythonOption mod_python.importer.on_reload_error
 * keep and a last good version: log the error (once: the failing file is
 * recorded as seen, so it is tried again only when it changes again) and
 * keep serving that version, 0.  Otherwise the error reaches the caller,
 * -1, and the next check tries again. */
static int load_failed(mp_importer *imp, mp_entry *e, const struct stat *st,
                       unsigned long epoch)
{
    note_error(e);
    if (!e->module || !imp->host->keep_last_good(imp->host->data)) {
        e->failed = 1;
        return -1;
    }
    mp_imp_log_exception(imp, "Reload failed, keeping the last good version of",
                         e->path);
    if (st) {
        mp_imp_stat_record(e, st);
        e->load_epoch = epoch;
        e->watched = epoch != 0;
    }
    e->failed = 0;
    return 0;
}

/* The new version is in: retire the old one, remember how it was made. */
static void load_done(mp_importer *imp, mp_entry *e, PyObject *mod,
                      PyObject *kids, PyObject *src, PyObject *code,
                      const struct stat *st, unsigned long epoch)
{
    retire(imp, e->module);
    Py_XSETREF(e->module, mod);
    Py_XSETREF(e->children, kids);
    if (src) {  /* else the last good code ran again: nothing read */
        Py_INCREF(src);
        Py_XSETREF(e->source, src);
        Py_INCREF(code);
        Py_XSETREF(e->code, code);
        mp_imp_stat_record(e, st);
        e->load_epoch = epoch;
        e->watched = epoch != 0;
    }
    Py_CLEAR(e->last_error);
    e->generation = ++imp->generation;
    imp->changes++;
    e->load_count++;
    e->failed = 0;
    e->warned_removed = 0;
    e->last_check = mp_imp_now();
}

/* Load (or reload) `e` from its file.  A file being written is not read:
 * if only it changed, the current version stays; if a child changed, the
 * last good code runs again.  On failure the last good module, if any,
 * stays in place; 0, or -1 with the exception set. */
int mp_imp_entry_load(mp_importer *imp, mp_entry *e, int log, int own_file)
{
    PyObject *src = NULL, *code = NULL, *mod = NULL, *r = NULL, *kids = NULL;
    struct stat st;
    unsigned long epoch = 0;
    int rc = 0;

    if (read_stable(imp, e, &src, &st, &epoch) < 0)
        goto failed;
    if (!src && own_file)
        goto done;   /* wait for the writer: the next check sees its close */
    if (!(code = src ? get_code(imp, e, src) : Py_NewRef(e->code)))
        goto failed;
    mp_imp_log(imp, log, e->load_count ? "Reimporting module" : "Importing module",
               e->path);
    if (!(mod = prepare_module(imp, e, log)) ||
        !(r = mp_imp_exec_body(imp, e, mod, code, &kids)))
        goto failed;
    load_done(imp, e, mod, kids, src, code, &st, epoch);
    mod = NULL;
    goto done;
failed:
    rc = load_failed(imp, e, src ? &st : NULL, epoch);
done:
    Py_XDECREF(src);
    Py_XDECREF(code);
    Py_XDECREF(mod);
    Py_XDECREF(r);
    return rc;
}

/* ------------------------------------------------------------ retirees */

/* gc.collect(): unlike PyGC_Collect() it also runs when the application
 * disabled automatic collection; a reload is rare enough for that. */
static int gc_collect(void)
{
    PyObject *gc = PyImport_ImportModule("gc"), *r;

    r = gc ? PyObject_CallMethod(gc, "collect", NULL) : NULL;
    Py_XDECREF(gc);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

int mp_importer_collect_due(PyObject *importer)
{
    return __atomic_load_n(&((mp_importer *)importer)->collect_due, __ATOMIC_RELAXED);
}

int mp_importer_collect(PyObject *importer)
{
    mp_importer *imp = (mp_importer *)importer;

    if (!imp->collect_due)
        return 0;
    if (gc_collect() < 0)
        PyErr_Clear();
    /* Versions let go of during the collection (a retired module's old
     * children, held by its dict) were unreachable with it: freed by this
     * same pass, nothing left to collect for them. */
    imp->collect_due = 0;
    return 1;
}
