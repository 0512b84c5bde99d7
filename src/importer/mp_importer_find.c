/* The importer, finding files: the name forms of import_module(), the
 * search of a plain name, and the resolution cache that spares the search
 * (and its stat() calls) while nothing on disk changed. */
#include "importer/mp_importer_int.h"
#include "base/mp_names.h"
#include "importer/mp_watch.h"

#include <string.h>

/* While a resolution is to be cached: cleared if a directory searched
 * cannot be watched (a new file there would go unnoticed). */
static MP_THREAD_LOCAL int *search_watched;

/* -------------------------------------------------------------- paths */

static int is_file(mp_importer *imp, const char *path, struct stat *st)
{
    imp->stats++;
    return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

/* Watch the directory of `path`; clear *ok if it cannot be watched. */
void mp_imp_watch_parent(const char *path, int *ok)
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

/* Try `base` and `base.py`: a new normalised (interned) str, or NULL (no
 * error). */
static PyObject *try_file(mp_importer *imp, const char *dir, const char *name,
                          struct stat *st)
{
    char buf[4096];
    int r;

    if (dir)
        r = snprintf(buf, sizeof(buf) - 3, "%s/%s", dir, name);
    else
        r = snprintf(buf, sizeof(buf) - 3, "%s", name);
    if (r < 0 || r >= (int)sizeof(buf) - 3 || buf[0] != '/')
        return NULL;
    mp_path_normalise(buf);
    if (search_watched && *search_watched)
        mp_imp_watch_parent(buf, search_watched);
    if (!mp_is_py_name(buf))
        strcat(buf, ".py");
    /* Interned: every lookup of the path in the cache (and in the
     * request's modules) then matches by identity, without a memcmp. */
    if (is_file(imp, buf, st) || cached_gone(imp, buf, st))
        return PyUnicode_InternFromString(buf);
    buf[strlen(buf) - 3] = '\0';
    if (is_file(imp, buf, st))
        return PyUnicode_InternFromString(buf);
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
        !mp_imp_dict_get(globals, imp->s_mp_info))
        return 0;
    file = mp_imp_dict_get(globals, imp->s_file);
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
        if ((found = search_dirs(imp, mp_imp_dict_get(globals, imp->s_mp_path),
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

/* The resolution cache: {name: [record, ...]}, a record being the tuple
 * (path, importing file, search path, file found or None, watched) with
 * path and search path as tuples or None.  A lookup compares a record's
 * parts with the call's, element by element (the same str objects come
 * back call after call, so mostly by pointer): no allocation, no hashing
 * beyond the name's, on the hot path. */
#define RESOLVED_PER_NAME 8

enum { R_PATH, R_FILE, R_SEARCH, R_FOUND, R_WATCHED };

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

    if (globals && PyDict_Check(globals) && mp_imp_dict_get(globals, imp->s_mp_info) &&
        (file = mp_imp_dict_get(globals, imp->s_file)))
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

/* Remember a resolution.  A failure only costs a search next time: the
 * exception is cleared. */
static void add_record(mp_importer *imp, PyObject *name, PyObject *path,
                       PyObject *file, PyObject *search, PyObject *found,
                       int watched, PyObject *stale)
{
    PyObject *records = mp_imp_dict_get(imp->resolved, name);  /* borrowed */
    PyObject *r, *fresh = NULL;

    if (stale && records) {
        Py_ssize_t at = PySequence_Index(records, stale);
        if (at >= 0)
            PySequence_DelItem(records, at);  /* replaced, not duplicated */
        PyErr_Clear();
    }
    r = Py_BuildValue("(NONOO)", as_tuple(path), file, as_tuple(search),
                      found ? found : Py_None, watched ? Py_True : Py_False);
    if (!r)
        goto done;
    if (!records) {
        if (!(fresh = PyList_New(0)) ||
            PyDict_SetItem(imp->resolved, name, fresh) < 0)
            goto done;
        records = fresh;  /* the dict holds it too */
    }
    if (PyList_GET_SIZE(records) >= RESOLVED_PER_NAME)
        PySequence_DelItem(records, 0);
    PyList_Append(records, r);
done:
    Py_XDECREF(fresh);
    Py_XDECREF(r);
    PyErr_Clear();
}

PyObject *mp_imp_search_key(PyObject *search)
{
    return as_tuple(search);
}

int mp_imp_same_search(PyObject *search, PyObject *key)
{
    return same_seq(search, key);
}

PyObject *mp_imp_resolved_file(mp_importer *imp, PyObject *name, PyObject *path,
                               PyObject *search, int check)
{
    PyObject *rec = find_record(mp_imp_dict_get(imp->resolved, name), path, Py_None,
                                search);

    if (!rec || (check && PyTuple_GET_ITEM(rec, R_WATCHED) != Py_True))
        return NULL;
    rec = PyTuple_GET_ITEM(rec, R_FOUND);
    return rec == Py_None ? NULL : rec;
}

/* resolve(), remembered: for good when modules are not checked; while no
 * file event happened, when they are and every directory searched is
 * watched.  Relative forms ("~/", "./") are resolved every time.
 * st->st_nlink is 0 when no stat was made. */
PyObject *mp_imp_resolve_cached(mp_importer *imp, PyObject *name, PyObject *path,
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
    rec = find_record(mp_imp_dict_get(imp->resolved, name), path, file, search);
    if (rec && (!check || PyTuple_GET_ITEM(rec, R_WATCHED) == Py_True)) {
        Py_XDECREF(search);
        memset(st, 0, sizeof(*st));
        found = PyTuple_GET_ITEM(rec, R_FOUND);
        if (found == Py_None)
            return NULL;
        Py_INCREF(found);
        return found;
    }
    search_watched = watched ? &watched : NULL;
    found = resolve(imp, s, path, globals, st);
    search_watched = NULL;
    if (!PyErr_Occurred())
        add_record(imp, name, path, file, search, found, watched, rec);
    Py_XDECREF(search);
    return found;
}
