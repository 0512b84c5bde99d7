"""mod_python.psp: Python Server Pages, as mod_python 3.5 had them.

    AddHandler mod_python .psp .psp_
    PythonHandler mod_python.psp
    PythonDebug On      # development only: page.psp_ shows the page's code

A page is text (HTML, say) with Python in it: <% code %>, <%= expression %>,
<%-- comment --%>, <%@ include file="name" %>.  The C translator (_psp)
turns it into Python source; see src/base/mp_psp.h for the language and
its indentation rules.

A page runs with these globals: `req`; `psp`, a PSPInterface; `form`, a
util.FieldStorage, made only when the page names `form`; `session`, a
Session.Session, made (and locked for the request) only when the page
names `session`; this module's names (apache, util, os, sys...) as in
3.5; and the vars given to PSP() and run().

Compiled pages are cached per interpreter, by path: an entry serves while
the page and every file it includes keep their modification time, size
and inode, so an edited page, or an edited included file, is compiled
again on its next request.  With
`PythonOption mod_python.psp.cache_database_filename FILE` (`PSPDbmCache`
before 3.3) the compiled code is kept in that dbm file instead, shared by
the processes, which use it under global lock 0.
"""
import dbm
import html
import importlib.util
import marshal
import os
import stat
import sys
import types

import _apache
from . import apache, util, _psp

escape = html.escape

# Page caches of this interpreter: at most this many entries each, the
# least used quarter dropped beyond (3.5's size).
CACHE_SIZE = 512


def parse(filename, dir=None):
    """The Python source of PSP file `filename` (under `dir`)."""
    return _psp.parse(filename, dir)


def parsestring(str):
    """The Python source of PSP template text `str`."""
    return _psp.parsestring(str)


def _stamp(st):
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _names(code):
    """Every name the code, or a function in it, looks up by name."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


class _Compiled:
    """A compiled page: its code, the names it uses, and the stamps of the
    files it was made from (the page first, then what it included)."""

    __slots__ = ("code", "names", "stamps", "hits")

    def __init__(self, code, stamps):
        self.code, self.stamps, self.hits = code, stamps, 0
        self.names = frozenset(_names(code))

    @classmethod
    def from_file(cls, filename, stamp):
        # stamped before reading: an edit while it is read shows next time
        includes = []
        dir, name = os.path.split(filename)
        source = _psp.parse(name, dir, includes)
        code = compile(source, filename, "exec")
        stamps = [(filename, stamp)]
        for path in includes:
            try:
                stamps.append((path, _stamp(os.stat(path))))
            except OSError:
                stamps.append((path, None))
        return cls(code, tuple(stamps))

    def fresh(self, stamp):
        """Made from the files as they are now (stamp: the page's)."""
        if self.stamps[0][1] != stamp:
            return False
        for path, old in self.stamps[1:]:
            try:
                if _stamp(os.stat(path)) != old:
                    return False
            except OSError:
                return False
        return True


class _Cache(dict):
    """key -> _Compiled, bounded: the least used go first."""

    def get(self, key):
        entry = dict.get(self, key)
        if entry is not None:
            entry.hits += 1
        return entry

    def put(self, key, entry):
        self[key] = entry
        if len(self) > CACHE_SIZE:
            by_use = sorted(self.items(), key=lambda kv: kv[1].hits)
            for k, _ in by_use[:len(self) - CACHE_SIZE * 3 // 4]:
                self.pop(k, None)


_file_cache = _Cache()     # path -> _Compiled
_string_cache = _Cache()   # template text -> _Compiled


# ------------------------------------------------------------ dbm cache

_MAGIC = importlib.util.MAGIC_NUMBER   # marshal's code is this Python's


def _dbm_get(req, dbmfile, filename, stamp):
    _apache._global_lock(req.server, None, 0)
    try:
        with dbm.open(dbmfile, "c") as db:
            record = db.get(filename.encode("utf-8", "surrogateescape"))
    finally:
        _apache._global_unlock(req.server, None, 0)
    if not record or not record.startswith(_MAGIC):
        return None
    try:
        stamps, code = marshal.loads(record[len(_MAGIC):])
        entry = _Compiled(code, tuple((p, tuple(s) if s else None) for p, s in stamps))
    except (ValueError, EOFError, TypeError):
        return None
    return entry if entry.fresh(stamp) else None


def _dbm_put(req, dbmfile, filename, entry):
    record = _MAGIC + marshal.dumps((entry.stamps, entry.code))
    _apache._global_lock(req.server, None, 0)
    try:
        with dbm.open(dbmfile, "c") as db:
            db[filename.encode("utf-8", "surrogateescape")] = record
    finally:
        _apache._global_unlock(req.server, None, 0)


# ------------------------------------------------------------ pages

class PSPInterface:
    """The `psp` of a page."""

    def __init__(self, req, filename, form):
        self.req = req
        self.filename = filename
        self.error_page = None
        self.form = form

    def set_error_page(self, page):
        """The page run instead when this one raises, with `exception`
        (sys.exc_info()) among its globals: under the document root when
        `page` starts with '/', else beside this page."""
        if page and page[0] == "/":
            path = self.req.document_root() + page
        else:
            path = os.path.join(os.path.dirname(self.filename or self.req.filename), page)
        self.error_page = PSP(self.req, path)

    def apply_data(self, object):
        """Call `object` with the form's fields as its arguments."""
        if not self.form:
            if not hasattr(self.req, "form"):
                self.req.form = util.FieldStorage(self.req, keep_blank_values=1)
            self.form = self.req.form
        return util.apply_fs_data(object, self.form, req=self.req)

    def redirect(self, location, permanent=0):
        util.redirect(self.req, location, permanent)


class _ModuleInfo:
    """__mp_info__ of a page: with __file__, it lets the page's
    apache.import_module() find modules beside the page."""

    def __init__(self, file):
        self.label, self.file, self.cache, self.children = None, file, None, {}


class PSP:
    """A page: PSP(req) is the request's file; PSP(req, filename) another
    one (relative to the request's directory); PSP(req, string=text) a
    template in a string.  run() writes it out."""

    code = None
    dbmcache = None

    def __init__(self, req, filename=None, string=None, vars={}):
        if string and filename:
            raise ValueError("Must specify either filename or string")
        self.req, self.vars = req, vars
        if not filename and not string:
            filename = req.filename
        self.filename, self.string = filename, string
        if filename:
            if not os.path.isabs(filename):
                self.filename = os.path.join(os.path.dirname(req.filename), filename)
            self.load_from_file()
        else:
            entry = _string_cache.get(string)
            if entry is None:
                entry = _Compiled(compile(_psp.parsestring(string), "__psp__", "exec"), ())
                _string_cache.put(string, entry)
            self.code, self._names = entry.code, entry.names

    def _dbm_option(self):
        opts = self.req.get_options()
        for name in ("mod_python.psp.cache_database_filename", "PSPDbmCache"):
            if name in opts:
                return opts[name]
        return None

    def load_from_file(self):
        """Compile the page, or take it from the cache while fresh; a
        missing page is HTTP_NOT_FOUND."""
        filename = self.filename
        try:
            st = os.stat(filename)
        except (OSError, ValueError):
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        stamp = _stamp(st)
        self.dbmcache = self._dbm_option()
        if self.dbmcache:
            entry = _dbm_get(self.req, self.dbmcache, filename, stamp)
        else:
            entry = _file_cache.get(filename)
            if entry is not None and not entry.fresh(stamp):
                entry = None
        if entry is None:
            entry = _Compiled.from_file(filename, stamp)
            if self.dbmcache:
                _dbm_put(self.req, self.dbmcache, filename, entry)
            else:
                _file_cache.put(filename, entry)
        self.code, self._names = entry.code, entry.names

    def _globals(self, psp, form, vars):
        req = self.req
        scope = dict(globals())
        scope.update(req=req, form=form, psp=psp, session=getattr(req, "session", None))
        if "Session" in self._names:
            from . import Session
            scope["Session"] = Session
        scope.update(self.vars)
        scope.update(vars)
        scope["__file__"] = self.filename or req.filename
        scope["__mp_info__"] = _ModuleInfo(scope["__file__"])
        scope["__mp_path__"] = []
        return scope

    def run(self, vars={}, flush=0):
        """Write the page out (flush: then flush the output).  A session the
        page made is saved, then unlocked, when it is done."""
        req, names = self.req, self._names
        session = form = None
        if "session" in names and not hasattr(req, "session"):
            # made lazily: only pages that use sessions need the module;
            # kept on req, so that an error page finds it (and not a lock)
            from . import Session
            req.session = session = Session.Session(req)
        if "form" in names:
            if not hasattr(req, "form"):
                req.form = util.FieldStorage(req, keep_blank_values=1)
            form = req.form
        psp = PSPInterface(req, self.filename, form)
        try:
            try:
                exec(self.code, self._globals(psp, form, vars))
                if flush:
                    req.flush()
                if hasattr(req, "session"):
                    req.session.save()   # its access time changed: always
            except apache.SERVER_RETURN:
                raise   # a redirect, say: not an error (3.5 ran the error page)
            except Exception:
                if not psp.error_page:
                    raise
                psp.error_page.run({"exception": sys.exc_info()}, flush)
        finally:
            if session is not None:
                session.unlock()
                del req.session

    def __str__(self):
        self.req.content_type = "text/html"
        self.run()
        return ""

    def display_code(self):
        """Write an HTML table: the Python code made from the page, line by
        line, beside the page's own lines."""
        req, filename = self.req, self.filename
        dir, name = os.path.split(filename)
        with open(filename, encoding="utf-8", errors="replace") as f:
            page = f.read().splitlines()
        code = _psp.parse(name, dir).splitlines()

        def cell(line):
            line = escape(line.rstrip()).replace("\t", "    ")
            return line.replace(" ", "&nbsp;")

        out = ["<table>\n<tr><td></td><td><tt>&nbsp;PSP-produced Python Code:</tt></td>"
               "<td><tt>&nbsp;%s:</tt></td></tr>\n" % escape(filename)]
        for n, line in enumerate(code, 1):
            source = cell(page[n - 1]) if n <= len(page) else ""
            out.append('<tr><td><tt>%d.&nbsp;</tt></td><td><tt><font color="blue">%s'
                       '</font></tt></td><td><tt>&nbsp;<font color="green">%s</font>'
                       '</tt></td></tr>\n' % (n, cell(line), source))
        out.append("</table>\n")
        req.write("".join(out))


def handler(req):
    """PythonHandler mod_python.psp: run the requested page; with
    PythonDebug On, a request for page.psp_ shows page.psp's code."""
    req.content_type = "text/html"
    debug = int(req.get_config().get("PythonDebug", 0))
    if debug and req.filename.endswith("_"):
        PSP(req, req.filename[:-1]).display_code()
    else:
        PSP(req).run()
    return apache.OK
