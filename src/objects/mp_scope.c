/* Request scopes (see mod_python.h): what tells a request's objects that
 * they may still touch httpd, and from which thread. */
#include "objects/mp_objects.h"

mp_scope *mp_scope_new(request_rec *r)
{
    mp_scope *sc = malloc(sizeof(*sc));

    if (!sc)
        return (mp_scope *)PyErr_NoMemory();
    sc->r = r;
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

request_rec *mp_scope_refuse(const mp_scope *sc, const request_rec *r)
{
    if (!r)
        PyErr_SetString(PyExc_RuntimeError, "the request is over");
    else
        PyErr_SetString(PyExc_RuntimeError, "the request can only be used from the "
                        "thread serving it (not from another thread)");
    (void)sc;
    return NULL;
}
