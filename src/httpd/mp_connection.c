/* PythonConnectionHandler: a Python handler serves a server's connections
 * in httpd's process_connection hook, before HTTP, with the connection
 * object (conn.read(), readline(), write()).  There is no request: the
 * interpreter, PythonPath and the importer's configuration are the
 * server's (3.5: the virtual host's ServerName names the interpreter). */
#include "httpd/mp_httpd.h"

#include "http_core.h"

#include <sys/socket.h>
#include <unistd.h>

APLOG_USE_MODULE(python);

/* ------------------------------------------------ handlers of this child */

/* A connection handler waits for its client in a blocking read.  When the
 * child stops ungracefully, the event MPM closes the connections' sockets,
 * which does not wake a thread blocked on one: the child would wait for
 * the read's Timeout, and be killed first.  So each running handler's
 * socket is also held as a dup() of its descriptor, shut down then: the
 * read ends, the handler returns, the child exits. */
typedef struct mp_live_conn {
    int fd;                      /* the dup(), or -1 */
    struct mp_live_conn *prev, *next;
} mp_live_conn;

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static mp_live_conn *live;       /* guarded by live_mu */

static void live_add(mp_live_conn *l, conn_rec *c)
{
    apr_socket_t *sock = ap_get_conn_socket(c);
    apr_os_sock_t fd;

    l->fd = sock && apr_os_sock_get(&fd, sock) == APR_SUCCESS ? dup(fd) : -1;
    if (l->fd < 0)
        return;
    pthread_mutex_lock(&live_mu);
    l->prev = NULL;
    if ((l->next = live))
        live->prev = l;
    live = l;
    pthread_mutex_unlock(&live_mu);
}

static void live_remove(mp_live_conn *l)
{
    if (l->fd < 0)
        return;
    pthread_mutex_lock(&live_mu);
    if (l->prev)
        l->prev->next = l->next;
    else
        live = l->next;
    if (l->next)
        l->next->prev = l->prev;
    pthread_mutex_unlock(&live_mu);
    close(l->fd);
}

void mp_connections_stopping(int graceful)
{
    if (graceful)
        return;   /* running connections are served to their end */
    pthread_mutex_lock(&live_mu);
    for (mp_live_conn *l = live; l; l = l->next)
        shutdown(l->fd, SHUT_RDWR);
    pthread_mutex_unlock(&live_mu);
}

/* ------------------------------------------------------------ dispatch */

/* The server's PythonInterpreter, else its ServerName. */
static const char *interp_name(const server_rec *s, const mp_dir_config *conf)
{
    if (conf->interpreter)
        return conf->interpreter;
    return s->server_hostname ? s->server_hostname : MP_MAIN_INTERPRETER;
}

/* What the handler returned, for httpd: OK, DECLINED (HTTP serves the
 * connection) or DONE, as 3.5; anything else is logged and the connection
 * closed. */
static int conn_result(conn_rec *c, const mp_handler *h, PyObject *res)
{
    int overflow = 0;
    long n = PyLong_Check(res) ? PyLong_AsLongAndOverflow(res, &overflow) : 0;

    if (PyLong_Check(res) && !overflow && (n == OK || n == DECLINED || n == DONE))
        return (int)n;
    PyErr_Clear();
    ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c, MPLOG_CONN_RESULT
                 "PythonConnectionHandler %s returned %s, not apache.OK, "
                 "apache.DECLINED or apache.DONE: connection closed", h->spec,
                 PyLong_Check(res) && !overflow ? apr_ltoa(c->pool, n)
                                                : Py_TYPE(res)->tp_name);
    return OK;
}

/* Import and call the handler with `conn`; its result for httpd.  What it
 * raised is logged: the connection is closed. */
static int call_handler(mp_interp *in, conn_rec *c, const mp_dir_config *conf,
                        const mp_handler *h, PyObject *conn)
{
    PyObject *obj = mp_handler_object(in, h, conn), *res = NULL;
    int rc = OK;

    if (obj)
        res = mp_handler_call(in, conf, obj, conn);
    if (res)
        rc = conn_result(c, h, res);
    else
        mp_log_exception(MPLOG_CONN_HANDLER_ERROR, NULL, c->base_server,
                         apr_pstrcat(c->pool, "PythonConnectionHandler ", h->spec, NULL));
    Py_XDECREF(obj);
    Py_XDECREF(res);
    return rc;
}

/* Kept out of line: most connections have no Python handler. */
static int __attribute__((noinline))
run_connection(conn_rec *c, const mp_handler *h)
{
    server_rec *s = c->base_server;
    const mp_dir_config *conf = mp_srv_conf(s)->conf;
    mp_context ctx = { NULL, s, NULL, h->directory, NULL };
    mp_interp *in = mp_interp_enter(interp_name(s, conf), NULL, &ctx);
    PyObject *conn = NULL;
    int rc = OK;   /* on any failure the connection is closed, never HTTP's */
    mp_live_conn l;

    if (!in)
        return OK;
    live_add(&l, c);
    if (mp_pystate_apply_path(in, conf->python_path, NULL, s) < 0)
        goto done;
    if (!(conn = mp_conn_for_handler(mp_pystate_of(in), c, h))) {
        mp_log_exception(MPLOG_CONN_OBJECT, NULL, s,
                         "mod_python: cannot create the connection object");
        goto done;
    }
    rc = call_handler(in, c, conf, h, conn);
    /* kept by the handler, it raises from now on */
    mp_conn_end(conn);
    Py_DECREF(conn);
done:
    mp_interp_leave(in);
    live_remove(&l);
    return rc;
}

int mp_run_connection(conn_rec *c)
{
    const mp_handler *h = mp_srv_conf(c->base_server)->conn_handler;

    return h ? run_connection(c, h) : DECLINED;
}
