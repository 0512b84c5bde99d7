/* mod_python: the module record and httpd's hooks.  Each phase hook is a
 * thin call into mp_dispatch.c; Python itself starts in the parent at
 * post_config and is repaired in each child at child_init. */
#include "httpd/mp_httpd.h"
#include "config/mp_locks.h"
#include "objects/mp_process.h"

#include "ap_mpm.h"
#include "http_connection.h"
#include "http_core.h"
#include "mod_auth.h"
#include "mpm_common.h"


static int mp_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mp_locks_register(pconf);  /* the `Mutex` type "mod_python" */
    return OK;
}

static int mp_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    /* httpd reads its configuration twice at start; Python starts on the
     * real pass only. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    /* as 3.5 announced itself: mod_python/x Python/X.Y */
    ap_add_version_component(pconf, "mod_python/" MP_VERSION);
    ap_add_version_component(pconf, "Python/" Py_STRINGIFY(PY_MAJOR_VERSION) "."
                                    Py_STRINGIFY(PY_MINOR_VERSION));
    if (mp_python_init(s, mp_srv_conf(s)->python_home, mp_srv_conf(s)->optimize) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (mp_locks_create(s) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    mp_host_configure(s);
    return OK;
}

static void mp_child_init(apr_pool_t *p, server_rec *s)
{
    mp_python_child_init();
    mp_locks_child_init(p, s);
    mp_process_child_init(p);
    mp_host_watch_handler_dirs(p, s);
    mp_run_imports(s);
}

/* Whether a phase in `phases` (bits 1 << mp_phase) may have a Python
 * handler for `r`: one is configured, or Python already ran for the
 * request (r->request_config holds mod_python's state then), which may
 * have added some (req.add_handler).  Every hook of every request asks
 * first: most have nothing to do, and answer here without a call. */
static inline int wanted(const request_rec *r, unsigned phases)
{
    const mp_dir_config *c = mp_dir_conf(r);

    return (c && (c->phases & phases)) || mp_request_touched(r);
}

#define BIT(phase) (1u << (phase))

static int mp_post_read_request(request_rec *r)
{
    int rc;

    if (!wanted(r, BIT(MP_INIT) | BIT(MP_POST_READ_REQUEST)))
        return DECLINED;
    rc = mp_run_init_phase(r, 1);
    if (rc != OK && rc != DECLINED)
        return rc;
    return mp_run_phase(r, MP_POST_READ_REQUEST);
}

static int mp_header_parser(request_rec *r)
{
    int rc;

    if (!wanted(r, BIT(MP_INIT) | BIT(MP_HEADER_PARSER)))
        return DECLINED;
    rc = mp_run_init_phase(r, 0);
    if (rc != OK && rc != DECLINED)
        return rc;
    return mp_run_phase(r, MP_HEADER_PARSER);
}

/* The hook of a phase with nothing else to do. */
#define PHASE_HOOK(fn, phase) \
    static int fn(request_rec *r) \
    { \
        return wanted(r, BIT(phase)) ? mp_run_phase(r, phase) : DECLINED; \
    }

PHASE_HOOK(mp_trans, MP_TRANS)
PHASE_HOOK(mp_access, MP_ACCESS)
PHASE_HOOK(mp_authen, MP_AUTHEN)
PHASE_HOOK(mp_authz, MP_AUTHZ)
PHASE_HOOK(mp_type, MP_TYPE)
PHASE_HOOK(mp_fixup, MP_FIXUP)
PHASE_HOOK(mp_handler_hook, MP_HANDLER)

static int mp_log(request_rec *r)
{
    if (!wanted(r, BIT(MP_LOG) | BIT(MP_CLEANUP)))
        return DECLINED;
    mp_register_cleanup_phase(r);
    return mp_run_phase(r, MP_LOG);
}

static int mp_process_connection(conn_rec *c)
{
    return mp_run_connection(c);
}

#if AP_MODULE_MAGIC_AT_LEAST(20120211, 110)
static void mp_child_stopping(apr_pool_t *pchild, int graceful)
{
    mp_connections_stopping(graceful);
}
#endif

static void mp_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(mp_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mp_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mp_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(mp_post_read_request, NULL, NULL, APR_HOOK_MIDDLE);
    /* Where the first module to answer wins, a configured Python handler
     * answers before httpd's own defaults (mod_mime, mod_auth_basic...). */
    ap_hook_translate_name(mp_trans, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_header_parser(mp_header_parser, NULL, NULL, APR_HOOK_MIDDLE);
    /* The 2.4 registration of all three access phases alike. */
    ap_hook_check_access(mp_access, NULL, NULL, APR_HOOK_MIDDLE,
                         AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(mp_authen, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(mp_authz, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_type_checker(mp_type, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_fixups(mp_fixup, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(mp_handler_hook, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(mp_log, NULL, NULL, APR_HOOK_MIDDLE);
    mp_filter_register();
    mp_status_register();
    /* Before HTTP's (REALLY_LAST), which serves what this declines. */
    ap_hook_process_connection(mp_process_connection, NULL, NULL, APR_HOOK_MIDDLE);
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 110)
    ap_hook_child_stopping(mp_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
#endif
    (void)p;
}

AP_DECLARE_MODULE(python) = {
    STANDARD20_MODULE_STUFF,
    mp_create_dir_config,
    mp_merge_dir_config,
    mp_create_srv_config,
    mp_merge_srv_config,
    mp_directives,
    mp_register_hooks,
#ifdef AP_MODULE_FLAG_ALWAYS_MERGE
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
