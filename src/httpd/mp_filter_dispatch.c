/* Python input and output filters: httpd's filter functions for the names
 * PythonInputFilter / PythonOutputFilter register, and for MOD_PYTHON,
 * which carries the filters a request registers itself (req.add_*_filter).
 * Each call enters the interpreter, calls the handler with a filter object
 * (objects/mp_filter.c) and hands on what it wrote: the body goes through
 * in pieces, as httpd passes it, never held whole.
 *
 * What a filter does not read goes on unchanged; one that read part of
 * its input is called again for the rest.  One that read the end of the
 * stream and did not close() is closed.  A filter that raises is logged;
 * if nothing of the response went out yet, the client gets a 500, else
 * (as in 3.5) the filter is disabled and the rest passes through. */
#include "httpd/mp_httpd.h"
#include "objects/mp_filter.h"

#include "http_core.h"

APLOG_USE_MODULE(python);

static const char *directive(const mp_filter_state *fs)
{
    return fs->is_input ? "PythonInputFilter" : "PythonOutputFilter";
}

/* mod_filter's AddOutputFilterByType runs a filter under a harness named
 * after it: "BYTYPE:NAME" (other mod_filter harnesses hide the name). */
#define BYTYPE "bytype:"

/* The state of a configured filter at its first call: its handler in the
 * request's configuration, under httpd's name for it; NULL (logged) when
 * this section configures none. */
static mp_filter_state *state_for(ap_filter_t *f, int input)
{
    char *name;
    const mp_handler *h;

    if (!f->r)
        return NULL;
    name = apr_pstrdup(f->r->pool, f->frec->name);
    ap_str_tolower(name);
    if (!strncmp(name, BYTYPE, strlen(BYTYPE)))
        name += strlen(BYTYPE);
    if ((h = mp_filter_handler(mp_dir_conf(f->r), input, name)))
        return mp_filter_state_new(f->r, h, name, input);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r, MPLOG_FILTER_UNKNOWN
                  "%s %s is not configured for %s: the filter passes the data through",
                  input ? "PythonInputFilter" : "PythonOutputFilter", name, f->r->uri);
    return NULL;
}

/* ------------------------------------------------------ entering Python */

/* Enter the filter's interpreter.  This thread may be inside one already:
 * a handler's small unflushed req.write() keeps the GIL, and httpd passes
 * its buffer down the chain when it fills; that one is suspended
 * meanwhile (*outer) and resumed by leave(). */
static mp_interp *enter(request_rec *r, const mp_filter_state *fs, mp_context *ctx,
                        mp_interp **outer)
{
    const char *fallback, *name = mp_interp_name(r, mp_dir_conf(r), fs->h->directory,
                                                  &fallback);
    mp_interp *in;

    *outer = mp_interp_current() ? mp_interp_suspend() : NULL;
    if (!(in = mp_interp_enter(name, fallback, ctx)) && *outer) {
        mp_interp_resume(*outer);
        *outer = NULL;
    }
    return in;
}

static void leave(mp_interp *in, mp_interp *outer)
{
    mp_interp_leave(in);
    if (outer)
        mp_interp_resume(outer);
}

/* The request object, with PythonPath applied; NULL (logged) if not. */
static PyObject *prepare(mp_interp *in, request_rec *r, const mp_dir_config *c)
{
    PyObject *req = mp_request_of(r, in);

    if (!req) {
        mp_log_exception(MPLOG_FILTER_REQUEST, r, NULL,
                         "mod_python: cannot create the request object for a filter");
        return NULL;
    }
    return mp_pystate_apply_path(in, c->python_path, r, r->server) < 0 ? NULL : req;
}

/* ------------------------------------------------------ one call */

/* SERVER_RETURN's status, when a valid one, as req.status. */
static void set_status(request_rec *r, PyObject *st)
{
    int overflow = 0;
    long n = PyLong_Check(st) ? PyLong_AsLongAndOverflow(st, &overflow) : 0;

    if (!overflow && ap_is_HTTP_VALID_RESPONSE(n))
        r->status = (int)n;
}

/* apache.SERVER_RETURN from a filter is not an error (3.5): the status of
 * SERVER_RETURN((code, status)) sets req.status, the code is ignored as a
 * filter's result is.  0 if that is what was raised (cleared), else -1. */
static int server_return(mp_interp *in, request_rec *r)
{
    PyObject *exc, *args, *v;

    if (!PyErr_ExceptionMatches(mp_pystate_of(in)->server_return))
        return -1;
    exc = PyErr_GetRaisedException();
    args = exc ? PyObject_GetAttrString(exc, "args") : NULL;
    v = args && PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 1
        ? PyTuple_GET_ITEM(args, 0) : args;
    if (v && PyTuple_Check(v) && PyTuple_GET_SIZE(v) == 2)
        set_status(r, PyTuple_GET_ITEM(v, 1));
    PyErr_Clear();
    Py_XDECREF(args);
    Py_XDECREF(exc);
    return 0;
}

/* Call the handler once with a new filter object; its result is ignored,
 * as in 3.5.  -1 with the exception it raised. */
static int call_once(mp_interp *in, mp_filter_state *fs, PyObject *req, const mp_dir_config *c)
{
    mp_pystate *st = mp_pystate_of(in);
    PyObject *flt, *obj = NULL, *res = NULL;
    int ok;

    fs->progress = fs->fetched = 0;
    if (!(flt = mp_filter_new(st, fs, req)))
        return -1;
    if ((obj = mp_handler_object(in, fs->h, flt)))
        res = mp_handler_call(in, c, obj, flt);
    mp_filter_end(flt);
    ok = res || server_return(in, fs->f->r) == 0;
    Py_XDECREF(res);
    Py_XDECREF(obj);
    Py_DECREF(flt);
    return ok ? 0 : -1;
}

/* The filter raised: its traceback to the log.  With PythonDebug On and
 * nothing of the response sent, also the page for the client. */
static const char *report(request_rec *r, const mp_dir_config *c, const mp_filter_state *fs)
{
    const char *prefix = apr_psprintf(r->pool, "%s %s %s", directive(fs), fs->name,
                                      fs->h->spec);
    PyObject *lines = mp_traceback_lines();
    const char *page = NULL;

    mp_log_traceback(MPLOG_FILTER_ERROR, r, NULL, prefix, lines);
    if (c->debug > 0 && !fs->is_input && !fs->sent)
        page = mp_error_page(r, prefix, lines);
    Py_DECREF(lines);
    PyErr_Clear();
    return page;
}

/* ------------------------------------------------------ output */

/* What was written goes on before the filter is called for the rest of
 * its input, the GIL given up meanwhile. */
static apr_status_t pass_between(mp_filter_state *fs)
{
    mp_interp *in = mp_interp_suspend();
    apr_status_t rv = mp_filter_pass_out(fs, 0);

    mp_interp_resume(in);
    return rv;
}

/* Call the filter until it has read this brigade (see the top).  -1 if
 * it raised (reported; *page for the client, or NULL). */
static int output_calls(mp_interp *in, mp_filter_state *fs, mp_context *ctx,
                        const char **page)
{
    request_rec *r = fs->f->r;
    const mp_dir_config *c = mp_dir_conf(r);

    if (!(ctx->req = prepare(in, r, c)))
        return -1;
    for (;;) {
        if (call_once(in, fs, ctx->req, c) < 0) {
            *page = report(r, c, fs);
            return -1;
        }
        if (fs->closed) {
            apr_brigade_cleanup(fs->in);   /* past the end it wrote */
            return 0;
        }
        if (APR_BRIGADE_EMPTY(fs->in))
            return 0;
        if (fs->disabled || !fs->progress) {
            APR_BRIGADE_CONCAT(fs->out, fs->in);
            return 0;
        }
        if ((fs->rc = pass_between(fs)) != APR_SUCCESS) {
            apr_brigade_cleanup(fs->in);
            return 0;
        }
    }
}

/* The filter raised.  Nothing went out: the client gets a 500 (httpd's
 * error page, or the traceback with PythonDebug On) and what the request
 * sends later is dropped.  Else the rest goes through, as in 3.5. */
static apr_status_t output_failed(mp_filter_state *fs, apr_bucket_brigade *bb,
                                  const char *page)
{
    request_rec *r = fs->f->r;
    apr_bucket_alloc_t *ba = fs->f->c->bucket_alloc;
    apr_status_t rv;

    if (fs->sent) {
        fs->disabled = 1;
        APR_BRIGADE_CONCAT(fs->out, bb);
        return mp_filter_pass_out(fs, 0);
    }
    apr_brigade_cleanup(fs->out);
    apr_brigade_cleanup(bb);
    fs->closed = 1;
    if (page) {
        r->status = HTTP_INTERNAL_SERVER_ERROR;
        ap_set_content_type(r, "text/html");
        apr_table_unset(r->headers_out, "Content-Length");
        apr_brigade_write(fs->out, NULL, NULL, page, strlen(page));
    } else {
        APR_BRIGADE_INSERT_TAIL(fs->out, ap_bucket_error_create(HTTP_INTERNAL_SERVER_ERROR,
                                                                NULL, r->pool, ba));
    }
    APR_BRIGADE_INSERT_TAIL(fs->out, apr_bucket_eos_create(ba));
    rv = mp_filter_pass_out(fs, 0);
    /* The response is made: the handler goes on, its output dropped. */
    return rv == AP_FILTER_ERROR ? APR_SUCCESS : rv;
}

static apr_status_t run_output(mp_filter_state *fs, apr_bucket_brigade *bb)
{
    request_rec *r = fs->f->r;
    mp_context ctx = { r, r->server, NULL, fs->h->directory, NULL };
    mp_interp *in, *outer;
    const char *page = NULL;
    int failed = 1;

    fs->in = bb;
    fs->flush = 0;
    fs->rc = APR_SUCCESS;
    fs->busy = 1;
    if ((in = enter(r, fs, &ctx, &outer))) {
        failed = output_calls(in, fs, &ctx, &page) < 0;
        leave(in, outer);
    }
    fs->busy = 0;
    fs->in = NULL;
    if (failed)
        return output_failed(fs, bb, page);
    if (fs->rc != APR_SUCCESS)
        return fs->rc;
    if (fs->eos_in && !fs->closed) {
        APR_BRIGADE_INSERT_TAIL(fs->out, apr_bucket_eos_create(fs->f->c->bucket_alloc));
        fs->closed = 1;
    }
    return mp_filter_pass_out(fs, fs->flush);
}

static apr_status_t out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    mp_filter_state *fs = f->ctx ? f->ctx : (f->ctx = state_for(f, MP_FILTER_OUT));

    if (!fs) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    fs->f = f;
    /* httpd came back here from inside the call: straight through */
    if (fs->busy || fs->disabled)
        return ap_pass_brigade(f->next, bb);
    if (fs->closed) {
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }
    if (APR_BRIGADE_EMPTY(bb))
        return APR_SUCCESS;
    return run_output(fs, bb);
}

/* ------------------------------------------------------ input */

/* Call the filter until it gave something for the reader, closed, or
 * read nothing (then the input goes through unchanged).  -1 if it
 * raised (reported). */
static int input_calls(mp_interp *in, mp_filter_state *fs, mp_context *ctx)
{
    request_rec *r = fs->f->r;
    const mp_dir_config *c = mp_dir_conf(r);

    if (!(ctx->req = prepare(in, r, c)))
        return -1;
    for (;;) {
        if (call_once(in, fs, ctx->req, c) < 0) {
            report(r, c, fs);
            return -1;
        }
        if (fs->eos_in && !fs->closed) {
            APR_BRIGADE_INSERT_TAIL(fs->out, apr_bucket_eos_create(fs->f->c->bucket_alloc));
            fs->closed = 1;
        }
        if (!APR_BRIGADE_EMPTY(fs->out) || fs->closed || fs->disabled || !fs->progress ||
            fs->rc != APR_SUCCESS)
            return 0;
    }
}

/* Buckets kept for a later call must outlive the brigade they came in. */
static void set_aside(apr_bucket_brigade *bb, apr_pool_t *p)
{
    for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b))
        apr_bucket_setaside(b, p);
}

/* Run the filter for one read.  If it raises, the reader gets an error
 * (a Python handler an OSError) and later reads pass through. */
static apr_status_t run_input(mp_filter_state *fs, ap_input_mode_t mode, apr_read_type_e block,
                              apr_off_t readbytes)
{
    request_rec *r = fs->f->r;
    mp_context ctx = { r, r->server, NULL, fs->h->directory, NULL };
    mp_interp *in, *outer;
    int failed = 1;

    fs->mode = mode;
    fs->block = block;
    fs->readbytes = readbytes;
    fs->rc = APR_SUCCESS;
    fs->busy = 1;
    if ((in = enter(r, fs, &ctx, &outer))) {
        failed = input_calls(in, fs, &ctx) < 0;
        leave(in, outer);
    }
    fs->busy = 0;
    if (failed) {
        apr_brigade_cleanup(fs->out);
        apr_brigade_cleanup(fs->pending);
        fs->disabled = 1;
        return fs->rc != APR_SUCCESS ? fs->rc : APR_EGENERAL;
    }
    set_aside(fs->pending, r->pool);
    set_aside(fs->out, r->pool);
    return APR_SUCCESS;
}

/* At most `readbytes` of `from` (all if not positive), or a line, into bb. */
static apr_status_t move_some(mp_filter_state *fs, apr_bucket_brigade *from,
                              apr_bucket_brigade *bb, ap_input_mode_t mode,
                              apr_read_type_e block, apr_off_t readbytes)
{
    apr_bucket *after;
    apr_status_t rv;

    if (mode == AP_MODE_GETLINE)
        return apr_brigade_split_line(bb, from, block, readbytes > 0 ? readbytes
                                                                     : HUGE_STRING_LEN);
    if (readbytes <= 0) {
        APR_BRIGADE_CONCAT(bb, from);
        return APR_SUCCESS;
    }
    rv = apr_brigade_partition(from, readbytes, &after);
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
        return rv;
    apr_brigade_split_ex(from, after, fs->tmp);
    APR_BRIGADE_CONCAT(bb, from);
    APR_BRIGADE_CONCAT(from, fs->tmp);
    return APR_SUCCESS;
}

/* What the reader gets: what the filter wrote, the end once it closed,
 * else (the filter read nothing, or is disabled) the input unchanged. */
static apr_status_t deliver(mp_filter_state *fs, apr_bucket_brigade *bb, ap_input_mode_t mode,
                            apr_read_type_e block, apr_off_t readbytes)
{
    if (!APR_BRIGADE_EMPTY(fs->out))
        return move_some(fs, fs->out, bb, mode, block, readbytes);
    if (fs->closed) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(fs->f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    if (fs->rc != APR_SUCCESS)
        return fs->rc;
    if (!APR_BRIGADE_EMPTY(fs->pending))
        return move_some(fs, fs->pending, bb, mode, block, readbytes);
    return ap_get_brigade(fs->f->next, bb, mode, block, readbytes);
}

static apr_status_t in_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                              apr_read_type_e block, apr_off_t readbytes)
{
    mp_filter_state *fs = f->ctx ? f->ctx : (f->ctx = state_for(f, MP_FILTER_IN));
    apr_status_t rv;

    if (!fs) {
        ap_remove_input_filter(f);
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    fs->f = f;
    /* Only byte and line reads go through Python; httpd re-entering the
     * filter from inside its call gets the input as it is. */
    if (fs->busy || (mode != AP_MODE_READBYTES && mode != AP_MODE_GETLINE))
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    fs->rc = APR_SUCCESS;
    if (APR_BRIGADE_EMPTY(fs->out) && !fs->closed && !fs->disabled &&
        (rv = run_input(fs, mode, block, readbytes)) != APR_SUCCESS)
        return rv;
    return deliver(fs, bb, mode, block, readbytes);
}

/* ------------------------------------------------------ registration */

void mp_filter_register(void)
{
    mp_config_filter_funcs(in_filter, out_filter);
    ap_register_input_filter(MP_FILTER_GENERIC, in_filter, NULL, AP_FTYPE_RESOURCE);
    ap_register_output_filter(MP_FILTER_GENERIC, out_filter, NULL, AP_FTYPE_RESOURCE);
}
