/* req.finfo (mp_finfo.c): a snapshot of r->finfo as an mp_finfo, and
 * assignable from one (apache.stat()), as in mod_python 3.5.  Private to
 * objects/: the request type lists it (mp_request.c). */
#ifndef MP_FINFO_H
#define MP_FINFO_H

#include "objects/mp_objects.h"

PyObject *mp_req_get_finfo(PyObject *self, void *unused);
int mp_req_set_finfo(PyObject *self, PyObject *value, void *unused);

#define MP_REQ_FINFO_GETSET \
    {"finfo", (getter)mp_req_get_finfo, (setter)mp_req_set_finfo, \
     "the file's mp_finfo (a copy); assign one from apache.stat()", NULL},

#endif
