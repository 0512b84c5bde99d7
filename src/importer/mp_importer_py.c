/* The importer as Python sees it: the Importer object (import_module(),
 * the __import__ hook of managed modules, freeze(), modules(), tree()),
 * the ModuleInfo type (__mp_info__), and creating an importer. */
#include "importer/mp_importer_int.h"
#include "importer/mp_watch.h"

#include <stdlib.h>
#include <string.h>

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
    return mp_imp_do_import(imp, v[0], a, l, v[3], PyEval_GetGlobals());
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
        mp_imp_dict_get(globals, imp->s_mp_info)) {
        PyObject *m = mp_imp_import_file(imp, name, -1, -1, NULL, globals);
        if (m || PyErr_Occurred())
            return m;
    }
    return PyObject_Call(imp->orig_import, args, kw);
}

static PyObject *imp_freeze(mp_importer *imp, PyObject *unused)
{
    imp->frozen = 1;
    imp->changes++;
    Py_RETURN_NONE;
}

static PyObject *entry_info(mp_entry *e)
{
    return Py_BuildValue("{s:O,s:k,s:k,s:k,s:O,s:d,s:O,s:O,s:O}",
                         "file", e->path, "generation", e->generation,
                         "load_count", e->load_count, "hits", e->hits,
                         "children", e->children, "last_check", e->last_check,
                         "failed", e->failed ? Py_True : Py_False,
                         "module", e->module ? e->module : Py_None,
                         "last_error", e->last_error ? e->last_error : Py_None);
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
    mp_entry *e = (mp_entry *)mp_imp_dict_get(imp->cache, path);
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
    imp->changes++;
    PyDict_Clear(imp->resolved);
    return 0;
}

/* What tells this importer that files changed. */
static PyObject *imp_get_watcher(mp_importer *imp, void *unused)
{
    return PyUnicode_FromString(imp->notify && mp_watch_poll() ? "inotify" : "stat");
}

static PyGetSetDef imp_getset[] = {
    {"watcher", (getter)imp_get_watcher, NULL,
     "'inotify' or 'stat': how changed files are noticed", NULL},
    {"frozen", (getter)imp_get_frozen, NULL, "freeze() was called", NULL},
    {"notify", (getter)imp_get_notify, (setter)imp_set_notify,
     "use file-change notification (inotify) rather than stat()", NULL},
    {"stat_calls", (getter)imp_get_stats, NULL, "stat() calls made so far", NULL},
    {NULL}
};

static int imp_traverse(mp_importer *imp, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(imp));
    Py_VISIT(imp->entry_type);
    Py_VISIT(imp->cache);
    Py_VISIT(imp->resolved);
    Py_VISIT(imp->builtins);
    Py_VISIT(imp->orig_import);
    Py_VISIT(imp->retired);
    Py_VISIT(imp->on_retired);
    return 0;
}

static int imp_clear(mp_importer *imp)
{
    Py_CLEAR(imp->cache);
    Py_CLEAR(imp->resolved);
    Py_CLEAR(imp->builtins);
    Py_CLEAR(imp->orig_import);
    Py_CLEAR(imp->retired);
    Py_CLEAR(imp->on_retired);
    return 0;
}

static void imp_dealloc(mp_importer *imp)
{
    PyTypeObject *type = Py_TYPE(imp);

    PyObject_GC_UnTrack(imp);
    imp_clear(imp);
    Py_XDECREF(imp->entry_type);
    Py_XDECREF(imp->s_mp_info);
    Py_XDECREF(imp->s_mp_path);
    Py_XDECREF(imp->s_file);
    pthread_mutex_destroy(&imp->mu);
    PyMem_Free(imp->interp_name);
    free(imp->bc_dir);
    PyObject_GC_Del(imp);
    Py_DECREF(type);
}

/* Heap types, made with each importer (so in the interpreter it serves):
 * nothing of one interpreter's is shared with another. */
static PyType_Slot imp_slots[] = {
    {Py_tp_doc, "mod_python's module importer for one interpreter"},
    {Py_tp_dealloc, imp_dealloc},
    {Py_tp_traverse, imp_traverse},
    {Py_tp_clear, imp_clear},
    {Py_tp_methods, imp_methods},
    {Py_tp_getset, imp_getset},
    {0, NULL}
};

static PyType_Spec imp_spec = {
    .name = "mod_python.Importer",
    .basicsize = sizeof(mp_importer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = imp_slots,
};

/* --------------------------------------------------------- entry type */

static int entry_traverse(mp_entry *e, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(e));
    Py_VISIT(e->module);
    Py_VISIT(e->loading);
    Py_VISIT(e->children);
    Py_VISIT(e->code);
    return 0;
}

static int entry_clear(mp_entry *e)
{
    Py_CLEAR(e->module);
    Py_CLEAR(e->loading);
    Py_CLEAR(e->children);
    Py_CLEAR(e->code);
    Py_CLEAR(e->source);
    Py_CLEAR(e->last_error);
    return 0;
}

static void entry_dealloc(mp_entry *e)
{
    PyTypeObject *type = Py_TYPE(e);

    PyObject_GC_UnTrack(e);
    entry_clear(e);
    Py_XDECREF(e->path);
    pthread_cond_destroy(&e->cv);
    PyObject_GC_Del(e);
    Py_DECREF(type);
}

static PyObject *entry_get_children(mp_entry *e, void *unused)
{
    return PySequence_List(e->children);
}

enum { E_GENERATION, E_LOAD_COUNT, E_HITS, E_LAST_CHECK };

static PyObject *entry_get_num(mp_entry *e, void *which)
{
    switch ((intptr_t)which) {
    case E_GENERATION: return PyLong_FromUnsignedLong(e->generation);
    case E_LOAD_COUNT: return PyLong_FromUnsignedLong(e->load_count);
    case E_HITS: return PyLong_FromUnsignedLong(e->hits);
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
    {"generation", (getter)entry_get_num, NULL, "load generation", (void *)E_GENERATION},
    {"load_count", (getter)entry_get_num, NULL, "times loaded", (void *)E_LOAD_COUNT},
    {"hits", (getter)entry_get_num, NULL, "cache hits", (void *)E_HITS},
    {"last_check", (getter)entry_get_num, NULL, "time of last check",
     (void *)E_LAST_CHECK},
    {NULL}
};

static PyObject *entry_repr(mp_entry *e)
{
    return PyUnicode_FromFormat("<mod_python module info %R generation %lu>",
                                e->path, e->generation);
}

static PyType_Slot entry_slots[] = {
    {Py_tp_doc, "__mp_info__: the importer's record of a module"},
    {Py_tp_dealloc, entry_dealloc},
    {Py_tp_traverse, entry_traverse},
    {Py_tp_clear, entry_clear},
    {Py_tp_getset, entry_getset},
    {Py_tp_repr, entry_repr},
    {0, NULL}
};

static PyType_Spec entry_spec = {
    .name = "mod_python.ModuleInfo",
    .basicsize = sizeof(mp_entry),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = entry_slots,
};

/* The callback of the weak references to retired modules: one was let go. */
static PyObject *on_retired(mp_importer *imp, PyObject *wr)
{
    imp->collect_due = 1;
    if (imp->retired && PySet_Discard(imp->retired, wr) < 0)
        PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef on_retired_def = {
    "_retired", (PyCFunction)on_retired, METH_O, "a retired module was let go"
};

/* sys.flags.optimize: compiled code depends on it. */
static int optimize_level(void)
{
    PyObject *flags = PySys_GetObject("flags"), *v;
    long level;

    if (!flags || !(v = PyObject_GetAttrString(flags, "optimize")))
        return -1;
    level = PyLong_AsLong(v);
    Py_DECREF(v);
    return level < 0 ? -1 : (int)level;
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
    PyTypeObject *type = (PyTypeObject *)PyType_FromSpec(&imp_spec);
    mp_importer *imp = type ? PyObject_GC_New(mp_importer, type) : NULL;

    Py_XDECREF(type);  /* the importer holds its own reference */
    if (!imp)
        return NULL;
    imp->host = host;
    imp->entry_type = NULL;
    imp->cache = imp->builtins = imp->orig_import = imp->resolved = NULL;
    imp->generation = imp->resolved_epoch = imp->changes = 0;
    imp->frozen = 0;
    imp->notify = 1;
    imp->stats = 0;
    imp->retired = imp->on_retired = NULL;
    imp->collect_due = 0;
    imp->optimize = 0;
    imp->bc_dir = NULL;
    imp->bc_ok = 0;
    pthread_mutex_init(&imp->mu, NULL);
    imp->interp_name = PyMem_Malloc(strlen(interp_name) + 1);
    imp->s_mp_info = PyUnicode_InternFromString("__mp_info__");
    imp->s_mp_path = PyUnicode_InternFromString("__mp_path__");
    imp->s_file = PyUnicode_InternFromString("__file__");
    PyObject_GC_Track(imp);
    if (!imp->interp_name || !imp->s_mp_info || !imp->s_mp_path ||
        !imp->s_file || !(imp->cache = PyDict_New()) ||
        !(imp->entry_type = (PyTypeObject *)PyType_FromSpec(&entry_spec)) ||
        !(imp->resolved = PyDict_New()) || !(imp->retired = PySet_New(NULL)) ||
        !(imp->on_retired = PyCFunction_New(&on_retired_def, (PyObject *)imp)) ||
        (imp->optimize = optimize_level()) < 0 || make_builtins(imp) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        Py_DECREF(imp);
        return NULL;
    }
    strcpy(imp->interp_name, interp_name);
    return (PyObject *)imp;
}
