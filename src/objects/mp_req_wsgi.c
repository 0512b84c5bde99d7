/* The request object's WSGI helpers (PEP 3333) and small members of
 * mod_python 3.5: build_wsgi_env(), wsgi_start_response(), iteration over
 * the body's lines (the request is wsgi.input), _bytes_queued,
 * _content_type_set, _request_rec.
 *
 * Text in the environ and in start_response() is PEP 3333's "native
 * strings": str whose code points are the bytes (Latin-1), so that
 * environ['PATH_INFO'].encode('latin-1') gives the bytes httpd has.  The
 * rest of the request object decodes UTF-8 (mp_text.c); WSGI applications
 * and frameworks expect Latin-1 here. */
#include "objects/mp_req_wsgi.h"
#include "objects/mp_req_http.h"

#include "ap_mpm.h"
#include "apr_lib.h"
#include "http_core.h"
#include "util_script.h"

#define OPT_BASE_URI "mod_python.wsgi.base_uri"

/* ------------------------------------------------------------ environ */

/* Bytes from httpd as a native string; NULL as "". */
static PyObject *native_str(const char *s)
{
    return PyUnicode_DecodeLatin1(s ? s : "", s ? (Py_ssize_t)strlen(s) : 0, NULL);
}

/* The base URI of the <Location> the handlers of the phase being run
 * (PythonHandler when none is) are configured in, or NULL. */
static const char *phase_base_uri(const mp_dir_config *c, PyObject *self)
{
    PyObject *phase = PyObject_GetAttrString(self, "phase");
    const apr_array_header_t *l;
    const char *name;
    int i = MP_HANDLER;

    if (phase && PyUnicode_Check(phase) && (name = PyUnicode_AsUTF8(phase)))
        for (int j = 0; j < MP_NPHASES; j++)
            if (!strcmp(name, mp_phases[j].directive))
                i = j;
    PyErr_Clear();   /* no phase: PythonHandler's */
    Py_XDECREF(phase);
    l = c->handlers[i];
    return l && l->nelts ? APR_ARRAY_IDX(l, 0, mp_handler).base_uri : NULL;
}

/* Where the application is mounted (SCRIPT_NAME), 3.5's rule: PythonOption
 * mod_python.wsgi.base_uri when it is set (empty: the root), else the
 * handler's <Location> without a trailing '/', else the root ("").  NULL
 * with ValueError for a base_uri ending in '/'. */
static const char *wsgi_base(request_rec *r, PyObject *self)
{
    const char *base = apr_table_get(mp_dir_conf(r)->options, OPT_BASE_URI);

    if (base && *base && base[strlen(base) - 1] == '/') {
        PyErr_Format(PyExc_ValueError, "PythonOption '" OPT_BASE_URI "' ('%s') "
                     "must not end with '/'", base);
        return NULL;
    }
    if (!base)
        base = phase_base_uri(mp_dir_conf(r), self);
    return base ? base : "";
}

/* Where PATH_INFO starts in `uri`: after `base` when the URI is under it
 * (equal to it, or followed by '/'); -1 when it is not. */
static apr_ssize_t split_at(const char *uri, const char *base)
{
    size_t n = strlen(base);

    if (strncmp(uri, base, n) || (uri[n] && uri[n] != '/'))
        return -1;
    return (apr_ssize_t)n;
}

/* REQUEST_URI as ap_add_cgi_vars() gives it: the URI of the request line,
 * or r->uri with `CGIVar REQUEST_URI current-uri`. */
static const char *request_uri(request_rec *r)
{
    core_dir_config *conf = ap_get_core_module_config(r->per_dir_config);
    const char *rule = conf->cgi_var_rules ? apr_hash_get(conf->cgi_var_rules,
                                             "REQUEST_URI", APR_HASH_KEY_STRING) : NULL;
    const char *s = r->the_request, *e;

    if (!s || (rule && !strcmp(rule, "current-uri")))
        return r->uri;
    while (*s && !apr_isspace(*s))
        s++;   /* the method */
    while (apr_isspace(*s))
        s++;
    for (e = s; *e && !apr_isspace(*e); e++)
        ;
    return apr_pstrmemdup(r->pool, s, e - s);
}

/* The CGI variables into subprocess_env, and r->path_info, with the URI
 * split at `at` into SCRIPT_NAME and PATH_INFO (3.5 left them there too).
 * ap_add_cgi_vars() is not used: its PATH_TRANSLATED is a subrequest,
 * which would run the Python handlers of its phases. */
static void add_cgi_vars(request_rec *r, apr_ssize_t at)
{
    apr_table_t *e = r->subprocess_env;
    mp_interp *in;

    r->path_info = apr_pstrdup(r->pool, r->uri + at);
    apr_table_setn(e, "GATEWAY_INTERFACE", "CGI/1.1");
    apr_table_setn(e, "SERVER_PROTOCOL", r->protocol);
    apr_table_setn(e, "REQUEST_METHOD", r->method);
    apr_table_setn(e, "QUERY_STRING", r->args ? r->args : "");
    apr_table_setn(e, "REQUEST_URI", request_uri(r));
    apr_table_setn(e, "SCRIPT_NAME", apr_pstrmemdup(r->pool, r->uri, at));
    apr_table_setn(e, "PATH_INFO", r->path_info);
    in = mp_interp_suspend();   /* REMOTE_HOST may ask the DNS */
    ap_add_common_vars(r);
    mp_interp_resume(in);
}

/* Every variable of `t` into `env`; the first of a repeated name wins, as
 * apr_table_get() has it. */
static int env_from_table(PyObject *env, const apr_table_t *t)
{
    const apr_array_header_t *a = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;

    for (int i = 0; i < a->nelts; i++) {
        PyObject *k, *v;
        int rc;

        if (!e[i].key)
            continue;
        k = native_str(e[i].key);
        v = k ? native_str(e[i].val) : NULL;
        rc = v && PyDict_SetDefault(env, k, v) ? 0 : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The wsgi.* keys, and HTTP_AUTHORIZATION, which ap_add_common_vars()
 * leaves out and 3.5 put in. */
static int env_add_wsgi(PyObject *env, PyObject *self, request_rec *r)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    const char *scheme = ap_http_scheme(r);
    PyObject *errors = PySys_GetObject("stderr");   /* borrowed */
    int threaded = 0, forked = 0, rc;
    PyObject *w, *v;

    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    ap_mpm_query(AP_MPMQ_IS_FORKED, &forked);
    w = Py_BuildValue("{s:O,s:O,s:(ii),s:O,s:O,s:O,s:s}",
                      "wsgi.input", self, "wsgi.errors", errors ? errors : Py_None,
                      "wsgi.version", 1, 0,
                      "wsgi.multithread", threaded != AP_MPMQ_NOT_SUPPORTED ? Py_True : Py_False,
                      "wsgi.multiprocess", forked != AP_MPMQ_NOT_SUPPORTED ? Py_True : Py_False,
                      "wsgi.run_once", Py_False,
                      "wsgi.url_scheme", scheme && !strcmp(scheme, "https") ? "https" : "http");
    if (!w)
        return -1;
    rc = PyDict_Update(env, w);
    Py_DECREF(w);
    if (rc < 0 || !auth)
        return rc;
    if (!(v = native_str(auth)))
        return -1;
    rc = PyDict_SetItemString(env, "HTTP_AUTHORIZATION", v);
    Py_DECREF(v);
    return rc;
}

PyObject *mp_req_build_wsgi_env(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    const char *base;
    apr_ssize_t at;
    PyObject *env;

    if (!r || !(base = wsgi_base(r, self)))
        return NULL;
    /* Not under the base URI: None, and mod_python.wsgi declines. */
    if ((at = split_at(r->uri, base)) < 0)
        Py_RETURN_NONE;
    add_cgi_vars(r, at);
    if (!(env = PyDict_New()))
        return NULL;
    if (env_from_table(env, r->subprocess_env) < 0 || env_add_wsgi(env, self, r) < 0)
        Py_CLEAR(env);
    return env;
}

/* ------------------------------------------------------------ start_response */

typedef struct {
    const char *name, *value;
    apr_off_t length;        /* of a Content-Length */
} wsgi_header;

/* A native string for the response, as the bytes it stands for: without
 * control characters (CR and LF would split the header); NULL with
 * TypeError, UnicodeEncodeError (not Latin-1) or ValueError. */
static const char *native_to_c(apr_pool_t *p, PyObject *o, const char *what)
{
    PyObject *b;
    const char *s = NULL;

    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what,
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    if (!(b = PyUnicode_AsLatin1String(o)))
        return NULL;
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(b); i++) {
        unsigned char c = (unsigned char)PyBytes_AS_STRING(b)[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            PyErr_Format(PyExc_ValueError, "%s %R contains a control character", what, o);
            goto done;
        }
    }
    s = apr_pstrmemdup(p, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
done:
    Py_DECREF(b);
    return s;
}

/* "200 OK": the code, and the line for r->status_line (NULL for a bare
 * "200": httpd writes the reason).  -1 with an exception. */
static int parse_status(apr_pool_t *p, PyObject *o, int *code, const char **line)
{
    const char *s = native_to_c(p, o, "status");

    if (!s)
        return -1;
    if (!(s[0] >= '1' && s[0] <= '9' && apr_isdigit(s[1]) && apr_isdigit(s[2]) &&
          (s[3] == ' ' || !s[3]))) {
        PyErr_Format(PyExc_ValueError, "status %R is not a 3-digit code and a "
                     "reason, as '200 OK'", o);
        return -1;
    }
    *code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    *line = s[3] ? s : NULL;
    return 0;
}

static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

/* One (name, value) of the headers list, checked; -1 with an exception. */
static int parse_header(apr_pool_t *p, PyObject *item, wsgi_header *h)
{
    char *end;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError, "headers must be (name, value) tuples, not %R", item);
        return -1;
    }
    if (!(h->name = native_to_c(p, PyTuple_GET_ITEM(item, 0), "header name")) ||
        !(h->value = native_to_c(p, PyTuple_GET_ITEM(item, 1), "header value")))
        return -1;
    if (!is_token(h->name)) {
        PyErr_Format(PyExc_ValueError, "header name %R is not an HTTP token",
                     PyTuple_GET_ITEM(item, 0));
        return -1;
    }
    if (strcasecmp(h->name, "Content-Length"))
        return 0;
    if (!apr_isdigit(*h->value) || apr_strtoff(&h->length, h->value, &end, 10) ||
        *end || h->length < 0) {
        PyErr_Format(PyExc_ValueError, "Content-Length %R is not a number of bytes",
                     PyTuple_GET_ITEM(item, 1));
        return -1;
    }
    return 0;
}

/* The headers list as an array of checked headers in `p`; NULL with an
 * exception. */
static wsgi_header *parse_headers(apr_pool_t *p, PyObject *headers, Py_ssize_t *n)
{
    PyObject *seq = PySequence_Fast(headers, "headers must be a list of (name, value) tuples");
    wsgi_header *h = NULL;

    if (!seq)
        return NULL;
    *n = PySequence_Fast_GET_SIZE(seq);
    h = apr_pcalloc(p, sizeof(*h) * (*n + 1));
    for (Py_ssize_t i = 0; i < *n; i++)
        if (parse_header(p, PySequence_Fast_GET_ITEM(seq, i), &h[i]) < 0) {
            h = NULL;
            break;
        }
    Py_DECREF(seq);
    return h;
}

/* headers_out and content_type as they were before the first call: a
 * call with exc_info replaces the response the first one began. */
static void response_restart(request_rec *r, mp_req_wsgi *w)
{
    const apr_array_header_t *a;
    const apr_table_entry_t *e;

    if (!w->started) {
        w->headers = apr_table_copy(r->pool, r->headers_out);
        w->content_type = r->content_type;
        return;
    }
    apr_table_clear(r->headers_out);
    a = apr_table_elts(w->headers);
    e = (const apr_table_entry_t *)a->elts;
    for (int i = 0; i < a->nelts; i++)
        if (e[i].key)
            apr_table_addn(r->headers_out, e[i].key, e[i].val);
    r->content_type = w->content_type;
}

static void response_set(request_rec *r, mp_req_wsgi *w, int code, const char *line,
                         const wsgi_header *h, Py_ssize_t n)
{
    response_restart(r, w);
    w->started = 1;
    r->status = code;
    r->status_line = line;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!strcasecmp(h[i].name, "Content-Type")) {
            ap_set_content_type(r, h[i].value);
            w->content_type_set = 1;
        } else if (!strcasecmp(h[i].name, "Content-Length")) {
            ap_set_content_length(r, h[i].length);
        } else {
            apr_table_addn(r->headers_out, h[i].name, h[i].value);
        }
    }
}

static int check_exc_info(PyObject *exc_info)
{
    if (PyTuple_Check(exc_info) && PyTuple_GET_SIZE(exc_info) == 3 &&
        PyExceptionClass_Check(PyTuple_GET_ITEM(exc_info, 0)))
        return 0;
    PyErr_Format(PyExc_TypeError, "exc_info must be a (type, value, traceback) "
                 "tuple, not %R", exc_info);
    return -1;
}

/* exc_info once the body has begun: raise it again (PEP 3333). */
static PyObject *reraise(PyObject *exc_info)
{
    PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1),
             *tb = PyTuple_GET_ITEM(exc_info, 2);

    if (!PyExceptionInstance_Check(v)) {   /* not from sys.exc_info() */
        PyErr_SetObject(t, v);
        return NULL;
    }
    if (tb != Py_None && PyException_SetTraceback(v, tb) < 0)
        return NULL;
    PyErr_SetRaisedException(Py_NewRef(v));
    return NULL;
}

PyObject *mp_req_wsgi_start_response(PyObject *self, PyObject *args)
{
    PyObject *status, *headers, *exc_info = Py_None;
    request_rec *r = mp_request_rec(self);
    mp_req_wsgi *w = mp_request_wsgi(self);
    const char *line;
    wsgi_header *h;
    Py_ssize_t n;
    int code;

    if (!r || !PyArg_ParseTuple(args, "OO|O:wsgi_start_response", &status, &headers,
                                &exc_info))
        return NULL;
    if (exc_info != Py_None && check_exc_info(exc_info) < 0)
        return NULL;
    /* the body has begun: what the client has is not to be replaced */
    if (exc_info != Py_None && (w->bytes_queued > 0 || r->sent_bodyct))
        return reraise(exc_info);
    if (exc_info == Py_None && w->started) {
        PyErr_SetString(PyExc_RuntimeError, "wsgi_start_response() called again "
                        "without exc_info");
        return NULL;
    }
    /* all checked before anything is set */
    if (parse_status(r->pool, status, &code, &line) < 0 ||
        !(h = parse_headers(r->pool, headers, &n)))
        return NULL;
    response_set(r, w, code, line, h, n);
    return PyObject_GetAttrString(self, "write");
}

/* ------------------------------------------------------------ members */

PyObject *mp_req_iternext(PyObject *self)
{
    PyObject *line = PyObject_CallMethod(self, "readline", NULL);

    if (line && PyBytes_Check(line) && !PyBytes_GET_SIZE(line))
        Py_CLEAR(line);   /* the end: StopIteration */
    return line;
}

/* Kept by the object, not httpd: readable after the request too. */
PyObject *mp_req_get_wsgi_int(PyObject *self, void *which)
{
    const mp_req_wsgi *w = mp_request_wsgi(self);

    if (which == (void *)MP_WSGI_BYTES_QUEUED)
        return PyLong_FromLongLong(w->bytes_queued);
    return PyLong_FromLong(w->content_type_set);
}

/* A capsule without a name, as 3.5's: PyCapsule_GetPointer(o, NULL).  The
 * pointer is good while the request lasts, in the thread serving it. */
PyObject *mp_req_get_request_rec(PyObject *self, void *unused)
{
    request_rec *r = mp_request_rec(self);
    return r ? PyCapsule_New(r, NULL, NULL) : NULL;
}
