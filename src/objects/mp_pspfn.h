/* _apache.psp_parse / psp_parsestring (mp_pspfn.c): the PSP translator
 * (base/mp_psp.c, pure C) for Python; mod_python/_psp.py gives them 3.5's
 * names, mod_python._psp.parse and parsestring.  Private to objects/: the
 * _apache module lists them (mp_apachemod.c). */
#ifndef MP_PSPFN_H
#define MP_PSPFN_H

#include "objects/mp_objects.h"

PyObject *mp_ap_psp_parse(PyObject *module, PyObject *args, PyObject *kw);
PyObject *mp_ap_psp_parsestring(PyObject *module, PyObject *text);

#define MP_PSPFN_METHODS \
    {"psp_parse", (PyCFunction)(void (*)(void))mp_ap_psp_parse, \
     METH_VARARGS | METH_KEYWORDS, \
     "psp_parse(filename, dir=None, includes=None) -> Python source of the " \
     "PSP file dir/filename; the files it included are appended to the " \
     "list `includes`"}, \
    {"psp_parsestring", mp_ap_psp_parsestring, METH_O, \
     "psp_parsestring(text) -> Python source of the PSP template text " \
     "(str or bytes)"},

#endif
