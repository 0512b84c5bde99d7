/* The limit: what httpd does without Python.  A content handler that sends
 * the same 14-byte text/plain body, with a Content-Length, as the Python
 * hello worlds of the benchmark. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"

static int bench_hello_handler(request_rec *r)
{
    static const char body[] = "Hello, world!\n";

    if (!r->handler || strcmp(r->handler, "bench-hello"))
        return DECLINED;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, sizeof(body) - 1);
    if (!r->header_only)
        ap_rwrite(body, sizeof(body) - 1, r);
    return OK;
}

static void bench_hello_hooks(apr_pool_t *p)
{
    ap_hook_handler(bench_hello_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(bench_hello) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, bench_hello_hooks
};
