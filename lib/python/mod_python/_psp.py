"""mod_python._psp: the PSP translator under mod_python 3.5's names.

The translator is C (src/base/mp_psp.c), a part of the `_apache` module of
each interpreter:

    parse(filename, dir=None, includes=None) -> Python source of the PSP
        file dir/filename (filename alone when dir is None or filename is
        absolute); include directives name files under dir too.  The
        files included are appended to the list `includes`.
    parsestring(text) -> Python source of the PSP template `text` (str or
        bytes).
"""
from _apache import psp_parse as parse, psp_parsestring as parsestring

__all__ = ["parse", "parsestring"]
