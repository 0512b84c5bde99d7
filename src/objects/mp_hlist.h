/* req.hlist and req.extension (mp_hlist.c): the handler being run.
 * Private to objects/: the request type lists them (mp_request.c), the
 * _apache module makes the type (mp_apachemod.c). */
#ifndef MP_HLIST_H
#define MP_HLIST_H

#include "objects/mp_objects.h"

/* An mp_hlist of the `n` handlers at `list` (n = 0: an empty one), as
 * 3.5's hlist shows them.  NULL with an exception. */
PyObject *mp_hlist_new(struct mp_pystate *st, const mp_handler *list, int n);
PyTypeObject *mp_hlist_type_new(PyObject *module);

PyObject *mp_req_get_hlist(PyObject *req, void *unused);
PyObject *mp_req_get_extension(PyObject *req, void *unused);

#define MP_REQ_HLIST_GETSET \
    {"hlist", (getter)mp_req_get_hlist, NULL, \
     "the phase's handlers from the one being run on (mp_hlist)", NULL}, \
    {"extension", (getter)mp_req_get_extension, NULL, \
     "the file extension that selected the running handler, or None", NULL},

#endif
