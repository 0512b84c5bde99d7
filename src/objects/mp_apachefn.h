/* mod_python 3.5's `_apache` functions beyond the core ones of
 * mp_apachemod.c: parse_qs, parse_qsl and config_tree (mp_apachefn.c),
 * stat with its mp_finfo type and the file constants (mp_finfo.c).
 * Private to objects/: the _apache module lists them (mp_apachemod.c). */
#ifndef MP_APACHEFN_H
#define MP_APACHEFN_H

#include "objects/mp_objects.h"

PyObject *mp_ap_parse_qs(PyObject *module, PyObject *args);
PyObject *mp_ap_parse_qsl(PyObject *module, PyObject *args);
PyObject *mp_ap_config_tree(PyObject *module, PyObject *unused);
PyObject *mp_ap_stat(PyObject *module, PyObject *args);

/* The mp_finfo type of an interpreter (made by _apache's exec slot). */
PyTypeObject *mp_finfo_type_new(PyObject *module);
/* APR_NOFILE.., APR_FINFO_*, FINFO_*, AP_REQ_*_PATH_INFO into `module`. */
int mp_finfo_add_constants(PyObject *module);

#define MP_APACHEFN_METHODS \
    {"parse_qs", mp_ap_parse_qs, METH_VARARGS, \
     "parse_qs(qs[, keep_blank_values[, strict_parsing]]) -> {name: [values]}"}, \
    {"parse_qsl", mp_ap_parse_qsl, METH_VARARGS, \
     "parse_qsl(qs[, keep_blank_values[, strict_parsing]]) -> [(name, value)]"}, \
    {"config_tree", mp_ap_config_tree, METH_NOARGS, \
     "httpd's parsed configuration: [(directive, args), [children...], ...]"}, \
    {"stat", mp_ap_stat, METH_VARARGS, \
     "stat(fname, wanted) -> mp_finfo (apr_stat; APR_NOFILE for a missing file)"},

#endif
