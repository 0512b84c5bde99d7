/* mod_python's section of mod_status's page (/server-status): for every
 * interpreter of the process serving the page, the modules its importer
 * has cached (the importer's modules()).  Through mod_status's optional
 * status hook: where mod_status is not loaded nothing calls it.
 *
 * The page is read in two steps: inside each interpreter (GIL held) its
 * modules are copied into r->pool; then, with no GIL, the copy is written
 * (ap_rputs may block on the client).  A Python error is logged and the
 * module, or interpreter, left out: the status page never fails for us.
 *
 * The ?auto form (AP_STATUS_SHORT), one record a line:
 *   PythonPid: 4242
 *   PythonInterpreters: 1          interpreters read
 *   PythonModules: 2               modules cached, in all of them
 *   PythonLoads: 3                 sum of their load counts
 *   PythonHits: 10                 sum of their cache hits
 *   PythonFailed: 0                modules whose last load failed
 *   PythonInterpreter: name=localhost modules=2 watcher=inotify
 *   PythonModule: interp=localhost generation=2 loads=2 hits=5 children=1 failed=0 path=/srv/h.py
 * The path is the rest of the line; in it, and in a name, '%' and control
 * characters are written %XX, and in a name spaces too.  watcher is "-"
 * when the importer does not say. */
#include "httpd/mp_httpd.h"

#include "apr_optional_hooks.h"
#include "mod_status.h"

#include <unistd.h>

APLOG_USE_MODULE(python);

typedef struct st_module {
    const char *path;
    const char *last_error;   /* NULL: none */
    unsigned long generation, loads, hits;
    Py_ssize_t children;
    int failed;
} st_module;

typedef struct st_interp {
    const char *name;
    const char *watcher;             /* NULL: not known */
    const char *gil;                 /* "own" or "shared" */
    apr_array_header_t *modules;     /* st_module; NULL: not read */
} st_interp;

typedef struct st_page {
    apr_array_header_t *interps;     /* st_interp */
    int read;                        /* interpreters read */
    long modules, failed;
    unsigned long loads, hits;
} st_page;

/* ------------------------------------------------ reading (GIL held) */

static void log_skip(request_rec *r, const char *interp, const char *what)
{
    mp_log_exception(MPLOG_STATUS_ERROR, r, NULL,
                     apr_psprintf(r->pool, "mod_python status: interpreter '%s': %s "
                                  "left out", interp, what));
}

/* info[key] (borrowed), or NULL without an exception when missing. */
static PyObject *info_get(PyObject *info, const char *key)
{
    return PyDict_GetItemString(info, key);
}

static int info_ulong(PyObject *info, const char *key, unsigned long *out)
{
    PyObject *v = info_get(info, key);

    *out = v ? PyLong_AsUnsignedLong(v) : 0;
    return *out == (unsigned long)-1 && PyErr_Occurred() ? -1 : 0;
}

/* An error's text as it is; one that has no bytes (a lone surrogate, a
 * NUL: an exception's message can hold anything) as its ascii(). */
static const char *error_text(request_rec *r, PyObject *err)
{
    const char *s = mp_str_to_c(r->pool, err, "last_error", 0);
    PyObject *a;
    const char *u;

    if (s || !PyErr_ExceptionMatches(PyExc_ValueError))
        return s;   /* UnicodeEncodeError is a ValueError */
    PyErr_Clear();
    if (!(a = PyObject_ASCII(err)))
        return NULL;
    if ((u = PyUnicode_AsUTF8(a)))
        s = apr_pstrdup(r->pool, u);
    Py_DECREF(a);
    return s;
}

/* One entry of modules(): path -> {file, generation, load_count, hits,
 * children, failed, last_error (newer importers), ...}. */
static int module_of(request_rec *r, PyObject *path, PyObject *info, st_module *m)
{
    PyObject *kids, *failed, *err;

    memset(m, 0, sizeof(*m));
    if (!PyDict_Check(info)) {
        PyErr_Format(PyExc_TypeError, "modules(): info is a %s, not a dict",
                     Py_TYPE(info)->tp_name);
        return -1;
    }
    if (!(m->path = mp_str_to_c(r->pool, path, "module path", 0)) ||
        info_ulong(info, "generation", &m->generation) < 0 ||
        info_ulong(info, "load_count", &m->loads) < 0 ||
        info_ulong(info, "hits", &m->hits) < 0)
        return -1;
    if ((kids = info_get(info, "children")) && (m->children = PyObject_Size(kids)) < 0)
        return -1;
    if ((failed = info_get(info, "failed")) && (m->failed = PyObject_IsTrue(failed)) < 0)
        return -1;
    err = info_get(info, "last_error");
    if (err && err != Py_None && !(m->last_error = error_text(r, err)))
        return -1;
    return 0;
}

/* The importer's `watcher` ("inotify", "stat"), or NULL: an importer
 * without one says nothing. */
static const char *watcher_of(request_rec *r, PyObject *imp, const char *interp)
{
    PyObject *w = PyObject_GetAttrString(imp, "watcher");
    const char *s = NULL;

    if (w && w != Py_None && !(s = mp_str_to_c(r->pool, w, "watcher", 1)))
        log_skip(r, interp, "its watcher");
    else if (!w && PyErr_ExceptionMatches(PyExc_AttributeError))
        PyErr_Clear();
    else if (!w)
        log_skip(r, interp, "its watcher");
    Py_XDECREF(w);
    return s;
}

/* `in` entered: its modules into si->modules (left NULL if modules()
 * fails); a module that cannot be read is logged and left out. */
static void read_modules(request_rec *r, mp_interp *in, st_interp *si)
{
    PyObject *imp = mp_pystate_of(in)->importer, *mods, *k, *v;
    Py_ssize_t pos = 0;

    si->watcher = watcher_of(r, imp, si->name);
    mods = PyObject_CallMethod(imp, "modules", NULL);
    if (mods && !PyDict_Check(mods)) {
        PyErr_Format(PyExc_TypeError, "modules() returned a %s, not a dict",
                     Py_TYPE(mods)->tp_name);
        Py_CLEAR(mods);
    }
    if (!mods) {
        log_skip(r, si->name, "its importer");
        return;
    }
    si->modules = apr_array_make(r->pool, (int)PyDict_GET_SIZE(mods) + 1,
                                 sizeof(st_module));
    while (PyDict_Next(mods, &pos, &k, &v)) {
        if (module_of(r, k, v, apr_array_push(si->modules)) < 0) {
            apr_array_pop(si->modules);
            log_skip(r, si->name, "a module");
        }
    }
    Py_DECREF(mods);
}

static void read_interp(request_rec *r, mp_interp *in, st_interp *si)
{
    mp_context ctx = { r, r->server, NULL, NULL, NULL };

    memset(si, 0, sizeof(*si));
    si->name = in->name;   /* lives as long as the process */
    si->gil = mp_interp_gil_name(in);
    /* By name: the one way in; it is found, never made. */
    if (!mp_interp_enter(in->name, NULL, &ctx))
        return;   /* logged */
    read_modules(r, in, si);
    mp_interp_leave(in);
}

/* ------------------------------------------------ the page (no GIL) */

static int by_path(const void *a, const void *b)
{
    return strcmp(((const st_module *)a)->path, ((const st_module *)b)->path);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_interp *)a)->name, ((const st_interp *)b)->name);
}

static void read_page(request_rec *r, st_page *pg)
{
    memset(pg, 0, sizeof(*pg));
    pg->interps = apr_array_make(r->pool, 4, sizeof(st_interp));
    for (mp_interp *in = mp_interp_first(); in; in = in->next)
        if (!in->broken && !__atomic_load_n(&in->replaced, __ATOMIC_ACQUIRE))
            read_interp(r, in, apr_array_push(pg->interps));
    qsort(pg->interps->elts, pg->interps->nelts, sizeof(st_interp), by_name);
    for (int i = 0; i < pg->interps->nelts; i++) {
        apr_array_header_t *mods = APR_ARRAY_IDX(pg->interps, i, st_interp).modules;
        if (!mods)
            continue;
        pg->read++;
        qsort(mods->elts, mods->nelts, sizeof(st_module), by_path);
        for (int j = 0; j < mods->nelts; j++) {
            const st_module *m = &APR_ARRAY_IDX(mods, j, st_module);
            pg->modules++;
            pg->loads += m->loads;
            pg->hits += m->hits;
            pg->failed += m->failed;
        }
    }
}

/* `s` for the ?auto form: '%', control characters and, with `space`,
 * spaces as %XX, so that a record stays one line and a field one word. */
static const char *auto_text(apr_pool_t *p, const char *s, int space)
{
    const unsigned char *c;
    size_t n = 1;
    char *out, *o;

#define MP_AUTO_ESC(ch) ((ch) < 0x20 || (ch) == 0x7f || (ch) == '%' || (space && (ch) == ' '))
    for (c = (const unsigned char *)s; *c; c++)
        n += MP_AUTO_ESC(*c) ? 3 : 1;
    o = out = apr_palloc(p, n);
    for (c = (const unsigned char *)s; *c; c++) {
        if (MP_AUTO_ESC(*c))
            o += apr_snprintf(o, 4, "%%%02X", *c);
        else
            *o++ = (char)*c;
    }
#undef MP_AUTO_ESC
    *o = '\0';
    return out;
}

static void render_auto(request_rec *r, const st_page *pg)
{
    ap_rprintf(r, "PythonPid: %" APR_PID_T_FMT "\nPythonInterpreters: %d\n"
               "PythonModules: %ld\nPythonLoads: %lu\nPythonHits: %lu\nPythonFailed: %ld\n",
               getpid(), pg->read, pg->modules, pg->loads, pg->hits, pg->failed);
    for (int i = 0; i < pg->interps->nelts; i++) {
        const st_interp *si = &APR_ARRAY_IDX(pg->interps, i, st_interp);
        const char *name = auto_text(r->pool, si->name, 1);
        if (!si->modules)
            continue;
        ap_rprintf(r, "PythonInterpreter: name=%s modules=%d watcher=%s gil=%s\n", name,
                   si->modules->nelts, si->watcher ? auto_text(r->pool, si->watcher, 1) : "-",
                   si->gil);
        for (int j = 0; j < si->modules->nelts; j++) {
            const st_module *m = &APR_ARRAY_IDX(si->modules, j, st_module);
            ap_rprintf(r, "PythonModule: interp=%s generation=%lu loads=%lu hits=%lu "
                       "children=%ld failed=%d path=%s\n", name, m->generation, m->loads,
                       m->hits, (long)m->children, m->failed, auto_text(r->pool, m->path, 0));
        }
    }
}

/* The last-error cell of a module: its error, escaped; "failed" when the
 * importer gives none. */
static const char *error_html(request_rec *r, const st_module *m)
{
    if (m->last_error)
        return ap_escape_html(r->pool, m->last_error);
    return m->failed ? "failed" : "";
}

static void render_table(request_rec *r, const apr_array_header_t *mods)
{
    ap_rputs("<table border=\"0\"><tr><th>File</th><th>Generation</th><th>Loads</th>"
             "<th>Hits</th><th>Children</th><th>Last error</th></tr>\n", r);
    for (int j = 0; j < mods->nelts; j++) {
        const st_module *m = &APR_ARRAY_IDX(mods, j, st_module);
        ap_rprintf(r, "<tr><td>%s</td><td>%lu</td><td>%lu</td><td>%lu</td><td>%ld</td>"
                   "<td>%s</td></tr>\n", ap_escape_html(r->pool, m->path), m->generation,
                   m->loads, m->hits, (long)m->children, error_html(r, m));
    }
    ap_rputs("</table>\n", r);
}

/* ?notable: the same facts, a definition list instead of a table. */
static void render_list(request_rec *r, const apr_array_header_t *mods)
{
    ap_rputs("<dl>\n", r);
    for (int j = 0; j < mods->nelts; j++) {
        const st_module *m = &APR_ARRAY_IDX(mods, j, st_module);
        const char *err = error_html(r, m);
        ap_rprintf(r, "<dt>%s</dt><dd>generation %lu, loads %lu, hits %lu, children %ld%s%s"
                   "</dd>\n", ap_escape_html(r->pool, m->path), m->generation, m->loads,
                   m->hits, (long)m->children, *err ? ", last error: " : "", err);
    }
    ap_rputs("</dl>\n", r);
}

static void render_html(request_rec *r, const st_page *pg, int notable)
{
    ap_rprintf(r, "<hr />\n<h2>mod_python</h2>\n<p>Process %" APR_PID_T_FMT
               " (the one serving this page): %d interpreters, %ld modules cached, "
               "%lu loads, %lu hits, %ld failed.</p>\n", getpid(), pg->read,
               pg->modules, pg->loads, pg->hits, pg->failed);
    for (int i = 0; i < pg->interps->nelts; i++) {
        const st_interp *si = &APR_ARRAY_IDX(pg->interps, i, st_interp);
        ap_rprintf(r, "<h3>Interpreter %s (%s GIL)</h3>\n",
                   ap_escape_html(r->pool, si->name), si->gil);
        if (!si->modules) {
            ap_rputs("<p>Its modules could not be read (see the error log).</p>\n", r);
            continue;
        }
        ap_rprintf(r, "<p>%d modules cached%s%s.</p>\n", si->modules->nelts,
                   si->watcher ? "; file changes seen by " : "",
                   si->watcher ? ap_escape_html(r->pool, si->watcher) : "");
        if (si->modules->nelts)
            (notable ? render_list : render_table)(r, si->modules);
    }
}

static int status_section(request_rec *r, int flags)
{
    st_page pg;

    read_page(r, &pg);
    if (flags & AP_STATUS_SHORT)
        render_auto(r, &pg);
    else
        render_html(r, &pg, flags & AP_STATUS_NOTABLE);
    return OK;
}

void mp_status_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL, APR_HOOK_MIDDLE);
}
