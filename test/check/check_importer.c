/* Check suite for the importer: Python embedded directly, real files in a
 * temporary directory, real OS threads (Python's threading module calling
 * into the C importer).  Each test is a Python script run against a fresh
 * importer `imp`; the host (configuration in force, log, request cache) is
 * this file's, driven from the scripts through the `mptest` module. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "importer/mp_importer.h"
#include "importer/mp_watch.h"
#include "importer/mp_bytecode.h"
#include "check_own_gil.h"

#if defined(__SANITIZE_ADDRESS__)
#define MP_SANITIZED 1
#else
#define MP_SANITIZED 0
#endif

/* ------------------------------------------------------------ test host */

static struct {
    int autoreload, logging, keep_last_good, bytecode;
    PyObject *search_path;   /* list or NULL */
    mp_imp_request rq;
    int in_request;
    PyObject *logs;          /* list of str */
    char handler_dir[1024];
} host_state;

static int h_autoreload(void *d) { return host_state.autoreload; }
static int h_logging(void *d) { return host_state.logging; }
static PyObject *h_search_path(void *d)
{
    Py_XINCREF(host_state.search_path);
    return host_state.search_path;
}
static const char *h_handler_dir(void *d)
{
    return host_state.handler_dir[0] ? host_state.handler_dir : NULL;
}
static mp_imp_request *h_request(void *d)
{
    return host_state.in_request ? &host_state.rq : NULL;
}
static void h_log(void *d, const char *msg)
{
    PyObject *s = PyUnicode_FromString(msg);
    if (s)
        PyList_Append(host_state.logs, s);
    Py_XDECREF(s);
    PyErr_Clear();
}

static int h_keep_last_good(void *d) { return host_state.keep_last_good; }
static int h_bytecode(void *d) { return host_state.bytecode; }
static const char *h_bytecode_dir(void *d) { return NULL; }

static const mp_importer_host test_host = {
    .autoreload = h_autoreload,
    .logging = h_logging,
    .search_path = h_search_path,
    .handler_dir = h_handler_dir,
    .request = h_request,
    .log = h_log,
    .keep_last_good = h_keep_last_good,
    .bytecode = h_bytecode,
    .bytecode_dir = h_bytecode_dir,
};

/* ------------------------------------------------------------ mptest module */

static PyObject *t_set(PyObject *m, PyObject *args)
{
    const char *what;
    PyObject *v;

    if (!PyArg_ParseTuple(args, "sO", &what, &v))
        return NULL;
    if (!strcmp(what, "autoreload"))
        host_state.autoreload = PyObject_IsTrue(v);
    else if (!strcmp(what, "logging"))
        host_state.logging = PyObject_IsTrue(v);
    else if (!strcmp(what, "keep_last_good"))
        host_state.keep_last_good = PyObject_IsTrue(v);
    else if (!strcmp(what, "bytecode"))
        host_state.bytecode = PyObject_IsTrue(v);
    else if (!strcmp(what, "search_path")) {
        Py_XSETREF(host_state.search_path, v == Py_None ? NULL : (Py_INCREF(v), v));
    } else if (!strcmp(what, "request_cache")) {
        /* None: outside a request; else a new request (its own modules
         * and epoch poll) */
        mp_imp_request_clear(&host_state.rq);
        host_state.in_request = v != Py_None;
    } else if (!strcmp(what, "handler_dir")) {
        snprintf(host_state.handler_dir, sizeof(host_state.handler_dir), "%s",
                 v == Py_None ? "" : PyUnicode_AsUTF8(v));
    } else {
        PyErr_SetString(PyExc_KeyError, what);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *t_logs(PyObject *m, PyObject *u)
{
    Py_INCREF(host_state.logs);
    return host_state.logs;
}

/* Import through the C entry point dispatch uses (no caller globals). */
static PyObject *t_c_import(PyObject *m, PyObject *args)
{
    PyObject *imp, *name, *path = NULL;

    if (!PyArg_ParseTuple(args, "OU|O", &imp, &name, &path))
        return NULL;
    return mp_importer_import(imp, name, -1, -1, path);
}

/* A handler's remembered import (mp_import_memo), as dispatch keeps one
 * per configured handler: memo_new() -> capsule; memo_import(memo, imp,
 * name, path); memo_filled(memo): does it remember something now? */
static void memo_free(PyObject *cap)
{
    mp_import_memo *memo = PyCapsule_GetPointer(cap, "mptest.memo");

    mp_import_memo_clear(memo);
    free(memo);
}

static PyObject *t_memo_new(PyObject *m, PyObject *u)
{
    mp_import_memo *memo = calloc(1, sizeof(*memo));
    PyObject *cap = memo ? PyCapsule_New(memo, "mptest.memo", memo_free) : NULL;

    if (!cap)
        free(memo);
    return cap ? cap : PyErr_NoMemory();
}

static PyObject *t_memo_import(PyObject *m, PyObject *args)
{
    PyObject *cap, *imp, *name, *path = NULL;
    mp_import_memo *memo;

    if (!PyArg_ParseTuple(args, "OOU|O", &cap, &imp, &name, &path) ||
        !(memo = PyCapsule_GetPointer(cap, "mptest.memo")))
        return NULL;
    return mp_importer_import_memo(imp, memo, name, path);
}

static PyObject *t_memo_filled(PyObject *m, PyObject *cap)
{
    mp_import_memo *memo = PyCapsule_GetPointer(cap, "mptest.memo");

    return memo ? PyBool_FromLong(memo->entry != NULL) : NULL;
}

static PyObject *t_epoch(PyObject *m, PyObject *u)
{
    return PyLong_FromUnsignedLong(mp_watch_poll());
}

/* The host's side of retired modules: (due, collections run). */
static PyObject *t_collect(PyObject *m, PyObject *imp)
{
    int due = mp_importer_collect_due(imp);

    return Py_BuildValue("(ii)", due, mp_importer_collect(imp));
}

static PyMethodDef t_methods[] = {
    {"collect", t_collect, METH_O, NULL},
    {"epoch", t_epoch, METH_NOARGS, NULL},
    {"set", t_set, METH_VARARGS, NULL},
    {"logs", t_logs, METH_NOARGS, NULL},
    {"c_import", t_c_import, METH_VARARGS, NULL},
    {"memo_new", t_memo_new, METH_NOARGS, NULL},
    {"memo_import", t_memo_import, METH_VARARGS, NULL},
    {"memo_filled", t_memo_filled, METH_O, NULL},
    {NULL}
};

static struct PyModuleDef t_def = { PyModuleDef_HEAD_INIT, "mptest", NULL, -1, t_methods };

static PyObject *t_init(void) { return PyModule_Create(&t_def); }

/* ------------------------------------------------------------ fixture */

static PyObject *globals;
static char tmpdir[256];

/* The Python side of each test is a file in test/check/data/ (MP_CHECK_DATA,
 * set by the Makefile): test_x.py for START_TEST(test_x), run after
 * prelude.py in the test's globals, so that a traceback names its line. */
static void run_file(const char *name);

static void setup(void)
{
    PyObject *mod, *tmp;

    if (!Py_IsInitialized()) {
        PyImport_AppendInittab("mptest", t_init);
        Py_Initialize();
    } else {
        PyGILState_Ensure();
    }
    host_state.autoreload = 1;
    host_state.logging = 1;
    host_state.keep_last_good = 0;
    host_state.bytecode = 1;
    host_state.handler_dir[0] = '\0';
    Py_CLEAR(host_state.search_path);
    mp_imp_request_clear(&host_state.rq);
    host_state.in_request = 0;
    Py_XSETREF(host_state.logs, PyList_New(0));
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mp-check-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    globals = PyDict_New();
    PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
    mod = mp_importer_new(&test_host, "test_interp");
    ck_assert_ptr_nonnull(mod);
    /* Each test starts from a fresh watcher; MP_TEST_NOTIFY=0 runs the
     * whole suite on the stat() fallback. */
    mp_watch_reset();
    if (getenv("MP_TEST_NOTIFY") && !strcmp(getenv("MP_TEST_NOTIFY"), "0"))
        ck_assert_int_eq(PyObject_SetAttrString(mod, "notify", Py_False), 0);
    PyDict_SetItemString(globals, "imp", mod);
    Py_DECREF(mod);
    tmp = PyUnicode_FromString(tmpdir);
    ck_assert_ptr_nonnull(tmp);
    PyDict_SetItemString(globals, "tmp", tmp);
    Py_DECREF(tmp);
    /* ASan's quarantine keeps freed memory: RSS says nothing there. */
    PyDict_SetItemString(globals, "SANITIZED", MP_SANITIZED ? Py_True : Py_False);
    run_file("prelude");
}

/* How many of the importer's objects (mod_python.Importer, ModuleInfo)
 * are alive, or -1 on error.  Every managed module holds its ModuleInfo,
 * so this also counts leaked modules. */
static Py_ssize_t importer_objects(void)
{
    PyObject *gc = PyImport_ImportModule("gc"), *objs = NULL;
    Py_ssize_t n = -1;

    if (!gc || !(objs = PyObject_CallMethod(gc, "get_objects", NULL)))
        goto done;
    n = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++)
        if (!strncmp(Py_TYPE(PyList_GET_ITEM(objs, i))->tp_name, "mod_python.", 11))
            n++;
done:
    if (n < 0)
        PyErr_Print();
    Py_XDECREF(objs);
    Py_XDECREF(gc);
    return n;
}

/* Once the test's globals are gone, nothing may keep its importer or its
 * modules alive: a survivor is a reference leak (valgrind cannot tell, as
 * a leaked GC object stays linked to the interpreter's GC lists). */
static void teardown(void)
{
    char cmd[300];
    Py_ssize_t left;

    Py_CLEAR(globals);
    mp_imp_request_clear(&host_state.rq);
    host_state.in_request = 0;
    PyGC_Collect();
    left = importer_objects();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    PyEval_SaveThread();
    ck_assert_msg(left == 0, "%zd importer objects outlive the test", left);
}

/* The text of data file `name`.py (malloc()ed), and its path in `path`. */
static char *read_data(const char *name, char *path, size_t size)
{
    FILE *f;
    char *text;
    long n;

    snprintf(path, size, "%s/%s.py", MP_CHECK_DATA, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    text = malloc(n + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(fread(text, 1, n, f) == (size_t)n, "cannot read %s", path);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void run_file(const char *name)
{
    char path[512];
    char *text = read_data(name, path, sizeof(path));
    PyObject *code = Py_CompileString(text, path, Py_file_input), *r = NULL;

    free(text);
    if (code)
        r = PyEval_EvalCode(code, globals, globals);
    Py_XDECREF(code);
    if (!r) {
        PyErr_Print();
        /* printed: sys.last_traceback must not keep the test's objects */
        PySys_SetObject("last_type", NULL);
        PySys_SetObject("last_value", NULL);
        PySys_SetObject("last_traceback", NULL);
    }
    ck_assert_msg(r != NULL, "%s raised (traceback above)", path);
    Py_DECREF(r);
}

#define PYTEST(name) \
    START_TEST(name) { run_file(#name); } END_TEST

/* ------------------------------------------------------------ tests */

PYTEST(test_keyed_by_path)

PYTEST(test_name_forms)

PYTEST(test_import_statement_tracked)

PYTEST(test_deep_dependency_reload_once)

PYTEST(test_any_change_reloads)

PYTEST(test_fresh_module_object)

PYTEST(test_clone_and_purge)

PYTEST(test_failures)

PYTEST(test_one_version_per_request)

PYTEST(test_autoreload_off_and_freeze)

PYTEST(test_removed_file_keeps_serving)

PYTEST(test_log_lines)

PYTEST(test_search_path_option)

PYTEST(test_reentry_gets_partial_module)

PYTEST(test_parallel_loads_do_not_block)

PYTEST(test_concurrent_stale_loads_once)

PYTEST(test_cross_thread_cycle_no_deadlock)

PYTEST(test_c_entry_point)

PYTEST(test_reload_frees_old_modules)

PYTEST(test_fresh_tree_check_cost)

/* Notification is exact: a rewrite that leaves size, mtime and inode as
 * they were (two saves within one clock tick) is still seen. */
PYTEST(test_notify_exact)

/* A handler's remembered import gives what a full import would: new
 * versions, the request's own version, another search path's file. */
PYTEST(test_import_memo)

/* A module file named otherwise than *.py is followed as well. */
PYTEST(test_other_names_followed)

/* A file that appears earlier on the search path is found, also when the
 * resolution was remembered. */
PYTEST(test_new_file_shadows_after_cached_resolution)

PYTEST(test_import_module_arguments)

PYTEST(test_names_are_the_users)

PYTEST(test_retired_modules_freed)

PYTEST(test_keep_last_good)

PYTEST(test_half_written_not_loaded)

PYTEST(test_clone_runs_before_body)

PYTEST(test_code_reused_when_source_same)

/* No reference leaks: every importer path, good and failing, run N times
 * must leave the object count where it was (give or take a constant), so
 * losing even one object per cycle fails.  gc.get_objects() counts
 * containers (modules, dicts, entries, functions); sys.getallocatedblocks()
 * also counts str, bytes and code objects, but only pymalloc's: it is 0
 * under valgrind (PYTHONMALLOC=malloc), whose leak check sees those
 * instead.  The type attribute cache keeps a reference to each recently
 * looked-up name, up to 4096 of them (PyObject_GetAttrString makes a new
 * str every call): it is emptied before counting. */
PYTEST(test_no_reference_leaks)

/* ------------------------------------------------------------ bytecode cache */

/* The on-disk cache (importer/mp_bytecode.c) driven from C, in the test's
 * tmpdir.  Each source sets `result`, which tells which code ran. */
static const char bc_src[] = "def f(x):\n    return x * 6 + 1\nresult = f(7)\n";      /* 43 */
static const char bc_src2[] = "def f(x):\n    return x * 5 + 1\nresult = f(7)\n";     /* 36 */
static const char bc_path[] = "/srv/app/mod.py";

static PyObject *bc_compile(const char *src, const char *path, int optimize)
{
    PyObject *code = Py_CompileStringExFlags(src, path, Py_file_input, NULL, optimize);

    ck_assert_ptr_nonnull(code);
    return code;
}

static int bc_store(const char *dir, const char *path, const char *src, int optimize)
{
    PyObject *code = bc_compile(src, path, optimize);
    int rc = mp_bc_store(dir, path, src, strlen(src), code, optimize);

    ck_assert(!PyErr_Occurred());
    Py_DECREF(code);
    return rc;
}

/* The cached code's `result`, or -1 on a miss (never an exception). */
static long bc_load(const char *dir, const char *path, const char *src, int optimize)
{
    PyObject *code = mp_bc_load(dir, path, src, strlen(src), optimize), *g, *r;
    long v;

    ck_assert(!PyErr_Occurred());
    if (!code)
        return -1;
    ck_assert(PyCode_Check(code));
    ck_assert_str_eq(PyUnicode_AsUTF8(((PyCodeObject *)code)->co_filename), path);
    g = PyDict_New();
    ck_assert_ptr_nonnull(g);
    PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
    r = PyEval_EvalCode(code, g, g);
    ck_assert_ptr_nonnull(r);
    v = PyLong_AsLong(PyDict_GetItemString(g, "result"));
    Py_DECREF(r);
    Py_DECREF(g);
    Py_DECREF(code);
    return v;
}

/* A cache directory `name` in tmpdir, made by mp_bc_prepare. */
static void bc_dir(const char *name, char *out, size_t size)
{
    char err[256] = "";

    snprintf(out, size, "%s/%s", tmpdir, name);
    ck_assert_msg(mp_bc_prepare(out, err, sizeof(err)) == 0, "prepare: %s", err);
}

/* How many names in `dir` end in `suffix`; the last one in `out`. */
static int bc_files(const char *dir, const char *suffix, char *out, size_t size)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t ls = strlen(suffix);
    int found = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < ls || strcmp(e->d_name + l - ls, suffix) != 0)
            continue;
        if (out)
            snprintf(out, size, "%s/%s", dir, e->d_name);
        found++;
    }
    closedir(d);
    return found;
}

/* The one entry file in `dir`. */
static void bc_entry(const char *dir, char *out, size_t size)
{
    ck_assert_int_eq(bc_files(dir, ".mpc", out, size), 1);
}

static char *bc_slurp(const char *file, size_t *n)
{
    struct stat st;
    int fd = open(file, O_RDONLY);
    char *b;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    b = malloc(st.st_size + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert(read(fd, b, st.st_size) == st.st_size);
    close(fd);
    *n = st.st_size;
    return b;
}

/* Replace `file` by a regular file holding b[0..n), mode `mode`. */
static void bc_spit(const char *file, const char *b, size_t n, mode_t mode)
{
    int fd;

    unlink(file);
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert(write(fd, b, n) == (ssize_t)n);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

START_TEST(test_bc_round_trip)
{
    char dir[512], file[1024], tail[64];
    PyObject *impl = PySys_GetObject("implementation"), *tag;
    struct stat st;

    bc_dir("bc", dir, sizeof(dir));
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), -1);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
    /* DIR/<hash>.<cache tag>.mpc, mode 0600, and nothing else left */
    tag = PyObject_GetAttrString(impl, "cache_tag");
    ck_assert_ptr_nonnull(tag);
    snprintf(tail, sizeof(tail), ".%s.mpc", PyUnicode_AsUTF8(tag));
    Py_DECREF(tag);
    ck_assert_int_eq(bc_files(dir, tail, file, sizeof(file)), 1);
    ck_assert_int_eq(bc_files(dir, "", NULL, 0), 1);
    ck_assert_int_eq(strlen(file), strlen(dir) + 1 + 16 + strlen(tail));
    ck_assert_int_eq(stat(file, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    /* -1 is this interpreter's level, sys.flags.optimize (0 here) */
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, -1), 43);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src2, -1), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), 36);
}
END_TEST

/* Other source bytes (same length) or another level: a miss; the next
 * store replaces the entry. */
START_TEST(test_bc_other_source_or_level)
{
    char dir[512];

    bc_dir("bc", dir, sizeof(dir));
    ck_assert_int_eq(sizeof(bc_src), sizeof(bc_src2));
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), -1);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 1), -1);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 2), -1);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src2, 0), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), 36);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), -1);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 2), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 2), 43);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), -1);
    ck_assert_int_eq(bc_files(dir, "", NULL, 0), 1);
}
END_TEST

/* Two paths whose entries share a file name (simulated: one's entry copied
 * to the other's name) never get each other's code. */
START_TEST(test_bc_other_path)
{
    static const char *other[] = { "/srv/apq/mod.py", "/srv/app/mod.pyc", "/srv/ap/mod.py" };
    char dir[512], dir2[512], file[1024], file2[1024];
    size_t n;
    char *b;

    bc_dir("bc", dir, sizeof(dir));
    bc_dir("bc2", dir2, sizeof(dir2));
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    bc_entry(dir, file, sizeof(file));
    for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++) {
        ck_assert_int_eq(bc_store(dir2, other[i], bc_src, 0), 0);
        bc_entry(dir2, file2, sizeof(file2));
        b = bc_slurp(file2, &n);
        bc_spit(file, b, n, 0600);
        free(b);
        ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), -1);
        ck_assert_int_eq(bc_load(dir2, other[i], bc_src, 0), 43);
        ck_assert_int_eq(unlink(file2), 0);
    }
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
}
END_TEST

/* Every prefix of a good file, every single-bit change of it, and garbage
 * (random, or after a good header): a miss, no crash, no exception; the
 * next store makes it good again. */
START_TEST(test_bc_truncated_and_corrupt)
{
    char dir[512], file[1024];
    unsigned seed = 12345;
    size_t n;
    char *good, *b;

    bc_dir("bc", dir, sizeof(dir));
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    bc_entry(dir, file, sizeof(file));
    good = bc_slurp(file, &n);
    for (size_t len = 0; len < n; len++) {
        bc_spit(file, good, len, 0600);
        ck_assert_msg(bc_load(dir, bc_path, bc_src, 0) == -1, "prefix %zu of %zu", len, n);
    }
    bc_spit(file, good, n, 0600);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
    b = malloc(2 * n);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i++) {
        memcpy(b, good, n);
        b[i] ^= 1 << (i % 8);
        bc_spit(file, b, n, 0600);
        ck_assert_msg(bc_load(dir, bc_path, bc_src, 0) == -1, "bit flipped at %zu", i);
    }
    for (size_t len = 1; len < 2 * n; len += 7) {
        for (size_t i = 0; i < len; i++)
            b[i] = (char)rand_r(&seed);
        if (len > 48 && len % 2)
            memcpy(b, good, 48);
        bc_spit(file, b, len, 0600);
        ck_assert_msg(bc_load(dir, bc_path, bc_src, 0) == -1, "garbage of %zu", len);
    }
    free(b);
    free(good);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
}
END_TEST

/* What is not a regular file of ours that only we can write is not read: a
 * symlink (and a store replaces the link, not its target), another mode,
 * another owner, a FIFO (without hanging), a directory. */
START_TEST(test_bc_not_our_file)
{
    static const mode_t bad[] = { 0666, 0620, 0602, 0660 };
    char dir[512], file[1024], real[1100];
    size_t n, n2;
    char *b, *b2;

    bc_dir("bc", dir, sizeof(dir));
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    bc_entry(dir, file, sizeof(file));
    snprintf(real, sizeof(real), "%s/real", tmpdir);
    ck_assert_int_eq(rename(file, real), 0);
    ck_assert_int_eq(symlink(real, file), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), -1);
    b = bc_slurp(real, &n);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src2, 0), 0);
    b2 = bc_slurp(real, &n2);
    ck_assert(n == n2 && memcmp(b, b2, n) == 0);
    free(b);
    free(b2);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), 36);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        ck_assert_int_eq(chmod(file, bad[i]), 0);
        ck_assert_msg(bc_load(dir, bc_path, bc_src2, 0) == -1, "mode %o", bad[i]);
    }
    ck_assert_int_eq(chmod(file, 0644), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), 36);
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(file, 65534, 65534), 0);
        ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), -1);
        ck_assert_int_eq(chown(file, 0, 0), 0);
        ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), 36);
    }
    ck_assert_int_eq(unlink(file), 0);
    ck_assert_int_eq(mkfifo(file, 0600), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), -1);
    ck_assert_int_eq(unlink(file), 0);
    ck_assert_int_eq(mkdir(file, 0700), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), -1);
    errno = 0;
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src2, 0), -1);
    ck_assert_int_ne(errno, 0);
    ck_assert_int_eq(bc_files(dir, "", NULL, 0), 1);  /* no temp file left */
}
END_TEST

START_TEST(test_bc_prepare)
{
    char dir[512], err[256];
    struct stat st;
    mode_t old;
    int fd;

    snprintf(dir, sizeof(dir), "%s/new", tmpdir);
    ck_assert_int_eq(mp_bc_prepare(dir, err, sizeof(err)), 0);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
    /* 0700 whatever the umask */
    old = umask(0777);
    snprintf(dir, sizeof(dir), "%s/new2", tmpdir);
    ck_assert_int_eq(mp_bc_prepare(dir, err, sizeof(err)), 0);
    umask(old);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0700);
    ck_assert_int_eq(chmod(dir, 0755), 0);
    ck_assert_int_eq(mp_bc_prepare(dir, err, sizeof(err)), 0);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0755);  /* an existing dir is left as it is */
    for (mode_t m = 0; m < 3; m++) {
        ck_assert_int_eq(chmod(dir, (mode_t[]){ 0777, 0770, 0702 }[m]), 0);
        err[0] = '\0';
        ck_assert_int_eq(mp_bc_prepare(dir, err, sizeof(err)), -1);
        ck_assert_msg(strstr(err, "writable by group or others") != NULL, "%s", err);
    }
    if (geteuid() == 0) {
        ck_assert_int_eq(chmod(dir, 0700), 0);
        ck_assert_int_eq(chown(dir, 65534, 65534), 0);
        ck_assert_int_eq(mp_bc_prepare(dir, err, sizeof(err)), -1);
        ck_assert_msg(strstr(err, "owned by uid 65534") != NULL, "%s", err);
    }
    snprintf(dir, sizeof(dir), "%s/file", tmpdir);
    fd = open(dir, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(mp_bc_prepare(dir, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
    snprintf(dir, sizeof(dir), "%s/missing/bc", tmpdir);
    ck_assert_int_eq(mp_bc_prepare(dir, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot create") != NULL, "%s", err);
    ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

/* Four threads storing the same entry over and over while a fifth loads
 * it: every load a hit (a reader never sees a partly written file), every
 * store done, one valid file and no temporary file left. */
typedef struct {
    const char *dir;
    int reader, failures;
} bc_worker;

static void *bc_work(void *arg)
{
    bc_worker *w = arg;
    PyGILState_STATE g = PyGILState_Ensure();

    for (int i = 0; i < (w->reader ? 400 : 100); i++)
        if (w->reader ? bc_load(w->dir, bc_path, bc_src, 0) != 43
                      : bc_store(w->dir, bc_path, bc_src, 0) != 0)
            w->failures++;
    PyGILState_Release(g);
    return NULL;
}

START_TEST(test_bc_concurrent_stores)
{
    char dir[512];
    pthread_t t[5];
    bc_worker w[5];

    bc_dir("bc", dir, sizeof(dir));
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    for (int i = 0; i < 5; i++) {
        w[i] = (bc_worker){ dir, i == 4, 0 };
        ck_assert_int_eq(pthread_create(&t[i], NULL, bc_work, &w[i]), 0);
    }
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 5; i++)
        ck_assert_msg(w[i].failures == 0, "thread %d: %d failures", i, w[i].failures);
    ck_assert_int_eq(bc_files(dir, "", NULL, 0), 1);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
}
END_TEST

/* A temporary file left by a crashed writer with the name this thread
 * uses (same pid and thread id), even a symlink, does not block a store;
 * other writers' temporary files are left alone. */
START_TEST(test_bc_leftover_temp)
{
    char dir[512], file[1024], stale[1200], link[1200], other[1200], target[1024];
    size_t n;
    char *b;

    bc_dir("bc", dir, sizeof(dir));
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    bc_entry(dir, file, sizeof(file));
    snprintf(stale, sizeof(stale), "%s.%ld.%ld.tmp", file, (long)getpid(),
             (long)syscall(SYS_gettid));
    snprintf(other, sizeof(other), "%s.%ld.%ld.tmp", file, (long)getpid() + 1, 1L);
    bc_spit(stale, "half a file", 11, 0600);
    bc_spit(other, "another writer's", 16, 0600);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src2, 0), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src2, 0), 36);
    ck_assert_int_ne(access(stale, F_OK), 0);
    ck_assert_int_eq(access(other, F_OK), 0);
    /* the leftover is a symlink: replaced, its target untouched */
    snprintf(target, sizeof(target), "%s/target", tmpdir);
    bc_spit(target, "keep", 4, 0600);
    snprintf(link, sizeof(link), "%s", stale);
    ck_assert_int_eq(symlink(target, link), 0);
    ck_assert_int_eq(bc_store(dir, bc_path, bc_src, 0), 0);
    ck_assert_int_eq(bc_load(dir, bc_path, bc_src, 0), 43);
    b = bc_slurp(target, &n);
    ck_assert(n == 4 && memcmp(b, "keep", 4) == 0);
    free(b);
    ck_assert_int_eq(bc_files(dir, "", NULL, 0), 2);  /* the entry, `other` */
}
END_TEST

/* Not an assertion: what the cache saves, printed.  100 modules of 200
 * lines, compiled, then loaded from the cache. */
static char *bc_module(int k)
{
    size_t size = 20 * 400 + 64, used = 0;
    char *s = malloc(size);

    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 20; i++)
        used += snprintf(s + used, size - used,
            "def f%d(a, b=%d):\n    total = 0\n    for i in range(a):\n"
            "        if i %% 3 == 0:\n            total += i * b\n"
            "        elif i %% 3 == 1:\n            total -= len(str(i))\n"
            "        else:\n            total ^= i\n"
            "    return {'a': a, 'b': b, 'total': total, 'k': %d}\n", i, i + k, k);
    snprintf(s + used, size - used, "result = f0(3)['k']\n");
    return s;
}

static double bc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

START_TEST(test_bc_timing)
{
    char dir[512], path[64];
    char *src[100];
    PyObject *code[100];
    double t0, compile, load;

    bc_dir("bc", dir, sizeof(dir));
    for (int k = 0; k < 100; k++)
        src[k] = bc_module(k);
    t0 = bc_now();
    for (int k = 0; k < 100; k++) {
        snprintf(path, sizeof(path), "/srv/bench/m%03d.py", k);
        code[k] = bc_compile(src[k], path, 0);
    }
    compile = bc_now() - t0;
    for (int k = 0; k < 100; k++) {
        snprintf(path, sizeof(path), "/srv/bench/m%03d.py", k);
        ck_assert_int_eq(mp_bc_store(dir, path, src[k], strlen(src[k]), code[k], 0), 0);
        Py_DECREF(code[k]);
    }
    t0 = bc_now();
    for (int k = 0; k < 100; k++) {
        snprintf(path, sizeof(path), "/srv/bench/m%03d.py", k);
        code[k] = mp_bc_load(dir, path, src[k], strlen(src[k]), 0);
        ck_assert_ptr_nonnull(code[k]);
    }
    load = bc_now() - t0;
    for (int k = 0; k < 100; k++) {
        Py_DECREF(code[k]);
        free(src[k]);
    }
    fprintf(stderr, "bytecode cache, 100 modules of 200 lines: compile %.0f us each, "
            "mp_bc_load %.0f us each (%.1fx)\n", compile / 100, load / 100, compile / load);
}
END_TEST

static Suite *importer_suite(void)
{
    Suite *s = suite_create("importer");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_keyed_by_path);
    tcase_add_test(tc, test_name_forms);
    tcase_add_test(tc, test_import_statement_tracked);
    tcase_add_test(tc, test_deep_dependency_reload_once);
    tcase_add_test(tc, test_any_change_reloads);
    tcase_add_test(tc, test_fresh_module_object);
    tcase_add_test(tc, test_clone_and_purge);
    tcase_add_test(tc, test_failures);
    tcase_add_test(tc, test_one_version_per_request);
    tcase_add_test(tc, test_autoreload_off_and_freeze);
    tcase_add_test(tc, test_removed_file_keeps_serving);
    tcase_add_test(tc, test_log_lines);
    tcase_add_test(tc, test_search_path_option);
    tcase_add_test(tc, test_reentry_gets_partial_module);
    tcase_add_test(tc, test_parallel_loads_do_not_block);
    tcase_add_test(tc, test_concurrent_stale_loads_once);
    tcase_add_test(tc, test_cross_thread_cycle_no_deadlock);
    tcase_add_test(tc, test_c_entry_point);
    tcase_add_test(tc, test_reload_frees_old_modules);
    tcase_add_test(tc, test_fresh_tree_check_cost);
    tcase_add_test(tc, test_notify_exact);
    tcase_add_test(tc, test_other_names_followed);
    tcase_add_test(tc, test_import_memo);
    tcase_add_test(tc, test_new_file_shadows_after_cached_resolution);
    tcase_add_test(tc, test_import_module_arguments);
    tcase_add_test(tc, test_names_are_the_users);
    tcase_add_test(tc, test_retired_modules_freed);
    tcase_add_test(tc, test_keep_last_good);
    tcase_add_test(tc, test_half_written_not_loaded);
    tcase_add_test(tc, test_clone_runs_before_body);
    tcase_add_test(tc, test_code_reused_when_source_same);
    tcase_add_test(tc, test_no_reference_leaks);
    suite_add_tcase(s, tc);
    tc = tcase_create("bytecode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bc_round_trip);
    tcase_add_test(tc, test_bc_other_source_or_level);
    tcase_add_test(tc, test_bc_other_path);
    tcase_add_test(tc, test_bc_truncated_and_corrupt);
    tcase_add_test(tc, test_bc_not_our_file);
    tcase_add_test(tc, test_bc_prepare);
    tcase_add_test(tc, test_bc_concurrent_stores);
    tcase_add_test(tc, test_bc_leftover_temp);
    tcase_add_test(tc, test_bc_timing);
    suite_add_tcase(s, tc);
    if ((tc = own_gil_tcase(setup, teardown)))
        suite_add_tcase(s, tc);
    return s;
}

/* With CK_FORK=no (the valgrind run) Python lives in this process: drop
 * what the host holds and finalize, so that what is left at exit is a leak
 * and not the live interpreter.  In fork mode each test ran in a child and
 * Python never started here. */
static int finalize_python(void)
{
    if (!Py_IsInitialized())
        return 0;
    PyGILState_Ensure();
    Py_CLEAR(host_state.search_path);
    Py_CLEAR(host_state.logs);
    mp_imp_request_clear(&host_state.rq);
    return Py_FinalizeEx();
}

int main(void)
{
    SRunner *sr = srunner_create(importer_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (finalize_python() < 0)
        failed++;
    mp_watch_reset();  /* frees the watcher's tables */
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
