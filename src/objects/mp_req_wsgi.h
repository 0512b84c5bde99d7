/* The request object's WSGI helpers and small members of mod_python 3.5
 * (mp_req_wsgi.c): build_wsgi_env(), wsgi_start_response(), the object
 * iterating over the body's lines (wsgi.input), _bytes_queued,
 * _content_type_set and _request_rec.  Private to objects/: the request
 * type lists them (mp_request.c). */
#ifndef MP_REQ_WSGI_H
#define MP_REQ_WSGI_H

#include "objects/mp_objects.h"

/* What a request object keeps for these members, zeroed for each request
 * (mp_request.c: request_new(), req_reset()). */
typedef struct mp_req_wsgi {
    apr_off_t bytes_queued;  /* bytes given to write() and sendfile() */
    int content_type_set;    /* the handler set content_type */
    int started;             /* wsgi_start_response() was called */
    apr_table_t *headers;    /* headers_out before its first call */
    const char *content_type;/* and content_type */
} mp_req_wsgi;

/* The state above of request object `req` (mp_request.c). */
mp_req_wsgi *mp_request_wsgi(PyObject *req);

PyObject *mp_req_build_wsgi_env(PyObject *self, PyObject *unused);
PyObject *mp_req_wsgi_start_response(PyObject *self, PyObject *args);
/* iter(req): the body line by line, as a file is (PEP 3333 wsgi.input). */
PyObject *mp_req_iternext(PyObject *self);

PyObject *mp_req_get_wsgi_int(PyObject *self, void *which);
PyObject *mp_req_get_request_rec(PyObject *self, void *unused);

enum { MP_WSGI_BYTES_QUEUED, MP_WSGI_CONTENT_TYPE_SET };

#define MP_REQ_WSGI_GETSET \
    {"_bytes_queued", (getter)mp_req_get_wsgi_int, NULL, \
     "bytes given to write() and sendfile() so far", (void *)MP_WSGI_BYTES_QUEUED}, \
    {"_content_type_set", (getter)mp_req_get_wsgi_int, NULL, \
     "1 once the handler set content_type", (void *)MP_WSGI_CONTENT_TYPE_SET}, \
    {"_request_rec", (getter)mp_req_get_request_rec, NULL, \
     "the request_rec, a capsule without a name (for C extensions)", NULL},

#define MP_REQ_WSGI_METHODS \
    {"build_wsgi_env", mp_req_build_wsgi_env, METH_NOARGS, \
     "the WSGI environ of this request (PEP 3333), or None when the URI is " \
     "not under mod_python.wsgi.base_uri"}, \
    {"wsgi_start_response", mp_req_wsgi_start_response, METH_VARARGS, \
     "wsgi_start_response(status, headers[, exc_info]): PEP 3333's " \
     "start_response; returns req.write"},

#define MP_REQ_WSGI_SLOTS \
    {Py_tp_iter, PyObject_SelfIter}, \
    {Py_tp_iternext, mp_req_iternext},

#endif
