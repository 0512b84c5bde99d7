/* What lasts as long as the process (mp_process.c): 3.5's global locks
 * (_apache._global_lock & co, over config/mp_locks.c) and child-exit
 * cleanups (server.register_cleanup, _apache.register_cleanup).  The
 * _apache module and the server type list the methods; the httpd layer
 * calls mp_process_child_init(). */
#ifndef MP_PROCESS_H
#define MP_PROCESS_H

#include "objects/mp_objects.h"

/* child_init, before any Python code of the child runs: the child-exit
 * cleanups run when `pchild` is destroyed. */
void mp_process_child_init(apr_pool_t *pchild);

PyObject *mp_apache_global_lock(PyObject *module, PyObject *args);
PyObject *mp_apache_global_trylock(PyObject *module, PyObject *args);
PyObject *mp_apache_global_unlock(PyObject *module, PyObject *args);
PyObject *mp_apache_register_cleanup(PyObject *module, PyObject *args);
PyObject *mp_srv_register_cleanup(PyObject *self, PyObject *args);

#define MP_APACHEMOD_PROCESS_METHODS \
    {"_global_lock", mp_apache_global_lock, METH_VARARGS, \
     "_global_lock(server, key[, index]): take a lock shared by every process " \
     "and thread of this httpd, waiting"}, \
    {"_global_trylock", mp_apache_global_trylock, METH_VARARGS, \
     "_global_trylock(server, key[, index]): True if taken, False if held"}, \
    {"_global_unlock", mp_apache_global_unlock, METH_VARARGS, \
     "_global_unlock(server, key[, index])"}, \
    {"register_cleanup", mp_apache_register_cleanup, METH_VARARGS, \
     "register_cleanup(interpreter, server, callable[, data]): " \
     "callable(data) when the child process exits"},

#define MP_SERVER_PROCESS_METHODS \
    {"register_cleanup", mp_srv_register_cleanup, METH_VARARGS, \
     "register_cleanup(req, callable[, data]): callable(data) when the " \
     "child process exits"},

#endif
