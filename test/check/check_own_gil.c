/* The importer in interpreters with their own GIL (PEP 684, Python 3.12+):
 * two of them import and reload the same files at the same time, each
 * from its own OS thread, truly in parallel, while a third thread rewrites
 * a file both depend on.  Everything the importer keeps must be per
 * interpreter (its cache, its locks, its objects) and it must never take
 * another interpreter's GIL; the watcher it shares is process-wide C. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "importer/mp_importer.h"
#include "check_own_gil.h"

#if PY_VERSION_HEX >= 0x030C0000

/* A version is loaded once no writer touched it for 100 ms (the
 * importer's rule against half-written files): writes 130 ms apart. */
enum { WRITES = 8, WRITE_GAP_US = 130000 };

typedef struct {
    PyInterpreterState *istate;
    PyObject *importer;      /* of istate */
    PyObject *name;          /* of istate: a.py's path */
    const char *dir;
    long reloads, last_y;
    char error[256];
} worker;

static volatile int writer_done;

/* A host of its own: the suite's keeps Python objects of the main
 * interpreter (its log list), which these interpreters must not touch. */
static int h_on(void *d) { return 1; }
static int h_off(void *d) { return 0; }
static PyObject *h_no_path(void *d) { return NULL; }
static const char *h_no_dir(void *d) { return NULL; }
static mp_imp_request *h_no_request(void *d) { return NULL; }
static void h_no_log(void *d, const char *msg) { }

static const mp_importer_host gil_host = {
    .autoreload = h_on, .logging = h_off, .search_path = h_no_path,
    .handler_dir = h_no_dir, .request = h_no_request, .log = h_no_log,
    .keep_last_good = h_off, .bytecode = h_on, .bytecode_dir = h_no_dir,
};

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512], tmp[520];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    ck_assert_ptr_nonnull(f = fopen(tmp, "w"));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, path), 0);   /* never half-written */
}

/* One import of a.py: its X must be the Y of the b it imported, plus one
 * (one version of each, whatever the writer does meanwhile). */
static int check_once(worker *w, PyObject **last)
{
    PyObject *m = mp_importer_import(w->importer, w->name, -1, -1, NULL);
    PyObject *x = NULL, *b = NULL, *y = NULL;
    int ok = -1;

    if (!m || !(x = PyObject_GetAttrString(m, "X")) || !(b = PyObject_GetAttrString(m, "b")) ||
        !(y = PyObject_GetAttrString(b, "Y")))
        goto done;
    if (PyLong_AsLong(x) != PyLong_AsLong(y) + 1) {
        snprintf(w->error, sizeof(w->error), "X %ld, b.Y %ld", PyLong_AsLong(x),
                 PyLong_AsLong(y));
        goto done;
    }
    w->reloads += m != *last;
    w->last_y = PyLong_AsLong(y);
    Py_XSETREF(*last, Py_NewRef(m));
    ok = 0;
done:
    if (ok < 0 && PyErr_Occurred()) {
        PyErr_Print();
        snprintf(w->error, sizeof(w->error), "import failed");
    }
    Py_XDECREF(m);
    Py_XDECREF(x);
    Py_XDECREF(b);
    Py_XDECREF(y);
    return ok;
}

static void *work(void *arg)
{
    worker *w = arg;
    PyThreadState *ts = PyThreadState_New(w->istate);
    PyObject *last = NULL;

    PyEval_RestoreThread(ts);
    /* While the writer writes, and until the last version is seen. */
    for (int i = 0; !w->error[0] && (!writer_done || w->last_y != WRITES) && i < 20000; i++) {
        if (check_once(w, &last) < 0)
            break;
        /* let go of the GIL now and then, as a request would */
        Py_BEGIN_ALLOW_THREADS
        usleep(200);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(last);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
    return NULL;
}

static void *writer(void *arg)
{
    const char *dir = arg;
    char text[64];

    for (int k = 1; k <= WRITES; k++) {
        usleep(WRITE_GAP_US);
        snprintf(text, sizeof(text), "Y = %d\n", k);
        write_file(dir, "b.py", text);
    }
    writer_done = 1;
    return NULL;
}

/* With the main thread state current: a new interpreter with its own GIL,
 * and its importer; returns with the main thread state current again. */
static PyThreadState *own_gil_interpreter(worker *w, const char *label)
{
    const PyInterpreterConfig config = {
        .use_main_obmalloc = 0, .allow_threads = 1,
        .check_multi_interp_extensions = 1, .gil = PyInterpreterConfig_OWN_GIL,
    };
    PyThreadState *main_ts = PyThreadState_Get(), *ts = NULL;
    char path[512];

    ck_assert(!PyStatus_Exception(Py_NewInterpreterFromConfig(&ts, &config)));
    w->istate = PyThreadState_GetInterpreter(ts);
    snprintf(path, sizeof(path), "%s/a.py", w->dir);
    ck_assert_ptr_nonnull(w->importer = mp_importer_new(&gil_host, label));
    ck_assert_ptr_nonnull(w->name = PyUnicode_FromString(path));
    PyEval_SaveThread();
    PyEval_RestoreThread(main_ts);
    return ts;
}

static void end_interpreter(PyThreadState *ts, worker *w)
{
    PyThreadState *main_ts = PyEval_SaveThread();

    PyEval_RestoreThread(ts);
    Py_CLEAR(w->importer);
    Py_CLEAR(w->name);
    Py_EndInterpreter(ts);
    PyEval_RestoreThread(main_ts);
}

START_TEST(test_own_gil_importers_in_parallel)
{
    char dir[] = "/tmp/mp-check-gil-XXXXXX", cmd[64];
    worker w[2];
    PyThreadState *ts[2];
    pthread_t t[3];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file(dir, "b.py", "Y = 0\n");
    write_file(dir, "a.py", "import b\nX = b.Y + 1\n");
    memset(w, 0, sizeof(w));
    writer_done = 0;
    for (int i = 0; i < 2; i++) {
        w[i].dir = dir;
        ts[i] = own_gil_interpreter(&w[i], i ? "gil_b" : "gil_a");
    }
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    ck_assert_int_eq(pthread_create(&t[2], NULL, writer, dir), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(!w[i].error[0], "interpreter %d: %s", i, w[i].error);
        ck_assert_msg(w[i].last_y == WRITES, "interpreter %d ends at Y %ld", i, w[i].last_y);
        ck_assert_msg(w[i].reloads >= WRITES / 2, "interpreter %d reloaded %ld times", i, w[i].reloads);
        end_interpreter(ts[i], &w[i]);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

TCase *own_gil_tcase(void (*setup)(void), void (*teardown)(void))
{
    TCase *tc = tcase_create("own_gil");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_own_gil_importers_in_parallel);
    return tc;
}

#else

TCase *own_gil_tcase(void (*setup)(void), void (*teardown)(void))
{
    return NULL;   /* no PEP 684 before 3.12 */
}

#endif
