/* The importer's host inside httpd: "the configuration in force" is the
 * request's per-directory configuration while a request runs Python, and
 * the server's otherwise (PythonImport, module scope at child start).
 * Also what the interpreter layer calls back: setting up a new
 * interpreter, releasing a request's objects. */
#include "httpd/mp_httpd.h"

#include "http_main.h"
#include "importer/mp_watch.h"

APLOG_USE_MODULE(python);

static const mp_dir_config *conf_in_force(void)
{
    const mp_context *ctx = mp_context_current();

    if (ctx && ctx->r)
        return mp_dir_conf(ctx->r);
    return mp_srv_conf(ctx ? ctx->s : ap_server_conf)->conf;
}

static int host_autoreload(void *data)
{
    return conf_in_force()->autoreload != 0;  /* default On */
}

static int host_logging(void *data)
{
    const mp_dir_config *c = conf_in_force();
    return c->debug > 0 || mp_option_flag(c->options, MP_OPT_IMPORTER_LOG) == 1;
}

/* PythonOption mod_python.importer.path: a Python list expression,
 * evaluated once per distinct string per interpreter. */
static PyObject *host_search_path(void *data)
{
    const char *expr = conf_in_force()->importer_path;
    mp_interp *in = mp_interp_current();

    if (!expr || !*expr || !in)
        return NULL;
    return mp_pystate_list(in, expr, "PythonOption " MP_OPT_IMPORTER_PATH);
}

static const char *host_handler_dir(void *data)
{
    const mp_context *ctx = mp_context_current();

    return ctx ? ctx->handler_dir : NULL;
}

static mp_imp_request *host_request(void *data)
{
    const mp_context *ctx = mp_context_current();

    return ctx && ctx->req ? mp_request_importer_state(ctx->req) : NULL;
}

/* With the request's context when there is one (client, request id). */
static void host_log(void *data, const char *msg)
{
    const mp_context *ctx = mp_context_current();

    mp_log_lines(APLOG_NOTICE, ctx ? ctx->r : NULL, ctx ? ctx->s : ap_server_conf,
                 MPLOG_IMPORTER, NULL, msg);
}

static int host_keep_last_good(void *data)
{
    const char *v = apr_table_get(conf_in_force()->options, MP_OPT_ON_RELOAD_ERROR);

    return v && !strcmp(v, "keep");
}

static int host_bytecode(void *data)
{
    return mp_option_flag(conf_in_force()->options, MP_OPT_BYTECODE) != 0;
}

static const char *host_bytecode_dir(void *data)
{
    const char *v = apr_table_get(conf_in_force()->options, MP_OPT_BYTECODE_DIR);

    return v && *v ? v : NULL;
}

static const mp_importer_host httpd_host = {
    .autoreload = host_autoreload,
    .logging = host_logging,
    .search_path = host_search_path,
    .handler_dir = host_handler_dir,
    .request = host_request,
    .log = host_log,
    .keep_last_good = host_keep_last_good,
    .bytecode = host_bytecode,
    .bytecode_dir = host_bytecode_dir,
};

/* ------------------------------------------------------------ interpreters */

/* PythonOption mod_python.importer.notify Off (server level): check module
 * files with stat() only, e.g. on NFS where inotify misses remote changes. */
static int notify_on(server_rec *s)
{
    return mp_option_flag(mp_srv_conf(s)->conf->options, MP_OPT_NOTIFY) != 0;
}

static int interp_setup(mp_interp *in, server_rec *s)
{
    return mp_pystate_setup(in, &httpd_host, notify_on(s), s);
}

static const mp_interp_hooks interp_hooks = {
    .setup = interp_setup, .release = mp_request_release, .gil = mp_interp_gil,
};

/* ------------------------------------------------------------ watching */

/* At child start, before any import: watch the directories of the
 * configured handlers, so that a first import there knows whether a
 * writer has the file open (a directory watched only at its first import
 * has no history of the writes before). */
void mp_host_watch_handler_dirs(apr_pool_t *p, server_rec *s)
{
    for (; s; s = s->next) {
        const apr_array_header_t *dirs = mp_srv_conf(s)->handler_dirs;

        for (int i = 0; notify_on(s) && i < dirs->nelts; i++) {
            const char *d = APR_ARRAY_IDX(dirs, i, const char *);  /* "/d/" */
            size_t n = strlen(d);

            /* as the importer names it: no trailing '/', but "/" itself;
             * may fail: first imports there settle instead */
            mp_watch_dir(apr_pstrndup(p, d, n > 1 ? n - 1 : n));
        }
    }
}

/* ------------------------------------------------------------ retirees */

typedef struct {
    const char *interp;
    server_rec *s;
} mp_collect;

/* After the response: free the retired modules the importer was told
 * were let go of.  Skipped (left due) in a thread that is inside an
 * interpreter, e.g. a subrequest's pool going during a handler. */
static apr_status_t collect_cleanup(void *data)
{
    mp_collect *c = data;
    mp_context ctx = { NULL, c->s, NULL, NULL, NULL };
    mp_interp *in;

    if (mp_interp_current() || !(in = mp_interp_enter(c->interp, NULL, &ctx)))
        return APR_SUCCESS;
    mp_importer_collect(mp_pystate_of(in)->importer);
    mp_interp_leave(in);
    return APR_SUCCESS;
}

void mp_host_collect_later(request_rec *r, mp_interp *in)
{
    mp_collect *c;

    if (!mp_importer_collect_due(mp_pystate_of(in)->importer))
        return;
    while (r->main)
        r = r->main;
    c = apr_palloc(r->pool, sizeof(*c));
    c->interp = apr_pstrdup(r->pool, in->name);
    c->s = r->server;
    apr_pool_cleanup_register(r->pool, c, collect_cleanup, apr_pool_cleanup_null);
}

void mp_host_configure(server_rec *s)
{
    mp_interp_configure(&interp_hooks, mp_interp_limit(s));
}
