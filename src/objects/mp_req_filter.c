/* Filters a request sets up for itself: req.register_*_filter() names a
 * Python filter for this request only, req.add_*_filter() puts it (or any
 * filter httpd knows, DEFLATE say) in the request's chain.  The Python
 * ones run in httpd's MOD_PYTHON filter (httpd/mp_filter.c), their state
 * given as its context. */
#include "objects/mp_req_filter.h"
#include "objects/mp_filter.h"
#include "objects/mp_req_http.h"

/* r->pool's: the filters the request registered, by name as given, per
 * direction (MP_FILTER_OUT/IN): mp_handler *. */
#define MP_REQ_FILTERS_KEY "mod_python.req_filters"

static apr_hash_t *registered(request_rec *r, int input, int make)
{
    apr_hash_t **t = NULL;

    apr_pool_userdata_get((void **)&t, MP_REQ_FILTERS_KEY, r->pool);
    if (!t && make) {
        t = apr_pcalloc(r->pool, 2 * sizeof(*t));
        apr_pool_userdata_setn(t, MP_REQ_FILTERS_KEY, NULL, r->pool);
    }
    if (t && !t[input] && make)
        t[input] = apr_hash_make(r->pool);
    return t ? t[input] : NULL;
}

/* dir as a directory with a trailing '/' (canonical when it exists); none
 * given: the directory of the handler calling, where its modules are. */
static const char *filter_dir(request_rec *r, const char *dir)
{
    mp_context *ctx = mp_context_current();
    char *canon;

    if (!dir)
        return ctx && ctx->handler_dir ? apr_pstrdup(r->pool, ctx->handler_dir) : NULL;
    if (apr_filepath_merge(&canon, NULL, dir, APR_FILEPATH_TRUENAME, r->pool) != APR_SUCCESS)
        canon = apr_pstrdup(r->pool, dir);
    return *canon && canon[strlen(canon) - 1] == '/' ? canon
                                                     : apr_pstrcat(r->pool, canon, "/", NULL);
}

static PyObject *register_filter(PyObject *self, PyObject *args, int input)
{
    const char *name, *spec, *dir = NULL;
    request_rec *r = mp_request_rec(self);
    mp_handler *h;

    if (!r || !PyArg_ParseTuple(args, input ? "ss|z:register_input_filter"
                                            : "ss|z:register_output_filter", &name, &spec, &dir))
        return NULL;
    if (!*name)
        return PyErr_Format(PyExc_ValueError, "empty filter name");
    h = apr_pcalloc(r->pool, sizeof(*h));
    h->spec = apr_pstrdup(r->pool, spec);
    if (mp_parse_handler_spec(r->pool, h->spec, input ? "inputfilter" : "outputfilter",
                              &h->module, &h->object) < 0)
        return PyErr_Format(PyExc_ValueError, "invalid handler '%s' (expected "
                            "module[::object])", spec);
    h->directory = filter_dir(r, dir);
    apr_hash_set(registered(r, input, 1), apr_pstrdup(r->pool, name), APR_HASH_KEY_STRING, h);
    Py_RETURN_NONE;
}

PyObject *mp_req_register_input_filter(PyObject *self, PyObject *args)
{
    return register_filter(self, args, MP_FILTER_IN);
}

PyObject *mp_req_register_output_filter(PyObject *self, PyObject *args)
{
    return register_filter(self, args, MP_FILTER_OUT);
}

/* A filter this request registered goes in as MOD_PYTHON with its state;
 * any other name must be one httpd knows (3.5 let an unknown name pass
 * unnoticed, but for httpd's error log line). */
static PyObject *add_filter(PyObject *self, PyObject *args, int input)
{
    const char *name;
    request_rec *r = mp_request_rec(self);
    apr_hash_t *reg;
    const mp_handler *h = NULL;
    ap_filter_rec_t *frec;
    void *ctx = NULL;

    if (!r || !PyArg_ParseTuple(args, input ? "s:add_input_filter" : "s:add_output_filter",
                                &name))
        return NULL;
    if ((reg = registered(r, input, 0)))
        h = apr_hash_get(reg, name, APR_HASH_KEY_STRING);
    if (h)
        ctx = mp_filter_state_new(r, h, apr_pstrdup(r->pool, name), input);
    frec = input ? ap_get_input_filter_handle(h ? MP_FILTER_GENERIC : name)
                 : ap_get_output_filter_handle(h ? MP_FILTER_GENERIC : name);
    if (!frec)
        return PyErr_Format(PyExc_ValueError, "no %s filter named '%s' (neither "
                            "registered by this request nor known to httpd)",
                            input ? "input" : "output", name);
    if (input)
        ap_add_input_filter_handle(frec, ctx, r, r->connection);
    else
        ap_add_output_filter_handle(frec, ctx, r, r->connection);
    Py_RETURN_NONE;
}

PyObject *mp_req_add_input_filter(PyObject *self, PyObject *args)
{
    return add_filter(self, args, MP_FILTER_IN);
}

PyObject *mp_req_add_output_filter(PyObject *self, PyObject *args)
{
    return add_filter(self, args, MP_FILTER_OUT);
}
