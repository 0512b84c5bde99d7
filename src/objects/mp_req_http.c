/* The request object's HTTP helpers: mod_python 3.5's methods over httpd's
 * protocol functions (authentication, conditional requests, validators,
 * the client's host name, allowed methods, mod_ssl's variables).  Calls
 * that may read from the client or the DNS give the GIL up. */
#include "objects/mp_req_http.h"

#include "http_core.h"
#include "mod_ssl.h"
#include "util_script.h"

PyObject *mp_req_auth_type(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    return r ? mp_str_from_c(ap_auth_type(r)) : NULL;
}

PyObject *mp_req_auth_name(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    return r ? mp_str_from_c(ap_auth_name(r)) : NULL;
}

PyObject *mp_req_get_basic_auth_pw(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    const char *pw = NULL;

    if (!r)
        return NULL;
    /* Not OK (no AuthType Basic, no or a malformed Authorization header):
     * None, as in 3.5; httpd has set the 401's WWW-Authenticate. */
    if (ap_get_basic_auth_pw(r, &pw) != OK)
        Py_RETURN_NONE;
    return mp_str_from_c(pw);
}

PyObject *mp_req_discard_request_body(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    mp_interp *in;
    int rc;

    if (!r)
        return NULL;
    in = mp_interp_suspend();
    rc = ap_discard_request_body(r);
    mp_interp_resume(in);
    return PyLong_FromLong(rc);
}

PyObject *mp_req_meets_conditions(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    return r ? PyLong_FromLong(ap_meets_conditions(r)) : NULL;
}

PyObject *mp_req_set_etag(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);

    if (!r)
        return NULL;
    ap_set_etag(r);
    Py_RETURN_NONE;
}

PyObject *mp_req_set_last_modified(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);

    if (!r)
        return NULL;
    ap_set_last_modified(r);
    Py_RETURN_NONE;
}

PyObject *mp_req_update_mtime(PyObject *self, PyObject *mtime)
{
    request_rec *r = mp_request_rec(self);
    double t;

    if (!r || ((t = PyFloat_AsDouble(mtime)) == -1.0 && PyErr_Occurred()))
        return NULL;
    if (!(t >= 0 && t < 1e13)) {   /* NaN too */
        PyErr_Format(PyExc_ValueError, "update_mtime: %R is not a time in seconds", mtime);
        return NULL;
    }
    ap_update_mtime(r, (apr_time_t)(t * APR_USEC_PER_SEC));
    Py_RETURN_NONE;
}

PyObject *mp_req_is_https(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    APR_OPTIONAL_FN_TYPE(ssl_is_https) *is_https;

    if (!r)
        return NULL;
    /* looked up per call: mod_ssl may come and go with a restart */
    is_https = APR_RETRIEVE_OPTIONAL_FN(ssl_is_https);
    return PyLong_FromLong(is_https && is_https(r->connection));
}

PyObject *mp_req_ssl_var_lookup(PyObject *self, PyObject *args)
{
    request_rec *r = mp_request_rec(self);
    APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *lookup;
    const char *name;
    char *v;

    if (!r || !PyArg_ParseTuple(args, "s:ssl_var_lookup", &name))
        return NULL;
    if (!(lookup = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup)))
        Py_RETURN_NONE;
    v = lookup(r->pool, r->server, r->connection, r, (char *)name);
    return mp_str_from_c(v && *v ? v : NULL);
}

/* get_remote_host([type[, str_is_ip]]): the client's host name by
 * REMOTE_HOST/NAME/NOLOOKUP/DOUBLE_REV (mod_remoteip's client if it set
 * one); with str_is_ip given (not None), (host, whether it is an IP). */
PyObject *mp_req_get_remote_host(PyObject *self, PyObject *args)
{
    request_rec *r = mp_request_rec(self);
    int type = REMOTE_NAME, is_ip = 0;
    PyObject *want_ip = Py_None, *host;
    const char *h;
    mp_interp *in;

    if (!r || !PyArg_ParseTuple(args, "|iO:get_remote_host", &type, &want_ip))
        return NULL;
    if (type < REMOTE_HOST || type > REMOTE_DOUBLE_REV) {
        PyErr_Format(PyExc_ValueError, "get_remote_host: unknown type %d", type);
        return NULL;
    }
    in = mp_interp_suspend();   /* may ask the DNS */
    h = ap_get_useragent_host(r, type, want_ip != Py_None ? &is_ip : NULL);
    mp_interp_resume(in);
    if (want_ip == Py_None)
        return mp_str_from_c(h);
    if (!(host = mp_str_from_c(h)))
        return NULL;
    return Py_BuildValue("(Ni)", host, is_ip);
}

PyObject *mp_req_allow_methods(PyObject *self, PyObject *args)
{
    request_rec *r = mp_request_rec(self);
    PyObject *methods, *seq, *m;
    int reset = 0;
    const char *name;

    if (!r || !PyArg_ParseTuple(args, "O|i:allow_methods", &methods, &reset))
        return NULL;
    if (!(seq = PySequence_Fast(methods, "allow_methods: methods must be a sequence")))
        return NULL;
    if (reset) {
        ap_clear_method_list(r->allowed_methods);
        r->allowed = 0;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        m = PySequence_Fast_GET_ITEM(seq, i);
        if (!(name = mp_str_to_c(r->pool, m, "method", 1))) {
            Py_DECREF(seq);
            return NULL;
        }
        ap_method_list_add(r->allowed_methods, name);
    }
    Py_DECREF(seq);
    Py_RETURN_NONE;
}

PyObject *mp_req_send_http_header(PyObject *self, PyObject *unused)
{
    return mp_request_rec(self) ? Py_NewRef(Py_None) : NULL;
}

/* ------------------------------------------------------------ attributes */

PyObject *mp_req_get_related(PyObject *self, void *which)
{
    request_rec *r = mp_request_rec(self), *rel;
    PyObject *o;

    if (!r)
        return NULL;
    rel = which == (void *)MP_REL_NEXT ? r->next
        : which == (void *)MP_REL_PREV ? r->prev : r->main;
    if (!rel)
        Py_RETURN_NONE;
    /* its own object in this interpreter, served by this thread too */
    if (!(o = mp_request_of(rel, mp_interp_current())))
        return NULL;
    return Py_NewRef(o);
}

/* The port is None when the URI named none, as in 3.5. */
PyObject *mp_req_get_parsed_uri(PyObject *self, void *unused)
{
    request_rec *r = mp_request_rec(self);
    const apr_uri_t *u;
    PyObject *port;

    if (!r)
        return NULL;
    u = &r->parsed_uri;
    port = u->port_str ? PyLong_FromLong(u->port) : Py_NewRef(Py_None);
    if (!port)
        return NULL;
    return Py_BuildValue("(NNNNNNNNN)", mp_str_from_c(u->scheme),
                         mp_str_from_c(u->hostinfo), mp_str_from_c(u->user),
                         mp_str_from_c(u->password), mp_str_from_c(u->hostname), port,
                         mp_str_from_c(u->path), mp_str_from_c(u->query),
                         mp_str_from_c(u->fragment));
}

static PyObject *strings_tuple(const apr_array_header_t *a)
{
    PyObject *t;

    if (!a)
        Py_RETURN_NONE;
    if (!(t = PyTuple_New(a->nelts)))
        return NULL;
    for (int i = 0; i < a->nelts; i++) {
        PyObject *s = mp_str_from_c(APR_ARRAY_IDX(a, i, const char *));
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

PyObject *mp_req_get_strings(PyObject *self, void *which)
{
    request_rec *r = mp_request_rec(self);

    if (!r)
        return NULL;
    switch ((intptr_t)which) {
    case MP_STRS_CONTENT_LANGUAGES: return strings_tuple(r->content_languages);
    case MP_STRS_ALLOWED_XMETHODS: return strings_tuple(r->allowed_xmethods);
    default:
        return strings_tuple(r->allowed_methods ? r->allowed_methods->method_list : NULL);
    }
}

PyObject *mp_req_get_useragent_addr(PyObject *self, void *unused)
{
    request_rec *r = mp_request_rec(self);

    if (!r)
        return NULL;
    if (!r->useragent_addr)
        Py_RETURN_NONE;
    return Py_BuildValue("(Ni)", mp_str_from_c(r->useragent_ip),
                         (int)r->useragent_addr->port);
}

/* ------------------------------------------------------------ httpd's helpers */

PyObject *mp_req_internal_redirect(PyObject *self, PyObject *args)
{
    PyObject *o;
    const char *uri;
    request_rec *r = mp_request_rec(self);
    mp_interp *in;

    if (!r || !PyArg_ParseTuple(args, "O:internal_redirect", &o) ||
        !(uri = mp_str_to_c(r->pool, o, "internal_redirect uri", 1)))
        return NULL;
    in = mp_interp_suspend();
    ap_internal_redirect(uri, r);
    mp_interp_resume(in);
    Py_RETURN_NONE;
}

PyObject *mp_req_document_root(PyObject *self, PyObject *u)
{
    request_rec *r = mp_request_rec(self);
    return r ? mp_str_from_c(ap_document_root(r)) : NULL;
}

PyObject *mp_req_construct_url(PyObject *self, PyObject *args)
{
    const char *uri;
    request_rec *r = mp_request_rec(self);

    if (!r || !PyArg_ParseTuple(args, "s:construct_url", &uri))
        return NULL;
    return mp_str_from_c(ap_construct_url(r->pool, uri, r));
}

PyObject *mp_req_set_content_length(PyObject *self, PyObject *n_obj)
{
    long long n;
    request_rec *r = mp_request_rec(self);

    if (!r || ((n = PyLong_AsLongLong(n_obj)) == -1 && PyErr_Occurred()))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "content length must not be negative");
        return NULL;
    }
    ap_set_content_length(r, (apr_off_t)n);
    Py_RETURN_NONE;
}

PyObject *mp_req_add_common_vars(PyObject *self, PyObject *u)
{
    request_rec *r = mp_request_rec(self);

    if (!r)
        return NULL;
    ap_add_common_vars(r);
    Py_RETURN_NONE;
}

PyObject *mp_req_add_cgi_vars(PyObject *self, PyObject *u)
{
    request_rec *r = mp_request_rec(self);

    if (!r)
        return NULL;
    ap_add_cgi_vars(r);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ AddHandler */

/* What get_addhandler_exts() reads of mod_mime's per-directory
 * configuration.  mod_mime has no API for its extension map, so this
 * relies on the layout httpd 2.4 has kept since 2.0 (as mod_python 3.5
 * did): the map is the first member, and the handler the fourth string
 * of an entry. */
typedef struct {
    apr_hash_t *extension_mappings;   /* extension (lower case, no dot) -> info */
} mime_dir_config_head;

typedef struct {
    char *forced_type, *encoding_type, *language_type;
    char *handler;                    /* AddHandler */
} mime_extension_info_head;

static int is_python_handler(const char *h)
{
    return h && (!strcasecmp(h, "mod_python") || !strcasecmp(h, "python-program"));
}

/* req.get_addhandler_exts(): the extensions AddHandler maps to mod_python
 * in the request's directory, "py psp" (the publisher strips them). */
PyObject *mp_req_get_addhandler_exts(PyObject *self, PyObject *unused)
{
    request_rec *r = mp_request_rec(self);
    module *mime = ap_find_linked_module("mod_mime.c");
    const mime_dir_config_head *mc;
    apr_array_header_t *exts;

    if (!r)
        return NULL;
    mc = mime ? ap_get_module_config(r->per_dir_config, mime) : NULL;
    exts = apr_array_make(r->pool, 4, sizeof(const char *));
    for (apr_hash_index_t *hi = mc && mc->extension_mappings
                                ? apr_hash_first(r->pool, mc->extension_mappings) : NULL;
         hi; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;
        apr_hash_this(hi, &key, NULL, &val);
        if (is_python_handler(((const mime_extension_info_head *)val)->handler))
            APR_ARRAY_PUSH(exts, const char *) = key;
    }
    return mp_str_from_c(apr_array_pstrcat(r->pool, exts, ' '));
}
