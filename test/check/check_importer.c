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
    int autoreload, logging;
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

static const mp_importer_host test_host = {
    NULL, h_autoreload, h_logging, h_search_path, h_handler_dir, h_request, h_log,
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

static PyMethodDef t_methods[] = {
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

static const char *prelude =
    "import os, sys, time, threading, gc, weakref, mptest\n"
    "def write(name, text, newer=True):\n"
    "    p = os.path.join(tmp, name)\n"
    "    old = os.stat(p).st_mtime_ns if os.path.exists(p) else None\n"
    "    with open(p, 'w') as f: f.write(text)\n"
    "    if newer and old is not None:\n"
    "        os.utime(p, ns=(old + 10**9, old + 10**9))\n"
    "    return p\n"
    "def logs(): return list(mptest.logs())\n"
    "def watching(): return imp.notify and mptest.epoch() > 0\n"
    "NOTIFY = os.environ.get('MP_TEST_NOTIFY') != '0'\n"
    "def clear_logs(): del mptest.logs()[:]\n";

static void setup(void)
{
    PyObject *mod, *tmp, *r;

    if (!Py_IsInitialized()) {
        PyImport_AppendInittab("mptest", t_init);
        Py_Initialize();
    } else {
        PyGILState_Ensure();
    }
    host_state.autoreload = 1;
    host_state.logging = 1;
    host_state.handler_dir[0] = '\0';
    Py_CLEAR(host_state.search_path);
    mp_imp_request_clear(&host_state.rq);
    host_state.in_request = 0;
    Py_XSETREF(host_state.logs, PyList_New(0));
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mp-check-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_int_eq(mp_importer_init_types(), 0);
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
    r = PyRun_String(prelude, Py_file_input, globals, globals);
    if (!r)
        PyErr_Print();
    ck_assert_ptr_nonnull(r);
    Py_DECREF(r);
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

static void run_py(const char *code)
{
    PyObject *r = PyRun_String(code, Py_file_input, globals, globals);

    if (!r) {
        PyErr_Print();
        /* printed: sys.last_traceback must not keep the test's objects */
        PySys_SetObject("last_type", NULL);
        PySys_SetObject("last_value", NULL);
        PySys_SetObject("last_traceback", NULL);
    }
    ck_assert_msg(r != NULL, "Python test code raised (traceback above)");
    Py_DECREF(r);
}

#define PYTEST(name, code) \
    START_TEST(name) { run_py(code); } END_TEST

/* ------------------------------------------------------------ tests */

PYTEST(test_keyed_by_path,
    "os.mkdir(tmp + '/a'); os.mkdir(tmp + '/b')\n"
    "write('a/common.py', 'WHERE = \"a\"\\n')\n"
    "write('b/common.py', 'WHERE = \"b\"\\n')\n"
    "ma = imp.import_module('common', path=[tmp + '/a'])\n"
    "mb = imp.import_module('common', path=[tmp + '/b'])\n"
    "assert ma is not mb and ma.WHERE == 'a' and mb.WHERE == 'b'\n"
    "assert ma.__file__ == tmp + '/a/common.py'\n"
    "assert ma.__name__.startswith('_mp_') and ma.__name__ != mb.__name__\n"
    "assert ma.__name__ not in sys.modules and 'common' not in sys.modules\n"
    "assert ma.__mp_path__ == [] and ma.__mp_info__.file == ma.__file__\n"
    "assert imp.import_module('common', path=[tmp + '/a']) is ma\n"
    "assert set(imp.modules()) == {ma.__file__, mb.__file__}\n")

PYTEST(test_name_forms,
    "os.mkdir(tmp + '/h'); os.mkdir(tmp + '/h/sub')\n"
    "write('h/x.py', 'V = 1\\n')\n"
    "write('h/sub/y.py', 'V = 2\\n')\n"
    "m = imp.import_module(tmp + '/h/x.py')\n"
    "assert m.V == 1 and imp.import_module(tmp + '/h/x') is m\n"
    "assert imp.import_module(tmp + '/h/sub/../x.py') is m, 'path not normalised'\n"
    "mptest.set('handler_dir', tmp + '/h/')\n"
    "assert imp.import_module('~/x.py') is m and imp.import_module('~/sub/y').V == 2\n"
    "sys.modules['_mpimp'] = imp\n"
    "write('h/sub/parent.py', \"import _mpimp\\nUP = _mpimp.import_module('../x')\\n"
    "HERE = _mpimp.import_module('./y')\\n\")\n"
    "p = imp.import_module('~/sub/parent')\n"
    "assert p.UP is m and p.HERE.V == 2\n"
    "try:\n"
    "    imp.import_module('~/missing'); raise AssertionError('no error')\n"
    "except ImportError as e: assert 'missing' in str(e)\n"
    "try:\n"
    "    imp.import_module('a/b'); raise AssertionError('no error')\n"
    "except ImportError: pass\n"
    "assert imp.import_module('json') is sys.modules['json']\n"
    "assert imp.import_module('os.path') is sys.modules['os.path']\n"
    "del sys.modules['_mpimp']\n")

PYTEST(test_import_statement_tracked,
    "write('child.py', 'VALUE = 1\\n')\n"
    "write('parent.py', 'import child\\nfrom child import VALUE\\nimport json\\n')\n"
    "p = imp.import_module('parent', path=[tmp])\n"
    "assert p.VALUE == 1 and p.child.__file__ == tmp + '/child.py'\n"
    "assert p.json is sys.modules['json']\n"
    "assert imp.modules()[p.__file__]['children'] == (tmp + '/child.py',)\n"
    "write('child.py', 'VALUE = 22\\n')\n"
    "p2 = imp.import_module('parent', path=[tmp])\n"
    "assert p2 is not p and p2.VALUE == 22, 'from child import VALUE is stale'\n"
    "assert imp.import_module('parent', path=[tmp]) is p2\n")

PYTEST(test_deep_dependency_reload_once,
    "write('d3.py', 'import sys\\nsys.mp_loads.append(\"d3\")\\nX = 1\\n')\n"
    "write('d2.py', 'import sys, d3\\nsys.mp_loads.append(\"d2\")\\n')\n"
    "write('d1.py', 'import sys, d2\\nsys.mp_loads.append(\"d1\")\\n')\n"
    "write('top.py', 'import sys, d1\\nsys.mp_loads.append(\"top\")\\n')\n"
    "sys.mp_loads = []\n"
    "t = imp.import_module('top', path=[tmp])\n"
    "assert sys.mp_loads == ['d3', 'd2', 'd1', 'top'], sys.mp_loads\n"
    "sys.mp_loads = []\n"
    "assert imp.import_module('top', path=[tmp]) is t and sys.mp_loads == []\n"
    "write('d3.py', 'import sys\\nsys.mp_loads.append(\"d3\")\\nX = 2\\n')\n"
    "t2 = imp.import_module('top', path=[tmp])\n"
    "assert sorted(sys.mp_loads) == ['d1', 'd2', 'd3', 'top'], sys.mp_loads\n"
    "assert t2.d1.d2.d3.X == 2\n"
    "sys.mp_loads = []\n"
    "assert imp.import_module('top', path=[tmp]) is t2 and sys.mp_loads == []\n"
    "print(imp.tree())\n"
    "assert '  ' + tmp + '/d1.py' in imp.tree()\n")

PYTEST(test_any_change_reloads,
    "p = write('m.py', 'A = 1\\n')\n"
    "m1 = imp.import_module('m', path=[tmp])\n"
    /* older mtime: a restored backup */
    "st = os.stat(p)\n"
    "with open(p, 'w') as f: f.write('A = 2\\n')\n"
    "os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - 10**10))\n"
    "m2 = imp.import_module('m', path=[tmp])\n"
    "assert m2 is not m1 and m2.A == 2, 'older mtime missed'\n"
    /* atomic rename, same size and mtime: a new inode */
    "with open(tmp + '/new.tmp', 'w') as f: f.write('A = 3\\n')\n"
    "st = os.stat(p)\n"
    "os.utime(tmp + '/new.tmp', ns=(st.st_atime_ns, st.st_mtime_ns))\n"
    "os.rename(tmp + '/new.tmp', p)\n"
    "m3 = imp.import_module('m', path=[tmp])\n"
    "assert m3.A == 3, 'rename missed'\n"
    /* size change with mtime put back */
    "st = os.stat(p)\n"
    "with open(p, 'w') as f: f.write('A = 44\\n')\n"
    "os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))\n"
    "assert imp.import_module('m', path=[tmp]).A == 44, 'size change missed'\n")

PYTEST(test_fresh_module_object,
    "write('f.py', 'KEEP = 1\\nGONE = 2\\n')\n"
    "m1 = imp.import_module('f', path=[tmp])\n"
    "m1.ADDED = 3\n"
    "write('f.py', 'KEEP = 10\\n')\n"
    "m2 = imp.import_module('f', path=[tmp])\n"
    "assert m2 is not m1 and m2.KEEP == 10\n"
    "assert not hasattr(m2, 'GONE') and not hasattr(m2, 'ADDED')\n"
    "assert m1.GONE == 2\n")

PYTEST(test_clone_and_purge,
    "v1 = ('import threading\\nif \"STATE\" not in globals():\\n    STATE = []; LOCK = threading.Lock()\\n'\n"
    "      'def __mp_clone__(new):\\n    import sys; sys.cloned = new\\n'\n"
    "      '    with LOCK:\\n        new.STATE = STATE; new.LOCK = LOCK\\n')\n"
    "write('c.py', v1)\n"
    "m1 = imp.import_module('c', path=[tmp])\n"
    "m1.STATE.append('kept')\n"
    "v2 = ('if \"STATE\" not in globals():\\n    STATE = []\\nV = 2\\n'\n"
    "      'def __mp_clone__(new): raise RuntimeError(\"no clone\")\\n'\n"
    "      'def __mp_purge__():\\n    import sys; sys.purged = True\\n')\n"
    "write('c.py', v2)\n"
    "m2 = imp.import_module('c', path=[tmp])\n"
    "assert sys.cloned is m2 and m2 is not m1, 'clone got another module'\n"
    "assert m2.V == 2 and m2.STATE == ['kept'] and m2.LOCK is m1.LOCK\n"
    "assert any(\"Cloned module '%s/c.py'\" % tmp in l for l in logs()), logs()\n"
    "sys.purged = False\n"
    "clear_logs()\n"
    "write('c.py', 'X = 1\\n')\n"
    "m3 = imp.import_module('c', path=[tmp])\n"
    "assert m3.X == 1 and sys.purged is True, 'purge not called'\n"
    "assert not hasattr(m3, 'STATE'), 'fresh load expected after a failed clone'\n"
    "assert any('__mp_clone__ failed' in l for l in logs()), logs()\n"
    "assert any('RuntimeError: no clone' in l for l in logs()), logs()\n"
    "assert any('Purged module' in l for l in logs())\n"
    "del sys.cloned\n")

PYTEST(test_failures,
    "write('bad.py', 'def broken(:\\n')\n"
    "try:\n"
    "    imp.import_module('bad', path=[tmp]); raise AssertionError\n"
    "except SyntaxError: pass\n"
    "assert tmp + '/bad.py' not in imp.modules(), 'failed first import was cached'\n"
    "write('bad.py', 'raise ValueError(\"boom\")\\n')\n"
    "try:\n"
    "    imp.import_module('bad', path=[tmp]); raise AssertionError\n"
    "except ValueError: pass\n"
    "assert tmp + '/bad.py' not in imp.modules()\n"
    "write('good.py', 'V = 1\\n')\n"
    "g1 = imp.import_module('good', path=[tmp])\n"
    "write('good.py', 'V = (\\n')\n"
    "for i in range(2):\n"
    "    try:\n"
    "        imp.import_module('good', path=[tmp]); raise AssertionError\n"
    "    except SyntaxError: pass\n"
    "info = imp.modules()[tmp + '/good.py']\n"
    "assert info['module'] is g1 and info['failed'], 'last good version lost'\n"
    "write('good.py', 'V = 2\\n')\n"
    "assert imp.import_module('good', path=[tmp]).V == 2\n"
    /* a broken child makes the parent's import fail, then recover */
    "write('kid.py', 'K = 1\\n')\n"
    "write('dad.py', 'import kid\\nK = kid.K\\n')\n"
    "assert imp.import_module('dad', path=[tmp]).K == 1\n"
    "write('kid.py', 'K = (\\n')\n"
    "try:\n"
    "    imp.import_module('dad', path=[tmp]); raise AssertionError\n"
    "except SyntaxError: pass\n"
    "write('kid.py', 'K = 3\\n')\n"
    "assert imp.import_module('dad', path=[tmp]).K == 3\n")

PYTEST(test_one_version_per_request,
    "write('r.py', 'V = 1\\n')\n"
    "cache = {}\n"
    "mptest.set('request_cache', cache)\n"
    "m1 = imp.import_module('r', path=[tmp])\n"
    "write('r.py', 'V = 2\\n')\n"
    "assert imp.import_module('r', path=[tmp]) is m1, 'changed within a request'\n"
    "mptest.set('request_cache', {})\n"
    "assert imp.import_module('r', path=[tmp]).V == 2\n")

PYTEST(test_autoreload_off_and_freeze,
    "write('a.py', 'V = 1\\n')\n"
    "m1 = imp.import_module('a', path=[tmp])\n"
    "mptest.set('autoreload', False)\n"
    "write('a.py', 'V = 2\\n')\n"
    "assert imp.import_module('a', path=[tmp]) is m1\n"
    "m2 = imp.import_module('a', path=[tmp], autoreload=True)\n"
    "assert m2.V == 2, 'explicit autoreload=True must check'\n"
    "mptest.set('autoreload', True)\n"
    "imp.freeze()\n"
    "assert imp.frozen\n"
    "write('a.py', 'V = 3\\n')\n"
    "assert imp.import_module('a', path=[tmp]) is m2\n"
    "assert imp.import_module('a', path=[tmp], autoreload=True) is m2, 'frozen is for good'\n")

PYTEST(test_removed_file_keeps_serving,
    "p = write('gone.py', 'V = 1\\n')\n"
    "m = imp.import_module(p)\n"
    "os.unlink(p)\n"
    "clear_logs()\n"
    "assert imp.import_module(p) is m\n"
    "assert imp.import_module(p) is m\n"
    "removed = [l for l in logs() if 'removed' in l]\n"
    "assert len(removed) == 1 and p in removed[0], logs()\n")

PYTEST(test_log_lines,
    "write('l.py', 'V = 1\\n')\n"
    "imp.import_module('l', path=[tmp])\n"
    "write('l.py', 'V = 2\\n')\n"
    "imp.import_module('l', path=[tmp])\n"
    "pre = \"mod_python (pid=%d, interpreter='test_interp'): \" % os.getpid()\n"
    "assert pre + \"Importing module '%s/l.py'\" % tmp in logs(), logs()\n"
    "assert pre + \"Reimporting module '%s/l.py'\" % tmp in logs(), logs()\n"
    "mptest.set('logging', False)\n"
    "clear_logs()\n"
    "write('l.py', 'V = 3\\n')\n"
    "imp.import_module('l', path=[tmp])\n"
    "assert logs() == []\n"
    "write('l.py', 'V = 4\\n')\n"
    "imp.import_module('l', path=[tmp], log=True)\n"
    "assert len(logs()) == 1, 'log=True overrides'\n")

PYTEST(test_search_path_option,
    "os.mkdir(tmp + '/lib')\n"
    "write('lib/shared.py', 'S = 1\\n')\n"
    "write('user.py', 'import shared\\n')\n"
    "mptest.set('search_path', [tmp + '/lib'])\n"
    "u = imp.import_module('user', path=[tmp])\n"
    "assert u.shared.__file__ == tmp + '/lib/shared.py'\n"
    "assert 'shared' not in sys.modules\n"
    "write('mp.py', '__mp_path__.append(%r)\\nimport other\\n' % (tmp + '/lib'))\n"
    "write('lib/other.py', 'O = 1\\n')\n"
    "mptest.set('search_path', None)\n"
    "assert imp.import_module('mp', path=[tmp]).other.O == 1\n")

PYTEST(test_reentry_gets_partial_module,
    "write('self.py', 'FIRST = 1\\nimport self as me\\nSEEN = hasattr(me, \"FIRST\") and not hasattr(me, \"LAST\")\\nLAST = 1\\n')\n"
    "m = imp.import_module('self', path=[tmp])\n"
    "assert m.SEEN and m.me is m\n"
    "write('ca.py', 'import cb\\nA = 1\\n')\n"
    "write('cb.py', 'import ca\\nB = 1\\n')\n"
    "a = imp.import_module('ca', path=[tmp])\n"
    "assert a.cb.ca is a and a.A == 1\n"
    "assert imp.import_module('ca', path=[tmp]) is a, 'a cycle must not reload forever'\n"
    "assert imp.import_module('cb', path=[tmp]) is a.cb\n"
    "assert any('cycle' in l for l in logs())\n")

PYTEST(test_parallel_loads_do_not_block,
    "write('slow.py', 'import time\\ntime.sleep(2)\\n')\n"
    "write('fast.py', 'V = 1\\n')\n"
    "t = threading.Thread(target=imp.import_module, args=('slow',), kwargs={'path': [tmp]})\n"
    "t.start(); time.sleep(0.3)\n"
    "t0 = time.time()\n"
    "assert imp.import_module('fast', path=[tmp]).V == 1\n"
    "took = time.time() - t0\n"
    "t.join()\n"
    "assert took < 1.0, 'a slow import blocked another module: %.2fs' % took\n")

PYTEST(test_concurrent_stale_loads_once,
    "write('hot.py', 'import sys, time\\nsys.hot_runs = getattr(sys, \"hot_runs\", 0) + 1\\ntime.sleep(0.3)\\nV = 1\\n')\n"
    "imp.import_module('hot', path=[tmp])\n"
    "sys.hot_runs = 0\n"
    "write('hot.py', 'import sys, time\\nsys.hot_runs = getattr(sys, \"hot_runs\", 0) + 1\\ntime.sleep(0.3)\\nV = 2\\n')\n"
    "got = []\n"
    "def run(): got.append(imp.import_module('hot', path=[tmp]))\n"
    "ts = [threading.Thread(target=run) for i in range(20)]\n"
    "[t.start() for t in ts]; [t.join() for t in ts]\n"
    "assert sys.hot_runs == 1, 'body ran %d times' % sys.hot_runs\n"
    "assert len(got) == 20 and all(m is got[0] and m.V == 2 for m in got)\n")

PYTEST(test_cross_thread_cycle_no_deadlock,
    "write('xa.py', 'import time\\ntime.sleep(0.5)\\nimport xb\\nA = 1\\n')\n"
    "write('xb.py', 'import time\\ntime.sleep(0.5)\\nimport xa\\nB = 1\\n')\n"
    "res = {}\n"
    "def run(n): res[n] = imp.import_module(n, path=[tmp])\n"
    "ts = [threading.Thread(target=run, args=(n,), daemon=True) for n in ('xa', 'xb')]\n"
    "[t.start() for t in ts]; [t.join(10) for t in ts]\n"
    "assert not any(t.is_alive() for t in ts), 'deadlock'\n"
    "assert res['xa'].A == 1 and res['xb'].B == 1\n")

PYTEST(test_c_entry_point,
    "write('h.py', 'def handler(req): return req\\n')\n"
    "m = mptest.c_import(imp, 'h', [tmp])\n"
    "assert m.handler(5) == 5 and mptest.c_import(imp, 'h', [tmp]) is m\n")

PYTEST(test_reload_frees_old_modules,
    "def rss():\n"
    "    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
    "body = 'DATA = list(range(2000))\\ndef f(): return DATA\\nclass K: pass\\n'\n"
    "write('big.py', body)\n"
    "m = imp.import_module('big', path=[tmp])\n"
    "ref = weakref.ref(m)\n"
    "del m\n"
    "for i in range(50):\n"
    "    write('big.py', body + '#%d\\n' % i); imp.import_module('big', path=[tmp])\n"
    "gc.collect()\n"
    "assert ref() is None, 'old module still alive'\n"
    "base = rss()\n"
    "for i in range(1000):\n"
    "    write('big.py', body + '#%d\\n' % (i + 5000)); imp.import_module('big', path=[tmp])\n"
    "gc.collect(); base = rss()  # the first 1000 warm the allocator up\n"
    "for i in range(1000):\n"
    "    write('big.py', body + '#%d\\n' % (i + 100)); imp.import_module('big', path=[tmp])\n"
    "gc.collect()\n"
    "grew = rss() - base\n"
    "print('RSS growth over 1000 reloads: %d KiB' % (grew // 1024))\n"
    "assert SANITIZED or grew < 2 * 1024 * 1024, grew\n")

PYTEST(test_fresh_tree_check_cost,
    "for i in range(10): write('k%d.py' % i, 'V = %d\\n' % i)\n"
    "write('wide.py', ''.join('import k%d\\n' % i for i in range(10)))\n"
    "imp.import_module('wide', path=[tmp])\n"
    "imp.import_module('wide', path=[tmp])\n"
    "assert watching() == NOTIFY, 'inotify did not start'\n"
    "before = imp.stat_calls\n"
    "for i in range(100): imp.import_module('wide', path=[tmp])\n"
    "spent = imp.stat_calls - before\n"
    "if watching():\n"
    "    assert spent == 0, 'a fresh watched tree needs no stat: %d' % spent\n"
    "else:\n"
    "    assert spent == 100 * 11, 'stat fallback: 11 files per call, got %d' % spent\n"
    "write('k9.py', 'V = 99\\n')\n"
    "assert imp.import_module('wide', path=[tmp]).k9.V == 99\n")

/* Notification is exact: a rewrite that leaves size, mtime and inode as
 * they were (two saves within one clock tick) is still seen. */
PYTEST(test_notify_exact,
    "p = write('same.py', 'V = 1\\n')\n"
    "assert imp.import_module(p).V == 1\n"
    "assert watching() == NOTIFY\n"
    "if watching():\n"
    "    st = os.stat(p)\n"
    "    with open(p, 'w') as f: f.write('V = 2\\n')\n"
    "    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))\n"
    "    assert imp.import_module(p).V == 2, 'same-size same-mtime rewrite missed'\n"
    "    mptest.set('autoreload', False)\n"
    "    with open(p, 'w') as f: f.write('V = 3\\n')\n"
    "    assert imp.import_module(p).V == 2, 'autoreload Off must not reload'\n"
    "    mptest.set('autoreload', True)\n"
    "    assert imp.import_module(p).V == 3\n")

/* A file that appears earlier on the search path is found, also when the
 * resolution was remembered. */
PYTEST(test_new_file_shadows_after_cached_resolution,
    "os.mkdir(tmp + '/first'); os.mkdir(tmp + '/second')\n"
    "write('second/sh.py', 'WHERE = 2\\n')\n"
    "dirs = [tmp + '/first', tmp + '/second']\n"
    "for i in range(3): assert imp.import_module('sh', path=dirs).WHERE == 2\n"
    "write('first/sh.py', 'WHERE = 1\\n')\n"
    "assert imp.import_module('sh', path=dirs).WHERE == 1\n"
    "os.unlink(tmp + '/first/sh.py')\n")

PYTEST(test_import_module_arguments,
    "write('arg.py', 'V = 1\\n')\n"
    "assert imp.import_module('arg', None, None, [tmp]).V == 1\n"
    "assert imp.import_module(name='arg', path=[tmp], log=False, autoreload=True).V == 1\n"
    "for args, kw in [((), {}), ((1,), {}), (('arg', 1, 2, [tmp], 5), {}),\n"
    "                 (('arg',), {'nope': 1}), (('arg',), {'name': 'x'}),\n"
    "                 (('arg',), {'path': 'notalist'})]:\n"
    "    try:\n"
    "        imp.import_module(*args, **kw)\n"
    "        raise AssertionError('accepted %r %r' % (args, kw))\n"
    "    except TypeError:\n"
    "        pass\n")

/* No reference leaks: every importer path, good and failing, run N times
 * must leave the object count where it was (give or take a constant), so
 * losing even one object per cycle fails.  gc.get_objects() counts
 * containers (modules, dicts, entries, functions); sys.getallocatedblocks()
 * also counts str, bytes and code objects, but only pymalloc's: it is 0
 * under valgrind (PYTHONMALLOC=malloc), whose leak check sees those
 * instead.  The type attribute cache keeps a reference to each recently
 * looked-up name, up to 4096 of them (PyObject_GetAttrString makes a new
 * str every call): it is emptied before counting. */
PYTEST(test_no_reference_leaks,
    "os.mkdir(tmp + '/lk')\n"
    "d = [tmp + '/lk']\n"
    "mptest.set('handler_dir', tmp + '/lk')\n"
    "def expect(exc, *a, **kw):\n"
    "    try:\n"
    "        imp.import_module(*a, **kw)\n"
    "    except exc:\n"
    "        return\n"
    "    raise AssertionError('%r did not raise %s' % (a, exc.__name__))\n"
    "def cycle(i):\n"
    /* a reload of parent and child; the clone hook alternately carries
     * state over and raises (then purge, a logged traceback) */
    "    write('lk/kid.py', 'K = %d\\n' % i)\n"
    "    write('lk/top.py', 'import kid, json\\nV = kid.K\\n'\n"
    "          'def __mp_clone__(new):\\n    %s\\n'\n"
    "          'def __mp_purge__(): pass\\n'\n"
    "          % ('raise RuntimeError(V)' if i % 2 else 'new.OLD = V'))\n"
    "    assert imp.import_module('top', path=d).V == i\n"
    "    assert imp.import_module('top', path=d, autoreload=True).V == i\n"
    "    assert mptest.c_import(imp, 'top', d).V == i\n"
    /* a module importing itself: the partly initialised module */
    "    write('lk/me.py', 'import me\\nV = %d\\n' % i)\n"
    "    assert imp.import_module('me', path=d).me.V == i\n"
    /* a request holding two modules */
    "    mptest.set('request_cache', {})\n"
    "    assert imp.import_module('top', path=d).kid is imp.import_module('kid', path=d)\n"
    "    mptest.set('request_cache', None)\n"
    /* failures: first import raising, syntax error, failed reload of a
     * child (last good kept), missing files, bad names and arguments */
    "    write('lk/raises.py', 'raise ValueError(%d)\\n' % i)\n"
    "    expect(ValueError, 'raises', path=d)\n"
    "    write('lk/syn.py', 'def broken(:\\n#%d\\n' % i)\n"
    "    expect(SyntaxError, 'syn', path=d)\n"
    "    write('lk/kid.py', 'K = (\\n#%d\\n' % i)\n"
    "    expect(SyntaxError, 'top', path=d)\n"
    "    expect(ImportError, '~/missing')\n"
    "    expect(ImportError, tmp + '/lk/missing.py')\n"
    "    expect(ImportError, 'no/such')\n"
    "    expect(TypeError, 'top', path='notalist')\n"
    "    imp.modules(); imp.tree()\n"
    "    clear_logs()\n"
    "def census():\n"
    "    sys._clear_type_cache()\n"
    "    gc.collect()\n"
    "    return len(gc.get_objects()), sys.getallocatedblocks()\n"
    "def types():\n"
    "    gc.collect()\n"
    "    n = {}\n"
    "    for o in gc.get_objects():\n"
    "        n[type(o).__name__] = n.get(type(o).__name__, 0) + 1\n"
    "    return n\n"
    "for i in range(10): cycle(i)  # warm caches and free lists up\n"
    "types0 = types()  # before the census: it is in both counts\n"
    "objs0, blocks0 = census()\n"
    "N = 20\n"
    "for i in range(10, 10 + N): cycle(i)\n"
    "objs, blocks = census()\n"
    "print('%d import cycles: %+d GC objects, %+d blocks' % (N, objs - objs0, blocks - blocks0))\n"
    "grew = sorted(((v - types0.get(k, 0), k) for k, v in types().items()), reverse=True)\n"
    "assert objs - objs0 <= 3, 'GC objects grew by %d: %s' % (objs - objs0, grew[:5])\n"
    "assert blocks - blocks0 <= 10, 'allocated blocks grew by %d' % (blocks - blocks0)\n")

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
