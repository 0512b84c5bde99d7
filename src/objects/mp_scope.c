/* Request scopes (see mp_objects.h): what tells a request's objects, or a
 * connection handler's, that they may still touch httpd, and from which
 * thread. */
#include "objects/mp_objects.h"

mp_scope *mp_scope_new(request_rec *r)
{
    mp_scope *sc = malloc(sizeof(*sc));

    if (!sc)
        return (mp_scope *)PyErr_NoMemory();
    sc->r = r;
    sc->c = r->connection;
    sc->of_conn = 0;
    sc->thread = pthread_self();
    sc->refs = 1;
    return sc;
}

mp_scope *mp_scope_new_conn(conn_rec *c)
{
    mp_scope *sc = malloc(sizeof(*sc));

    if (!sc)
        return (mp_scope *)PyErr_NoMemory();
    sc->r = NULL;
    sc->c = c;
    sc->of_conn = 1;
    sc->thread = pthread_self();
    sc->refs = 1;
    return sc;
}

int mp_scope_renew(mp_scope **sc, request_rec *r)
{
    mp_scope *fresh;

    if ((*sc)->refs == 1) {
        /* Only the request object held it: nothing can tell the old
         * request from the new one through it. */
        (*sc)->thread = pthread_self();
        __atomic_store_n(&(*sc)->c, r->connection, __ATOMIC_RELEASE);
        __atomic_store_n(&(*sc)->r, r, __ATOMIC_RELEASE);
        return 0;
    }
    if (!(fresh = mp_scope_new(r)))
        return -1;
    mp_scope_decref(*sc);
    *sc = fresh;
    return 0;
}

void mp_scope_decref(mp_scope *sc)
{
    if (sc && --sc->refs == 0)
        free(sc);
}

/* Why the scope cannot be used: it is over, or another thread serves it. */
static void refuse(const mp_scope *sc, int over)
{
    const char *what = sc->of_conn ? "connection" : "request";

    if (over)
        PyErr_Format(PyExc_RuntimeError, "the %s is over", what);
    else
        PyErr_Format(PyExc_RuntimeError, "the %s can only be used from the "
                     "thread serving it (not from another thread)", what);
}

request_rec *mp_scope_refuse(const mp_scope *sc, const request_rec *r)
{
    refuse(sc, r == NULL);
    return NULL;
}

conn_rec *mp_scope_refuse_conn(const mp_scope *sc, const conn_rec *c)
{
    refuse(sc, c == NULL);
    return NULL;
}
