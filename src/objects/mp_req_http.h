/* The request object's HTTP helpers (mp_req_http.c): mod_python 3.5's
 * methods over httpd's protocol functions.  Private to objects/: the
 * request type lists them (mp_request.c). */
#ifndef MP_REQ_HTTP_H
#define MP_REQ_HTTP_H

#include "objects/mp_objects.h"

/* The request_rec of request object `req`, or NULL with RuntimeError
 * (the request is over, or this thread does not serve it). */
request_rec *mp_request_rec(PyObject *req);

PyObject *mp_req_auth_type(PyObject *self, PyObject *unused);
PyObject *mp_req_auth_name(PyObject *self, PyObject *unused);
PyObject *mp_req_get_basic_auth_pw(PyObject *self, PyObject *unused);
PyObject *mp_req_discard_request_body(PyObject *self, PyObject *unused);
PyObject *mp_req_meets_conditions(PyObject *self, PyObject *unused);
PyObject *mp_req_set_etag(PyObject *self, PyObject *unused);
PyObject *mp_req_set_last_modified(PyObject *self, PyObject *unused);
PyObject *mp_req_update_mtime(PyObject *self, PyObject *mtime);
PyObject *mp_req_is_https(PyObject *self, PyObject *unused);
PyObject *mp_req_ssl_var_lookup(PyObject *self, PyObject *args);
PyObject *mp_req_get_remote_host(PyObject *self, PyObject *args);
PyObject *mp_req_allow_methods(PyObject *self, PyObject *args);
PyObject *mp_req_send_http_header(PyObject *self, PyObject *unused);
PyObject *mp_req_internal_redirect(PyObject *self, PyObject *args);
PyObject *mp_req_document_root(PyObject *self, PyObject *unused);
PyObject *mp_req_construct_url(PyObject *self, PyObject *args);
PyObject *mp_req_set_content_length(PyObject *self, PyObject *n);
PyObject *mp_req_add_common_vars(PyObject *self, PyObject *unused);
PyObject *mp_req_add_cgi_vars(PyObject *self, PyObject *unused);
PyObject *mp_req_get_addhandler_exts(PyObject *self, PyObject *unused);

PyObject *mp_req_get_related(PyObject *self, void *which);
PyObject *mp_req_get_parsed_uri(PyObject *self, void *unused);
PyObject *mp_req_get_strings(PyObject *self, void *which);
PyObject *mp_req_get_useragent_addr(PyObject *self, void *unused);

enum { MP_REL_NEXT, MP_REL_PREV, MP_REL_MAIN };
enum { MP_STRS_CONTENT_LANGUAGES, MP_STRS_ALLOWED_XMETHODS, MP_STRS_ALLOWED_METHODS };

#define MP_REQ_HTTP_GETSET \
    {"next", (getter)mp_req_get_related, NULL, "the request redirected to, or None", \
     (void *)MP_REL_NEXT}, \
    {"prev", (getter)mp_req_get_related, NULL, "the request redirected from, or None", \
     (void *)MP_REL_PREV}, \
    {"main", (getter)mp_req_get_related, NULL, "a subrequest's main request, or None", \
     (void *)MP_REL_MAIN}, \
    {"parsed_uri", (getter)mp_req_get_parsed_uri, NULL, \
     "(scheme, hostinfo, user, password, hostname, port, path, query, fragment)", NULL}, \
    {"content_languages", (getter)mp_req_get_strings, NULL, NULL, \
     (void *)MP_STRS_CONTENT_LANGUAGES}, \
    {"allowed_xmethods", (getter)mp_req_get_strings, NULL, NULL, \
     (void *)MP_STRS_ALLOWED_XMETHODS}, \
    {"allowed_methods", (getter)mp_req_get_strings, NULL, NULL, \
     (void *)MP_STRS_ALLOWED_METHODS}, \
    {"useragent_addr", (getter)mp_req_get_useragent_addr, NULL, "(ip, port)", NULL},

#define MP_REQ_HTTP_METHODS \
    {"auth_type", mp_req_auth_type, METH_NOARGS, "AuthType in force, or None"}, \
    {"auth_name", mp_req_auth_name, METH_NOARGS, "AuthName in force, or None"}, \
    {"get_basic_auth_pw", mp_req_get_basic_auth_pw, METH_NOARGS, \
     "the Basic password sent (sets req.user), or None"}, \
    {"discard_request_body", mp_req_discard_request_body, METH_NOARGS, \
     "read and drop the body: apache.OK or an HTTP status"}, \
    {"meets_conditions", mp_req_meets_conditions, METH_NOARGS, \
     "apache.OK, or the status the If-* headers call for"}, \
    {"set_etag", mp_req_set_etag, METH_NOARGS, NULL}, \
    {"set_last_modified", mp_req_set_last_modified, METH_NOARGS, NULL}, \
    {"update_mtime", mp_req_update_mtime, METH_O, "update_mtime(seconds)"}, \
    {"is_https", mp_req_is_https, METH_NOARGS, "1 over TLS (mod_ssl), else 0"}, \
    {"ssl_var_lookup", mp_req_ssl_var_lookup, METH_VARARGS, \
     "ssl_var_lookup(name): mod_ssl's variable, or None"}, \
    {"get_remote_host", mp_req_get_remote_host, METH_VARARGS, \
     "get_remote_host([type[, str_is_ip]])"}, \
    {"allow_methods", mp_req_allow_methods, METH_VARARGS, \
     "allow_methods(methods[, reset=0]): for Allow in 405 and OPTIONS"}, \
    {"send_http_header", mp_req_send_http_header, METH_NOARGS, \
     "nothing: httpd 2 sends the header with the first write"}, \
    {"internal_redirect", mp_req_internal_redirect, METH_VARARGS, "internal_redirect(uri)"}, \
    {"document_root", mp_req_document_root, METH_NOARGS, NULL}, \
    {"construct_url", mp_req_construct_url, METH_VARARGS, "construct_url(uri)"}, \
    {"set_content_length", mp_req_set_content_length, METH_O, NULL}, \
    {"add_common_vars", mp_req_add_common_vars, METH_NOARGS, NULL}, \
    {"add_cgi_vars", mp_req_add_cgi_vars, METH_NOARGS, NULL}, \
    {"get_addhandler_exts", mp_req_get_addhandler_exts, METH_NOARGS, \
     "the extensions AddHandler maps to mod_python here: \"py psp\""},

#endif
