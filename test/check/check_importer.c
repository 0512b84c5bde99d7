/* Check suite for the importer: Python embedded directly, real files in a
 * temporary directory, real OS threads (Python's threading module calling
 * into the C importer).  Each test is a Python script run against a fresh
 * importer `imp`; the host (configuration in force, log, request cache) is
 * this file's, driven from the scripts through the `mptest` module. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "importer/mp_importer.h"
#include "importer/mp_watch.h"

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
