/* The request object's filter methods (mp_req_filter.c): mod_python 3.5's
 * req.register_input_filter(), register_output_filter(),
 * add_input_filter() and add_output_filter().  Private to objects/: the
 * request type lists them (mp_request.c). */
#ifndef MP_REQ_FILTER_H
#define MP_REQ_FILTER_H

#include "objects/mp_objects.h"

PyObject *mp_req_register_input_filter(PyObject *self, PyObject *args);
PyObject *mp_req_register_output_filter(PyObject *self, PyObject *args);
PyObject *mp_req_add_input_filter(PyObject *self, PyObject *args);
PyObject *mp_req_add_output_filter(PyObject *self, PyObject *args);

#define MP_REQ_FILTER_METHODS \
    {"register_input_filter", mp_req_register_input_filter, METH_VARARGS, \
     "register_input_filter(name, handler[, dir]): a Python input filter for this request"}, \
    {"register_output_filter", mp_req_register_output_filter, METH_VARARGS, \
     "register_output_filter(name, handler[, dir]): a Python output filter for this request"}, \
    {"add_input_filter", mp_req_add_input_filter, METH_VARARGS, \
     "add_input_filter(name): a registered or httpd input filter, for this request"}, \
    {"add_output_filter", mp_req_add_output_filter, METH_VARARGS, \
     "add_output_filter(name): a registered or httpd output filter, for this request"},

#endif
